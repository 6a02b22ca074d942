import { describe, expect, it } from 'vitest';
import { cloneState, freezeState } from '../../engine/clone.js';
import { coreRegX } from '../../engine/core.js';
import type { EngineEvent } from '../../engine/events.js';
import { stateHash } from '../../engine/hash.js';
import { ramPages } from '../../engine/ram.js';
import { initialState, type MachineState, RAM_BASE } from '../../engine/state.js';
import { step } from '../../engine/step.js';
import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';
import { arrayFrameSource, Player } from '../../replay/player.js';
import { deepEqual } from '../../replay/state-diff.js';
import { generateEvents, recordFrames } from '../helpers/arbitrary-events.js';

const registry = defaultRegistry();

/** States after each event by the pure `step`: the reference every player answer is held to. */
function referenceStates(frames: readonly Frame[]): MachineState[] {
  const states = [freezeState(cloneState(initialState()))];
  for (const frame of frames) states.push(step(states[states.length - 1]!, frame.event, registry).state);
  return states;
}

const VM: EngineEvent = { type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: false };
const small: EngineEvent[] = [
  VM,
  { type: 'vcpu.create', vcpu: 0 },
  { type: 'trace.mark', name: 'created' },
  { type: 'reg.set', vcpu: 0, reg: coreRegX(3), value: 0x33n },
  { type: 'guest.write', vcpu: 0, addr: BigInt(RAM_BASE + 0x10), value: 0x1122n, size: 2 },
  { type: 'guest.write', vcpu: 0, addr: BigInt(RAM_BASE + 0x12), value: 0x33n, size: 1 },
  { type: 'trace.mark', name: 'stored' },
  { type: 'vcpu.run', vcpu: 0 },
  { type: 'trace.mark', name: 'created' },
];

