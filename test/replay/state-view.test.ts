// The state view (replay/state-view.ts) and its text form (replay/state-text.ts): contents for a
// board with an initialized vGICv3, a pending SPI and an active SGI; reset filtering and --all;
// ordering; the vCPU filter; GICv4.1 vSGIs; purity; width.

import { describe, expect, it } from 'vitest';
import { cloneState } from '../../engine/clone.js';
import type { MachineState } from '../../engine/state.js';
import { initialState } from '../../engine/state.js';
import { defaultRegistry } from '../../replay/machine.js';
import { IRQ_LEGEND, stateText } from '../../replay/state-text.js';
import { stateView, viewJsonReplacer } from '../../replay/state-view.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';

function run(source: string): MachineState {
  return runScenario(parseScenario(source, 'test.vgs'), { registry: defaultRegistry() }).state;
}

const SCENARIO = `board virt vcpus=2 its=off
guest gic_init
set_reg 1 x3 0xfeed
run 0
run 1
vcpu 0 write 0x40002000 0x1234
vcpu 0 write GICD_IPRIORITYR10 0xa0 size=1
vcpu 0 write GICD_ISENABLER1 0x100
irq_line spi 40 1
irq_line spi 40 0
vcpu 1 msr ICC_SGI1R_EL1 0x1000001
vcpu 0 mrs ICC_IAR1_EL1   expect 1
`;

describe('stateView', () => {
  const state = run(SCENARIO);
  const view = stateView(state);
  const vm = view.vms[0]!;
  const gic = vm.gic!;

  it('describes the VM, its vCPUs and its RAM', () => {
    expect(view.current).toBe(0);
    expect(view.vms).toHaveLength(1);
    expect(vm).toMatchObject({ id: 0, host: 'gicv3', quirks: [], dead: false, ipaBits: 40 });
    expect(vm.vcpus.map((v) => [v.id, v.index, v.mpidr, v.run])).toEqual([
      [0, 0, 0x8000_0000n, 'running'],
      [1, 1, 0x8000_0001n, 'running'],
    ]);
    expect(vm.vcpus[0]!.x).toEqual([]);
    expect(vm.vcpus[1]!.x).toEqual([{ n: 3, value: 0xfeedn }]);
    expect(vm.vcpus[0]!.pstate).toBe(0x3c5n);
    expect(vm.ram).toEqual({ pages: 1, bytes: 4096, ranges: [{ start: 0x4000_2000, end: 0x4000_2fff }] });
  });

  it('describes the distributor', () => {
    expect(gic).toMatchObject({
      initialized: true,
      ready: true,
      nrSpis: 224,
      ctlr: 0x52,
      enabled: true,
      iidrRevision: 3,
      nassgicap: false,
      nassgireq: false,
      distBase: 0x0800_0000,
      hasIts: false,
      propbaser: 0n,
      irqsTotal: 2 * 32 + 224,
    });
    expect(gic.regions).toEqual([{ index: 0, base: 0x080a_0000, count: 2, used: 2 }]);
  });

  it('lists only the interrupts that differ from reset: the active SGI and the pending SPI', () => {
    expect(gic.irqs).toEqual([
      {
        kind: 'SGI',
        intid: 1,
        vcpu: 0,
        pending: false,
        line: false,
        active: true,
        enabled: true,
        hw: false,
        level: false,
        group: 1,
        priority: 0,
        mpidr: 0,
        target: 0,
        isPending: false,
      },
      {
        kind: 'SPI',
        intid: 40,
        vcpu: null,
        pending: true,
        line: false,
        active: false,
        enabled: true,
        hw: false,
        level: false,
        group: 1,
        priority: 0xa0,
        mpidr: 0,
        target: 0,
        isPending: true,
      },
    ]);
  });

  it('lists every interrupt with all, banked ones by vCPU, then SPIs, INTIDs ascending', () => {
    const rows = stateView(state, { all: true }).vms[0]!.gic!.irqs;
    expect(rows).toHaveLength(2 * 32 + 224);
    const keys = rows.map((r) => [r.vcpu ?? -1, r.intid]);
    expect(keys.slice(0, 2)).toEqual([
      [0, 0],
      [0, 1],
    ]);
    expect(keys[32]).toEqual([1, 0]);
    expect(keys[64]).toEqual([-1, 32]);
    expect(keys.at(-1)).toEqual([-1, 255]);
    expect(rows.filter((r) => r.kind === 'PPI').every((r) => r.level && !r.enabled)).toBe(true);
  });

  it('describes each redistributor and CPU interface', () => {
    const c0 = vm.vcpus[0]!.gic!;
    expect(c0).toMatchObject({
      region: 0,
      slot: 0,
      rdBase: 0x080a_0000,
      gicrTyper: 0n,
      pendbaser: 0x580n,
      enableLpis: false,
      pmr: 0xf8,
      igrpen0: false,
      igrpen1: true,
      eoiMode: false,
      runningPriority: 0,
      ap0r: [0],
      ap1r: [1],
      highestPending: { intid: 40, priority: 0xa0, group: 1 },
      vsgiPending: [],
    });
    const c1 = vm.vcpus[1]!.gic!;
    expect(c1.gicrTyper).toBe(0x1_0000_0110n);
    expect(c1.rdBase).toBe(0x080c_0000);
    expect(c1.runningPriority).toBe(0xff);
    expect(c1.highestPending).toBeNull();
  });

  it('keeps one vCPU with the vcpu option (SPIs stay)', () => {
    const only = stateView(state, { vcpu: 1 }).vms[0]!;
    expect(only.vcpus.map((v) => v.id)).toEqual([1]);
    expect(only.gic!.irqs.map((r) => r.intid)).toEqual([40]);
    expect(only.gic!.irqsTotal).toBe(32 + 224);
  });

  it('is empty before the first VM and has no gic section for a bare VM', () => {
    expect(stateView(initialState())).toEqual({ current: -1, vms: [] });
    const bare = stateView(run('vm\ncreate_vcpu 0\n')).vms[0]!;
    expect(bare.gic).toBeUndefined();
    expect(bare.vcpus[0]!.gic).toBeUndefined();
    expect(bare.vcpus[0]!.run).toBe('not-run');
  });

  it('shows a GICv4.1 direct vSGI pending in the vPE, and vCPUs stopped by the VMM', () => {
    const v = stateView(
      run(`vm host=gicv4.1
create_vcpu 0
create_device vgic-v3
set_attr gic ADDR V3_DIST 0x8000000
set_attr gic ADDR V3_REDIST_REGION count=1 base=0x80a0000 index=0
set_attr gic CTRL INIT
set_attr gic DIST_REGS GICD_CTLR 0x152
set_attr gic REDIST_REGS GICR_ISPENDR0 0x4 vcpu=0
run 0
stop
`),
    ).vms[0]!;
    expect(v.gic!.nassgireq).toBe(true);
    expect(v.gic!.irqs).toEqual([
      expect.objectContaining({ kind: 'SGI', intid: 2, pending: true, hw: true }),
    ]);
    expect(v.vcpus[0]!.gic!.vsgiPending).toEqual([2]);
    expect(v.vcpus[0]!.run).toBe('stopped');
  });

  it('does not modify the state and is deterministic', () => {
    const before = cloneState(state);
    const a = JSON.stringify(stateView(state, { all: true }), viewJsonReplacer);
    const b = JSON.stringify(stateView(state, { all: true }), viewJsonReplacer);
    expect(a).toBe(b);
    expect(state).toEqual(before);
    expect(JSON.parse(a).vms[0].vcpus[0].mpidr).toBe('0x80000000');
  });
});

