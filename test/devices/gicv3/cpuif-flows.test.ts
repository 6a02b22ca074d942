// Interrupt delivery through the CPU interface (devices/gicv3/cpuif.ts, cpuif-derive.ts):
// acknowledge/EOI/DIR flows, preemption, masking, binary points, SGI generation and vSGIs.
//
// The first block follows the KVM selftest tools/testing/selftests/kvm/arm64/vgic_irq.c (6.19):
// guest_inject, test_inject_preemption (16 SGIs, 16 PPIs, 31 SPIs), guest_restore_active,
// guest_code_asym_dir and guest_code_group_en, each for edge and level interrupts with EOImode 0
// and 1 (test_vgic's four combinations). The host-side injections (KVM_IRQ_LINE, LEVEL_INFO,
// userspace ISPENDR/ISACTIVER) belong to other modules; here they are their state effects of
// vgic-v3.md §1.6 applied directly. test_injection_failure is not ported (it exercises the
// injection ioctls, not the CPU interface).

import { produce } from 'immer';
import { describe, expect, it } from 'vitest';
import { iccRead, iccWrite } from '../../../devices/gicv3/cpuif.js';
import {
  cpuifSummary,
  hasInterruptToSignal,
  highestPriorityPending,
  interruptSignals,
} from '../../../devices/gicv3/cpuif-derive.js';
import { irqFor, isPending } from '../../../devices/gicv3/derive.js';
import type { IrqState } from '../../../devices/gicv3/state.js';
import { registerByName } from '../../../devices/names.js';
import type { VcpuState, VmState } from '../../../engine/state.js';
import { cpuifVm, effectSink, gicOf } from '../../helpers/gic.js';

// ---- fixture (shared, test/helpers/gic.ts) ------------------------------------------------------

const fx = effectSink();
const enc = (name: string): number => registerByName(name)!.offset;

function mrs(vm: VmState, cpu: number, name: string): bigint {
  return iccRead(vm, vm.vcpus[cpu]!, enc(name), fx);
}
function msr(vm: VmState, cpu: number, name: string, value: bigint | number): void {
  iccWrite(vm, vm.vcpus[cpu]!, enc(name), BigInt(value), fx);
}
const irq = (vm: VmState, intid: number, cpu = 0): IrqState => irqFor(gicOf(vm), vm.vcpus[cpu]!, intid)!;
const ack1 = (vm: VmState, cpu = 0): number => Number(mrs(vm, cpu, 'ICC_IAR1_EL1'));

// vgic_irq.c constants: 32 priority levels in steps of 8.
const KVM_NUM_PRIOS = 32;
const CPU_PRIO_MASK = 0xf8;
const IRQ_DEFAULT_PRIO_REG = 0xf0;
const MIN_PPI = 16;
const MIN_SPI = 32;
const NR_IRQS = 64;

/** guest_code's set-up: gic_init, SPI config, enable everything, EOI split, priorities, PMR. */
function guestCode(vm: VmState, level: boolean, eoiSplit: boolean, nrVcpus = 1): void {
  gicOf(vm).enabled = true;
  for (let c = 0; c < nrVcpus; c++) {
    msr(vm, c, 'ICC_IGRPEN1_EL1', 1);
    msr(vm, c, 'ICC_CTLR_EL1', eoiSplit ? 2 : 0);
    msr(vm, c, 'ICC_PMR_EL1', CPU_PRIO_MASK);
  }
  for (let i = MIN_SPI; i < NR_IRQS; i++) irq(vm, i).level = level;
  for (let i = 0; i < NR_IRQS; i++) {
    irq(vm, i).enabled = true;
    irq(vm, i).priority = IRQ_DEFAULT_PRIO_REG;
  }
}

type Inject = 'irq-line' | 'level-info' | 'ispendr';

/** The state effect of each host injection path on one INTID (vgic-v3.md §1.6). */
function inject(vm: VmState, how: Inject, intid: number): void {
  const target = irq(vm, intid);
  if (how === 'ispendr' || !target.level) target.pendingLatch = true;
  else target.lineLevel = true;
}

