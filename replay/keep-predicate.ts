// The `--keep` predicates of `vgicrr minimize` (docs/minimize.md): what "the candidate still
// fails" means. A small language, one predicate per text:
//
//   migrate-check fails [--vmm V] [--quirks A,B] [--at all|MARK|#N] [--any|--observable]
//   replay diverges
//   expect fails [--any]
//   condition 'EXPR'            (docs/conditions.md)
//
// Each predicate is evaluated on a re-executed candidate (replay/minimize.ts), never on the
// outputs recorded in the original: removing an event changes what later events return.

import { quirkByName } from '../devices/quirks.js';
import type { Effect, EngineEvent, Output } from '../engine/events.js';
import type { Registry } from '../engine/registry.js';
import { WorkingCopy } from '../engine/working-copy.js';
import { bisect } from './bisect.js';
import { type Condition, ConditionSyntaxError, parseCondition } from './condition.js';
import { compareFrame } from './divergence.js';
import type { Frame } from './frame.js';
import { type CutReport, migrateCheck } from './migration/check.js';
import { VMM_PROFILES } from './migration/profiles.js';
import type { Candidate, Verdict } from './minimize.js';
import { Player } from './player.js';
import { effectText, outputText, statementText } from './statement-text.js';

export type CutSpec = 'all' | { mark: string } | { position: number };

export type KeepSpec =
  | {
      kind: 'migrate-check';
      vmm: string;
      quirks: string[];
      at: CutSpec;
      /**
       * `same` (default): the candidate must show the original's symptom: the first state path
       * that differed at the cut, and the original's first diverging event (its statement, expected
       * and got) if it had one. `observable`: any cut with a diverging event after it. `any`: any
       * cut that migrates inexactly (the CLI's exit 1).
       */
      match: 'same' | 'observable' | 'any';
    }
  | { kind: 'replay-diverges' }
  /** `any`: any failing expectation, not only one that failed in the original the same way. */
  | { kind: 'expect-fails'; any: boolean }
  | { kind: 'condition'; condition: Condition };

/** A `--keep` text that does not parse; `column` is 1-based. */
export class KeepSyntaxError extends Error {
  constructor(
    readonly column: number,
    readonly reason: string,
  ) {
    super(`column ${column}: ${reason}`);
    this.name = 'KeepSyntaxError';
  }
}

interface Word {
  text: string;
  col: number;
}

/** Splits on blanks; '…' and "…" group (no escapes inside '…', JSON escapes inside "…"). */
function words(src: string): Word[] {
  const out: Word[] = [];
  let i = 0;
  while (i < src.length) {
    if (/\s/.test(src[i]!)) {
      i++;
      continue;
    }
    const col = i + 1;
    let text = '';
    while (i < src.length && !/\s/.test(src[i]!)) {
      const q = src[i]!;
      if (q === "'" || q === '"') {
        const end = src.indexOf(q, i + 1);
        if (end < 0) throw new KeepSyntaxError(i + 1, `unterminated ${q} quote`);
        text += src.slice(i + 1, end);
        i = end + 1;
      } else text += src[i++];
    }
    out.push({ text, col });
  }
  return out;
}

const FORMS =
  "migrate-check fails [--vmm V] [--quirks A,B] [--at all|MARK|#N] [--any|--observable], replay diverges, expect fails [--any], or condition 'EXPR'";

