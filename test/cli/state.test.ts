// `vgicrr state` in-process: a scenario run in memory and a recorded trace give the same view;
// --at with #N and a mark, --all, --vcpu, --json, and the usage and input errors (exit 2).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vgicrr-state-'));
const scenario = join(dir, 's.vgs');
const trace = join(dir, 's.vgt');

const SCENARIO = `board virt vcpus=2 its=off
guest gic_init
run 0
run 1
mark booted
vcpu 0 write GICD_IPRIORITYR10 0xa0 size=1
vcpu 0 write GICD_ISENABLER1 0x100
irq_line spi 40 1
irq_line spi 40 0
vcpu 1 msr ICC_SGI1R_EL1 0x1000001
vcpu 0 mrs ICC_IAR1_EL1   expect 1
mark acked
stop
`;

beforeAll(async () => {
  writeFileSync(scenario, SCENARIO);
  const run = await cli('run', scenario, '--record', trace);
  expect(run.code).toBe(0);
});

describe('vgicrr state', () => {
  it('shows the end of a scenario run in memory', async () => {
    const r = await cli('state', scenario);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/s\.vgs at #\d+ of \d+, after `stop`$/);
    expect(lines[1]).toBe('VM 0  host gicv3  IPA 40 bits  SDEI on  quirks none');
    expect(r.stdout).toContain('    vCPU 0  MPIDR 0x80000000  stopped  pc 0x0  pstate 0x3c5');
    expect(r.stdout).toContain('initialized yes  ready yes  nr_spis 224  IIDR revision 3  ITS no');
    expect(r.stdout).toContain('Interrupts: 2 of 288 differ from reset');
    expect(r.stdout).toContain('    TYPE INTID VCPU PLAEHCG  PRI TARGET  MPIDR\n');
    expect(r.stdout).toContain('    SGI      1    0 ..AE..G 0x00 vCPU 0  -\n');
    expect(r.stdout).toContain('    SPI     40    - P..E..G 0xa0 vCPU 0  0.0.0\n');
    expect(r.stdout).toContain('  Redistributor and CPU interface, vCPU 1\n');
  });

  it('gives the same view from the recorded trace', async () => {
    const fromScenario = await cli('state', scenario, '--at', 'acked');
    const fromTrace = await cli('state', trace, '--at', 'acked');
    expect(fromTrace.code).toBe(0);
    const body = (s: string) => s.split('\n').slice(1).join('\n');
    expect(body(fromTrace.stdout)).toBe(body(fromScenario.stdout));
    expect(body(fromTrace.stdout)).toContain('running priority 0x00');
  });

  it('goes to a mark or an event number', async () => {
    const booted = await cli('state', trace, '--at', 'booted');
    expect(booted.code).toBe(0);
    expect(booted.stdout).toMatch(/ at #(\d+) of \d+, after `mark booted`/);
    expect(booted.stdout).toContain('Interrupts: 0 of 288 differ from reset');
    expect(booted.stdout).toContain('    vCPU 1  MPIDR 0x80000001  running');
    const position = /at #(\d+)/.exec(booted.stdout)![1]!;
    const same = await cli('state', trace, '--at', `#${position}`);
    expect(same.stdout).toBe(booted.stdout);
    const start = await cli('state', trace, '--at', '#0');
    expect(start.stdout).toContain('before the first event\nno VM (nothing has run yet)');
  });

  it('lists every interrupt with --all and one vCPU with --vcpu', async () => {
    const all = await cli('state', trace, '--all');
    expect(all.stdout).toContain('Interrupts: all 288');
    expect(all.stdout.match(/^ {4}(SGI|PPI|SPI) /gm)).toHaveLength(288);
    const one = await cli('state', trace, '--vcpu', '1');
    expect(one.stdout).not.toContain('vCPU 0  MPIDR');
    expect(one.stdout).toContain('Interrupts: 1 of 256 differ from reset');
    expect(one.stdout).not.toContain('Redistributor and CPU interface, vCPU 0');
  });

  it('prints the view as JSON with 64-bit values as hex strings', async () => {
    const r = await cli('state', scenario, '--at', 'acked', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ source: scenario, statement: 'mark acked', marks: ['acked'] });
    expect(json.position).toBeGreaterThan(0);
    expect(json.position).toBeLessThan(json.length);
    const vm = json.view.vms[0];
    expect(vm.vcpus[1].mpidr).toBe('0x80000001');
    expect(vm.vcpus[1].gic.gicrTyper).toBe('0x100000110');
    expect(vm.gic.irqs.map((row: { kind: string; intid: number }) => `${row.kind} ${row.intid}`)).toEqual([
      'SGI 1',
      'SPI 40',
    ]);
    expect(vm.vcpus[0].gic.highestPending).toEqual({ intid: 40, priority: 0xa0, group: 1 });
  });

  it('documents itself in --help and the command list', async () => {
    const help = await cli('state', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: vgicrr state TRACE|FILE.vgs [--at #N|MARK]');
    expect((await cli('--help')).stdout).toMatch(/^ {2}state +machine state/m);
  });

  it.each([
    [[], /state takes one trace or scenario/],
    [['a.vgt', 'b.vgt'], /state takes one trace or scenario/],
    [['TRACE', '--at', 'nowhere'], /no position or mark `nowhere`/],
    [['TRACE', '--at', '#999'], /#999 is outside the trace/],
    [['TRACE', '--vcpu', 'x'], /--vcpu takes a whole number/],
    [['TRACE', '--width', '10'], /--width takes a whole number ≥ 40/],
    [['TRACE', '--bogus'], /state: Unknown option '--bogus'/],
  ])('usage error %j exits 2', async (args, message) => {
    const r = await cli('state', ...args.map((a) => (a === 'TRACE' ? trace : a)));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  it('input errors exit 2 naming the file', async () => {
    const missing = await cli('state', join(dir, 'missing.vgt'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*missing\.vgt: no such file/);
    const garbage = join(dir, 'garbage.vgt');
    writeFileSync(garbage, 'not a trace');
    const bad = await cli('state', garbage);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/garbage\.vgt: /);
    const broken = join(dir, 'broken.vgs');
    writeFileSync(broken, 'board virt vcpus=two\n');
    const syntax = await cli('state', broken);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/broken\.vgs:1:/);
  });

  it('warns about a failed expectation of a scenario and still shows the state', async () => {
    const failing = join(dir, 'failing.vgs');
    writeFileSync(failing, 'vm\ncreate_vcpu 0\nget_reg 0 pc expect 0x1234\n');
    const r = await cli('state', failing);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*failing\.vgs:3/);
    expect(r.stdout).toContain('vCPU 0  MPIDR 0x80000000  not-run');
  });
});
