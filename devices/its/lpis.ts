// LPIs: creation, property-table and pending-table reads, and the queries the CPU interface
// needs (vits.md §1.1, §3.5 MAPTI step 7, §5.1, §5.2, §9; Linux arch/arm64/kvm/vgic/vgic-its.c
// vgic_add_lpi, update_lpi_config, update_affinity; vgic-v3.c vgic_v3_lpi_sync_pending_status;
// vgic.h LPI_PROP_*, GICR_PROPBASER_ADDRESS, GICR_PENDBASER_ADDRESS; vgic-mmio-v3.c
// max_lpis_propbaser).
//
// The LPIs live on `vm.devices.lpis` (VM-global, refcounted; state.ts). The property byte is
// cached in the LPI and re-read only where KVM re-reads it (creation, INV, INVALL, GICR_INVLPIR,
// GICR_INVALLR). Guest RAM is reached through engine/ram.ts; an access outside guest RAM fails
// as KVM's kvm_read_guest / kvm_write_guest do without a memslot (-EFAULT).
//
// Pure reducers over the VM draft; nothing here throws.

import { EFAULT } from '../../engine/errno.js';
import { inRam, loadRam, type PageOwnership, storeRam } from '../../engine/ram.js';
import { type VmState, vcpuById } from '../../engine/state.js';
import { GIC_LPI_OFFSET, type LpiIrq, type LpiState, VITS_TYPER_IDBITS } from './state.js';

/** GICR_PROPBASER_ADDRESS: bits 51:12. */
export const PROPBASER_ADDRESS_MASK = ((1n << 52n) - 1n) & ~0xfffn;
/** GICR_PENDBASER_ADDRESS: bits 51:16. */
export const PENDBASER_ADDRESS_MASK = ((1n << 52n) - 1n) & ~0xffffn;
/** LPI_PROP_PRIORITY: property byte bits 7:2. */
export const LPI_PROP_PRIORITY_MASK = 0xfc;
/** LPI_PROP_ENABLE_BIT: property byte bit 0. */
export const LPI_PROP_ENABLE = 0x01;

/** A property-table byte as KVM caches it (bit 1, RES1, is ignored). */
export interface LpiProperty {
  priority: number;
  enabled: boolean;
}

/** LPI_PROP_PRIORITY / LPI_PROP_ENABLE_BIT of a property byte. Pure. */
export function decodeLpiProperty(byte: number): LpiProperty {
  return { priority: byte & LPI_PROP_PRIORITY_MASK, enabled: (byte & LPI_PROP_ENABLE) !== 0 };
}

/** The VM-wide GICR_PROPBASER, or 0 without a vGICv3. */
export function vmPropbaser(vm: VmState): bigint {
  return vm.devices.gic?.propbaser ?? 0n;
}

/**
 * max_lpis_propbaser: 2^min(PROPBASER.IDbits + 1, INTERRUPT_ID_BITS_ITS). MAPTI/MAPI accept
 * 8192 ≤ INTID < this bound. Pure.
 */
export function maxLpisPropbaser(propbaser: bigint): number {
  const idBits = Number(propbaser & 0x1fn) + 1;
  return 2 ** Math.min(idBits, VITS_TYPER_IDBITS);
}

/** Guest address of an LPI's property byte: PROPBASER.PA + (INTID − 8192). Pure. */
export function lpiPropertyAddress(propbaser: bigint, intid: number): bigint {
  return (propbaser & PROPBASER_ADDRESS_MASK) + BigInt(intid - GIC_LPI_OFFSET);
}

/** Guest address of the pending-table byte holding `intid` (bit intid % 8). Pure. */
export function lpiPendingByteAddress(pendbaser: bigint, intid: number): bigint {
  return (pendbaser & PENDBASER_ADDRESS_MASK) + BigInt(Math.floor(intid / 8));
}

/** One guest byte, or undefined where kvm_read_guest fails (outside guest RAM). */
function readGuestByte(vm: VmState, addr: bigint): number | undefined {
  return inRam(addr, 1) ? Number(loadRam(vm.ram, addr, 1)) : undefined;
}

/**
 * update_lpi_config without a filter: re-reads the LPI's property byte into its cached
 * priority/enable. Returns 0, or -EFAULT when the byte is not in guest RAM (cache untouched).
 * A pending LPI that becomes enabled is then deliverable: delivery is derived, nothing to queue.
 */
export function refreshLpiConfig(vm: VmState, irq: LpiIrq): number {
  const byte = readGuestByte(vm, lpiPropertyAddress(vmPropbaser(vm), irq.intid));
  if (byte === undefined) return -EFAULT;
  const prop = decodeLpiProperty(byte);
  irq.priority = prop.priority;
  irq.enabled = prop.enabled;
  return 0;
}

/**
 * vgic_its_invall(vcpu) (also GICR_INVALLR): re-reads the property byte of every LPI of the VM
 * whose target is `vcpuId`, in INTID order. Read failures are ignored, as KVM ignores them.
 */
