// vGICv3 redistributor register frames, 2 × 64 KiB per vCPU: RD_base and SGI_base =
// RD_base + 0x10000 (Arm IHI 0069 §12.10–12.11; Linux arch/arm64/kvm/vgic/vgic-mmio-v3.c
// vgic_v3_rd_registers[], which since 5.x holds both frames in one table as this one does;
// vgic-v3.md §2.4, §2.5). One row per register, guest and userspace (REDIST_REGS) accessors.
//
// Modelled: physical LPIs when the VM has an ITS (GICR_TYPER.PLPIS, GICR_CTLR.EnableLPIs,
// PROPBASER/PENDBASER, INVLPIR/INVALLR), IIDR revision 3's GICR_CTLR.IR|CES, GICR_TYPER.Last
// (5.13+ rules, for guest and userspace alike). Not implemented, as in KVM: VLPIS, DirectLPI
// (SETLPIR/CLRLPIR are holes), power management (WAKER RAZ/WI), STATUSR. Reported ID values:
//   GICR_IIDR    0x4B00043B: ProductID 'K', Implementer Arm, no revision.
//   GICR_TYPER   Affinity = Aff2.Aff1.Aff0 (Aff3 reads 0), ProcessorNumber = vcpu_id,
//                PLPIS with an ITS, Last per vgic_mmio_vcpu_rdist_is_last.
//   GICR_PIDR2   0x3B (ArchRev 3); the other ID registers read 0.
//
// LPI work (the pending-table scan on EnableLPIs, invalidations) belongs to the ITS model and is
// reached through the `LpiHooks` of the handler context; without hooks it is a no-op.

import { ENXIO } from '../../engine/errno.js';
import type { MmioHandler } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import { sanitiseCacheFields } from '../baser-sanitise.js';
import {
  A8,
  A32,
  A64,
  defineTable,
  extractBytes,
  fixedRegister,
  hasRegister,
  hostWriteIgnored,
  mmioRead,
  mmioWrite,
  perIrqRegister,
  readAsZero,
  uaccessRead,
  uaccessWrite,
  update64,
} from '../mmio-table.js';
import {
  type EffectSink,
  type GicAccess,
  type GicRegContext,
  gicRegContext,
  hasQuirk,
  hostReadPending,
  hostWritePending,
  ID_REGISTERS,
  IMPLEMENTER_ARM,
  irqLimit,
  type LpiHooks,
  NO_EFFECTS,
  PIDR2_OFFSET,
  PIDR2_VALUE,
  PRODUCT_ID_KVM,
  readActive,
  readConfig,
  readEnable,
  readGroup,
  readPending,
  readPriority,
  writeClearActive,
  writeClearEnable,
  writeClearPending,
  writeGroup,
  writePriority,
  writeSetActive,
  writeSetEnable,
  writeSetPending,
} from './regs-common.js';
import { type GicCpuState, type GicState, KVM_VGIC_V3_REDIST_SIZE } from './state.js';

/** Offset of the SGI_base frame from RD_base (SZ_64K). */
export const SGI_BASE = 0x1_0000;

// GICR_CTLR fields.
export const GICR_CTLR_ENABLE_LPIS = 1 << 0;
export const GICR_CTLR_CES = 1 << 1;
export const GICR_CTLR_IR = 1 << 2;
// GICR_TYPER fields.
export const GICR_TYPER_PLPIS = 1n << 0n;
export const GICR_TYPER_LAST = 1n << 4n;
/** VGIC_MIN_LPI: INVLPIR ignores smaller INTIDs (6.13+). */
export const VGIC_MIN_LPI = 8192;
/** GICR_IIDR: ProductID 'K', Implementer Arm (vgic_mmio_read_v3r_iidr). */
export const GICR_IIDR_VALUE = ((PRODUCT_ID_KVM << 24) | IMPLEMENTER_ARM) >>> 0;

// PROPBASER/PENDBASER fields and RES0 masks (arm-gic-v3.h; vgic-mmio-v3.c).
function genmask(high: bigint, low: bigint): bigint {
  return ((1n << (high - low + 1n)) - 1n) << low;
}
export const PROPBASER_RES0_MASK = genmask(63n, 59n) | genmask(55n, 52n) | genmask(6n, 5n);
export const PENDBASER_RES0_MASK =
  (1n << 63n) | genmask(61n, 59n) | genmask(55n, 52n) | genmask(15n, 12n) | genmask(6n, 0n);
export const GICR_PENDBASER_PTZ = 1n << 62n;

/** GICR_PROPBASER/PENDBASER: Shareability [11:10], InnerCache [9:7], OuterCache [58:56]. */
const GICR_BASER_FIELDS = { shareability: 10n, inner: 7n, outer: 56n };

