// The two reducer paths (design.md "Performance targets"): immer drafts with patches and the
// private mutable working copy must give identical states, outputs and effects for every event
// of any valid sequence; patches and inverse patches must be exact.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneState, freezeState } from '../../engine/clone.js';
import { stateHash } from '../../engine/hash.js';
import { initialState } from '../../engine/state.js';
import { step, stepInPlace } from '../../engine/step.js';
import { defaultRegistry } from '../../replay/machine.js';
import { eventsArb, generateEvents, recordFrames } from '../helpers/arbitrary-events.js';
import { expectAllReplayable } from '../helpers/expect-replayable.js';

const registry = defaultRegistry();

describe('stepWithPatches, step and stepInPlace agree', () => {
  it('on every event of random sequences (with exact patches and inverse patches)', () => {
    fc.assert(
      fc.property(eventsArb({ maxLength: 40, deviceCalls: true }), (events) => {
        expectAllReplayable(freezeState(cloneState(initialState())), events, registry);
      }),
      { numRuns: 150 },
    );
  });

  it('over a long generated stream, state by state', () => {
    const events = generateEvents(11, 3000);
    const working = cloneState(initialState());
    let state = freezeState(cloneState(initialState()));
    for (const [i, event] of events.entries()) {
      const a = step(state, event, registry);
      const b = stepInPlace(working, event, registry);
      expect(b.output, `output of #${i + 1}`).toEqual(a.output);
      expect(b.effects, `effects of #${i + 1}`).toEqual(a.effects);
      state = a.state;
      if (i % 100 === 99) expect(stateHash(working), `state after #${i + 1}`).toBe(stateHash(state));
    }
    expect(stateHash(working)).toBe(stateHash(state));
  });
});

describe('test helpers', () => {
  it('generateEvents is deterministic and starts with vm.create', () => {
    const a = generateEvents(5, 500);
    expect(a).toEqual(generateEvents(5, 500));
    expect(a).toHaveLength(500);
    expect(a[0]!.type).toBe('vm.create');
    expect(generateEvents(6, 500)).not.toEqual(a);
  });

  it('recordFrames records what stepInPlace returned', () => {
    const events = generateEvents(5, 200);
    const frames = recordFrames(events, registry);
    expect(frames.map((f) => f.event)).toEqual(events);
    let state = freezeState(cloneState(initialState()));
    for (const frame of frames) {
      const r = step(state, frame.event, registry);
      expect(r.output).toEqual(frame.output);
      expect(r.effects).toEqual(frame.effects);
      state = r.state;
    }
  });

  it('eventsArb always starts with vm.create', () => {
    fc.assert(
      fc.property(eventsArb(), (events) => {
        expect(events[0]!.type).toBe('vm.create');
      }),
      { numRuns: 50 },
    );
  });
});
