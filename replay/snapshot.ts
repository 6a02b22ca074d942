// Frozen snapshots of a mutable working copy that share structure with an earlier snapshot.
//
// The player replays between checkpoints on a private mutable copy (`stepInPlace`, the fast
// path). Freezing a plain clone of it for every checkpoint would keep one full copy of the state
// per checkpoint; `snapshotState` instead reuses, from the previous snapshot, every subtree that
// is still deep-equal at the same path, so a checkpoint costs one walk over the state but only
// keeps what changed since the one before. Consecutive checkpoints, and the states the player
// derives from them, then share most objects, which is also what makes `diffStates` between them
// fast (it skips shared subtrees by reference).
//
// RAM pages are shared by reference, never copied here. A `WorkingCopy` writes the pages it owns
// in place, so the caller must `publish()` it right after taking a snapshot of its state.

import { Buffer } from 'node:buffer';
import type { MachineState } from '../engine/state.js';

/** Approximate retained size, in bytes, of what a snapshot does not share with its predecessor. */
export interface SnapshotStats {
  bytes: number;
}

const OBJECT_BYTES = 24;
const SLOT_BYTES = 8;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function snap(w: unknown, p: unknown, stats: SnapshotStats): unknown {
  if (typeof w !== 'object' || w === null || w === RAM_PLACEHOLDER) return w;
  if (w instanceof Uint8Array) {
    if (w !== p) stats.bytes += w.byteLength;
    return w;
  }
  if (Array.isArray(w)) {
    const prev = Array.isArray(p) && p.length === w.length ? (p as unknown[]) : undefined;
    let out: unknown[] | undefined = prev ? undefined : [];
    for (let i = 0; i < w.length; i++) {
      const child = snap(w[i], prev?.[i], stats);
      if (!out && child !== prev![i]) out = prev!.slice(0, i);
      if (out) out.push(child);
    }
    if (!out) return prev;
    stats.bytes += OBJECT_BYTES + SLOT_BYTES * w.length;
    return Object.freeze(out);
  }
  const keys = Object.keys(w);
  const src = w as Record<string, unknown>;
  const prev = isPlainObject(p) && Object.keys(p).length === keys.length ? p : undefined;
  let out: Record<string, unknown> | undefined = prev ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const had = prev !== undefined && Object.hasOwn(prev, key);
    const child = snap(src[key], had ? prev[key] : undefined, stats);
    if (!out && (!had || child !== prev![key])) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = prev![keys[j]!];
    }
    if (out) out[key] = child;
  }
  if (!out) return prev;
  stats.bytes += OBJECT_BYTES + 2 * SLOT_BYTES * keys.length;
  return Object.freeze(out);
}

/**
 * A deep-frozen copy of `working` (which stays mutable and private to the caller) sharing every
 * subtree of `prev` that is deep-equal to it at the same path. `stats.bytes` grows by the
 * approximate size of what is not shared.
 */
export function snapshotState(
  working: MachineState,
  prev?: MachineState,
  stats: SnapshotStats = { bytes: 0 },
): MachineState {
  return snap(working, prev, stats) as MachineState;
}

/** Approximate bytes of `state` not shared (by reference) with `base` at the same path. */
export function unsharedBytes(state: unknown, base: unknown): number {
  if (state === base || typeof state !== 'object' || state === null) return 0;
  if (state instanceof Uint8Array) return state.byteLength;
  if (Array.isArray(state)) {
    const b = Array.isArray(base) ? (base as unknown[]) : undefined;
    let bytes = OBJECT_BYTES + SLOT_BYTES * state.length;
    for (let i = 0; i < state.length; i++) bytes += unsharedBytes(state[i], b?.[i]);
    return bytes;
  }
  const b = isPlainObject(base) ? base : undefined;
  const src = state as Record<string, unknown>;
  let bytes = OBJECT_BYTES;
  for (const key of Object.keys(src)) {
    bytes += 2 * SLOT_BYTES + unsharedBytes(src[key], b && Object.hasOwn(b, key) ? b[key] : undefined);
  }
  return bytes;
}

