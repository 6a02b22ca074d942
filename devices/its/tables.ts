// ITS table ABI revision 0 (Documentation/virt/kvm/devices/arm-vgic-its.rst; masks of
// arch/arm64/kvm/vgic/vgic.h KVM_ITS_*; ../shared/reference/vits.md §4) and the table-slot
// check `vgic_its_check_id` (vits.md §3.4), with the GITS_BASER field layout of Arm IHI 0069
// §12.19.1 as include/linux/irqchip/arm-gic-v3.h names it.
//
// Entries are 8-byte little-endian u64s (ABI_0_ESZ). Encoders return the u64 value KVM
// computes before `cpu_to_le64`; `le64Bytes` (fields.ts) gives the bytes in guest RAM.
// Guest RAM is reached only through functions passed in. Pure; nothing here throws: where
// KVM fails, the functions return undefined or a negative errno.

import { EFAULT } from '../../engine/errno.js';
import { type BitField, extract, field, insert } from './fields.js';

// ---------------------------------------------------------------------------------------
// Constants (vgic.h, vgic-its.c, arm-gic-v3.h)

/** The only table ABI revision KVM implements (NR_ITS_ABIS = 1). */
export const ITS_ABI_REVISION = 0;
/** DTE, ITE and CTE size in ABI revision 0 (ABI_0_ESZ). */
export const ABI_0_ESZ = 8;
/** Level-1 device-table entry size (GITS_LVL1_ENTRY_SIZE). */
export const GITS_LVL1_ENTRY_SIZE = 8;
/** The only table page size KVM supports; also the size of one level-2 table. */
export const SZ_64K = 0x10000;
/** DeviceID bits (VITS_TYPER_DEVBITS) and EventID bits (VITS_TYPER_IDBITS). */
export const VITS_TYPER_DEVBITS = 16;
export const VITS_TYPER_IDBITS = 16;
/** "next" caps: 2^14 − 1 in a DTE, 2^16 − 1 in an ITE. */
export const VITS_DTE_MAX_DEVID_OFFSET = (1 << 14) - 1;
export const VITS_ITE_MAX_EVENTID_OFFSET = (1 << 16) - 1;
/** Target of an unmapped collection (COLLECTION_NOT_MAPPED). */
export const COLLECTION_NOT_MAPPED = 0xffffffff;
/** First LPI INTID (GIC_LPI_OFFSET / VGIC_MIN_LPI). */
export const GIC_LPI_OFFSET = 8192;

// GITS_BASER.Type values.
export const GITS_BASER_TYPE_NONE = 0;
export const GITS_BASER_TYPE_DEVICE = 1;
export const GITS_BASER_TYPE_COLLECTION = 4;

// ---------------------------------------------------------------------------------------
// Field layouts, each declared once

/** GITS_BASER<n> (Arm IHI 0069 §12.19.1; PA in the 64 KiB-page format). */
export const GITS_BASER_FIELDS = {
  VALID: field('Valid', 63, 1),
  INDIRECT: field('Indirect', 62, 1),
  INNER_CACHE: field('InnerCache', 59, 3),
  TYPE: field('Type', 56, 3),
  OUTER_CACHE: field('OuterCache', 53, 3),
  ENTRY_SIZE: field('Entry_Size', 48, 5), // bytes − 1
  PA_47_16: field('Physical_Address[47:16]', 16, 32),
  PA_51_48: field('Physical_Address[51:48]', 12, 4),
  SHAREABILITY: field('Shareability', 10, 2),
  PAGE_SIZE: field('Page_Size', 8, 2), // 0 = 4K, 1 = 16K, 2 = 64K
  SIZE: field('Size', 0, 8), // pages − 1
} as const satisfies Record<string, BitField>;

