// The GICv3 CPU interface system registers, ICC_*_EL1 (Arm IHI 0069 ch. 12; vgic-v3.md §3): one
// descriptor row per register with the guest's MRS/MSR semantics (§3.2: the hardware virtual CPU
// interface, or KVM's trap handlers in sys_regs.c for SGI generation, SRE and DIR) and the
// KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS accessors of arch/arm64/kvm/vgic-sys-reg-v3.c (§3.1).
//
// Host model (decisions.md "CPU interface"): a GICv3 host whose CPU interface is that of a
// Cortex-A76 / Neoverse-N1 class core, ICH_VTR_EL2 PRIbits = PREbits = 4 (5 bits), IDbits = 0
// (16-bit INTIDs), SEIS = 0, A3V = 1. ICC_CTLR_EL1 therefore reads 0x8400 | EOImode << 1 | CBPR:
//   CBPR [0]      from ICH_VMCR_EL2.VCBPR, writable
//   EOImode [1]   from ICH_VMCR_EL2.VEOIM, writable
//   PMHE [6]      0
//   PRIbits [10:8] 4 for the guest (hardware); num_pri_bits - 1 for userspace (get_gic_ctlr)
//   IDbits [13:11] 0 for the guest; num_id_bits for userspace
//   SEIS [14]     0 (ICH_VTR_EL2.SEIS; KVM reports SEIS to the guest only with RAS)
//   A3V [15]      1 (ICH_VTR_EL2.A3V)
//   RSS [18], ExtRange [19]  0
// ICC_SRE_EL1 reads 0x7 (SRE | DFB | DIB). The nested-virtualisation ICH_*_EL2 rows of KVM's
// table are hidden for vCPUs without EL2, which this model never has.
//
// Guest accesses never fail: registers or directions that do not exist are UNDEFINED, reported as
// a `guest.undef` effect (same shape as the engine's) with the read returning 0.

import { EINVAL, ENOENT, ENXIO } from '../../engine/errno.js';
import type { Effect } from '../../engine/events.js';
import type { AttrResult } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import { vcpuByAffinity } from '../../engine/state.js';
import { sysregEncoding } from '../names.js';
import {
  acknowledgeable,
  binaryPoint0,
  binaryPoint1,
  cpuifOf,
  groupPriorityMask,
  highestPendingIntid,
  IDLE_PRIORITY,
  INTID_SPURIOUS,
  isDirectVsgi,
  lowestSetBit,
  MIN_BPR0,
  MIN_BPR1,
  priorityMask,
  runningPriority,
  VGIC_PRI_BITS,
} from './cpuif-derive.js';
import { irqFor } from './derive.js';
import type { GicCpuState, GicState } from './state.js';

/** Where handlers send effects; a StepContext is one. */
export interface EffectSink {
  emit(effect: Effect): void;
}

/** ICH_VTR_EL2 fields of the modelled host that ICC_CTLR_EL1 reports. */
export const HOST_PRI_BITS = VGIC_PRI_BITS;
export const HOST_ID_BITS = 0;
export const HOST_SEIS = 0;
export const HOST_A3V = 1;

export const ICC_CTLR_EL1_CBPR = 1 << 0;
export const ICC_CTLR_EL1_EOIMODE = 1 << 1;
export const ICC_CTLR_EL1_PRI_BITS_SHIFT = 8;
export const ICC_CTLR_EL1_ID_BITS_SHIFT = 11;
export const ICC_CTLR_EL1_SEIS_SHIFT = 14;
export const ICC_CTLR_EL1_A3V_SHIFT = 15;
/** ICC_SRE_EL1 as KVM keeps it (vgic_v3_enable: SRE | DFB | DIB). */
export const ICC_SRE_EL1_VALUE = 0x7n;
const ICC_SRE_EL1_SRE = 1n;

/** INTIDs 1020–8191 are special or reserved: EOIR and DIR writes naming them are ignored. */
const FIRST_SPECIAL_INTID = 1020;
const FIRST_LPI = 8192;

/** The largest AP<g>R<n> index userspace may use (vgic.h vgic_v3_max_apr_idx). */
export function maxAprIndex(numPriBits: number): number {
  if (numPriBits === 7) return 3;
  if (numPriBits === 6) return 1;
  return 0;
}

