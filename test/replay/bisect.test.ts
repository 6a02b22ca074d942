// `bisect` (replay/bisect.ts): the first position at or after `from` where a condition holds, on
// the bundled demo trace (SPI 40 is spis[8]: latched at #27 and #37, acknowledged at #29).

import { describe, expect, it } from 'vitest';
import { bisect } from '../../replay/bisect.js';
import { parseCondition } from '../../replay/condition.js';
import { defaultRegistry } from '../../replay/machine.js';
import { Player } from '../../replay/player.js';
import { demoTrace } from '../tui/demo-trace.js';

const PENDING = 'vms[0].devices.gic.spis[8].pendingLatch';

function run(source: string, from?: number) {
  const player = Player.open(demoTrace(), { registry: defaultRegistry() });
  return bisect(
    player,
    player.changeIndex({ chunkSize: 8 }),
    parseCondition(source),
    from === undefined ? {} : { from },
  );
}

describe('bisect', () => {
  it.each([
    [PENDING, undefined, 27],
    [PENDING, 27, 27], // holds at `from` itself
    [PENDING, 28, 28], // still latched at #28; the acknowledge at #29 clears it
    [PENDING, 29, 37],
    [`!${PENDING} && vms.length == 1`, 27, 29],
    ['vms.length == 2', undefined, undefined],
    ['position == 12', 5, 12],
    ['event.type == "guest.mrs" && output.value == 40', undefined, 29],
  ])('%s from %s → %s', (source, from, expected) => {
    expect(run(source, from)?.position).toBe(expected);
  });

  it('reports the state paths the condition read, with their values there', () => {
    const hit = run(`${PENDING} && vms[0].vcpus.length >= 1`);
    expect(hit?.reads).toEqual([
      { path: PENDING, value: true },
      { path: 'vms[0].vcpus.length', value: expect.any(Number) },
    ]);
  });

  it('finds nothing past the end', () => {
    const player = Player.open(demoTrace(), { registry: defaultRegistry() });
    expect(
      bisect(player, player.changeIndex(), parseCondition('position == 0'), { from: player.length + 1 }),
    ).toBe(undefined);
  });
});
