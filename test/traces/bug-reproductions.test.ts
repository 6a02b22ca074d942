// Every bug reproduction in traces/bugs/ (see traces/bugs/README.md for the contract) run both
// ways: without its quirk the scenario's expectations hold and a checkpoint migration at its
// `cut` mark is exact; with the quirk the stated failure shows (a migrate-check divergence with
// a first diverging event, a failed expectation, or the quirk's ordering warning). A file with
// a `# variant:` line is also run with that text substitution, which must fail its
// expectations, while the same variant without the quirk must not.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headerOf } from '../../cli/commands/run.js';
import { QUIRKS, quirkByName } from '../../devices/quirks.js';
import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';
import { type MigrateCheckReport, migrateCheck } from '../../replay/migration/check.js';
import { createRecorder, memorySink } from '../../replay/recorder.js';
import { readTrace } from '../../replay/trace-reader.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';

const DIR = join(import.meta.dirname, '..', '..', 'traces', 'bugs');
const CHECKS = ['migrate-check', 'expectations', 'warning', 'migrate'] as const;
type Check = (typeof CHECKS)[number];

interface Bug {
  file: string;
  quirk: string;
  upstream: string;
  check: Check;
  /** `# variant: A => B`: statement lines starting with A start with B instead (a `\\n` in B is a line break). */
  variant?: { from: string; to: string };
  text: string;
}

function header(file: string): Bug {
  const text = readFileSync(join(DIR, file), 'utf8');
  const field = (name: string) => new RegExp(`^# ${name}: *(.+)$`, 'm').exec(text)?.[1]?.trim();
  const variant = field('variant');
  const arrow = variant?.split(' => ');
  return {
    file,
    quirk: field('quirk') ?? '',
    upstream: field('upstream') ?? '',
    check: (field('check')?.split(/\s/)[0] ?? '') as Check,
    ...(arrow?.length === 2
      ? { variant: { from: arrow[0]!.trim(), to: arrow[1]!.trim().replaceAll('\\n', '\n') } }
      : {}),
    text,
  };
}

/** The scenario with the variant applied: each statement line starting with `from` gets `to` there. */
function applyVariant(bug: Bug): string {
  const { from, to } = bug.variant!;
  return bug.text
    .split('\n')
    .map((line) => (line.startsWith(from) ? to + line.slice(from.length) : line))
    .join('\n');
}

/** The scenario text with the kernel quirk on every `board`/`vm` line. */
function withKernelQuirk(bug: Bug): string {
  return bug.text.replace(
    /^((?:board|vm)\b[^#\n]*?)[ \t]*(#.*)?$/gm,
    (_m, stmt: string, comment?: string) => `${stmt} quirks=${bug.quirk}${comment ? ` ${comment}` : ''}`,
  );
}

interface Run {
  failures: string[];
  warnings: string[];
  expectations: number;
  frames: Frame[];
  cut: number | undefined;
}

/** Runs the scenario and records it in memory, as cli/trace-input.ts loadTraceOrScenario does. */
function run(text: string, name: string): Run {
  const scenario = parseScenario(text, name);
  const sink = memorySink();
  const recorder = createRecorder(sink, headerOf(scenario));
  let result: ReturnType<typeof runScenario>;
  try {
    result = runScenario(scenario, { registry: defaultRegistry(), onFrame: recorder.onFrame });
  } finally {
    recorder.finish();
  }
  const trace = readTrace(sink.bytes());
  const frames: Frame[] = [];
  for (let c = 0; c < trace.chunks.length; c++) frames.push(...trace.chunkFrames(c));
  return {
    failures: result.failures.map((f) => f.message),
    warnings: result.warnings.map((w) => `${w.loc.line}: ${w.message}`),
    expectations: result.expectations,
    frames,
    cut: trace.marks.find((m) => m.name === 'cut')?.position,
  };
}

function check(r: Run, quirks: string[]): MigrateCheckReport {
  return migrateCheck(r.frames, defaultRegistry(), { vmm: 'qemu', quirks, at: [r.cut!] });
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.vgs'))
  .sort();
const bugs = files.map(header);

describe('traces/bugs: one reproduction per quirk', () => {
  it('has a file for every quirk, named after it, with a well-formed header', () => {
    expect(files.map((f) => f.replace(/\.vgs$/, ''))).toEqual(QUIRKS.map((q) => q.name).sort());
    for (const bug of bugs) {
      expect(bug.quirk, bug.file).toBe(bug.file.replace(/\.vgs$/, ''));
      expect(quirkByName(bug.quirk), bug.file).toBeDefined();
      expect(bug.upstream.length, `${bug.file}: # upstream:`).toBeGreaterThan(10);
      expect(CHECKS, `${bug.file}: # check:`).toContain(bug.check);
      // A kernel quirk is added by the test, never written on the board line.
      expect(/^(board|vm)\b.*quirks=/m.test(bug.text), bug.file).toBe(false);
      // Only kernel quirks may be checked through expectations alone.
      if (bug.check === 'expectations') expect(quirkByName(bug.quirk)?.side, bug.file).toBe('kernel');
      else if (bug.check !== 'migrate-check') expect(quirkByName(bug.quirk)?.side, bug.file).toBe('vmm');
      if (quirkByName(bug.quirk)?.side === 'kernel')
        expect(withKernelQuirk(bug), bug.file).not.toBe(bug.text);
      if (bug.variant) expect(applyVariant(bug), bug.file).not.toBe(bug.text);
    }
  });

  it.each(bugs.map((b) => [b.file, b] as const))('%s behaves as stated', (_file, bug) => {
    const kernel = quirkByName(bug.quirk)!.side === 'kernel';
    const without = run(bug.text, bug.file);
    expect(without.failures, 'expectations without the quirk').toEqual([]);
    expect(without.warnings).toEqual([]);
    expect(without.expectations).toBeGreaterThan(0);

    if (bug.variant) {
      const variant = applyVariant(bug);
      expect(variant).toContain(`quirks=${bug.quirk}`);
      const plain = run(variant.split(` quirks=${bug.quirk}`).join(''), bug.file);
      expect(plain.failures, 'the variant without the quirk').toEqual([]);
      expect(run(variant, bug.file).failures.length, 'the variant fails').toBeGreaterThan(0);
    }

    if (bug.check === 'expectations') {
      const quirked = run(withKernelQuirk(bug), bug.file);
      expect(quirked.failures.length, 'an expectation fails with the quirk').toBeGreaterThan(0);
      return;
    }

    expect(without.cut, 'a `mark cut`').toBeDefined();
    const base = check(without, []);
    expect(base.cuts).toBe(1);
    expect(base.skipped).toBe(0);
    expect(base.diverged, 'migrate-check without the quirk').toEqual([]);
    expect(base.warned.flatMap((w) => w.warnings)).toEqual([]);
    if (bug.check === 'migrate') {
      expect(bug.variant, '`check: migrate` needs a variant').toBeDefined();
      return;
    }

    const quirked = kernel ? run(withKernelQuirk(bug), bug.file) : without;
    const report = check(quirked, kernel ? [] : [bug.quirk]);
    if (bug.check === 'warning') {
      expect(report.diverged).toEqual([]);
      expect(report.warned.flatMap((w) => w.warnings.map((x) => x.rule))).toContain(bug.quirk);
      return;
    }
    expect(report.diverged.length, 'migrate-check with the quirk').toBe(1);
    const cut = report.diverged[0]!;
    expect(cut.divergence, 'a first diverging event after the cut').not.toBeNull();
    expect(cut.divergence!.position).toBeGreaterThan(quirked.cut!);
  });
});
