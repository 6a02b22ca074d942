import { describe, expect, it } from 'vitest';
import { parseCondition } from '../../replay/condition.js';
import { defaultRegistry } from '../../replay/machine.js';
import { Player } from '../../replay/player.js';
import { findChange, searchCondition } from '../../tui/search.js';
import { demoTrace } from './demo-trace.js';

function search(source: string, direction: 'forward' | 'backward', from: number) {
  const player = Player.open(demoTrace(), { lazy: true, registry: defaultRegistry() });
  return searchCondition(player, player.changeIndex({ chunkSize: 8 }), parseCondition(source), {
    direction,
    from,
    budgetMs: 60_000,
  });
}

// SPI 40 is spis[8]: its pending latch is set by the edges at #27 and #37, cleared by the
// acknowledge at #29.
const PENDING = 'vms[0].devices.gic.spis[8].pendingLatch';

describe('condition search on the demo trace', () => {
  it.each([
    [PENDING, 'forward', 0, 27],
    [PENDING, 'forward', 27, 37],
    [PENDING, 'forward', 28, 37],
    [PENDING, 'forward', 37, undefined],
    [PENDING, 'backward', 49, 37],
    [PENDING, 'backward', 37, 27],
    [PENDING, 'backward', 30, 27],
    [PENDING, 'backward', 27, undefined],
    [`!${PENDING}`, 'backward', 20, 0],
    ['vms[0].vcpus[1].pc == 0 && vms.length == 1', 'forward', 0, 3],
    ['event.type == "guest.mrs" && output.value == 0x28', 'forward', 0, 29],
    ['event.type == "guest.mrs" && output.value == 0x28', 'forward', 29, 49],
    ['event.type == "guest.mrs" && output.value == 0x28', 'backward', 49, 29],
    ['event.type == "trace.mark"', 'backward', 49, 40],
    ['changed(vms[0].devices.gic.spis[8].priority)', 'forward', 6, 25],
    ['position == 12', 'forward', 0, 12],
    ['position == 12', 'backward', 12, undefined],
  ] as const)('%s %s from #%i → %s', (source, direction, from, expected) => {
    const result = search(source, direction, from);
    expect(result).toEqual(expected === undefined ? { kind: 'none' } : { kind: 'hit', position: expected });
  });

  it('stops at the budget and says where to continue', () => {
    const player = Player.open(demoTrace(), { lazy: true, registry: defaultRegistry() });
    const index = player.changeIndex({ chunkSize: 8 });
    const condition = parseCondition('vms[0].vcpus[0].pc == 0x999');
    let t = 0;
    const now = () => (t += 1);
    const first = searchCondition(player, index, condition, {
      direction: 'forward',
      from: 0,
      budgetMs: 1,
      now,
    });
    expect(first).toEqual({ kind: 'partial', at: 16 });
    const rest = searchCondition(player, index, condition, {
      direction: 'forward',
      from: 16,
      budgetMs: 1e9,
      now,
    });
    expect(rest).toEqual({ kind: 'none' });
  });
});

describe('watch jumps on the demo trace', () => {
  const PATH = 'vms[0].devices.gic.spis[8]';
  it.each([
    ['forward', 30, 32],
    ['backward', 30, 29],
    ['backward', 27, 26],
    ['forward', 49, undefined],
  ] as const)('%s from #%i → %s', (direction, from, expected) => {
    const player = Player.open(demoTrace(), { lazy: true, registry: defaultRegistry() });
    const result = findChange(player.changeIndex({ chunkSize: 8 }), PATH, {
      direction,
      from,
      length: player.length,
      budgetMs: 60_000,
    });
    expect(result).toEqual(expected === undefined ? { kind: 'none' } : { kind: 'hit', position: expected });
  });

  it('stops at the budget chunk by chunk', () => {
    const player = Player.open(demoTrace(), { lazy: true, registry: defaultRegistry() });
    let t = 0;
    const result = findChange(player.changeIndex({ chunkSize: 8 }), 'vms[5]', {
      direction: 'forward',
      from: 0,
      length: player.length,
      budgetMs: 1,
      now: () => (t += 1),
    });
    expect(result).toEqual({ kind: 'partial', at: 16 });
  });
});
