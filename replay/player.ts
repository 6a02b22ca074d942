// The time-travel player (design.md "Time travel"): random access to the state after any event
// of a trace, stepping both ways, what each event changed, and diffs between positions.
//
// Positions are event indexes: position n is the state after event n, position 0 the initial
// state. How a state is obtained:
//
// - Checkpoints. `Player.open` makes one forward pass on a private working copy (the in-place
//   path, `stepInPlace`, no immer, no verification unless asked) and keeps a permanent
//   checkpoint every `checkpointInterval` events. Most are *delta* checkpoints (snapshot.ts):
//   the state without RAM, frozen and sharing every unchanged subtree with the previous one,
//   plus the RAM words that changed since the previous checkpoint, packed in one Int32Array;
//   now and then (`deltaChain`) a *base* keeps the full state, sharing unchanged pages with
//   the previous base. A checkpoint of a guest that stores all over a 1 MiB working set thus
//   costs ≈ 20 KiB instead of ≈ 1 MiB, and between delta checkpoints the pass writes its pages
//   in place instead of copying each one after every checkpoint. When the checkpoints' retained
//   size passes `checkpointBudgetBytes` every other one is dropped (its delta merged into the
//   next) and the interval doubles (rr thins its checkpoints the same way).
// - Seek. From the nearest known state at or before the target (a base, a cached state, the
//   current one, or a delta checkpoint rebuilt from the base before it and the deltas since)
//   the player replays in place, leaves a dense snapshot at the last multiple of
//   `denseInterval` before the target and at the start of the second step-back derivation,
//   and replays the last few events with patches, so it lands with the step-back window warm.
//   Seeks of a few events inside the patch window apply patches instead.
// - Step forward / step back. A window of recent events keeps each event's immer patches and
//   inverse patches (`stepWithPatches`). Stepping back applies the event's inverse patches to
//   the current state; when the window does not cover it, the player re-derives the
//   `stepBackChunk` events before the cursor from the nearest dense snapshot (leaving dense
//   snapshots on the way), so each chunk is paid once and repeated stepping back costs one
//   `applyPatches` per event (amortised O(1)). Stepping forward applies forward patches or
//   computes them, extending the window.
//
// Every state the player hands out is deep-frozen (RAM pages excepted: they are immutable by
// convention). Nothing here reads a clock: the intervals are constants chosen by measurement.
//
// Opening is one pass over the whole trace (≈ 1.3 s for a million events on the box below, most
// of it decoding and replaying); a UI that must show something sooner opens with `lazy: true`,
// shows position 0 and calls `scanSome` between frames.

import { applyPatches, type Patch } from 'immer';
import { cloneState, freezeState } from '../engine/clone.js';
import type { Effect, EngineEvent, Output } from '../engine/events.js';
import { stateHash } from '../engine/hash.js';
import { PageOwnership } from '../engine/ram.js';
import type { Registry } from '../engine/registry.js';
import { initialState as emptyMachine, type MachineState } from '../engine/state.js';
import { stepInPlace, stepWithPatches } from '../engine/step.js';
import { ChangeIndex, type ChangeIndexOptions, DEFAULT_INDEX_CHUNK } from './change-index.js';
import { sameEffects, sameOutput } from './divergence.js';
import type { Frame, FrameSource } from './frame.js';
import { defaultRegistry } from './machine.js';
import {
  applyRamDelta,
  captureRamRefs,
  mergeRamDeltas,
  RamDeltaTracker,
  ramBytes,
  slabAllocator,
  snapshotSkeleton,
  snapshotState,
  unsharedBytes,
} from './snapshot.js';
import { changesFromPatches, type DiffEntry, diffStates, toDiffEntries } from './state-diff.js';

