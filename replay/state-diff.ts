// Structural comparison of machine states, path by path (paths as in state-path.ts).
//
// - Subtrees that are the same object in both states are skipped without being read, so the
//   diff of two states that share structure (immer results, player checkpoints) costs what
//   differs, not the size of the state.
// - Primitives compare by value (bigints included). Arrays compare index by index, objects key
//   by key (keys in `compareSegments` order, so the output is sorted by path).
// - RAM pages (byte arrays) are compared bytewise and reported per differing 8-byte word:
//   path `…ram[BLOCK][PAGE][OFFSET]`, before/after the little-endian u64 at OFFSET. A word is the
//   unit guests and VMMs store at most at once, which keeps a one-store event to one entry.
// - Where the two sides are of different kinds (a page, vCPU or key that exists on one side
//   only; null versus an object) the entry is that node itself, `opaque`, with the whole
//   subtrees as before/after (`undefined` for absent), and nothing below it is listed.

import type { Patch } from 'immer';
import {
  comparePaths,
  compareSegments,
  formatPath,
  isPathPrefix,
  normalizeSegment,
  type PathSegment,
  readWord,
  valueAt,
  WORD_BYTES,
} from './state-path.js';

/** One difference, as the player, the diff command and the TUI show it. */
export interface DiffEntry {
  /** Canonical state path (state-path.ts). */
  path: string;
  /** The value in the earlier state (`undefined`: absent there). */
  before: unknown;
  /** The value in the later state (`undefined`: absent there). */
  after: unknown;
}

/** A difference before formatting: parsed path and whether it is a whole-subtree (kind) change. */
export interface RawChange {
  segments: PathSegment[];
  before: unknown;
  after: unknown;
  /** The two sides are of different kinds (absent, primitive, array, object, bytes). */
  opaque: boolean;
}

const ABSENT = 0;
const PRIMITIVE = 1;
const ARRAY = 2;
const OBJECT = 3;
const BYTES = 4;

function kindOf(value: unknown): number {
  if (value === undefined) return ABSENT;
  if (typeof value !== 'object' || value === null) return PRIMITIVE;
  if (Array.isArray(value)) return ARRAY;
  if (value instanceof Uint8Array) return BYTES;
  return OBJECT;
}

function samePrimitive(a: unknown, b: unknown): boolean {
  // biome-ignore lint/suspicious/noSelfCompare: NaN is the one value unequal to itself
  return a === b || (a !== a && b !== b);
}

/** Sorted union of the own keys of two objects, normalized. */
function unionKeys(a: object, b: object): PathSegment[] {
  const keys = Object.keys(a);
  for (const key of Object.keys(b)) if (!Object.hasOwn(a, key)) keys.push(key);
  return keys.map(normalizeSegment).sort(compareSegments);
}

function bytesEqualAt(a: Uint8Array, b: Uint8Array, offset: number): boolean {
  const end = Math.min(offset + WORD_BYTES, Math.max(a.length, b.length));
  for (let i = offset; i < end; i++) if (a[i] !== b[i]) return false;
  return true;
}

function diffBytes(a: Uint8Array, b: Uint8Array, path: PathSegment[], emit: (c: RawChange) => void): void {
  const n = Math.max(a.length, b.length);
  // Compare 32 bits at a time where both arrays allow it; fall back to bytes per word.
  const wide =
    a.length === b.length && n % WORD_BYTES === 0 && a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0;
  const a32 = wide ? new Uint32Array(a.buffer, a.byteOffset, n / 4) : undefined;
  const b32 = wide ? new Uint32Array(b.buffer, b.byteOffset, n / 4) : undefined;
  for (let offset = 0; offset < n; offset += WORD_BYTES) {
    const same =
      a32 && b32
        ? a32[offset >> 2] === b32[offset >> 2] && a32[(offset >> 2) + 1] === b32[(offset >> 2) + 1]
        : bytesEqualAt(a, b, offset);
    if (same) continue;
    emit({
      segments: [...path, offset],
      before: offset < a.length ? readWord(a, offset) : undefined,
      after: offset < b.length ? readWord(b, offset) : undefined,
      opaque: false,
    });
  }
}

