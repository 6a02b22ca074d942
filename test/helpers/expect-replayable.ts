// `expectReplayable(base, event)`: the reducer-test harness of style-anchors.md §8.7, modelled on
// immer's runPatchTests. For one event on one state it checks that
//   - `stepWithPatches`, `step` and `stepInPlace` (on a private clone) agree: same state hash,
//     same output, same effects;
//   - `base` is left untouched by all three;
//   - the patches applied to `base` give the new state, and the inverse patches applied to the
//     new state give `base` back (hash and deep equality).
// It returns the patched result so a test can go on to assert outputs and state.

import { applyPatches } from 'immer';
import { expect } from 'vitest';
import { cloneState, freezeState } from '../../engine/clone.js';
import type { EngineEvent } from '../../engine/events.js';
import { stateHash } from '../../engine/hash.js';
import type { Registry } from '../../engine/registry.js';
import type { MachineState } from '../../engine/state.js';
import { type PatchedStepResult, step, stepInPlace, stepWithPatches } from '../../engine/step.js';
import { defaultRegistry } from '../../replay/machine.js';

export function expectReplayable(
  base: MachineState,
  event: EngineEvent,
  registry: Registry = defaultRegistry(),
): PatchedStepResult {
  const frozenBase = Object.isFrozen(base) ? base : freezeState(cloneState(base));
  const baseHash = stateHash(frozenBase);

  const patched = stepWithPatches(frozenBase, event, registry);
  const plain = step(frozenBase, event, registry);
  const working = cloneState(frozenBase);
  const inPlace = stepInPlace(working, event, registry);

  const nextHash = stateHash(patched.state);
  expect(stateHash(plain.state), 'step and stepWithPatches differ').toBe(nextHash);
  expect(stateHash(working), 'stepInPlace and stepWithPatches differ').toBe(nextHash);
  expect(inPlace.output).toEqual(patched.output);
  expect(plain.output).toEqual(patched.output);
  expect(inPlace.effects).toEqual(patched.effects);
  expect(plain.effects).toEqual(patched.effects);
  expect(stateHash(frozenBase), 'base state was modified').toBe(baseHash);

  const forward = applyPatches(frozenBase, patched.patches);
  expect(stateHash(forward), 'patches do not reproduce the new state').toBe(nextHash);
  expect(forward).toEqual(patched.state);

  const back = applyPatches(patched.state, patched.inversePatches);
  expect(stateHash(back), 'inverse patches do not restore the base').toBe(baseHash);
  expect(back).toEqual(frozenBase);
  return patched;
}

/** Runs `events` through `expectReplayable` from `base`, returning the final state. */
export function expectAllReplayable(
  base: MachineState,
  events: readonly EngineEvent[],
  registry: Registry = defaultRegistry(),
): MachineState {
  let state = base;
  for (const event of events) state = expectReplayable(state, event, registry).state;
  return state;
}
