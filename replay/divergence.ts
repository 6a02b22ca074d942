// Comparing what a replay produced with what the trace recorded. Divergence is a value, not an
// exception (style-anchors.md §8.5): the first frame whose output or effects differ, with both
// sides, or the first chunk whose end-of-chunk state hash differs.

import type { Effect, EffectValue, Output } from '../engine/events.js';
import type { Frame } from './frame.js';

export interface Divergence {
  /** 1-based position of the first event that differs. */
  position: number;
  kind: 'output' | 'effects' | 'state';
  recorded: string;
  replayed: string;
}

function sameValue(a: EffectValue | undefined, b: EffectValue | undefined): boolean {
  if (a === b) return true;
  // Recorded effects may carry small 64-bit values as numbers: compare numerically.
  return isInteger(a) && isInteger(b) && BigInt(a) === BigInt(b);
}

function isInteger(v: EffectValue | undefined): v is number | bigint {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
}

export function sameOutput(a: Output, b: Output): boolean {
  if (a.rc !== b.rc || a.value !== b.value) return false;
  if (a.x === b.x) return true;
  if (!a.x || !b.x || a.x.length !== b.x.length) return false;
  for (let i = 0; i < a.x.length; i++) if (a.x[i] !== b.x[i]) return false;
  return true;
}

export function sameEffects(a: readonly Effect[], b: readonly Effect[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const keys = Object.keys(x);
    if (keys.length !== Object.keys(y).length) return false;
    for (const key of keys) if (!sameValue(x[key], y[key])) return false;
  }
  return true;
}

/** The divergence of `replayed` from the recorded frame at `position`, if any. */
export function compareFrame(
  position: number,
  recorded: Frame,
  replayed: { output: Output; effects: Effect[] },
  describe: { output(o: Output): string; effects(e: readonly Effect[]): string },
): Divergence | undefined {
  if (!sameOutput(recorded.output, replayed.output)) {
    return {
      position,
      kind: 'output',
      recorded: describe.output(recorded.output),
      replayed: describe.output(replayed.output),
    };
  }
  if (!sameEffects(recorded.effects, replayed.effects)) {
    return {
      position,
      kind: 'effects',
      recorded: describe.effects(recorded.effects),
      replayed: describe.effects(replayed.effects),
    };
  }
  return undefined;
}
