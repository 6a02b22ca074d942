// `vgicrr demo` (what `npm start` runs): runs the bundled demo scenario and records it in
// memory (≈ 50 events: faster than shipping a trace file that could go stale). On a terminal it
// opens the time-travel UI on that recording (docs/tui.md); otherwise (stdout not a TTY, or CI
// set) it replays the recording with every output checked and prints a one-screen summary.

import { join } from 'node:path';
import { defaultRegistry } from '../../replay/machine.js';
import { createRecorder, memorySink } from '../../replay/recorder.js';
import { replayAndCheck } from '../../replay/replay-check.js';
import { effectText, outputText, statementText } from '../../replay/statement-text.js';
import { readTrace } from '../../replay/trace-reader.js';
import { decodeSource, parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';
import { parse } from '../args.js';
import { readInput } from '../files.js';
import { type Io, paint } from '../io.js';
import { packageRoot } from '../version.js';
import { headerOf } from './run.js';
import { interactive, openTui } from './tui.js';

export const help = `Usage: vgicrr demo

Runs the bundled demo scenario (traces/demo/demo.vgs) and records it in memory. On a terminal,
opens the time-travel UI on the recording (see vgicrr tui --help); otherwise replays the
recording with every output checked and prints a summary with the recorded events.`;

export async function demoCommand(argv: string[], io: Io): Promise<number> {
  parse('demo', argv, {});
  const file = join(packageRoot(), 'traces', 'demo', 'demo.vgs');
  const scenario = parseScenario(decodeSource(readInput(file), file), file);
  const sink = memorySink();
  const recorder = createRecorder(sink, headerOf(scenario));
  const registry = defaultRegistry();
  const result = runScenario(scenario, { registry, onFrame: recorder.onFrame });
  recorder.finish();
  const bytes = sink.bytes();
  const trace = readTrace(bytes);
  if (interactive()) return openTui('traces/demo/demo.vgs', trace, io);
  const replay = replayAndCheck(trace, registry);

  io.out(paint(io, 'bold', 'vgicrr demo: traces/demo/demo.vgs'));
  io.out(
    `ran ${result.statements} statements → ${result.events} events; ` +
      (result.failures.length
        ? paint(io, 'red', `${result.failures.length} of ${result.expectations} expectations failed`)
        : paint(io, 'green', `all ${result.expectations} expectations held`)),
  );
  for (const failure of result.failures) io.out(paint(io, 'red', `  ${failure.message}`));
  io.out(
    `recorded ${bytes.length} bytes in ${trace.chunks.length} chunk(s); marks: ${trace.marks.map((m) => `${m.name} #${m.position}`).join(', ')}`,
  );
  io.out(
    replay.divergence
      ? paint(io, 'red', `replay diverged at #${replay.divergence.position}`)
      : paint(io, 'green', `replayed ${replay.events} events: every output, effect and state hash identical`),
  );
  io.out('');
  const width = String(trace.length).length + 1;
  for (let position = 1; position <= trace.length; position++) {
    const frame = trace.frame(position);
    const out = [outputText(frame.output), ...frame.effects.map(effectText)].filter(Boolean).join(' | ');
    io.out(
      `${paint(io, 'dim', `#${position}`.padStart(width))}  ${statementText(frame.event).padEnd(44)} ${paint(io, 'dim', out)}`,
    );
  }
  io.out('');
  io.out('Try: npx vgicrr run traces/demo/demo.vgs --record /tmp/demo.vgt && npx vgicrr dump /tmp/demo.vgt');
  return result.failures.length === 0 && !replay.divergence ? 0 : 1;
}
