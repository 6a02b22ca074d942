// The two reducer paths (design.md "Performance targets"): immer drafts with patches and the
// private mutable working copy must give identical states, outputs and effects for every event
// of any valid sequence; patches and inverse patches must be exact.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneState, freezeState } from '../../engine/clone.js';
import type { EngineEvent } from '../../engine/events.js';
import { stateHash } from '../../engine/hash.js';
import { emptyRegistry } from '../../engine/registry.js';
import { initialState } from '../../engine/state.js';
import { step, stepInPlace } from '../../engine/step.js';
import { WorkingCopy } from '../../engine/working-copy.js';
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

describe('WorkingCopy hashing', () => {
  it('a hash taken between in-place stores of one page never goes stale', () => {
    const events: EngineEvent[] = [
      { type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: true },
      { type: 'mem.write', addr: 0x4000_0000n, value: 1n, size: 1 },
      { type: 'mem.write', addr: 0x4000_0001n, value: 2n, size: 1 },
      { type: 'mem.write', addr: 0x4000_0001n, value: 0n, size: 1 },
    ];
    /** The hash after the first n events by the immer path (fresh pages every store). */
    const immerHash = (n: number) => {
      let state = initialState();
      for (const event of events.slice(0, n)) state = step(state, event, emptyRegistry()).state;
      return stateHash(state);
    };
    const machine = new WorkingCopy(emptyRegistry());
    const hashes: string[] = [];
    for (const event of events) {
      machine.step(event);
      hashes.push(machine.hash());
    }
    expect(hashes).toEqual([1, 2, 3, 4].map(immerHash));
    expect(hashes[2]).not.toBe(hashes[1]);
    expect(hashes[3]).toBe(hashes[1]);
    // The page was hashed (digest cached) and written in place since: a snapshot's hash is fresh.
    expect(stateHash(machine.snapshot())).toBe(immerHash(4));
  });
});

describe('effects per event', () => {
  it('stay within what a trace can record: the rest is counted in engine.effects-dropped', () => {
    const base = emptyRegistry();
    const noisy = {
      ...base,
      hypercalls: [
        {
          name: 'noisy',
          first: 0x1234,
          last: 0x1234,
          call(
            _vm: unknown,
            vcpu: { x: bigint[] },
            _id: number,
            ctx: { emit(e: { type: string; n: number }): void },
          ) {
            for (let n = 0; n < 1000; n++) ctx.emit({ type: 'test.noise', n });
            vcpu.x[0] = 0n;
          },
        },
      ],
    } as unknown as typeof base;
    const machine = new WorkingCopy(noisy);
    machine.step({ type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: false });
    machine.step({ type: 'vcpu.create', vcpu: 0 });
    const { effects } = machine.step({ type: 'guest.hvc', vcpu: 0, args: [0x1234n, 0n, 0n, 0n, 0n, 0n] });
    expect(effects).toHaveLength(256);
    expect(effects[254]).toEqual({ type: 'test.noise', n: 254 });
    expect(effects[255]).toEqual({ type: 'engine.effects-dropped', count: 745 });
    const immer = step(
      step(
        step(
          initialState(),
          { type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: false },
          noisy,
        ).state,
        { type: 'vcpu.create', vcpu: 0 },
        noisy,
      ).state,
      { type: 'guest.hvc', vcpu: 0, args: [0x1234n, 0n, 0n, 0n, 0n, 0n] },
      noisy,
    );
    expect(immer.effects).toEqual(effects);
  });
});