/** DTE: | 63 V | 62:49 next | 48:5 ITT_addr[51:8] | 4:0 Size | (KVM_ITS_DTE_*). */
export const DTE_FIELDS = {
  VALID: field('V', 63, 1),
  NEXT: field('next', 49, 14),
  ITT_ADDR: field('ITT_addr', 5, 44), // address >> 8
  SIZE: field('Size', 0, 5), // EventID bits − 1
} as const satisfies Record<string, BitField>;

/** ITE: | 63:48 next | 47:16 pINTID | 15:0 ICID | (KVM_ITS_ITE_*). */
export const ITE_FIELDS = {
  NEXT: field('next', 48, 16),
  PINTID: field('pINTID', 16, 32),
  ICID: field('ICID', 0, 16),
} as const satisfies Record<string, BitField>;

/**
 * CTE: | 63 V | 51:16 RDBase | 15:0 ICID | (KVM_ITS_CTE_*). KVM writes the 32-bit target at
 * bit 16 and reads it back as `(u32)(val >> 16)`, i.e. bits 47:16; bits 62:48 are ignored.
 */
export const CTE_FIELDS = {
  VALID: field('V', 63, 1),
  RDBASE: field('RDBase', 16, 32),
  ICID: field('ICID', 0, 16),
} as const satisfies Record<string, BitField>;

/** Level-1 device-table entry: | 63 V | 51:16 L2 table PA | (KVM_ITS_L1E_*). */
export const L1E_FIELDS = {
  VALID: field('V', 63, 1),
  ADDR: field('L2_addr', 16, 36), // address >> 16
} as const satisfies Record<string, BitField>;

// ---------------------------------------------------------------------------------------
// GITS_BASER decoding

export interface DecodedBaser {
  valid: boolean;
  indirect: boolean;
  type: number;
  /** Entry size in bytes (GITS_BASER_ENTRY_SIZE = field + 1). */
  entrySize: number;
  /** Page size in bytes the Page_Size field names (KVM forces 64 KiB and assumes it). */
  pageSize: number;
  /** Table base address (GITS_BASER_ADDR_48_to_52). */
  base: bigint;
  /** Number of pages (GITS_BASER_NR_PAGES = Size + 1). */
  nrPages: number;
  /** Bytes of the (level-1) table as KVM sizes it: nrPages × 64 KiB. */
  tableBytes: number;
}

const PAGE_SIZES = [0x1000, 0x4000, SZ_64K, SZ_64K] as const;

/** GITS_BASER_ADDR_48_to_52: bits 47:16 plus bits 15:12 as PA[51:48]. Pure. */
export function baserAddress(baser: bigint): bigint {
  return (
    (extract(baser, GITS_BASER_FIELDS.PA_47_16) << 16n) | (extract(baser, GITS_BASER_FIELDS.PA_51_48) << 48n)
  );
}

/** The fields of a GITS_BASER value. Pure. */
export function decodeBaser(baser: bigint): DecodedBaser {
  const nrPages = Number(extract(baser, GITS_BASER_FIELDS.SIZE)) + 1;
  return {
    valid: extract(baser, GITS_BASER_FIELDS.VALID) === 1n,
    indirect: extract(baser, GITS_BASER_FIELDS.INDIRECT) === 1n,
    type: Number(extract(baser, GITS_BASER_FIELDS.TYPE)),
    entrySize: Number(extract(baser, GITS_BASER_FIELDS.ENTRY_SIZE)) + 1,
    pageSize: PAGE_SIZES[Number(extract(baser, GITS_BASER_FIELDS.PAGE_SIZE))] ?? SZ_64K,
    base: baserAddress(baser),
    nrPages,
    tableBytes: nrPages * SZ_64K,
  };
}

// ---------------------------------------------------------------------------------------
// Entries

export interface Dte {
  valid: boolean;
  /** DeviceID distance to the next saved DTE; 0 = last. */
  next: number;
  /** ITT address (256-byte aligned; bits 51:8 kept). */
  ittAddr: bigint;
  /** Size field = EventID bits − 1. */
  size: number;
}