/** guest_irq_generic_handler, returning the INTID handled (or 1023). */
function guestIrqHandler(vm: VmState, eoiSplit: boolean, level: boolean, seen: number[]): number {
  const intid = ack1(vm);
  if (intid === 1023) return intid;
  expect(irq(vm, intid).active).toBe(true);
  if (!level) expect(isPending(irq(vm, intid))).toBe(false);
  if (level) irq(vm, intid).lineLevel = false;
  seen[intid] = (seen[intid] ?? 0) + 1;
  msr(vm, 0, 'ICC_EOIR1_EL1', intid);
  expect(mrs(vm, 0, 'ICC_AP1R0_EL1')).toBe(0n);
  if (eoiSplit) msr(vm, 0, 'ICC_DIR_EL1', intid);
  expect(irq(vm, intid).active).toBe(false);
  expect(isPending(irq(vm, intid))).toBe(false);
  return intid;
}

function expectIarEmpty(vm: VmState): void {
  expect(ack1(vm)).toBe(1023);
}

const COMBINATIONS = [
  { level: false, eoiSplit: false },
  { level: false, eoiSplit: true },
  { level: true, eoiSplit: false },
  { level: true, eoiSplit: true },
];
// inject_edge_fns / inject_level_fns (irqfd is KVM_IRQ_LINE's state effect for SPIs).
const INJECT_FNS: Record<'edge' | 'level', { how: Inject; sgi: boolean; ppi: boolean; spi: boolean }[]> = {
  edge: [
    { how: 'irq-line', sgi: false, ppi: false, spi: true },
    { how: 'ispendr', sgi: true, ppi: false, spi: true },
  ],
  level: [
    { how: 'irq-line', sgi: false, ppi: true, spi: true },
    { how: 'level-info', sgi: false, ppi: true, spi: true },
    { how: 'ispendr', sgi: false, ppi: true, spi: true },
  ],
};

