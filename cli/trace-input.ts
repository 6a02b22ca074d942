// Opening a trace for a command: read, decode leniently, print every issue as a warning naming
// its offset, and fail (exit 2) on damage unless the command may work on what is intact.

import { defaultRegistry } from '../replay/machine.js';
import { createRecorder, memorySink } from '../replay/recorder.js';
import { TraceError } from '../replay/trace-error.js';
import { assertIntact, type LoadedTrace, readTrace } from '../replay/trace-reader.js';
import { decodeSource, parseScenario } from '../scenario/parser.js';
import { runScenario } from '../scenario/runner.js';
import { headerOf } from './commands/run.js';
import { readInput } from './files.js';
import { type Io, paint } from './io.js';
import { InputError } from './usage-error.js';

export function openTrace(path: string, io: Io, options: { strict: boolean }): LoadedTrace {
  const bytes = readInput(path);
  const trace = asInputError(path, '', () => readTrace(bytes));
  // Damage the reader worked around is fatal only where a command asks for the whole trace.
  if (options.strict) asInputError(path, ' (--salvage works on the intact part)', () => assertIntact(trace));
  for (const issue of trace.issues) io.err(paint(io, 'yellow', `${path}: warning: ${issue.message}`));
  return trace;
}

function asInputError<T>(path: string, hint: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof TraceError) throw new InputError(`${path}: ${error.message}${hint}`);
    throw error;
  }
}

/**
 * A trace from a trace file, or from running a `.vgs` scenario in memory (recorded and read
 * back, so both inputs go through the same reader; a failed expectation is only a warning).
 */
export function loadTraceOrScenario(path: string, io: Io): LoadedTrace {
  if (!path.endsWith('.vgs')) return openTrace(path, io, { strict: false });
  const scenario = parseScenario(decodeSource(readInput(path), path), path);
  const sink = memorySink();
  const recorder = createRecorder(sink, headerOf(scenario));
  try {
    const result = runScenario(scenario, { registry: defaultRegistry(), onFrame: recorder.onFrame });
    for (const w of result.warnings)
      io.err(paint(io, 'yellow', `${w.loc.file}:${w.loc.line}:${w.loc.col}: warning: ${w.message}`));
    for (const f of result.failures) io.err(paint(io, 'yellow', `warning: ${f.message}`));
  } finally {
    recorder.finish();
  }
  return readTrace(sink.bytes());
}