// ---- skeletons and RAM deltas (the player's checkpoints) -------------------------------------
//
// A checkpoint that kept every RAM page it does not share with the one before costs about one
// page per page the guest touched in between: on a guest that stores all over its working set
// that is the whole working set again at every checkpoint (≈ 1 MiB each on the benchmark
// stream). Most checkpoints therefore keep a *skeleton* (the state with every VM's RAM left
// out, sharing structure as above) and a *RAM delta*: the 32-bit words of each page that differ
// from the previous checkpoint, packed into one Int32Array. Now and then a checkpoint keeps the
// full state (a base); a delta checkpoint's RAM is its base's with the deltas after it applied
// in order.
//
// A delta is a sequence of page records:
//
//   vm, block, page, byteLength, isNew, runs, then per run: first word, word count, the words
//
// `isNew` says the page did not exist before (or changed length): it starts from zeros. Page
// removal, non-integer keys and odd-sized pages are not expressible: `RamDeltaTracker.delta`
// then answers undefined and the caller keeps a base.

/** One VM's RAM table (engine/ram.ts `RamPages`). */
type RamTable = Record<string, Record<string, Uint8Array>>;

/** What stands for a VM's RAM in a skeleton. Frozen, shared by every skeleton. */
export const RAM_PLACEHOLDER: RamTable = Object.freeze({}) as RamTable;

/**
 * A deep-frozen copy of `working` like `snapshotState`, except that every VM's `ram` is
 * `RAM_PLACEHOLDER`: the part of a delta checkpoint that is not RAM.
 */
export function snapshotSkeleton(
  working: MachineState,
  prev?: MachineState,
  stats: SnapshotStats = { bytes: 0 },
): MachineState {
  const saved = working.vms.map((vm) => vm.ram);
  for (const vm of working.vms) vm.ram = RAM_PLACEHOLDER;
  try {
    return snap(working, prev, stats) as MachineState;
  } finally {
    working.vms.forEach((vm, i) => {
      vm.ram = saved[i]!;
    });
  }
}

/** The page references of every VM's RAM at some moment (shallow copies of the tables). */
export type RamRefs = RamTable[];

/** Shallow copies of `state`'s RAM tables (mutable: the tables and their blocks). */
export function captureRamRefs(state: MachineState): RamRefs {
  return state.vms.map((vm) => {
    const table: RamTable = {};
    for (const key of Object.keys(vm.ram)) table[key] = { ...vm.ram[key]! };
    return table;
  });
}

/** Bytes of RAM pages `state` holds. */
export function ramBytes(state: MachineState): number {
  let bytes = 0;
  for (const vm of state.vms) {
    for (const block of Object.values(vm.ram))
      for (const page of Object.values(block)) bytes += page.byteLength;
  }
  return bytes;
}

const CANONICAL_KEY = /^(?:0|[1-9][0-9]{0,8})$/;
/** Words of equal content a run may swallow rather than start a new run (a run header is 2). */
const RUN_GAP = 2;
const HEADER = 6;

class Int32Builder {
  buf = new Int32Array(4096);
  length = 0;