export function parseKeep(src: string): KeepSpec {
  const trimmed = src.trim();
  const conditionMatch = /^condition\s+/.exec(trimmed);
  if (conditionMatch) {
    let expr = trimmed.slice(conditionMatch[0].length);
    let offset = src.indexOf(trimmed) + conditionMatch[0].length;
    const q = expr[0];
    if ((q === "'" || q === '"') && expr.endsWith(q) && expr.length >= 2) {
      expr = expr.slice(1, -1);
      offset++;
    }
    try {
      return { kind: 'condition', condition: parseCondition(expr) };
    } catch (error) {
      if (error instanceof ConditionSyntaxError)
        throw new KeepSyntaxError(offset + error.column, error.reason);
      throw error;
    }
  }
  const ws = words(src);
  const head = ws
    .slice(0, 2)
    .map((w) => w.text)
    .join(' ');
  const end = src.length + 1;
  if (head === 'expect fails') {
    if (ws.length > 3 || (ws[2] && ws[2].text !== '--any'))
      throw new KeepSyntaxError(ws[ws[2]?.text === '--any' ? 3 : 2]!.col, '`expect fails` takes only --any');
    return { kind: 'expect-fails', any: ws.length === 3 };
  }
  if (head === 'replay diverges') {
    if (ws.length > 2) throw new KeepSyntaxError(ws[2]!.col, '`replay diverges` takes no options');
    return { kind: 'replay-diverges' };
  }
  if (head !== 'migrate-check fails') throw new KeepSyntaxError(ws[0]?.col ?? end, `expected ${FORMS}`);
  const spec: KeepSpec = { kind: 'migrate-check', vmm: 'qemu', quirks: [], at: 'all', match: 'same' };
  for (let k = 2; k < ws.length; k++) {
    const w = ws[k]!;
    const value = () => {
      const v = ws[++k];
      if (!v) throw new KeepSyntaxError(end, `${w.text} needs a value`);
      return v;
    };
    if (w.text === '--observable' || w.text === '--any')
      spec.match = w.text === '--any' ? 'any' : 'observable';
    else if (w.text === '--vmm') {
      const v = value();
      if (!VMM_PROFILES[v.text])
        throw new KeepSyntaxError(
          v.col,
          `unknown VMM \`${v.text}\` (${Object.keys(VMM_PROFILES).join(', ')})`,
        );
      spec.vmm = v.text;
    } else if (w.text === '--quirks') {
      const v = value();
      for (const name of v.text.split(',')) {
        const quirk = quirkByName(name);
        if (!quirk) throw new KeepSyntaxError(v.col, `unknown quirk \`${name}\``);
        if (quirk.side !== 'vmm')
          throw new KeepSyntaxError(v.col, `\`${name}\` is a kernel quirk: it is on the trace's vm.create`);
        if (!spec.quirks.includes(name)) spec.quirks.push(name);
      }
    } else if (w.text === '--at') {
      const v = value();
      const m = /^#?(\d+)$/.exec(v.text);
      spec.at = v.text === 'all' ? 'all' : m ? { position: Number(m[1]) } : { mark: v.text };
    } else throw new KeepSyntaxError(w.col, `unknown option \`${w.text}\` (${FORMS})`);
  }
  return spec;
}

/** The predicate text in canonical form, for summaries and scenario headers. */
export function keepText(spec: KeepSpec): string {
  switch (spec.kind) {
    case 'migrate-check': {
      const at =
        spec.at === 'all' ? '' : ` --at ${'mark' in spec.at ? spec.at.mark : `#${spec.at.position}`}`;
      return `migrate-check fails${spec.vmm === 'qemu' ? '' : ` --vmm ${spec.vmm}`}${
        spec.quirks.length ? ` --quirks ${spec.quirks.join(',')}` : ''
      }${at}${spec.match === 'same' ? '' : ` --${spec.match}`}`;
    }
    case 'replay-diverges':
      return 'replay diverges';
    case 'expect-fails':
      return `expect fails${spec.any ? ' --any' : ''}`;
    case 'condition':
      return `condition '${spec.condition.source}'`;
  }
}

/** An `expect` clause attached to the original event whose output it checks. */
export interface AttachedExpectation {
  /** Original event index (0-based). */
  index: number;
  /** The failure message for `output`, or undefined when the expectation holds. */
  check(output: Output): string | undefined;
}

export interface KeepContext {
  registry: Registry;
  /** The original trace, with its recorded outputs. */
  frames: readonly Frame[];
  /** For `expect fails`: the scenario's expectations (none for a trace). */
  expectations?: readonly AttachedExpectation[];
}