/**
 * Events between permanent checkpoints, before any thinning. Chosen by measurement (scratch
 * benchmark, Node 20 on this project's 2-core box shared with other jobs, load 2–3;
 * `workload(1, 1_000_000)` from bench/workload.ts recorded and read back with `readTrace`:
 * 4 vCPUs, 40% RAM stores over 256 hot pages, so every interval rewrites ~all of them; 500
 * random seeks, then 10 step-backs from each of 50 random positions; best of several runs):
 *
 * | interval | retained | open | seek p50 | seek p99 | step back p99 | resident after open |
 * |---|---|---|---|---|---|---|
 * | 2,048 | 24 MiB | 1.2–1.5 s | 2.2–2.6 ms | 16–21 ms | 0.15–0.25 ms | 165–175 MB |
 * | 4,096 | 15 MiB | 1.1–1.3 s | 2.8–3.1 ms | 17–23 ms | 0.15–0.25 ms | 155–165 MB |
 *
 * (1,024 with a base every 16 was slower to open, 2.4–3.2 s for twice the deltas to encode, kept
 * 62 MiB and had no better tail.) With full checkpoints instead of deltas, 2,048 would keep
 * ≈ 460 MiB on this stream (the previous player thinned to 4,096: 245 MiB, 415 MB resident).
 *
 * A seek is decoding the target's chunk (≈ 0.7 ms), rebuilding a delta checkpoint (≈ 0.4–0.6 ms,
 * ≈ 256 page copies), replaying ≤ 2,048 events in place (≈ 1 µs each), three snapshots and
 * `SEEK_WINDOW` events with patches. The tail is GC and the box's other jobs (at load ≥ 3 the
 * p99 reaches 30–50 ms, with 70 ms seeks that saw no GC at all). Decoding a 4,096-event chunk
 * allocates ≈ 1.3 MB of frames that the reader's cache keeps alive across scavenges (decoding
 * 500 random chunks alone costs 35–75 scavenges of 10–25 ms here) and ≈ 0.6 MB directly in old
 * space, which brings a mark-compact every 30–60 seeks.
 */
export const DEFAULT_CHECKPOINT_INTERVAL = 2048;
/** Dense snapshots left behind by seeks: bounds the replay before a step-back chunk (≈ 0.3 ms). */
export const DEFAULT_DENSE_INTERVAL = 256;
/**
 * Most events whose patches one step-back derivation computes. `stepWithPatches` costs
 * 40–80 µs per event on the stream above (a RAM store copies its page and block record), so 8
 * events plus the replay from a dense snapshot keep a derivation near 1 ms (p50 0.7 ms, p90
 * 3 ms at load 3 when stepping back 100 events from random positions). A seek computes the
 * patches of its last `SEEK_WINDOW` events and keeps the state where the next derivation
 * starts, so the first 12 step-backs after a seek replay nothing and the 13th only 8 events.
 */
export const DEFAULT_STEP_BACK_CHUNK = 8;
/**
 * Retained size of permanent checkpoints beyond which they are thinned (interval doubled). The
 * 1M-event stream above keeps ≈ 24 MiB (≈ 20 KiB per delta checkpoint, ≈ 1 MiB per base);
 * the budget bounds traces whose RAM churns far more.
 */
export const DEFAULT_CHECKPOINT_BUDGET_BYTES = 64 * 1024 * 1024;

/**
 * Most delta checkpoints between two bases: bounds the deltas a rebuild applies (≈ 20 µs each
 * on the stream above) at the cost of one full state per 32 checkpoints.
 */
export const MAX_CHAIN = 32;
/**
 * A new base is also due when the deltas since the last one add up to the state's RAM (and at
 * least this much): a rebuild then applies at most about one state's worth of words.
 */
const MIN_BASE_GAP_BYTES = 256 * 1024;

/** Events in the first step-back derivation at a new position (then 2×, 4×… up to the chunk). */
const FIRST_CHUNK = 4;
/**
 * Events before its target whose patches a seek computes, so that stepping back right after a
 * seek replays nothing for a while (the usual way to look at how a state came about).
 */
const SEEK_WINDOW = 12;
/** Most events kept in the patch window. */
const WINDOW_MAX = 4096;
/** Most dense snapshots and recent results kept besides the permanent checkpoints. */
const VOLATILE_MAX = 32;
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
  /** Thin permanent checkpoints above this retained size (default 64 MiB). */
  checkpointBudgetBytes?: number;
  /**
   * Most checkpoints in a row that keep only RAM deltas before one keeps the full state
   * (default 32; see `MAX_CHAIN`).
   */
  deltaChain?: number;
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

/**
 * A permanent checkpoint: a base keeps the full state; a delta checkpoint keeps a skeleton (the
 * state without RAM) and the RAM words that changed since the previous checkpoint.
 */
