// Golden traces (traces/golden/README.md): real traces recorded by vgicrr 0.1.0 (trace format
// v2) from corpus scenarios, committed, and never rewritten. Every later build must still read
// them: each replays with every recorded output, effect and state hash verified, and its
// `vgicrr info` and `vgicrr dump` text equals the expectation committed beside it. (The trace
// schema snapshot, which fails when the format changes without a FORMAT_VERSION bump, is
// test/replay/trace-schema.test.ts.)
//
// A missing golden (a new entry in GOLDENS) is recorded, with its expectations, by
//   UPDATE_GOLDEN=1 npx vitest run test/traces/golden.test.ts
// Existing files are never overwritten; a format bump adds new goldens next to the old ones.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../cli/check/check-file.js';
import { cli } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = join(ROOT, 'traces', 'golden');

/** golden name → the corpus scenario it was recorded from. */
const GOLDENS: Record<string, string> = {
  'v2-gic-spi-edge-uart': 'traces/corpus/gic/spi-edge-uart.vgs',
  'v2-its-msi-delivery': 'traces/corpus/its/msi-delivery.vgs',
  'v2-sdei-register-signal-complete': 'traces/corpus/sdei/register-signal-complete.vgs',
  'v2-migration-its-lpi-qemu': 'traces/corpus/migration/its-lpi-qemu.vgs',
};

/** Paths as the commands print them: relative to the project root, with `/`. */
const rel = (path: string) => relative(ROOT, path).split('\\').join('/');

async function command(...argv: string[]): Promise<string> {
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    const r = await cli(...argv);
    expect(r.stderr, argv.join(' ')).toBe('');
    expect(r.code, argv.join(' ')).toBe(0);
    return r.stdout;
  } finally {
    process.chdir(cwd);
  }
}

if (process.env.UPDATE_GOLDEN) {
  for (const [name, source] of Object.entries(GOLDENS)) {
    const trace = join(DIR, `${name}.vgt`);
    if (existsSync(trace)) continue;
    await command('run', source, '--record', rel(trace));
    writeFileSync(join(DIR, `${name}.info.txt`), await command('info', rel(trace)));
    writeFileSync(join(DIR, `${name}.dump.txt`), await command('dump', rel(trace)));
  }
}

describe('traces/golden: recorded traces every later build must read', () => {
  it('has every golden and nothing else', () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith('.vgt'))
      .sort();
    expect(files).toEqual(
      Object.keys(GOLDENS)
        .map((n) => `${n}.vgt`)
        .sort(),
    );
  });

  it.each(Object.keys(GOLDENS))('%s replays with every output verified', (name) => {
    const result = checkFile(join(DIR, `${name}.vgt`));
    expect(result.report).toBe('');
    expect(result.ok).toBe(true);
    expect(result.events).toBeGreaterThan(10);
  });

  it.each(Object.keys(GOLDENS))('%s: `vgicrr info` reads it as recorded', async (name) => {
    const text = await command('info', rel(join(DIR, `${name}.vgt`)));
    expect(text).toBe(readFileSync(join(DIR, `${name}.info.txt`), 'utf8'));
  });

  it.each(Object.keys(GOLDENS))('%s: `vgicrr dump` prints the same statements', async (name) => {
    const text = await command('dump', rel(join(DIR, `${name}.vgt`)));
    expect(text).toBe(readFileSync(join(DIR, `${name}.dump.txt`), 'utf8'));
  });

  it.each(Object.entries(GOLDENS))('%s was recorded from %s, which still runs', (_name, source) => {
    const result = checkFile(join(ROOT, source), { failOnWarnings: true });
    expect(result.report).toBe('');
  });
});
