// Guest RAM: little-endian loads and stores of 1, 2, 4 or 8 bytes at any alignment over sparse
// 4 KiB pages. Pages sit in a two-level table, 2 MiB block then page, both numbered from
// RAM_BASE: small integer keys keep every record V8-fast and every copy immer makes of one small
// (a flat table keyed by absolute page number made each RAM store copy the whole table). Pages are immutable once anyone else may hold them: a store
// copies the page and replaces it, so immer drafts, checkpoints and hash caches can share pages.
// The one exception is a page the in-place path created itself and has not yet published
// (`owned`): stores write it directly (see engine/working-copy.ts).

import { forgetPageDigest } from './hash.js';
import { PAGE_SIZE, RAM_BASE, RAM_SIZE } from './state.js';

/**
 * The pages a private working copy may write in place: it made them and nobody else holds
 * them yet (engine/working-copy.ts). The store path asks `mayWrite` right before writing a page
 * in place and hands each fresh copy it is about to write to `adopt`; subclasses may watch
 * those calls (the player tracks which pages changed). Not state: it lives beside it.
 */
export class PageOwnership {
  private readonly pages = new WeakSet<Uint8Array>();

  /** Asked right before a store: may `page` be written in place? */
  mayWrite(page: Uint8Array): boolean {
    if (!this.pages.has(page)) return false;
    forgetPageDigest(page);
    return true;
  }

  /** `page` is a fresh copy the store will write now (and may write again in place). */
  adopt(page: Uint8Array): void {
    this.pages.add(page);
  }

  /** `page` is now held elsewhere too (another VM's RAM): stores must copy it again. */
  release(page: Uint8Array): void {
    this.pages.delete(page);
  }

  /** Whether `page` is owned, without it counting as a write. */
  owns(page: Uint8Array): boolean {
    return this.pages.has(page);
  }
}

/** Block number → page number in the block → 4 KiB of bytes. */
export type RamPages = Record<string, Record<string, Uint8Array>>;

export const PAGES_PER_BLOCK = 512;

const RAM_FIRST = BigInt(RAM_BASE);
const RAM_END = BigInt(RAM_BASE + RAM_SIZE);
const MASK32 = 0xffff_ffffn;

/** True when [addr, addr + size) lies inside guest RAM. */
export function inRam(addr: bigint, size: number): boolean {
  return addr >= RAM_FIRST && addr + BigInt(size) <= RAM_END;
}

function readWithin(page: Uint8Array, off: number, size: number): bigint {
  switch (size) {
    case 1:
      return BigInt(page[off]!);
    case 2:
      return BigInt(page[off]! | (page[off + 1]! << 8));
    case 4:
      return BigInt(
        (page[off]! | (page[off + 1]! << 8) | (page[off + 2]! << 16) | (page[off + 3]! << 24)) >>> 0,
      );
    default: {
      const lo = (page[off]! | (page[off + 1]! << 8) | (page[off + 2]! << 16) | (page[off + 3]! << 24)) >>> 0;
      const hi =
        (page[off + 4]! | (page[off + 5]! << 8) | (page[off + 6]! << 16) | (page[off + 7]! << 24)) >>> 0;
      return (BigInt(hi) << 32n) | BigInt(lo);
    }
  }
}

function writeWithin(page: Uint8Array, off: number, size: number, value: bigint): void {
  let lo = Number(value & MASK32);
  for (let i = 0; i < Math.min(size, 4); i++) {
    page[off + i] = lo & 0xff;
    lo >>>= 8;
  }
  if (size === 8) {
    let hi = Number((value >> 32n) & MASK32);
    for (let i = 4; i < 8; i++) {
      page[off + i] = hi & 0xff;
      hi >>>= 8;
    }
  }
}

/** The page holding RAM-relative page index `index`, if it was ever written. */
function pageAt(pages: RamPages, index: number): Uint8Array | undefined {
  return pages[index >>> 9]?.[index & (PAGES_PER_BLOCK - 1)];
}

/** Page index (from RAM_BASE) of guest-physical address `a`. */
function pageIndex(a: number): number {
  return Math.floor((a - RAM_BASE) / PAGE_SIZE);
}

export function loadRam(pages: RamPages, addr: bigint, size: number): bigint {
  const a = Number(addr);
  const off = a % PAGE_SIZE;
  if (off + size <= PAGE_SIZE) {
    const page = pageAt(pages, pageIndex(a));
    return page ? readWithin(page, off, size) : 0n;
  }
  // Crosses into the next page: byte by byte, most significant first.
  let value = 0n;
  for (let i = size - 1; i >= 0; i--) {
    const b = a + i;
    const page = pageAt(pages, pageIndex(b));
    value = (value << 8n) | BigInt(page ? page[b % PAGE_SIZE]! : 0);
  }
  return value;
}

/** Page `index`, writable: itself if `owned` holds it, else a fresh copy put in its place. */
function writablePage(pages: RamPages, index: number, owned: PageOwnership | undefined): Uint8Array {
  const blockKey = index >>> 9;
  const pageKey = index & (PAGES_PER_BLOCK - 1);
  let block = pages[blockKey];
  if (!block) {
    block = {};
    pages[blockKey] = block;
  }
  const old = block[pageKey];
  if (old && owned?.mayWrite(old)) return old;
  const copy = old ? old.slice() : new Uint8Array(PAGE_SIZE);
  block[pageKey] = copy;
  owned?.adopt(copy);
  return copy;
}

/** Every page written so far with its guest-physical address, in address order. */
export function ramPages(pages: RamPages): { addr: number; bytes: Uint8Array }[] {
  const out: { addr: number; bytes: Uint8Array }[] = [];
  for (const blockKey of Object.keys(pages)) {
    const block = pages[blockKey]!;
    for (const pageKey of Object.keys(block)) {
      const index = Number(blockKey) * PAGES_PER_BLOCK + Number(pageKey);
      out.push({ addr: RAM_BASE + index * PAGE_SIZE, bytes: block[pageKey]! });
    }
  }
  return out;
}

export function storeRam(
  pages: RamPages,
  addr: bigint,
  size: number,
  value: bigint,
  owned?: PageOwnership,
): void {
  const a = Number(addr);
  const off = a % PAGE_SIZE;
  if (off + size <= PAGE_SIZE) {
    writeWithin(writablePage(pages, pageIndex(a), owned), off, size, value);
    return;
  }
  let v = value;
  for (let i = 0; i < size; i++) {
    const b = a + i;
    writablePage(pages, pageIndex(b), owned)[b % PAGE_SIZE] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Copies `bytes` into RAM at `addr` (a block store, as a VMM's RAM transfer does). */
export function storeRamBytes(pages: RamPages, addr: number, bytes: Uint8Array, owned?: PageOwnership): void {
  let done = 0;
  while (done < bytes.length) {
    const at = addr + done;
    const offset = at % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - offset, bytes.length - done);
    writablePage(pages, pageIndex(at), owned).set(bytes.subarray(done, done + n), offset);
    done += n;
  }
}

/**
 * A copy of `from` that shares its pages, for another VM: every shared page stops being owned so
 * that a later in-place store to either VM cannot reach the other.
 */
export function shareRam(from: RamPages, owned?: PageOwnership): RamPages {
  const out: RamPages = {};
  for (const block of Object.keys(from)) {
    const pages = from[block]!;
    const copy: Record<string, Uint8Array> = {};
    for (const page of Object.keys(pages)) {
      const bytes = pages[page]!;
      owned?.release(bytes);
      copy[page] = bytes;
    }
    out[block] = copy;
  }
  return out;
}
