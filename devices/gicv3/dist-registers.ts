// vGICv3 distributor register frame, 64 KiB (Arm IHI 0069 §12.9 "The GIC Distributor register
// descriptions"; Linux arch/arm64/kvm/vgic/vgic-mmio-v3.c vgic_v3_dist_registers[];
// vgic-v3.md §2.3). One row per register, guest and userspace (DIST_REGS) accessors.
//
// Modelled: affinity routing always on (ARE_NS = 1), a single security state (DS = 1), Group 1
// only (EnableGrp0 RAZ/WI), IIDR revisions 2 and 3, GICv4.1 nASSGIcap/nASSGIreq. Not
// implemented, as in KVM: GICD_SETSPI/CLRSPI (no MBIS), NSACR, SGIR, {C,S}PENDSGIR, IGRPMODR,
// ITARGETSR (ARE), extended SPIs, Aff3 in IROUTER. Reported ID values:
//   GICD_TYPER   ITLinesNumber = (nr_spis + 32) / 32 - 1, IDbits = 9 (10 bits) or, with an
//                ITS, 15 (16 bits) plus LPIS; everything else 0.
//   GICD_IIDR    ProductID 0x4B ('K'), Variant 0, Revision = implementation_rev, Implementer 0x43B.
//   GICD_TYPER2  nASSGIcap only.
//   GICD_PIDR2   0x3B (ArchRev 3); the other ID registers read 0.

import { EBUSY, EINVAL, ENXIO } from '../../engine/errno.js';
import type { MmioHandler } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
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
  readAsOnes,
  readAsZero,
  sharedPerIrq,
  uaccessRead,
  uaccessWrite,
} from '../mmio-table.js';
import {
  type EffectSink,
  type GicAccess,
  type GicRegContext,
  gicRegContext,
  hostReadPending,
  hostWritePending,
  ID_REGISTERS,
  IMPLEMENTER_ARM,
  irqAt,
  irqLimit,
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
  writeConfig,
  writeGroup,
  writePriority,
  writeSetActive,
  writeSetEnable,
  writeSetPending,
} from './regs-common.js';
import { KVM_VGIC_V3_DIST_SIZE } from './state.js';
import { configureVsgis } from './vsgi.js';

// GICD_CTLR fields (arm-gic-v3.h).
export const GICD_CTLR_ENABLE_SS_G1 = 1 << 1;
export const GICD_CTLR_ARE_NS = 1 << 4;
export const GICD_CTLR_DS = 1 << 6;
export const GICD_CTLR_nASSGIreq = 1 << 8;
// GICD_TYPER fields.
export const GICD_TYPER_LPIS = 1 << 17;
export const GICD_TYPER_IDBITS_SHIFT = 19;
/** INTERRUPT_ID_BITS_SPIS / INTERRUPT_ID_BITS_ITS. */
export const INTERRUPT_ID_BITS_SPIS = 10;
export const INTERRUPT_ID_BITS_ITS = 16;
// GICD_IIDR fields.
export const GICD_IIDR_REVISION_SHIFT = 12;
export const GICD_IIDR_REVISION_MASK = 0xf << GICD_IIDR_REVISION_SHIFT;
/** KVM_VGIC_IMP_REV_2 / _3: the revisions userspace may select. */
export const KVM_VGIC_IMP_REV_2 = 2;
export const KVM_VGIC_IMP_REV_3 = 3;
// GICD_TYPER2 fields.
export const GICD_TYPER2_nASSGIcap = 1 << 8;
/** GICD_STATUSR, RAO/WI in KVM (the API doc's "userspace sets bits" is not what the code does). */
export const GICD_STATUSR_VALUE = 0xffff_ffffn;

// GICD_CTLR, TYPER, IIDR, TYPER2: Linux serves all four from one 16-byte row
// (vgic_mmio_read_v3_misc); here each has its own row with the same behaviour.

