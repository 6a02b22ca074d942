// `vgicrr replay TRACE`: re-execute and check every recorded output; the first divergence is
// printed with its position, its statement, and both sides (exit 1).

import { defaultRegistry } from '../../replay/machine.js';
import { replayAndCheck } from '../../replay/replay-check.js';
import { parse } from '../args.js';
import { type Io, paint } from '../io.js';
import { openTrace } from '../trace-input.js';
import { UsageError } from '../usage-error.js';

export const help = `Usage: vgicrr replay TRACE [--salvage] [--json]

Re-executes every event of a trace and checks each recorded output, effect and chunk state
hash. On a mismatch prints the first divergence (#N, the statement, expected, got).

Options:
  --salvage  replay the intact part of a damaged or truncated trace instead of failing
  --json     print the result as one JSON object

Exit status: 0 identical, 1 diverged, 2 unreadable or damaged trace.`;

export function replayCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('replay', argv, {
    salvage: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('replay takes one trace: vgicrr replay TRACE');
  const path = positionals[0]!;
  const trace = openTrace(path, io, { strict: !values.salvage });
  const report = replayAndCheck(trace, defaultRegistry(), (done) =>
    io.progress(`replaying ${path}: ${done}/${trace.length} events`),
  );
  io.progressDone();
  const d = report.divergence;
  if (values.json) {
    io.out(
      JSON.stringify({
        trace: path,
        ok: !d,
        events: report.events,
        length: trace.length,
        divergence: d ?? null,
      }),
    );
    return d ? 1 : 0;
  }
  if (!d) {
    io.out(`${path}: ${paint(io, 'green', `${report.events} events replayed, every output identical`)}`);
    return 0;
  }
  io.out(paint(io, 'red', `${path}: diverged at #${d.position}: ${d.statement}`));
  io.out(`  expected: ${d.recorded}`);
  io.out(`  got:      ${d.replayed}`);
  return 1;
}