export interface KeepPredicate {
  spec: KeepSpec;
  /** Original event indexes a candidate must keep (the cut marks). */
  required: number[];
  test(candidate: Candidate): Verdict;
}

const describe = {
  output: (o: Output) => outputText(o) || '(no output)',
  effects: (e: readonly Effect[]) => (e.length ? e.map(effectText).join('; ') : '(no effects)'),
};

/** Re-executes `events` from the empty machine: the candidate's own outputs. */
export function recordEvents(
  events: readonly EngineEvent[],
  registry: Registry,
  upTo = events.length,
): Frame[] {
  const machine = new WorkingCopy(registry);
  const frames: Frame[] = [];
  for (let i = 0; i < upTo; i++) {
    const event = events[i]!;
    frames.push({ event, ...machine.step(event) });
  }
  return frames;
}

/** Frames with only events: all migrate-check reads (it re-executes both sides itself). */
function bareFrames(events: readonly EngineEvent[]): Frame[] {
  return events.map((event) => ({ event, output: {}, effects: [] }));
}

/** Where migrate-check cuts a candidate (1-based positions), or undefined when a named cut is gone. */
function cutsOf(candidate: Candidate, at: Exclude<CutSpec, 'all'> | number[]): number[] | undefined {
  if (Array.isArray(at) || 'position' in at) {
    // An original position maps to the last kept event at or before it.
    const originals = Array.isArray(at) ? at : [at.position];
    const out = new Set<number>();
    for (const p of originals) {
      let q = 0;
      for (let i = 0; i < candidate.origin.length; i++) {
        const o = candidate.origin[i]!;
        if (o >= 0 && o > p - 1) break;
        q = i + 1;
      }
      if (q > 0) out.add(q);
    }
    return out.size ? [...out].sort((a, b) => a - b) : undefined;
  }
  const cuts: number[] = [];
  candidate.events.forEach((e, i) => {
    if (e.type === 'trace.mark' && e.name === at.mark) cuts.push(i + 1);
  });
  return cuts.length ? cuts : undefined;
}

/** The original as a candidate of itself. */
export function wholeCandidate(frames: readonly Frame[]): Candidate {
  return { events: frames.map((f) => f.event), origin: frames.map((_f, i) => i) };
}

/**
 * The predicate `spec` over candidates of the trace in `ctx`. For `migrate-check --at all` it
 * first runs migrate-check on every position of the original and, on candidates, cuts only where
 * the original diverged (mapped through the removal; see docs/minimize.md).
 */