describe.each(COMBINATIONS)('vgic_irq.c, level=$level eoi_split=$eoiSplit', ({ level, eoiSplit }) => {
  const fns = INJECT_FNS[level ? 'level' : 'edge'];

  /** guest_inject: num IRQs from first, priorities cycling, each handled exactly once. */
  function guestInject(how: Inject, first: number, num: number): void {
    const vm = cpuifVm(1, NR_IRQS - MIN_SPI);
    guestCode(vm, level, eoiSplit);
    for (let i = first; i < first + num; i++) irq(vm, i).priority = (i % (KVM_NUM_PRIOS - 1)) << 3;
    for (let i = first; i < first + num; i++) inject(vm, how, i);
    const seen: number[] = [];
    let handled = 0;
    while (hasInterruptToSignal(vm, vm.vcpus[0]!)) {
      if (guestIrqHandler(vm, eoiSplit, level, seen) !== 1023) handled++;
      expect(handled).toBeLessThanOrEqual(num);
    }
    expect(handled).toBe(num);
    for (let i = first; i < first + num; i++) expect(seen[i]).toBe(1);
    expectIarEmpty(vm);
  }

  /** test_inject_preemption: each IRQ preempts the previous one; EOI in reverse, DIR in order. */
  function injectPreemption(how: Inject, first: number, num: number): void {
    const vm = cpuifVm(1, NR_IRQS - MIN_SPI);
    guestCode(vm, level, eoiSplit);
    for (let i = 0; i < num; i++) irq(vm, first + i).priority = (num - 1 - i) * 8;
    let expectedApr = 0;
    for (let i = 0; i < num; i++) {
      inject(vm, how, first + i);
      expect(ack1(vm)).toBe(first + i);
      if (level) irq(vm, first + i).lineLevel = false;
      expectedApr = (expectedApr | (1 << (num - 1 - i))) >>> 0;
      expect(mrs(vm, 0, 'ICC_AP1R0_EL1')).toBe(BigInt(expectedApr));
      expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(BigInt((num - 1 - i) * 8));
    }
    for (let i = 0; i < num; i++) {
      const intid = num - i - 1 + first;
      msr(vm, 0, 'ICC_EOIR1_EL1', intid);
      // EOImode 1: only the priority drops; the interrupt stays active until DIR.
      expect(irq(vm, intid).active).toBe(eoiSplit);
    }
    if (eoiSplit) for (let i = 0; i < num; i++) msr(vm, 0, 'ICC_DIR_EL1', first + i);
    for (let i = 0; i < num; i++) expect(irq(vm, first + i).active).toBe(false);
    expect(mrs(vm, 0, 'ICC_AP1R0_EL1')).toBe(0n);
    expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(0xffn);
    expectIarEmpty(vm);
  }

  /** guest_restore_active: active state and APR bits restored as a migration would. */
  function restoreActive(first: number, num: number): void {
    const vm = cpuifVm(1, NR_IRQS - MIN_SPI);
    guestCode(vm, level, eoiSplit);
    for (let i = 0; i < num; i++) irq(vm, first + i).priority = (num - 1 - i) * 8;
    for (let i = 0; i < num; i++) {
      irq(vm, first + i).active = true; // KVM_WRITE_ISACTIVER
      msr(vm, 0, 'ICC_AP1R0_EL1', Number(mrs(vm, 0, 'ICC_AP1R0_EL1')) | (1 << i));
    }
    for (let i = 0; i < num; i++) {
      const intid = num - i - 1 + first;
      msr(vm, 0, 'ICC_EOIR1_EL1', intid);
      if (eoiSplit) msr(vm, 0, 'ICC_DIR_EL1', intid);
    }
    for (let i = 0; i < num; i++) expect(irq(vm, first + i).active).toBe(false);
    expect(mrs(vm, 0, 'ICC_AP1R0_EL1')).toBe(0n);
    expectIarEmpty(vm);
  }

  for (const f of fns) {
    describe(`inject by ${f.how}`, () => {
      if (f.sgi) {
        it('guest_inject: SGI 0, then all 16 SGIs', () => {
          guestInject(f.how, 0, 1);
          guestInject(f.how, 0, 16);
        });
        it('test_inject_preemption: 16 nested SGIs', () => injectPreemption(f.how, 0, 16));
      }
      if (f.ppi) {
        it('guest_inject: PPI 16', () => guestInject(f.how, MIN_PPI, 1));
        it('test_inject_preemption: 16 nested PPIs', () => injectPreemption(f.how, MIN_PPI, 16));
      }
      if (f.spi) {
        it('guest_inject: first SPI, last SPI, all SPIs', () => {
          guestInject(f.how, MIN_SPI, 1);
          guestInject(f.how, NR_IRQS - 1, 1);
          guestInject(f.how, MIN_SPI, NR_IRQS - MIN_SPI);
        });
        it('test_inject_preemption: 31 nested SPIs', () => injectPreemption(f.how, MIN_SPI, 31));
      }
    });
  }

  it('guest_restore_active: 16 SGIs, 16 PPIs, 31 SPIs', () => {
    restoreActive(0, 16);
    restoreActive(MIN_PPI, 16);
    restoreActive(MIN_SPI, 31);
  });
});

