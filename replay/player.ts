// The time-travel player (design.md "Time travel"): random access to the state after any event
// of a trace, stepping both ways, what each event changed, and diffs between positions.
//
// Positions are event indexes: position n is the state after event n, position 0 the initial
// state. How a state is obtained:
//
// - Checkpoints. `Player.open` makes one forward pass on a private `WorkingCopy` (the in-place
//   path, `stepInPlace`, no immer) and keeps a frozen snapshot every `checkpointInterval`
//   events (snapshot.ts: clone + freeze, sharing every unchanged subtree with the previous
//   checkpoint). When their retained size passes `checkpointBudgetBytes` every other one is
//   dropped and the interval doubles (rr thins its checkpoints the same way).
// - Seek. From the nearest known state at or before the target (a checkpoint, a cached state,
//   or the current one) the player replays on a fresh `WorkingCopy`, leaving a
//   dense snapshot every `denseInterval` events on the way (the cursor's neighbourhood gets
//   dense checkpoints, as rr densifies around where the user is), then snapshots the target.
//   Seeks of a few events inside the patch window apply patches instead.
// - Step forward / step back. A window of recent events keeps each event's immer patches and
//   inverse patches (`stepWithPatches`). Stepping back applies the event's inverse patches to
//   the current state; when the window does not cover it, the player re-derives the
//   `stepBackChunk` events before the cursor from the nearest dense snapshot, so each chunk is
//   paid once and repeated stepping back costs one `applyPatches` per event (amortised O(1)).
//   Stepping forward applies forward patches or computes them, extending the window.
//
// Every state the player hands out is deep-frozen (RAM pages excepted: they are immutable by
// convention). Nothing here reads a clock: the intervals are constants chosen by measurement.

import { applyPatches, type Patch } from 'immer';
import { cloneState, freezeState } from '../engine/clone.js';
import type { Effect, Output } from '../engine/events.js';
import { stateHash } from '../engine/hash.js';
import type { Registry } from '../engine/registry.js';
import { initialState as emptyMachine, type MachineState } from '../engine/state.js';
import { stepWithPatches } from '../engine/step.js';
import { WorkingCopy } from '../engine/working-copy.js';
import { ChangeIndex, type ChangeIndexOptions, DEFAULT_INDEX_CHUNK } from './change-index.js';
import { sameEffects, sameOutput } from './divergence.js';
import type { Frame, FrameSource } from './frame.js';
import { defaultRegistry } from './machine.js';
import { snapshotState, unsharedBytes } from './snapshot.js';
import { changesFromPatches, type DiffEntry, diffStates, toDiffEntries } from './state-diff.js';

/**
 * Events between permanent checkpoints, before any thinning. Chosen by measurement (scratch
 * benchmark, Node 20 on this project's 2-core box shared with other jobs; the KVM core alone;
 * `generateEvents(1, 1_000_000)`: guest-heavy, stores spread over a 1 MiB working set of 256
 * pages; frames decoded on demand from 4,096-event msgpackr chunks with an 8-chunk cache, as
 * the trace reader does; 400 random seeks each followed by 60 step-backs):
 *
 * | interval | checkpoints | retained | seek p50 | seek p99 | p99 without GC-hit samples |
 * |---|---|---|---|---|---|
 * | 2,048 | 490 | 462 MiB | 4.0 ms | 16 ms | 8.8 ms |
 * | 4,096 | 246 | 245 MiB | 5.0 ms | 35–41 ms | 12–14 ms |
 * | 8,192 | 124 | 123 MiB | 9.4 ms | 41 ms | 23 ms |
 *
 * Replaying a whole 2,048-event interval on a WorkingCopy takes ≈ 2 ms (≈ 1 µs/event); the
 * rest of a seek is decoding the chunk (≈ 1.8 ms), dense and final snapshots, and GC pauses
 * (the p99 tail: 15–20% of seeks overlap a scavenge). 2,048 keeps seeks well inside a 20 ms
 * frame; the checkpoint budget below caps memory: on the stream above (each interval stores
 * to ~all 256 pages, ≈ 0.9 MiB of pages per checkpoint) it thins to 4,096 half-way through
 * the scan, while traces that store to few pages keep 2,048.
 */
