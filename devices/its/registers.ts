// vITS register frames, 2 × 64 KiB (Arm IHI 0069 §12.19 "ITS register descriptions"; Linux
// arch/arm64/kvm/vgic/vgic-its.c its_registers[], vgic_its_attr_regs_access; vits.md §2). One
// row per register, guest and userspace (KVM_DEV_ARM_VGIC_GRP_ITS_REGS) accessors.
//
// Modelled as KVM: physical LPIs only (no GICv4 VLPIS), PTA = 0 (collections target vCPU ids),
// no CommonLPIAff/HCC/CIL, no Stalled/Retry/ImDe, table ABI revision 0. Reported ID values:
//   GITS_IIDR   ProductID 0x4B ('K'), Revision = ABI revision (0), Implementer 0x43B.
//   GITS_TYPER  PLPIS 1, ITT_entry_size 7 (8 bytes), ID_bits 15 (16 bits), Devbits 15 (16 bits),
//               everything else 0 → 0x1EF71.
//   ID block    PIDR4 0x40 (64 KiB page), PIDR0 0x92, PIDR1 0xB4, PIDR2 0x3B (GICv3 | 0x0B),
//               CIDR0..3 0x0D 0xF0 0x05 0xB1; the rest 0 (vgic_mmio_read_its_idregs).
//
// GITS_MPIDR (0x0018) and GITS_TRANSLATER (0x10040) have no row in KVM: guest accesses are
// RAZ/WI like any hole and userspace gets -ENXIO. They have guest-only rows here so traces and
// the debugger can name them; TRANSLATER's write goes to the `translaterWrite` hook, a no-op by
// default, because KVM takes MSIs only through KVM_SIGNAL_MSI / irqfd (vits.md §3.6).
//
// KVM logs nothing on any of these paths, so no handler emits a diagnostic.

import { EBUSY, EFAULT, EINVAL, ENXIO } from '../../engine/errno.js';
import type { AttrResult, MmioHandler } from '../../engine/registry.js';
import type { VmState } from '../../engine/state.js';
import { sanitiseCacheFields } from '../baser-sanitise.js';
import {
  type EffectSink,
  hasQuirk,
  IMPLEMENTER_ARM,
  NO_EFFECTS,
  PRODUCT_ID_KVM,
} from '../gicv3/regs-common.js';
import {
  A32,
  A64,
  defineTable,
  extractBytes,
  findRow,
  fixedRegister,
  hostWriteIgnored,
  mmioRead,
  mmioWrite,
  type RegAccess,
  type RegisterRow,
  update64,
} from '../mmio-table.js';
import { ID_REGISTERS } from '../names.js';
import { freeCollectionList, freeDeviceList, setItsAbi } from './reset.js';
import {
  ABI_0_ESZ,
  GITS_BASER_ENTRY_SIZE_SHIFT,
  GITS_BASER_INDIRECT,
  GITS_BASER_INNER_CACHEABILITY_SHIFT,
  GITS_BASER_OUTER_CACHEABILITY_SHIFT,
  GITS_BASER_PAGE_SIZE_64K,
  GITS_BASER_PAGE_SIZE_MASK,
  GITS_BASER_RO_MASK,
  GITS_BASER_SHAREABILITY_SHIFT,
  GITS_BASER_TYPE_COLLECTION,
  GITS_BASER_TYPE_DEVICE,
  GITS_BASER_TYPE_SHIFT,
  GITS_BASER_VALID,
  GITS_CBASER_INNER_CACHEABILITY_SHIFT,
  GITS_CBASER_OUTER_CACHEABILITY_SHIFT,
  GITS_CBASER_SHAREABILITY_SHIFT,
  GITS_CBASER_VALID,
  GITS_CTLR_ENABLE,
  GITS_CTLR_QUIESCENT,
  GITS_IIDR_PRODUCTID_SHIFT,
  GITS_IIDR_REV_MASK,
  GITS_IIDR_REV_SHIFT,
  GITS_TYPER_DEVBITS_SHIFT,
  GITS_TYPER_IDBITS_SHIFT,
  GITS_TYPER_ITT_ENTRY_SIZE_SHIFT,
  GITS_TYPER_PLPIS,
  type ItsState,
  itsCmdBufferSize,
  itsCmdOffset,
  KVM_VGIC_V3_ITS_SIZE,
  NR_ITS_ABIS,
  VITS_TYPER_DEVBITS,
  VITS_TYPER_IDBITS,
} from './state.js';