/** One ICC_* register: guest access, and userspace access where KVM's table has a row. */
export interface IccRegister {
  name: string;
  /** op0:op1:CRn:CRm:op2 as KVM_DEV_ARM_VGIC_SYSREG packs it. */
  encoding: number;
  /** Reading changes state (acknowledge): the read must be recorded as an event. */
  sideEffectOnRead: boolean;
  /** Guest MRS; absent: the read is UNDEFINED. */
  read?: (vm: VmState, vcpu: VcpuState, gic: GicState, cpu: GicCpuState) => bigint;
  /** Guest MSR; absent: the write is UNDEFINED. */
  write?: (vm: VmState, vcpu: VcpuState, gic: GicState, cpu: GicCpuState, value: bigint) => void;
  /** KVM_GET_DEVICE_ATTR CPU_SYSREGS; absent: not in gic_v3_icc_reg_descs. */
  hostRead?: (cpu: GicCpuState) => AttrResult;
  /** KVM_SET_DEVICE_ATTR CPU_SYSREGS; returns 0 or a negative errno. */
  hostWrite?: (cpu: GicCpuState, value: bigint) => number;
}

const low32 = (value: bigint): number => Number(value & 0xffff_ffffn);
const flag = (value: boolean): bigint => (value ? 1n : 0n);

// ---- acknowledge, priority drop, deactivation -----------------------------------------------

/**
 * ICC_IAR<group>_EL1: acknowledge the interrupt `acknowledgeable` names. It becomes active, an
 * edge latch is consumed, and the active-priority bit of its group priority is set (QEMU
 * icv_activate_irq). A level latch stays until deactivation, as KVM folds it (vgic-v3.md §1.6).
 * A direct vSGI has no active state: only its hardware pending bit is consumed; nor has an LPI,
 * whose pending latch is consumed.
 */
export function acknowledge(vm: VmState, vcpu: VcpuState, group: number): number {
  const pending = acknowledgeable(vm, vcpu, group);
  const ctx = cpuifOf(vm, vcpu);
  if (!pending || !ctx) return INTID_SPURIOUS;
  const irq = pending.intid >= FIRST_LPI ? undefined : irqFor(ctx.gic, vcpu, pending.intid)!;
  if (!irq) {
    // An LPI has no active state (IHI 0069 §4.1): acknowledging consumes its latch; the EOI
    // only drops the priority (irqFor finds no LPI to deactivate).
    const lpi = vm.devices.lpis?.irqs[pending.intid];
    if (lpi) lpi.pendingLatch = false;
  } else if (isDirectVsgi(pending.intid, irq)) {
    ctx.cpu.vsgiPending[pending.intid] = false;
  } else {
    irq.active = true;
    if (!irq.level) irq.pendingLatch = false;
  }
  const bit = (pending.priority & groupPriorityMask(ctx.cpu, group)) >> (8 - VGIC_PRI_BITS);
  const aprs = group === 0 ? ctx.cpu.ap0r : ctx.cpu.ap1r;
  aprs[bit >> 5] = ((aprs[bit >> 5] ?? 0) | (1 << (bit & 31))) >>> 0;
  return pending.intid;
}

/**
 * Priority drop: clear the highest active priority bit of either group, Group 0 first at equal
 * priority (QEMU icv_drop_prio). Returns the dropped group priority, or 0xFF if none was set.
 */
export function dropPriority(cpu: GicCpuState): number {
  for (let n = 0; n < 1 << (VGIC_PRI_BITS - 5); n++) {
    const g0 = cpu.ap0r[n] ?? 0;
    const g1 = cpu.ap1r[n] ?? 0;
    if (g0 === 0 && g1 === 0) continue;
    const b0 = g0 === 0 ? 32 : lowestSetBit(g0);
    const b1 = g1 === 0 ? 32 : lowestSetBit(g1);
    if (b0 <= b1) cpu.ap0r[n] = (g0 & (g0 - 1)) >>> 0;
    else cpu.ap1r[n] = (g1 & (g1 - 1)) >>> 0;
    return (n * 32 + Math.min(b0, b1)) << (8 - VGIC_PRI_BITS);
  }
  return IDLE_PRIORITY;
}

