// migrate-check (design.md "Migration"): cut a trace at chosen or all positions, checkpoint-
// migrate at each cut, compare the destination with the source (compare.ts), and where they
// differ continue the rest of the trace on the destination against the source's recorded outputs
// to find the first observable divergence. States are compared first; only cuts that differ are
// replayed further, and identical source states (by observable hash) are migrated once.

import { cloneState } from '../../engine/clone.js';
import type { Effect, EngineEvent, Output } from '../../engine/events.js';
import type { Registry } from '../../engine/registry.js';
import type { MachineState, VmState } from '../../engine/state.js';
import { WorkingCopy } from '../../engine/working-copy.js';
import { compareFrame } from '../divergence.js';
import type { Frame } from '../frame.js';
import { type DiffEntry, deepEqual } from '../state-diff.js';
import { effectText, outputText, statementText } from '../statement-text.js';

import { compareVms } from './compare.js';
import { checkpointMigrate } from './driver.js';
import { type MigrationStep, responsibleSteps } from './responsible.js';

export interface MigrateCheckOptions {
  vmm: string;
  quirks: readonly string[];
  /** 'all', or 1-based positions: the state after event #N is migrated. */
  at: 'all' | readonly number[];
  /** Events replayed after a differing cut while looking for an observable divergence. */
  horizon?: number;
  /** Count divergences that known KVM/VMM behaviour explains as failures too. */
  strict?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface OrderWarning {
  rule: string;
  step: number;
  detail: string;
}

export interface CutDivergence {
  position: number;
  statement: string;
  kind: 'output' | 'effects';
  expected: string;
  got: string;
}

export interface CutReport {
  cut: number;
  /** `migrate_end`'s rc: the first failing step's error, 0 if none failed. */
  rc: number;
  failedStep?: string;
  steps: number;
  warnings: OrderWarning[];
  /** VM-relative state paths that differ (source after save vs destination after restore). */
  diff: { path: string; expected: string; got: string }[];
  responsible: string[];
  /** Differences KVM makes on every save/restore, left out of the comparison (compare.ts). */
  known: string[];
  /** The first event after the cut whose output or effects differ on the destination. */
  divergence: CutDivergence | null;
  /** How many events after the cut were replayed looking for it. */
  replayed: number;
  /** Where that replay stopped before the horizon: the trace's own `vm`, `use_vm`, `ram_transfer` or `migrate_begin`. */
  stoppedAt?: number;
}

export interface MigrateCheckReport {
  vmm: string;
  quirks: readonly string[];
  events: number;
  cuts: number;
  /** Cuts where no VM existed yet, or a migration of the trace itself was in progress. */
  skipped: number;
  /** Distinct source states actually migrated (the rest reused a result). */
  migrations: number;
  diverged: CutReport[];
  /**
   * Cuts whose differences are all known KVM/VMM behaviour (compare.ts) but lead to an
   * observable divergence after the cut; failures only with `strict`.
   */
  explained: CutReport[];
  /**
   * Cuts that migrated exactly but raised ordering warnings or had a step fail that the VMM
   * tolerates (QEMU carries on after a failed ITS_SAVE_TABLES, or SAVE_PENDING_TABLES' -EFAULT).
   */
  warned: { cut: number; warnings: OrderWarning[]; failedStep?: string }[];
}

const DEFAULT_HORIZON = 10_000;
/**
 * Events whose VM numbers mean other VMs once a check has added the destination: replaying the
 * trace after a cut stops at the first of them (its own migration, a new VM).
 */
export const VM_NUMBERING: ReadonlySet<string> = new Set([
  'vm.create',
  'vm.select',
  'ram.transfer',
  'migrate.begin',
]);

/**
 * Makes the source of a finished migration current again and enters its `running` vCPUs once
 * more: a migration stops and resumes every vCPU, which is a guest entry (SDEI delivery), so the
 * reference gets one too.
 */
export function reenterSource(machine: WorkingCopy, source: number, running: readonly number[]): void {
  machine.step({ type: 'vm.select', vm: source });
  for (const id of running) machine.step({ type: 'vcpu.run', vcpu: id });
}
const MAX_DIFF_ENTRIES = 64;
const MAX_WARNED = 16;

const describe = {
  output: (o: Output) => outputText(o) || '(no output)',
  effects: (e: readonly Effect[]) => (e.length ? e.map(effectText).join('; ') : '(no effects)'),
};

interface MigrationResult {
  rc: number;
  failedStep?: string;
  steps: MigrationStep[];
  warnings: OrderWarning[];
  equal: boolean;
  diff: DiffEntry[];
  known: string[];
  source: number;
  dest: number;
  /**
   * The machine after the migration, with the source current again and its running vCPUs
   * re-entered: the reference the destination is compared with. A migration stops and resumes
   * every vCPU, which is a guest entry (SDEI delivery), so the source is given one too.
   */
  machine: WorkingCopy;
}

/** Checkpoint-migrates the current VM of `state` (a private copy of it) and compares. */
export function migrateOnce(
  state: MachineState,
  registry: Registry,
  options: Pick<MigrateCheckOptions, 'vmm' | 'quirks'> & {
    inflightMsis?: { devid: number; eventid: number }[];
  },
): MigrationResult {
  const machine = new WorkingCopy(registry, cloneState(state), true);
  const source = machine.state.current;
  const running = machine.state.vms[source]!.vcpus.filter((v) => v.inRun).map((v) => v.id);
  const gen = checkpointMigrate(() => machine.state, options);
  const steps: MigrationStep[] = [];
  const warnings: OrderWarning[] = [];
  let failedStep: string | undefined;
  let next = gen.next();
  while (!next.done) {
    const event: EngineEvent = next.value;
    const vm = machine.state.current;
    const outcome = machine.step(event);
    if (event.type !== 'migrate.begin')
      steps.push({ step: steps.length + 1, event, output: outcome.output, vm });
    for (const e of outcome.effects) {
      if (e.type === 'migrate.order')
        warnings.push({ rule: String(e.rule), step: Number(e.step), detail: String(e.detail) });
      if (e.type === 'migrate.step-failed') {
        const failed = steps[Number(e.step) - 1];
        failedStep = failed ? `step ${failed.step}: ${statementText(failed.event)} → rc ${e.rc}` : undefined;
      }
    }
    next = gen.next(outcome);
  }
  const dest = machine.state.current;
  reenterSource(machine, source, running);
  const cmp = compareVms(machine.state.vms[source]!, machine.state.vms[dest]!);
  return {
    rc: next.value.rc ?? 0,
    ...(failedStep ? { failedStep } : {}),
    steps,
    warnings,
    equal: cmp.equal,
    diff: cmp.diff,
    known: cmp.known,
    source,
    dest,
    machine,
  };
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (v === undefined) return '(absent)';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (typeof v === 'object' && v !== null)
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x));
  return String(v);
}

