// `vgicrr run FILE.vgs [--record OUT.vgt] [--json]` (scenario-language.md "Running").

import { defaultRegistry } from '../../replay/machine.js';
import { createRecorder, fileSink, type Recorder } from '../../replay/recorder.js';
import type { TraceHeaderInput } from '../../replay/trace-writer.js';
import type { Scenario } from '../../scenario/ast.js';
import type { ItsInitLayout, ItsInitTable } from '../../scenario/expand.js';
import { decodeSource, parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';
import { parse } from '../args.js';
import { readInput } from '../files.js';
import { type Io, paint } from '../io.js';
import { UsageError } from '../usage-error.js';
import { version } from '../version.js';

export const help = `Usage: vgicrr run FILE.vgs [--record OUT.vgt] [--json]

Runs every statement of a scenario and checks its \`expect\` clauses.

Options:
  --record OUT.vgt  record every primitive event, its output and effects into a trace
  --json            print the result as one JSON object (with \`layouts\`: the table layout
                    each \`guest its_init\` chose, addresses and sizes)

Exit status: 0 every expectation held, 1 one or more failed (all statements still run),
2 the file could not be run (FILE:LINE:COL: message).`;

/** The trace header of a scenario: its first `board`/`vm` statement. */
export function headerOf(scenario: Scenario): TraceHeaderInput {
  const first = scenario.statements.find((s) => s.kind === 'board' || s.kind === 'vm');
  let board: TraceHeaderInput['board'] = null;
  if (first?.kind === 'board') {
    board = {
      machine: first.machine,
      vcpus: first.vcpus,
      nrIrqs: first.nrIrqs,
      its: first.its,
      sdei: first.sdei,
      ipaBits: first.ipaBits,
    };
  }
  return {
    producer: `vgicrr ${version()}`,
    board,
    host: first && (first.kind === 'board' || first.kind === 'vm') ? first.host : 'gicv3',
    quirks: first && (first.kind === 'board' || first.kind === 'vm') ? first.quirks : [],
    seed: null,
  };
}

function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

function tableJson(table: ItsInitTable): { addr: string; size: number } {
  return { addr: hex(table.addr), size: table.size };
}

/** A `guest its_init` layout for --json: addresses as 0x-prefixed hex strings, sizes in bytes. */
export function layoutJson(layout: ItsInitLayout) {
  return {
    statement: 'its_init',
    base: hex(layout.base),
    idbits: layout.idbits,
    deviceTable: tableJson(layout.deviceTable),
    collectionTable: tableJson(layout.collectionTable),
    commandQueue: tableJson(layout.commandQueue),
    propertyTable: { ...tableJson(layout.propertyTable), idbits: layout.propertyTable.idbits },
    pendingTables: layout.pendingTables.map((t) => ({ vcpu: t.vcpu, ...tableJson(t) })),
  };
}

export function runCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('run', argv, {
    record: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('run takes one scenario file: vgicrr run FILE.vgs');
  const file = positionals[0]!;
  const scenario = parseScenario(decodeSource(readInput(file), file), file);
  const out = typeof values.record === 'string' ? values.record : undefined;
  let recorder: Recorder | undefined;
  let sink: ReturnType<typeof fileSink> | undefined;
  if (out) {
    sink = fileSink(out);
    recorder = createRecorder(sink, headerOf(scenario));
  }
  let result: ReturnType<typeof runScenario>;
  try {
    result = runScenario(scenario, { registry: defaultRegistry(), onFrame: recorder?.onFrame });
  } finally {
    // What ran is a valid trace even when a statement stopped the run.
    recorder?.finish();
    sink?.close();
  }
  const ok = result.failures.length === 0;
  for (const w of result.warnings)
    io.err(paint(io, 'yellow', `${w.loc.file}:${w.loc.line}:${w.loc.col}: warning: ${w.message}`));
  if (values.json) {
    io.out(
      JSON.stringify({
        file,
        ok,
        statements: result.statements,
        events: result.events,
        expectations: result.expectations,
        failures: result.failures.map((f) => ({
          line: f.loc.line,
          col: f.loc.col,
          expected: f.expected,
          got: f.got,
          message: f.message,
        })),
        warnings: result.warnings.map((w) => ({ line: w.loc.line, col: w.loc.col, message: w.message })),
        layouts: result.layouts.map((l) => ({ line: l.loc.line, col: l.loc.col, ...layoutJson(l.layout) })),
        trace: out ?? null,
      }),
    );
    return ok ? 0 : 1;
  }
  for (const failure of result.failures) io.out(paint(io, 'red', failure.message));
  const verdict = ok
    ? paint(io, 'green', `${result.expectations} expectations held`)
    : paint(io, 'red', `${result.failures.length} of ${result.expectations} expectations failed`);
  io.out(`${file}: ${result.statements} statements, ${result.events} events, ${verdict}`);
  if (out) io.out(`recorded ${result.events} events to ${out}`);
  return ok ? 0 : 1;
}