/**
 * Deactivate `intid` as seen from `vcpu`: private INTIDs are the vCPU's own, SPIs are shared, so
 * a DIR on another vCPU than the one that acknowledged works (KVM 6.19, vgic-v3.md §3.2). A level
 * interrupt's latch is cleared; its line, if still high, makes it pending again (§1.6). Inactive
 * interrupts and direct vSGIs (no active state) are left alone.
 */
export function deactivate(gic: GicState, vcpu: VcpuState, intid: number): void {
  const irq = irqFor(gic, vcpu, intid);
  if (!irq?.active || isDirectVsgi(intid, irq)) return;
  irq.active = false;
  if (irq.level) irq.pendingLatch = false;
}

/**
 * ICC_EOIR<group>_EL1 (QEMU icv_eoir_write): special INTIDs are ignored; otherwise drop the
 * running priority and, with EOImode 0, deactivate the INTID written if it is active, in `group`
 * and its group priority is the one dropped (a mismatched EOI only drops priority, the
 * architecture's CONSTRAINED UNPREDICTABLE choice that QEMU and the hardware make).
 */
export function endOfInterrupt(vm: VmState, vcpu: VcpuState, group: number, value: bigint): void {
  const ctx = cpuifOf(vm, vcpu);
  const intid = Number(value & 0xff_ffffn);
  if (!ctx || (intid >= FIRST_SPECIAL_INTID && intid < FIRST_LPI)) return;
  const dropped = dropPriority(ctx.cpu);
  if (dropped === IDLE_PRIORITY || ctx.cpu.vmcr.eoim) return;
  const irq = irqFor(ctx.gic, vcpu, intid);
  if (!irq || irq.group !== group) return;
  if ((irq.priority & groupPriorityMask(ctx.cpu, group)) !== dropped) return;
  deactivate(ctx.gic, vcpu, intid);
}

/**
 * ICC_DIR_EL1 (QEMU icv_dir_write): deactivate the INTID written when EOImode is 1; with
 * EOImode 0 the write is ignored (UNPREDICTABLE in IHI 0069; the hardware ignores it).
 */
export function deactivateInterrupt(vm: VmState, vcpu: VcpuState, value: bigint): void {
  const ctx = cpuifOf(vm, vcpu);
  const intid = Number(value & 0xff_ffffn);
  if (!ctx?.cpu.vmcr.eoim || intid >= FIRST_SPECIAL_INTID) return;
  deactivate(ctx.gic, vcpu, intid);
}

// ---- SGI generation ---------------------------------------------------------------------------

/** ICC_SGI1R_EL1 / ICC_ASGI1R_EL1 / ICC_SGI0R_EL1 fields (IHI 0069 ICC_SGI1R_EL1). */
export interface SgiRequest {
  intid: number;
  targetList: number;
  aff1: number;
  aff2: number;
  aff3: number;
  /** IRM: every vCPU except the sender. */
  broadcast: boolean;
}

/** Decodes an SGI register image; RS [47:44] is ignored (ICC_CTLR_EL1.RSS = 0). Pure. */
export function decodeSgi(value: bigint): SgiRequest {
  const field = (shift: bigint, mask: bigint): number => Number((value >> shift) & mask);
  return {
    targetList: field(0n, 0xffffn),
    aff1: field(16n, 0xffn),
    intid: field(24n, 0xfn),
    aff2: field(32n, 0xffn),
    broadcast: field(40n, 1n) === 1,
    aff3: field(48n, 0xffn),
  };
}

/**
 * Makes SGI `intid` pending on `target` (vgic-mmio-v3.c vgic_v3_queue_sgi): a Group 0 request only
 * reaches Group 0 SGIs; a direct vSGI goes to the hardware pending store.
 */
function queueSgi(target: VcpuState, intid: number, allowGroup1: boolean): void {
  const cpu = target.devices.gic;
  const irq = cpu?.irqs[intid];
  if (!cpu || !irq || (irq.group !== 0 && !allowGroup1)) return;
  if (irq.hw) cpu.vsgiPending[intid] = true;
  else irq.pendingLatch = true;
}

/**
 * SGI generation (vgic_v3_dispatch_sgi): IRM = 1 targets every other vCPU in creation order;
 * otherwise each TargetList bit b names the vCPU with affinity Aff3.Aff2.Aff1.b, skipped if none.
 */