function walk(a: unknown, b: unknown, path: PathSegment[], emit: (c: RawChange) => void): void {
  if (a === b) return;
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== kb) {
    emit({ segments: [...path], before: a, after: b, opaque: true });
    return;
  }
  switch (ka) {
    case PRIMITIVE:
      if (!samePrimitive(a, b)) emit({ segments: [...path], before: a, after: b, opaque: false });
      return;
    case ARRAY: {
      const x = a as unknown[];
      const y = b as unknown[];
      const n = Math.max(x.length, y.length);
      for (let i = 0; i < n; i++) {
        if (x[i] === y[i] && i < x.length && i < y.length) continue;
        path.push(i);
        walk(i < x.length ? x[i] : undefined, i < y.length ? y[i] : undefined, path, emit);
        path.pop();
      }
      return;
    }
    case OBJECT: {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      for (const key of unionKeys(x, y)) {
        const k = String(key);
        const vx = Object.hasOwn(x, k) ? x[k] : undefined;
        const vy = Object.hasOwn(y, k) ? y[k] : undefined;
        if (vx === vy) continue;
        path.push(key);
        walk(vx, vy, path, emit);
        path.pop();
      }
      return;
    }
    case BYTES:
      diffBytes(a as Uint8Array, b as Uint8Array, path, emit);
      return;
    default:
      return;
  }
}

/** Calls `emit` for every difference between `a` and `b` below `base`, in path order. */
export function diffValues(
  a: unknown,
  b: unknown,
  base: readonly PathSegment[],
  emit: (change: RawChange) => void,
): void {
  walk(a, b, base.map(normalizeSegment), emit);
}

/** Every difference between two values (two states, usually), formatted. */
export function diffStates(a: unknown, b: unknown): DiffEntry[] {
  const out: DiffEntry[] = [];
  walk(a, b, [], (c) => out.push({ path: formatPath(c.segments), before: c.before, after: c.after }));
  return out;
}

/**
 * Structural equality with the diff's rules: bigints by value, bytes bytewise, and an object key
 * holding `undefined` the same as an absent key.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const ka = kindOf(a);
  if (ka !== kindOf(b)) return false;
  switch (ka) {
    case PRIMITIVE:
      return samePrimitive(a, b);
    case ARRAY: {
      const x = a as unknown[];
      const y = b as unknown[];
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!deepEqual(x[i], y[i])) return false;
      return true;
    }
    case OBJECT: {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      // Keys holding `undefined` count as absent, as in stateHash.
      let defined = 0;
      for (const key of Object.keys(x)) {
        if (x[key] === undefined) continue;
        defined++;
        if (!deepEqual(x[key], y[key])) return false;
      }
      for (const key of Object.keys(y)) if (y[key] !== undefined) defined--;
      return defined === 0;
    }
    case BYTES: {
      const x = a as Uint8Array;
      const y = b as Uint8Array;
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
      return true;
    }
    default:
      return true;
  }
}

/**
 * The paths immer's patches touched, as diff roots: normalized, array `length` patches moved to
 * the array, sorted, and without any path that lies below another one.
 */
export function patchRoots(patches: readonly Patch[], prev: unknown, next: unknown): PathSegment[][] {
  const roots: PathSegment[][] = [];
  for (const patch of patches) {
    let segments = patch.path.map((s) => normalizeSegment(s as PathSegment));
    if (segments.length > 0 && segments[segments.length - 1] === 'length') {
      const parent = segments.slice(0, -1);
      if (Array.isArray(valueAt(prev, parent)) || Array.isArray(valueAt(next, parent))) segments = parent;
    }
    roots.push(segments);
  }
  roots.sort(comparePaths);
  const out: PathSegment[][] = [];
  for (const root of roots) {
    const last = out[out.length - 1];
    if (last && isPathPrefix(last, root)) continue;
    out.push(root);
  }
  return out;
}

/**
 * What one event changed, from its patches: the structural diff of `prev` and `next` below
 * each patched path. Exact where patches are not minimal (immer may replace a whole array whose
 * elements did not all change, or report an assignment of an equal value): only real
 * differences come out.
 */
export function changesFromPatches(prev: unknown, next: unknown, patches: readonly Patch[]): RawChange[] {
  const out: RawChange[] = [];
  const emit = (c: RawChange) => void out.push(c);
  for (const root of patchRoots(patches, prev, next))
    walk(valueAt(prev, root), valueAt(next, root), root, emit);
  return out;
}

/** Formats raw changes for display. */
export function toDiffEntries(changes: readonly RawChange[]): DiffEntry[] {
  return changes.map((c) => ({ path: formatPath(c.segments), before: c.before, after: c.after }));
}
