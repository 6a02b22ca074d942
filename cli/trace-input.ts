// Opening a trace for a command: read, decode leniently, print every issue as a warning naming
// its offset, and fail (exit 2) on damage unless the command may work on what is intact.

import type { LoadedTrace } from '../replay/trace-reader.js';
import { assertIntact, readTrace } from '../replay/trace-reader.js';
import { readInput } from './files.js';
import { type Io, paint } from './io.js';

export function openTrace(path: string, io: Io, options: { strict: boolean }): LoadedTrace {
  const trace = readTrace(readInput(path));
  if (options.strict) assertIntact(trace);
  for (const issue of trace.issues) io.err(paint(io, 'yellow', `${path}: warning: ${issue.message}`));
  return trace;
}
