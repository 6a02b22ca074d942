// (d) The change index against brute force: for random traces and random paths, the positions
// it lists are exactly those where the value at the path differs between n-1 and n.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneState, freezeState } from '../../engine/clone.js';
import { initialState, type MachineState } from '../../engine/state.js';
import { step } from '../../engine/step.js';
import { ChangeIndex } from '../../replay/change-index.js';
import { defaultRegistry } from '../../replay/machine.js';
import { arrayFrameSource, Player } from '../../replay/player.js';
import { deepEqual } from '../../replay/state-diff.js';
import { formatPath, type PathSegment, valueAt } from '../../replay/state-path.js';
import { eventsArb, recordFrames } from '../helpers/arbitrary-events.js';

const registry = defaultRegistry();

/** Every path in `value` (RAM pages: the page, its first and last words, and nonzero words). */
function collectPaths(value: unknown, path: PathSegment[], out: Set<string>): void {
  out.add(formatPath(path));
  if (typeof value !== 'object' || value === null) return;
  if (value instanceof Uint8Array) {
    for (let offset = 0; offset < value.length; offset += 8) {
      const word = valueAt(value, [offset]);
      if (offset === 0 || offset === value.length - 8 || word !== 0n) out.add(formatPath([...path, offset]));
    }
    return;
  }
  for (const key of Object.keys(value)) {
    collectPaths(
      (value as Record<string, unknown>)[key],
      [...path, Array.isArray(value) ? Number(key) : key],
      out,
    );
  }
}

/** Paths no state has, or only some do. */
const EXTRA_PATHS = [
  'vms[1]',
  'vms[1].vcpus[0].x[0]',
  'vms[0].vcpus[3].pc',
  'vms[0].vcpus[0].x[31]',
  'vms[0].ram[0][0][8]',
  'vms[0].ram[0][1]',
  'vms[0].ram[0][0][3]',
  'vms[0].ram[511][511][4088]',
  'vms[0].ram[0]',
  'vms[0].nothing.here',
  'current.deeper',
];

function bruteForce(states: readonly MachineState[], path: string): number[] {
  const out: number[] = [];
  for (let n = 1; n < states.length; n++) {
    if (!deepEqual(valueAt(states[n - 1], path), valueAt(states[n], path))) out.push(n);
  }
  return out;
}

describe('ChangeIndex properties', () => {
  it('(d) changes, lastChangeBefore and nextChangeAfter agree with brute force', () => {
    fc.assert(
      fc.property(
        eventsArb({ minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 10 }),
        fc.boolean(),
        fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        (events, chunkSize, withPlayer, picks, at) => {
          const frames = recordFrames(events, registry);
          const states = [freezeState(cloneState(initialState()))];
          for (const frame of frames)
            states.push(step(states[states.length - 1]!, frame.event, registry).state);
          const candidates = new Set<string>(EXTRA_PATHS);
          for (const state of states) collectPaths(state, [], candidates);
          const all = [...candidates].sort();
          // Half the picks among paths that change at all (found by brute force), half anywhere.
          const changing = all.filter((path) => bruteForce(states, path).length > 0);
          const pools = [changing.length > 0 ? changing : all, all];
          const paths = picks.map((p, i) => {
            const pool = pools[i % 2]!;
            return pool[p % pool.length]!;
          });

          const index = withPlayer
            ? Player.open(frames, { checkpointInterval: 3 }).changeIndex({ chunkSize })
            : new ChangeIndex(arrayFrameSource(frames), { chunkSize });
          const position = at % (frames.length + 2);
          // Point queries first, so chunks get built out of order (with the player) or partially.
          for (const path of paths) {
            const expected = bruteForce(states, path);
            const before = expected.filter((n) => n < position);
            expect(index.lastChangeBefore(path, position), `last ${path} < ${position}`).toBe(
              before[before.length - 1],
            );
            expect(index.nextChangeAfter(path, position), `next ${path} > ${position}`).toBe(
              expected.find((n) => n > position),
            );
          }
          for (const path of paths) expect(index.changes(path), path).toEqual(bruteForce(states, path));
          expect(index.complete).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('every changed leaf path of every event is found', () => {
    fc.assert(
      fc.property(eventsArb({ minLength: 1, maxLength: 40 }), (events) => {
        const frames = recordFrames(events, registry);
        const player = Player.open(frames);
        const index = player.changeIndex({ chunkSize: 7 });
        for (let n = 1; n <= frames.length; n++) {
          for (const change of player.changes(n)) expect(index.changes(change.path)).toContain(n);
        }
      }),
      { numRuns: 60 },
    );
  });
});
