// Runs every `.vgs` file of a folder under test/scenarios as one vitest case each: parsed,
// expanded and executed with the default registry; every `expect` must hold and nothing may warn.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../replay/machine.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';

export function scenarioSuite(title: string, folder: string): void {
  const dir = join(import.meta.dirname, '..', 'scenarios', folder);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.vgs'))
    .sort();
  describe(title, () => {
    it('finds the scenario files', () => {
      expect(files.length).toBeGreaterThan(0);
    });

    it.each(files)('%s: every expectation holds', (file) => {
      const path = join(dir, file);
      const result = runScenario(parseScenario(readFileSync(path, 'utf8'), path), {
        registry: defaultRegistry(),
      });
      const failures = result.failures.map((f) =>
        JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)),
      );
      expect(failures).toEqual([]);
      expect(result.warnings).toEqual([]);
      expect(result.expectations).toBeGreaterThan(0);
    });
  });
}