function readCtlr(a: GicAccess): bigint {
  const gic = a.ctx.gic;
  let value = GICD_CTLR_ARE_NS | GICD_CTLR_DS;
  if (gic.enabled) value |= GICD_CTLR_ENABLE_SS_G1;
  if (gic.nassgireq) value |= GICD_CTLR_nASSGIreq;
  return BigInt(value);
}

/**
 * Guest GICD_CTLR write (vgic_mmio_write_v3_misc): EnableGrp1A is stored; nASSGIreq only
 * without a vSGI-capable VM is forced to 0, and while the distributor stays enabled it is
 * read-only; a change of nASSGIreq reconfigures every vCPU's SGIs at once
 * (vgic_v4_configure_vsgis). The vCPU kicks and GICv4 reload requests KVM issues carry no state.
 */
function writeCtlr(a: GicAccess, value: bigint): void {
  const gic = a.ctx.gic;
  const wasEnabled = gic.enabled;
  const wasHwSgi = gic.nassgireq;
  gic.enabled = (value & BigInt(GICD_CTLR_ENABLE_SS_G1)) !== 0n;
  let nassgireq = (value & BigInt(GICD_CTLR_nASSGIreq)) !== 0n;
  if (!gic.nassgicap) nassgireq = false;
  if (wasEnabled && gic.enabled) nassgireq = wasHwSgi;
  gic.nassgireq = nassgireq;
  if (wasHwSgi !== gic.nassgireq) configureVsgis(a.ctx.vm, gic);
}

/**
 * Userspace GICD_CTLR write (vgic_mmio_uaccess_write_v3_misc): a plain store of EnableGrp1A and
 * nASSGIreq (masked without vSGI support), no latching rule and no side effect: the SGIs move to
 * the vPE at first run.
 */
function hostWriteCtlr(a: GicAccess, value: bigint): number {
  const gic = a.ctx.gic;
  gic.enabled = (value & BigInt(GICD_CTLR_ENABLE_SS_G1)) !== 0n;
  gic.nassgireq = gic.nassgicap && (value & BigInt(GICD_CTLR_nASSGIreq)) !== 0n;
  return 0;
}

function readTyper(a: GicAccess): bigint {
  const gic = a.ctx.gic;
  let value = ((gic.nrSpis + 32) >> 5) - 1;
  if (gic.hasIts) value |= ((INTERRUPT_ID_BITS_ITS - 1) << GICD_TYPER_IDBITS_SHIFT) | GICD_TYPER_LPIS;
  else value |= (INTERRUPT_ID_BITS_SPIS - 1) << GICD_TYPER_IDBITS_SHIFT;
  return BigInt(value >>> 0);
}

/** GICD_IIDR value for a revision. */
export function gicdIidr(rev: number): number {
  return ((PRODUCT_ID_KVM << 24) | (rev << GICD_IIDR_REVISION_SHIFT) | IMPLEMENTER_ARM) >>> 0;
}

function readIidr(a: GicAccess): bigint {
  return BigInt(gicdIidr(a.ctx.gic.implementationRev));
}

/**
 * Userspace GICD_IIDR write (vgic_mmio_uaccess_write_v3_misc, 6.1+): anything but Revision must
 * match; Revision must be 2 or 3; no init-state check.
 */
function hostWriteIidr(a: GicAccess, value: bigint): number {
  const current = gicdIidr(a.ctx.gic.implementationRev);
  const v = Number(value);
  if (((current ^ v) & ~GICD_IIDR_REVISION_MASK) !== 0) return -EINVAL;
  const rev = (v & GICD_IIDR_REVISION_MASK) >>> GICD_IIDR_REVISION_SHIFT;
  if (rev !== KVM_VGIC_IMP_REV_2 && rev !== KVM_VGIC_IMP_REV_3) return -EINVAL;
  a.ctx.gic.implementationRev = rev;
  return 0;
}