  reserve(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = new Int32Array(size);
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  done(): Int32Array {
    return this.buf.slice(0, this.length);
  }
}

/** The page's bytes as 32-bit words (a copy when the page is not 4-byte aligned). */
function wordsOf(page: Uint8Array): Int32Array {
  return page.byteOffset % 4 === 0
    ? new Int32Array(page.buffer, page.byteOffset, page.byteLength >> 2)
    : new Int32Array(page.slice().buffer);
}

/**
 * Appends the runs of 32-bit words where `now` differs from `was` (from zero without `was`),
 * swallowing gaps of up to RUN_GAP equal words; returns the number of runs.
 */
function encodeRuns32(out: Int32Builder, now: Int32Array, was: Int32Array | undefined): number {
  const count = now.length;
  let runs = 0;
  let i = 0;
  while (i < count) {
    if (was ? now[i] === was[i] : now[i] === 0) {
      i++;
      continue;
    }
    let last = i;
    for (let j = i + 1; j < count && j - last <= RUN_GAP; j++) {
      if (was ? now[j] !== was[j] : now[j] !== 0) last = j;
    }
    const n = last + 1 - i;
    out.reserve(2 + n);
    const buf = out.buf;
    let len = out.length;
    buf[len++] = i;
    buf[len++] = n;
    for (let k = 0; k < n; k++) buf[len++] = now[i + k]!;
    out.length = len;
    runs++;
    i = last + 1;
  }
  return runs;
}

/**
 * Appends runs of whole 8-byte words where `now` differs from `was`, comparing them as doubles:
 * fast, and exact except for +0 / -0 (=== but different bits), which it misses, and equal NaNs,
 * which it reports (harmless: the word is rewritten with the value it has). `encodePage`
 * checks the result and adds what was missed.
 */
function encodeRuns64(out: Int32Builder, now: Float64Array, was: Float64Array, now32: Int32Array): number {
  const count = now.length;
  let runs = 0;
  let i = 0;
  while (i < count) {
    while (
      i + 4 <= count &&
      now[i] === was[i] &&
      now[i + 1] === was[i + 1] &&
      now[i + 2] === was[i + 2] &&
      now[i + 3] === was[i + 3]
    )
      i += 4;
    while (i < count && now[i] === was[i]) i++;
    if (i >= count) break;
    // A run swallows one equal word between two that differ (a run header costs as much).
    let last = i;
    for (let j = i + 1; j < count && j - last <= 2; j++) if (now[j] !== was[j]) last = j;
    const n = 2 * (last + 1 - i);
    out.reserve(2 + n);
    const buf = out.buf;
    let len = out.length;
    buf[len++] = 2 * i;
    buf[len++] = n;
    for (let k = 2 * i, end = k + n; k < end; k++) buf[len++] = now32[k]!;
    out.length = len;
    runs++;
    i = last + 1;
  }
  return runs;
}

/** Writes `runs` runs of `delta` from `at` into `words`. */
function applyRuns(words: Int32Array, delta: Int32Array, at: number, runs: number): void {
  let i = at;
  for (; runs > 0; runs--) {
    const first = delta[i]!;
    const n = delta[i + 1]!;
    i += 2;
    for (let k = 0; k < n; k++) words[first + k] = delta[i + k]!;
    i += n;
  }
}

let scratch = new Uint8Array(4096);
let zeros = new Float64Array(512);

/** Bit of `encodePage`'s answer: the page changed (a record was appended). */
const CHANGED = 1;
/** Bit of `encodePage`'s answer: `old` (writable) now holds the page's content. */
const SYNCED = 2;

/**
 * Appends the record of `page` (was `old`, or nothing). With `oldWritable`, `old` may be brought
 * up to date on the way (a shadow: answered with SYNCED).
 */
function encodePage(
  out: Int32Builder,
  vm: number,
  block: number,
  index: number,
  old: Uint8Array | undefined,
  page: Uint8Array,
  oldWritable: boolean,
): number {
  const length = page.byteLength;
  const isNew = old === undefined || old.byteLength !== length;
  out.reserve(HEADER);
  const at = out.length;
  const buf = out.buf;
  buf[at] = vm;
  buf[at + 1] = block;
  buf[at + 2] = index;
  buf[at + 3] = length;
  buf[at + 4] = isNew ? 1 : 0;
  out.length = at + HEADER;
  const was = isNew ? undefined : old;
  let runs: number;
  let synced = false;
  if (length % 8 === 0 && page.byteOffset % 8 === 0 && (!was || was.byteOffset % 8 === 0)) {
    const count = length >> 3;
    const now32 = new Int32Array(page.buffer, page.byteOffset, count * 2);
    if (!was && zeros.length < count) zeros = new Float64Array(count);
    const wasWords = was ? new Float64Array(was.buffer, was.byteOffset, count) : zeros;
    runs = encodeRuns64(out, new Float64Array(page.buffer, page.byteOffset, count), wasWords, now32);
    // Check: the old content with the runs applied must be the page; else add the words missed.
    let check: Uint8Array;
    if (was && oldWritable) {
      check = was;
      synced = true;
    } else {
      if (scratch.length < length) scratch = new Uint8Array(length);
      check = scratch.length === length ? scratch : scratch.subarray(0, length);
      if (was) check.set(was);
      else check.fill(0);
    }
    const check32 = new Int32Array(check.buffer, check.byteOffset, count * 2);
    applyRuns(check32, out.buf, at + HEADER, runs);
    if (Buffer.compare(check, page) !== 0) {
      runs += encodeRuns32(out, now32, check32);
      if (synced) check.set(page);
    }
  } else {
    runs = encodeRuns32(out, wordsOf(page), was && wordsOf(was));
  }
  if (runs === 0 && !isNew) {
    out.length = at;
    return synced ? SYNCED : 0;
  }
  out.buf[at + 5] = runs;
  return CHANGED | (synced ? SYNCED : 0);
}

function keyNumber(key: string): number {
  return CANONICAL_KEY.test(key) ? Number(key) : -1;
}

/**
 * Follows the RAM of a working copy from checkpoint to checkpoint and says which words changed.
 *
 * The working copy writes pages it owns in place, so what such a page held at the previous
 * checkpoint is gone by the next one unless kept: for every page the working copy owned at the
 * previous checkpoint the tracker keeps a copy (a *shadow*, one per RAM location, reused). A
 * page it did not own is unchanged wherever the table still holds it, and intact where a copy
 * replaced it. The caller says which pages may have been written in place since the previous
 * checkpoint (`written`) and which the working copy owns now (`owned`).
 */
export class RamDeltaTracker {
  private refs: RamRefs;
  private shadows: RamTable[] = [];
  /** Reused from delta to delta (`done` copies out what it built). */
  private readonly out = new Int32Builder();

