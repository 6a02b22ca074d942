// Pure queries over the GICv3 CPU interface as a guest sees it (Arm IHI 0069 §4.8 "Interrupt
// prioritization" and the ICV_* pseudocode of ch. 12; vgic-v3.md §3.2). KVM leaves these rules to
// the hardware virtual CPU interface (ICH_LR/ICH_APR/ICH_VMCR), so the model follows the
// architecture as QEMU's hw/intc/arm_gicv3_cpuif.c implements the virtual interface
// (hppvi_index, icv_hppi_can_preempt, icv_gprio_mask, ich_highest_active_virt_prio), with the
// per-IRQ state of KVM (vgic-v3.md §1.2) standing in for the list registers.
//
// Implemented: 5 priority and 5 preemption bits (ICH_VTR_EL2.PRIbits = PREbits = 4), so
// priorities are multiples of 8, AP0R0/AP1R0 are the only active-priority registers and
// active-priority bit n stands for group priority n << 3. The host values of ICC_CTLR_EL1 that
// KVM reports are in cpuif.ts. LPIs (devices/its/lpis.ts `lpiCandidates`) compete after the
// private interrupts and SPIs: Group 1, no active state.

import type { VcpuState, VmState } from '../../engine/state.js';
import { type LpiCandidate, lpiCandidates } from '../its/lpis.js';
import { isPending, spiTarget } from './derive.js';
import {
  type GicCpuState,
  type GicState,
  type IrqState,
  VGIC_NR_PRIVATE_IRQS,
  VGIC_NR_SGIS,
  VGIC_PRI_MASK,
} from './state.js';

/** Priority and preemption bits the virtual CPU interface implements (ICH_VTR_EL2 PRIbits/PREbits + 1). */
export const VGIC_PRI_BITS = 5;
/** The special INTID IAR and HPPIR return when nothing qualifies. */
export const INTID_SPURIOUS = 1023;
/** Running priority with no active interrupt (ICC_RPR_EL1 idle value). */
export const IDLE_PRIORITY = 0xff;
/** ICV_BPR0_EL1 minimum: 7 - PREbits (writes below it set it, IHI 0069 ICC_BPR0_EL1). */
export const MIN_BPR0 = 7 - VGIC_PRI_BITS;
/** ICV_BPR1_EL1 minimum: one more than BPR0's. */
export const MIN_BPR1 = MIN_BPR0 + 1;
/** Active-priority registers per group that 5 preemption bits need (AP<g>R0 only). */
export const APR_REGS = 1 << (VGIC_PRI_BITS - 5);

/** The interrupt the CPU interface would present: what IAR/HPPIR report about it. */
export interface PendingIrq {
  intid: number;
  /** Priority with the unimplemented low bits cleared. */
  priority: number;
  group: number;
}

/** Is `irq` (INTID `intid`) a GICv4.1 direct vSGI, whose pending state lives in `vsgiPending`? */
export function isDirectVsgi(intid: number, irq: IrqState): boolean {
  return intid < VGIC_NR_SGIS && irq.hw;
}

/**
 * Whether `irq` competes for presentation: enabled, pending and not active. An active and pending
 * interrupt is not a candidate until it is deactivated (FindHPPVIRQ only looks at list registers
 * in the Pending state). Direct vSGIs have no active state and use the hardware pending store.
 */
export function isCandidate(cpu: GicCpuState, intid: number, irq: IrqState): boolean {
  if (!irq.enabled) return false;
  if (isDirectVsgi(intid, irq)) return cpu.vsgiPending[intid] === true;
  return !irq.active && isPending(irq);
}

/** ICH_VMCR_EL2.VENG<group>: the guest's ICC_IGRPEN<group>_EL1. */
export function isGroupEnabled(cpu: GicCpuState, group: number): boolean {
  return group === 0 ? cpu.vmcr.eng0 : cpu.vmcr.eng1;
}

/**
 * The highest-priority pending interrupt of `vcpu` (IHI 0069 §4.8.2; QEMU hppvi_index): its
 * private interrupts and the SPIs routed to it by IROUTER, enabled, pending, not active, whose
 * group is enabled at the CPU interface. Nothing while the distributor is disabled: KVM's single
 * GICD_CTLR.EnableGrp1A gates every group and private interrupts too (vgic_target_oracle).
 * Lower priority value wins; ties go to the lowest INTID (scan in INTID order, strict compare).
 * Pure.
 */
