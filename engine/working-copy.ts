// A private, mutable machine for bulk execution (design.md "Performance targets": the in-place
// path). Besides mutating objects in place it writes RAM pages in place once it has copied them,
// which is safe only while no one else holds those pages; so every way state leaves the working
// copy (a snapshot, a `publish`) first forgets which pages it owns. Hashing keeps them owned: a
// page's cached digest is dropped whenever the page is written in place (engine/ram.ts).

import { cloneState, freezeState } from './clone.js';
import type { Effect, EngineEvent, Output } from './events.js';
import { stateHash } from './hash.js';
import { PageOwnership } from './ram.js';
import type { Registry } from './registry.js';
import { initialState, type MachineState } from './state.js';
import { stepInPlace } from './step.js';

export class WorkingCopy {
  private owned = new PageOwnership();
  /** The live state. Read it freely; keep nothing from it without `publish()` first. */
  readonly state: MachineState;

  constructor(
    readonly registry: Registry,
    from?: MachineState,
    /** `from` is already a private copy nobody else holds (cloneState's result): use it as is. */
    adopt = false,
  ) {
    this.state = from ? (adopt ? from : cloneState(from)) : initialState();
  }

  step(event: EngineEvent): { output: Output; effects: Effect[] } {
    return stepInPlace(this.state, event, this.registry, this.owned);
  }

  /** From now on every page is shared again: stores copy before writing. */
  publish(): void {
    this.owned = new PageOwnership();
  }

  /** A frozen copy of the current state that shares RAM pages with it. */
  snapshot(): MachineState {
    this.publish();
    return freezeState(cloneState(this.state));
  }

  /** The canonical hash of the current state; pages stay owned (a write forgets their digest). */
  hash(): string {
    return stateHash(this.state);
  }
}
