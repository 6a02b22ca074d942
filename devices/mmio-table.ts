// Table-driven MMIO register dispatch, after Linux arch/arm64/kvm/vgic/vgic-mmio.h
// (struct vgic_register_region and the REGISTER_DESC_* macros) and vgic-mmio.c
// (vgic_find_mmio_region, check_region, dispatch_mmio_read/write, vgic_uaccess);
// vgic-v3.md §2.1. Generic over the device context `C`, so the ITS frames can reuse it.
//
// One row per register: offset, length, bits per IRQ (0 for a fixed register), allowed access
// widths, guest read/write and the optional userspace (`uaccess`) pair. The dispatcher alone
// validates an access (check_region):
//   - the width is 1, 4 or 8 bytes and the row allows it (A8 / A32 / A64);
//   - the offset is naturally aligned to the width;
//   - for per-IRQ rows, the first INTID the access covers is below `irqLimit` (nr_spis + 32).
// An access that fails, or hits no row, is a hole: guest reads return 0 and writes are dropped
// (KVM injects no abort); uaccess gets return 0 with rc 0 and sets are ignored with rc 0; only
// has_attr tells the VMM (-ENXIO). Handlers never re-check any of this and never throw.
//
// 64-bit registers take 32-bit halves where their row allows A32: handlers see the offset and
// width and use `extractBytes` / `update64` (Linux extract_bytes / update_64bit_reg).

import { ENXIO } from '../engine/errno.js';

/** Access-width flags (VGIC_ACCESS_8bit, _32bit, _64bit). */
export const A8 = 1;
export const A32 = 2;
export const A64 = 4;

/** One validated access as a handler sees it. */
export interface RegAccess<C> {
  readonly ctx: C;
  /** From the frame base (not from the row). */
  readonly offset: number;
  /** 1, 4 or 8; always 4 for uaccess. */
  readonly size: number;
  /** Per-IRQ rows: the first INTID covered (VGIC_ADDR_TO_INTID); -1 for fixed rows. */
  readonly intid: number;
  /** Per-IRQ rows: how many INTIDs the access covers (at least 1); 0 for fixed rows. */
  readonly count: number;
  /** Came through KVM_{GET,SET}_DEVICE_ATTR rather than a guest load/store. */
  readonly uaccess: boolean;
}

/** Reads a register; `value` is truncated to the access width by the dispatcher. */
export type ReadFn<C> = (a: RegAccess<C>) => bigint;
/** Mutates the draft behind `a.ctx`; `value` is already truncated to the access width. */
export type WriteFn<C> = (a: RegAccess<C>, value: bigint) => void;
/** A userspace write; returns 0 or a negative errno (vgic_register_region.uaccess_write). */
export type HostWriteFn<C> = (a: RegAccess<C>, value: bigint) => number;

export interface RegisterRow<C> {
  readonly name: string;
  readonly offset: number;
  /** Bytes the row spans. */
  readonly len: number;
  /** 0 for a fixed register. */
  readonly bitsPerIrq: number;
  /** A8 | A32 | A64 combination. */
  readonly access: number;
  readonly read: ReadFn<C>;
  readonly write: WriteFn<C>;
  /** Userspace read; the guest `read` when absent. */
  readonly hostRead?: ReadFn<C>;
  /** Userspace write; the guest `write` (rc 0) when absent. */
  readonly hostWrite?: HostWriteFn<C>;
}

export interface RegisterTable<C> {
  readonly name: string;
  /** Frame size in bytes; offsets at or beyond it hit no row. */
  readonly size: number;
  /** Sorted by offset, non-overlapping (checked by `defineTable`). */
  readonly rows: readonly RegisterRow<C>[];
  /** nr_spis + 32: a per-IRQ access whose first INTID reaches it is a hole. */
  readonly irqLimit: (ctx: C) => number;
}

/** vgic_mmio_read_raz. */
export function readAsZero(): bigint {
  return 0n;
}

/** vgic_mmio_read_rao: all ones at the access width (the dispatcher truncates). */
export function readAsOnes(): bigint {
  return 0xffff_ffff_ffff_ffffn;
}

/** vgic_mmio_write_wi. */
export function writeIgnored(): void {}