export function keepPredicate(spec: KeepSpec, ctx: KeepContext): KeepPredicate {
  const { registry, frames } = ctx;
  switch (spec.kind) {
    case 'migrate-check': {
      const required: number[] = [];
      let at: Exclude<CutSpec, 'all'> | number[];
      const whole = wholeCandidate(frames);
      if (spec.at === 'all') {
        const report = migrateCheck(bareFrames(whole.events), registry, {
          vmm: spec.vmm,
          quirks: spec.quirks,
          at: 'all',
        });
        at = report.diverged
          .filter((d) => spec.match !== 'observable' || d.divergence !== null)
          .slice(0, 8)
          .map((d) => d.cut);
      } else {
        at = spec.at;
        if ('mark' in at) {
          const name = at.mark;
          frames.forEach((f, i) => {
            if (f.event.type === 'trace.mark' && f.event.name === name) required.push(i);
          });
          if (required.length === 0) throw new KeepSyntaxError(1, `the trace has no mark \`${name}\``);
        }
      }
      const failing = (candidate: Candidate, accept: (cut: CutReport) => boolean): CutReport | undefined => {
        const cuts = cutsOf(candidate, at);
        if (!cuts) return undefined;
        const report = migrateCheck(bareFrames(candidate.events), registry, {
          vmm: spec.vmm,
          quirks: spec.quirks,
          at: cuts,
        });
        return report.diverged.find(accept);
      };
      // The symptom a `same` candidate must keep: the original's first failing cut.
      const symptom = spec.match === 'same' ? failing(whole, () => true) : undefined;
      const sameSymptom = (cut: CutReport): boolean => {
        if (!symptom) return false;
        const path = symptom.diff[0]?.path;
        if (path !== undefined && !cut.diff.some((d) => d.path === path)) return false;
        const [a, b] = [symptom.divergence, cut.divergence];
        if (!a) return true;
        return b !== null && a.statement === b.statement && a.expected === b.expected && a.got === b.got;
      };
      return {
        spec,
        required,
        test(candidate) {
          const hit = failing(candidate, (cut) =>
            spec.match === 'same' ? sameSymptom(cut) : spec.match === 'any' || cut.divergence !== null,
          );
          if (!hit) return { fails: false };
          const d = hit.divergence;
          const after = d
            ? `; first divergence at #${d.position}: ${d.statement} (expected ${d.expected}, got ${d.got})`
            : '';
          return {
            fails: true,
            // Without a diverging event the state at the cut is the failure: what follows can go.
            last: candidate.origin[(d && spec.match !== 'any' ? d.position : hit.cut) - 1]!,
            detail: `cut #${hit.cut} migrates inexactly (${hit.diff[0]?.path ?? hit.failedStep ?? `rc ${hit.rc}`})${after}`,
          };
        },
      };
    }
    case 'replay-diverges': {
      // The original's first event whose re-execution differs from its recorded frame.
      const machine = new WorkingCopy(registry);
      let target = -1;
      for (let i = 0; i < frames.length && target < 0; i++)
        if (compareFrame(i + 1, frames[i]!, machine.step(frames[i]!.event), describe)) target = i;
      return {
        spec,
        required: [],
        test(candidate) {
          if (target < 0) return { fails: false };
          const k = candidate.origin.indexOf(target);
          if (k < 0) return { fails: false };
          const fresh = recordEvents(candidate.events, registry, k + 1)[k]!;
          const d = compareFrame(k + 1, frames[target]!, fresh, describe);
          return d
            ? {
                fails: true,
                last: target,
                detail: `#${k + 1} ${statementText(fresh.event)}: recorded ${d.recorded}, replayed ${d.replayed}`,
              }
            : { fails: false };
        },
      };
    }
    case 'expect-fails': {
      const byIndex = new Map((ctx.expectations ?? []).map((x) => [x.index, x]));
      // Failures are compared by message (file, line, expected, got): a candidate must fail an
      // expectation the way the original did, not merely fail one (a statement on a vCPU that is
      // gone fails its expectation trivially).
      const original = new Set<string>();
      for (const [index, x] of byIndex) {
        const message = x.check(frames[index]!.output);
        if (message) original.add(message);
      }
      return {
        spec,
        required: [],
        test(candidate) {
          let upTo = 0;
          candidate.origin.forEach((o, i) => {
            if (byIndex.has(o)) upTo = i + 1;
          });
          if (upTo === 0) return { fails: false };
          const fresh = recordEvents(candidate.events, registry, upTo);
          for (let i = 0; i < upTo; i++) {
            const x = byIndex.get(candidate.origin[i]!);
            const message = x?.check(fresh[i]!.output);
            if (message && (spec.any || original.has(message)))
              return { fails: true, last: x!.index, detail: `#${i + 1} ${message}` };
          }
          return { fails: false };
        },
      };
    }
    case 'condition':
      return {
        spec,
        required: [],
        test(candidate) {
          const player = Player.open(recordEvents(candidate.events, registry), { registry });
          const hit = bisect(player, player.changeIndex(), spec.condition);
          if (!hit) return { fails: false };
          const last = hit.position > 0 ? candidate.origin[hit.position - 1]! : -1;
          return {
            fails: true,
            ...(last >= 0 ? { last } : {}),
            detail: `holds at #${hit.position}`,
          };
        },
      };
  }
}
