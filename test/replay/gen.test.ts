// `vgicrr gen` (scenario/gen/workload.ts): byte-deterministic per seed, every profile replays
// with every output verified, and the generated statements are a scenario that runs to the same
// events.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../replay/machine.js';
import { createRecorder, memorySink } from '../../replay/recorder.js';
import { replayAndCheck } from '../../replay/replay-check.js';
import { readTrace } from '../../replay/trace-reader.js';
import { generateWorkload, PROFILES, type Profile, planBoard } from '../../scenario/gen/workload.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';
import { cli } from '../helpers/cli.js';

const registry = defaultRegistry();

function traceBytes(
  seed: number,
  profile: Profile,
  events: number,
): { bytes: Uint8Array; statements: string[] } {
  const options = { seed, events, profile, producer: 'vgicrr test' };
  const sink = memorySink();
  const recorder = createRecorder(sink, planBoard(options).header);
  const result = generateWorkload({ ...options, registry, onFrame: recorder.onFrame });
  recorder.finish();
  return { bytes: sink.bytes(), statements: result.statements };
}

describe('gen', () => {
  it('gives the same bytes for the same seed and different bytes for another seed', () => {
    const a = traceBytes(7, 'linux-boot', 5000).bytes;
    const b = traceBytes(7, 'linux-boot', 5000).bytes;
    const c = traceBytes(8, 'linux-boot', 5000).bytes;
    expect(Buffer.compare(a, b)).toBe(0);
    expect(Buffer.compare(a, c)).not.toBe(0);
  });

  it.each(PROFILES)(
    '%s: replays with every output verified, seed in the header, about N events',
    (profile) => {
      const { bytes, statements } = traceBytes(3, profile, 3000);
      const trace = readTrace(bytes);
      expect(trace.header.seed).toBe(3);
      expect(trace.length).toBeGreaterThanOrEqual(3000);
      expect(trace.length).toBeLessThan(3000 + 4000); // a migration is the longest action
      const report = replayAndCheck(trace, registry);
      expect(report.divergence).toBeUndefined();
      expect(report.events).toBe(trace.length);
      // The generated statements are a scenario: run as one, they execute the same events.
      const run = runScenario(parseScenario(statements.join('\n'), 'gen.vgs'), { registry });
      expect(run.events).toBe(trace.length);
      expect(run.warnings).toEqual([]);
    },
  );

  it('the CLI writes identical files for the same seed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgicrr-gen-'));
    const one = join(dir, 'one.vgt');
    const two = join(dir, 'two.vgt');
    const r1 = await cli('gen', '--seed', '11', '--events', '2000', '--profile', 'msi-storm', '--out', one);
    const r2 = await cli('gen', '--seed', '11', '--events', '2000', '--profile', 'msi-storm', '--out', two);
    expect(r1.code).toBe(0);
    expect(r2.code).toBe(0);
    expect(Buffer.compare(readFileSync(one), readFileSync(two))).toBe(0);
    expect((await cli('gen', '--seed', 'x', '--events', '10')).code).toBe(2);
    expect((await cli('gen', '--seed', '1', '--events', '10', '--profile', 'nope')).code).toBe(2);
  });
});
