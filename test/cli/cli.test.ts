// The `vgicrr` command end to end, in-process: run/record/replay, divergence on an altered
// output at every position, dump → run round trip, info, quirks, help and the exit statuses.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../../replay/frame.js';
import { readTrace } from '../../replay/trace-reader.js';
import { encodeTrace } from '../../replay/trace-writer.js';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vgicrr-cli-'));
const scenario = join(dir, 's.vgs');
const trace = join(dir, 't.vgt');

const SCENARIO = `# every KVM-core statement
board virt vcpus=2 its=on
create_vcpu 1                 expect -EBUSY   # the vGIC is initialized (precreate before the id check)
set_reg 0 x3 0xfeed
set_reg 1 pstate 0x5
get_reg 0 x3                  expect 0xfeed
mark started
run 0
vcpu 0 write 0x40000ffe 0xa1b2c3d4 size=4
vcpu 1 read 0x40001000 size=2 expect 0xa1b2
vcpu 0 read GICD_CTLR
vcpu 0 write 0x09000000 1     # nothing mapped there: an MMIO exit (an effect)
vcpu 0 write GICR_WAKER@1 0
vcpu 0 mrs ICC_IAR1_EL1
vcpu 0 msr ICC_PMR_EL1 0xf0
vcpu 1 hvc SDEI_VERSION
vcpu 0 hvc 0x80000000 1 2 3 4 5
vcpu 0 reg pc
get_attr gic DIST_REGS GICD_CTLR
has_attr gic CPU_SYSREGS ICC_PMR_EL1 vcpu=1
get_attr gic ADDR V3_REDIST_REGION index=0
irq_line spi 40 1
irq_line ppi 1 27 1
signal_msi 3 7
sdei_inject 0 1
stop
mem write 0x7ffffffc 0x11223344
mem read 0x7ffffffc           expect 0x11223344
note stopped here
cont
reset_vcpu 0                  expect -EBUSY
stop
reset_vcpu 0
`;

beforeAll(() => {
  writeFileSync(scenario, SCENARIO);
});

describe('run and replay', () => {
  it('run --record then replay exits 0', async () => {
    const run = await cli('run', scenario, '--record', trace);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/s\.vgs: 32 statements, 42 events, 5 expectations held/);
    const replay = await cli('replay', trace);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/every output identical/);
  });

  it('altering any single recorded output makes replay exit 1 naming that position', async () => {
    const original = readTrace(readFileSync(trace));
    const frames: Frame[] = [];
    for (let p = 1; p <= original.length; p++) frames.push(original.frame(p));
    const altered = join(dir, 'altered.vgt');
    for (let p = 1; p <= frames.length; p++) {
      const f = frames[p - 1]!;
      const output = { ...f.output };
      if (output.x) output.x = output.x.map((v, i) => (i === 0 ? v ^ 1n : v));
      else if (output.value !== undefined) output.value ^= 1n;
      else if (output.rc !== undefined) output.rc = output.rc === 0 ? -22 : 0;
      else output.rc = 0; // an output where the event has none
      const changed = frames.map((g, i) => (i === p - 1 ? { ...g, output } : g));
      writeFileSync(altered, encodeTrace(original.header, changed));
      const replay = await cli('replay', altered);
      expect(replay.code, `position ${p}`).toBe(1);
      expect(replay.stdout).toContain(`diverged at #${p}:`);
    }
  });

  it('an altered effect is a divergence too', async () => {
    const original = readTrace(readFileSync(trace));
    const frames: Frame[] = [];
    for (let p = 1; p <= original.length; p++) frames.push(original.frame(p));
    const p = frames.findIndex((f) => f.effects.length > 0) + 1;
    expect(p).toBeGreaterThan(0);
    const changed = frames.map((g, i) => (i === p - 1 ? { ...g, effects: [] } : g));
    const altered = join(dir, 'effects.vgt');
    writeFileSync(altered, encodeTrace(original.header, changed));
    const replay = await cli('replay', altered, '--json');
    expect(replay.code).toBe(1);
    expect(JSON.parse(replay.stdout).divergence).toMatchObject({ position: p, kind: 'effects' });
  });

  it('dump --format vgs runs back into identical events', async () => {
    const dump = await cli('dump', trace, '--format', 'vgs');
    expect(dump.code).toBe(0);
    const again = join(dir, 'again.vgs');
    writeFileSync(again, dump.stdout);
    const againTrace = join(dir, 'again.vgt');
    const run = await cli('run', again, '--record', againTrace);
    expect(run.code).toBe(0);
    const a = readTrace(readFileSync(trace));
    const b = readTrace(readFileSync(againTrace));
    expect(b.length).toBe(a.length);
    for (let p = 1; p <= a.length; p++) expect(b.frame(p)).toEqual(a.frame(p));
  });

  it('dump --expect gives a scenario whose expectations all hold', async () => {
    const dump = await cli('dump', trace, '--expect');
    const file = join(dir, 'expect.vgs');
    writeFileSync(file, dump.stdout);
    const run = await cli('run', file);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/[1-9]\d* expectations held/);
  });

  it('dump --from/--to by position and mark, and JSON lines', async () => {
    const dump = await cli('dump', trace, '--from', 'started', '--to', '#20', '--format', 'json');
    const lines = dump.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0].event).toEqual({ type: 'trace.mark', name: 'started' });
    expect(lines.at(-1).position).toBe(20);
  });
});

