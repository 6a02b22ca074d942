// Property tests of the player against the reference: the pure `step` from the start.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneState, freezeState } from '../../engine/clone.js';
import { stateHash } from '../../engine/hash.js';
import { initialState, type MachineState } from '../../engine/state.js';
import { step } from '../../engine/step.js';
import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';
import { Player, type PlayerOptions } from '../../replay/player.js';
import { deepEqual } from '../../replay/state-diff.js';
import { eventsArb, recordFrames } from '../helpers/arbitrary-events.js';

const registry = defaultRegistry();

function reference(frames: readonly Frame[]): { states: MachineState[]; hashes: string[] } {
  const states = [freezeState(cloneState(initialState()))];
  for (const frame of frames) states.push(step(states[states.length - 1]!, frame.event, registry).state);
  return { states, hashes: states.map((s) => stateHash(s)) };
}

const optionsArb: fc.Arbitrary<PlayerOptions> = fc.record({
  checkpointInterval: fc.integer({ min: 1, max: 16 }),
  denseInterval: fc.integer({ min: 1, max: 8 }),
  stepBackChunk: fc.integer({ min: 1, max: 6 }),
  lazy: fc.boolean(),
  // Full checkpoints every few delta ones, and budgets that force thinning (merged deltas,
  // promoted bases, a scan that continues after dropped checkpoints).
  deltaChain: fc.integer({ min: 0, max: 4 }),
  checkpointBudgetBytes: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 40_000 })),
});

type Command =
  | { op: 'seek'; at: number }
  | { op: 'step'; count: number }
  | { op: 'back'; count: number }
  | { op: 'stateAt'; at: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant('seek' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('step' as const), count: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constant('back' as const), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('stateAt' as const), at: fc.nat() }),
);

describe('Player properties', () => {
  it('(a) any mix of seeks, steps and step-backs lands on the reference state', () => {
    fc.assert(
      fc.property(
        eventsArb({ maxLength: 60 }),
        optionsArb,
        fc.array(commandArb, { minLength: 1, maxLength: 30 }),
        (events, options, commands) => {
          const frames = recordFrames(events, registry);
          const ref = reference(frames);
          const player = Player.open(frames, options);
          const positions = frames.length + 1;
          for (const c of commands) {
            const before = player.position;
            if (c.op === 'seek') {
              expect(player.seek(c.at % positions).position).toBe(c.at % positions);
            } else if (c.op === 'step') {
              expect(player.step(c.count).position).toBe(Math.min(frames.length, before + c.count));
            } else if (c.op === 'back') {
              expect(player.stepBack(c.count).position).toBe(Math.max(0, before - c.count));
            } else {
              const at = c.at % positions;
              expect(stateHash(player.stateAt(at))).toBe(ref.hashes[at]);
              expect(player.position).toBe(before);
            }
            expect(player.hash).toBe(ref.hashes[player.position]);
          }
          expect(deepEqual(player.state, ref.states[player.position])).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('(b) stepping back from any position gives exactly the state before it', () => {
    fc.assert(
      fc.property(
        eventsArb({ minLength: 1, maxLength: 50 }),
        optionsArb,
        fc.nat(),
        (events, options, seed) => {
          const frames = recordFrames(events, registry);
          const ref = reference(frames);
          const player = Player.open(frames, options);
          // Every position, in an order that mixes cold and warm step-backs.
          const order = Array.from({ length: frames.length }, (_, i) => ((i * 7 + seed) % frames.length) + 1);
          for (const n of order) {
            player.seek(n);
            player.stepBack();
            expect(player.position).toBe(n - 1);
            expect(player.hash).toBe(ref.hashes[n - 1]);
            expect(deepEqual(player.state, ref.states[n - 1])).toBe(true);
            expect(deepEqual(player.state, player.stateAt(n - 1))).toBe(true);
          }
          // And all the way down from the end in one run.
          player.seek(frames.length);
          for (let n = frames.length - 1; n >= 0; n--) {
            player.stepBack();
            expect(player.hash).toBe(ref.hashes[n]);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('changes(n) equals diff(n - 1, n), and a diff is empty exactly when the hashes are equal', () => {
    fc.assert(
      fc.property(
        eventsArb({ minLength: 1, maxLength: 50 }),
        optionsArb,
        fc.nat(),
        fc.nat(),
        (events, options, a, b) => {
          const frames = recordFrames(events, registry);
          const ref = reference(frames);
          const player = Player.open(frames, options);
          for (let n = 1; n <= frames.length; n++) expect(player.changes(n)).toEqual(player.diff(n - 1, n));
          const x = a % (frames.length + 1);
          const y = b % (frames.length + 1);
          expect(player.diff(x, y).length === 0).toBe(ref.hashes[x] === ref.hashes[y]);
        },
      ),
      { numRuns: 100 },
    );
  });
});