export function generateSgi(vm: VmState, sender: VcpuState, value: bigint, allowGroup1: boolean): void {
  const sgi = decodeSgi(value);
  if (sgi.broadcast) {
    for (const target of vm.vcpus) if (target.id !== sender.id) queueSgi(target, sgi.intid, allowGroup1);
    return;
  }
  const cluster = ((sgi.aff3 << 24) | (sgi.aff2 << 16) | (sgi.aff1 << 8)) >>> 0;
  for (let aff0 = 0; aff0 < 16; aff0++) {
    if ((sgi.targetList & (1 << aff0)) === 0) continue;
    const target = vcpuByAffinity(vm, cluster + aff0);
    if (target) queueSgi(target, sgi.intid, allowGroup1);
  }
}

// ---- the table ----------------------------------------------------------------------------------

interface RowOptions extends Omit<IccRegister, 'encoding' | 'sideEffectOnRead'> {
  op: [crn: number, crm: number, op2: number];
  sideEffectOnRead?: boolean;
}

/** A row for an EL1 register op0 = 3, op1 = 0. */
function icc({ op: [crn, crm, op2], sideEffectOnRead = false, ...rest }: RowOptions): IccRegister {
  return { encoding: sysregEncoding(3, 0, crn, crm, op2), sideEffectOnRead, ...rest };
}

const ok = (value: bigint): AttrResult => ({ rc: 0, value });

/** AP<g>R<n> rows: KVM stores 32 bits; indices beyond the priority bits are UNDEFINED / -EINVAL. */
function aprRow(group: 0 | 1, n: number): IccRegister {
  const regs = (cpu: GicCpuState): number[] => (group === 0 ? cpu.ap0r : cpu.ap1r);
  const guestHas = n <= maxAprIndex(VGIC_PRI_BITS);
  return icc({
    name: `ICC_AP${group}R${n}_EL1`,
    op: group === 0 ? [12, 8, 4 + n] : [12, 9, n],
    ...(guestHas
      ? {
          read: (_vm, _vcpu, _gic, cpu) => BigInt(regs(cpu)[n] ?? 0),
          write: (_vm, _vcpu, _gic, cpu, value) => {
            regs(cpu)[n] = low32(value) >>> 0;
          },
        }
      : {}),
    hostRead: (cpu) => (n > maxAprIndex(cpu.numPriBits) ? { rc: -EINVAL } : ok(BigInt(regs(cpu)[n] ?? 0))),
    hostWrite: (cpu, value) => {
      if (n > maxAprIndex(cpu.numPriBits)) return -EINVAL;
      regs(cpu)[n] = low32(value) >>> 0;
      return 0;
    },
  });
}

/** The ICC_CTLR_EL1 image the guest reads: host ICH_VTR_EL2 fields plus VMCR's CBPR/EOImode. */
function guestCtlr(cpu: GicCpuState): bigint {
  return BigInt(
    ((HOST_PRI_BITS - 1) << ICC_CTLR_EL1_PRI_BITS_SHIFT) |
      (HOST_ID_BITS << ICC_CTLR_EL1_ID_BITS_SHIFT) |
      (HOST_SEIS << ICC_CTLR_EL1_SEIS_SHIFT) |
      (HOST_A3V << ICC_CTLR_EL1_A3V_SHIFT) |
      (cpu.vmcr.eoim ? ICC_CTLR_EL1_EOIMODE : 0) |
      (cpu.vmcr.cbpr ? ICC_CTLR_EL1_CBPR : 0),
  );
}

/** get_gic_ctlr: as the guest's, but PRIbits/IDbits from the vCPU's (possibly lowered) values. */
function hostCtlr(cpu: GicCpuState): bigint {
  const hostFields = (HOST_SEIS << ICC_CTLR_EL1_SEIS_SHIFT) | (HOST_A3V << ICC_CTLR_EL1_A3V_SHIFT);
  return BigInt(
    (((cpu.numPriBits - 1) & 7) << ICC_CTLR_EL1_PRI_BITS_SHIFT) |
      ((cpu.numIdBits & 7) << ICC_CTLR_EL1_ID_BITS_SHIFT) |
      hostFields |
      (cpu.vmcr.eoim ? ICC_CTLR_EL1_EOIMODE : 0) |
      (cpu.vmcr.cbpr ? ICC_CTLR_EL1_CBPR : 0),
  );
}