export function highestPriorityPending(
  vm: VmState,
  vcpu: VcpuState,
  /** This vCPU's LPI candidates when the caller has them already (lpiCandidatesByVcpu). */
  lpis?: readonly LpiCandidate[],
): PendingIrq | undefined {
  const gic = vm.devices.gic;
  const cpu = vcpu.devices.gic;
  if (!gic || !cpu || !gic.enabled) return undefined;
  let best: PendingIrq | undefined;
  for (let i = 0; i < VGIC_NR_PRIVATE_IRQS; i++) {
    const irq = cpu.irqs[i];
    if (irq && isCandidate(cpu, i, irq) && isGroupEnabled(cpu, irq.group)) {
      const priority = irq.priority & VGIC_PRI_MASK;
      if (best === undefined || priority < best.priority) best = { intid: i, priority, group: irq.group };
    }
  }
  const affinity = vcpu.affinity & 0xff_ffff;
  for (let i = 0; i < gic.spis.length; i++) {
    const irq = gic.spis[i]!;
    // Cheap tests first (this runs after every event that may touch the vGIC); spiTarget last,
    // to settle which vCPU owns a duplicated affinity.
    if (irq.mpidr !== affinity || !irq.enabled) continue;
    const intid = VGIC_NR_PRIVATE_IRQS + i;
    if (!isCandidate(cpu, intid, irq) || !isGroupEnabled(cpu, irq.group)) continue;
    const priority = irq.priority & VGIC_PRI_MASK;
    if ((best === undefined || priority < best.priority) && spiTarget(vm, irq)?.id === vcpu.id) {
      best = { intid, priority, group: irq.group };
    }
  }
  // LPIs (vits.md §9): pending, enabled, targeting this vCPU with EnableLPIs; always Group 1.
  // Their INTIDs are above every SPI, so a strict compare keeps the lowest-INTID tie rule.
  if (isGroupEnabled(cpu, 1)) {
    for (const lpi of lpis ?? lpiCandidates(vm, vcpu.id)) {
      const priority = lpi.priority & VGIC_PRI_MASK;
      if (best === undefined || priority < best.priority) best = { intid: lpi.intid, priority, group: 1 };
    }
  }
  return best;
}

/** OR of both groups' active-priority register `n` (the running priority looks at both). */
function activePriorities(cpu: GicCpuState, n: number): number {
  return ((cpu.ap0r[n] ?? 0) | (cpu.ap1r[n] ?? 0)) >>> 0;
}

/** Index of the lowest set bit of a non-zero 32-bit value. */
export function lowestSetBit(value: number): number {
  return 31 - Math.clz32(value & -value);
}

/**
 * The running priority (ICC_RPR_EL1): the group priority of the highest active priority bit set
 * in AP0R/AP1R, or 0xFF when none is set (QEMU ich_highest_active_virt_prio). Pure.
 */
export function runningPriority(cpu: GicCpuState): number {
  for (let n = 0; n < APR_REGS; n++) {
    const bits = activePriorities(cpu, n);
    if (bits !== 0) return (n * 32 + lowestSetBit(bits)) << (8 - VGIC_PRI_BITS);
  }
  return IDLE_PRIORITY;
}

/** ICV_BPR0_EL1 as the hardware holds it: a stored value below the minimum reads as the minimum. */
export function binaryPoint0(cpu: GicCpuState): number {
  return Math.max(cpu.vmcr.bpr0 & 7, MIN_BPR0);
}

/** ICV_BPR1_EL1 as the guest reads it: with CBPR, BPR0 + 1 saturated to 7 (IHI 0069 ICC_CTLR_EL1.CBPR). */
export function binaryPoint1(cpu: GicCpuState): number {
  if (cpu.vmcr.cbpr) return Math.min(binaryPoint0(cpu) + 1, 7);
  return Math.max(cpu.vmcr.bpr1 & 7, MIN_BPR1);
}

/**
 * The mask that keeps the group-priority bits of a `group` priority (VGroupBits; QEMU
 * icv_gprio_mask). BPR0 = b keeps bits [7:b+1]; BPR1 = b keeps bits [7:b]; with CBPR both groups
 * use BPR0. Pure.
 */
export function groupPriorityMask(cpu: GicCpuState, group: number): number {
  const bpr = group === 1 && !cpu.vmcr.cbpr ? binaryPoint1(cpu) - 1 : binaryPoint0(cpu);
  return (0xff << (bpr + 1)) & 0xff;
}

/** ICV_PMR_EL1 with its unimplemented low bits reading as zero. */
export function priorityMask(cpu: GicCpuState): number {
  return cpu.vmcr.pmr & VGIC_PRI_MASK;
}