export const DEFAULT_CHECKPOINT_INTERVAL = 2048;
/** Dense snapshots left behind by seeks: bounds the replay before a step-back chunk (≈ 0.3 ms). */
export const DEFAULT_DENSE_INTERVAL = 256;
/**
 * Most events whose patches one step-back derivation computes. `stepWithPatches` costs ≈ 60 µs
 * per event on the stream above and ≈ 125 µs for a RAM store (immer copies the flat page
 * record), so 8 events plus the replay from a dense snapshot keep the slowest step back under
 * 2 ms. Measured: step back p50 < 0.01 ms, p99 1.5–1.7 ms; right after a seek (a cold window)
 * p50 0.6 ms, p99 1.5–1.8 ms without GC hits; step forward p99 0.2 ms.
 */
export const DEFAULT_STEP_BACK_CHUNK = 8;
/**
 * Retained size of permanent checkpoints beyond which they are thinned (interval doubled):
 * keeps the whole process near 450 MiB resident with the 1M-event stream above open.
 */
export const DEFAULT_CHECKPOINT_BUDGET_BYTES = 256 * 1024 * 1024;

/** Events in the first step-back derivation at a new position (then 2×, 4×… up to the chunk). */
const FIRST_CHUNK = 4;
/** Most events kept in the patch window. */
const WINDOW_MAX = 4096;
/** Most dense snapshots and recent results kept besides the permanent checkpoints. */
const VOLATILE_MAX = 64;
/** Seeks this close, inside the window, walk patches instead of replaying. */
const PATCH_WALK_MAX = 64;

export interface PlayerOptions {
  /** Device models to replay with (default: `defaultRegistry()`). */
  registry?: Registry;
  /** Events between permanent checkpoints (default `DEFAULT_CHECKPOINT_INTERVAL`, 2,048). */
  checkpointInterval?: number;
  /** Events between the dense snapshots seeks leave behind (default 256). */
  denseInterval?: number;
  /** Most events re-derived with patches when stepping back leaves the window (default 8). */
  stepBackChunk?: number;
  /** Thin permanent checkpoints above this retained size (default 256 MiB). */
  checkpointBudgetBytes?: number;
  /** Compare each replayed output and effect list with the recorded one (default false). */
  verify?: boolean;
  /**
   * Scan the trace only as far as positions are asked for, instead of all of it in `open`
   * (marks, `mismatch` and `length`-wide queries finish the scan).
   */
  lazy?: boolean;
  /** The state before event 1 (default: the empty machine). */
  initialState?: MachineState;
}

/** What a move did. `position` is where the player is now. */
export interface SeekResult {
  position: number;
  /** The position asked for (before clamping to 0..length). */
  requested: number;
  clamped: boolean;
  /** How the state was obtained: already there, a cached state, patches, or a replay. */
  via: 'none' | 'cache' | 'patches' | 'replay';
  /** The position the state was derived from. */
  from: number;
  /** Events executed to get there (stepInPlace or stepWithPatches). */
  replayed: number;
}

/** A `trace.mark` event: its name and position. */
export interface Mark {
  name: string;
  position: number;
}

/** The first event whose replayed output or effects differ from the recorded frame. */
export interface Mismatch {
  position: number;
  kind: 'output' | 'effects';
  recorded: Frame;
  replayed: { output: Output; effects: Effect[] };
}

export interface CheckpointInfo {
  /** The current interval (it doubles when checkpoints are thinned). */
  interval: number;
  /** Positions of the permanent checkpoints, ascending. */
  positions: readonly number[];
  /** Approximate bytes they keep that the previous checkpoint does not share. */
  retainedBytes: number;
  /** How far the forward scan has gone. */
  scanned: number;
}

interface WindowEntry {
  patches: Patch[];
  inversePatches: Patch[];
}

/** A FrameSource over frames held in memory. */
export function arrayFrameSource(frames: readonly Frame[]): FrameSource {
  return {
    length: frames.length,
    frame(position: number): Frame {
      const frame = frames[position - 1];
      if (!frame || !Number.isInteger(position))
        throw new RangeError(`no frame #${position} (1..${frames.length})`);
      return frame;
    },
  };
}

const hashes = new WeakMap<object, string>();