describe('vgic_irq.c two-vCPU tests', () => {
  it('guest_code_asym_dir: vCPU 1 deactivates the SPI vCPU 0 acknowledged', () => {
    const vm = cpuifVm(2);
    gicOf(vm).enabled = true;
    for (const c of [0, 1]) {
      msr(vm, c, 'ICC_IGRPEN1_EL1', 1);
      msr(vm, c, 'ICC_CTLR_EL1', 2);
      msr(vm, c, 'ICC_PMR_EL1', CPU_PRIO_MASK);
    }
    irq(vm, MIN_SPI).enabled = true;
    irq(vm, MIN_SPI).pendingLatch = true;
    expect(ack1(vm, 0)).toBe(MIN_SPI);
    msr(vm, 0, 'ICC_EOIR1_EL1', MIN_SPI);
    expect(irq(vm, MIN_SPI).active).toBe(true);
    msr(vm, 1, 'ICC_DIR_EL1', MIN_SPI);
    expect(irq(vm, MIN_SPI).active).toBe(false);
    expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(0xffn);
  });

  it('guest_code_group_en: a disabled Group 0 SGI stays pending until IGRPEN0 opens', () => {
    const vm = cpuifVm(2);
    gicOf(vm).enabled = true;
    msr(vm, 0, 'ICC_IGRPEN1_EL1', 1);
    msr(vm, 0, 'ICC_PMR_EL1', CPU_PRIO_MASK);
    irq(vm, 0).group = 0;
    for (let intid = 0; intid < MIN_PPI; intid++) {
      irq(vm, intid).priority = (intid + 1) * 8;
      irq(vm, intid).enabled = true;
      irq(vm, intid).pendingLatch = true;
    }
    for (let i = 1; i < MIN_PPI; i++) {
      const intid = ack1(vm);
      expect(intid).toBe(i);
      msr(vm, 0, 'ICC_EOIR1_EL1', intid);
    }
    expect(isPending(irq(vm, 0))).toBe(true);
    expect(irq(vm, 0).active).toBe(false);
    expectIarEmpty(vm);
    expect(mrs(vm, 0, 'ICC_IAR0_EL1')).toBe(1023n);
    msr(vm, 0, 'ICC_IGRPEN0_EL1', 1);
    expect(interruptSignals(vm, vm.vcpus[0]!)).toEqual({ irq: false, fiq: true });
    expect(mrs(vm, 0, 'ICC_IAR0_EL1')).toBe(0n);
    expect(mrs(vm, 0, 'ICC_AP0R0_EL1')).toBe(1n << 1n);
  });
});

// ---- further CPU-interface rules -------------------------------------------------------------------

/** One vCPU, distributor and Group 1 on, PMR fully open, EOImode as given. */
function ready(eoiSplit = false, nrVcpus = 1): VmState {
  const vm = cpuifVm(nrVcpus);
  gicOf(vm).enabled = true;
  for (let c = 0; c < nrVcpus; c++) {
    msr(vm, c, 'ICC_IGRPEN1_EL1', 1);
    msr(vm, c, 'ICC_PMR_EL1', 0xff);
    msr(vm, c, 'ICC_CTLR_EL1', eoiSplit ? 2 : 0);
  }
  return vm;
}

function pend(vm: VmState, intid: number, priority: number, cpu = 0): IrqState {
  const target = irq(vm, intid, cpu);
  Object.assign(target, { enabled: true, priority, pendingLatch: true });
  return target;
}

