// `vgicrr dump TRACE`: a trace as primitive scenario statements (which run back into the same
// events) or as JSON lines.

import type { Frame } from '../../replay/frame.js';
import { effectText, hex, outputText, statementText } from '../../replay/statement-text.js';
import { parse, parsePosition } from '../args.js';
import type { Io } from '../io.js';
import { openTrace } from '../trace-input.js';
import { UsageError } from '../usage-error.js';

export const help = `Usage: vgicrr dump TRACE [--from #N|MARK] [--to #M|MARK] [--format vgs|json] [--expect]

Prints the events of a trace. The vgs form is a scenario: running it again with --record gives
a trace with identical events. Outputs and effects follow each statement as a comment, or, with
--expect, as \`expect\` clauses so the dump checks itself when run.

Options:
  --from #N|MARK   first event to print (default #1)
  --to #M|MARK     last event to print (default the last)
  --format vgs     scenario statements (default); json: one JSON object per line
  --expect         (vgs) write outputs as expect clauses instead of comments`;

/** Event types whose statement takes `expect` (the others have no output in the language). */
const EXPECTABLE = new Set([
  'vcpu.create',
  'device.create',
  'attr.set',
  'attr.get',
  'attr.has',
  'irq.line',
  'msi.signal',
  'reg.get',
  'reg.set',
  'vcpu.run',
  'vcpu.reset',
  'sdei.inject',
  'vm.stop',
  'vm.cont',
  'guest.read',
  'guest.mrs',
  'guest.hvc',
  'guest.reg',
  'mem.read',
  'mem.write',
]);

function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? hex(value) : value;
}

function vgsLine(position: number, frame: Frame, expect: boolean): string {
  const statement = statementText(frame.event);
  const output = outputText(frame.output);
  const effects = frame.effects.map(effectText).join('; ');
  if (expect && output && EXPECTABLE.has(frame.event.type)) {
    return `${statement} expect ${output}${effects ? `  # #${position} ${effects}` : ''}`;
  }
  const comment = [output, effects].filter(Boolean).join(' | ');
  return `${statement}  # #${position}${comment ? ` ${comment}` : ''}`;
}

export function dumpCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('dump', argv, {
    from: { type: 'string' },
    to: { type: 'string' },
    format: { type: 'string' },
    expect: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('dump takes one trace: vgicrr dump TRACE');
  const format = values.format ?? 'vgs';
  if (format !== 'vgs' && format !== 'json')
    throw new UsageError(`dump: --format is vgs or json, not ${String(format)}`);
  const path = positionals[0]!;
  const trace = openTrace(path, io, { strict: false });
  const from = typeof values.from === 'string' ? parsePosition(values.from, trace.marks) : 1;
  const to = typeof values.to === 'string' ? parsePosition(values.to, trace.marks) : trace.length;
  if (from < 1 || to > trace.length || from > to) {
    throw new UsageError(`dump: range #${from}–#${to} is outside the trace (#1–#${trace.length})`);
  }
  if (format === 'vgs') {
    io.out(
      `# vgicrr dump of ${path}: events #${from}–#${to} of ${trace.length}, produced by ${trace.header.producer}`,
    );
  }
  for (let position = from; position <= to; position++) {
    const frame = trace.frame(position);
    io.out(
      format === 'json'
        ? JSON.stringify(
            { position, event: frame.event, output: frame.output, effects: frame.effects },
            jsonValue,
          )
        : vgsLine(position, frame, Boolean(values.expect)),
    );
  }
  return 0;
}
