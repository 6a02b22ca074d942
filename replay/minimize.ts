// Trace minimization (docs/minimize.md): delta debugging (Zeller and Hildebrandt, "Simplifying
// and isolating failure-inducing input", ddmin) over the primitive events of a trace, keeping
// every candidate well-formed, so that a failing trace of a million events becomes a scenario of
// a few lines that still fails.
//
// What is removed, and what stays well-formed:
//
// - The unit of removal is one event, except a checkpoint migration inside the trace
//   (`migrate.begin … migrate.end`), which is removed whole or kept whole.
// - Which VM an event addresses is taken from the original run (the current VM before it). A
//   candidate without a VM's `vm.create` loses every event on that VM (and a migration of it);
//   the VMs left are renumbered, in creation order, in `ram.transfer` and in the `vm.select`s
//   inside migrations. Outside migrations `vm.select` (`use_vm`) is not a unit at all: the
//   candidate gets a `vm.select` wherever its next VM event addresses another VM than the
//   previous one did, so switching VMs is never lost or left dangling.
// - Events the predicate names (the `mark` a migrate-check cuts at) are never removed.
// - Any other removal is allowed: the engine answers an event the state cannot take (a guest
//   access on a vCPU that no longer exists) with an `engine.*` effect, never an exception, so
//   every candidate runs; one that still throws counts as "does not fail" (ddmin's unresolved).
//
// The search: (1) try dropping each VM whole; (2) try cutting everything after the last event
// the failure depends on (the predicate says which); (3) ddmin with complements, continuing at
// the same chunk after a success, on the units that survived; (4) a one-by-one pass to a fixed
// point (1-minimal). Candidates are cached by their event list, and evaluations are bounded.
// Pure: no clock, no I/O.

import type { EngineEvent } from '../engine/events.js';
import type { Registry } from '../engine/registry.js';
import { WorkingCopy } from '../engine/working-copy.js';

/** A candidate trace: its events and, for each, the index of the original event (-1: added). */
export interface Candidate {
  readonly events: readonly EngineEvent[];
  readonly origin: readonly number[];
}

/** What a predicate says about a candidate. */
export interface Verdict {
  /** The candidate still fails. */
  fails: boolean;
  /** The last original event index the failure depends on (what follows may be cut). */
  last?: number;
  /** A line describing the failure (for the summary). */
  detail?: string;
}

export interface MinimizeProgress {
  phase: 'vms' | 'suffix' | 'ddmin' | 'one-by-one';
  evaluations: number;
  /** Events in the smallest failing candidate so far. */
  events: number;
}

export interface MinimizeOptions {
  /** Original event indexes that must stay (the marks the predicate names). */
  required?: Iterable<number>;
  /** Most predicate evaluations (default 4,000; cached candidates are free). */
  maxEvaluations?: number;
  onProgress?: (progress: MinimizeProgress) => void;
}

export interface MinimizeResult {
  /** The smallest failing candidate found (the input itself if nothing could be removed). */
  candidate: Candidate;
  verdict: Verdict;
  /** Events of the input. */
  before: number;
  /** Predicate evaluations (cache misses). */
  evaluations: number;
  cacheHits: number;
  /** The evaluation budget ran out before a 1-minimal candidate was reached. */
  exhausted: boolean;
}

export class NotFailingError extends Error {
  constructor() {
    super('the trace does not fail the predicate: there is nothing to minimize');
    this.name = 'NotFailingError';
  }
}

/** The VM each event addresses, from one run of the original. */
interface Layout {
  /** Current VM before event i (-1: none). */
  vmBefore: Int32Array;
  /** Current VM after event i. */
  vmAfter: Int32Array;
  /** For `vm.create`, the VM it creates (else -1). */
  created: Int32Array;
  /** For an event inside a migration, the index of its `migrate.begin` (else -1). */
  block: Int32Array;
  /** For a `migrate.begin`, the index of its `migrate.end` (or the last event). */
  blockEnd: Map<number, number>;
  vms: number;
}

