// Chaos runs (`vgicrr fuzz`, docs/fuzz.md): for each seed of a range and each quirk, generate a
// seeded workload, look for the quirk's bug with its oracle, and hand back each failing case,
// cut down to the events the failure needs.
//
// The oracles (what "finds the bug of a quirk" means; docs/fuzz.md explains why per quirk):
//
// - `migrate-check`: migrate-check at K seeded random cuts reports a cut whose destination
//   differs from the source. For a VMM quirk the quirk goes to migrate-check (`--quirks`); for a
//   kernel quirk it is on the workload's board (source and destination run that kernel).
// - `warning`: (VMM quirks) no cut differs, but a migration raised the ordering warning named
//   after the quirk (devices/migration-order.ts). The only symptom of `pending-before-config`,
//   `its-ctlr-before-tables` and `zero-clear` in this model.
// - `differential`: the same seed generated with and without the quirk (a kernel quirk on the
//   board, a VMM quirk on the workload's own `migrate` statements) and the first statement whose
//   output or effects differ. A kernel quirk that changes behaviour but not what userspace saves
//   runs on both sides of a migration, so migrate-check cannot see it; the fixed kernel can.
// - with no quirk (`baseline`): any migrate-check difference, or any warning named after a quirk,
//   is a finding: a bug of the model itself.
//
// The workloads come from a `WorkloadSource` (the CLI and the tests pass scenario/gen), because
// replay/ may not import scenario/. Pure apart from the source: no clock, no I/O; the seed fixes
// every choice, cuts included.

import { QUIRKS, quirkByName } from '../devices/quirks.js';
import type { EngineEvent } from '../engine/events.js';
import type { Registry } from '../engine/registry.js';
import { WorkingCopy } from '../engine/working-copy.js';
import { compareFrame } from './divergence.js';
import type { Frame } from './frame.js';
import { keepPredicate, parseKeep, recordEvents } from './keep-predicate.js';
import { type MigrateCheckReport, migrateCheck } from './migration/check.js';
import { type Candidate, minimize, type Verdict } from './minimize.js';
import { createRecorder, memorySink } from './recorder.js';
import { effectText, outputText, statementText } from './statement-text.js';
import type { TraceHeaderInput } from './trace-writer.js';

export type Oracle = 'migrate-check' | 'warning' | 'differential';

export interface WorkloadRequest {
  seed: number;
  profile: string;
  events: number;
  kernelQuirks: readonly string[];
  migrateQuirks: readonly string[];
}

export interface GeneratedWorkload {
  header: TraceHeaderInput;
  frames: Frame[];
  /** Each generated statement: text, output and effects as text, and its last event's position. */
  log: readonly { text: string; output: string; effects: string; events: number }[];
}

export type WorkloadSource = (request: WorkloadRequest) => GeneratedWorkload;

/**
 * The profile each quirk is hunted with by default: the one whose actions build the quirk's
 * precondition (a level line held high, pending LPIs, SDEI registrations, a GICv4.1 host with
 * pending vSGIs, an LPI-off window, in-trace migrations with in-flight MSIs).
 */
export const QUIRK_PROFILES: Readonly<Record<string, string>> = {
  'vsgi-pending-latch-only': 'irq-storm',
  'pendbaser-ptz-readable': 'linux-boot',
  'uaccess-ispendr-guest-view': 'irq-storm',
  'its-restore-unmapped-collection': 'linux-boot',
  'its-discard-unmapped-collection': 'linux-boot',
  'its-stale-dte-after-unmap': 'msi-storm',
  'movall-all-lpis': 'msi-storm',
  'baser-drop-on-invalid-only': 'msi-storm',
  'sdei-signal-ignores-target': 'sdei',
  'sdei-no-redispatch-on-complete': 'sdei',
  'sdei-complete-no-result': 'sdei',
  'sdei-stale-pending': 'sdei',
  'sdei-private-reset-while-running': 'sdei',
  'sdei-pe-mask-returns-zero': 'sdei',
  'sdei-survives-vcpu-reset': 'sdei',
  'sdei-fw-regs-mask-unknown-bits': 'sdei',
  'no-level-info': 'irq-storm',
  'pending-before-config': 'irq-storm',
  'lpis-enabled-before-base': 'msi-storm',
  'force-ptz': 'linux-boot',
  'its-before-gic': 'msi-storm',
  'its-ctlr-before-tables': 'msi-storm',
  'creadr-before-cbaser': 'msi-storm',
  'no-save-pending-tables': 'msi-storm',
  'no-its-save-tables': 'msi-storm',
  'ram-before-flush': 'msi-storm',
  'msi-after-flush': 'migration-mix',
  'zero-clear': 'irq-storm',
  'no-sdei-state': 'sdei',
};