describe('stateText', () => {
  const state = run(SCENARIO);

  it('prints the sections, the legend and a vgic-debug style table', () => {
    const text = stateText(stateView(state)).join('\n');
    expect(text).toContain('VM 0  host gicv3  IPA 40 bits  SDEI on  quirks none');
    expect(text).toContain('vCPU 1  MPIDR 0x80000001  running  pc 0x0  pstate 0x3c5');
    expect(text).toContain('x3 0xfeed');
    expect(text).toContain('RAM: 1 page (4 KiB) in use  0x40002000–0x40002fff');
    expect(text).toContain('GICD_CTLR 0x52 (EnableGrp1A|ARE_NS|DS)');
    expect(text).toContain('Interrupts: 2 of 288 differ from reset');
    for (const { letter, meaning } of IRQ_LEGEND) expect(text).toContain(`${letter} ${meaning}`);
    expect(text).toContain('TYPE INTID VCPU PLAEHCG  PRI TARGET  MPIDR');
    expect(text).toContain('SGI      1    0 ..AE..G 0x00 vCPU 0  -');
    expect(text).toContain('SPI     40    - P..E..G 0xa0 vCPU 0  0.0.0');
    expect(text).toContain('running priority 0x00  AP0R0 0x0  AP1R0 0x1');
    expect(text).toContain('highest pending 40 (priority 0xa0, group 1)');
    expect(text).toContain('GICR_TYPER 0x100000110');
  });

  it('fills lines up to the width (the table has fixed columns)', () => {
    for (const width of [60, 120]) {
      const lines = stateText(stateView(state), { width });
      for (const line of lines)
        if (!line.includes('PLAEHCG') && !/^ {4}(SGI|PPI|SPI) /.test(line))
          expect(line.length, line).toBeLessThanOrEqual(width);
    }
    expect(stateText(stateView(state), { width: 200 }).length).toBeLessThan(
      stateText(stateView(state)).length,
    );
  });

  it('says so when there is no VM', () => {
    expect(stateText(stateView(initialState()))).toEqual(['no VM (nothing has run yet)']);
  });
});