// Register offsets (arm-gic-v3.h).
export const GITS_CTLR = 0x0000;
export const GITS_IIDR = 0x0004;
export const GITS_TYPER = 0x0008;
export const GITS_MPIDR = 0x0018;
export const GITS_CBASER = 0x0080;
export const GITS_CWRITER = 0x0088;
export const GITS_CREADR = 0x0090;
export const GITS_BASER = 0x0100;
export const GITS_IDREGS_BASE = 0xffd0;
export const GITS_PIDR4 = 0xffd0;
export const GITS_TRANSLATER = 0x1_0040;

// ---- context and hooks ----------------------------------------------------------------------

/**
 * Work the register model hands to later parts of the ITS model. Every hook runs inside the
 * register write, on the same draft, after the register state has been updated.
 */
export interface ItsRegHooks {
  /**
   * vgic_its_process_commands: called after a CWRITER write that was accepted and after every
   * GITS_CTLR write that was not dropped (both also from userspace). Must itself return at once
   * when the ITS is disabled or CREADR == CWRITER. The command-queue step supplies it.
   */
  processCommands(c: ItsRegContext): void;
  /**
   * A guest 32-bit write to GITS_TRANSLATER with the EventID in `value`. KVM ignores it (no
   * row in its_registers); a model of a DeviceID-carrying bus may turn it into an MSI.
   */
  translaterWrite(c: ItsRegContext, value: bigint): void;
}

/** Hooks that do nothing: what the registers do before the command queue exists. */
export const NO_ITS_HOOKS: ItsRegHooks = {
  processCommands() {},
  translaterWrite() {},
};

/** What every ITS register handler receives. */
export interface ItsRegContext {
  readonly vm: VmState;
  readonly its: ItsState;
  readonly fx: EffectSink;
  readonly hooks: ItsRegHooks;
}

export type ItsAccess = RegAccess<ItsRegContext>;

/** A handler context, or undefined when the VM has no ITS. */
export function itsRegContext(
  vm: VmState,
  fx: EffectSink = NO_EFFECTS,
  hooks: ItsRegHooks = NO_ITS_HOOKS,
): ItsRegContext | undefined {
  const its = vm.devices.its;
  return its ? { vm, its, fx, hooks } : undefined;
}

// ---- sanitisers (vgic-mmio-v3.c vgic_sanitise_its_*; vits.md §2.4) ---------------------------

/** vgic_sanitise_its_baser: the three fields, and Page_Size forced to 64 KiB. */
export function sanitiseItsBaser(reg: bigint): bigint {
  reg = sanitiseCacheFields(reg, {
    shareability: GITS_BASER_SHAREABILITY_SHIFT,
    inner: GITS_BASER_INNER_CACHEABILITY_SHIFT,
    outer: GITS_BASER_OUTER_CACHEABILITY_SHIFT,
  });
  return (reg & ~GITS_BASER_PAGE_SIZE_MASK) | GITS_BASER_PAGE_SIZE_64K;
}

/** vgic_sanitise_its_cbaser: the three fields, and PA bits 15:12 cleared (64 KiB aligned queue). */
export function sanitiseItsCbaser(reg: bigint): bigint {
  reg = sanitiseCacheFields(reg, {
    shareability: GITS_CBASER_SHAREABILITY_SHIFT,
    inner: GITS_CBASER_INNER_CACHEABILITY_SHIFT,
    outer: GITS_CBASER_OUTER_CACHEABILITY_SHIFT,
  });
  return reg & ~(0xfn << 12n);
}

// ---- GITS_CTLR --------------------------------------------------------------------------------