function layoutOf(events: readonly EngineEvent[], registry: Registry): Layout {
  const n = events.length;
  const layout: Layout = {
    vmBefore: new Int32Array(n),
    vmAfter: new Int32Array(n),
    created: new Int32Array(n).fill(-1),
    block: new Int32Array(n).fill(-1),
    blockEnd: new Map(),
    vms: 0,
  };
  const machine = new WorkingCopy(registry);
  let open = -1;
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    layout.vmBefore[i] = machine.state.vms.length ? machine.state.current : -1;
    if (e.type === 'migrate.begin' && open < 0) open = i;
    layout.block[i] = open;
    try {
      machine.step(e);
    } catch {
      // The original is replayed as recorded; an event the engine rejects changes nothing here.
    }
    if (e.type === 'vm.create') layout.created[i] = machine.state.vms.length - 1;
    layout.vmAfter[i] = machine.state.vms.length ? machine.state.current : -1;
    if (e.type === 'migrate.end' && open >= 0) {
      layout.blockEnd.set(open, i);
      open = -1;
    }
  }
  if (open >= 0) layout.blockEnd.set(open, n - 1);
  layout.vms = machine.state.vms.length;
  return layout;
}

/**
 * The well-formed candidate made of the original events marked in `keep` (see the file comment):
 * VM closure, renumbering, and `vm.select` where the VM changes.
 */
function normalize(events: readonly EngineEvent[], layout: Layout, keep: Uint8Array): Candidate {
  const newIndex = new Int32Array(layout.vms).fill(-1);
  let count = 0;
  let current = -1;
  const out: EngineEvent[] = [];
  const origin: number[] = [];
  const emit = (e: EngineEvent, i: number) => {
    out.push(e);
    origin.push(i);
  };
  const mapped = (vm: number) => (vm >= 0 && vm < newIndex.length ? newIndex[vm]! : -1);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const inBlock = layout.block[i]! >= 0;
    if (!keep[i]) continue;
    if (inBlock && layout.block[i] === i && mapped(layout.vmBefore[i]!) < 0) {
      // A migration of a VM that is gone goes with it.
      i = layout.blockEnd.get(i)!;
      continue;
    }
    if (e.type === 'vm.create') {
      newIndex[layout.created[i]!] = count++;
      emit(e, i);
      current = newIndex[layout.created[i]!]!;
      continue;
    }
    if (e.type === 'vm.select' && !inBlock) continue;
    const marker = e.type === 'trace.mark' || e.type === 'trace.note';
    const vm = mapped(layout.vmBefore[i]!);
    if (vm < 0 && layout.vmBefore[i]! >= 0 && !marker) continue;
    if (!inBlock && vm >= 0 && vm !== current) {
      emit({ type: 'vm.select', vm }, -1);
      current = vm;
    }
    if (e.type === 'vm.select') {
      const to = mapped(e.vm);
      if (to < 0) continue;
      emit({ type: 'vm.select', vm: to }, i);
    } else if (e.type === 'ram.transfer') {
      const from = mapped(e.from);
      const to = mapped(e.to);
      if (from < 0 || to < 0) continue;
      emit({ type: 'ram.transfer', from, to }, i);
    } else emit(e, i);
    const after = mapped(layout.vmAfter[i]!);
    if (after >= 0) current = after;
  }
  return { events: out, origin };
}

/**
 * Shrinks `events` to a small candidate on which `test` still fails. Throws NotFailingError when
 * the input itself does not fail.
 */
