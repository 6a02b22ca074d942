// Opening the terminal UI on a trace: a lazily opened player (the first frame does not wait for
// the whole trace to be replayed), a controller, and Ink on the alternate screen. Imported
// dynamically by the `tui` and `demo` commands, so other commands never load Ink or React.

import { render } from 'ink';
import { defaultRegistry } from '../replay/machine.js';
import { Player } from '../replay/player.js';
import type { LoadedTrace } from '../replay/trace-reader.js';
import { App } from './App.js';
import { Controller } from './controller.js';

/** Runs the UI until `q`; resolves with the exit status (0). */
export async function runTui(trace: LoadedTrace): Promise<number> {
  const player = Player.open(trace, { lazy: true, registry: defaultRegistry() });
  const controller = new Controller(player, trace.marks);
  controller.warmUp();
  const color = process.env.NO_COLOR === undefined;
  const stdout = process.stdout;
  stdout.write('\x1b[?1049h\x1b[H');
  try {
    // One row short of the terminal: a frame as tall as the terminal makes Ink clear and redraw
    // everything on each render.
    const rows = () => Math.max(12, (stdout.rows || 24) - 1);
    const app = render(<App controller={controller} color={color} height={rows()} />, {
      exitOnCtrlC: false,
      patchConsole: false,
      // A key's frame goes out at once (Ink throttles to maxFps, leading edge). Ink 6.8's
      // incrementalRendering left stale lines on this full-screen layout (tmux): not used.
      maxFps: 60,
    });
    stdout.on('resize', () => app.rerender(<App controller={controller} color={color} height={rows()} />));
    controller.startBackgroundScan();
    await app.waitUntilExit();
    controller.dispose();
  } finally {
    stdout.write('\x1b[?1049l');
  }
  return 0;
}