/**
 * set_gic_ctlr, check by check in KVM's order: a PRIbits or IDbits above the vCPU's, or a SEIS or
 * A3V unlike the host's, is -EINVAL; each passed check has already lowered its field, as in KVM.
 */
function hostWriteCtlr(cpu: GicCpuState, value: bigint): number {
  const v = low32(value);
  const priBits = ((v >> ICC_CTLR_EL1_PRI_BITS_SHIFT) & 7) + 1;
  if (priBits > cpu.numPriBits) return -EINVAL;
  cpu.numPriBits = priBits;
  const idBits = (v >> ICC_CTLR_EL1_ID_BITS_SHIFT) & 7;
  if (idBits > cpu.numIdBits) return -EINVAL;
  cpu.numIdBits = idBits;
  if (((v >> ICC_CTLR_EL1_SEIS_SHIFT) & 1) !== HOST_SEIS) return -EINVAL;
  if (((v >> ICC_CTLR_EL1_A3V_SHIFT) & 1) !== HOST_A3V) return -EINVAL;
  cpu.vmcr.cbpr = (v & ICC_CTLR_EL1_CBPR) !== 0;
  cpu.vmcr.eoim = (v & ICC_CTLR_EL1_EOIMODE) !== 0;
  return 0;
}

/** Every ICC_*_EL1 register, sorted by encoding (checked by a test). */
export const ICC_REGISTERS: readonly IccRegister[] = [
  icc({
    name: 'ICC_PMR_EL1',
    op: [4, 6, 0],
    // Five implemented bits: the low three read as zero for the guest; userspace keeps all 8.
    read: (_vm, _vcpu, _gic, cpu) => BigInt(priorityMask(cpu)),
    write: (_vm, _vcpu, _gic, cpu, value) => {
      cpu.vmcr.pmr = Number(value & 0xffn) & (0xff << (8 - VGIC_PRI_BITS)) & 0xff;
    },
    hostRead: (cpu) => ok(BigInt(cpu.vmcr.pmr & 0xff)),
    hostWrite: (cpu, value) => {
      cpu.vmcr.pmr = Number(value & 0xffn);
      return 0;
    },
  }),
  icc({
    name: 'ICC_IAR0_EL1',
    op: [12, 8, 0],
    sideEffectOnRead: true,
    read: (vm, vcpu) => BigInt(acknowledge(vm, vcpu, 0)),
  }),
  icc({
    name: 'ICC_EOIR0_EL1',
    op: [12, 8, 1],
    write: (vm, vcpu, _gic, _cpu, value) => endOfInterrupt(vm, vcpu, 0, value),
  }),
  icc({
    name: 'ICC_HPPIR0_EL1',
    op: [12, 8, 2],
    read: (vm, vcpu) => BigInt(highestPendingIntid(vm, vcpu, 0)),
  }),
  icc({
    name: 'ICC_BPR0_EL1',
    op: [12, 8, 3],
    read: (_vm, _vcpu, _gic, cpu) => BigInt(binaryPoint0(cpu)),
    write: (_vm, _vcpu, _gic, cpu, value) => {
      cpu.vmcr.bpr0 = Math.max(Number(value & 7n), MIN_BPR0);
    },
    hostRead: (cpu) => ok(BigInt(cpu.vmcr.bpr0 & 7)),
    hostWrite: (cpu, value) => {
      cpu.vmcr.bpr0 = Number(value & 7n);
      return 0;
    },
  }),
  aprRow(0, 0),
  aprRow(0, 1),
  aprRow(0, 2),
  aprRow(0, 3),
  aprRow(1, 0),
  aprRow(1, 1),
  aprRow(1, 2),
  aprRow(1, 3),
  icc({
    name: 'ICC_DIR_EL1',
    op: [12, 11, 1],
    write: (vm, vcpu, _gic, _cpu, value) => deactivateInterrupt(vm, vcpu, value),
  }),
  icc({
    name: 'ICC_RPR_EL1',
    op: [12, 11, 3],
    read: (_vm, _vcpu, _gic, cpu) => BigInt(runningPriority(cpu)),
  }),
  icc({
    name: 'ICC_SGI1R_EL1',
    op: [12, 11, 5],
    write: (vm, vcpu, _gic, _cpu, value) => generateSgi(vm, vcpu, value, true),
  }),
  icc({
    // KVM's access_gic_sgi treats ASGI1R like SGI0R: with GICD_CTLR.DS = 1 there is no other
    // Secure group, so it generates Group 0 SGIs only (vgic-v3.md §3.2 says "either group").
    name: 'ICC_ASGI1R_EL1',
    op: [12, 11, 6],
    write: (vm, vcpu, _gic, _cpu, value) => generateSgi(vm, vcpu, value, false),
  }),
  icc({
    name: 'ICC_SGI0R_EL1',
    op: [12, 11, 7],
    write: (vm, vcpu, _gic, _cpu, value) => generateSgi(vm, vcpu, value, false),
  }),
  icc({
    name: 'ICC_IAR1_EL1',
    op: [12, 12, 0],
    sideEffectOnRead: true,
    read: (vm, vcpu) => BigInt(acknowledge(vm, vcpu, 1)),
  }),
  icc({
    name: 'ICC_EOIR1_EL1',
    op: [12, 12, 1],
    write: (vm, vcpu, _gic, _cpu, value) => endOfInterrupt(vm, vcpu, 1, value),
  }),
  icc({
    name: 'ICC_HPPIR1_EL1',
    op: [12, 12, 2],
    read: (vm, vcpu) => BigInt(highestPendingIntid(vm, vcpu, 1)),
  }),
  icc({
    name: 'ICC_BPR1_EL1',
    op: [12, 12, 3],
    read: (_vm, _vcpu, _gic, cpu) => BigInt(binaryPoint1(cpu)),
    // With CBPR set, BPR1 writes are ignored (the architecture's and KVM's set_gic_bpr1).
    write: (_vm, _vcpu, _gic, cpu, value) => {
      if (!cpu.vmcr.cbpr) cpu.vmcr.bpr1 = Math.max(Number(value & 7n), MIN_BPR1);
    },
    hostRead: (cpu) => ok(BigInt(cpu.vmcr.cbpr ? Math.min((cpu.vmcr.bpr0 & 7) + 1, 7) : cpu.vmcr.bpr1 & 7)),
    hostWrite: (cpu, value) => {
      if (!cpu.vmcr.cbpr) cpu.vmcr.bpr1 = Number(value & 7n);
      return 0;
    },
  }),
  icc({
    name: 'ICC_CTLR_EL1',
    op: [12, 12, 4],
    read: (_vm, _vcpu, _gic, cpu) => guestCtlr(cpu),
    write: (_vm, _vcpu, _gic, cpu, value) => {
      cpu.vmcr.cbpr = (value & BigInt(ICC_CTLR_EL1_CBPR)) !== 0n;
      cpu.vmcr.eoim = (value & BigInt(ICC_CTLR_EL1_EOIMODE)) !== 0n;
    },
    hostRead: (cpu) => ok(hostCtlr(cpu)),
    hostWrite: hostWriteCtlr,
  }),
  icc({
    name: 'ICC_SRE_EL1',
    op: [12, 12, 5],
    // System-register access is always on for a vGICv3 guest: SRE, DFB and DIB are RAO/WI.
    read: () => ICC_SRE_EL1_VALUE,
    write: () => {},
    hostRead: () => ok(ICC_SRE_EL1_VALUE),
    hostWrite: (_cpu, value) => ((value & ICC_SRE_EL1_SRE) === 0n ? -EINVAL : 0),
  }),
  icc({
    name: 'ICC_IGRPEN0_EL1',
    op: [12, 12, 6],
    read: (_vm, _vcpu, _gic, cpu) => flag(cpu.vmcr.eng0),
    write: (_vm, _vcpu, _gic, cpu, value) => {
      cpu.vmcr.eng0 = (value & 1n) === 1n;
    },
    hostRead: (cpu) => ok(flag(cpu.vmcr.eng0)),
    hostWrite: (cpu, value) => {
      cpu.vmcr.eng0 = (value & 1n) === 1n;
      return 0;
    },
  }),
  icc({
    name: 'ICC_IGRPEN1_EL1',
    op: [12, 12, 7],
    read: (_vm, _vcpu, _gic, cpu) => flag(cpu.vmcr.eng1),
    write: (_vm, _vcpu, _gic, cpu, value) => {
      cpu.vmcr.eng1 = (value & 1n) === 1n;
    },
    hostRead: (cpu) => ok(flag(cpu.vmcr.eng1)),
    hostWrite: (cpu, value) => {
      cpu.vmcr.eng1 = (value & 1n) === 1n;
      return 0;
    },
  }),
];

