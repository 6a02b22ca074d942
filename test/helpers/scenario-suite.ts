// Runs every `.vgs` file of a folder under test/scenarios as one vitest case each: parsed,
// expanded and executed with the default registry; every `expect` must hold and nothing may warn.
// A thin wrapper over the public helper (cli/vitest.ts, `vgicrr/vitest`).

import { join } from 'node:path';
import { vgicrrSuite } from '../../cli/vitest.js';

export function scenarioSuite(title: string, folder: string): void {
  vgicrrSuite(join(import.meta.dirname, '..', 'scenarios', folder), {
    title,
    filter: (f) => f.endsWith('.vgs'),
    failOnWarnings: true,
    requireExpectations: true,
    name: (file) => `${file}: every expectation holds`,
  });
}
