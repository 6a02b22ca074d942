// Checking one corpus file, the unit of work of `vgicrr check` and of the vitest helper: a `.vgs`
// scenario runs with every `expect` checked, a `.vgt` trace is replayed with every recorded
// output, effect and state hash verified; with `migrate` the result is also migrate-checked at
// every cut. Pure apart from reading the file; never throws (an unreadable or malformed input is
// a failed result whose report says why), so a worker thread can post the result as is.

import { readFileSync } from 'node:fs';
import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';
import { type CutReport, migrateCheck } from '../../replay/migration/check.js';
import { createRecorder, memorySink } from '../../replay/recorder.js';
import { replayAndCheck } from '../../replay/replay-check.js';
import { assertIntact, type LoadedTrace, readTrace } from '../../replay/trace-reader.js';
import { decodeSource, parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';
import { headerOf } from '../commands/run.js';

export interface CheckFileOptions {
  /** Also checkpoint-migrate at every cut (`migrate-check --at all`, qemu profile). */
  migrate?: boolean;
  /** VMM profile for `migrate` (default qemu). */
  vmm?: string;
  /** A scenario with warnings (statements that could do nothing) fails. Default false. */
  failOnWarnings?: boolean;
  /** A scenario without a single `expect` fails. Default false. */
  requireExpectations?: boolean;
}

/** The outcome of checking one file: plain data (structured-clonable for worker threads). */
export interface CheckResult {
  file: string;
  kind: 'scenario' | 'trace';
  ok: boolean;
  /** Events executed (run, replayed). */
  events: number;
  /** `expect` clauses checked (scenarios only). */
  expectations: number;
  /** Cuts migrate-checked (with `migrate`). */
  cuts: number;
  /** One line: what failed first (empty when ok). */
  message: string;
  /** The full failure report: every failed expectation, or the divergence with both sides. */
  report: string;
  warnings: string[];
  /** Wall-clock milliseconds spent on the file (not part of any comparison). */
  ms: number;
}

export function isCheckable(path: string): boolean {
  return path.endsWith('.vgs') || path.endsWith('.vgt');
}

export function checkFile(file: string, options: CheckFileOptions = {}): CheckResult {
  const started = performance.now();
  const kind = file.endsWith('.vgs') ? 'scenario' : 'trace';
  const result: CheckResult = {
    file,
    kind,
    ok: true,
    events: 0,
    expectations: 0,
    cuts: 0,
    message: '',
    report: '',
    warnings: [],
    ms: 0,
  };
  const fail = (lines: string[]) => {
    result.ok = false;
    result.message ||= lines[0] ?? 'failed';
    result.report += `${result.report ? '\n' : ''}${lines.join('\n')}`;
  };
  try {
    const frames =
      kind === 'scenario' ? checkScenario(file, options, result, fail) : checkTrace(file, result, fail);
    if (options.migrate && frames) checkMigration(frames, options.vmm ?? 'qemu', result, fail);
  } catch (error) {
    fail([error instanceof Error ? error.message : String(error)]);
  }
  result.ms = performance.now() - started;
  return result;
}

type Fail = (lines: string[]) => void;

function checkScenario(
  file: string,
  options: CheckFileOptions,
  result: CheckResult,
  fail: Fail,
): Frame[] | undefined {
  const scenario = parseScenario(decodeSource(readFileSync(file), file), file);
  // Recorded (and read back, as migrate-check reads a scenario) only when migrate-checked.
  const sink = options.migrate ? memorySink() : undefined;
  const recorder = sink ? createRecorder(sink, headerOf(scenario)) : undefined;
  let run: ReturnType<typeof runScenario>;
  try {
    run = runScenario(scenario, { registry: defaultRegistry(), onFrame: recorder?.onFrame });
  } finally {
    recorder?.finish();
  }
  result.events = run.events;
  result.expectations = run.expectations;
  result.warnings = run.warnings.map(
    (w) => `${w.loc.file}:${w.loc.line}:${w.loc.col}: warning: ${w.message}`,
  );
  if (run.failures.length)
    fail([
      `${run.failures.length} of ${run.expectations} expectations failed`,
      ...run.failures.map((f) => f.message),
    ]);
  if (options.failOnWarnings && result.warnings.length)
    fail([`${result.warnings.length} warning(s)`, ...result.warnings]);
  if (options.requireExpectations && run.expectations === 0) fail(['no `expect` in the scenario']);
  return sink ? framesOf(readTrace(sink.bytes())) : undefined;
}

function checkTrace(file: string, result: CheckResult, fail: Fail): Frame[] | undefined {
  const trace = readTrace(readFileSync(file));
  assertIntact(trace);
  const report = replayAndCheck(trace, defaultRegistry());
  result.events = report.events;
  const d = report.divergence;
  if (d) {
    fail([
      `diverged at #${d.position} (${d.kind}): ${d.statement}`,
      `  expected: ${d.recorded}`,
      `  got:      ${d.replayed}`,
    ]);
    return undefined;
  }
  return framesOf(trace);
}

function framesOf(trace: LoadedTrace): Frame[] {
  const frames: Frame[] = [];
  for (let c = 0; c < trace.chunks.length; c++) frames.push(...trace.chunkFrames(c));
  return frames;
}

function checkMigration(frames: Frame[], vmm: string, result: CheckResult, fail: Fail): void {
  const report = migrateCheck(frames, defaultRegistry(), { vmm, quirks: [], at: 'all' });
  result.cuts = report.cuts;
  if (report.diverged.length === 0) return;
  fail([
    `migrate-check (vmm=${vmm}): ${report.diverged.length} of ${report.cuts} cut(s) diverged`,
    ...report.diverged.slice(0, 4).flatMap(cutLines),
    ...(report.diverged.length > 4 ? [`… ${report.diverged.length - 4} more cut(s)`] : []),
  ]);
}

function cutLines(cut: CutReport): string[] {
  const lines = [`cut #${cut.cut}:`];
  if (cut.rc !== 0)
    lines.push(`  migrate failed with rc ${cut.rc}${cut.failedStep ? ` (${cut.failedStep})` : ''}`);
  const d = cut.divergence;
  if (d)
    lines.push(
      `  first divergence at #${d.position}: ${d.statement}`,
      `    expected: ${d.expected}`,
      `    got:      ${d.got}`,
    );
  for (const p of cut.diff.slice(0, 8)) lines.push(`  ${p.path}: source ${p.expected}, destination ${p.got}`);
  if (cut.diff.length > 8) lines.push(`  … ${cut.diff.length - 8} more path(s)`);
  return lines;
}