  constructor(state: MachineState) {
    this.refs = captureRamRefs(state);
  }

  /**
   * The words of `state`'s RAM that differ from the previous checkpoint, or undefined (and the
   * tracker starts again from `state`) when that is not expressible as a delta. `ramBytes` is
   * the state's RAM size.
   */
  delta(
    state: MachineState,
    written: (page: Uint8Array) => boolean,
    owned: (page: Uint8Array) => boolean,
  ): { delta: Int32Array; ramBytes: number } | undefined {
    const result = this.encode(state, written, owned);
    if (!result) this.restart(state);
    return result;
  }

  /** Starts again from `state`, none of whose pages the working copy owns any more. */
  restart(state: MachineState): void {
    this.refs = captureRamRefs(state);
    this.shadows = [];
  }

  private encode(
    state: MachineState,
    written: (page: Uint8Array) => boolean,
    owned: (page: Uint8Array) => boolean,
  ): { delta: Int32Array; ramBytes: number } | undefined {
    const vms = state.vms;
    const refs = this.refs;
    if (vms.length < refs.length) return undefined;
    const out = this.out;
    out.length = 0;
    const nextRefs: RamRefs = [];
    let bytes = 0;
    for (let v = 0; v < vms.length; v++) {
      const ram = vms[v]!.ram;
      const old = refs[v];
      if (old) {
        for (const key of Object.keys(old)) {
          const now = ram[key];
          if (!now) return undefined;
          for (const pageKey of Object.keys(old[key]!)) if (!now[pageKey]) return undefined;
        }
      }
      const table: RamTable = {};
      nextRefs.push(table);
      let shadowTable = this.shadows[v];
      for (const key of Object.keys(ram)) {
        const blockNumber = keyNumber(key);
        if (blockNumber < 0) return undefined;
        const block = ram[key]!;
        const oldBlock = old?.[key];
        const refBlock: Record<string, Uint8Array> = {};
        table[key] = refBlock;
        for (const pageKey of Object.keys(block)) {
          const pageNumber = keyNumber(pageKey);
          const page = block[pageKey];
          if (pageNumber < 0 || !(page instanceof Uint8Array) || page.byteLength % 4 !== 0) return undefined;
          bytes += page.byteLength;
          refBlock[pageKey] = page;
          const was = oldBlock?.[pageKey];
          if (page === was && !written(page)) continue;
          const shadow = shadowTable?.[key]?.[pageKey];
          const answer = encodePage(
            out,
            v,
            blockNumber,
            pageNumber,
            shadow ?? was,
            page,
            shadow !== undefined,
          );
          if (owned(page)) {
            // Keep what the page holds now: it may be written in place before the next checkpoint.
            if (answer & SYNCED) {
              // `encodePage` brought the shadow up to date.
            } else if (shadow && shadow.byteLength === page.byteLength) {
              shadow.set(page);
            } else {
              if (!shadowTable) {
                shadowTable = {};
                this.shadows[v] = shadowTable;
              }
              shadowTable[key] ??= {};
              shadowTable[key][pageKey] = page.slice();
            }
          } else if (shadow) {
            delete shadowTable![key]![pageKey];
          }
        }
      }
    }
    this.refs = nextRefs;
    return { delta: out.done(), ramBytes: bytes };
  }
}

/**
 * Applies `delta` to mutable RAM tables (one per VM, blocks mutable too). A page is copied
 * before its first write unless `made` holds it (with its words); every page written ends up in
 * `made`, so a sequence of deltas copies each page once. `alloc` makes the (zeroed, 4-byte
 * aligned) copies.
 */
export function applyRamDelta(
  tables: RamTable[],
  delta: Int32Array,
  made: Map<Uint8Array, Int32Array>,
  alloc: (length: number) => Uint8Array = (length) => new Uint8Array(length),
): void {
  let i = 0;
  while (i < delta.length) {
    const v = delta[i]!;
    const blockKey = delta[i + 1]!;
    const pageKey = delta[i + 2]!;
    const length = delta[i + 3]!;
    const isNew = delta[i + 4] === 1;
    let runs = delta[i + 5]!;
    i += HEADER;
    let table = tables[v];
    if (!table) {
      table = {};
      tables[v] = table;
    }
    let block = table[blockKey];
    if (!block) {
      block = {};
      table[blockKey] = block;
    }
    const page = block[pageKey];
    let words = page && !isNew ? made.get(page) : undefined;
    if (!words) {
      const copy = alloc(length);
      if (page && !isNew) copy.set(page);
      words = new Int32Array(copy.buffer, copy.byteOffset, length >> 2);
      made.set(copy, words);
      block[pageKey] = copy;
    }
    for (; runs > 0; runs--) {
      const first = delta[i]!;
      const n = delta[i + 1]!;
      i += 2;
      for (let k = 0; k < n; k++) words[first + k] = delta[i + k]!;
      i += n;
    }
  }
}

/**
 * An `alloc` for `applyRamDelta` that carves pages out of shared buffers of `slabBytes`: one
 * allocation instead of one per page when a rebuild copies hundreds of them. A page keeps its
 * whole slab alive, so slabs stay small.
 */
export function slabAllocator(slabBytes = 256 * 1024): (length: number) => Uint8Array {
  let slab = new ArrayBuffer(0);
  let used = 0;
  return (length) => {
    const size = (length + 7) & ~7;
    if (size > slabBytes) return new Uint8Array(length);
    if (used + size > slab.byteLength) {
      slab = new ArrayBuffer(slabBytes);
      used = 0;
    }
    const page = new Uint8Array(slab, used, length);
    used += size;
    return page;
  };
}

/** One delta with the effect of applying `a` and then `b`. */
export function mergeRamDeltas(a: Int32Array, b: Int32Array): Int32Array {
  interface Page {
    v: number;
    block: number;
    page: number;
    length: number;
    isNew: boolean;
    words: Int32Array;
    set: Uint8Array;
  }
  const pages = new Map<string, Page>();
  for (const delta of [a, b]) {
    let i = 0;
    while (i < delta.length) {
      const v = delta[i]!;
      const block = delta[i + 1]!;
      const index = delta[i + 2]!;
      const length = delta[i + 3]!;
      const isNew = delta[i + 4] === 1;
      let runs = delta[i + 5]!;
      i += HEADER;
      const key = `${v}:${block}:${index}`;
      let page = pages.get(key);
      if (!page || isNew) {
        page = {
          v,
          block,
          page: index,
          length,
          isNew: isNew || (page?.isNew ?? false),
          words: new Int32Array(length >> 2),
          set: new Uint8Array(length >> 2),
        };
        pages.set(key, page);
      }
      for (; runs > 0; runs--) {
        const first = delta[i]!;
        const n = delta[i + 1]!;
        i += 2;
        for (let k = 0; k < n; k++) {
          page.words[first + k] = delta[i + k]!;
          page.set[first + k] = 1;
        }
        i += n;
      }
    }
  }
  const out = new Int32Builder();
  for (const p of pages.values()) {
    const count = p.length >> 2;
    out.reserve(HEADER + 3 * count);
    const buf = out.buf;
    const at = out.length;
    buf[at] = p.v;
    buf[at + 1] = p.block;
    buf[at + 2] = p.page;
    buf[at + 3] = p.length;
    buf[at + 4] = p.isNew ? 1 : 0;
    let len = at + HEADER;
    let runs = 0;
    let i = 0;
    while (i < count) {
      if (!p.set[i]) {
        i++;
        continue;
      }
      let j = i;
      while (j < count && p.set[j]) j++;
      buf[len] = i;
      buf[len + 1] = j - i;
      for (let k = i; k < j; k++) buf[len + 2 + k - i] = p.words[k]!;
      len += 2 + j - i;
      runs++;
      i = j;
    }
    buf[at + 5] = runs;
    out.length = len;
  }
  return out.done();
}