/** vgic_sanitise_propbaser. */
export function sanitisePropbaser(reg: bigint): bigint {
  return sanitiseCacheFields(reg, GICR_BASER_FIELDS) & ~PROPBASER_RES0_MASK;
}

/** vgic_sanitise_pendbaser (PTZ is kept: it is stored, only reads hide it). */
export function sanitisePendbaser(reg: bigint): bigint {
  return sanitiseCacheFields(reg, GICR_BASER_FIELDS) & ~PENDBASER_RES0_MASK;
}

/** The vCPU placed in slot `slot` of redistributor region `regionIndex`, if any. */
export function redistVcpuAt(vm: VmState, regionIndex: number, slot: number): VcpuState | undefined {
  for (const vcpu of vm.vcpus) {
    const cpu = vcpu.devices.gic;
    if (cpu && cpu.region === regionIndex && cpu.slot === slot) return vcpu;
  }
  return undefined;
}

/** A placed redistributor's RD_base (rdreg->base + rdreg_index * 128 KiB), or undefined. */
export function redistFrameBase(gic: GicState, cpu: GicCpuState): number | undefined {
  const region = gic.regions.find((r) => r.index === cpu.region);
  return region ? region.base + cpu.slot * KVM_VGIC_V3_REDIST_SIZE : undefined;
}

/**
 * vgic_mmio_vcpu_rdist_is_last (5.13+): not placed → false; a later slot of the region is used →
 * false; the last slot of a counted region → false when another region starts right after it
 * and holds a redistributor; otherwise true (so the last-placed vCPU of a legacy region is Last).
 */
export function isLastRedistributor(gic: GicState, cpu: GicCpuState): boolean {
  const region = gic.regions.find((r) => r.index === cpu.region);
  if (!region) return false;
  if (cpu.slot < region.freeIndex - 1) return false;
  if (region.count && cpu.slot === region.count - 1) {
    const end = region.base + region.count * KVM_VGIC_V3_REDIST_SIZE;
    for (const other of gic.regions) if (other.base === end && other.freeIndex > 0) return false;
  }
  return true;
}

/** The full 64-bit GICR_TYPER of `vcpu`'s redistributor (vgic_mmio_read_v3r_typer). */
export function gicrTyper(gic: GicState, vcpu: VcpuState): bigint {
  const cpu = vcpu.devices.gic;
  let value = (BigInt(vcpu.affinity & 0xff_ffff) << 32n) | BigInt((vcpu.id & 0xffff) << 8);
  if (gic.hasIts) value |= GICR_TYPER_PLPIS;
  if (cpu && isLastRedistributor(gic, cpu)) value |= GICR_TYPER_LAST;
  return value;
}

function cpuOf(a: GicAccess): GicCpuState | undefined {
  return a.ctx.vcpu.devices.gic;
}

function readCtlr(a: GicAccess): bigint {
  let value = cpuOf(a)?.enableLpis ? GICR_CTLR_ENABLE_LPIS : 0;
  if (a.ctx.gic.implementationRev >= 3) value |= GICR_CTLR_IR | GICR_CTLR_CES;
  return BigInt(value);
}

/**
 * GICR_CTLR write, guest and userspace (vgic_mmio_write_v3r_ctlr): ignored without an ITS;
 * otherwise only EnableLPIs moves. KVM's cmpxchg through RWP completes within the write, so RWP
 * is never seen; CES/IR are read-only.
 */
function writeCtlr(a: GicAccess, value: bigint): void {
  const cpu = cpuOf(a);
  if (!cpu || !a.ctx.gic.hasIts) return;
  const enable = (value & BigInt(GICR_CTLR_ENABLE_LPIS)) !== 0n;
  if (enable === cpu.enableLpis) return;
  cpu.enableLpis = enable;
  // The ITS model fills these in: vgic_enable_lpis scans the pending table at PENDBASER;
  // disabling flushes pending LPIs and invalidates the ITS translation caches.
  if (enable) a.ctx.lpi?.enableLpis(a.ctx.vm, a.ctx.vcpu);
  else a.ctx.lpi?.disableLpis(a.ctx.vm, a.ctx.vcpu);
}

function readTyper(a: GicAccess): bigint {
  return extractBytes(gicrTyper(a.ctx.gic, a.ctx.vcpu), a.offset, a.size);
}

/** VM-wide (one value for every redistributor, struct vgic_dist.propbaser). */
function readPropbaser(a: GicAccess): bigint {
  return extractBytes(a.ctx.gic.propbaser, a.offset, a.size);
}

/** Ignored while THIS vCPU has LPIs enabled ("storing a value with LPIs already enabled is undefined"). */
function writePropbaser(a: GicAccess, value: bigint): void {
  if (cpuOf(a)?.enableLpis ?? true) return;
  a.ctx.gic.propbaser = sanitisePropbaser(update64(a.ctx.gic.propbaser, a.offset, a.size, value));
}