/** The trace is cut after every position in `options.at` and migrated there. */
export function migrateCheck(
  frames: readonly Frame[],
  registry: Registry,
  options: MigrateCheckOptions,
): MigrateCheckReport {
  const horizon = options.horizon ?? DEFAULT_HORIZON;
  const cutSet = options.at === 'all' ? undefined : new Set(options.at);
  const report: MigrateCheckReport = {
    vmm: options.vmm,
    quirks: options.quirks,
    events: frames.length,
    cuts: 0,
    skipped: 0,
    migrations: 0,
    diverged: [],
    explained: [],
    warned: [],
  };
  const wc = new WorkingCopy(registry);
  // Consecutive cuts with the same source VM (reads, marks) share one migration.
  let previous: { current: number; vm: VmState; report: CutReport | null } | undefined;
  let previousDiverged = false;
  for (let position = 1; position <= frames.length; position++) {
    wc.step(frames[position - 1]!.event);
    if (cutSet && !cutSet.has(position)) continue;
    report.cuts++;
    options.onProgress?.(position, frames.length);
    const vm: VmState | undefined = wc.state.vms[wc.state.current];
    if (!vm || wc.state.migration || vm.dead || !migratable(vm)) {
      report.skipped++;
      previousDiverged = false;
      continue;
    }
    let cut: CutReport | null;
    if (previous && previous.current === wc.state.current && deepEqual(previous.vm, vm)) {
      cut = previous.report && { ...previous.report, cut: position, divergence: null, replayed: 0 };
    } else {
      report.migrations++;
      const state = cloneState(wc.state);
      cut = checkCut(state, position, frames, registry, options, horizon, !previousDiverged);
      previous = { current: wc.state.current, vm: cloneState(wc.state).vms[wc.state.current]!, report: cut };
    }
    if (cut === null) {
      previousDiverged = false;
      continue;
    }
    if (cut.diff.length === 0 && cut.divergence) {
      // Everything that differs is explained by what KVM and the VMM always do, yet a guest sees
      // it: reported apart, and a failure only with `strict`.
      if (options.strict) report.diverged.push(cut);
      else report.explained.push(cut);
      previousDiverged = true;
      continue;
    }
    if (cut.diff.length === 0) {
      if (report.warned.length < MAX_WARNED)
        report.warned.push({
          cut: position,
          warnings: cut.warnings,
          ...(cut.failedStep ? { failedStep: cut.failedStep } : {}),
        });
      previousDiverged = false;
      continue;
    }
    report.diverged.push(cut);
    previousDiverged = true;
  }
  return report;
}

