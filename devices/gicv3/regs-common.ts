// Per-IRQ register handlers shared by the vGICv3 distributor and the redistributor SGI frame
// (Arm IHI 0069 §12.9 GICD_I*R / §12.11 GICR_I*R0; Linux arch/arm64/kvm/vgic/vgic-mmio.c and
// vgic-mmio-v3.c; vgic-v3.md §2.3, §2.5, §2.6, §5), plus the context every vGICv3 register
// handler receives.
//
// These only change IRQ state: which interrupt the CPU interface presents next is derived from
// that state by the CPU-interface model, so no handler computes delivery. KVM logs nothing on
// any of these paths (no pr_warn for guest misuse), so no handler emits a diagnostic either.
//
// Not modelled: HW-mapped interrupts other than GICv4.1 vSGIs (the arch timer's PPIs). KVM's
// uaccess variants of ISENABLER/ICENABLER/I{S,C}ACTIVER differ from the guest ones only for
// those, so one handler serves both here.

import type { Effect } from '../../engine/events.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import type { RegAccess } from '../mmio-table.js';
import { isPending } from './derive.js';
import { type GicState, type IrqState, VGIC_NR_PRIVATE_IRQS, VGIC_NR_SGIS, VGIC_PRI_MASK } from './state.js';

/** Where handlers send effects; a StepContext is one. */
export interface EffectSink {
  emit(effect: Effect): void;
}

/**
 * LPI work the ITS model performs on behalf of a redistributor (filled in by the ITS issue).
 * Absent: nothing to do, as for a VM without an ITS.
 */
export interface LpiHooks {
  /** GICR_CTLR.EnableLPIs 0→1: vgic_enable_lpis → its_sync_lpi_pending_table (scan PENDBASER). */
  enableLpis(vm: VmState, vcpu: VcpuState): void;
  /** EnableLPIs 1→0: vgic_flush_pending_lpis + vgic_its_invalidate_all_caches. */
  disableLpis(vm: VmState, vcpu: VcpuState): void;
  /** GICR_INVLPIR with an LPI INTID (>= 8192): re-read that LPI's configuration. */
  invalidateLpi(vm: VmState, vcpu: VcpuState, intid: number): void;
  /** GICR_INVALLR: vgic_its_invall for the vCPU. */
  invalidateAll(vm: VmState, vcpu: VcpuState): void;
}

/** A sink for lookups that cannot cause effects (has_attr). */
export const NO_EFFECTS: EffectSink = { emit() {} };

/** What every vGICv3 register handler receives. */
export interface GicRegContext {
  readonly vm: VmState;
  readonly gic: GicState;
  /**
   * Whose private interrupts and redistributor the access addresses: the frame's owner for
   * GICR_*; the accessing vCPU (guest) or vCPU 0 (DIST_REGS) for GICD_*.
   */
  readonly vcpu: VcpuState;
  readonly fx: EffectSink;
  readonly lpi?: LpiHooks;
}

export type GicAccess = RegAccess<GicRegContext>;

/** A handler context, or undefined when the VM has no vGICv3. */
export function gicRegContext(
  vm: VmState,
  vcpu: VcpuState,
  fx: EffectSink,
  lpi?: LpiHooks,
): GicRegContext | undefined {
  const gic = vm.devices.gic;
  if (!gic) return undefined;
  return lpi ? { vm, gic, vcpu, fx, lpi } : { vm, gic, vcpu, fx };
}

/** nr_irqs of check_region: INTIDs below this exist. */
export function irqLimit(c: GicRegContext): number {
  return c.gic.nrSpis + VGIC_NR_PRIVATE_IRQS;
}

/** A kernel quirk of decisions.md is on for this VM. */
export function hasQuirk(vm: VmState, name: string): boolean {
  return vm.quirks.includes(name);
}

/** vgic_get_vcpu_irq: private INTIDs are the addressed vCPU's, SPIs the VM's. */
export function irqAt(c: GicRegContext, intid: number): IrqState | undefined {
  if (intid < VGIC_NR_PRIVATE_IRQS) return c.vcpu.devices.gic?.irqs[intid];
  return c.gic.spis[intid - VGIC_NR_PRIVATE_IRQS];
}

/** `irq->hw && vgic_irq_is_sgi(intid)`: a GICv4.1 vSGI whose state lives in the vPE. */
export function isHwSgi(irq: IrqState, intid: number): boolean {
  return irq.hw && intid < VGIC_NR_SGIS;
}