describe('info, quirks, help', () => {
  it('info names the board, counts events by type and lists marks', async () => {
    const info = await cli('info', trace);
    expect(info.code).toBe(0);
    expect(info.stdout).toContain('board       virt vcpus=2 nr_irqs=256 its=on sdei=on ipa_bits=40');
    expect(info.stdout).toMatch(/guest\.read\s+2/);
    expect(info.stdout).toMatch(/marks\s+started #\d+/);
  });
  it('quirks lists both sides', async () => {
    const q = await cli('quirks', '--json');
    const list = JSON.parse(q.stdout) as { name: string; side: string }[];
    expect(list.find((x) => x.name === 'zero-clear')?.side).toBe('vmm');
    expect(list.find((x) => x.name === 'movall-all-lpis')?.side).toBe('kernel');
  });
  it.each([['--help'], ['run', '--help'], ['replay', '-h'], ['help', 'dump']])(
    '%s prints usage',
    async (...args) => {
      const r = await cli(...args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: vgicrr/);
    },
  );
  it('--version everywhere', async () => {
    expect((await cli('--version')).stdout).toMatch(/^vgicrr \d+\.\d+\.\d+\n$/);
    expect((await cli('info', '--version')).stdout).toMatch(/^vgicrr \d+\.\d+\.\d+\n$/);
  });
});

describe('exit status 2 for usage and input errors', () => {
  it.each([
    [['frobnicate'], /unknown command `frobnicate`/],
    [['run'], /run takes one scenario file/],
    [['run', join(dir, 'missing.vgs')], /cannot read .*missing\.vgs: no such file/],
    [['replay', scenario, '--bogus'], /replay: Unknown option '--bogus'/],
    [['dump', trace, '--format', 'xml'], /--format is vgs or json/],
    [['dump', trace, '--from', 'nowhere'], /no position or mark `nowhere`/],
  ])('%j', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
  it('a syntax error is FILE:LINE:COL: message', async () => {
    const bad = join(dir, 'bad.vgs');
    writeFileSync(bad, 'vm\ncreate_vcpu zero\n');
    const r = await cli('run', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${bad.replace(/[.]/g, '\\.')}:2:13: `));
    expect(r.stdout).toBe('');
  });
  it('a damaged trace is an input error naming the offset', async () => {
    const bytes = readFileSync(trace);
    const cut = join(dir, 'cut.vgt');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    const r = await cli('replay', cut);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/offset \d+/);
    const salvage = await cli('replay', cut, '--salvage');
    expect(salvage.stderr).toMatch(/warning: .*offset \d+/);
    expect(salvage.code).toBe(0);
  });
});
