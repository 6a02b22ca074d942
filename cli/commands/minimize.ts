// `vgicrr minimize TRACE|SCENARIO --keep 'PREDICATE'`: delta debugging over the events of a
// failing trace (replay/minimize.ts) with a `--keep` predicate (replay/keep-predicate.ts), down to
// a small trace or scenario that still fails. docs/minimize.md.

import { writeFileSync } from 'node:fs';
import type { EngineEvent } from '../../engine/events.js';
import { WorkingCopy } from '../../engine/working-copy.js';
import type { Frame } from '../../replay/frame.js';
import {
  type AttachedExpectation,
  KeepSyntaxError,
  keepPredicate,
  keepText,
  parseKeep,
  recordEvents,
} from '../../replay/keep-predicate.js';
import { defaultRegistry } from '../../replay/machine.js';
import { type MinimizeResult, minimize, NotFailingError } from '../../replay/minimize.js';
import { createRecorder, fileSink } from '../../replay/recorder.js';
import { effectText, outputText, statementText } from '../../replay/statement-text.js';
import type { TraceHeader } from '../../replay/trace-reader.js';
import type { TraceHeaderInput } from '../../replay/trace-writer.js';
import type { Scenario } from '../../scenario/ast.js';
import { expandStatement, type Outcome } from '../../scenario/expand.js';
import { checkExpectation } from '../../scenario/expectations.js';
import { decodeSource, parseScenario } from '../../scenario/parser.js';
import { parse as parseArgs } from '../args.js';
import { readInput } from '../files.js';
import { type Io, paint } from '../io.js';
import { openTrace } from '../trace-input.js';
import { InputError, UsageError } from '../usage-error.js';
import { version } from '../version.js';
import { headerOf } from './run.js';

export const help = `Usage: vgicrr minimize TRACE|FILE.vgs --keep 'PREDICATE' [--out FILE.vgt|FILE.vgs]
                       [--max-evaluations N] [--json]

Shrinks a failing trace to a small one that still fails: delta debugging over its events
(whole VMs first, then everything after the failure, then ddmin, then one event at a time),
re-executing every candidate and keeping it well-formed (a VM's events go with its vm.create,
a migration inside the trace goes whole or not at all, use_vm is regenerated). PREDICATE says
what "still fails" means:

  migrate-check fails [--vmm V] [--quirks A,B] [--at all|MARK|#N] [--any|--observable]
      a checkpoint migration at the cut(s) diverges, with the original's symptom (the first
      differing path and the first diverging event); --observable: any diverging event after
      a cut; --any: any inexact cut
  replay diverges         the original's first event whose recorded output differs from a
                          re-execution still differs (edited traces)
  expect fails [--any]    (scenarios) an expect clause still fails as it did (same statement,
                          expected and got); --any: any expect clause fails
  condition 'EXPR'        the condition (docs/conditions.md) holds at some position

Options:
  --keep PREDICATE       what must still fail (required)
  --out FILE             write the result: .vgt a trace, .vgs a scenario (default: print the
                         scenario on stdout)
  --max-evaluations N    predicate evaluations at most (default 4000)
  --json                 print the summary as one JSON object

Exit status: 0 minimized, 1 the input does not fail PREDICATE, 2 usage, input or predicate
error (vgicrr: minimize: keep:COL: message). Progress goes to stderr on a terminal.`;

interface Input {
  frames: Frame[];
  header: TraceHeaderInput;
  expectations: AttachedExpectation[];
}

/** A scenario run statement by statement (as scenario/runner.ts does), with each expect clause
 * attached to the statement's last event. */
function runWithExpectations(scenario: Scenario): Input {
  const registry = defaultRegistry();
  const machine = new WorkingCopy(registry);
  const frames: Frame[] = [];
  const expectations: AttachedExpectation[] = [];
  for (const stmt of scenario.statements) {
    const expansion = expandStatement(stmt, { state: () => machine.state, registry, onItsLayout: () => {} });
    let outcome: Outcome | undefined;
    for (;;) {
      const next = outcome === undefined ? expansion.next() : expansion.next(outcome);
      if (next.done) break;
      const result = machine.step(next.value);
      frames.push({ event: next.value, output: result.output, effects: result.effects });
      outcome = result;
    }
    const expect = stmt.expect;
    if (expect && frames.length > 0)
      expectations.push({
        index: frames.length - 1,
        check: (output) => checkExpectation(expect, output)[0]?.message,
      });
  }
  return { frames, header: headerOf(scenario), expectations };
}

function loadInput(path: string, io: Io): Input {
  if (path.endsWith('.vgs'))
    return runWithExpectations(parseScenario(decodeSource(readInput(path), path), path));
  const trace = openTrace(path, io, { strict: false });
  const frames: Frame[] = [];
  for (let c = 0; c < trace.chunks.length; c++) frames.push(...trace.chunkFrames(c));
  const h: TraceHeader = trace.header;
  return {
    frames: frames.slice(0, trace.length),
    header: { producer: h.producer, board: h.board, host: h.host, quirks: h.quirks, seed: h.seed },
    expectations: [],
  };
}