/** PTZ is stored but reads as 0 (vgic_mmio_read_pendbase); quirk `pendbaser-ptz-readable` shows it. */
function readPendbaser(a: GicAccess): bigint {
  const cpu = cpuOf(a);
  if (!cpu) return 0n;
  const value = hasQuirk(a.ctx.vm, 'pendbaser-ptz-readable')
    ? cpu.pendbaser
    : cpu.pendbaser & ~GICR_PENDBASER_PTZ;
  return extractBytes(value, a.offset, a.size);
}

function writePendbaser(a: GicAccess, value: bigint): void {
  const cpu = cpuOf(a);
  if (!cpu || cpu.enableLpis) return;
  cpu.pendbaser = sanitisePendbaser(update64(cpu.pendbaser, a.offset, a.size, value));
}

/**
 * GICR_INVLPIR (vgic_mmio_write_invlpi): the upper word (vPE) and writes with LPIs disabled are
 * dropped; since 6.13 a non-LPI INTID is ignored (it used to reach LPI-only code).
 */
function writeInvlpir(a: GicAccess, value: bigint): void {
  if (a.offset & 4 || !cpuOf(a)?.enableLpis) return;
  const intid = Number(value & 0xffff_ffffn);
  if (intid < VGIC_MIN_LPI) return;
  a.ctx.lpi?.invalidateLpi(a.ctx.vm, a.ctx.vcpu, intid);
}

/** GICR_INVALLR (vgic_mmio_write_invall): same early returns, then INVALL for this vCPU. */
function writeInvallr(a: GicAccess, _value: bigint): void {
  if (a.offset & 4 || !cpuOf(a)?.enableLpis) return;
  a.ctx.lpi?.invalidateAll(a.ctx.vm, a.ctx.vcpu);
}

function readIdRegister(a: GicAccess): bigint {
  return a.offset === PIDR2_OFFSET ? BigInt(PIDR2_VALUE) : 0n;
}

/** The redistributor table; offsets from RD_base, SGI-frame registers at SGI_BASE + offset. */
export const GICR_REGISTERS = defineTable<GicRegContext>({
  name: 'GICR',
  size: KVM_VGIC_V3_REDIST_SIZE,
  irqLimit,
  rows: [
    fixedRegister({ name: 'GICR_CTLR', offset: 0x0000, access: A32, read: readCtlr, write: writeCtlr }),
    fixedRegister({ name: 'GICR_IIDR', offset: 0x0004, access: A32, read: () => BigInt(GICR_IIDR_VALUE) }),
    fixedRegister({
      name: 'GICR_TYPER',
      offset: 0x0008,
      bytes: 8,
      access: A32 | A64,
      read: readTyper,
      hostWrite: hostWriteIgnored,
    }),
    fixedRegister({ name: 'GICR_STATUSR', offset: 0x0010, access: A32 }),
    fixedRegister({ name: 'GICR_WAKER', offset: 0x0014, access: A32 }),
    fixedRegister({
      name: 'GICR_PROPBASER',
      offset: 0x0070,
      bytes: 8,
      access: A32 | A64,
      read: readPropbaser,
      write: writePropbaser,
    }),
    fixedRegister({
      name: 'GICR_PENDBASER',
      offset: 0x0078,
      bytes: 8,
      access: A32 | A64,
      read: readPendbaser,
      write: writePendbaser,
    }),
    fixedRegister({ name: 'GICR_INVLPIR', offset: 0x00a0, bytes: 8, access: A32 | A64, write: writeInvlpir }),
    fixedRegister({ name: 'GICR_INVALLR', offset: 0x00b0, bytes: 8, access: A32 | A64, write: writeInvallr }),
    // Invalidations complete within the write, so syncr_busy is never seen set.
    fixedRegister({ name: 'GICR_SYNCR', offset: 0x00c0, access: A32 }),
    ID_REGISTERS.map(([name, offset]) =>
      fixedRegister({ name: `GICR_${name}`, offset, access: A32, read: readIdRegister }),
    ),
    perIrqRegister({
      name: 'GICR_IGROUPR0',
      offset: SGI_BASE + 0x0080,
      bitsPerIrq: 1,
      irqs: 32,
      access: A32,
      read: readGroup,
      write: writeGroup,
    }),
    perIrqRegister({
      name: 'GICR_ISENABLER0',
      offset: SGI_BASE + 0x0100,
      bitsPerIrq: 1,
      irqs: 32,
      access: A32,
      read: readEnable,
      write: writeSetEnable,
    }),
    perIrqRegister({
      name: 'GICR_ICENABLER0',
      offset: SGI_BASE + 0x0180,
      bitsPerIrq: 1,
      irqs: 32,
      access: A32,
      read: readEnable,
      write: writeClearEnable,
    }),
    perIrqRegister({
      name: 'GICR_ISPENDR0',
      offset: SGI_BASE + 0x0200,
      bitsPerIrq: 1,
      irqs: 32,
      access: A32,
      read: readPending,
      write: writeSetPending,
      hostRead: hostReadPending,
      hostWrite: hostWritePending,
    }),
    perIrqRegister({
      name: 'GICR_ICPENDR0',
      offset: SGI_BASE + 0x0280,
      bitsPerIrq: 1,
      irqs: 32,
      access: A32,
      read: readPending,
      write: writeClearPending,
      hostRead: readAsZero,
      hostWrite: hostWriteIgnored,
    }),
    perIrqRegister({
      name: 'GICR_ISACTIVER0',
      offset: SGI_BASE + 0x0300,
      bitsPerIrq: 1,
      irqs: 32,
      access: A32,
      read: readActive,
      write: writeSetActive,
    }),
    perIrqRegister({
      name: 'GICR_ICACTIVER0',
      offset: SGI_BASE + 0x0380,
      bitsPerIrq: 1,
      irqs: 32,
      access: A32,
      read: readActive,
      write: writeClearActive,
    }),
    perIrqRegister({
      name: 'GICR_IPRIORITYR',
      offset: SGI_BASE + 0x0400,
      bitsPerIrq: 8,
      irqs: 32,
      access: A8 | A32,
      read: readPriority,
      write: writePriority,
    }),
    // SGI and PPI configuration is read-only in KVM (vgic_mmio_write_config skips INTID < 32).
    perIrqRegister({
      name: 'GICR_ICFGR0',
      offset: SGI_BASE + 0x0c00,
      bitsPerIrq: 2,
      irqs: 16,
      access: A32,
      read: readConfig,
    }),
    perIrqRegister({
      name: 'GICR_ICFGR1',
      offset: SGI_BASE + 0x0c04,
      bitsPerIrq: 2,
      irqs: 16,
      access: A32,
      read: readConfig,
    }),
    fixedRegister({ name: 'GICR_IGRPMODR0', offset: SGI_BASE + 0x0d00, access: A32 }),
    fixedRegister({ name: 'GICR_NSACR', offset: SGI_BASE + 0x0e00, access: A32 }),
  ],
});