/** vgic_mmio_uaccess_write_wi: ignored, rc 0. */
export function hostWriteIgnored(): number {
  return 0;
}

interface CommonOptions<C> {
  name: string;
  offset: number;
  access: number;
  read?: ReadFn<C>;
  write?: WriteFn<C>;
  hostRead?: ReadFn<C>;
  hostWrite?: HostWriteFn<C>;
}

function row<C>(o: CommonOptions<C>, len: number, bitsPerIrq: number): RegisterRow<C> {
  const r: RegisterRow<C> = {
    name: o.name,
    offset: o.offset,
    len,
    bitsPerIrq,
    access: o.access,
    read: o.read ?? readAsZero,
    write: o.write ?? writeIgnored,
    ...(o.hostRead ? { hostRead: o.hostRead } : {}),
    ...(o.hostWrite ? { hostWrite: o.hostWrite } : {}),
  };
  return r;
}

/** A register at a fixed offset (REGISTER_DESC_WITH_LENGTH[_UACCESS]); RAZ/WI by default. */
export function fixedRegister<C>(o: CommonOptions<C> & { bytes?: number }): RegisterRow<C> {
  return row(o, o.bytes ?? 4, 0);
}

/**
 * A per-IRQ register (REGISTER_DESC_WITH_BITS_PER_IRQ): `irqs` INTIDs (1024 by default) at
 * `bitsPerIrq` each, starting at INTID 0 at `offset`.
 */
export function perIrqRegister<C>(
  o: CommonOptions<C> & { bitsPerIrq: number; irqs?: number },
): RegisterRow<C> {
  return row(o, (o.bitsPerIrq * (o.irqs ?? 1024)) / 8, o.bitsPerIrq);
}

/**
 * A distributor per-IRQ register with the private slice split off
 * (REGISTER_DESC_WITH_BITS_PER_IRQ_SHARED): INTIDs 0–31 are RAZ/WI for guest and userspace,
 * because with ARE=1 private interrupts live in the redistributors; INTIDs 32–1023 use the
 * handlers. Two rows.
 */
export function sharedPerIrq<C>(
  o: CommonOptions<C> & { bitsPerIrq: number },
): [RegisterRow<C>, RegisterRow<C>] {
  const privateLen = (o.bitsPerIrq * 32) / 8;
  return [
    row({ name: o.name, offset: o.offset, access: o.access }, privateLen, o.bitsPerIrq),
    row({ ...o, offset: o.offset + privateLen }, (o.bitsPerIrq * (1024 - 32)) / 8, o.bitsPerIrq),
  ];
}

/**
 * Builds a table and runs the startup self-check (Linux enforces sorted tables at boot since
 * 0f3046c8f68c, after an unsorted sysreg table broke the binary search): rows sorted, not
 * overlapping, inside the frame, and 64-bit-capable rows 8-byte aligned. A failure is an
 * emulator bug and throws at module load.
 */
export function defineTable<C>(spec: {
  name: string;
  size: number;
  irqLimit: (ctx: C) => number;
  rows: readonly (RegisterRow<C> | readonly RegisterRow<C>[])[];
}): RegisterTable<C> {
  const rows = spec.rows.flat() as RegisterRow<C>[];
  let end = 0;
  for (const r of rows) {
    const where = `${spec.name}: row ${r.name} at 0x${r.offset.toString(16)}`;
    if (r.offset < end) throw new Error(`${where} is unsorted or overlaps the previous row`);
    if (r.len <= 0 || r.offset + r.len > spec.size) throw new Error(`${where} has a bad length`);
    if (r.access === 0 || (r.access & ~(A8 | A32 | A64)) !== 0)
      throw new Error(`${where} has bad access flags`);
    if (r.access & A64 && (r.offset % 8 !== 0 || r.len % 8 !== 0))
      throw new Error(`${where} is not 64-bit aligned`);
    end = r.offset + r.len;
  }
  return { name: spec.name, size: spec.size, rows, irqLimit: spec.irqLimit };
}

/** vgic_find_mmio_region: the row containing `offset`, by binary search. */
export function findRow<C>(table: RegisterTable<C>, offset: number): RegisterRow<C> | undefined {
  let lo = 0;
  let hi = table.rows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = table.rows[mid]!;
    if (offset < r.offset) hi = mid - 1;
    else if (offset >= r.offset + r.len) lo = mid + 1;
    else return r;
  }
  return undefined;
}

