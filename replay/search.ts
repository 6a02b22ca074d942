// Condition search over a trace (docs/conditions.md "Searching"): the next (or previous)
// position where a condition (replay/condition.ts) holds, for the terminal UI's `c` / `C` and
// `vgicrr bisect` (replay/bisect.ts).
//
// Two kinds of hit:
//
// - A state-only condition (it reads nothing but state values) is a watchpoint: a hit is a
//   position where it *becomes* true (true there, false one event before; position 0 counts
//   when true). Its truth only changes where one of its paths changed, so only the positions
//   the change index (replay/change-index.ts) lists for those paths are evaluated — on a big
//   trace most positions are never looked at.
// - Any other condition (event, output, position or `changed(…)`) is a breakpoint: every
//   position where it holds is a hit. Positions are visited one by one; the state is only
//   obtained when the evaluation reaches a state path (`&&` short-circuits), so
//   `event.type == "guest.hvc" && …` reads frames alone until an hvc.
//
// Searches run in slices bounded by a time budget so a UI stays responsive: a slice returns
// `partial` with how far it got, and the next slice continues from there.

import type { ChangeIndex } from './change-index.js';
import { type Condition, evaluateCondition, isStateOnly } from './condition.js';
import type { Player } from './player.js';
import type { PathSegment } from './state-path.js';

/** Which way a search goes. */
export type Direction = 'forward' | 'backward';

export type SearchResult =
  | { kind: 'hit'; position: number }
  /** Searched to the end (or the start) without a hit. */
  | { kind: 'none' }
  /** The budget ran out; `at` is where to continue from. */
  | { kind: 'partial'; at: number };

export interface SearchOptions {
  direction: Direction;
  /** Search strictly after (forward) or before (backward) this position. */
  from: number;
  /** Milliseconds a slice may take (default 40). */
  budgetMs?: number;
  /** Clock for the budget (default `performance.now`). */
  now?: () => number;
}

/** Positions visited between clock reads. */
const CHECK_EVERY = 64;

/**
 * One slice of a search. Moves the player's cursor while it looks (the caller seeks to the hit,
 * or back, afterwards).
 */
export function searchCondition(
  player: Player,
  index: ChangeIndex,
  condition: Condition,
  options: SearchOptions,
): SearchResult {
  const now = options.now ?? (() => performance.now());
  const deadline = now() + (options.budgetMs ?? 40);
  return isStateOnly(condition)
    ? searchEdges(player, index, condition, options, () => now() > deadline)
    : searchEach(player, index, condition, options, () => now() > deadline);
}

/** Whether `condition` holds at `position`. */
export function holdsAt(player: Player, index: ChangeIndex, condition: Condition, position: number): boolean {
  const frame = position > 0 ? player.frame(position) : undefined;
  return evaluateCondition(condition, {
    position,
    event: frame?.event,
    output: frame?.output,
    state: () => stateAt(player, position),
    changed: (segments) => position > 0 && index.changesBetween(segments, position, position).length > 0,
  });
}

/** The state at `position`, moving the cursor there (cheap for neighbouring positions). */
function stateAt(player: Player, position: number): unknown {
  const d = position - player.position;
  if (d > 0 && d <= 64) player.step(d);
  else if (d < 0 && d >= -64) player.stepBack(-d);
  else player.seek(position);
  return player.state;
}

function searchEach(
  player: Player,
  index: ChangeIndex,
  condition: Condition,
  options: SearchOptions,
  expired: () => boolean,
): SearchResult {
  const forward = options.direction === 'forward';
  const step = forward ? 1 : -1;
  let visited = 0;
  for (let q = options.from + step; q >= 0 && q <= player.length; q += step) {
    if (holdsAt(player, index, condition, q)) return { kind: 'hit', position: q };
    if (++visited % CHECK_EVERY === 0 && expired()) return { kind: 'partial', at: q };
  }
  return { kind: 'none' };
}

/** Positions in lo..hi where any of `paths` changed, ascending. */
function changePoints(index: ChangeIndex, paths: readonly PathSegment[][], lo: number, hi: number): number[] {
  const all = new Set<number>();
  for (const path of paths) for (const p of index.changesBetween(path, lo, hi)) all.add(p);
  return [...all].sort((a, b) => a - b);
}

function searchEdges(
  player: Player,
  index: ChangeIndex,
  condition: Condition,
  options: SearchOptions,
  expired: () => boolean,
): SearchResult {
  const holds = (q: number) => holdsAt(player, index, condition, q);
  const size = index.chunkSize;
  const paths = condition.statePaths;
  if (options.direction === 'forward') {
    // Between change points the value stands still: the value before a change point is the
    // value at the previous one (or at the start).
    let before = holds(options.from);
    for (let lo = options.from + 1; lo <= player.length; ) {
      const hi = Math.min(player.length, (Math.floor((lo - 1) / size) + 1) * size);
      for (const q of changePoints(index, paths, lo, hi)) {
        const value = holds(q);
        if (value && !before) return { kind: 'hit', position: q };
        before = value;
      }
      lo = hi + 1;
      if (lo <= player.length && expired()) return { kind: 'partial', at: hi };
    }
    return { kind: 'none' };
  }
  // Backward: the candidate above is a hit when the value at the next lower change point (the
  // value just before the candidate) is false.
  let above: { position: number; value: boolean } | undefined;
  for (let hi = options.from - 1; hi >= 1; ) {
    const lo = Math.max(1, Math.floor((hi - 1) / size) * size + 1);
    const points = changePoints(index, paths, lo, hi);
    for (let k = points.length - 1; k >= 0; k--) {
      const q = points[k]!;
      const value = holds(q);
      if (above?.value && !value) return { kind: 'hit', position: above.position };
      above = { position: q, value };
    }
    hi = lo - 1;
    if (hi >= 1 && expired()) return { kind: 'partial', at: above ? above.position + 1 : lo };
  }
  if (options.from <= 0) return { kind: 'none' };
  const atStart = holds(0);
  if (above?.value && !atStart) return { kind: 'hit', position: above.position };
  return atStart ? { kind: 'hit', position: 0 } : { kind: 'none' };
}

/**
 * One slice of looking for the next (or previous) change of `path` strictly after (before)
 * `from`, straight from the change index, chunk by chunk, within the time budget.
 */
export function findChange(
  index: ChangeIndex,
  path: string,
  options: SearchOptions & { length: number },
): SearchResult {
  const now = options.now ?? (() => performance.now());
  const deadline = now() + (options.budgetMs ?? 40);
  const size = index.chunkSize;
  if (options.direction === 'forward') {
    for (let lo = options.from + 1; lo <= options.length; ) {
      const hi = Math.min(options.length, (Math.floor((lo - 1) / size) + 1) * size);
      const found = index.changesBetween(path, lo, hi);
      if (found.length > 0) return { kind: 'hit', position: found[0]! };
      lo = hi + 1;
      if (lo <= options.length && now() > deadline) return { kind: 'partial', at: hi };
    }
    return { kind: 'none' };
  }
  for (let hi = options.from - 1; hi >= 1; ) {
    const lo = Math.max(1, Math.floor((hi - 1) / size) * size + 1);
    const found = index.changesBetween(path, lo, hi);
    if (found.length > 0) return { kind: 'hit', position: found[found.length - 1]! };
    hi = lo - 1;
    if (hi >= 1 && now() > deadline) return { kind: 'partial', at: lo };
  }
  return { kind: 'none' };
}