/** vgic_mmio_read_its_ctlr: Quiescent when the queue is drained, Enabled as stored. */
function readCtlr(a: ItsAccess): bigint {
  const its = a.ctx.its;
  let reg = 0n;
  if (its.creadr === its.cwriter) reg |= GITS_CTLR_QUIESCENT;
  if (its.enabled) reg |= GITS_CTLR_ENABLE;
  return reg;
}

/**
 * vgic_mmio_write_its_ctlr: enabling while BASER0, BASER1 or CBASER is not Valid drops the
 * whole write (UNPREDICTABLE in the spec; KVM stays disabled and processes nothing). Otherwise
 * Enabled := bit 0 and the queue is processed, so enabling runs the commands already queued.
 */
function writeCtlr(a: ItsAccess, value: bigint): void {
  const its = a.ctx.its;
  const enable = (value & GITS_CTLR_ENABLE) !== 0n;
  if (
    !its.enabled &&
    enable &&
    ((its.baserDevice & GITS_BASER_VALID) === 0n ||
      (its.baserCollection & GITS_BASER_VALID) === 0n ||
      (its.cbaser & GITS_CBASER_VALID) === 0n)
  )
    return;
  its.enabled = enable;
  a.ctx.hooks.processCommands(a.ctx);
}

// ---- GITS_IIDR --------------------------------------------------------------------------------

/** vgic_mmio_read_its_iidr: the ABI revision in Revision. */
function readIidr(a: ItsAccess): bigint {
  const rev = (a.ctx.its.abiRev << GITS_IIDR_REV_SHIFT) & GITS_IIDR_REV_MASK;
  return BigInt((rev | (PRODUCT_ID_KVM << GITS_IIDR_PRODUCTID_SHIFT) | IMPLEMENTER_ARM) >>> 0);
}

/**
 * vgic_mmio_uaccess_write_its_iidr: Revision ≥ NR_ITS_ABIS → -EINVAL; else vgic_its_set_abi,
 * which re-commits Entry_Size in both BASERs. Other bits ignored; allowed while enabled.
 */
function hostWriteIidr(a: ItsAccess, value: bigint): number {
  const rev = Number((value & BigInt(GITS_IIDR_REV_MASK)) >> BigInt(GITS_IIDR_REV_SHIFT));
  if (rev >= NR_ITS_ABIS) return -EINVAL;
  setItsAbi(a.ctx.its, rev);
  return 0;
}

// ---- GITS_TYPER -------------------------------------------------------------------------------

/** vgic_mmio_read_its_typer. */
export const GITS_TYPER_VALUE =
  GITS_TYPER_PLPIS |
  (BigInt(VITS_TYPER_DEVBITS - 1) << GITS_TYPER_DEVBITS_SHIFT) |
  (BigInt(VITS_TYPER_IDBITS - 1) << GITS_TYPER_IDBITS_SHIFT) |
  (BigInt(ABI_0_ESZ - 1) << GITS_TYPER_ITT_ENTRY_SIZE_SHIFT);

function readTyper(a: ItsAccess): bigint {
  return extractBytes(GITS_TYPER_VALUE, a.offset, a.size);
}

// ---- command queue registers ------------------------------------------------------------------

function readCbaser(a: ItsAccess): bigint {
  return extractBytes(a.ctx.its.cbaser, a.offset, a.size);
}

/**
 * vgic_mmio_write_its_cbaser: read-only while enabled; else update the half, sanitise, and
 * empty the queue (CREADR = 0, CWRITER = CREADR: CWRITER is UNKNOWN on reset architecturally).
 */
function writeCbaser(a: ItsAccess, value: bigint): void {
  const its = a.ctx.its;
  if (its.enabled) return;
  its.cbaser = sanitiseItsCbaser(update64(its.cbaser, a.offset, a.size, value));
  its.creadr = 0;
  its.cwriter = 0;
}

function readCwriter(a: ItsAccess): bigint {
  return extractBytes(BigInt(a.ctx.its.cwriter), a.offset, a.size);
}