describe('acknowledge and end of interrupt', () => {
  it('edge: IAR consumes the latch; EOIR drops priority and deactivates', () => {
    const vm = ready();
    const spi = pend(vm, 40, 0x80);
    expect(mrs(vm, 0, 'ICC_HPPIR1_EL1')).toBe(40n);
    expect(ack1(vm)).toBe(40);
    expect(spi).toMatchObject({ active: true, pendingLatch: false });
    expect(mrs(vm, 0, 'ICC_AP1R0_EL1')).toBe(1n << 16n);
    expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(0x80n);
    msr(vm, 0, 'ICC_EOIR1_EL1', 40);
    expect(spi.active).toBe(false);
    expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(0xffn);
  });

  it('edge re-pended while active is presented again after deactivation', () => {
    const vm = ready();
    const spi = pend(vm, 40, 0x80);
    ack1(vm);
    spi.pendingLatch = true;
    expect(highestPriorityPending(vm, vm.vcpus[0]!)).toBeUndefined();
    msr(vm, 0, 'ICC_EOIR1_EL1', 40);
    expect(ack1(vm)).toBe(40);
  });

  it.each([false, true])(
    'level with the line still high is pending again after deactivation (split=%s)',
    (split) => {
      const vm = ready(split);
      const spi = irq(vm, 33);
      Object.assign(spi, { enabled: true, level: true, lineLevel: true, priority: 0x40 });
      expect(ack1(vm)).toBe(33);
      expect(isPending(spi) && spi.active).toBe(true);
      expectIarEmpty(vm);
      msr(vm, 0, 'ICC_EOIR1_EL1', 33);
      if (split) {
        expectIarEmpty(vm);
        msr(vm, 0, 'ICC_DIR_EL1', 33);
      }
      expect(spi.active).toBe(false);
      expect(ack1(vm)).toBe(33);
    },
  );

  it('level pended by a latch: the latch is kept until deactivation, then cleared', () => {
    const vm = ready();
    const ppi = pend(vm, 20, 0x40);
    expect(ppi.level).toBe(true);
    expect(ack1(vm)).toBe(20);
    expect(ppi.pendingLatch).toBe(true);
    msr(vm, 0, 'ICC_EOIR1_EL1', 20);
    expect(ppi).toMatchObject({ active: false, pendingLatch: false });
    expectIarEmpty(vm);
  });

  it('EOImode 1: EOIR only drops priority, DIR deactivates; DIR with EOImode 0 is ignored', () => {
    const vm = ready(true);
    const spi = pend(vm, 50, 0x10);
    ack1(vm);
    msr(vm, 0, 'ICC_EOIR1_EL1', 50);
    expect(spi.active).toBe(true);
    expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(0xffn);
    msr(vm, 0, 'ICC_CTLR_EL1', 0);
    msr(vm, 0, 'ICC_DIR_EL1', 50);
    expect(spi.active).toBe(true);
    msr(vm, 0, 'ICC_CTLR_EL1', 2);
    msr(vm, 0, 'ICC_DIR_EL1', 50);
    expect(spi.active).toBe(false);
  });

  it('EOIR of a special INTID does nothing, not even a priority drop', () => {
    const vm = ready();
    pend(vm, 35, 0x20);
    ack1(vm);
    msr(vm, 0, 'ICC_EOIR1_EL1', 1023);
    expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(0x20n);
  });

  it('EOIR naming another INTID drops priority but deactivates nothing', () => {
    const vm = ready();
    const spi = pend(vm, 35, 0x20);
    const other = irq(vm, 36);
    other.active = true;
    other.priority = 0x20;
    ack1(vm);
    msr(vm, 0, 'ICC_EOIR1_EL1', 37);
    expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(0xffn);
    expect(spi.active).toBe(true);
    expect(other.active).toBe(true);
  });

  it('EOIR drops the highest active priority of either group, Group 0 first on a tie', () => {
    const vm = ready();
    const cpu = vm.vcpus[0]!.devices.gic!;
    cpu.ap0r[0] = 1 << 4;
    cpu.ap1r[0] = 1 << 4;
    msr(vm, 0, 'ICC_EOIR1_EL1', 1020);
    expect(cpu.ap1r[0]).toBe(1 << 4);
    msr(vm, 0, 'ICC_EOIR1_EL1', 99);
    expect([cpu.ap0r[0], cpu.ap1r[0]]).toEqual([0, 1 << 4]);
  });
});