/** The profiles the baseline (no quirk) rotates through, seed by seed. */
export const BASELINE_PROFILES = ['linux-boot', 'irq-storm', 'msi-storm', 'sdei', 'migration-mix'];

export interface FuzzOptions {
  /** Inclusive seed range. */
  from: number;
  to: number;
  /** Quirk names to hunt; `null` stands for the baseline (no quirk). */
  targets: readonly (string | null)[];
  /** Events per generated workload. */
  events: number;
  /** Random cuts per workload. */
  cuts: number;
  /** Forces one profile for every target. */
  profile?: string;
  /** Stop hunting a target once it was found (the tests; `--first`). */
  firstOnly?: boolean;
  /** Minimize each failing case (replay/minimize.ts); false keeps the truncated case. */
  minimize?: boolean;
  /** Predicate evaluations per minimization (default 200). */
  minimizeBudget?: number;
  source: WorkloadSource;
  registry: Registry;
  onProgress?: (seed: number, target: string | null, done: number, total: number) => void;
  /** Called with each case as it is found (the CLI writes it under fuzz-out/). */
  onCase?: (found: FuzzCase) => void;
}

export interface FuzzFinding {
  seed: number;
  /** The quirk hunted, or null for the baseline. */
  quirk: string | null;
  side: 'kernel' | 'vmm' | null;
  oracle: Oracle;
  profile: string;
  /** The cut (position in the generated trace) for migrate-check and warning findings. */
  cut: number | null;
  /** The first event (migrate-check) or statement (differential) that differs, if any. */
  position: number | null;
  statement: string;
  expected: string;
  got: string;
  detail: string;
  /** Events of the generated workload, and of the kept case. */
  events: number;
  caseEvents: number;
  minimized: boolean;
}

export interface FuzzCase {
  finding: FuzzFinding;
  header: TraceHeaderInput;
  /** The case's events: a `trace.mark cut` at the cut for migrate-check and warning findings. */
  events: EngineEvent[];
  /** How to check it: the migrate-check quirks, or the kernel quirk a differential toggles. */
  reproduce: string;
  /**
   * The generated statements up to the finding, when the case is better read as those than as
   * primitive events (a VMM differential: the quirk is on its `migrate` statements).
   */
  statements?: string[];
}

export interface TargetSummary {
  quirk: string | null;
  side: 'kernel' | 'vmm' | null;
  /** The profile hunted with (`rotating` for the baseline: BASELINE_PROFILES by seed). */
  profile: string;
  /** Seeds run for this target, and the first seed that found it. */
  seeds: number;
  firstSeed: number | null;
  oracle: Oracle | null;
  findings: number;
}

export interface FuzzReport {
  from: number;
  to: number;
  events: number;
  cuts: number;
  findings: FuzzFinding[];
  targets: TargetSummary[];
}

const MARK: EngineEvent = { type: 'trace.mark', name: 'cut' };

/** The seeded cut positions of one workload (1-based, sorted, distinct). */
export function cutsFor(seed: number, length: number, count: number): number[] {
  let a = (seed ^ 0x5eed_c075) >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const picked = new Set<number>();
  for (let i = 0; i < count && picked.size < length; i++) picked.add(1 + Math.floor(next() * length));
  return [...picked].sort((x, y) => x - y);
}

function profileOf(target: string | null, seed: number, forced?: string): string {
  if (forced) return forced;
  if (target === null) return BASELINE_PROFILES[seed % BASELINE_PROFILES.length]!;
  return QUIRK_PROFILES[target] ?? 'linux-boot';
}