/**
 * Guest MMIO to one vCPU's redistributor, for the registry. Mapping convention (as KVM registers
 * one io device per placed vCPU, vgic_register_redist_iodev): one 128 KiB MmioRegion per placed
 * vCPU at `redistFrameBase`, whose `index` is the vCPU's position in `vm.vcpus`; unplaced slots
 * are not mapped, so accesses there exit to the VMM.
 */
export function makeRedistMmioHandler(lpi?: LpiHooks): MmioHandler {
  return {
    read(access, ctx) {
      const vcpu = access.vm.vcpus[access.region.index];
      const c = vcpu && gicRegContext(access.vm, vcpu, ctx, lpi);
      return c ? mmioRead(GICR_REGISTERS, c, access.offset, access.size) : 0n;
    },
    write(access, value, ctx) {
      const vcpu = access.vm.vcpus[access.region.index];
      const c = vcpu && gicRegContext(access.vm, vcpu, ctx, lpi);
      if (c) mmioWrite(GICR_REGISTERS, c, access.offset, access.size, value);
    },
  };
}

/** The redistributor MMIO handler without LPI hooks (no ITS model plugged in). */
export const redistMmioHandler: MmioHandler = makeRedistMmioHandler();

/** KVM_GET_DEVICE_ATTR(REDIST_REGS) for `vcpu` (found by the attr's MPIDR): holes read 0, rc 0. */
export function redistUaccessRead(
  vm: VmState,
  vcpu: VcpuState,
  offset: number,
  fx: EffectSink,
  lpi?: LpiHooks,
): { rc: number; value: bigint } {
  const c = gicRegContext(vm, vcpu, fx, lpi);
  return c ? uaccessRead(GICR_REGISTERS, c, offset) : { rc: 0, value: 0n };
}

/** KVM_SET_DEVICE_ATTR(REDIST_REGS): 0 (every redistributor uaccess write returns 0). */
export function redistUaccessWrite(
  vm: VmState,
  vcpu: VcpuState,
  offset: number,
  value: bigint,
  fx: EffectSink,
  lpi?: LpiHooks,
): number {
  const c = gicRegContext(vm, vcpu, fx, lpi);
  return c ? uaccessWrite(GICR_REGISTERS, c, offset, value) : 0;
}

/** KVM_HAS_DEVICE_ATTR(REDIST_REGS): 0, or -ENXIO when misaligned or no register. */
export function redistHasRegister(vm: VmState, vcpu: VcpuState, offset: number): number {
  const c = gicRegContext(vm, vcpu, NO_EFFECTS);
  return c ? hasRegister(GICR_REGISTERS, c, offset) : -ENXIO;
}
