// step(state, event) → {state, output, effects}: the one way state changes.
//
// Order of processing one event (the analogue of the vgic lock ladder, vgic.c):
//   1. decode: the event is already a validated plain object (the trace reader or the
//      scenario expander made it);
//   2. KVM core (core.ts) routes it: VM/vCPU lifecycle, run state, RAM, or a device through
//      the registry (attr groups, MMIO regions, system registers, hypercalls, ONE_REG);
//   3. the device reducer mutates the draft and derives pending/routing state;
//   4. effects are collected in emission order and returned with the output.
//
// Reducers are written once, as mutations of a draft. The engine chooses what the draft is:
// an immer draft when patches are wanted (`step`), or a private mutable working copy for bulk
// replay between checkpoints (`stepInPlace`). Both give identical states (tested by hash).

import { enablePatches, type Patch, produce, produceWithPatches } from 'immer';
import { applyEvent } from './core.js';
import type { Effect, EngineEvent, Output } from './events.js';
import type { PageOwnership } from './ram.js';
import type { Registry, StepContext } from './registry.js';
import type { MachineState } from './state.js';

enablePatches();

export interface StepResult {
  state: MachineState;
  output: Output;
  effects: Effect[];
}

export interface PatchedStepResult extends StepResult {
  patches: Patch[];
  inversePatches: Patch[];
}

/**
 * Effects one event may record (the trace format's limit, replay/trace-schema.ts LIMITS.effects).
 * A guest can make one event cause more (a command queue of thousands of failing commands); the
 * rest is counted in one last `engine.effects-dropped` effect, so every event stays recordable.
 */
export const MAX_EFFECTS = 256;

function makeContext(
  registry: Registry,
  event: EngineEvent,
  machine: MachineState,
  effects: Effect[],
  ownedPages?: PageOwnership,
): StepContext {
  let dropped = 0;
  const emit = (effect: Effect) => {
    if (effects.length < MAX_EFFECTS - 1) {
      effects.push(effect);
      return;
    }
    dropped++;
    effects[MAX_EFFECTS - 1] = { type: 'engine.effects-dropped', count: dropped };
  };
  return { registry, event, machine, emit, ownedPages };
}

/** Pure: a new frozen state; `state` is untouched. */
export function step(state: MachineState, event: EngineEvent, registry: Registry): StepResult {
  const effects: Effect[] = [];
  let output: Output = {};
  const next = produce(state, (draft) => {
    output = applyEvent(draft, event, makeContext(registry, event, draft, effects));
  });
  return { state: next, output, effects };
}

/** Pure, with the immer patches that turn `state` into the result and back. */
export function stepWithPatches(
  state: MachineState,
  event: EngineEvent,
  registry: Registry,
): PatchedStepResult {
  const effects: Effect[] = [];
  let output: Output = {};
  const [next, patches, inversePatches] = produceWithPatches(state, (draft) => {
    output = applyEvent(draft, event, makeContext(registry, event, draft, effects));
  });
  return { state: next, output, effects, patches, inversePatches };
}

/**
 * Mutates `working` (a private copy from `cloneState`) in place; fastest, no patches. RAM pages
 * are still replaced on store unless `ownedPages` vouches that nobody else holds them (use
 * `WorkingCopy`, which keeps that set honest).
 */
export function stepInPlace(
  working: MachineState,
  event: EngineEvent,
  registry: Registry,
  ownedPages?: PageOwnership,
): { output: Output; effects: Effect[] } {
  const effects: Effect[] = [];
  const output = applyEvent(working, event, makeContext(registry, event, working, effects, ownedPages));
  return { output, effects };
}