export function minimize(
  events: readonly EngineEvent[],
  test: (candidate: Candidate) => Verdict,
  registry: Registry,
  options: MinimizeOptions = {},
): MinimizeResult {
  const layout = layoutOf(events, registry);
  const n = events.length;
  const required = new Uint8Array(n);
  for (const i of options.required ?? []) if (i >= 0 && i < n) required[i] = 1;

  // Units: a migration block whole, any other event alone; required events and `vm.select`s
  // outside migrations are not units (always in / regenerated).
  let units: number[][] = [];
  for (let i = 0; i < n; i++) {
    if (required[i]) continue;
    const e = events[i]!;
    if (layout.block[i] === i) {
      const end = layout.blockEnd.get(i)!;
      const unit: number[] = [];
      for (let j = i; j <= end; j++) if (!required[j]) unit.push(j);
      units.push(unit);
      i = end;
      continue;
    }
    if (e.type === 'vm.select') continue;
    units.push([i]);
  }

  const maxEvaluations = options.maxEvaluations ?? 4000;
  const cache = new Map<string, Verdict>();
  let evaluations = 0;
  let cacheHits = 0;
  let exhausted = false;
  let phase: MinimizeProgress['phase'] = 'vms';

  const candidateOf = (us: readonly (readonly number[])[]): Candidate => {
    const keep = new Uint8Array(n);
    for (let i = 0; i < n; i++)
      if (required[i] || (events[i]!.type === 'vm.select' && layout.block[i]! < 0)) keep[i] = 1;
    for (const u of us) for (const i of u) keep[i] = 1;
    return normalize(events, layout, keep);
  };
  const evaluate = (candidate: Candidate): Verdict | undefined => {
    const key = candidate.origin.join(',');
    const cached = cache.get(key);
    if (cached) {
      cacheHits++;
      return cached;
    }
    if (evaluations >= maxEvaluations) {
      exhausted = true;
      return undefined;
    }
    evaluations++;
    let verdict: Verdict;
    try {
      verdict = test(candidate);
    } catch {
      verdict = { fails: false };
    }
    cache.set(key, verdict);
    return verdict;
  };

  let best = candidateOf(units);
  const first = evaluate(best);
  if (!first?.fails) throw new NotFailingError();
  let bestVerdict = first;
  /** Units whose events all left the candidate (closure) are dropped from the search. */
  const prune = (candidate: Candidate) => {
    const present = new Uint8Array(n);
    for (const i of candidate.origin) if (i >= 0) present[i] = 1;
    units = units.filter((u) => u.some((i) => present[i]));
  };
  /** Tries `us`; on failure of the predicate (i.e. the candidate still fails) adopts it. */
  const attempt = (us: number[][]): boolean => {
    const candidate = candidateOf(us);
    if (candidate.events.length >= best.events.length) return false;
    const verdict = evaluate(candidate);
    options.onProgress?.({ phase, evaluations, events: best.events.length });
    if (!verdict?.fails) return false;
    best = candidate;
    bestVerdict = verdict;
    units = us;
    prune(candidate);
    return true;
  };
  prune(best);

  // (1) Whole VMs, most recently created first (the failing VM is usually the last).
  for (let i = n - 1; i >= 0 && !exhausted; i--) {
    if (layout.created[i]! < 0 || required[i]) continue;
    attempt(units.filter((u) => !u.includes(i)));
  }

  // (2) Everything after the last event the failure depends on.
  phase = 'suffix';
  if (bestVerdict.last !== undefined && !exhausted) {
    const last = bestVerdict.last;
    attempt(units.filter((u) => u[0]! <= last));
  }

  // (3) ddmin over the units left.
  phase = 'ddmin';
  let granularity = 2;
  while (units.length >= 2 && !exhausted) {
    const size = Math.ceil(units.length / granularity);
    let reduced = false;
    for (let start = 0; start < units.length && !exhausted; ) {
      const complement = [...units.slice(0, start), ...units.slice(start + size)];
      if (attempt(complement)) {
        reduced = true;
        granularity = Math.max(granularity - 1, 2);
        // Continue with the chunk that now sits at `start`.
      } else start += size;
    }
    if (!reduced) {
      if (size <= 1) break;
      granularity = Math.min(units.length, granularity * 2);
    }
  }

  // (4) One by one, from the end, until nothing more can go.
  phase = 'one-by-one';
  for (let changed = true; changed && !exhausted; ) {
    changed = false;
    for (let k = units.length - 1; k >= 0 && !exhausted; k--) {
      if (k >= units.length) continue;
      if (attempt([...units.slice(0, k), ...units.slice(k + 1)])) changed = true;
    }
  }

  return { candidate: best, verdict: bestVerdict, before: n, evaluations, cacheHits, exhausted };
}
