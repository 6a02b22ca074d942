// The state-path format (replay/state-path.ts), the structural diff (replay/state-diff.ts) and
// structure-sharing snapshots (replay/snapshot.ts) the change index and the player rest on.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneState } from '../../engine/clone.js';
import { initialState } from '../../engine/state.js';
import { stepInPlace } from '../../engine/step.js';
import { defaultRegistry } from '../../replay/machine.js';
import { snapshotState, unsharedBytes } from '../../replay/snapshot.js';
import { deepEqual, diffStates } from '../../replay/state-diff.js';
import {
  comparePaths,
  formatPath,
  type PathSegment,
  PathSyntaxError,
  parsePath,
  ramAddress,
  readWord,
  valueAt,
} from '../../replay/state-path.js';
import { generateEvents } from '../helpers/arbitrary-events.js';

describe('state paths', () => {
  it.each<[PathSegment[], string]>([
    [[], ''],
    [['vms'], 'vms'],
    [['vms', 0, 'vcpus', 1, 'x', 3], 'vms[0].vcpus[1].x[3]'],
    [['vms', 0, 'ram', '262144', 24], 'vms[0].ram[262144][24]'],
    [['vms', 0, 'devices', 'odd key'], 'vms[0].devices["odd key"]'],
    [['a', '0x10', '007', '-1'], 'a["0x10"]["007"]["-1"]'],
    [[3, 'x'], '[3].x'],
  ])('formats %j as %s and parses it back', (segments, text) => {
    expect(formatPath(segments)).toBe(text);
    expect(parsePath(text)).toEqual(
      segments.map((s) => (typeof s === 'string' && /^(0|[1-9]\d*)$/.test(s) ? Number(s) : s)),
    );
  });

  it('parses hexadecimal indexes and quoted integer keys as numbers', () => {
    expect(parsePath('vms[0].ram[0x40000][0x18]')).toEqual(['vms', 0, 'ram', 0x40000, 0x18]);
    expect(parsePath('vms[0].ram["262144"]')).toEqual(['vms', 0, 'ram', 262144]);
  });

  it.each(['.vms', 'vms.', 'vms[', 'vms[x]', 'vms..x', 'vms[0]x', 'vms["a]', 'vms[1e3]', '9lives'])(
    'rejects %s',
    (text) => {
      expect(() => parsePath(text)).toThrow(PathSyntaxError);
    },
  );

  it('round-trips any path', () => {
    const segment = fc.oneof(
      fc.nat(),
      fc.string({ maxLength: 6 }),
      fc.constantFrom('vms', 'x', 'ram', '$a_1'),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        const text = formatPath(segments);
        expect(formatPath(parsePath(text))).toBe(text);
      }),
    );
  });

  it('valueAt follows own keys and indexes, and reads RAM words little-endian', () => {
    const page = new Uint8Array(16);
    page.set([1, 2, 3, 4, 5, 6, 7, 8, 9], 0);
    const root = { a: [10, { b: 20n }], ram: { 7: page } };
    expect(valueAt(root, 'a[1].b')).toBe(20n);
    expect(valueAt(root, ['a', 0])).toBe(10);
    expect(valueAt(root, 'a[2]')).toBeUndefined();
    expect(valueAt(root, 'a.length')).toBeUndefined();
    expect(valueAt(root, 'toString')).toBeUndefined();
    expect(valueAt(root, 'ram[7][0]')).toBe(0x0807_0605_0403_0201n);
    expect(valueAt(root, 'ram[7][8]')).toBe(9n);
    expect(valueAt(root, 'ram[7][4]')).toBeUndefined();
    expect(valueAt(root, 'ram[7][16]')).toBeUndefined();
    expect(readWord(page, 8)).toBe(9n);
  });

  it('orders paths ancestor first, numbers numerically', () => {
    const sorted = ['vms[0].x[10]', 'vms[0]', 'vms[0].x[9]', 'current', 'vms[0].x']
      .map(parsePath)
      .sort(comparePaths);
    expect(sorted.map(formatPath)).toEqual(['current', 'vms[0]', 'vms[0].x', 'vms[0].x[9]', 'vms[0].x[10]']);
  });

  it('names guest-physical addresses of RAM paths', () => {
    expect(ramAddress('vms[0].ram[0]')).toBe(0x4000_0000n);
    expect(ramAddress('vms[0].ram[0][0]')).toBe(0x4000_0000n);
    expect(ramAddress('vms[1].ram[0][0][24]')).toBe(0x4000_0018n);
    expect(ramAddress('vms[0].ram[1][2][8]')).toBe(0x4000_0000n + (512n + 2n) * 4096n + 8n);
    expect(ramAddress('vms[0].ram[0][512]')).toBeUndefined();
    expect(ramAddress('vms[0].vcpus[0]')).toBeUndefined();
  });
});

describe('diffStates', () => {
  it('reports leaves, kind changes as one entry, and RAM per word', () => {
    const a = { x: [1n, 2n], o: { k: 1 }, gone: 5, page: new Uint8Array(16), n: null as unknown };
    const pageB = a.page.slice();
    pageB[9] = 0xff;
    const b = { x: [1n, 3n, 4n], o: { k: 1 }, page: pageB, n: { now: 'object' }, added: true };
    expect(diffStates(a, b)).toEqual([
      { path: 'added', before: undefined, after: true },
      { path: 'gone', before: 5, after: undefined },
      { path: 'n', before: null, after: { now: 'object' } },
      { path: 'page[8]', before: 0n, after: 0xff00n },
      { path: 'x[1]', before: 2n, after: 3n },
      { path: 'x[2]', before: undefined, after: 4n },
    ]);
    expect(diffStates(b, b)).toEqual([]);
  });

  it('deepEqual treats undefined-valued keys as absent and compares bytes', () => {
    expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(deepEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(deepEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(deepEqual([1n], [1n])).toBe(true);
    expect(deepEqual(Number.NaN, Number.NaN)).toBe(true);
    expect(deepEqual({ a: [] }, { a: {} })).toBe(false);
  });
});

describe('snapshotState', () => {
  it('is equal to the working copy, frozen, and shares what did not change', () => {
    const registry = defaultRegistry();
    const working = cloneState(initialState());
    const events = generateEvents(2, 600);
    for (const e of events.slice(0, 300)) stepInPlace(working, e, registry);
    const first = snapshotState(working);
    expect(deepEqual(first, working)).toBe(true);
    expect(Object.isFrozen(first.vms[0]!.vcpus[0]!.x)).toBe(true);
    expect(snapshotState(working, first)).toBe(first);
    stepInPlace(working, { type: 'reg.set', vcpu: 1, reg: 0x6030_0000_0010_0000n, value: 7n }, registry);
    const stats = { bytes: 0 };
    const second = snapshotState(working, first, stats);
    expect(deepEqual(second, working)).toBe(true);
    expect(second).not.toBe(first);
    expect(second.vms[0]!.vcpus[0]).toBe(first.vms[0]!.vcpus[0]);
    expect(second.vms[0]!.ram).toBe(first.vms[0]!.ram);
    expect(second.vms[0]!.vcpus[1]!.x[0]).toBe(7n);
    expect(stats.bytes).toBeGreaterThan(0);
    expect(unsharedBytes(second, first)).toBeGreaterThan(0);
    expect(unsharedBytes(first, first)).toBe(0);
  });
});