/**
 * vgic_mmio_write_its_cwriter: offset = bits 19:5 of the updated register; an offset at or
 * beyond the queue size drops the write; else store it and process commands (even from the
 * upper half, which leaves the offset as it was). Not blocked by Enabled.
 */
function writeCwriter(a: ItsAccess, value: bigint): void {
  const its = a.ctx.its;
  const offset = itsCmdOffset(update64(BigInt(its.cwriter), a.offset, a.size, value));
  if (offset >= itsCmdBufferSize(its.cbaser)) return;
  its.cwriter = offset;
  a.ctx.hooks.processCommands(a.ctx);
}

/** vgic_mmio_read_its_creadr (Stalled always 0). Guest writes are ignored (its_mmio_write_wi). */
function readCreadr(a: ItsAccess): bigint {
  return extractBytes(BigInt(a.ctx.its.creadr), a.offset, a.size);
}

/**
 * vgic_mmio_uaccess_write_its_creadr: enabled → -EBUSY; offset (bits 19:5 of the whole 64-bit
 * value) at or beyond the queue size → -EINVAL; else CREADR := offset. No command processing.
 */
function hostWriteCreadr(a: ItsAccess, value: bigint): number {
  const its = a.ctx.its;
  if (its.enabled) return -EBUSY;
  const offset = itsCmdOffset(value);
  if (offset >= itsCmdBufferSize(its.cbaser)) return -EINVAL;
  its.creadr = offset;
  return 0;
}

// ---- GITS_BASER<n> ----------------------------------------------------------------------------

/** BASER_INDEX. */
function baserIndex(offset: number): number {
  return ((offset - GITS_BASER) >> 3) & 7;
}

/** vgic_mmio_read_its_baser: BASER0/1 as stored, BASER2..7 read as zero (Type 0). */
function readBaser(a: ItsAccess): bigint {
  const its = a.ctx.its;
  const n = baserIndex(a.offset);
  const reg = n === 0 ? its.baserDevice : n === 1 ? its.baserCollection : 0n;
  return extractBytes(reg, a.offset, a.size);
}

/**
 * vgic_mmio_write_its_baser: ignored while enabled and for BASER2..7. Else the half is
 * updated, Type and Entry_Size forced to the table's ABI values (RO), Indirect cleared for the
 * collection table (always flat), and the value sanitised (Page_Size 64 KiB).
 *
 * Dropping table state: mainline (2026) frees the device list (BASER0) or the collection list
 * (BASER1) when the stored value changes in any bit, so rewriting the same value (the Linux
 * driver on resume) keeps the tables. Quirk `baser-drop-on-invalid-only` is the ≤ 2025 code:
 * free when the new value has Valid = 0. The lists can only be non-empty while Valid = 1 (both
 * ways of filling them need it, and every way of clearing Valid frees them), so that is the same
 * as "Valid goes 1 → 0".
 */
function writeBaser(a: ItsAccess, value: bigint): void {
  const its = a.ctx.its;
  if (its.enabled) return;
  const n = baserIndex(a.offset);
  if (n > 1) return;
  const device = n === 0;
  const old = device ? its.baserDevice : its.baserCollection;
  const type = device ? GITS_BASER_TYPE_DEVICE : GITS_BASER_TYPE_COLLECTION;
  let reg = update64(old, a.offset, a.size, value) & ~GITS_BASER_RO_MASK;
  if (!device) reg &= ~GITS_BASER_INDIRECT;
  reg |= BigInt(ABI_0_ESZ - 1) << GITS_BASER_ENTRY_SIZE_SHIFT;
  reg |= type << GITS_BASER_TYPE_SHIFT;
  reg = sanitiseItsBaser(reg);
  if (device) its.baserDevice = reg;
  else its.baserCollection = reg;

  const drop = hasQuirk(a.ctx.vm, 'baser-drop-on-invalid-only')
    ? (reg & GITS_BASER_VALID) === 0n
    : reg !== old;
  if (!drop) return;
  if (device) freeDeviceList(a.ctx.vm, its);
  else freeCollectionList(its);
}

