// The player's checkpoint store (replay/snapshot.ts "skeletons and RAM deltas"): deltas are
// exact word for word, including the bit patterns that compare equal as doubles (+0 / -0) or
// unequal to themselves (NaN); merged deltas equal the deltas applied in turn; and players
// whose checkpoints are mostly deltas, thinned, promoted to full ones or left behind by a lazy
// scan seek exactly.

import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneState, freezeState } from '../../engine/clone.js';
import { stateHash } from '../../engine/hash.js';
import { initialState, type MachineState } from '../../engine/state.js';
import { step } from '../../engine/step.js';
import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';
import { Player } from '../../replay/player.js';
import {
  applyRamDelta,
  captureRamRefs,
  mergeRamDeltas,
  RAM_PLACEHOLDER,
  RamDeltaTracker,
  snapshotSkeleton,
} from '../../replay/snapshot.js';
import { generateEvents, recordFrames } from '../helpers/arbitrary-events.js';

type RamTable = Record<string, Record<string, Uint8Array>>;

const PAGE = 4096;

/** Eight-byte patterns that trip comparisons of words as doubles, and some ordinary ones. */
const WORDS: readonly number[][] = [
  [0, 0, 0, 0, 0, 0, 0, 0], // +0
  [0, 0, 0, 0, 0, 0, 0, 0x80], // -0
  [0, 0, 0, 0, 0, 0, 0xf8, 0x7f], // NaN
  [1, 0, 0, 0, 0, 0, 0xf8, 0x7f], // another NaN
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // NaN, all ones
  [0, 0, 0, 0, 0, 0, 0xf0, 0x3f], // 1.0
  [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0],
];

interface Write {
  vm: number;
  block: number;
  page: number;
  offset: number;
  bytes: number[];
}

const writeArb: fc.Arbitrary<Write> = fc.record({
  vm: fc.integer({ min: 0, max: 1 }),
  block: fc.constantFrom(0, 1, 511),
  page: fc.constantFrom(0, 1, 2, 511),
  // Aligned words (the double comparisons) and any offset (runs across words).
  offset: fc.oneof(
    fc.integer({ min: 0, max: PAGE / 8 - 1 }).map((w) => w * 8),
    fc.integer({ min: 0, max: PAGE - 8 }),
  ),
  bytes: fc.oneof(
    fc.constantFrom(...WORDS),
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
  ),
});

/** What a working copy does: writes owned pages in place, copies the others first. */
class FakeWorkingCopy {
  readonly state: MachineState;
  owned = new WeakSet<Uint8Array>();
  written = new Set<Uint8Array>();

  constructor() {
    const vm = (id: number) => ({ id, ram: {} as RamTable }) as unknown as MachineState['vms'][number];
    this.state = { vms: [vm(0), vm(1)], current: 0 };
  }

  write(w: Write): void {
    const table = this.state.vms[w.vm]!.ram;
    table[w.block] ??= {};
    const block = table[w.block]!;
    let page = block[w.page];
    if (!page || !this.owned.has(page)) {
      page = page ? page.slice() : new Uint8Array(PAGE);
      block[w.page] = page;
      this.owned.add(page);
    }
    this.written.add(page);
    page.set(w.bytes, w.offset);
  }

  /** Every page is shared from now on (a full checkpoint took them). */
  publish(): void {
    this.owned = new WeakSet();
  }
}

/** A deep copy of every VM's RAM: what a checkpoint's content is checked against. */
function contentOf(state: MachineState): RamTable[] {
  return state.vms.map((vm) => {
    const table: RamTable = {};
    for (const [b, block] of Object.entries(vm.ram)) {
      table[b] = {};
      for (const [p, page] of Object.entries(block)) table[b]![p] = page.slice();
    }
    return table;
  });
}

