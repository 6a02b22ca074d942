// The trace corpus (traces/corpus/README.md) and everything else under traces/, through the
// public vitest helper (cli/vitest.ts, `vgicrr/vitest`): one test per scenario or trace, the
// failure message being the report `vgicrr check` prints. Corpus scenarios are held to more:
// a `# guards:` header, real expectations, no warnings.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectFiles } from '../../cli/check/corpus.js';
import { vgicrrSuite } from '../../cli/vitest.js';

const TRACES = join(import.meta.dirname, '..', '..', 'traces');
const CORPUS = join(TRACES, 'corpus');
const AREAS = ['gic', 'its', 'sdei', 'migration'];

describe('traces/corpus: layout and headers', () => {
  const files = collectFiles([CORPUS]);

  it('has at least 40 scenarios, in the four areas', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    expect(
      readdirSync(CORPUS, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort(),
    ).toEqual([...AREAS].sort());
    for (const area of AREAS)
      expect(files.filter((f) => f.startsWith(join(CORPUS, area))).length, area).toBeGreaterThanOrEqual(8);
    expect(files.every((f) => f.endsWith('.vgs'))).toBe(true);
  });

  it.each(files.map((f) => [f.slice(CORPUS.length + 1), f]))('%s says what it guards', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('# guards: ')).toBe(true);
    expect(/^[^#\n]*\bexpect\b/m.test(text)).toBe(true);
  });

  it('migrates under every VMM profile', () => {
    const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const vmm of ['qemu', 'qemu-9', 'cloud-hypervisor', 'firecracker', 'gem5'])
      expect(text).toMatch(new RegExp(`^migrate vmm=${vmm}\\b`, 'm'));
    expect(text).toMatch(/^board .*host=gicv4\.1/m);
  });
});

vgicrrSuite(CORPUS, { title: 'traces/corpus', failOnWarnings: true, requireExpectations: true });
vgicrrSuite(TRACES, { title: 'traces/ (demo, bugs, golden)', filter: (f) => !f.startsWith(CORPUS) });
