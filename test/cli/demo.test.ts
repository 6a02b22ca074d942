// The bundled demo (what `npm start` shows): traces/demo/migration.vgt must be exactly what
// recording traces/demo/migration.vgs gives today (re-record it with
// `node bin/vgicrr.js run traces/demo/migration.vgs --record traces/demo/migration.vgt` after a
// deliberate change), every expectation of the story must hold, and the summary must show the
// lost IPI and the save step migrate-check blames.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headerOf } from '../../cli/commands/run.js';
import { defaultRegistry } from '../../replay/machine.js';
import { createRecorder, memorySink } from '../../replay/recorder.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';
import { cli } from '../helpers/cli.js';

const DIR = join(import.meta.dirname, '..', '..', 'traces', 'demo');

describe('the demo trace', () => {
  it('is the recording of its scenario, and the story holds', () => {
    const path = join(DIR, 'migration.vgs');
    const scenario = parseScenario(readFileSync(path, 'utf8'), 'traces/demo/migration.vgs');
    const sink = memorySink();
    const recorder = createRecorder(sink, headerOf(scenario));
    const result = runScenario(scenario, { registry: defaultRegistry(), onFrame: recorder.onFrame });
    recorder.finish();
    expect(result.failures).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(Buffer.compare(Buffer.from(sink.bytes()), readFileSync(join(DIR, 'migration.vgt')))).toBe(0);
  });

  it('prints the lost IPI and the step that lost it without a terminal', async () => {
    const r = await cli('demo');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/every output, effect and state hash identical/);
    expect(r.stdout).toMatch(
      /vcpus\[1\]\.devices\.gic\.irqs\[2\]\.pendingLatch: source true, destination false/,
    );
    expect(r.stdout).toMatch(/saved by step \d+ \(get_attr gic REDIST_REGS GICR_ISPENDR0 mpidr=0x1 → 0x0\)/);
  });
});