/** The row for `encoding`, by binary search, or undefined. Pure. */
export function iccRegisterAt(encoding: number): IccRegister | undefined {
  let lo = 0;
  let hi = ICC_REGISTERS.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const row = ICC_REGISTERS[mid]!;
    if (encoding < row.encoding) hi = mid - 1;
    else if (encoding > row.encoding) lo = mid + 1;
    else return row;
  }
  return undefined;
}

/** The row named `name` (`ICC_PMR_EL1`), or undefined. Pure. */
export function iccRegisterNamed(name: string): IccRegister | undefined {
  return ICC_REGISTERS.find((row) => row.name === name);
}

function undef(fx: EffectSink, vcpu: VcpuState, sysreg: number, write: boolean): void {
  fx.emit({ type: 'guest.undef', vcpu: vcpu.id, sysreg, write });
}

// ---- guest and userspace entry points -----------------------------------------------------------

/**
 * Guest MRS of the ICC register `sysreg`. Unknown registers and write-only ones are UNDEFINED
 * (`guest.undef`, value 0). The caller makes sure the VM has a vGICv3; without one this reads 0.
 */
export function iccRead(vm: VmState, vcpu: VcpuState, sysreg: number, fx: EffectSink): bigint {
  const row = iccRegisterAt(sysreg);
  const ctx = cpuifOf(vm, vcpu);
  if (!row?.read) {
    undef(fx, vcpu, sysreg, false);
    return 0n;
  }
  return ctx ? row.read(vm, vcpu, ctx.gic, ctx.cpu) : 0n;
}