/** The header of the minimized trace: the input's, unless its first VM is gone. */
function headerFor(
  input: Input,
  events: readonly EngineEvent[],
  origin: readonly number[],
): TraceHeaderInput {
  const producer = `vgicrr ${version()}`;
  const k = events.findIndex((e) => e.type === 'vm.create');
  const firstInput = input.frames.findIndex((f) => f.event.type === 'vm.create');
  if (k >= 0 && origin[k] === firstInput) return { ...input.header, producer };
  const vm = k >= 0 ? events[k] : undefined;
  return {
    producer,
    board: null,
    host: vm?.type === 'vm.create' ? vm.host : input.header.host,
    quirks: vm?.type === 'vm.create' ? vm.quirks : [],
    seed: input.header.seed ?? null,
  };
}

function scenarioText(path: string, keep: string, result: MinimizeResult, frames: readonly Frame[]): string {
  const lines = [
    `# vgicrr minimize ${path} --keep ${JSON.stringify(keep)}`,
    `# ${result.before} → ${frames.length} events, ${result.evaluations} evaluations`,
    ...(result.verdict.detail ? [`# still fails: ${result.verdict.detail}`] : []),
  ];
  frames.forEach((f, i) => {
    const comment = [outputText(f.output), f.effects.map(effectText).join('; ')].filter(Boolean).join(' | ');
    lines.push(`${statementText(f.event)}  # #${i + 1}${comment ? ` ${comment}` : ''}`);
  });
  return `${lines.join('\n')}\n`;
}

export function minimizeCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('minimize', argv);
  if (positionals.length !== 1)
    throw new UsageError("minimize takes one trace or scenario: vgicrr minimize TRACE --keep 'PREDICATE'");
  if (typeof values.keep !== 'string') throw new UsageError("minimize: --keep 'PREDICATE' is required");
  const out = values.out as string | undefined;
  if (out !== undefined && !out.endsWith('.vgt') && !out.endsWith('.vgs'))
    throw new UsageError('minimize: --out names a .vgt trace or a .vgs scenario');
  const max = values['max-evaluations'] === undefined ? 4000 : Number(values['max-evaluations']);
  if (!Number.isInteger(max) || max < 1)
    throw new UsageError('minimize: --max-evaluations takes a positive number');
  const spec = keepArgument(values.keep);
  const path = positionals[0]!;
  const input = loadInput(path, io);
  if (spec.kind === 'expect-fails' && !path.endsWith('.vgs'))
    throw new UsageError('minimize: `expect fails` needs a .vgs scenario (a trace has no expect clauses)');
  const registry = defaultRegistry();
  let predicate: ReturnType<typeof keepPredicate>;
  try {
    predicate = keepPredicate(spec, { registry, frames: input.frames, expectations: input.expectations });
  } catch (error) {
    if (error instanceof KeepSyntaxError) throw new InputError(`minimize: keep: ${error.reason}`);
    throw error;
  }
  let result: MinimizeResult;
  try {
    result = minimize(
      input.frames.map((f) => f.event),
      predicate.test,
      registry,
      {
        required: predicate.required,
        maxEvaluations: max,
        onProgress: (p) =>
          io.progress(`minimize ${path}: ${p.phase}, ${p.evaluations} evaluations, ${p.events} events`),
      },
    );
  } catch (error) {
    io.progressDone();
    if (!(error instanceof NotFailingError)) throw error;
    const text = `${path}: does not fail \`${keepText(spec)}\`: nothing to minimize`;
    if (values.json) io.out(JSON.stringify({ trace: path, keep: keepText(spec), fails: false }));
    else io.out(paint(io, 'yellow', text));
    return 1;
  }
  io.progressDone();
  const { events, origin } = result.candidate;
  const frames = recordEvents(events, registry);
  if (out?.endsWith('.vgt')) {
    const sink = fileSink(out);
    const recorder = createRecorder(sink, headerFor(input, events, origin));
    const machine = new WorkingCopy(registry);
    try {
      for (const event of events) recorder.onFrame({ event, ...machine.step(event) }, machine);
      recorder.finish();
    } finally {
      sink.close();
    }
  } else if (out) writeFileSync(out, scenarioText(path, keepText(spec), result, frames));
  const summary = {
    trace: path,
    keep: keepText(spec),
    fails: true,
    before: result.before,
    after: events.length,
    evaluations: result.evaluations,
    cached: result.cacheHits,
    exhausted: result.exhausted,
    detail: result.verdict.detail ?? null,
    ...(out ? { out } : {}),
  };
  if (values.json) {
    io.out(
      JSON.stringify(
        out ? summary : { ...summary, scenario: scenarioText(path, keepText(spec), result, frames) },
      ),
    );
    return 0;
  }
  if (!out) {
    io.out(scenarioText(path, keepText(spec), result, frames).trimEnd());
    return 0;
  }
  io.out(
    `${path}: ${paint(io, 'bold', `${result.before} → ${events.length} events`)} (${result.evaluations} evaluations, ${result.cacheHits} cached${result.exhausted ? ', budget exhausted: not 1-minimal' : ''}), written to ${out}`,
  );
  if (result.verdict.detail) io.out(`  still fails: ${result.verdict.detail}`);
  return 0;
}

function parse(command: string, argv: string[]) {
  return parseArgs(command, argv, {
    keep: { type: 'string' },
    out: { type: 'string' },
    'max-evaluations': { type: 'string' },
    json: { type: 'boolean' },
  });
}

function keepArgument(text: string) {
  try {
    return parseKeep(text);
  } catch (error) {
    if (error instanceof KeepSyntaxError)
      throw new InputError(`minimize: keep:${error.column}: ${error.reason}`);
    throw error;
  }
}
