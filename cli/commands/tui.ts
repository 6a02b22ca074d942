// `vgicrr tui TRACE|SCENARIO`: the time-travel terminal UI (docs/tui.md). A scenario is run and
// recorded in memory first. Without a terminal (stdout not a TTY, or CI set) it prints a
// one-screen summary and exits 0 instead of waiting for keys.

import { defaultRegistry } from '../../replay/machine.js';
import { replayAndCheck } from '../../replay/replay-check.js';
import type { LoadedTrace } from '../../replay/trace-reader.js';
import { summaryLines } from '../../tui/summary.js';
import { parse } from '../args.js';
import type { Io } from '../io.js';
import { loadTraceOrScenario } from '../trace-input.js';
import { UsageError } from '../usage-error.js';

export const help = `Usage: vgicrr tui TRACE|FILE.vgs

Opens the time-travel debugger on a trace (a .vgs scenario is run and recorded in memory
first): the event list, the state at the current position in tabs (distributor and
interrupts, vCPUs, ITS, LPIs, SDEI), what the current event changed, and a status bar.

Keys: l/h or →/← step, L/H ±100, 0/G first/last, g go to #N or a mark, / search condition
(docs/conditions.md) then c/C next/previous hit, j/k select a state row, w watch it, [ ]
its previous/next change, m mark, ' jump to a mark, d diff against a mark, Tab next tab,
? help, q quit.

Without a terminal (stdout not a TTY, or CI set) prints a summary of the trace instead.

Exit status: 0 quit or summary printed, 2 usage error or unreadable input.`;

/** Whether the UI can take over the terminal. */
export function interactive(): boolean {
  return Boolean(process.stdout.isTTY) && Boolean(process.stdin.isTTY) && !process.env.CI;
}

/** A scenario run and recorded in memory (warnings on stderr), read back as a trace. */
export const recordScenario = loadTraceOrScenario;

/** Opens the UI on `trace`, or prints the summary without a terminal. */
export async function openTui(source: string, trace: LoadedTrace, io: Io): Promise<number> {
  if (!interactive()) {
    for (const line of summaryLines(source, trace, replayAndCheck(trace, defaultRegistry()))) io.out(line);
    return 0;
  }
  io.flush();
  const { runTui } = await import('../../tui/run.js');
  return runTui(trace);
}

export async function tuiCommand(argv: string[], io: Io): Promise<number> {
  const { positionals } = parse('tui', argv, {});
  if (positionals.length !== 1)
    throw new UsageError('tui takes one trace or scenario: vgicrr tui TRACE|FILE.vgs');
  const path = positionals[0]!;
  const trace = loadTraceOrScenario(path, io);
  return openTui(path, trace, io);
}