interface Checkpoint {
  state: MachineState;
  delta: Int32Array | undefined;
  /** Approximate bytes kept that the previous checkpoint does not share. */
  bytes: number;
}

/**
 * A private mutable state replayed in place (`stepInPlace`), and the RAM pages it may write
 * in place because it made them and has not handed them out (engine/working-copy.ts does the
 * same; here the pages a checkpoint reconstruction made can join the set).
 */
class Scratch {
  owned = new PageOwnership();

  constructor(
    private readonly registry: Registry,
    readonly state: MachineState,
  ) {}

  step(event: EngineEvent): { output: Output; effects: Effect[] } {
    return stepInPlace(this.state, event, this.registry, this.owned);
  }

  /** Call after anything outside has taken a reference into the state's pages. */
  publish(owned = new PageOwnership()): void {
    this.owned = owned;
  }
}

/**
 * Page ownership that also notes which pages the engine may have written since `touched` was
 * last cleared: the pages it wrote in place (`mayWrite` answered yes) and the copies it made to
 * write (`adopt`), per the PageOwnership contract (engine/ram.ts).
 */
class TrackingSet extends PageOwnership {
  readonly touched = new Set<Uint8Array>();

  override mayWrite(page: Uint8Array): boolean {
    const owned = super.mayWrite(page);
    if (owned) this.touched.add(page);
    return owned;
  }