export interface Ite {
  /** EventID distance to the next saved ITE; 0 = last. */
  next: number;
  /** LPI INTID; 0 marks an invalid (empty) entry. */
  pintid: number;
  icid: number;
}

export interface Cte {
  valid: boolean;
  /** Target vCPU id (PE number), COLLECTION_NOT_MAPPED for an unmapped collection. */
  target: number;
  icid: number;
}

export interface L1Entry {
  valid: boolean;
  /** Level-2 table address (64 KiB aligned; bits 51:16 kept). */
  l2Addr: bigint;
}

/** DTE value as `vgic_its_save_dte` builds it; fields are masked to their widths. Pure. */
export function encodeDte(d: Dte): bigint {
  let v = insert(0n, DTE_FIELDS.VALID, d.valid ? 1n : 0n);
  v = insert(v, DTE_FIELDS.NEXT, BigInt(d.next));
  v = insert(v, DTE_FIELDS.ITT_ADDR, d.ittAddr >> 8n);
  return insert(v, DTE_FIELDS.SIZE, BigInt(d.size));
}

/** DTE fields as `vgic_its_restore_dte` reads them (EventID bits = size + 1). Pure. */
export function decodeDte(v: bigint): Dte {
  return {
    valid: extract(v, DTE_FIELDS.VALID) === 1n,
    next: Number(extract(v, DTE_FIELDS.NEXT)),
    ittAddr: extract(v, DTE_FIELDS.ITT_ADDR) << 8n,
    size: Number(extract(v, DTE_FIELDS.SIZE)),
  };
}

/** ITE value as `vgic_its_save_ite` builds it. Pure. */
export function encodeIte(e: Ite): bigint {
  let v = insert(0n, ITE_FIELDS.NEXT, BigInt(e.next));
  v = insert(v, ITE_FIELDS.PINTID, BigInt(e.pintid));
  return insert(v, ITE_FIELDS.ICID, BigInt(e.icid));
}

/** ITE fields as `vgic_its_restore_ite` reads them. Pure. */
export function decodeIte(v: bigint): Ite {
  return {
    next: Number(extract(v, ITE_FIELDS.NEXT)),
    pintid: Number(extract(v, ITE_FIELDS.PINTID)),
    icid: Number(extract(v, ITE_FIELDS.ICID)),
  };
}

/** CTE value as `vgic_its_save_cte` builds it (unmapped: 0x8000FFFFFFFF0000 | ICID). Pure. */
export function encodeCte(c: Cte): bigint {
  let v = insert(0n, CTE_FIELDS.VALID, c.valid ? 1n : 0n);
  v = insert(v, CTE_FIELDS.RDBASE, BigInt(c.target));
  return insert(v, CTE_FIELDS.ICID, BigInt(c.icid));
}

/** CTE fields as `vgic_its_restore_cte` reads them. Pure. */
export function decodeCte(v: bigint): Cte {
  return {
    valid: extract(v, CTE_FIELDS.VALID) === 1n,
    target: Number(extract(v, CTE_FIELDS.RDBASE)),
    icid: Number(extract(v, CTE_FIELDS.ICID)),
  };
}

/** Level-1 entry value (KVM never writes these; the guest does). Pure. */
export function encodeL1Entry(e: L1Entry): bigint {
  const v = insert(0n, L1E_FIELDS.VALID, e.valid ? 1n : 0n);
  return insert(v, L1E_FIELDS.ADDR, e.l2Addr >> 16n);
}

/** Level-1 entry as `handle_l1_dte` / `vgic_its_check_id` read it. Pure. */
export function decodeL1Entry(v: bigint): L1Entry {
  return {
    valid: extract(v, L1E_FIELDS.VALID) === 1n,
    l2Addr: extract(v, L1E_FIELDS.ADDR) << 16n,
  };
}

// ---------------------------------------------------------------------------------------
// "next" chains

/**
 * `compute_next_devid_offset` / `compute_next_eventid_offset`: the distance from `id` to the
 * following saved ID, capped at `cap`; 0 when there is none (or when it is not above `id`,
 * which a sorted list never produces). Pure.
 */
