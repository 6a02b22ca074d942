// The SDEI conformance scenarios (test/scenarios/sdei/*.vgs) run through the parser, the
// expander and the engine with the default registry; every `expect` must hold. Each file names
// the upstream test it follows in its header.

import { scenarioSuite } from '../../helpers/scenario-suite.js';

scenarioSuite('SDEI conformance', 'sdei');