/**
 * The first cut of a migrate-check report that differs, as a finding body. `observable`: only a
 * cut with a diverging event after it counts. `exclude`: cuts that differ without the quirk too.
 */
function checkFinding(report: MigrateCheckReport, observable: boolean, exclude?: ReadonlySet<number>) {
  // Observable: a divergence a guest sees that known KVM/VMM behaviour does not explain (an
  // explained cut, counted under `strict`, has no unexplained state difference).
  const cut = report.diverged.find(
    (d) => (!observable || (d.divergence && d.diff.length > 0)) && !exclude?.has(d.cut),
  );
  if (!cut) return undefined;
  const d = cut.divergence;
  const first = cut.diff[0];
  return {
    cut: cut.cut,
    position: d?.position ?? null,
    statement: d?.statement ?? '',
    expected: d?.expected ?? first?.expected ?? '',
    got: d?.got ?? first?.got ?? '',
    detail:
      `cut #${cut.cut} migrates inexactly: ${first ? `${first.path} expected ${first.expected}, got ${first.got}` : (cut.failedStep ?? `rc ${cut.rc}`)}` +
      (d ? `; first divergence at #${d.position}: ${d.statement}` : ''),
  };
}

/** The first cut with a warning named `rule`. */
function warningFinding(report: MigrateCheckReport, rule: (name: string) => boolean) {
  for (const w of [...report.warned, ...report.diverged.map((d) => ({ cut: d.cut, warnings: d.warnings }))]) {
    const hit = w.warnings.find((x) => rule(x.rule));
    if (hit)
      return {
        cut: w.cut,
        rule: hit.rule,
        detail: `cut #${w.cut}: ${hit.rule} warning at step ${hit.step}: ${hit.detail}`,
      };
  }
  return undefined;
}

/** A statement's text without the quirks the two generations differ by. */
const normalized = (text: string) => text.replace(/ quirks=\S+/, '');

/**
 * The first statement whose answer differs between two generations of one seed (the quirk only
 * on the second). The `board` line and the `migrate` statements carry the quirk, so their text is
 * compared without `quirks=`; a `migrate` is compared by its result only, because a VMM quirk
 * changes its steps by definition: what counts is what the guest sees afterwards.
 */
function differential(base: GeneratedWorkload, other: GeneratedWorkload) {
  const n = Math.min(base.log.length, other.log.length);
  const shown = (s: GeneratedWorkload['log'][number]) =>
    `${s.output || '(no output)'}${s.effects ? ` | ${s.effects}` : ''}`;
  for (let i = 0; i < n; i++) {
    const a = base.log[i]!;
    const b = other.log[i]!;
    const migrate = b.text.startsWith('migrate');
    const same =
      normalized(a.text) === normalized(b.text) &&
      a.output === b.output &&
      (migrate || i === 0 || a.effects === b.effects);
    if (!same)
      return {
        index: i,
        events: b.events,
        statement: b.text,
        expected: normalized(a.text) === normalized(b.text) ? shown(a) : `${a.text} → ${shown(a)}`,
        got: shown(b),
      };
  }
  return undefined;
}

function withMark(frames: readonly Frame[], cut: number, end: number): EngineEvent[] {
  const events = frames.slice(0, Math.max(cut, end)).map((f) => f.event);
  events.splice(cut, 0, MARK);
  return events;
}

function bare(events: readonly EngineEvent[]): Frame[] {
  return events.map((event) => ({ event, output: {}, effects: [] }));
}

/** The candidate's events with `quirk` taken off every `vm.create`. */
function withoutKernelQuirk(events: readonly EngineEvent[], quirk: string): EngineEvent[] {
  return events.map((e) =>
    e.type === 'vm.create' ? { ...e, quirks: e.quirks.filter((q) => q !== quirk) } : e,
  );
}

const describe = {
  output: (o: Frame['output']) => outputText(o) || '(no output)',
  effects: (e: readonly Frame['effects'][number][]) =>
    e.length ? e.map(effectText).join('; ') : '(no effects)',
};

