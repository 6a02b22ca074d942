// The bundled demo scenario recorded in memory, and a controller on it, for the TUI tests.

import { join } from 'node:path';
import { recordScenario } from '../../cli/commands/tui.js';
import type { Io } from '../../cli/io.js';
import { defaultRegistry } from '../../replay/machine.js';
import { Player } from '../../replay/player.js';
import type { LoadedTrace } from '../../replay/trace-reader.js';
import { Controller } from '../../tui/controller.js';

export const DEMO = join(import.meta.dirname, '..', '..', 'traces', 'demo', 'demo.vgs');

const quiet: Io = {
  out: () => {},
  err: () => {},
  color: false,
  progress: () => {},
  progressDone: () => {},
  flush: () => {},
};

let cached: LoadedTrace | undefined;

export function demoTrace(): LoadedTrace {
  cached ??= recordScenario(DEMO, quiet);
  return cached;
}

/** A controller on the demo trace whose deferred work runs only when `flush` is called. */
export function demoController(): { controller: Controller; flush: () => void } {
  const trace = demoTrace();
  const queue: (() => void)[] = [];
  const controller = new Controller(
    Player.open(trace, { lazy: true, registry: defaultRegistry() }),
    trace.marks,
    {
      schedule: (fn) => void queue.push(fn),
      scanSlice: 0,
    },
  );
  const flush = () => {
    while (queue.length) queue.shift()!();
  };
  return { controller, flush };
}