describe('selection and masking', () => {
  it('ties go to the lowest INTID, private before shared', () => {
    const vm = ready();
    pend(vm, 45, 0x50);
    pend(vm, 33, 0x50);
    pend(vm, 5, 0x50);
    const order: number[] = [];
    for (let i = 0; i < 3; i++) {
      order.push(ack1(vm));
      msr(vm, 0, 'ICC_EOIR1_EL1', order[i]!);
    }
    expect(order).toEqual([5, 33, 45]);
  });

  it('SPIs go to the vCPU their IROUTER names', () => {
    const vm = ready(false, 2);
    const spi = pend(vm, 34, 0x10);
    spi.mpidr = vm.vcpus[1]!.affinity;
    expect(mrs(vm, 0, 'ICC_HPPIR1_EL1')).toBe(1023n);
    expect(ack1(vm, 1)).toBe(34);
  });

  it('PMR masks priorities at or below it, strictly; HPPIR ignores the mask', () => {
    const vm = ready();
    pend(vm, 40, 0x80);
    msr(vm, 0, 'ICC_PMR_EL1', 0x80);
    expect(hasInterruptToSignal(vm, vm.vcpus[0]!)).toBe(false);
    expectIarEmpty(vm);
    expect(mrs(vm, 0, 'ICC_HPPIR1_EL1')).toBe(40n);
    msr(vm, 0, 'ICC_PMR_EL1', 0x88);
    expect(ack1(vm)).toBe(40);
  });

  it('PMR 0 (reset) masks everything', () => {
    const vm = ready();
    msr(vm, 0, 'ICC_PMR_EL1', 0);
    pend(vm, 40, 0);
    expectIarEmpty(vm);
  });

  it('IGRPEN1 = 0 hides Group 1; a disabled distributor hides everything', () => {
    const vm = ready();
    pend(vm, 40, 0x10);
    msr(vm, 0, 'ICC_IGRPEN1_EL1', 0);
    expect(mrs(vm, 0, 'ICC_HPPIR1_EL1')).toBe(1023n);
    msr(vm, 0, 'ICC_IGRPEN1_EL1', 1);
    gicOf(vm).enabled = false;
    expect(mrs(vm, 0, 'ICC_HPPIR1_EL1')).toBe(1023n);
    expectIarEmpty(vm);
    gicOf(vm).enabled = true;
    expect(ack1(vm)).toBe(40);
  });

  it('disabled interrupts are not presented', () => {
    const vm = ready();
    pend(vm, 40, 0x10).enabled = false;
    expectIarEmpty(vm);
  });

  it('a higher-priority Group 0 interrupt hides Group 1 from IAR1 and HPPIR1', () => {
    const vm = ready();
    msr(vm, 0, 'ICC_IGRPEN0_EL1', 1);
    pend(vm, 40, 0x40);
    pend(vm, 41, 0x20).group = 0;
    expect(mrs(vm, 0, 'ICC_HPPIR1_EL1')).toBe(1023n);
    expect(mrs(vm, 0, 'ICC_HPPIR0_EL1')).toBe(41n);
    expectIarEmpty(vm);
    expect(interruptSignals(vm, vm.vcpus[0]!)).toEqual({ irq: false, fiq: true });
    expect(mrs(vm, 0, 'ICC_IAR0_EL1')).toBe(41n);
    // Group 1 at 0x40 cannot preempt the running Group 0 priority 0x20.
    expect(hasInterruptToSignal(vm, vm.vcpus[0]!)).toBe(false);
    msr(vm, 0, 'ICC_EOIR0_EL1', 41);
    expect(ack1(vm)).toBe(40);
  });

  it('equal priority never preempts', () => {
    const vm = ready();
    pend(vm, 40, 0x40);
    ack1(vm);
    pend(vm, 41, 0x40);
    expectIarEmpty(vm);
    expect(mrs(vm, 0, 'ICC_HPPIR1_EL1')).toBe(41n);
  });
});

