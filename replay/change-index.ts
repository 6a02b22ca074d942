// The per-path change index (design.md "Time travel"; replay-anchors.md §5.5): "when did X
// change" answered by lookup instead of replay, as Undo's `last`, TTD's `ba` + `g-` and
// Pernosco's dataflow view answer it.
//
// Built from each event's immer patches (`stepWithPatches`): below every patched path the
// state before and after the event are diffed (state-diff.ts), so the index records what really
// changed — at leaf granularity, RAM per 8-byte word — even where immer's patches are coarser.
// Each change is filed in a trie of path segments; every node keeps the ascending positions
// whose event changed something at or below it, and the node where a subtree appeared,
// disappeared or changed kind also keeps both subtrees, so a query for a path inside them is
// answered exactly.
//
// Semantics: `changes(path)` lists the positions n (1..length) where the value at `path`
// (state-path.ts `valueAt`) is not deep-equal between the states at n-1 and n. That covers a
// change of the path itself, of anything below it, and of an ancestor that replaced it.
//
// Building is lazy and incremental, by chunks of `chunkSize` events. Chunks are built in order
// from the initial state, or in any order when `stateAt` is given (the player passes its own,
// whose checkpoints make chunk starts cheap), so a query about recent history does not wait
// for the whole trace: `lastChangeBefore` builds chunks backwards from the position until it
// finds a change, `nextChangeAfter` forwards. `buildSome(maxEvents)` advances the in-order
// build by a bounded number of events (a UI calls it between frames); `changes(path)` needs
// the whole index and builds what is missing.
//
// Speed (scratch benchmark, `generateEvents(1, 1_000_000)`, KVM core alone, 2-core box shared
// with other jobs): 12–20 k events/s, i.e. ≈ 50–85 µs per event, almost all of it immer's
// `stepWithPatches` (a RAM store ≈ 125 µs: the flat page record is copied on every store);
// the whole 1M-event index takes 50–85 s and ≈ 60 MiB of heap. Hence the laziness: with the
// player's states a "last change before the end" query builds one 1,024-event unit (≈ 50–90 ms)
// when the path changed recently.

import { cloneState, freezeState } from '../engine/clone.js';
import type { Registry } from '../engine/registry.js';
import { initialState as emptyMachine, type MachineState } from '../engine/state.js';
import { stepWithPatches } from '../engine/step.js';
import type { FrameSource } from './frame.js';
import { defaultRegistry } from './machine.js';
import { changesFromPatches, deepEqual } from './state-diff.js';
import { type PathSegment, toSegments, valueAt } from './state-path.js';

/**
 * Events per build unit: ≈ 50–90 ms of indexing (see the speed note above), the granularity of
 * `builtUpTo` and the least a backward or forward search builds before it can answer.
 */
export const DEFAULT_INDEX_CHUNK = 1024;

export interface ChangeIndexOptions {
  /** Device models to replay with (default: `defaultRegistry()`). */
  registry?: Registry;
  /** Events per build unit (default 1,024). */
  chunkSize?: number;
  /**
   * The state at any position (`player.stateAt`): lets chunks be built out of order. Without
   * it every chunk is built after the ones before it.
   */
  stateAt?: (position: number) => MachineState;
  /** The state before event 1 (default: the empty machine); ignored when `stateAt` is given. */
  initialState?: MachineState;
}

interface OpaqueChange {
  position: number;
  before: unknown;
  after: unknown;
}

interface IndexNode {
  children: Map<PathSegment, IndexNode> | undefined;
  /** Positions whose event changed something at or below this node: ascending, unique. */
  at: number[];
  /** Changes of this node's kind (appeared, disappeared, other type), ascending by position. */
  opaque: OpaqueChange[] | undefined;
}

interface Build {
  chunk: number;
  /** Last event done. */
  position: number;
  end: number;
  state: MachineState;
  at: Map<IndexNode, number[]>;
  opaque: Map<IndexNode, OpaqueChange[]>;
}

function newNode(): IndexNode {
  return { children: undefined, at: [], opaque: undefined };
}

/** Index of the first element of ascending `xs` that is ≥ `x` (xs.length if none). */
function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lowerBoundBy<T extends { position: number }>(xs: readonly T[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]!.position < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The ascending union of two ascending arrays, without duplicates. */
function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (out[out.length - 1] !== x) out.push(x);
  }
  return out;
}

/** Inserts the ascending block `block` (disjoint from `xs`'s range of it) into ascending `xs`. */
function insertBlock<T>(xs: T[], block: readonly T[], index: number): void {
  if (index === xs.length) for (const x of block) xs.push(x);
  else xs.splice(index, 0, ...block);
}

