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
  if (typeof w !== 'object' || w === null) return w;
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
