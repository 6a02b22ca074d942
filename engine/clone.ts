// Private working copies of immutable states for in-place replay, and freezing them back.
// Guest RAM pages are immutable by convention, so copies share them.

import { freeze } from 'immer';
import type { MachineState } from './state.js';

function cloneValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(cloneValue);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = cloneValue((value as Record<string, unknown>)[key]);
  return out;
}

/** A deep, mutable copy of `state` that shares RAM pages. */
export function cloneState(state: MachineState): MachineState {
  return cloneValue(state) as MachineState;
}

/** Deep-freezes `state` (RAM pages excluded: immer leaves typed arrays alone) and returns it. */
export function freezeState(state: MachineState): MachineState {
  return freeze(state, true);
}
