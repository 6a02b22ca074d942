// `vgicrr bisect`: the first position at or after `from` where a condition (replay/condition.ts,
// docs/conditions.md) holds, found with the same search the terminal UI's `c` runs
// (replay/search.ts). A state-only condition is looked up through the change index: only the
// positions where one of its paths changed are evaluated, so the answer is exact (no monotonicity
// assumption, unlike a binary search) and a big trace is mostly never replayed. Any other
// condition (event, output, position, `changed`) is evaluated position by position, the state
// materialised only when the evaluation reaches a state path.

import type { ChangeIndex } from './change-index.js';
import type { Condition } from './condition.js';
import type { Player } from './player.js';
import { holdsAt, searchCondition } from './search.js';
import { formatPath, type PathSegment, valueAt } from './state-path.js';

export interface BisectHit {
  position: number;
  /** The state paths the condition reads and their values at `position`. */
  reads: { path: string; value: unknown }[];
}

export interface BisectOptions {
  /** First position looked at (default 0, the initial state). */
  from?: number;
  /** Called between search slices with the position reached. */
  onProgress?: (at: number, length: number) => void;
}

/**
 * The first position `p ≥ from` where `condition` holds, or undefined if it never does. Moves the
 * player's cursor (to the hit when there is one).
 */
export function bisect(
  player: Player,
  index: ChangeIndex,
  condition: Condition,
  options: BisectOptions = {},
): BisectHit | undefined {
  const from = Math.max(0, options.from ?? 0);
  if (from > player.length) return undefined;
  let position: number | undefined;
  if (holdsAt(player, index, condition, from)) position = from;
  else {
    // A state-only condition false at `from` first holds where it becomes true: the search's
    // watchpoint edge. Slices of 200 ms keep progress reports flowing on a big trace.
    let at = from;
    for (;;) {
      const result = searchCondition(player, index, condition, {
        direction: 'forward',
        from: at,
        budgetMs: 200,
      });
      if (result.kind === 'hit') {
        position = result.position;
        break;
      }
      if (result.kind === 'none') break;
      at = result.at;
      options.onProgress?.(at, player.length);
    }
  }
  if (position === undefined) return undefined;
  player.seek(position);
  const state = player.state;
  return {
    position,
    reads: condition.statePaths.map((segments) => ({
      path: formatPath(segments),
      value: readAsCondition(state, segments),
    })),
  };
}

/**
 * A path's value as the condition evaluator reads it (own properties, so `vms.length` too, and
 * u64 words below RAM bytes), for the `reads` a hit reports.
 */
function readAsCondition(root: unknown, segments: readonly PathSegment[]): unknown {
  let value = root;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null) return undefined;
    if (value instanceof Uint8Array) {
      value = valueAt(value, [segment]);
      continue;
    }
    const key = String(segment);
    if (!Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}