describe('binary point grouping', () => {
  it('BPR1 = 4 keeps priority bits [7:4]: subpriority does not preempt', () => {
    const vm = ready();
    msr(vm, 0, 'ICC_BPR1_EL1', 4);
    pend(vm, 40, 0x18);
    expect(ack1(vm)).toBe(40);
    // Group priority 0x10: active-priority bit 2.
    expect(mrs(vm, 0, 'ICC_AP1R0_EL1')).toBe(1n << 2n);
    expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(0x10n);
    pend(vm, 41, 0x10);
    expectIarEmpty(vm);
    pend(vm, 42, 0x08);
    expect(ack1(vm)).toBe(42);
    expect(mrs(vm, 0, 'ICC_AP1R0_EL1')).toBe((1n << 2n) | 1n);
    msr(vm, 0, 'ICC_EOIR1_EL1', 42);
    msr(vm, 0, 'ICC_EOIR1_EL1', 40);
    expect(irq(vm, 40).active).toBe(false);
    expect(ack1(vm)).toBe(41);
  });

  it('with CBPR, Group 1 uses BPR0 (group priority bits [7:BPR0+1])', () => {
    const vm = ready();
    msr(vm, 0, 'ICC_CTLR_EL1', 1);
    msr(vm, 0, 'ICC_BPR0_EL1', 4);
    pend(vm, 40, 0x28);
    expect(ack1(vm)).toBe(40);
    expect(mrs(vm, 0, 'ICC_RPR_EL1')).toBe(0x20n);
    pend(vm, 41, 0x20);
    expectIarEmpty(vm);
    pend(vm, 42, 0x18);
    expect(ack1(vm)).toBe(42);
  });

  it('BPR0 below the minimum acts as the minimum: every priority level preempts', () => {
    const vm = ready();
    msr(vm, 0, 'ICC_IGRPEN0_EL1', 1);
    msr(vm, 0, 'ICC_BPR0_EL1', 0);
    pend(vm, 40, 0x10).group = 0;
    expect(mrs(vm, 0, 'ICC_IAR0_EL1')).toBe(40n);
    pend(vm, 41, 0x08).group = 0;
    expect(mrs(vm, 0, 'ICC_IAR0_EL1')).toBe(41n);
  });
});

describe('SGI generation', () => {
  /** vCPUs 0..19: vCPU 16..19 sit in cluster Aff1 = 1 (default MPIDRs). */
  function cluster(): VmState {
    const vm = ready(false, 20);
    for (const vcpu of vm.vcpus) for (let s = 0; s < 16; s++) vcpu.devices.gic!.irqs[s]!.enabled = true;
    return vm;
  }
  const pendingOn = (vm: VmState, sgi: number): number[] =>
    vm.vcpus.filter((v) => v.devices.gic!.irqs[sgi]!.pendingLatch).map((v) => v.id);
  const sgi1r = (fields: {
    intid: number;
    targets?: number;
    aff1?: number;
    aff2?: number;
    aff3?: number;
    irm?: boolean;
  }) =>
    (BigInt(fields.aff3 ?? 0) << 48n) |
    (fields.irm ? 1n << 40n : 0n) |
    (BigInt(fields.aff2 ?? 0) << 32n) |
    (BigInt(fields.intid) << 24n) |
    (BigInt(fields.aff1 ?? 0) << 16n) |
    BigInt(fields.targets ?? 0);

  it('TargetList picks Aff0 values in the Aff3.Aff2.Aff1 cluster', () => {
    const vm = cluster();
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 3, targets: 0b1000_0000_0000_0101 }));
    expect(pendingOn(vm, 3)).toEqual([0, 2, 15]);
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 4, targets: 0b1010, aff1: 1 }));
    expect(pendingOn(vm, 4)).toEqual([17, 19]);
  });

  it('names no vCPU for affinities nobody has (Aff2, Aff3, Aff0 beyond the cluster)', () => {
    const vm = cluster();
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 5, targets: 0xffff, aff2: 1 }));
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 5, targets: 0xffff, aff3: 1 }));
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 5, targets: 0xfff0, aff1: 1 }));
    expect(pendingOn(vm, 5)).toEqual([]);
  });

  it('Aff3 reaches a vCPU whose MPIDR has it', () => {
    const vm = cluster();
    vm.vcpus[7]!.affinity = 0x8000_0001;
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 6, targets: 0b10, aff3: 0x80 }));
    expect(pendingOn(vm, 6)).toEqual([7]);
  });

  it('IRM = 1 targets every vCPU but the sender, ignoring the target fields; RS is ignored', () => {
    const vm = cluster();
    msr(vm, 5, 'ICC_SGI1R_EL1', sgi1r({ intid: 7, targets: 0b1, irm: true }) | (0xfn << 44n));
    expect(pendingOn(vm, 7)).toEqual(vm.vcpus.map((v) => v.id).filter((id) => id !== 5));
  });

  it('SGI0R and ASGI1R pend only Group 0 SGIs; SGI1R pends either group', () => {
    const vm = cluster();
    vm.vcpus[1]!.devices.gic!.irqs[8]!.group = 0;
    msr(vm, 0, 'ICC_SGI0R_EL1', sgi1r({ intid: 8, targets: 0b110 }));
    expect(pendingOn(vm, 8)).toEqual([1]);
    msr(vm, 0, 'ICC_ASGI1R_EL1', sgi1r({ intid: 9, targets: 0b110 }));
    expect(pendingOn(vm, 9)).toEqual([]);
    vm.vcpus[2]!.devices.gic!.irqs[9]!.group = 0;
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 9, targets: 0b110 }));
    expect(pendingOn(vm, 9)).toEqual([1, 2]);
  });

  it('an SGI to self is delivered through IAR1', () => {
    const vm = cluster();
    msr(vm, 0, 'ICC_PMR_EL1', 0xf8);
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 2, targets: 1 }));
    expect(interruptSignals(vm, vm.vcpus[0]!)).toEqual({ irq: true, fiq: false });
    expect(ack1(vm)).toBe(2);
  });

  it('hardware vSGIs (GICv4.1) pend in vsgiPending, have no active state, still need EOI', () => {
    const vm = cluster();
    const target = vm.vcpus[1]!.devices.gic!;
    Object.assign(target.irqs[10]!, { hw: true, priority: 0x30 });
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 10, targets: 0b10 }));
    expect(target.vsgiPending[10]).toBe(true);
    expect(target.irqs[10]!.pendingLatch).toBe(false);
    expect(ack1(vm, 1)).toBe(10);
    expect(target.vsgiPending[10]).toBe(false);
    expect(target.irqs[10]!.active).toBe(false);
    expect(mrs(vm, 1, 'ICC_RPR_EL1')).toBe(0x30n);
    // Sent again while being handled: pending at once (no active state to wait for), but it
    // cannot preempt its own running priority.
    msr(vm, 0, 'ICC_SGI1R_EL1', sgi1r({ intid: 10, targets: 0b10 }));
    expect(mrs(vm, 1, 'ICC_HPPIR1_EL1')).toBe(10n);
    expect(ack1(vm, 1)).toBe(1023);
    msr(vm, 1, 'ICC_EOIR1_EL1', 10);
    expect(mrs(vm, 1, 'ICC_RPR_EL1')).toBe(0xffn);
    expect(ack1(vm, 1)).toBe(10);
  });
});