function hwPending(c: GicRegContext, intid: number): boolean {
  return c.vcpu.devices.gic?.vsgiPending[intid] ?? false;
}

function setHwPending(c: GicRegContext, intid: number, pending: boolean): void {
  const store = c.vcpu.devices.gic?.vsgiPending;
  if (store && intid < store.length) store[intid] = pending;
}

/** One bit per IRQ, set where `pick` holds. */
function readBits(a: GicAccess, pick: (irq: IrqState, intid: number) => boolean): bigint {
  let value = 0n;
  for (let i = 0; i < a.count; i++) {
    const irq = irqAt(a.ctx, a.intid + i);
    if (irq && pick(irq, a.intid + i)) value |= 1n << BigInt(i);
  }
  return value;
}

/** Calls `fn` for each IRQ the access covers with its bit of `value`. */
function eachBit(
  a: GicAccess,
  value: bigint,
  fn: (irq: IrqState, intid: number, bit: boolean) => void,
): void {
  for (let i = 0; i < a.count; i++) {
    const irq = irqAt(a.ctx, a.intid + i);
    if (irq) fn(irq, a.intid + i, ((value >> BigInt(i)) & 1n) === 1n);
  }
}

/** Calls `fn` for each IRQ whose bit of `value` is set (write-1-to-set/clear registers). */
function eachSetBit(a: GicAccess, value: bigint, fn: (irq: IrqState, intid: number) => void): void {
  eachBit(a, value, (irq, intid, bit) => {
    if (bit) fn(irq, intid);
  });
}

// I{GROUP}R: vgic_mmio_read_group / vgic_mmio_write_group. Groups became configurable with
// IIDR revision 2 (d53c2c29ae0d); revision 1 (dev-tree only) keeps them RAO/WI.
export function readGroup(a: GicAccess): bigint {
  if (a.ctx.gic.implementationRev < 2) return (1n << BigInt(a.count)) - 1n;
  return readBits(a, (irq) => irq.group === 1);
}

export function writeGroup(a: GicAccess, value: bigint): void {
  if (a.ctx.gic.implementationRev < 2) return;
  // A vSGI's group is pushed to the vPE (vgic_update_vsgi); the model keeps it on the IRQ only.
  eachBit(a, value, (irq, _intid, bit) => {
    irq.group = bit ? 1 : 0;
  });
}

// I{S,C}ENABLER: vgic_mmio_read_enable / write_senable / write_cenable (and the uaccess
// variants, which skip the physical enable_irq/disable_irq of HW interrupts).
export function readEnable(a: GicAccess): bigint {
  return readBits(a, (irq) => irq.enabled);
}

export function writeSetEnable(a: GicAccess, value: bigint): void {
  eachSetBit(a, value, (irq) => {
    irq.enabled = true;
  });
}

export function writeClearEnable(a: GicAccess, value: bigint): void {
  eachSetBit(a, value, (irq) => {
    irq.enabled = false;
  });
}

// I{S,C}PENDR, guest side: vgic_mmio_read_pending (__read_pending, is_user = false) reports
// is_pending, or the vPE's pending bit for a vSGI; writes go to the vPE for vSGIs
// (irq_set_irqchip_state) and to the latch otherwise (__set_pending / __clear_pending).
export function readPending(a: GicAccess): bigint {
  return readBits(a, (irq, intid) => (isHwSgi(irq, intid) ? hwPending(a.ctx, intid) : isPending(irq)));
}

export function writeSetPending(a: GicAccess, value: bigint): void {
  eachSetBit(a, value, (irq, intid) => {
    if (isHwSgi(irq, intid)) setHwPending(a.ctx, intid, true);
    else irq.pendingLatch = true;
  });
}

export function writeClearPending(a: GicAccess, value: bigint): void {
  eachSetBit(a, value, (irq, intid) => {
    if (isHwSgi(irq, intid)) setHwPending(a.ctx, intid, false);
    else irq.pendingLatch = false;
  });
}

/**
 * Userspace ISPENDR read (vgic_v3_uaccess_read_pending → __read_pending, is_user = true): the
 * latch alone, since userspace saves line levels separately (LEVEL_INFO); the vPE's pending bit
 * for a vSGI (the fix for pending vSGIs lost on save, vgic-v3.md §5).
 * Quirks: `vsgi-pending-latch-only` returns the latch for vSGIs too (the 5.7 RFC bug);
 * `uaccess-ispendr-guest-view` returns latch OR line level (the RFC of seed 004).
 */