export function refreshLpiConfigForVcpu(vm: VmState, vcpuId: number): void {
  const lpis = vm.devices.lpis;
  if (!lpis) return;
  for (const irq of Object.values(lpis.irqs)) {
    if (irq.targetVcpu === vcpuId) refreshLpiConfig(vm, irq);
  }
}

/**
 * vgic_add_lpi(kvm, intid, vcpu): an existing LPI is shared as it is (one more reference; no
 * config or pending re-read, target untouched). Otherwise a new LPI targeting `targetVcpu` is
 * built: property byte read (failure: -EFAULT, nothing created); then, with a target, bit
 * INTID % 8 of the target's pending-table byte is read and, if set, consumed — pending_latch = 1
 * and the bit cleared in guest memory (vgic_v3_lpi_sync_pending_status). Returns 0 or -EFAULT.
 * `owned`: the step's PageOwnership for the RAM store.
 */
export function addLpi(vm: VmState, intid: number, targetVcpu: number | null, owned?: PageOwnership): number {
  vm.devices.lpis ??= { irqs: {} } satisfies LpiState;
  const lpis = vm.devices.lpis;
  const existing = lpis.irqs[intid];
  if (existing) {
    existing.refcount += 1;
    return 0;
  }
  const irq: LpiIrq = { intid, priority: 0, enabled: false, pendingLatch: false, targetVcpu, refcount: 1 };
  const rc = refreshLpiConfig(vm, irq);
  if (rc !== 0) return rc;
  const target = targetVcpu === null ? undefined : vcpuById(vm, targetVcpu);
  const cpu = target?.devices.gic;
  if (cpu) {
    const addr = lpiPendingByteAddress(cpu.pendbaser, intid);
    const byte = readGuestByte(vm, addr);
    if (byte === undefined) return -EFAULT;
    const bit = 1 << (intid % 8);
    irq.pendingLatch = (byte & bit) !== 0;
    if (irq.pendingLatch) storeRam(vm.ram, addr, 1, BigInt(byte & ~bit), owned);
  }
  lpis.irqs[intid] = irq;
  return 0;
}

/**
 * Which LPIs target which vCPU: vCPU id → ascending INTIDs. LPIs without a target are left out.
 * Pure.
 */
export function lpiTargets(vm: VmState): Record<number, number[]> {
  const out: Record<number, number[]> = {};
  for (const irq of Object.values(vm.devices.lpis?.irqs ?? {})) {
    if (irq.targetVcpu === null) continue;
    const list = out[irq.targetVcpu] ?? [];
    list.push(irq.intid);
    out[irq.targetVcpu] = list;
  }
  return out;
}

const NO_CANDIDATES: readonly LpiCandidate[] = Object.freeze([]);

/**
 * `lpiCandidates` of every vCPU in one pass over the LPIs (the afterEvent hook asks for all
 * vCPUs after each event): vCPU id → candidates; vCPUs with none are absent. Pure.
 */
export function lpiCandidatesByVcpu(vm: VmState): Record<number, LpiCandidate[]> {
  const out: Record<number, LpiCandidate[]> = {};
  const lpis = vm.devices.lpis;
  if (!lpis) return out;
  const irqs = lpis.irqs;
  for (const key in irqs) {
    const irq = irqs[key as unknown as number]!;
    if (irq.targetVcpu === null || !irq.pendingLatch || !irq.enabled) continue;
    if (!vcpuById(vm, irq.targetVcpu)?.devices.gic?.enableLpis) continue;
    const list = out[irq.targetVcpu] ?? [];
    list.push({ intid: irq.intid, priority: irq.priority, group: 1 });
    out[irq.targetVcpu] = list;
  }
  return out;
}

/** An LPI the CPU interface may signal to a vCPU. */
export interface LpiCandidate {
  intid: number;
  /** Cached property priority (byte & 0xFC). */
  priority: number;
  /** LPIs are always Group 1. */
  group: 1;
}

/**
 * The LPIs deliverable to vCPU `vcpuId` as far as the LPI state goes (vits.md §9): pending,
 * cached enable set, targeting this vCPU, and the vCPU's GICR_CTLR.EnableLPIs set. The
 * distributor's Group-1 enable, priority mask and running priority are the CPU interface's
 * business (shared with SPIs). Ascending INTID order. Pure.
 */
export function lpiCandidates(vm: VmState, vcpuId: number): readonly LpiCandidate[] {
  const lpis = vm.devices.lpis;
  if (!lpis) return NO_CANDIDATES;
  const cpu = vcpuById(vm, vcpuId)?.devices.gic;
  if (!cpu?.enableLpis) return NO_CANDIDATES;
  // Runs for every vCPU after every event: no allocation unless something is deliverable
  // (INTID keys make `irqs` a dictionary, where Object.values copies every entry).
  let out: LpiCandidate[] | undefined;
  const irqs = lpis.irqs;
  for (const key in irqs) {
    const irq = irqs[key as unknown as number]!;
    if (irq.targetVcpu === vcpuId && irq.pendingLatch && irq.enabled) {
      out ??= [];
      out.push({ intid: irq.intid, priority: irq.priority, group: 1 });
    }
  }
  return out ?? NO_CANDIDATES;
}
