import { describe, expect, it } from 'vitest';
import { tuiBenchTrace } from '../../bench/tui.js';
import { defaultRegistry } from '../../replay/machine.js';
import { Player } from '../../replay/player.js';
import { readTrace } from '../../replay/trace-reader.js';
import { Controller } from '../../tui/controller.js';
import { demoController } from './demo-trace.js';

describe('tui controller', () => {
  it('warms up without moving', () => {
    const { controller } = demoController();
    controller.warmUp();
    expect(controller.player.position).toBe(0);
    expect(controller.ui.position).toBe(0);
    expect(controller.screen(80, 24).status.text).toMatch(/^ #0\/49 /);
  });

  it('keeps the player on the UI position and reports search progress in slices', () => {
    const { controller, flush } = demoController();
    controller.key('G');
    expect(controller.player.position).toBe(49);
    controller.key('/');
    for (const c of 'event.type == "trace.mark"') controller.key(c === ' ' ? 'space' : c);
    controller.key('enter');
    controller.key('C');
    flush();
    expect(controller.ui.position).toBe(40);
    expect(controller.player.position).toBe(40);
    expect(controller.ui.searching).toBe(false);
    controller.key('C');
    flush();
    expect(controller.ui.position).toBe(24);
    controller.key('C');
    flush();
    expect(controller.ui.position).toBe(24);
    expect(controller.ui.message).toBe('no position before #24 where event.type == "trace.mark" holds');
  });

  it('a move far past the lazy scan shows the events at once and the state when the scan gets there', () => {
    const trace = readTrace(tuiBenchTrace(30_000));
    const queue: (() => void)[] = [];
    const player = Player.open(trace, { lazy: true, registry: defaultRegistry() });
    const controller = new Controller(player, trace.marks, {
      schedule: (fn) => void queue.push(fn),
      scanSlice: 0,
      catchUpAfter: 1000,
    });
    controller.key('G');
    expect(controller.ui.position).toBe(30_000);
    expect(player.position).toBe(0);
    const pending = controller.screen(100, 30);
    expect(pending.state[1]!.text).toMatch(/^ ?>?replaying to #30000: first pass at #0 of 30000\.\.\./);
    expect(pending.events.some((l) => l.text.startsWith('>#30000 '))).toBe(true);
    let slices = 0;
    while (queue.length) {
      queue.shift()!();
      slices++;
    }
    expect(slices).toBeGreaterThan(1);
    expect(player.position).toBe(30_000);
    expect(controller.screen(100, 30).state[1]!.text).toMatch(/VM 0/);
  });
});

describe('tui controller: sliced searches', () => {
  it('shows progress between slices and stops where it is on a key', () => {
    const trace = readTrace(tuiBenchTrace(5_000));
    const queue: (() => void)[] = [];
    const player = Player.open(trace, { lazy: true, registry: defaultRegistry() });
    const controller = new Controller(player, trace.marks, {
      schedule: (fn) => void queue.push(fn),
      scanSlice: 0,
      searchBudgetMs: 0,
    });
    controller.key('/');
    for (const c of 'position == 4000') controller.key(c === ' ' ? 'space' : c);
    controller.key('enter');
    controller.key('c');
    expect(controller.ui.searching).toBe(true);
    expect(controller.ui.message).toBe('searching forward... #64');
    expect(controller.ui.position).toBe(64);
    expect(player.position).toBe(64);
    queue.shift()!();
    expect(controller.ui.position).toBe(128);
    controller.key('l');
    expect(controller.ui).toMatchObject({ searching: false, message: 'search stopped', position: 128 });
    while (queue.length) queue.shift()!();
    expect(controller.ui.position).toBe(128);
    controller.key('c');
    while (queue.length) queue.shift()!();
    expect(controller.ui).toMatchObject({
      searching: false,
      position: 4000,
      message: '#4000: position == 4000',
    });
  });
});

describe('tui migration view', () => {
  it('marks the source/destination boundary in the event list and the status bar', async () => {
    const { recordScenario } = await import('../../cli/commands/tui.js');
    const { join } = await import('node:path');
    const quiet = { out() {}, err() {}, color: false, progress() {}, progressDone() {}, flush() {} };
    const file = join(import.meta.dirname, '..', 'scenarios', 'sdei', 'migrate-running-handler.vgs');
    const trace = recordScenario(file, quiet);
    let begin = 0;
    let end = 0;
    for (let p = 1; p <= trace.length && !end; p++) {
      const type: string = trace.frame(p).event.type;
      if (type === 'migrate.begin' && !begin) begin = p;
      if (type === 'migrate.end' && begin) end = p;
    }
    expect(begin).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    const controller = new Controller(Player.open(trace, { registry: defaultRegistry() }), trace.marks, {
      scanSlice: 0,
    });
    controller.key('g');
    for (const c of `${begin}`) controller.key(c);
    controller.key('enter');
    const atBegin = controller.screen(240, 30);
    expect(atBegin.events.find((l) => l.text.startsWith('>'))!.text).toContain(
      '== migration: source -> destination == migrate_begin',
    );
    expect(atBegin.status.text).toMatch(/\| (VM 0|source) \|/);
    controller.key('g');
    for (const c of `${end}`) controller.key(c);
    controller.key('enter');
    const atEnd = controller.screen(240, 30);
    expect(atEnd.events.find((l) => l.text.startsWith('>'))!.text).toContain(
      '== migration done == migrate_end',
    );
    expect(atEnd.status.text).toMatch(/\| destination \|/);
  });

  it('compares the source and destination VMs at a position (v): the lost IPI of the demo', async () => {
    const { readTrace } = await import('../../replay/trace-reader.js');
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const trace = readTrace(
      readFileSync(join(import.meta.dirname, '..', '..', 'traces', 'demo', 'migration.vgt')),
    );
    const controller = new Controller(Player.open(trace, { registry: defaultRegistry() }), trace.marks, {
      scanSlice: 0,
    });
    controller.key("'");
    for (const c of 'after-migration') controller.key(c);
    controller.key('enter');
    controller.key('v');
    const screen = controller.screen(200, 30);
    expect(screen.diff[0]!.text).toMatch(/^Source VM 0 vs destination VM 1 at #\d+: 1 path differ/);
    expect(screen.diff[1]!.text).toMatch(/vcpus\[1\]\.devices\.gic\.irqs\[2\]\.pendingLatch +true -> false/);
    expect(screen.status.text).toContain('source vs destination');
    controller.key('v');
    expect(controller.screen(200, 30).diff[0]!.text).toMatch(/^Changed by #/);
    controller.key('0');
    controller.key('v');
    expect(controller.screen(200, 30).diff[0]!.text).toMatch(/only one VM here/);
  });
});