describe('Player basics', () => {
  const frames = recordFrames(small);
  const ref = referenceStates(frames);

  it('opens at position 0 with the initial state', () => {
    const player = Player.open(frames);
    expect(player.length).toBe(small.length);
    expect(player.position).toBe(0);
    expect(player.state).toEqual(initialState());
    expect(Object.isFrozen(player.state)).toBe(true);
    expect(player.currentFrame()).toBeUndefined();
    expect(player.changes()).toEqual([]);
  });

  it('frame(n) is the recorded frame; out of range throws', () => {
    const player = Player.open(arrayFrameSource(frames));
    expect(player.frame(4)).toBe(frames[3]);
    expect(() => player.frame(0)).toThrow(RangeError);
    expect(() => player.frame(small.length + 1)).toThrow(RangeError);
    expect(() => player.stateAt(-1)).toThrow(RangeError);
    expect(() => player.stateAt(1.5)).toThrow(RangeError);
  });

  it('seek clamps and says how it got there', () => {
    const player = Player.open(frames, { checkpointInterval: 4 });
    expect(player.seek(6)).toMatchObject({
      position: 6,
      requested: 6,
      clamped: false,
      via: 'replay',
      from: 4,
      replayed: 2,
    });
    expect(player.hash).toBe(stateHash(ref[6]!));
    expect(player.seek(6)).toMatchObject({ position: 6, via: 'none', replayed: 0 });
    expect(player.seek(100)).toMatchObject({ position: small.length, requested: 100, clamped: true });
    expect(player.seek(-3)).toMatchObject({ position: 0, clamped: true, via: 'cache' });
    expect(player.currentFrame()).toBeUndefined();
    expect(() => player.seek(Number.NaN)).toThrow(RangeError);
  });

  it('steps forward and back through every position', () => {
    const player = Player.open(frames, { checkpointInterval: 3 });
    for (let n = 1; n <= small.length; n++) {
      expect(player.step()).toMatchObject({ position: n, from: n - 1 });
      expect(player.hash).toBe(stateHash(ref[n]!));
      expect(player.currentFrame()).toBe(frames[n - 1]);
    }
    expect(player.next()).toMatchObject({ position: small.length, clamped: true, via: 'none' });
    for (let n = small.length - 1; n >= 0; n--) {
      expect(player.stepBack()).toMatchObject({ position: n, via: 'patches' });
      expect(player.hash).toBe(stateHash(ref[n]!));
      expect(player.state).toEqual(ref[n]);
    }
    expect(player.prev()).toMatchObject({ position: 0, clamped: true, via: 'none' });
  });

  it('steps several events at once', () => {
    const player = Player.open(frames);
    expect(player.step(5).position).toBe(5);
    expect(player.hash).toBe(stateHash(ref[5]!));
    expect(player.stepBack(3).position).toBe(2);
    expect(player.hash).toBe(stateHash(ref[2]!));
  });

  it('stateAt and hashAt do not move', () => {
    const player = Player.open(frames, { checkpointInterval: 2 });
    player.seek(2);
    for (let n = 0; n <= small.length; n++) {
      expect(player.stateAt(n)).toEqual(ref[n]);
      expect(player.hashAt(n)).toBe(stateHash(ref[n]!));
    }
    expect(player.position).toBe(2);
  });

  it('lists marks and seeks to them', () => {
    const player = Player.open(frames);
    expect(player.marks()).toEqual([
      { name: 'created', position: 3 },
      { name: 'stored', position: 7 },
      { name: 'created', position: 9 },
    ]);
    expect(player.markPosition('created')).toBe(3);
    expect(player.seekMark('stored')).toMatchObject({ position: 7 });
    expect(player.position).toBe(7);
    expect(player.seekMark('nowhere')).toBeUndefined();
    expect(player.position).toBe(7);
  });

  it('changes() lists what the current event changed, old → new', () => {
    const player = Player.open(frames);
    player.seek(4);
    expect(player.changes()).toEqual([{ path: 'vms[0].vcpus[0].x[3]', before: 0n, after: 0x33n }]);
    player.step();
    // A store to a page that did not exist: its 2 MiB block of the page table appears. (The vCPU's first guest
    // statement is also its first run.)
    const created = player.changes();
    expect(created.map((c) => c.path)).toEqual(['vms[0].ram[0]', 'vms[0].vcpus[0].ran']);
    expect(created[0]!.before).toBeUndefined();
    expect((created[0]!.after as Record<string, unknown>)[0]).toBeInstanceOf(Uint8Array);
    player.step();
    // A store into an existing page: the 8-byte word, little-endian.
    expect(player.changes()).toEqual([{ path: 'vms[0].ram[0][0][16]', before: 0x1122n, after: 0x33_1122n }]);
    expect(player.changes(4)).toEqual([{ path: 'vms[0].vcpus[0].x[3]', before: 0n, after: 0x33n }]);
    expect(player.changes(7)).toEqual([]);
    expect(player.changes(8)).toEqual([{ path: 'vms[0].vcpus[0].inRun', before: false, after: true }]);
    expect(player.position).toBe(6);
  });

  it('diff(a, b) is the structural difference of two positions', () => {
    const player = Player.open(frames);
    expect(player.diff(3, 3)).toEqual([]);
    const d = player.diff(3, 8);
    expect(d.map((e) => e.path)).toEqual([
      'vms[0].ram[0]',
      'vms[0].vcpus[0].inRun',
      'vms[0].vcpus[0].ran',
      'vms[0].vcpus[0].x[3]',
    ]);
    const back = player.diff(8, 3);
    expect(back.map((e) => [e.path, e.before === undefined, e.after === undefined])).toEqual(
      d.map((e) => [e.path, e.after === undefined, e.before === undefined]),
    );
    // Between two states that both have the page: per word.
    expect(player.diff(5, 6)).toEqual([{ path: 'vms[0].ram[0][0][16]', before: 0x1122n, after: 0x33_1122n }]);
  });
});

describe('verification', () => {
  it('reports the first frame whose recorded output or effects differ', () => {
    const frames = recordFrames(small);
    const altered = frames.map((f, i) =>
      i === 4
        ? { ...f, effects: [{ type: 'mmio.exit', vcpu: 0 }] }
        : i === 7
          ? { ...f, output: { rc: -1 } }
          : f,
    );
    expect(Player.open(frames, { verify: true }).mismatch).toBeUndefined();
    const mismatch = Player.open(altered, { verify: true }).mismatch;
    expect(mismatch).toMatchObject({ position: 5, kind: 'effects', replayed: { effects: [] } });
    expect(Player.open(altered).mismatch).toBeUndefined();
  });
});

