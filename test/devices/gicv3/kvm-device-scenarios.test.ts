// The vGICv3 conformance scenarios (test/scenarios/gicv3/*.vgs) run through the parser, the
// expander and the engine with the default registry; every `expect` must hold. Each file names the
// upstream test it follows in its header.

import { scenarioSuite } from '../../helpers/scenario-suite.js';

scenarioSuite('vGICv3 conformance scenarios', 'gicv3');