/** Runs the same events with and without the kernel quirk: the first event that answers differently. */
export function kernelDifferential(
  events: readonly EngineEvent[],
  quirk: string,
  registry: Registry,
): { index: number; statement: string; expected: string; got: string } | undefined {
  const fixed = new WorkingCopy(registry);
  const quirky = new WorkingCopy(registry);
  const plain = withoutKernelQuirk(events, quirk);
  for (let i = 0; i < events.length; i++) {
    const got = quirky.step(events[i]!);
    const expected = fixed.step(plain[i]!);
    const d = compareFrame(i + 1, { event: plain[i]!, ...expected }, got, describe);
    if (d) return { index: i, statement: statementText(events[i]!), expected: d.recorded, got: d.replayed };
  }
  return undefined;
}

interface Shrunk {
  events: EngineEvent[];
  minimized: boolean;
}

/**
 * MINIMIZATION CALL SITE: every failing case goes through here. With `options.minimize` the
 * case is cut down by replay/minimize.ts (ddmin over events) with the oracle as the predicate;
 * otherwise (or when the predicate does not hold on the truncated case) it is kept as is.
 */
function shrink(
  events: EngineEvent[],
  oracle: Oracle,
  quirk: string | null,
  side: 'kernel' | 'vmm' | null,
  options: FuzzOptions,
): Shrunk {
  if (!options.minimize) return { events, minimized: false };
  const registry = options.registry;
  const budget = { maxEvaluations: options.minimizeBudget ?? 200 };
  const vmmQuirks = side === 'vmm' && quirk ? [quirk] : [];
  try {
    if (oracle === 'migrate-check') {
      const spec = parseKeep(
        `migrate-check fails --vmm qemu${vmmQuirks.length ? ` --quirks ${vmmQuirks.join(',')}` : ''} --at cut`,
      );
      const frames = recordEvents(events, registry);
      const predicate = keepPredicate(spec, { registry, frames });
      // The case must keep failing with the quirk and keep migrating exactly without it.
      const exactWithout = (c: Candidate): boolean => {
        const at = c.events.findIndex((e) => e.type === 'trace.mark') + 1;
        if (at <= 0) return false;
        const plain = side === 'kernel' && quirk ? withoutKernelQuirk(c.events, quirk) : c.events;
        const r = migrateCheck(bare(plain), registry, { vmm: 'qemu', quirks: [], at: [at], strict: true });
        return quirk === null || r.diverged.length === 0;
      };
      const test = (c: Candidate): Verdict => {
        const v = predicate.test(c);
        return v.fails && exactWithout(c) ? v : { fails: false };
      };
      const result = minimize(events, test, registry, { required: predicate.required, ...budget });
      return { events: [...result.candidate.events], minimized: true };
    }
    if (oracle === 'warning' && quirk) {
      const mark = events.findIndex((e) => e.type === 'trace.mark');
      const test = (c: Candidate): Verdict => {
        const at = c.events.findIndex((e) => e.type === 'trace.mark') + 1;
        if (at <= 0) return { fails: false };
        const report = migrateCheck(bare(c.events), registry, {
          vmm: 'qemu',
          quirks: vmmQuirks,
          at: [at],
          strict: true,
        });
        const hit = warningFinding(report, (r) => r === quirk);
        return hit ? { fails: true, last: c.origin[at - 1]!, detail: hit.detail } : { fails: false };
      };
      const result = minimize(events, test, registry, { required: mark >= 0 ? [mark] : [], ...budget });
      return { events: [...result.candidate.events], minimized: true };
    }
    if (oracle === 'differential' && quirk && side === 'kernel') {
      const test = (c: Candidate): Verdict => {
        const d = kernelDifferential(c.events, quirk, registry);
        return d ? { fails: true, last: c.origin[d.index]!, detail: d.statement } : { fails: false };
      };
      const result = minimize(events, test, registry, budget);
      return { events: [...result.candidate.events], minimized: true };
    }
  } catch {
    // NotFailingError (the truncated case lost the failure) or a predicate that cannot run:
    // keep the case unminimized.
  }
  return { events, minimized: false };
}

