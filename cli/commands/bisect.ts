// `vgicrr bisect TRACE|SCENARIO --until 'CONDITION'`: the first position where a condition over
// the state holds (replay/bisect.ts; the condition language is docs/conditions.md, shared with
// the terminal UI's search). Exit 0 found, 1 it never holds, 2 bad input or condition.

import { bisect } from '../../replay/bisect.js';
import { type Condition, ConditionSyntaxError, parseCondition } from '../../replay/condition.js';
import { Player } from '../../replay/player.js';
import { hex, outputText, statementText } from '../../replay/statement-text.js';
import { parse, parsePosition } from '../args.js';
import { type Io, paint } from '../io.js';
import { loadTraceOrScenario } from '../trace-input.js';
import { InputError, UsageError } from '../usage-error.js';

export const help = `Usage: vgicrr bisect TRACE|FILE.vgs --until 'CONDITION' [--from #N|MARK] [--json]

Finds the first position (the state after event #N; #0 is the initial state) at or after --from
where CONDITION holds, and prints the statement there and the state paths the condition read,
with their values. CONDITION is the language of the terminal UI's search (docs/conditions.md):

  vgicrr bisect t.vgt --until 'vms[0].devices.gic.spis[8].pendingLatch'
  vgicrr bisect t.vgt --until 'event.type == "guest.mrs" && output.value == 1023' --from cut

A condition that reads only state is evaluated only where one of its paths changed (the change
index), so a long trace is mostly never replayed.

Options:
  --until COND     the condition (required)
  --from #N|MARK   first position looked at (default #0)
  --json           print {found, position, statement, output, reads} as one JSON object

Exit status: 0 found, 1 the condition never holds, 2 usage, input or condition error
(vgicrr: bisect: condition:COL: message).`;

function show(value: unknown): string {
  if (typeof value === 'bigint') return hex(value);
  if (value === undefined) return 'undefined';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'object' && value !== null) {
    const text = JSON.stringify(value, (_k, x) => (typeof x === 'bigint' ? hex(x) : x));
    return text.length > 120 ? `${text.slice(0, 117)}…` : text;
  }
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Parses a condition for a command, turning a syntax error into `COMMAND: condition:COL: …`. */
export function conditionArgument(command: string, text: string): Condition {
  try {
    return parseCondition(text);
  } catch (error) {
    if (error instanceof ConditionSyntaxError)
      throw new InputError(`${command}: condition:${error.column}: ${error.reason}`);
    throw error;
  }
}

export function bisectCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('bisect', argv, {
    until: { type: 'string' },
    from: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1)
    throw new UsageError("bisect takes one trace or scenario: vgicrr bisect TRACE --until 'CONDITION'");
  if (typeof values.until !== 'string') throw new UsageError("bisect: --until 'CONDITION' is required");
  const condition = conditionArgument('bisect', values.until);
  const path = positionals[0]!;
  const trace = loadTraceOrScenario(path, io);
  const from = typeof values.from === 'string' ? parsePosition(values.from, trace.marks) : 0;
  if (from < 0 || from > trace.length)
    throw new UsageError(`bisect: --from #${from} is outside the trace (#0–#${trace.length})`);
  const player = Player.open(trace);
  const hit = bisect(player, player.changeIndex(), condition, {
    from,
    onProgress: (at, length) => io.progress(`bisect ${path}: #${at}/${length}`),
  });
  io.progressDone();
  const frame = hit && hit.position > 0 ? trace.frame(hit.position) : undefined;
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          trace: path,
          condition: condition.source,
          found: hit !== undefined,
          ...(hit
            ? {
                position: hit.position,
                statement: frame ? statementText(frame.event) : null,
                output: frame ? outputText(frame.output) : null,
                reads: hit.reads,
              }
            : {}),
        },
        (_k, x) => (typeof x === 'bigint' ? hex(x) : x instanceof Uint8Array ? `${x.length} bytes` : x),
      ),
    );
    return hit ? 0 : 1;
  }
  if (!hit) {
    io.out(
      `${path}: ${paint(io, 'yellow', 'never holds')} from #${from} to #${trace.length}: ${condition.source}`,
    );
    return 1;
  }
  const where = frame
    ? `#${hit.position}: ${statementText(frame.event)}${outputText(frame.output) ? `  → ${outputText(frame.output)}` : ''}`
    : '#0 (the initial state)';
  io.out(`${path}: first holds at ${paint(io, 'bold', where)}`);
  for (const r of hit.reads) io.out(`  ${r.path} = ${show(r.value)}`);
  return 0;
}