describe('state view and immer drafts', () => {
  it('summarises the CPU interface', () => {
    const vm = ready();
    pend(vm, 40, 0x48);
    pend(vm, 41, 0x40);
    ack1(vm);
    expect(cpuifSummary(vm, vm.vcpus[0]!)).toEqual({
      pmr: 0xf8,
      bpr0: 2,
      bpr1: 3,
      cbpr: false,
      eoiMode: false,
      igrpen0: false,
      igrpen1: true,
      ap0r: [0],
      ap1r: [1 << 8],
      runningPriority: 0x40,
      highestPending: { intid: 40, priority: 0x48, group: 1 },
    });
  });

  it('acknowledges through an immer draft and leaves the base untouched', () => {
    const base = ready();
    pend(base, 40, 0x10);
    const frozen = produce(base, () => {});
    let intid = -1;
    const next = produce(frozen, (draft: VmState) => {
      intid = Number(iccRead(draft, draft.vcpus[0] as VcpuState, enc('ICC_IAR1_EL1'), fx));
    });
    expect(intid).toBe(40);
    expect(frozen.devices.gic!.spis[8]!.active).toBe(false);
    expect(next.devices.gic!.spis[8]!.active).toBe(true);
    expect(next.vcpus[0]!.devices.gic!.ap1r[0]).toBe(1 << 2);
  });
});

it('no effects were emitted by any valid access above', () => {
  expect(fx.effects).toEqual([]);
});
