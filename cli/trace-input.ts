// Opening a trace for a command: read, decode leniently, print every issue as a warning naming
// its offset, and fail (exit 2) on damage unless the command may work on what is intact.

import { TraceError } from '../replay/trace-error.js';
import { assertIntact, type LoadedTrace, readTrace } from '../replay/trace-reader.js';
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