/** `stateHash`, memoized per (immutable) state object. */
export function cachedStateHash(state: MachineState): string {
  let hash = hashes.get(state);
  if (hash === undefined) {
    hash = stateHash(state);
    hashes.set(state, hash);
  }
  return hash;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Largest element of the ascending array `xs` that is ≤ `x`, or undefined. */
function floorOf(xs: readonly number[], x: number): number | undefined {
  let lo = 0;
  let hi = xs.length - 1;
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) {
      found = xs[mid];
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

export class Player {
  /** Number of events; positions run from 0 to `length`. */
  readonly length: number;
  readonly registry: Registry;
  private readonly source: FrameSource;
  private readonly verifyOutputs: boolean;
  private readonly denseInterval: number;
  private readonly stepBackChunk: number;
  private readonly budget: number;
  private interval: number;

  // Forward scan (the open pass).
  private readonly scan: { working: WorkingCopy; position: number; last: MachineState };
  private readonly markList: Mark[] = [];
  private firstMismatch: Mismatch | undefined;

  // Known states.
  private readonly checkpointPositions: number[] = [];
  private readonly checkpoints = new Map<number, { state: MachineState; bytes: number }>();
  private retained = 0;
  private readonly volatile = new Map<number, MachineState>();
  /** The position the latest materialization aimed at: cache eviction keeps states near it. */
  private focus = 0;

  // The cursor and the patch window: entries[i] belongs to event windowStart + 1 + i.
  private cursor = 0;
  private current: MachineState;
  private windowStart = 0;
  private window: WindowEntry[] = [];
  private chunk = 0;
  private lastChanges: { position: number; state: MachineState; changes: DiffEntry[] } | undefined;

  private constructor(source: FrameSource, options: PlayerOptions) {
    this.source = source;
    this.length = source.length;
    this.registry = options.registry ?? defaultRegistry();
    this.verifyOutputs = options.verify ?? false;
    this.interval = positiveInteger(
      options.checkpointInterval,
      DEFAULT_CHECKPOINT_INTERVAL,
      'checkpointInterval',
    );
    this.denseInterval = positiveInteger(options.denseInterval, DEFAULT_DENSE_INTERVAL, 'denseInterval');
    this.stepBackChunk = positiveInteger(options.stepBackChunk, DEFAULT_STEP_BACK_CHUNK, 'stepBackChunk');
    this.budget = options.checkpointBudgetBytes ?? DEFAULT_CHECKPOINT_BUDGET_BYTES;
    const initial = freezeState(cloneState(options.initialState ?? emptyMachine()));
    this.addCheckpoint(0, initial, 0);
    this.current = initial;
    this.scan = { working: new WorkingCopy(this.registry, initial), position: 0, last: initial };
  }

  /**
   * Opens `source` (or an array of frames) at position 0. Unless `lazy`, scans the whole trace
   * once, leaving checkpoints, marks and (with `verify`) the first mismatch.
   */
  static open(source: FrameSource | readonly Frame[], options: PlayerOptions = {}): Player {
    const player = new Player(
      Array.isArray(source) ? arrayFrameSource(source) : (source as FrameSource),
      options,
    );
    if (!options.lazy) player.scanTo(player.length);
    return player;
  }

  /** The current position (0..length). */
  get position(): number {
    return this.cursor;
  }

  /** The frozen state at the current position. */
  get state(): MachineState {
    return this.current;
  }

  /** `stateHash` of the current state. */
  get hash(): string {
    return cachedStateHash(this.current);
  }

  /** The first replayed output or effect list that differs from the trace (needs `verify`). */
  get mismatch(): Mismatch | undefined {
    this.scanTo(this.length);
    return this.firstMismatch;
  }

  /** The recorded frame of event `position` (1..length). */
  frame(position: number): Frame {
    this.checkPosition(position, 1);
    return this.source.frame(position);
  }

  /** The frame of the event that led to the current position; undefined at position 0. */
  currentFrame(): Frame | undefined {
    return this.cursor === 0 ? undefined : this.source.frame(this.cursor);
  }

  /** Moves to `position`, clamped to 0..length. */
  seek(position: number): SeekResult {
    if (Number.isNaN(position)) throw new RangeError('seek to NaN');
    const target = Math.min(this.length, Math.max(0, Math.trunc(position)));
    const base = { requested: position, clamped: target !== position };
    const from = this.cursor;
    if (target === from) return { ...base, position: target, via: 'none', from, replayed: 0 };
    if (Math.abs(target - from) <= PATCH_WALK_MAX && this.windowCovers(from, target)) {
      this.current = this.walkPatches(this.current, from, target);
      this.cursor = target;
      return { ...base, position: target, via: 'patches', from, replayed: 0 };
    }
    const got = this.materialize(target);
    this.current = got.state;
    this.cursor = target;
    return { ...base, position: target, ...got.how };
  }

  /** Moves `count` events forward (default 1), stopping at the end. */
  step(count = 1): SeekResult {
    const from = this.cursor;
    const target = Math.min(this.length, from + Math.max(0, Math.trunc(count)));
    if (target - from > PATCH_WALK_MAX && !this.windowCovers(from, target)) return this.seek(from + count);
    let state = this.current;
    let replayed = 0;
    for (let n = from + 1; n <= target; n++) {
      const entry = this.windowEntry(n);
      if (entry) {
        state = applyPatches(state, entry.patches);
      } else {
        const r = stepWithPatches(state, this.source.frame(n).event, this.registry);
        this.appendWindow(n, { patches: r.patches, inversePatches: r.inversePatches });
        state = r.state;
        replayed++;
      }
    }
    this.current = state;
    this.cursor = target;
    return {
      position: target,
      requested: from + count,
      clamped: target !== from + count,
      via: target === from ? 'none' : replayed > 0 ? 'replay' : 'patches',
      from,
      replayed,
    };
  }

  /** Alias of `step`. */
  next(count = 1): SeekResult {
    return this.step(count);
  }

  /** Moves `count` events back (default 1) by applying inverse patches, stopping at 0. */
  stepBack(count = 1): SeekResult {
    const from = this.cursor;
    const target = Math.max(0, from - Math.max(0, Math.trunc(count)));
    if (from - target > PATCH_WALK_MAX && !this.windowCovers(target, from)) return this.seek(from - count);
    let state = this.current;
    let replayed = 0;
    for (let n = from; n > target; n--) {
      if (!this.windowEntry(n)) replayed += this.deriveWindow(n);
      state = applyPatches(state, this.windowEntry(n)!.inversePatches);
    }
    this.current = state;
    this.cursor = target;
    return {
      position: target,
      requested: from - count,
      clamped: target !== from - count,
      via: target === from ? 'none' : 'patches',
      from,
      replayed,
    };
  }

  /** Alias of `stepBack`. */
  prev(count = 1): SeekResult {
    return this.stepBack(count);
  }

  /**
   * What event `position` (default: the current one) changed: every state path whose value
   * differs between `position - 1` and `position`, found below the paths of its patches
   * (state-diff.ts; RAM per 8-byte word). Empty at position 0.
   */
  changes(position = this.cursor): DiffEntry[] {
    this.checkPosition(position, 0);
    if (position === 0) return [];
    const next = position === this.cursor ? this.current : this.stateAt(position);
    const cached = this.lastChanges;
    if (cached && cached.position === position && cached.state === next) return cached.changes;
    if (!this.windowEntry(position)) this.deriveWindow(position);
    const entry = this.windowEntry(position)!;
    const prev = applyPatches(next, entry.inversePatches);
    const changes = toDiffEntries(changesFromPatches(prev, next, entry.patches));
    this.lastChanges = { position, state: next, changes };
    return changes;
  }

  /** The frozen state at `position` (0..length) without moving. */
  stateAt(position: number): MachineState {
    this.checkPosition(position, 0);
    if (position === this.cursor) return this.current;
    return this.materialize(position).state;
  }

  /** `stateHash` of the state at `position`. */
  hashAt(position: number): string {
    return cachedStateHash(this.stateAt(position));
  }

  /** Every difference between the states at positions `a` and `b` (state-diff.ts). */
  diff(a: number, b: number): DiffEntry[] {
    return diffStates(this.stateAt(a), this.stateAt(b));
  }

  /** The trace's marks in order (a name may occur more than once). */
  marks(): readonly Mark[] {
    this.scanTo(this.length);
    return this.markList;
  }

  /** Position of the first mark called `name`. */
  markPosition(name: string): number | undefined {
    return this.marks().find((m) => m.name === name)?.position;
  }

  /** Seeks to the first mark called `name`; undefined (and no move) when there is none. */
  seekMark(name: string): SeekResult | undefined {
    const position = this.markPosition(name);
    return position === undefined ? undefined : this.seek(position);
  }

  /**
   * A change index (change-index.ts) over this trace whose chunks start from this player's
   * states, so it can be built in any order. Build it lazily: queries build what they need.
   */
  changeIndex(options: Pick<ChangeIndexOptions, 'chunkSize'> = {}): ChangeIndex {
    return new ChangeIndex(this.source, {
      chunkSize: options.chunkSize ?? DEFAULT_INDEX_CHUNK,
      registry: this.registry,
      stateAt: (position) => this.stateAt(position),
    });
  }

  /** Where the permanent checkpoints are and what they cost. */
  checkpointInfo(): CheckpointInfo {
    return {
      interval: this.interval,
      positions: [...this.checkpointPositions],
      retainedBytes: this.retained,
      scanned: this.scan.position,
    };
  }

  /**
   * Continues a lazy scan by up to `maxEvents` events; returns how far it has got. Lets a UI
   * finish opening a big trace in slices between frames.
   */
  scanSome(maxEvents: number): number {
    this.scanTo(Math.min(this.length, this.scan.position + Math.max(0, Math.trunc(maxEvents))));
    return this.scan.position;
  }

  // ---- internals ----

  private checkPosition(position: number, min: number): void {
    if (!Number.isInteger(position) || position < min || position > this.length) {
      throw new RangeError(`position #${position} outside ${min}..${this.length}`);
    }
  }

  /** The forward pass: stepInPlace, marks, verification, permanent checkpoints. */
  private scanTo(target: number): void {
    const scan = this.scan;
    while (scan.position < target) {
      const n = ++scan.position;
      const frame = this.source.frame(n);
      const replayed = scan.working.step(frame.event);
      if (frame.event.type === 'trace.mark') this.markList.push({ name: frame.event.name, position: n });
      if (this.verifyOutputs && !this.firstMismatch) {
        const kind = !sameOutput(frame.output, replayed.output)
          ? 'output'
          : !sameEffects(frame.effects, replayed.effects)
            ? 'effects'
            : undefined;
        if (kind) this.firstMismatch = { position: n, kind, recorded: frame, replayed };
      }
      if (n % this.interval === 0 || n === this.length) {
        const stats = { bytes: 0 };
        const state = snapshotState(scan.working.state, scan.last, stats);
        scan.working.publish();
        scan.last = state;
        this.addCheckpoint(n, state, stats.bytes);
      }
    }
  }

  private addCheckpoint(position: number, state: MachineState, bytes: number): void {
    this.checkpoints.set(position, { state, bytes });
    this.checkpointPositions.push(position);
    this.retained += bytes;
    this.volatile.delete(position);
    while (this.retained > this.budget && this.checkpointPositions.length > 2) this.thin();
  }

  /** Doubles the interval: keeps 0, multiples of the new interval and the last checkpoint. */
  private thin(): void {
    this.interval *= 2;
    const last = this.checkpointPositions[this.checkpointPositions.length - 1]!;
    const kept = this.checkpointPositions.filter((p) => p === 0 || p === last || p % this.interval === 0);
    const keep = new Set(kept);
    for (const p of this.checkpointPositions) if (!keep.has(p)) this.checkpoints.delete(p);
    this.checkpointPositions.length = 0;
    this.checkpointPositions.push(...kept);
    this.retained = 0;
    let prev: MachineState | undefined;
    for (const p of kept) {
      const cp = this.checkpoints.get(p)!;
      cp.bytes = prev ? unsharedBytes(cp.state, prev) : 0;
      this.retained += cp.bytes;
      prev = cp.state;
    }
  }

  private knownState(position: number): MachineState | undefined {
    if (position === this.cursor) return this.current;
    return this.checkpoints.get(position)?.state ?? this.volatile.get(position);
  }

  private remember(position: number, state: MachineState): void {
    if (this.checkpoints.has(position)) return;
    this.volatile.delete(position);
    this.volatile.set(position, state);
    if (this.volatile.size <= VOLATILE_MAX) return;
    // Evict the state farthest from where the player is going (ties: the older entry).
    const focus = this.focus;
    let worst: number | undefined;
    for (const p of this.volatile.keys()) {
      if (p !== position && (worst === undefined || Math.abs(p - focus) > Math.abs(worst - focus))) worst = p;
    }
    if (worst !== undefined) this.volatile.delete(worst);
  }

  /** The state at `target` from the nearest known state at or before it (fast path). */
  private materialize(target: number): {
    state: MachineState;
    how: Omit<SeekResult, 'position' | 'requested' | 'clamped'>;
  } {
    const known = this.knownState(target);
    if (known) return { state: known, how: { via: 'cache', from: target, replayed: 0 } };
    this.scanTo(target);
    this.focus = target;
    let from = floorOf(this.checkpointPositions, target)!;
    for (const p of this.volatile.keys()) if (p <= target && p > from) from = p;
    if (this.cursor <= target && this.cursor > from) from = this.cursor;
    const start = this.knownState(from)!;
    const working = new WorkingCopy(this.registry, start);
    let prev = start;
    for (let n = from + 1; n <= target; n++) {
      working.step(this.source.frame(n).event);
      if (n % this.denseInterval === 0 && n !== target && !this.checkpoints.has(n) && !this.volatile.has(n)) {
        prev = snapshotState(working.state, prev);
        working.publish();
        this.remember(n, prev);
      }
    }
    const state = snapshotState(working.state, prev);
    this.remember(target, state);
    return { state, how: { via: 'replay', from, replayed: target - from } };
  }

  private windowEntry(n: number): WindowEntry | undefined {
    return n > this.windowStart ? this.window[n - this.windowStart - 1] : undefined;
  }

  /** True when the window holds every event between positions `a` and `b`. */
  private windowCovers(a: number, b: number): boolean {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    return lo >= this.windowStart && hi <= this.windowStart + this.window.length;
  }

  /** Applies the window's patches from position `from` to `to`, in one `applyPatches`. */
  private walkPatches(state: MachineState, from: number, to: number): MachineState {
    const patches: Patch[] = [];
    if (to > from) for (let n = from + 1; n <= to; n++) patches.push(...this.windowEntry(n)!.patches);
    else for (let n = from; n > to; n--) patches.push(...this.windowEntry(n)!.inversePatches);
    return applyPatches(state, patches);
  }

  private appendWindow(n: number, entry: WindowEntry): void {
    if (n !== this.windowStart + this.window.length + 1) {
      this.windowStart = n - 1;
      this.window = [];
    }
    this.window.push(entry);
    this.trimWindow(n);
  }

  /**
   * Computes the patches of the `stepBackChunk` events ending at `end` from the nearest known
   * state (usually a dense snapshot), and joins them to the window when adjacent.
   */
  private deriveWindow(end: number): number {
    // The first derivation near a new position computes few events (a cold step back pays
    // little); extensions of the same window double up to `stepBackChunk`.
    const extending = this.window.length > 0 && this.windowStart === end;
    this.chunk = Math.min(
      this.stepBackChunk,
      extending ? Math.max(FIRST_CHUNK, this.chunk * 2) : FIRST_CHUNK,
    );
    const start = Math.max(0, end - this.chunk);
    let state = this.materialize(start).state;
    const entries: WindowEntry[] = [];
    for (let n = start + 1; n <= end; n++) {
      const r = stepWithPatches(state, this.source.frame(n).event, this.registry);
      entries.push({ patches: r.patches, inversePatches: r.inversePatches });
      state = r.state;
    }
    const windowEnd = this.windowStart + this.window.length;
    if (extending) {
      this.window = entries.concat(this.window);
      this.windowStart = start;
    } else if (this.window.length > 0 && windowEnd === start) {
      this.window.push(...entries);
    } else {
      this.window = entries;
      this.windowStart = start;
    }
    this.trimWindow(end);
    return end - start;
  }

  /** Keeps at most WINDOW_MAX entries, centred on event `focus` where possible. */
  private trimWindow(focus: number): void {
    if (this.window.length <= WINDOW_MAX) return;
    const end = this.windowStart + this.window.length;
    const lo = Math.min(Math.max(focus - WINDOW_MAX / 2, this.windowStart), end - WINDOW_MAX);
    this.window = this.window.slice(lo - this.windowStart, lo - this.windowStart + WINDOW_MAX);
    this.windowStart = lo;
  }
}