/** Guest MSR of the ICC register `sysreg` with the 64-bit `value`; read-only registers UNDEF. */
export function iccWrite(vm: VmState, vcpu: VcpuState, sysreg: number, value: bigint, fx: EffectSink): void {
  const row = iccRegisterAt(sysreg);
  const ctx = cpuifOf(vm, vcpu);
  if (!row?.write) {
    undef(fx, vcpu, sysreg, true);
    return;
  }
  if (ctx) row.write(vm, vcpu, ctx.gic, ctx.cpu, BigInt.asUintN(64, value));
}

/** The sysreg field of a CPU_SYSREGS attr (KVM_DEV_ARM_VGIC_SYSREG_INSTR_MASK, bits 15:0). Pure. */
export function sysregOfAttr(attr: bigint): number {
  return Number(attr & 0xffffn);
}

/**
 * KVM_HAS_DEVICE_ATTR CPU_SYSREGS (vgic_v3_has_cpu_sysregs_attr): 0 for a register in KVM's
 * table, -ENXIO otherwise (the hidden ICH_*_EL2 rows included). Pure.
 */
export function cpuSysregsHas(sysreg: number): number {
  return iccRegisterAt(sysreg)?.hostRead ? 0 : -ENXIO;
}

/**
 * KVM_GET_DEVICE_ATTR CPU_SYSREGS (kvm_sys_reg_get_user over gic_v3_icc_reg_descs): -ENOENT for a
 * register not in the table, -EINVAL for an AP<g>R<n> beyond the priority bits. Pure.
 */
export function cpuSysregsGet(cpu: GicCpuState, sysreg: number): AttrResult {
  const row = iccRegisterAt(sysreg);
  return row?.hostRead ? row.hostRead(cpu) : { rc: -ENOENT };
}

/**
 * KVM_SET_DEVICE_ATTR CPU_SYSREGS (kvm_sys_reg_set_user): -ENOENT for an unknown register,
 * -EINVAL for a rejected ICC_CTLR_EL1 image, an AP<g>R<n> beyond the priority bits, or an
 * ICC_SRE_EL1 without SRE; 0 otherwise.
 */
export function cpuSysregsSet(cpu: GicCpuState, sysreg: number, value: bigint): number {
  const row = iccRegisterAt(sysreg);
  return row?.hostWrite ? row.hostWrite(cpu, BigInt.asUintN(64, value)) : -ENOENT;
}