describe('checkpoints', () => {
  const events = generateEvents(3, 6000);
  const frames = recordFrames(events);

  it('keeps one every interval, plus the start and the end', () => {
    const player = Player.open(frames, { checkpointInterval: 1000 });
    const info = player.checkpointInfo();
    expect(info.interval).toBe(1000);
    expect(info.positions).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000]);
    expect(info.scanned).toBe(6000);
    expect(info.retainedBytes).toBeGreaterThan(0);
  });

  it('thins them when over budget, doubling the interval, and still seeks exactly', () => {
    const full = Player.open(frames, { checkpointInterval: 500 });
    // Most checkpoints keep RAM deltas, whose total shrinks less than linearly when they are merged
    // (this stream stores all over its RAM), so the budget asks for a third less, not a third.
    const budget = (full.checkpointInfo().retainedBytes * 2) / 3;
    const player = Player.open(frames, { checkpointInterval: 500, checkpointBudgetBytes: budget });
    const info = player.checkpointInfo();
    expect(info.interval).toBeGreaterThanOrEqual(1000);
    expect(info.positions.every((p) => p === 0 || p === 6000 || p % info.interval === 0)).toBe(true);
    expect(info.retainedBytes).toBeLessThanOrEqual(budget);
    for (const n of [0, 1, 499, 500, 2999, 4321, 6000]) expect(player.hashAt(n)).toBe(full.hashAt(n));
  });

  it('a lazy player scans only as far as asked', () => {
    const player = Player.open(frames, { lazy: true, checkpointInterval: 1000 });
    expect(player.checkpointInfo().scanned).toBe(0);
    player.seek(2500);
    expect(player.checkpointInfo().scanned).toBe(2500);
    expect(player.scanSome(100)).toBe(2600);
    const eager = Player.open(frames, { checkpointInterval: 1000 });
    expect(player.hash).toBe(eager.hashAt(2500));
    expect(player.marks()).toEqual(eager.marks());
    expect(player.checkpointInfo().scanned).toBe(6000);
  });

  it('checkpoints share structure with each other', () => {
    const player = Player.open(frames, { checkpointInterval: 1000 });
    const a = player.stateAt(1000);
    const b = player.stateAt(2000);
    // vCPUs the stream never touched between the two (it only uses 0..3 and never adds one).
    expect(a.vms[0]!.vcpus.length).toBe(4);
    expect(Object.isFrozen(b.vms[0]!.ram)).toBe(true);
    const pagesOf = (s: typeof a) => new Map(ramPages(s.vms[0]!.ram).map((p) => [p.addr, p.bytes]));
    const before = pagesOf(a);
    const shared = [...pagesOf(b)].filter(([addr, bytes]) => before.get(addr) === bytes);
    expect(shared.length).toBeGreaterThan(0);
  });

  it('rejects a bad interval', () => {
    expect(() => Player.open(frames, { checkpointInterval: 0 })).toThrow(RangeError);
  });
});

describe('on a longer stream', () => {
  const events = generateEvents(9, 5000);
  const frames = recordFrames(events);
  const ref = referenceStates(frames);

  it('random seeks, steps and step-backs match the reference', () => {
    const player = Player.open(frames, { checkpointInterval: 512, denseInterval: 64 });
    let x = 12345;
    const next = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x;
    };
    for (let i = 0; i < 60; i++) {
      const op = next() % 4;
      if (op === 0) player.seek(next() % (frames.length + 1));
      else if (op === 1) player.step(1 + (next() % 5));
      else if (op === 2) player.stepBack(1 + (next() % 40));
      else player.stepBack(200);
      expect(player.hash, `after op ${i}`).toBe(stateHash(ref[player.position]!));
    }
  });

  it('stepping back across many chunks and checkpoints stays exact', () => {
    const player = Player.open(frames, { checkpointInterval: 256, denseInterval: 32, stepBackChunk: 8 });
    player.seek(1100);
    for (let n = 1099; n >= 700; n--) {
      player.stepBack();
      if (n % 37 === 0) expect(player.hash).toBe(stateHash(ref[n]!));
    }
    expect(player.position).toBe(700);
    expect(deepEqual(player.state, ref[700])).toBe(true);
  });
});