/**
 * Whether `pending` may be signalled (CanSignalVirtualInt; QEMU icv_hppi_can_preempt): its
 * priority is strictly below the priority mask and its group priority strictly higher than the
 * running priority. Subpriority never preempts. Pure.
 */
export function canPreempt(cpu: GicCpuState, pending: PendingIrq): boolean {
  if (pending.priority >= priorityMask(cpu)) return false;
  const running = runningPriority(cpu);
  if (running === IDLE_PRIORITY) return true;
  const mask = groupPriorityMask(cpu, pending.group);
  return (pending.priority & mask) < (running & mask);
}

/**
 * What ICC_IAR<group>_EL1 would acknowledge: the highest-priority pending interrupt if it belongs
 * to `group` and can preempt, else undefined (the read returns 1023). A pending interrupt of the
 * other group with higher priority hides this group's (IAR reads only look at the HPPI). Pure.
 */
export function acknowledgeable(vm: VmState, vcpu: VcpuState, group: number): PendingIrq | undefined {
  const cpu = vcpu.devices.gic;
  const hppi = highestPriorityPending(vm, vcpu);
  if (!cpu || !hppi || hppi.group !== group || !canPreempt(cpu, hppi)) return undefined;
  return hppi;
}

/**
 * ICC_HPPIR<group>_EL1: the INTID of the highest-priority pending interrupt if it is in `group`,
 * else 1023. Priority mask and running priority do not matter (QEMU icv_hppir_read). Pure.
 */
export function highestPendingIntid(vm: VmState, vcpu: VcpuState, group: number): number {
  const hppi = highestPriorityPending(vm, vcpu);
  return hppi && hppi.group === group ? hppi.intid : INTID_SPURIOUS;
}

/** The vIRQ (Group 1) and vFIQ (Group 0, ICH_VMCR_EL2.VFIQEn is RES1) lines of a vCPU. */
export interface InterruptSignals {
  irq: boolean;
  fiq: boolean;
}

/**
 * Which exception lines the CPU interface asserts towards `vcpu`: the HPPI's, if it can preempt.
 * An engine records changes of this as `cpu.irq` effects. Pure.
 */
export function interruptSignals(
  vm: VmState,
  vcpu: VcpuState,
  lpis?: readonly LpiCandidate[],
): InterruptSignals {
  const cpu = vcpu.devices.gic;
  const hppi = highestPriorityPending(vm, vcpu, lpis);
  if (!cpu || !hppi || !canPreempt(cpu, hppi)) return { irq: false, fiq: false };
  return { irq: hppi.group === 1, fiq: hppi.group === 0 };
}

/** Does `vcpu` have an interrupt to take (either line)? Pure. */
export function hasInterruptToSignal(vm: VmState, vcpu: VcpuState): boolean {
  const { irq, fiq } = interruptSignals(vm, vcpu);
  return irq || fiq;
}

/** The CPU-interface part of the state view (`vgicrr state`, TUI). */
export interface CpuifSummary {
  pmr: number;
  bpr0: number;
  bpr1: number;
  cbpr: boolean;
  eoiMode: boolean;
  igrpen0: boolean;
  igrpen1: boolean;
  ap0r: number[];
  ap1r: number[];
  runningPriority: number;
  highestPending: PendingIrq | undefined;
}

/** The guest-visible CPU interface of `vcpu` in one object, or undefined without a vGIC. Pure. */
export function cpuifSummary(vm: VmState, vcpu: VcpuState): CpuifSummary | undefined {
  const cpu = vcpu.devices.gic;
  if (!cpu) return undefined;
  return {
    pmr: priorityMask(cpu),
    bpr0: binaryPoint0(cpu),
    bpr1: binaryPoint1(cpu),
    cbpr: cpu.vmcr.cbpr,
    eoiMode: cpu.vmcr.eoim,
    igrpen0: cpu.vmcr.eng0,
    igrpen1: cpu.vmcr.eng1,
    ap0r: cpu.ap0r.slice(0, APR_REGS),
    ap1r: cpu.ap1r.slice(0, APR_REGS),
    runningPriority: runningPriority(cpu),
    highestPending: highestPriorityPending(vm, vcpu),
  };
}

/** The GIC state pair a CPU-interface access works on, or undefined if either is absent. */
export function cpuifOf(vm: VmState, vcpu: VcpuState): { gic: GicState; cpu: GicCpuState } | undefined {
  const gic = vm.devices.gic;
  const cpu = vcpu.devices.gic;
  return gic && cpu ? { gic, cpu } : undefined;
}
