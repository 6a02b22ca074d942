import { describe, expect, it } from 'vitest';
import { coreRegX } from '../../engine/core.js';
import type { EngineEvent } from '../../engine/events.js';
import { RAM_BASE } from '../../engine/state.js';
import { ChangeIndex } from '../../replay/change-index.js';
import { arrayFrameSource, Player } from '../../replay/player.js';
import { generateEvents, recordFrames } from '../helpers/arbitrary-events.js';

const VM: EngineEvent = { type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: false };

const events: EngineEvent[] = [
  VM, // 1
  { type: 'vcpu.create', vcpu: 0 }, // 2
  { type: 'vcpu.create', vcpu: 1 }, // 3
  { type: 'reg.set', vcpu: 0, reg: coreRegX(3), value: 0x33n }, // 4
  { type: 'guest.write', vcpu: 0, addr: BigInt(RAM_BASE + 0x10), value: 0x1122n, size: 2 }, // 5
  { type: 'guest.write', vcpu: 0, addr: BigInt(RAM_BASE + 0x12), value: 0x33n, size: 1 }, // 6
  { type: 'reg.set', vcpu: 0, reg: coreRegX(3), value: 0x33n }, // 7: same value, no change
  { type: 'vcpu.run', vcpu: 1 }, // 8
  { type: 'vcpu.reset', vcpu: 0 }, // 9: x replaced; only x[3] really changes
  { type: 'guest.write', vcpu: 1, addr: BigInt(RAM_BASE + 0x10), value: 0n, size: 8 }, // 10
];
const source = arrayFrameSource(recordFrames(events));

describe('ChangeIndex', () => {
  it('lists the positions that changed a path, below it, or an ancestor replacing it', () => {
    const index = new ChangeIndex(source);
    expect(index.changes('vms[0].vcpus[0].x[3]')).toEqual([2, 4, 9]);
    expect(index.changes('vms[0].vcpus[0].x[4]')).toEqual([2]);
    expect(index.changes('vms[0].vcpus[0].x')).toEqual([2, 4, 9]);
    expect(index.changes('vms[0].vcpus[0]')).toEqual([2, 4, 5, 9]);
    expect(index.changes('vms[0].vcpus[1].inRun')).toEqual([3, 8]);
    // `vcpus` appeared with the VM at #1; the store at #10 is vCPU 1's, which had already run.
    expect(index.changes('vms[0].vcpus')).toEqual([1, 2, 3, 4, 5, 8, 9]);
    expect(index.changes('vms[0].vcpus[2]')).toEqual([]);
    expect(index.changes('vms[0].vcpus[0].x[40]')).toEqual([]);
    expect(index.changes('current')).toEqual([1]);
    expect(index.changes('vms')).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10]);
    expect(index.changes('')).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10]);
  });

  it('tracks RAM per 8-byte word; a new page changes every word of it', () => {
    const index = new ChangeIndex(source);
    expect(index.changes('vms[0].ram[0][0]')).toEqual([5, 6, 10]);
    expect(index.changes('vms[0].ram[0][0][16]')).toEqual([5, 6, 10]);
    expect(index.changes('vms[0].ram[0x0][0x0][0x10]')).toEqual([5, 6, 10]);
    expect(index.changes('vms[0].ram[0][0][8]')).toEqual([5]);
    expect(index.changes('vms[0].ram[0][0][4088]')).toEqual([5]);
    expect(index.changes('vms[0].ram[0][0][17]')).toEqual([]);
    expect(index.changes('vms[0].ram[0][1]')).toEqual([]);
  });

  it('finds the previous and next change strictly around a position', () => {
    const index = new ChangeIndex(source, { chunkSize: 3 });
    const path = 'vms[0].vcpus[0].x[3]';
    expect(index.lastChangeBefore(path, 9)).toBe(4);
    expect(index.lastChangeBefore(path, 10)).toBe(9);
    expect(index.lastChangeBefore(path, 4)).toBe(2);
    expect(index.lastChangeBefore(path, 2)).toBeUndefined();
    expect(index.nextChangeAfter(path, 0)).toBe(2);
    expect(index.nextChangeAfter(path, 4)).toBe(9);
    expect(index.nextChangeAfter(path, 9)).toBeUndefined();
    expect(index.changesBetween(path, 3, 9)).toEqual([4, 9]);
    expect(index.changesBetween(path, 5, 8)).toEqual([]);
  });

  it('builds lazily, in order, in bounded slices', () => {
    const index = new ChangeIndex(source, { chunkSize: 4 });
    expect(index.builtUpTo).toBe(0);
    expect(index.complete).toBe(false);
    expect(index.buildSome(3)).toBe(0);
    expect(index.builtEvents).toBe(0);
    expect(index.buildSome(1)).toBe(4);
    expect(index.builtEvents).toBe(4);
    index.buildUpTo(5);
    expect(index.builtUpTo).toBe(8);
    expect(index.complete).toBe(false);
    expect(index.buildSome(100)).toBe(10);
    expect(index.complete).toBe(true);
    expect(index.builtEvents).toBe(10);
    expect(index.changes('vms[0].vcpus[0].x[3]')).toEqual([2, 4, 9]);
  });

  it('with the player, builds chunks out of order: a backward search builds only what it needs', () => {
    const frames = recordFrames(generateEvents(4, 10_000));
    const player = Player.open(frames, { checkpointInterval: 1000 });
    const index = player.changeIndex({ chunkSize: 1000 });
    const last = index.lastChangeBefore('vms[0].vcpus[2]', 9_500);
    expect(last).toBeGreaterThan(9_000);
    expect(index.builtEvents).toBe(1000);
    expect(index.builtUpTo).toBe(0);
    const next = index.nextChangeAfter('vms[0].vcpus[2].x[7]', 2_000);
    expect(next).toBeGreaterThan(2_000);
    const sequential = new ChangeIndex(arrayFrameSource(frames), { chunkSize: 1000 });
    for (const path of ['vms[0].vcpus[2]', 'vms[0].vcpus[2].x[7]', 'vms[0].ram']) {
      expect(index.changes(path)).toEqual(sequential.changes(path));
    }
    expect(index.changes('vms[0].vcpus[2]')).toContain(last);
    expect(index.changes('vms[0].vcpus[2].x[7]')).toContain(next);
    expect(index.complete).toBe(true);
  });

  it('accepts parsed paths and rejects bad ones', () => {
    const index = new ChangeIndex(source);
    expect(index.changes(['vms', 0, 'vcpus', '0', 'x', 3])).toEqual([2, 4, 9]);
    expect(() => index.changes('vms[0')).toThrow(/unclosed/);
    expect(() => new ChangeIndex(source, { chunkSize: 0 })).toThrow(RangeError);
  });
});
