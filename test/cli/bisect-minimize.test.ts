// `vgicrr bisect` and `vgicrr minimize` end to end (in process): output, files written, and the
// exit status contract (0 found / minimized, 1 never holds / does not fail, 2 bad input).

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

const BUGS = join(import.meta.dirname, '..', '..', 'traces', 'bugs');
const NO_LEVEL = join(BUGS, 'no-level-info.vgs');
const DEMO = join(import.meta.dirname, '..', '..', 'traces', 'demo', 'demo.vgs');
const PENDING = 'vms[0].devices.gic.spis[8].pendingLatch';

describe('vgicrr bisect', () => {
  it('prints the first position, its statement and the paths read', async () => {
    const r = await cli('bisect', DEMO, '--until', PENDING);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/first holds at #27: /);
    expect(r.stdout).toContain(`  ${PENDING} = true`);
  });

  it('--from and --json', async () => {
    const r = await cli('bisect', DEMO, '--until', PENDING, '--from', '#29', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ found: true, position: 37, reads: [{ path: PENDING, value: true }] });
    expect(typeof json.statement).toBe('string');
  });

  it('exit 1 when the condition never holds', async () => {
    const r = await cli('bisect', DEMO, '--until', 'vms.length == 7');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/never holds/);
  });

  it('exit 2 with the column of a condition error', async () => {
    const r = await cli('bisect', DEMO, '--until', 'vms[0].pc = 1');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("vgicrr: bisect: condition:11: expected '==' (comparison), not '='\n");
  });

  it('exit 2 without --until', async () => {
    expect((await cli('bisect', DEMO)).code).toBe(2);
  });
});

describe('vgicrr minimize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vgicrr-minimize-'));
  const keep = 'migrate-check fails --at cut --quirks no-level-info';

  it('writes a smaller trace that still fails migrate-check', async () => {
    const out = join(dir, 'small.vgt');
    const r = await cli('minimize', NO_LEVEL, '--keep', keep, '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: \d+ → \d+ events \(\d+ evaluations/);
    expect(r.stdout).toMatch(/still fails: cut #\d+ migrates inexactly/);
    const check = await cli('migrate-check', out, '--at', 'cut', '--quirks', 'no-level-info');
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/ICC_PMR_EL1|ICC_IAR1_EL1/);
  });

  it('writes a scenario that runs, and prints it without --out', async () => {
    const out = join(dir, 'small.vgs');
    expect((await cli('minimize', NO_LEVEL, '--keep', keep, '--out', out)).code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toMatch(
      /^# vgicrr minimize .* --keep "migrate-check fails --quirks no-level-info --at cut"/,
    );
    expect(text).toContain('mark cut');
    expect((await cli('run', out)).code).toBe(0);
    expect((await cli('migrate-check', out, '--at', 'cut', '--quirks', 'no-level-info')).code).toBe(1);
    const printed = await cli('minimize', NO_LEVEL, '--keep', keep);
    expect(printed.stdout).toBe(text);
  });

  it('expect fails keeps the original failure, not a trivial one', async () => {
    const source = readFileSync(join(BUGS, 'movall-all-lpis.vgs'), 'utf8').replace(
      /^board .*$/m,
      '$& quirks=movall-all-lpis',
    );
    const path = join(dir, 'movall.vgs');
    writeFileSync(path, source);
    const r = await cli('minimize', path, '--keep', 'expect fails', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.after).toBeLessThan(json.before);
    expect(json.detail).toMatch(/expected 0x3ff, got 0x2001/);
  });

  it('exit 1 when the input does not fail the predicate', async () => {
    const r = await cli('minimize', NO_LEVEL, '--keep', 'migrate-check fails --at cut');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/does not fail `migrate-check fails --at cut`/);
  });

  it.each([
    [['--keep', 'migrate-check fails --bogus'], /vgicrr: minimize: keep:21: unknown option `--bogus`/],
    [['--keep', 'migrate-check fails --at nomark'], /vgicrr: minimize: keep: the trace has no mark `nomark`/],
    [['--keep', 'migrate-check fails', '--out', 'x.txt'], /--out names a .vgt trace or a .vgs scenario/],
    [['--keep', 'expect fails', '--max-evaluations', '0'], /--max-evaluations takes a positive number/],
  ])('exit 2: %j', async (args, message) => {
    const r = await cli('minimize', NO_LEVEL, ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
