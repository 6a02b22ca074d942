// Guest RAM: little-endian loads and stores of 1, 2, 4 or 8 bytes at any alignment over sparse
// 4 KiB pages. Pages are never written in place: a store copies the page and replaces it, so
// immer drafts and checkpoints can share pages safely.

import { PAGE_SIZE, RAM_BASE, RAM_SIZE } from './state.js';

export type RamPages = Record<string, Uint8Array>;

/** True when [addr, addr + size) lies inside guest RAM. */
export function inRam(addr: bigint, size: number): boolean {
  return addr >= BigInt(RAM_BASE) && addr + BigInt(size) <= BigInt(RAM_BASE + RAM_SIZE);
}

export function loadRam(pages: RamPages, addr: bigint, size: number): bigint {
  const a = Number(addr);
  let value = 0n;
  for (let i = size - 1; i >= 0; i--) {
    const byteAddr = a + i;
    const page = pages[String(Math.floor(byteAddr / PAGE_SIZE))];
    value = (value << 8n) | BigInt(page ? page[byteAddr & (PAGE_SIZE - 1)]! : 0);
  }
  return value;
}

export function storeRam(pages: RamPages, addr: bigint, size: number, value: bigint): void {
  const a = Number(addr);
  let v = value;
  let key = '';
  let copy: Uint8Array | undefined;
  for (let i = 0; i < size; i++) {
    const byteAddr = a + i;
    const pageKey = String(Math.floor(byteAddr / PAGE_SIZE));
    if (pageKey !== key) {
      if (copy) pages[key] = copy;
      key = pageKey;
      const old = pages[pageKey];
      copy = old ? old.slice() : new Uint8Array(PAGE_SIZE);
    }
    copy![byteAddr & (PAGE_SIZE - 1)] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (copy) pages[key] = copy;
}

/** Copies `bytes` into RAM at `addr` (a block store, as a VMM's RAM transfer does). */
export function storeRamBytes(pages: RamPages, addr: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    const at = addr + done;
    const key = String(Math.floor(at / PAGE_SIZE));
    const offset = at & (PAGE_SIZE - 1);
    const n = Math.min(PAGE_SIZE - offset, bytes.length - done);
    const old = pages[key];
    const copy = old ? old.slice() : new Uint8Array(PAGE_SIZE);
    copy.set(bytes.subarray(done, done + n), offset);
    pages[key] = copy;
    done += n;
  }
}