// ---- ID registers -----------------------------------------------------------------------------

/** vgic_mmio_read_its_idregs. */
const ID_VALUES: Readonly<Record<number, number>> = {
  65488: 0x40, // PIDR4: 64 KiB software-visible page
  65504: 0x92, // PIDR0: part number [7:0]
  65508: 0xb4, // PIDR1: part number [11:8]
  65512: 0x3b, // PIDR2: GIC_PIDR2_ARCH_GICv3 | 0x0b
  65520: 0x0d, // CIDR0..3
  65524: 0xf0,
  65528: 0x05,
  65532: 0xb1,
};

function readIdRegister(a: ItsAccess): bigint {
  return BigInt(ID_VALUES[a.offset & 0xffff] ?? 0);
}

// ---- GITS_TRANSLATER --------------------------------------------------------------------------

function writeTranslater(a: ItsAccess, value: bigint): void {
  a.ctx.hooks.translaterWrite(a.ctx, value);
}

// ---- the table --------------------------------------------------------------------------------

/** Rows KVM does not have: guest RAZ/WI through the row, userspace -ENXIO. */
const GUEST_ONLY = new Set(['GITS_MPIDR', 'GITS_TRANSLATER']);

const baserRows: RegisterRow<ItsRegContext>[] = Array.from({ length: 8 }, (_, n) =>
  fixedRegister<ItsRegContext>({
    name: `GITS_BASER${n}`,
    offset: GITS_BASER + n * 8,
    bytes: 8,
    access: A32 | A64,
    read: readBaser,
    write: writeBaser,
  }),
);

/** The ITS control frame (0x0000–0xFFFF) and translation frame (0x10000–0x1FFFF). */
export const GITS_REGISTERS = defineTable<ItsRegContext>({
  name: 'GITS',
  size: KVM_VGIC_V3_ITS_SIZE,
  irqLimit: () => 0,
  rows: [
    fixedRegister({ name: 'GITS_CTLR', offset: GITS_CTLR, access: A32, read: readCtlr, write: writeCtlr }),
    fixedRegister({
      name: 'GITS_IIDR',
      offset: GITS_IIDR,
      access: A32,
      read: readIidr,
      hostWrite: hostWriteIidr,
    }),
    fixedRegister({
      name: 'GITS_TYPER',
      offset: GITS_TYPER,
      bytes: 8,
      access: A32 | A64,
      read: readTyper,
      hostWrite: hostWriteIgnored,
    }),
    fixedRegister({ name: 'GITS_MPIDR', offset: GITS_MPIDR, access: A32 }), // a hole in KVM
    fixedRegister({
      name: 'GITS_CBASER',
      offset: GITS_CBASER,
      bytes: 8,
      access: A32 | A64,
      read: readCbaser,
      write: writeCbaser,
    }),
    fixedRegister({
      name: 'GITS_CWRITER',
      offset: GITS_CWRITER,
      bytes: 8,
      access: A32 | A64,
      read: readCwriter,
      write: writeCwriter,
    }),
    fixedRegister({
      name: 'GITS_CREADR',
      offset: GITS_CREADR,
      bytes: 8,
      access: A32 | A64,
      read: readCreadr,
      hostWrite: hostWriteCreadr,
    }),
    baserRows,
    ID_REGISTERS.map(([name, offset]) =>
      fixedRegister<ItsRegContext>({ name: `GITS_${name}`, offset, access: A32, read: readIdRegister }),
    ),
    fixedRegister({ name: 'GITS_TRANSLATER', offset: GITS_TRANSLATER, access: A32, write: writeTranslater }),
  ],
});

// ---- guest and userspace entry points ---------------------------------------------------------

/**
 * Guest MMIO to the ITS frames (region offset = frame offset), for the registry once the ITS
 * is wired; `hooks` supplies command processing. Holes and bad widths are RAZ/WI.
 */