/** Runs the chaos campaign. */
export function fuzz(options: FuzzOptions): FuzzReport {
  const { source } = options;
  const report: FuzzReport = {
    from: options.from,
    to: options.to,
    events: options.events,
    cuts: options.cuts,
    findings: [],
    targets: [],
  };
  const summaries = options.targets.map((quirk) => {
    const side = quirk === null ? null : (quirkByName(quirk)?.side ?? null);
    if (quirk !== null && side === null) throw new Error(`unknown quirk ${quirk}`);
    const s: TargetSummary = {
      quirk,
      side,
      profile:
        quirk === null && !options.profile ? 'rotating' : profileOf(quirk, options.from, options.profile),
      seeds: 0,
      firstSeed: null,
      oracle: null,
      findings: 0,
    };
    return s;
  });
  report.targets = summaries;
  const total = (options.to - options.from + 1) * summaries.length;
  let done = 0;
  for (let seed = options.from; seed <= options.to; seed++) {
    const cache = new Map<string, GeneratedWorkload>();
    const generate = (profile: string, kernelQuirks: string[], migrateQuirks: string[]) => {
      const key = `${profile}|${kernelQuirks.join(',')}|${migrateQuirks.join(',')}`;
      let w = cache.get(key);
      if (!w) {
        w = source({ seed, profile, events: options.events, kernelQuirks, migrateQuirks });
        cache.set(key, w);
      }
      return w;
    };
    for (const summary of summaries) {
      options.onProgress?.(seed, summary.quirk, done, total);
      done++;
      if (options.firstOnly && summary.firstSeed !== null) continue;
      summary.seeds++;
      const found = hunt(seed, summary, generate, options);
      if (!found) continue;
      summary.findings++;
      if (summary.firstSeed === null) {
        summary.firstSeed = seed;
        summary.oracle = found.finding.oracle;
      }
      report.findings.push(found.finding);
      options.onCase?.(found);
    }
  }
  return report;
}

/** Baseline migrate-check reports by workload (each workload has one seeded cut set). */
const baselines = new WeakMap<GeneratedWorkload, Map<string, MigrateCheckReport>>();