export function nextOffset(id: number, nextId: number | undefined, cap: number): number {
  if (nextId === undefined || nextId <= id) return 0;
  return Math.min(nextId - id, cap);
}

/** "next" of every ID of an ascending list (the order KVM saves in), capped at `cap`. Pure. */
export function nextChain(sortedIds: readonly number[], cap: number): number[] {
  return sortedIds.map((id, i) => nextOffset(id, sortedIds[i + 1], cap));
}

/** DTE "next" values for ascending DeviceIDs (cap 2^14 − 1). Pure. */
export function dteNextChain(sortedDeviceIds: readonly number[]): number[] {
  return nextChain(sortedDeviceIds, VITS_DTE_MAX_DEVID_OFFSET);
}

/** ITE "next" values for ascending EventIDs (cap 2^16 − 1). Pure. */
export function iteNextChain(sortedEventIds: readonly number[]): number[] {
  return nextChain(sortedEventIds, VITS_ITE_MAX_EVENTID_OFFSET);
}

// ---------------------------------------------------------------------------------------
// Slot addresses

/** Reads a little-endian u64 of guest RAM; undefined when the read fails (no memslot). */
export type GuestRead64 = (addr: bigint) => bigint | undefined;
/** Whether the guest page holding `addr` is backed by a memslot (`kvm_is_visible_gfn`). */
export type GuestVisible = (addr: bigint) => boolean;

/** Entries per level-2 table: 64 KiB / esz (8192 with ABI 0). */
export function l2EntriesPerTable(esz: number = ABI_0_ESZ): number {
  return Math.floor(SZ_64K / Math.max(1, esz));
}

/** Two-level split of an ID (vgic_its_check_id): L1 index = id / (64K/esz), L2 index = id % (64K/esz). */
export function indirectIndex(id: number, esz: number = ABI_0_ESZ): { l1Index: number; l2Index: number } {
  const per = l2EntriesPerTable(esz);
  return { l1Index: Math.floor(id / per), l2Index: id % per };
}

/** First ID a level-2 table covers (`handle_l1_dte`: l1 index × 64K/esz). */
export function l2StartId(l1Index: number, esz: number = ABI_0_ESZ): number {
  return l1Index * l2EntriesPerTable(esz);
}

/** Number of level-1 entries of an indirect table: nrPages × 64 KiB / 8. */
export function l1EntryCount(baser: bigint): number {
  return decodeBaser(baser).tableBytes / GITS_LVL1_ENTRY_SIZE;
}

/** ID bound of the BASER's type: 2^16 DeviceIDs (device), 2^16 ICIDs (collection), else none. */
function idLimit(type: number): number | undefined {
  if (type === GITS_BASER_TYPE_DEVICE) return 1 << VITS_TYPER_DEVBITS;
  if (type === GITS_BASER_TYPE_COLLECTION) return 1 << 16; // GITS_TYPER.CIL = 0
  return undefined;
}

/**
 * `vgic_its_check_id(its, baser, id, &eaddr)`: the guest address of the table slot for `id`,
 * or undefined where KVM returns false — wrong BASER type, ID beyond the type's bits, flat table
 * too small, L1 index beyond the L1 table, L1 entry unreadable or invalid, or the slot's page
 * not visible. BASER.Valid is not checked (KVM doesn't). Sizes use 64 KiB pages whatever
 * Page_Size says, as KVM does. Pure: guest RAM only through `read64` / `visible`.
 */