export function hostReadPending(a: GicAccess): bigint {
  const latchOnly = hasQuirk(a.ctx.vm, 'vsgi-pending-latch-only');
  const guestView = hasQuirk(a.ctx.vm, 'uaccess-ispendr-guest-view');
  return readBits(a, (irq, intid) => {
    if (isHwSgi(irq, intid) && !latchOnly) return hwPending(a.ctx, intid);
    return guestView ? isPending(irq) : irq.pendingLatch;
  });
}

/**
 * Userspace ISPENDR write (vgic_v3_uaccess_write_pending): the latch is assigned, 1s set and
 * 0s clear, whatever the config ("pending_latch is set irrespective of irq type", so restore
 * order against ICFGR does not matter); a vSGI's state goes to the vPE and its latch stays 0.
 * Quirk `uaccess-ispendr-guest-view`: write-1-to-set, 0s leave the latch alone.
 */
export function hostWritePending(a: GicAccess, value: bigint): number {
  const w1s = hasQuirk(a.ctx.vm, 'uaccess-ispendr-guest-view');
  eachBit(a, value, (irq, intid, bit) => {
    if (w1s && !bit) return;
    if (isHwSgi(irq, intid)) {
      setHwPending(a.ctx, intid, bit);
      irq.pendingLatch = false;
    } else {
      irq.pendingLatch = bit;
    }
  });
  return 0;
}

// I{S,C}ACTIVER: vgic_mmio_read_active / vgic_mmio_change_active. A vSGI has no active state
// (forced to 0). KVM halts the guest around the change; that has no state of its own.
export function readActive(a: GicAccess): bigint {
  return readBits(a, (irq) => irq.active);
}

export function writeSetActive(a: GicAccess, value: bigint): void {
  eachSetBit(a, value, (irq, intid) => {
    irq.active = !isHwSgi(irq, intid);
  });
}

export function writeClearActive(a: GicAccess, value: bigint): void {
  eachSetBit(a, value, (irq) => {
    irq.active = false;
  });
}

// IPRIORITYR: one byte per IRQ, byte or word access; KVM implements 5 priority bits
// (VGIC_PRI_BITS), so the low 3 bits are dropped on write (vgic_mmio_write_priority).
export function readPriority(a: GicAccess): bigint {
  let value = 0n;
  for (let i = 0; i < a.count; i++) {
    const irq = irqAt(a.ctx, a.intid + i);
    if (irq) value |= BigInt(irq.priority) << BigInt(8 * i);
  }
  return value;
}

export function writePriority(a: GicAccess, value: bigint): void {
  for (let i = 0; i < a.count; i++) {
    const irq = irqAt(a.ctx, a.intid + i);
    if (irq) irq.priority = Number((value >> BigInt(8 * i)) & 0xffn) & VGIC_PRI_MASK;
  }
}

// ICFGR: two bits per IRQ, 0b10 edge, 0b00 level (vgic_mmio_read_config / write_config). SGIs
// are always edge and KVM also makes PPIs read-only (the arch timer relies on level PPIs), so
// only SPIs take writes; only bit 2n+1 matters.
export function readConfig(a: GicAccess): bigint {
  let value = 0n;
  for (let i = 0; i < a.count; i++) {
    const irq = irqAt(a.ctx, a.intid + i);
    if (irq && !irq.level) value |= 2n << BigInt(2 * i);
  }
  return value;
}

export function writeConfig(a: GicAccess, value: bigint): void {
  for (let i = 0; i < a.count; i++) {
    const intid = a.intid + i;
    if (intid < VGIC_NR_PRIVATE_IRQS) continue;
    const irq = irqAt(a.ctx, intid);
    if (irq) irq.level = ((value >> BigInt(2 * i + 1)) & 1n) === 0n;
  }
}

/** GICD_PIDR2 / GICR_PIDR2 offset; its ArchRev field says GICv3. */
export const PIDR2_OFFSET = 0xffe8;
/** PIDR2.ArchRev = 3 (GICv3), as vgic_mmio_read_v3_idregs reports; every other ID register reads 0. */
export const PIDR2_VALUE = 0x3b;

export { ID_REGISTERS } from '../names.js';

/** PRODUCT_ID_KVM ('K'), IIDR [31:24]. */
export const PRODUCT_ID_KVM = 0x4b;
/** IMPLEMENTER_ARM, IIDR [11:0]. */
export const IMPLEMENTER_ARM = 0x43b;
