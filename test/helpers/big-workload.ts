// A bug reproduction (traces/bugs/*.vgs) buried in a large, realistic trace, for the minimize
// tests (docs/minimize.md "Testing on big traces").
//
// The shape is a host running two guests, as a VMM process recording everything would see it:
// VM 0 is the benchmarks' busy 4-vCPU GIC guest (bench/workload.ts: bring-up, interrupt storms,
// IPIs, RAM traffic, hypercalls, VMM stop/inspect/cont), VM 1 is the guest that hits the bug.
// VM 0 runs first for most of the filler; then the reproduction's events run on VM 1 with
// slices of VM 0's activity interleaved between them (`use_vm 0`, a slice, `use_vm 1`), never
// inside a migration. The reproduction's own board differs from VM 0's (ITS, GICv4.1, vCPU
// count, kernel quirks), which is why it lives on its own VM rather than sharing VM 0's.
// Everything after the `cut` mark is the reproduction's alone: migrate-check replays the rest of
// the trace on the destination VM, and a `use_vm` naming the source would leave it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prng, workload } from '../../bench/workload.js';
import { headerOf } from '../../cli/commands/run.js';
import { quirkByName } from '../../devices/quirks.js';
import type { EngineEvent } from '../../engine/events.js';
import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';
import type { TraceHeaderInput } from '../../replay/trace-writer.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';

export const BUGS_DIR = join(import.meta.dirname, '..', '..', 'traces', 'bugs');

export interface BugFile {
  file: string;
  quirk: string;
  check: string;
  side: 'kernel' | 'vmm';
  text: string;
}

export function readBug(file: string): BugFile {
  const text = readFileSync(join(BUGS_DIR, file), 'utf8');
  const field = (name: string) => new RegExp(`^# ${name}: *(.+)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const quirk = field('quirk');
  return {
    file,
    quirk,
    check: field('check').split(/\s/)[0] ?? '',
    side: quirkByName(quirk)?.side === 'kernel' ? 'kernel' : 'vmm',
    text,
  };
}

/** The scenario text with a kernel quirk on every `board`/`vm` line (as the bug test does). */
export function withKernelQuirk(text: string, quirk: string): string {
  return text.replace(
    /^((?:board|vm)\b[^#\n]*?)[ \t]*(#.*)?$/gm,
    (_m, stmt: string, comment?: string) => `${stmt} quirks=${quirk}${comment ? ` ${comment}` : ''}`,
  );
}

/** The reproduction's primitive events (kernel quirk switched on) and its header. */
export function reproEvents(bug: BugFile): { events: EngineEvent[]; header: TraceHeaderInput } {
  const text = bug.side === 'kernel' ? withKernelQuirk(bug.text, bug.quirk) : bug.text;
  const scenario = parseScenario(text, bug.file);
  const events: EngineEvent[] = [];
  runScenario(scenario, { registry: defaultRegistry(), onFrame: (f: Frame) => events.push(f.event) });
  return { events, header: headerOf(scenario) };
}

/** The `--keep` text that makes the reproduction fail (kernel quirks are on its vm.create). */
export function keepFor(bug: BugFile, extra = ''): string {
  return `migrate-check fails --at cut${bug.side === 'vmm' ? ` --quirks ${bug.quirk}` : ''}${extra}`;
}

export interface EmbedOptions {
  /** Total events of VM 0's activity (default 10,000). */
  filler?: number;
  /** Slices of it interleaved with the reproduction before the cut (default 12). */
  slices?: number;
  seed?: number;
}

/**
 * `repro` (events of one VM, with a `trace.mark cut`) embedded after and between VM 0's
 * activity as described at the top of this file.
 */
export function embed(repro: readonly EngineEvent[], options: EmbedOptions = {}): EngineEvent[] {
  const seed = options.seed ?? 1;
  const filler = workload(seed, options.filler ?? 10_000);
  const slices = options.slices ?? 12;
  const cut = repro.findIndex((e) => e.type === 'trace.mark' && e.name === 'cut');
  if (cut < 0) throw new Error('the reproduction has no `mark cut`');
  // 70% of VM 0's activity first, the rest in slices of random length between repro events.
  const head = Math.floor(filler.length * 0.7);
  const out: EngineEvent[] = filler.slice(0, head);
  const rand = prng(seed ^ 0x5eed);
  const tail = filler.slice(head);
  const bounds = Array.from({ length: slices - 1 }, () => Math.floor(rand() * tail.length)).sort(
    (a, b) => a - b,
  );
  const pieces: EngineEvent[][] = [];
  let from = 0;
  for (const b of [...bounds, tail.length]) {
    pieces.push(tail.slice(from, b));
    from = b;
  }
  // Insertion points: after a repro event before the cut, outside migrations, once VM 1 exists.
  const points: number[] = [];
  let inMigration = false;
  for (let i = 0; i < cut; i++) {
    const e = repro[i]!;
    if (e.type === 'migrate.begin') inMigration = true;
    if (e.type === 'migrate.end') inMigration = false;
    if (!inMigration) points.push(i);
  }
  // Slices keep VM 0's order: the k-th slice goes to the k-th of the chosen points.
  const chosen = pieces.map(() => points[Math.floor(rand() * points.length)]!).sort((a, b) => a - b);
  const at = new Map<number, EngineEvent[]>();
  pieces.forEach((piece, k) => {
    const p = chosen[k]!;
    at.set(p, [...(at.get(p) ?? []), ...piece]);
  });
  for (let i = 0; i < repro.length; i++) {
    out.push(repro[i]!);
    const piece = at.get(i);
    if (piece?.length) out.push({ type: 'vm.select', vm: 0 }, ...piece, { type: 'vm.select', vm: 1 });
  }
  return out;
}