function readTyper2(a: GicAccess): bigint {
  return a.ctx.gic.nassgicap ? BigInt(GICD_TYPER2_nASSGIcap) : 0n;
}

/**
 * Userspace GICD_TYPER2 write, 6.17+ rules in their order (c652887a9288): unchanged → 0;
 * after INIT → -EBUSY; other bits differ → -EINVAL; nASSGIcap = 1 on a host without vSGIs →
 * -EINVAL; else store nASSGIcap.
 */
function hostWriteTyper2(a: GicAccess, value: bigint): number {
  const current = Number(readTyper2(a));
  const v = Number(value);
  if (v === current) return 0;
  if (a.ctx.gic.initialized) return -EBUSY;
  if (((current ^ v) & ~GICD_TYPER2_nASSGIcap) !== 0) return -EINVAL;
  if (v !== 0 && a.ctx.vm.host !== 'gicv4.1') return -EINVAL;
  a.ctx.gic.nassgicap = (v & GICD_TYPER2_nASSGIcap) !== 0;
  return 0;
}

// GICD_IROUTER<n> (vgic_mmio_read_irouter / vgic_mmio_write_irouter): only Aff2.Aff1.Aff0 are
// kept; the upper word (Aff3) is RAZ/WI and IRM (bit 31) is dropped, since KVM has no 1-of-N.
// The target vCPU is derived from `mpidr` (derive.ts spiTarget).
function readIrouter(a: GicAccess): bigint {
  if (a.offset & 4) return 0n;
  const irq = irqAt(a.ctx, a.intid);
  return irq ? extractBytes(BigInt(irq.mpidr), a.offset, a.size) : 0n;
}

function writeIrouter(a: GicAccess, value: bigint): void {
  if (a.offset & 4) return;
  const irq = irqAt(a.ctx, a.intid);
  if (irq) irq.mpidr = Number(value & 0xff_ffffn);
}

function readIdRegister(a: GicAccess): bigint {
  return a.offset === PIDR2_OFFSET ? BigInt(PIDR2_VALUE) : 0n;
}