export function makeItsMmioHandler(hooks: ItsRegHooks = NO_ITS_HOOKS): MmioHandler {
  return {
    read(access, ctx) {
      const c = itsRegContext(access.vm, ctx, hooks);
      return c ? mmioRead(GITS_REGISTERS, c, access.offset, access.size) : 0n;
    },
    write(access, value, ctx) {
      const c = itsRegContext(access.vm, ctx, hooks);
      if (c) mmioWrite(GITS_REGISTERS, c, access.offset, access.size, value);
    },
  };
}

type Resolved = { rc: number; access?: ItsAccess; row?: RegisterRow<ItsRegContext> };

/**
 * The front of vgic_its_attr_regs_access, in KVM's order: alignment (-EINVAL: 4 bytes below
 * GITS_TYPER and from GITS_PIDR4 on, 8 bytes elsewhere, checked on the full 64-bit attr); any
 * vCPU inside KVM_RUN (-EBUSY, lock_all_vcpus); base address never set (-ENXIO); no register
 * there (-ENXIO; vgic_find_mmio_region takes the offset as an unsigned int, so attr bits 63:32
 * are ignored by the lookup). The access width is the row's: 8 bytes for 64-bit registers.
 */
function resolveUaccess(vm: VmState, attr: bigint, fx: EffectSink, hooks: ItsRegHooks): Resolved {
  const align = attr < BigInt(GITS_TYPER) || attr >= BigInt(GITS_PIDR4) ? 3n : 7n;
  if ((attr & align) !== 0n) return { rc: -EINVAL };
  if (vm.vcpus.some((v) => v.inRun)) return { rc: -EBUSY };
  const ctx = itsRegContext(vm, fx, hooks);
  if (!ctx || ctx.its.base === null) return { rc: -ENXIO };
  const offset = Number(BigInt.asUintN(32, attr));
  const row = findRow(GITS_REGISTERS, offset);
  if (!row || GUEST_ONLY.has(row.name)) return { rc: -ENXIO };
  const size = row.access & A64 ? 8 : 4;
  return { rc: 0, row, access: { ctx, offset, size, intid: -1, count: 0, uaccess: true } };
}

/**
 * KVM_GET_DEVICE_ATTR(ITS_REGS): the register value (a u64 whatever the width), or an errno of
 * `resolveUaccess`. `badPointer`: the put_user after the access fails (-EFAULT, state unchanged
 * since reads have no side effects).
 */
export function itsRegsGet(
  vm: VmState,
  attr: bigint,
  opts: { fx?: EffectSink; hooks?: ItsRegHooks; badPointer?: boolean } = {},
): AttrResult {
  const r = resolveUaccess(vm, attr, opts.fx ?? NO_EFFECTS, opts.hooks ?? NO_ITS_HOOKS);
  if (!r.row || !r.access) return { rc: r.rc };
  const value = BigInt.asUintN(r.access.size * 8, (r.row.hostRead ?? r.row.read)(r.access));
  if (opts.badPointer) return { rc: -EFAULT };
  return { rc: 0, value };
}

/**
 * KVM_SET_DEVICE_ATTR(ITS_REGS): 0 or a negative errno. `value` null is an unreadable user
 * pointer (-EFAULT, before anything else: get_user precedes the access). Then `resolveUaccess`,
 * then the row's uaccess write or, without one, the guest write with rc 0 — so CTLR and CWRITER
 * writes can run commands. 32-bit registers see the low 32 bits.
 */
export function itsRegsSet(
  vm: VmState,
  attr: bigint,
  value: bigint | null,
  opts: { fx?: EffectSink; hooks?: ItsRegHooks } = {},
): number {
  if (value === null) return -EFAULT;
  const r = resolveUaccess(vm, attr, opts.fx ?? NO_EFFECTS, opts.hooks ?? NO_ITS_HOOKS);
  if (!r.row || !r.access) return r.rc;
  const v = BigInt.asUintN(r.access.size * 8, value);
  if (r.row.hostWrite) return r.row.hostWrite(r.access, v);
  r.row.write(r.access, v);
  return 0;
}