export function checkId(
  baser: bigint,
  id: number,
  read64: GuestRead64,
  visible: GuestVisible = () => true,
): bigint | undefined {
  const b = decodeBaser(baser);
  const limit = idLimit(b.type);
  if (limit === undefined || !Number.isInteger(id) || id < 0 || id >= limit) return undefined;
  const esz = b.entrySize;
  if (!b.indirect) {
    if (id >= Math.floor(b.tableBytes / esz)) return undefined;
    const addr = b.base + BigInt(id * esz);
    return visible(addr) ? addr : undefined;
  }
  const { l1Index, l2Index } = indirectIndex(id, esz);
  if (l1Index >= b.tableBytes / GITS_LVL1_ENTRY_SIZE) return undefined;
  const raw = read64(b.base + BigInt(l1Index * GITS_LVL1_ENTRY_SIZE));
  if (raw === undefined) return undefined;
  const l1 = decodeL1Entry(raw);
  if (!l1.valid) return undefined;
  const addr = l1.l2Addr + BigInt(l2Index * esz);
  return visible(addr) ? addr : undefined;
}

/** Address of ITE `eventId` in an ITT (`itt_addr + event_id × ite_esz`). Pure. */
export function iteAddress(ittAddr: bigint, eventId: number): bigint {
  return ittAddr + BigInt(eventId) * BigInt(ABI_0_ESZ);
}

/** ITT size in bytes for a DTE Size field: 2^(size+1) × 8 (`vgic_its_restore_itt`). */
export function ittBytes(size: number): number {
  return 2 ** (size + 1) * ABI_0_ESZ;
}

/** Number of CTE slots in the collection table: nrPages × 64 KiB / 8. */
export function collectionTableSlots(baser: bigint): number {
  return decodeBaser(baser).tableBytes / ABI_0_ESZ;
}

/** Address of packed CTE slot `index` (collections are packed from slot 0, not indexed). */
export function cteAddress(baser: bigint, index: number): bigint {
  return baserAddress(baser) + BigInt(index) * BigInt(ABI_0_ESZ);
}

/**
 * Whether `vgic_its_save_collection_table` writes the zero CTE after `count` collections:
 * always, unless the table is exactly full.
 */
export function cteTerminatorNeeded(baser: bigint, count: number): boolean {
  return count * ABI_0_ESZ !== decodeBaser(baser).tableBytes;
}

// ---------------------------------------------------------------------------------------
// Table scan (restore side)

/**
 * Per-entry callback of `scan_its_table` (`entry_fn_t`): < 0 error, 0 "last entry found",
 * > 0 the ID offset to the next entry to read.
 */
export type ScanEntryFn = (id: number, entry: bigint) => number;

/**
 * How many consecutive zero 8-byte entries start at `gpa` (at least 1, at most `len` / 8 bytes'
 * worth): lets a scan whose callback advances by 1 on a zero entry skip empty table space.
 */
export type ZeroRun = (gpa: bigint, len: number) => number;

/**
 * `scan_its_table(its, base, size, esz, start_id, fn)`: reads the entry at `base`, calls `fn`;
 * stops on fn ≤ 0 (returning it), advances by fn entries, and returns 1 when the advance
 * reaches or passes `size` bytes. A failing guest read returns -EFAULT. `esz` is 8 (ABI 0 and
 * L1 entries). Pure apart from what `fn` does.
 */
export function scanItsTable(
  base: bigint,
  size: number,
  esz: number,
  startId: number,
  read64: GuestRead64,
  fn: ScanEntryFn,
  zeroRun?: ZeroRun,
): number {
  let len = size;
  let id = startId;
  let gpa = base;
  for (;;) {
    const entry = read64(gpa);
    if (entry === undefined) return -EFAULT;
    if (entry === 0n && zeroRun) {
      // Every callback treats a zero entry as invalid (advance 1): skip the whole run at once.
      const zeros = zeroRun(gpa, len);
      const byteOffset = zeros * esz;
      if (byteOffset >= len) return 1;
      id += zeros;
      gpa += BigInt(byteOffset);
      len -= byteOffset;
      continue;
    }
    const next = fn(id, entry);
    if (!(next > 0)) return Number.isNaN(next) ? 0 : next;
    const byteOffset = next * esz;
    if (byteOffset >= len) return 1;
    id += next;
    gpa += BigInt(byteOffset);
    len -= byteOffset;
  }
}