export class ChangeIndex {
  /** Number of events indexed when complete. */
  readonly length: number;
  readonly chunkSize: number;
  private readonly source: FrameSource;
  private readonly registry: Registry;
  private readonly stateAtFn: ((position: number) => MachineState) | undefined;
  private readonly root: IndexNode = newNode();
  private readonly built: Uint8Array;
  private builtCount = 0;
  private indexed = 0;
  /** Leading chunks built. */
  private prefix = 0;
  /** State at the end of the last chunk built, for building the next one without `stateAt`. */
  private tail: { position: number; state: MachineState };
  private current: Build | undefined;

  constructor(source: FrameSource, options: ChangeIndexOptions = {}) {
    this.source = source;
    this.length = source.length;
    this.registry = options.registry ?? defaultRegistry();
    this.chunkSize = options.chunkSize ?? DEFAULT_INDEX_CHUNK;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1) {
      throw new RangeError(`chunkSize must be a positive integer, got ${options.chunkSize}`);
    }
    this.stateAtFn = options.stateAt;
    this.built = new Uint8Array(Math.ceil(this.length / this.chunkSize));
    const initial = options.stateAt
      ? options.stateAt(0)
      : freezeState(cloneState(options.initialState ?? emptyMachine()));
    this.tail = { position: 0, state: initial };
  }

  /** Every position ≤ this is indexed (the in-order prefix). */
  get builtUpTo(): number {
    return Math.min(this.length, this.prefix * this.chunkSize);
  }

  /** Events indexed so far, in any chunk (progress for a UI). */
  get builtEvents(): number {
    return this.indexed;
  }

  get complete(): boolean {
    return this.builtCount === this.built.length;
  }

  /** Builds, in order, until every position ≤ `position` is indexed. */
  buildUpTo(position: number): void {
    const last = Math.min(this.length, Math.max(0, position));
    while (this.builtUpTo < last) this.buildChunk(this.prefix);
  }

  /** Builds everything. */
  buildAll(): void {
    for (let i = 0; i < this.built.length; i++) this.buildChunk(i);
  }

  /**
   * Advances the in-order build by at most `maxEvents` events (a partial chunk is resumed by the
   * next call); returns `builtUpTo`.
   */
  buildSome(maxEvents: number): number {
    let budget = Math.max(0, Math.trunc(maxEvents));
    while (budget > 0 && !this.complete) {
      if (!this.current) {
        let i = this.prefix;
        while (i < this.built.length && this.built[i]) i++;
        if (i >= this.built.length) break;
        this.current = this.startBuild(i);
      }
      budget -= this.advance(this.current, budget);
      if (this.current.position === this.current.end) this.commit(this.current);
    }
    return this.builtUpTo;
  }

  /** Positions (ascending) whose event changed `path`, something below it, or an ancestor that replaced it. */
  changes(path: string | readonly PathSegment[]): number[] {
    this.buildAll();
    return this.collect(toSegments(path), 1, this.length);
  }

  /** Like `changes`, limited to positions in `from`..`to` (building only the chunks in range). */
  changesBetween(path: string | readonly PathSegment[], from: number, to: number): number[] {
    const lo = Math.max(1, from);
    const hi = Math.min(this.length, to);
    if (lo > hi) return [];
    for (let i = this.chunkOf(lo); i <= this.chunkOf(hi); i++) this.buildChunk(i);
    return this.collect(toSegments(path), lo, hi);
  }

  /** The last position strictly before `position` whose event changed `path`. */
  lastChangeBefore(path: string | readonly PathSegment[], position: number): number | undefined {
    const segments = toSegments(path);
    const hi = Math.min(this.length, position - 1);
    for (let i = this.chunkOf(hi); hi >= 1 && i >= 0; i--) {
      this.buildChunk(i);
      const found = this.collect(segments, i * this.chunkSize + 1, Math.min(hi, (i + 1) * this.chunkSize));
      if (found.length > 0) return found[found.length - 1];
    }
    return undefined;
  }

  /** The first position strictly after `position` whose event changed `path`. */
  nextChangeAfter(path: string | readonly PathSegment[], position: number): number | undefined {
    const segments = toSegments(path);
    const lo = Math.max(1, position + 1);
    for (let i = this.chunkOf(lo); lo <= this.length && i < this.built.length; i++) {
      this.buildChunk(i);
      const found = this.collect(segments, Math.max(lo, i * this.chunkSize + 1), (i + 1) * this.chunkSize);
      if (found.length > 0) return found[0];
    }
    return undefined;
  }

  // ---- internals ----

  private chunkOf(position: number): number {
    return Math.floor((Math.max(1, position) - 1) / this.chunkSize);
  }

  private collect(segments: readonly PathSegment[], lo: number, hi: number): number[] {
    const hits: number[] = [];
    let node: IndexNode | undefined = this.root;
    for (let depth = 0; node && depth < segments.length; depth++) {
      // A kind change at an ancestor: the path changed if the values inside the two subtrees differ.
      if (node.opaque && depth > 0) {
        const rest = segments.slice(depth);
        for (let k = lowerBoundBy(node.opaque, lo); k < node.opaque.length; k++) {
          const o = node.opaque[k]!;
          if (o.position > hi) break;
          if (!deepEqual(valueAt(o.before, rest), valueAt(o.after, rest))) hits.push(o.position);
        }
      }
      node = node.children?.get(segments[depth]!);
    }
    const own = node ? node.at.slice(lowerBound(node.at, lo), lowerBound(node.at, hi + 1)) : [];
    return hits.length === 0
      ? own
      : mergeSorted(
          own,
          hits.sort((a, b) => a - b),
        );
  }

  private buildChunk(i: number): void {
    if (i < 0 || i >= this.built.length || this.built[i]) return;
    // Without `stateAt` a chunk starts where the previous one ended: build those first.
    if (!this.stateAtFn) for (let j = this.prefix; j < i; j++) this.buildChunk(j);
    if (this.built[i]) return;
    const build = this.current?.chunk === i ? this.current : this.startBuild(i);
    this.finish(build);
  }

  private finish(build: Build): void {
    this.advance(build, build.end - build.position);
    this.commit(build);
  }

  private startBuild(chunk: number): Build {
    const start = chunk * this.chunkSize;
    const state = this.tail.position === start ? this.tail.state : this.stateAtFn?.(start);
    if (!state)
      throw new Error(
        `change index: no state for position ${start} (in-order build at ${this.tail.position})`,
      );
    return {
      chunk,
      position: start,
      end: Math.min(this.length, start + this.chunkSize),
      state,
      at: new Map(),
      opaque: new Map(),
    };
  }

  /** Indexes up to `count` more events of `build`; returns how many it did. */
  private advance(build: Build, count: number): number {
    const stop = Math.min(build.end, build.position + count);
    const done = stop - build.position;
    let state = build.state;
    for (let n = build.position + 1; n <= stop; n++) {
      const r = stepWithPatches(state, this.source.frame(n).event, this.registry);
      if (r.patches.length > 0) {
        for (const change of changesFromPatches(state, r.state, r.patches))
          this.file(build, n, change.segments, change);
      }
      state = r.state;
    }
    build.state = state;
    build.position = stop;
    return done;
  }

  private file(
    build: Build,
    position: number,
    segments: readonly PathSegment[],
    change: { before: unknown; after: unknown; opaque: boolean },
  ): void {
    let node = this.root;
    this.mark(build, node, position);
    for (const segment of segments) {
      node.children ??= new Map();
      let child = node.children.get(segment);
      if (!child) {
        child = newNode();
        node.children.set(segment, child);
      }
      node = child;
      this.mark(build, node, position);
    }
    if (change.opaque) {
      let list = build.opaque.get(node);
      if (!list) {
        list = [];
        build.opaque.set(node, list);
      }
      list.push({ position, before: change.before, after: change.after });
    }
  }

  private mark(build: Build, node: IndexNode, position: number): void {
    let list = build.at.get(node);
    if (!list) {
      list = [];
      build.at.set(node, list);
    }
    if (list[list.length - 1] !== position) list.push(position);
  }

  private commit(build: Build): void {
    const first = build.chunk * this.chunkSize + 1;
    for (const [node, block] of build.at) insertBlock(node.at, block, lowerBound(node.at, first));
    for (const [node, block] of build.opaque) {
      node.opaque ??= [];
      insertBlock(node.opaque, block, lowerBoundBy(node.opaque, first));
    }
    this.built[build.chunk] = 1;
    this.builtCount++;
    this.indexed += build.end - build.chunk * this.chunkSize;
    while (this.prefix < this.built.length && this.built[this.prefix]) this.prefix++;
    if (build.end >= this.tail.position || !this.stateAtFn)
      this.tail = { position: build.end, state: build.state };
    if (this.current === build) this.current = undefined;
  }
}