function hunt(
  seed: number,
  summary: TargetSummary,
  generate: (profile: string, kernelQuirks: string[], migrateQuirks: string[]) => GeneratedWorkload,
  options: FuzzOptions,
): FuzzCase | undefined {
  const { quirk, side } = summary;
  const profile = profileOf(quirk, seed, options.profile);
  const registry = options.registry;
  const base = generate(profile, [], []);
  // migrate-check of the workload without any quirk at the same cuts, once per workload: a
  // quirk is credited only with cuts that migrate exactly without it.
  const baseline = (w: GeneratedWorkload, at: number[]): MigrateCheckReport => {
    let byCuts = baselines.get(w);
    if (!byCuts) {
      byCuts = new Map();
      baselines.set(w, byCuts);
    }
    const key = at.join(',');
    let r = byCuts.get(key);
    if (!r) {
      r = migrateCheck(w.frames, registry, { vmm: 'qemu', quirks: [], at, strict: true });
      byCuts.set(key, r);
    }
    return r;
  };
  const baselineCuts = (w: GeneratedWorkload, at: number[]) =>
    new Set(baseline(w, at).diverged.map((d) => d.cut));
  const make = (
    w: GeneratedWorkload,
    oracle: Oracle,
    body: Omit<
      FuzzFinding,
      'seed' | 'quirk' | 'side' | 'oracle' | 'profile' | 'events' | 'caseEvents' | 'minimized'
    >,
    events: EngineEvent[],
    reproduce: string,
    statements?: string[],
  ): FuzzCase => {
    const shrunk = statements ? { events, minimized: false } : shrink(events, oracle, quirk, side, options);
    return {
      finding: {
        seed,
        quirk,
        side,
        oracle,
        profile,
        ...body,
        events: w.frames.length,
        caseEvents: shrunk.events.length,
        minimized: shrunk.minimized,
      },
      header: w.header,
      events: shrunk.events,
      reproduce,
      ...(statements ? { statements } : {}),
    };
  };

  if (side === 'kernel' && quirk) {
    const w = generate(profile, [quirk], []);
    const at = cutsFor(seed, w.frames.length, options.cuts);
    const report = migrateCheck(w.frames, registry, { vmm: 'qemu', quirks: [], at, strict: true });
    const c = checkFinding(report, false, baselineCuts(base, at));
    if (c)
      return make(
        w,
        'migrate-check',
        c,
        withMark(w.frames, c.cut, c.position ?? 0),
        'vgicrr migrate-check CASE --at cut',
      );
    const d = differential(base, w);
    if (d)
      return make(
        w,
        'differential',
        {
          cut: null,
          position: d.index + 1,
          statement: d.statement,
          expected: d.expected,
          got: d.got,
          detail: `statement ${d.index + 1} answers differently with ${quirk} than with the fixed kernel`,
        },
        w.frames.slice(0, d.events).map((f) => f.event),
        `vgicrr run CASE.vgs with and without quirks=${quirk} on its vm line: the last statement answers differently`,
      );
    return undefined;
  }

  const vmmQuirks = quirk ? [quirk] : [];
  const at = cutsFor(seed, base.frames.length, options.cuts);
  const report = quirk
    ? migrateCheck(base.frames, registry, { vmm: 'qemu', quirks: vmmQuirks, at, strict: true })
    : baseline(base, at);
  const flag = vmmQuirks.length ? ` --quirks ${quirk}` : '';
  const c = quirk ? checkFinding(report, false, baselineCuts(base, at)) : checkFinding(report, true);
  if (c)
    return make(
      base,
      'migrate-check',
      c,
      withMark(base.frames, c.cut, c.position ?? 0),
      `vgicrr migrate-check CASE --at cut${flag}`,
    );
  const quirkNames = new Set(QUIRKS.map((q) => q.name));
  const warned = warningFinding(report, (r) => (quirk ? r === quirk : quirkNames.has(r)));
  if (warned)
    return make(
      base,
      'warning',
      {
        cut: warned.cut,
        position: null,
        statement: '',
        expected: 'no warning',
        got: warned.rule,
        detail: warned.detail,
      },
      withMark(base.frames, warned.cut, 0),
      `vgicrr migrate-check CASE --at cut${flag}`,
    );
  if (quirk && base.log.some((s) => s.text.startsWith('migrate'))) {
    const w = generate(profile, [], [quirk]);
    const d = differential(base, w);
    if (d)
      return make(
        w,
        'differential',
        {
          cut: null,
          position: d.index + 1,
          statement: d.statement,
          expected: d.expected,
          got: d.got,
          detail: `statement ${d.index + 1} answers differently when the workload's migrations have quirks=${quirk}`,
        },
        w.frames.slice(0, d.events).map((f) => f.event),
        `vgicrr run CASE.vgs, then again with quirks=${quirk} removed from its migrate statements: the last statement differs`,
        w.log.slice(0, d.index + 1).map((s) => s.text),
      );
  }
  return undefined;
}

/** A case as a trace (re-executed, so outputs and chunk hashes are its own). */
export function caseTrace(found: FuzzCase, registry: Registry): Uint8Array {
  const sink = memorySink();
  const recorder = createRecorder(sink, found.header);
  const machine = new WorkingCopy(registry);
  for (const event of found.events) {
    const result = machine.step(event);
    recorder.onFrame({ event, output: result.output, effects: result.effects }, machine);
  }
  recorder.finish();
  return sink.bytes();
}

/** A case as primitive scenario statements, with a header saying what was found and how to check it. */
export function caseScenario(found: FuzzCase): string {
  const f = found.finding;
  const lines = [
    `# vgicrr fuzz: seed ${f.seed}, ${f.quirk ? `quirk ${f.quirk} (${f.side})` : 'no quirk (baseline)'}, oracle ${f.oracle}, profile ${f.profile}`,
    `# ${f.detail}`,
    ...(f.statement ? [`# at: ${f.statement}`, `#   expected ${f.expected}`, `#   got      ${f.got}`] : []),
    `# ${f.minimized ? `minimized from ${f.events} to ${f.caseEvents} events` : `${f.caseEvents} of ${f.events} events (not minimized)`}`,
    `# check: ${found.reproduce}`,
  ];
  if (found.statements) lines.push(...found.statements);
  else for (const e of found.events) lines.push(statementText(e));
  return `${lines.join('\n')}\n`;
}