  override adopt(page: Uint8Array): void {
    this.touched.add(page);
    super.adopt(page);
  }
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

/** Index of the largest element of the ascending array `xs` that is ≤ `x`, or -1. */
function floorIndex(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) {
      found = mid;
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
  private readonly maxChain: number;
  private interval: number;

  // Forward scan (the open pass).
  private readonly scan: {
    working: Scratch;
    position: number;
    /** The latest checkpoint's state (skeleton or full) and the latest base. */
    last: MachineState;
    base: MachineState;
    /** The scan's RAM since the latest checkpoint, for the next delta. */
    tracker: RamDeltaTracker;
    owned: TrackingSet;
    /** Delta bytes and delta checkpoints since the latest base; RAM size at the latest checkpoint. */
    sinceBase: number;
    chain: number;
    ramBytes: number;
    /**
     * What thinning dropped after the last kept checkpoint (the scan was past it): the merged
     * deltas since then, or `broken` when a dropped base cut the chain (the next one is a base).
     */
    carry: { delta: Int32Array | undefined; broken: boolean } | undefined;
  };
  private readonly markList: Mark[] = [];
  private firstMismatch: Mismatch | undefined;

  // Known states.
  private readonly checkpointPositions: number[] = [];
  private readonly checkpoints = new Map<number, Checkpoint>();
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
    this.maxChain = options.deltaChain ?? MAX_CHAIN;
    if (!Number.isInteger(this.maxChain) || this.maxChain < 0)
      throw new RangeError(`deltaChain must be a non-negative integer, got ${options.deltaChain}`);
    const initial = freezeState(cloneState(options.initialState ?? emptyMachine()));
    this.addCheckpoint(0, { state: initial, delta: undefined, bytes: 0 });
    this.current = initial;
    const working = new Scratch(this.registry, cloneState(initial));
    const owned = new TrackingSet();
    working.publish(owned);
    this.scan = {
      working,
      position: 0,
      last: initial,
      base: initial,
      tracker: new RamDeltaTracker(working.state),
      owned,
      sinceBase: 0,
      chain: 0,
      ramBytes: ramBytes(initial),
      carry: undefined,
    };
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
    const got = this.materialize(target, 'seek');
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
      if (n % this.interval === 0 || n === this.length) this.scanCheckpoint(n);
    }
  }

  /** A permanent checkpoint at the scan's position: a delta one unless a base is due. */
  private scanCheckpoint(n: number): void {
    const scan = this.scan;
    const working = scan.working.state;
    const carry = scan.carry;
    scan.carry = undefined;
    const baseDue =
      carry?.broken ||
      scan.chain >= this.maxChain ||
      scan.sinceBase >= Math.max(scan.ramBytes, MIN_BASE_GAP_BYTES);
    const owned = scan.owned;
    const encoded = baseDue
      ? undefined
      : scan.tracker.delta(
          working,
          (page) => owned.touched.has(page),
          (page) => owned.owns(page),
        );
    if (encoded && carry?.delta) encoded.delta = mergeRamDeltas(carry.delta, encoded.delta);
    const stats = { bytes: 0 };
    let checkpoint: Checkpoint;
    if (encoded) {
      const state = snapshotSkeleton(working, scan.last, stats);
      checkpoint = { state, delta: encoded.delta, bytes: stats.bytes + encoded.delta.byteLength };
      scan.sinceBase += encoded.delta.byteLength;
      scan.chain++;
      scan.ramBytes = encoded.ramBytes;
      // The skeleton holds no page: the working copy keeps writing its pages in place.
      owned.touched.clear();
    } else {
      const state = snapshotState(working, scan.base, stats);
      checkpoint = { state, delta: undefined, bytes: stats.bytes };
      scan.base = state;
      scan.sinceBase = 0;
      scan.chain = 0;
      scan.ramBytes = ramBytes(state);
      // The base shares every page: from now on stores copy first.
      scan.owned = new TrackingSet();
      scan.working.publish(scan.owned);
      scan.tracker.restart(working);
    }
    scan.last = checkpoint.state;
    this.addCheckpoint(n, checkpoint);
  }

  private addCheckpoint(position: number, checkpoint: Checkpoint): void {
    this.checkpoints.set(position, checkpoint);
    this.checkpointPositions.push(position);
    this.retained += checkpoint.bytes;
    if (!checkpoint.delta) this.volatile.delete(position);
    while (this.retained > this.budget && this.checkpointPositions.length > 2) this.thin();
  }

  /**
   * Doubles the interval: keeps 0, multiples of the new interval and the end of the trace. The
   * deltas of dropped checkpoints merge into the next kept one (or, after the last kept one, into
   * the scan's next); a kept delta checkpoint whose chain ran through a dropped base becomes a base.
   */
  private thin(): void {
    this.interval *= 2;
    const old = this.checkpointPositions;
    const keep = (p: number) => p === 0 || p === this.length || p % this.interval === 0;
    // Promotions first, while the old chains still stand.
    const promoted = new Map<number, MachineState>();
    let droppedBase = false;
    for (const p of old) {
      const cp = this.checkpoints.get(p)!;
      if (!keep(p)) {
        if (!cp.delta) droppedBase = true;
        continue;
      }
      if (cp.delta && droppedBase) promoted.set(p, snapshotState(this.reconstruct(p).state));
      droppedBase = false;
    }
    const kept: number[] = [];
    let pending: Int32Array | undefined;
    let broken = false;
    for (const p of old) {
      const cp = this.checkpoints.get(p)!;
      if (!keep(p)) {
        pending = cp.delta ? (pending ? mergeRamDeltas(pending, cp.delta) : cp.delta) : undefined;
        broken ||= !cp.delta;
        this.checkpoints.delete(p);
        continue;
      }
      const full = promoted.get(p);
      if (full) {
        cp.state = full;
        cp.delta = undefined;
      } else if (cp.delta && pending) {
        cp.delta = mergeRamDeltas(pending, cp.delta);
      }
      pending = undefined;
      broken = false;
      kept.push(p);
    }
    if (old[old.length - 1] !== kept[kept.length - 1]) {
      // The scan's next checkpoint follows the dropped ones (and whatever an earlier thinning left).
      const earlier = this.scan.carry;
      broken ||= earlier?.broken ?? false;
      const delta =
        earlier?.delta && pending ? mergeRamDeltas(pending, earlier.delta) : (pending ?? earlier?.delta);
      this.scan.carry = { delta: broken ? undefined : delta, broken };
    }
    this.checkpointPositions.length = 0;
    this.checkpointPositions.push(...kept);
    this.retained = 0;
    let prev: MachineState | undefined;
    let base: MachineState | undefined;
    for (const p of kept) {
      const cp = this.checkpoints.get(p)!;
      cp.bytes = !prev
        ? 0
        : cp.delta
          ? cp.delta.byteLength + unsharedBytes(cp.state, prev)
          : unsharedBytes(cp.state, base ?? prev);
      this.retained += cp.bytes;
      prev = cp.state;
      if (!cp.delta) {
        base = cp.state;
        this.volatile.delete(p);
      }
    }
  }

  /** A full state known without replaying: the cursor's, a base checkpoint's or a cached one. */
  private knownState(position: number): MachineState | undefined {
    if (position === this.cursor) return this.current;
    const cp = this.checkpoints.get(position);
    if (cp && !cp.delta) return cp.state;
    return this.volatile.get(position);
  }

  private remember(position: number, state: MachineState): void {
    const cp = this.checkpoints.get(position);
    if (cp && !cp.delta) return;
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

  /**
   * The state at `target` from the nearest known state or checkpoint at or before it, replayed
   * in place. Leaves a dense snapshot at the last multiple of `denseInterval` before the target
   * (where stepping back will start from), or at every one on the way for a step-back
   * derivation (`derive`). A `seek` replays its last few events with patches instead, so it
   * lands with the step-back window warm.
   */
  private materialize(
    target: number,
    mode: 'plain' | 'seek' | 'derive' = 'plain',
  ): {
    state: MachineState;
    how: Omit<SeekResult, 'position' | 'requested' | 'clamped'>;
  } {
    const known = this.knownState(target);
    if (known) return { state: known, how: { via: 'cache', from: target, replayed: 0 } };
    this.scanTo(target);
    this.focus = target;
    let from = this.checkpointPositions[floorIndex(this.checkpointPositions, target)]!;
    let start = this.knownState(from);
    for (const [p, state] of this.volatile) {
      if (p <= target && p > from) {
        from = p;
        start = state;
      }
    }
    if (this.cursor <= target && this.cursor > from) {
      from = this.cursor;
      start = this.current;
    }
    const tail = mode === 'seek' ? Math.min(SEEK_WINDOW, target - from) : 0;
    const stop = target - tail;
    // Where the second step-back derivation after a seek will start (see deriveWindow).
    const nextStart = tail > 0 ? stop - Math.min(this.stepBackChunk, Math.max(FIRST_CHUNK, 2 * tail)) : -1;
    let state: MachineState;
    if (stop === from && start) {
      state = start;
    } else {
      const working = start ? new Scratch(this.registry, cloneState(start)) : this.reconstruct(from);
      let prev = start ?? this.checkpoints.get(from)!.state;
      const dense = this.denseInterval;
      const firstDense = mode === 'derive' ? 0 : stop - 1 - ((stop - 1) % dense);
      for (let n = from + 1; n <= stop; n++) {
        working.step(this.source.frame(n).event);
        if (((n % dense === 0 && n >= firstDense) || n === nextStart) && n !== stop && !this.knownState(n)) {
          prev = snapshotState(working.state, prev);
          working.publish();
          this.remember(n, prev);
        }
      }
      state = snapshotState(working.state, prev);
      this.remember(stop, state);
    }
    if (tail > 0) {
      const entries: WindowEntry[] = [];
      for (let n = stop + 1; n <= target; n++) {
        const r = stepWithPatches(state, this.source.frame(n).event, this.registry);
        entries.push({ patches: r.patches, inversePatches: r.inversePatches });
        state = r.state;
      }
      this.window = entries;
      this.windowStart = stop;
      this.chunk = tail;
      this.remember(target, state);
    }
    return { state, how: { via: 'replay', from, replayed: target - from } };
  }

  /**
   * The state at checkpoint `position`, mutable: the nearest full state in its chain (a base or
   * a state known at a checkpoint after it) with the RAM deltas up to `position` applied.
   */
  private reconstruct(position: number): Scratch {
    const positions = this.checkpointPositions;
    const at = floorIndex(positions, position);
    let j = at;
    let start = this.knownState(positions[j]!);
    while (!start) start = this.knownState(positions[--j]!);
    const state = cloneState(this.checkpoints.get(position)!.state);
    const tables = captureRamRefs(start);
    const made = new Map<Uint8Array, Int32Array>();
    const alloc = slabAllocator();
    for (let k = j + 1; k <= at; k++)
      applyRamDelta(tables, this.checkpoints.get(positions[k]!)!.delta!, made, alloc);
    state.vms.forEach((vm, v) => {
      vm.ram = tables[v] ?? {};
    });
    const scratch = new Scratch(this.registry, state);
    for (const page of made.keys()) scratch.owned.adopt(page);
    return scratch;
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
    let state = this.materialize(start, 'derive').state;
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