/** '' when two RAM contents are equal, else where they first differ (deep equality of typed arrays is slow). */
function ramDifference(a: RamTable[], b: RamTable[]): string {
  if (a.length !== b.length) return `${a.length} VMs vs ${b.length}`;
  for (let v = 0; v < a.length; v++) {
    const keys = (t: RamTable) =>
      Object.entries(t)
        .flatMap(([k, block]) => Object.keys(block).map((p) => `${k}/${p}`))
        .sort();
    const ka = keys(a[v]!);
    const kb = keys(b[v]!);
    if (ka.join() !== kb.join()) return `vm ${v}: pages ${ka} vs ${kb}`;
    for (const key of ka) {
      const [k, p] = key.split('/') as [string, string];
      if (Buffer.compare(a[v]![k]![p]!, b[v]![k]![p]!) !== 0) return `vm ${v}: page ${key} differs`;
    }
  }
  return '';
}

/** Applies deltas to a copy of `from` (copying pages, never writing `from`'s). */
function applyAll(from: RamTable[], deltas: Int32Array[]): RamTable[] {
  const tables = from.map((table) => {
    const copy: RamTable = {};
    for (const [b, block] of Object.entries(table)) copy[b] = { ...block };
    return copy;
  });
  const made = new Map<Uint8Array, Int32Array>();
  for (const delta of deltas) applyRamDelta(tables, delta, made);
  return tables;
}

describe('RAM deltas', () => {
  it('turn the RAM at one checkpoint into the RAM at the next, and merge', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ writes: fc.array(writeArb, { maxLength: 40 }), publish: fc.boolean() }), {
          minLength: 1,
          maxLength: 8,
        }),
        (rounds) => {
          const working = new FakeWorkingCopy();
          const tracker = new RamDeltaTracker(working.state);
          const contents = [contentOf(working.state)];
          const deltas: Int32Array[] = [];
          for (const round of rounds) {
            for (const w of round.writes) working.write(w);
            const got = tracker.delta(
              working.state,
              (page) => working.written.has(page),
              (page) => working.owned.has(page),
            );
            expect(got).toBeDefined();
            working.written.clear();
            if (round.publish) {
              working.publish();
              tracker.restart(working.state);
            }
            const content = contentOf(working.state);
            expect(ramDifference(applyAll(contents[contents.length - 1]!, [got!.delta]), content)).toBe('');
            contents.push(content);
            deltas.push(got!.delta);
          }
          // All deltas at once, and merged pairwise from the left, reach the last content.
          const last = contents[contents.length - 1]!;
          expect(ramDifference(applyAll(contents[0]!, deltas), last)).toBe('');
          const merged = deltas.reduce((a, b) => mergeRamDeltas(a, b));
          expect(ramDifference(applyAll(contents[0]!, [merged]), last)).toBe('');
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a page rewritten with what it held is no change', () => {
    const working = new FakeWorkingCopy();
    working.write({ vm: 0, block: 0, page: 0, offset: 8, bytes: [1, 2, 3] });
    const tracker = new RamDeltaTracker(working.state);
    working.write({ vm: 0, block: 0, page: 0, offset: 8, bytes: [1, 2, 3] });
    const got = tracker.delta(
      working.state,
      (page) => working.written.has(page),
      (page) => working.owned.has(page),
    );
    expect(got!.delta.length).toBe(0);
    expect(got!.ramBytes).toBe(PAGE);
  });

  it('say when RAM changed in a way a delta cannot express', () => {
    const working = new FakeWorkingCopy();
    working.write({ vm: 0, block: 0, page: 3, offset: 0, bytes: [1] });
    const tracker = new RamDeltaTracker(working.state);
    delete working.state.vms[0]!.ram[0]![3];
    expect(
      tracker.delta(
        working.state,
        () => true,
        () => true,
      ),
    ).toBeUndefined();
    // Restarted from the state it was given: the next delta is relative to it.
    working.write({ vm: 0, block: 0, page: 4, offset: 0, bytes: [2] });
    const got = tracker.delta(
      working.state,
      () => true,
      () => true,
    );
    expect(applyAll([{ 0: {} }, {}], [got!.delta])[0]![0]![4]![0]).toBe(2);
  });

  it('skeletons leave RAM out and share everything else with the previous one', () => {
    const frames = recordFrames(generateEvents(5, 300));
    const registry = defaultRegistry();
    let state = freezeState(cloneState(initialState()));
    for (const frame of frames) state = step(state, frame.event, registry).state;
    const working = cloneState(state);
    const first = snapshotSkeleton(working);
    const second = snapshotSkeleton(working, first);
    expect(second).toBe(first);
    expect(first.vms.every((vm) => vm.ram === RAM_PLACEHOLDER)).toBe(true);
    // The working copy keeps its RAM.
    expect(captureRamRefs(working)).toEqual(captureRamRefs(state));
  });
});