/**
 * Whether a VMM could migrate this VM: machine init is over (the vGIC initialized with its
 * distributor and every redistributor placed, the ITS placed). QEMU only migrates a machine it
 * has finished building; a cut inside `board` has no VMM counterpart.
 */
export function migratable(vm: VmState): boolean {
  if (vm.vcpus.length === 0) return false;
  const gic = vm.devices.gic;
  if (gic && (!gic.initialized || gic.distBase === null)) return false;
  if (gic && vm.vcpus.some((v) => v.devices.gic?.region === null)) return false;
  const its = vm.devices.its;
  return !its || its.base !== null;
}

/**
 * One cut: migrate, compare, and (when `continueRun`) replay the rest on the destination. Returns
 * null for an exact migration without warnings.
 */
function checkCut(
  state: MachineState,
  position: number,
  frames: readonly Frame[],
  registry: Registry,
  options: MigrateCheckOptions,
  horizon: number,
  continueRun: boolean,
): CutReport | null {
  const r = migrateOnce(state, registry, options);
  if (r.equal && r.rc === 0 && r.warnings.length === 0 && r.known.length === 0) return null;
  const diff = r.diff
    .slice(0, MAX_DIFF_ENTRIES)
    .map((d) => ({ path: d.path, expected: show(d.before), got: show(d.after) }));
  const responsible = r.equal
    ? []
    : responsibleSteps(
        r.diff.map((d) => d.path),
        r.steps,
        r.machine.state.vms[r.source]!,
        r.dest,
      );
  let divergence: CutDivergence | null = null;
  let replayed = 0;
  let stoppedAt: number | undefined;
  // Known differences are replayed too: KVM makes them, but a guest may still see them.
  if ((!r.equal || r.known.length > 0) && continueRun) {
    // The rest of the trace on both: the source (the reference) and the destination.
    const reference = r.machine;
    const destination = new WorkingCopy(registry, reference.snapshot());
    destination.step({ type: 'vm.select', vm: r.dest });
    const end = Math.min(frames.length, position + horizon);
    for (let p = position + 1; p <= end; p++) {
      const event = frames[p - 1]!.event;
      // VM numbers after the cut mean other VMs here (the check added the destination): a
      // VM-numbering event of the trace (its own migration, a new VM) ends the comparison.
      if (VM_NUMBERING.has(event.type)) {
        stoppedAt = p;
        break;
      }
      const expected = reference.step(event);
      const got = destination.step(event);
      replayed++;
      const d = compareFrame(p, { event, ...expected }, got, describe);
      if (d) {
        divergence = {
          position: p,
          statement: statementText(event),
          kind: d.kind === 'effects' ? 'effects' : 'output',
          expected: d.recorded,
          got: d.replayed,
        };
        break;
      }
    }
  }
  return {
    cut: position,
    rc: r.rc,
    ...(r.failedStep ? { failedStep: r.failedStep } : {}),
    steps: r.steps.length,
    warnings: r.warnings,
    diff,
    responsible,
    known: r.known,
    divergence,
    replayed,
    ...(stoppedAt === undefined ? {} : { stoppedAt }),
  };
}
