// The vGICv3 conformance scenarios (test/scenarios/gicv3/*.vgs) run through the parser, the
// expander and the engine with the default registry; every `expect` must hold. Each file names the
// upstream test it follows in its header.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../../replay/machine.js';
import { parseScenario } from '../../../scenario/parser.js';
import { runScenario } from '../../../scenario/runner.js';

const dir = join(import.meta.dirname, '..', '..', 'scenarios', 'gicv3');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.vgs'))
  .sort();

describe('vGICv3 conformance scenarios', () => {
  it('finds the scenario files', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s: every expectation holds', (file) => {
    const path = join(dir, file);
    const scenario = parseScenario(readFileSync(path, 'utf8'), path);
    const result = runScenario(scenario, { registry: defaultRegistry() });
    const failures = result.failures.map((f) =>
      JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)),
    );
    expect(failures).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.expectations).toBeGreaterThan(0);
  });
});