/** The distributor table; offsets from the distributor base. */
export const GICD_REGISTERS = defineTable<GicRegContext>({
  name: 'GICD',
  size: KVM_VGIC_V3_DIST_SIZE,
  irqLimit,
  rows: [
    fixedRegister({
      name: 'GICD_CTLR',
      offset: 0x0000,
      access: A32,
      read: readCtlr,
      write: writeCtlr,
      hostWrite: hostWriteCtlr,
    }),
    fixedRegister({ name: 'GICD_TYPER', offset: 0x0004, access: A32, read: readTyper }),
    fixedRegister({
      name: 'GICD_IIDR',
      offset: 0x0008,
      access: A32,
      read: readIidr,
      hostWrite: hostWriteIidr,
    }),
    fixedRegister({
      name: 'GICD_TYPER2',
      offset: 0x000c,
      access: A32,
      read: readTyper2,
      hostWrite: hostWriteTyper2,
    }),
    fixedRegister({ name: 'GICD_STATUSR', offset: 0x0010, access: A32, read: readAsOnes }),
    sharedPerIrq({
      name: 'GICD_IGROUPR',
      offset: 0x0080,
      bitsPerIrq: 1,
      access: A32,
      read: readGroup,
      write: writeGroup,
    }),
    sharedPerIrq({
      name: 'GICD_ISENABLER',
      offset: 0x0100,
      bitsPerIrq: 1,
      access: A32,
      read: readEnable,
      write: writeSetEnable,
    }),
    sharedPerIrq({
      name: 'GICD_ICENABLER',
      offset: 0x0180,
      bitsPerIrq: 1,
      access: A32,
      read: readEnable,
      write: writeClearEnable,
    }),
    sharedPerIrq({
      name: 'GICD_ISPENDR',
      offset: 0x0200,
      bitsPerIrq: 1,
      access: A32,
      read: readPending,
      write: writeSetPending,
      hostRead: hostReadPending,
      hostWrite: hostWritePending,
    }),
    sharedPerIrq({
      name: 'GICD_ICPENDR',
      offset: 0x0280,
      bitsPerIrq: 1,
      access: A32,
      read: readPending,
      write: writeClearPending,
      hostRead: readAsZero,
      hostWrite: hostWriteIgnored,
    }),
    sharedPerIrq({
      name: 'GICD_ISACTIVER',
      offset: 0x0300,
      bitsPerIrq: 1,
      access: A32,
      read: readActive,
      write: writeSetActive,
    }),
    sharedPerIrq({
      name: 'GICD_ICACTIVER',
      offset: 0x0380,
      bitsPerIrq: 1,
      access: A32,
      read: readActive,
      write: writeClearActive,
    }),
    sharedPerIrq({
      name: 'GICD_IPRIORITYR',
      offset: 0x0400,
      bitsPerIrq: 8,
      access: A8 | A32,
      read: readPriority,
      write: writePriority,
    }),
    sharedPerIrq({ name: 'GICD_ITARGETSR', offset: 0x0800, bitsPerIrq: 8, access: A8 | A32 }),
    sharedPerIrq({
      name: 'GICD_ICFGR',
      offset: 0x0c00,
      bitsPerIrq: 2,
      access: A32,
      read: readConfig,
      write: writeConfig,
    }),
    sharedPerIrq({ name: 'GICD_IGRPMODR', offset: 0x0d00, bitsPerIrq: 1, access: A32 }),
    sharedPerIrq({
      name: 'GICD_IROUTER',
      offset: 0x6000,
      bitsPerIrq: 64,
      access: A32 | A64,
      read: readIrouter,
      write: writeIrouter,
    }),
    ID_REGISTERS.map(([name, offset]) =>
      fixedRegister({ name: `GICD_${name}`, offset, access: A32, read: readIdRegister }),
    ),
  ],
});

/** Guest MMIO to the distributor frame (region offset = distributor offset); for the registry. */
export const distMmioHandler: MmioHandler = {
  read(access, ctx) {
    const c = gicRegContext(access.vm, access.vcpu, ctx);
    return c ? mmioRead(GICD_REGISTERS, c, access.offset, access.size) : 0n;
  },
  write(access, value, ctx) {
    const c = gicRegContext(access.vm, access.vcpu, ctx);
    if (c) mmioWrite(GICD_REGISTERS, c, access.offset, access.size, value);
  },
};

/**
 * KVM_GET_DEVICE_ATTR(DIST_REGS) after the device API's checks (vCPU lookup, locks, init):
 * `vcpu` is vCPU 0 as KVM uses. A hole reads 0 with rc 0.
 */
export function distUaccessRead(
  vm: VmState,
  vcpu: VcpuState,
  offset: number,
  fx: EffectSink,
): { rc: number; value: bigint } {
  const c = gicRegContext(vm, vcpu, fx);
  return c ? uaccessRead(GICD_REGISTERS, c, offset) : { rc: 0, value: 0n };
}

/** KVM_SET_DEVICE_ATTR(DIST_REGS): 0 or the register's errno; a hole is ignored with rc 0. */
export function distUaccessWrite(
  vm: VmState,
  vcpu: VcpuState,
  offset: number,
  value: bigint,
  fx: EffectSink,
): number {
  const c = gicRegContext(vm, vcpu, fx);
  return c ? uaccessWrite(GICD_REGISTERS, c, offset, value) : 0;
}

/** KVM_HAS_DEVICE_ATTR(DIST_REGS): -ENXIO when misaligned, no register, or an SPI beyond nr_spis. */
export function distHasRegister(vm: VmState, vcpu: VcpuState, offset: number): number {
  const c = gicRegContext(vm, vcpu, NO_EFFECTS);
  return c ? hasRegister(GICD_REGISTERS, c, offset) : -ENXIO;
}