describe('players with delta checkpoints', () => {
  const registry = defaultRegistry();
  const frames = recordFrames(generateEvents(11, 4000));
  const reference = (() => {
    const hashes: string[] = [];
    let state = freezeState(cloneState(initialState()));
    hashes.push(stateHash(state));
    for (const frame of frames as Frame[]) {
      state = step(state, frame.event, registry).state;
      hashes.push(stateHash(state));
    }
    return hashes;
  })();
  const positions = [0, 1, 63, 64, 65, 127, 128, 129, 700, 1023, 1024, 2047, 2500, 3333, 3999, 4000];

  it.each([
    { name: 'every checkpoint full', options: { checkpointInterval: 64, deltaChain: 0 } },
    { name: 'deltas, a full one every 3', options: { checkpointInterval: 64, deltaChain: 3 } },
    { name: 'deltas only', options: { checkpointInterval: 64, deltaChain: 1000 } },
    {
      name: 'thinned while scanning',
      options: { checkpointInterval: 16, deltaChain: 2, checkpointBudgetBytes: 20_000 },
    },
  ])('seeks exactly: $name', ({ options }) => {
    const player = Player.open(frames, options);
    for (const n of positions) expect(player.hashAt(n), `#${n}`).toBe(reference[n]);
    for (const n of [...positions].reverse()) {
      player.seek(n);
      expect(player.hash, `seek #${n}`).toBe(reference[n]);
      if (n > 0) {
        player.stepBack();
        expect(player.hash, `back from #${n}`).toBe(reference[n - 1]);
      }
    }
  });

  it('a lazy scan thinned part-way continues from the checkpoints it dropped', () => {
    const player = Player.open(frames, {
      lazy: true,
      checkpointInterval: 8,
      deltaChain: 2,
      checkpointBudgetBytes: 6_000,
    });
    let scanned = 0;
    while (scanned < frames.length) {
      scanned = player.scanSome(37);
      expect(player.hashAt(scanned), `#${scanned}`).toBe(reference[scanned]);
    }
    const info = player.checkpointInfo();
    expect(info.interval).toBeGreaterThan(8);
    expect(info.positions.every((p) => p === 0 || p === frames.length || p % info.interval === 0)).toBe(true);
    for (const n of positions) expect(player.hashAt(n), `#${n}`).toBe(reference[n]);
  });

  it('keeps far less than full checkpoints would on a stream that stores all over its RAM', () => {
    const full = Player.open(frames, { checkpointInterval: 64, deltaChain: 0 });
    const deltas = Player.open(frames, { checkpointInterval: 64 });
    expect(deltas.checkpointInfo().positions).toEqual(full.checkpointInfo().positions);
    expect(deltas.checkpointInfo().retainedBytes).toBeLessThan(full.checkpointInfo().retainedBytes / 2);
  });

  it('rejects a bad deltaChain', () => {
    expect(() => Player.open(frames, { deltaChain: -1 })).toThrow(RangeError);
    expect(() => Player.open(frames, { deltaChain: 1.5 })).toThrow(RangeError);
  });
});