/** VGIC_ADDR_TO_INTID: the INTID at `offset` for a per-IRQ register of `bits` per IRQ. */
export function offsetToIntid(offset: number, bits: number): number {
  return Math.floor(((offset & (bits * 128 - 1)) * 8) / bits);
}

function widthFlag(size: number): number {
  return size === 1 ? A8 : size === 4 ? A32 : size === 8 ? A64 : 0;
}

/** check_region + building the handler's view; undefined for a hole. */
function resolve<C>(
  table: RegisterTable<C>,
  ctx: C,
  offset: number,
  size: number,
  uaccess: boolean,
): { row: RegisterRow<C>; access: RegAccess<C> } | undefined {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= table.size) return undefined;
  const row = findRow(table, offset);
  if (!row || (row.access & widthFlag(size)) === 0 || offset % size !== 0) return undefined;
  let intid = -1;
  let count = 0;
  if (row.bitsPerIrq) {
    intid = offsetToIntid(offset, row.bitsPerIrq);
    if (intid >= table.irqLimit(ctx)) return undefined;
    count = Math.max(1, (size * 8) / row.bitsPerIrq);
  }
  return { row, access: { ctx, offset, size, intid, count, uaccess } };
}

function truncate(value: bigint, size: number): bigint {
  return BigInt.asUintN(size * 8, value);
}

/** A guest load (dispatch_mmio_read): the register value, or 0 for a hole. */
export function mmioRead<C>(table: RegisterTable<C>, ctx: C, offset: number, size: number): bigint {
  const hit = resolve(table, ctx, offset, size, false);
  return hit ? truncate(hit.row.read(hit.access), size) : 0n;
}

/** A guest store (dispatch_mmio_write): mutates the draft behind `ctx`, or nothing for a hole. */
export function mmioWrite<C>(
  table: RegisterTable<C>,
  ctx: C,
  offset: number,
  size: number,
  value: bigint,
): void {
  const hit = resolve(table, ctx, offset, size, false);
  if (hit) hit.row.write(hit.access, truncate(value, size));
}

/** A userspace get (vgic_uaccess, always 32-bit): a hole reads 0 with rc 0. */
export function uaccessRead<C>(
  table: RegisterTable<C>,
  ctx: C,
  offset: number,
): { rc: number; value: bigint } {
  const hit = resolve(table, ctx, offset, 4, true);
  if (!hit) return { rc: 0, value: 0n };
  return { rc: 0, value: truncate((hit.row.hostRead ?? hit.row.read)(hit.access), 4) };
}

/** A userspace set (vgic_uaccess, 32-bit): rc of the row's uaccess write; a hole is ignored, rc 0. */
export function uaccessWrite<C>(table: RegisterTable<C>, ctx: C, offset: number, value: bigint): number {
  const hit = resolve(table, ctx, offset, 4, true);
  if (!hit) return 0;
  const v = truncate(value, 4);
  if (hit.row.hostWrite) return hit.row.hostWrite(hit.access, v);
  hit.row.write(hit.access, v);
  return 0;
}

/** has_attr (vgic_v3_has_attr_regs): 0, or -ENXIO when misaligned or no 32-bit region is there. */
export function hasRegister<C>(table: RegisterTable<C>, ctx: C, offset: number): number {
  if (offset % 4 !== 0) return -ENXIO;
  return resolve(table, ctx, offset, 4, true) ? 0 : -ENXIO;
}

/** extract_bytes: the `size` bytes of a 64-bit `value` at byte `offset & 7`. */
export function extractBytes(value: bigint, offset: number, size: number): bigint {
  return BigInt.asUintN(size * 8, value >> BigInt((offset & 7) * 8));
}

/** update_64bit_reg: `value` written into the 32-bit half at `offset & 4`, or the whole register. */
export function update64(reg: bigint, offset: number, size: number, value: bigint): bigint {
  const lower = BigInt((offset & 4) * 8);
  const mask = ((1n << BigInt(size * 8)) - 1n) << lower;
  return BigInt.asUintN(64, (reg & ~mask) | ((BigInt.asUintN(size * 8, value) << lower) & mask));
}
