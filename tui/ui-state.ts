// The terminal UI's own state (docs/tui.md): where the user is in time, which tab, marks, the
// search condition, the watched path, the open prompt, the help overlay. Plain data, owned by
// the pure reducer (reducer.ts); the machine state itself lives in the player, never here.

import type { Condition } from '../replay/condition.js';

/** State pane tabs, in Tab order. */
export type Tab = 'irqs' | 'vcpu' | 'its' | 'lpis' | 'sdei';

export const TABS: readonly { id: Tab; title: string; short: string }[] = [
  { id: 'irqs', title: 'Distributor IRQs', short: 'IRQs' },
  { id: 'vcpu', title: 'vCPU', short: 'vCPU' },
  { id: 'its', title: 'ITS', short: 'ITS' },
  { id: 'lpis', title: 'LPIs', short: 'LPIs' },
  { id: 'sdei', title: 'SDEI', short: 'SDEI' },
];

/** A mark: from the trace (`mark NAME`) or set with `m`. */
export interface UiMark {
  name: string;
  position: number;
  source: 'trace' | 'user';
}

export type PromptKind = 'goto' | 'search' | 'mark' | 'jump' | 'diff' | 'watch';

export interface Prompt {
  kind: PromptKind;
  text: string;
  /** Why the last Enter was refused (column-accurate for conditions). */
  error?: string;
}

export interface UiState {
  /** Events in the trace; positions run 0..length. */
  length: number;
  position: number;
  tab: Tab;
  /** Selected row of the state pane. */
  row: number;
  /** Marks, ascending by position (trace marks first on a tie). */
  marks: UiMark[];
  prompt: Prompt | undefined;
  search: Condition | undefined;
  /** A search is running (the controller runs it in slices). */
  searching: boolean;
  /** The watched state path (`w`), canonical. */
  watch: string | undefined;
  /** The mark the diff pane compares against (`d`); undefined: what the current event changed. */
  diffMark: UiMark | undefined;
  /** The diff pane compares the migration's source and destination VMs here (`v`). */
  versus: boolean;
  help: boolean;
  /** One line of feedback in the status area. */
  message: string | undefined;
  quit: boolean;
}

export function initialUiState(
  length: number,
  marks: readonly { name: string; position: number }[],
): UiState {
  return {
    length,
    position: 0,
    tab: 'irqs',
    row: 0,
    marks: sortMarks(marks.map((m) => ({ name: m.name, position: m.position, source: 'trace' as const }))),
    prompt: undefined,
    search: undefined,
    searching: false,
    watch: undefined,
    diffMark: undefined,
    versus: false,
    help: false,
    message: undefined,
    quit: false,
  };
}

export function sortMarks(marks: UiMark[]): UiMark[] {
  return [...marks].sort(
    (a, b) => a.position - b.position || (a.source === b.source ? 0 : a.source === 'trace' ? -1 : 1),
  );
}

/** The last mark at or before `position`, if any. */
export function markAtOrBefore(marks: readonly UiMark[], position: number): UiMark | undefined {
  let found: UiMark | undefined;
  for (const m of marks) if (m.position <= position) found = m;
  return found;
}

/** `booted`, `booted+3`, or `#0` style: where `position` is relative to the nearest earlier mark. */
export function nearestMarkLabel(marks: readonly UiMark[], position: number): string {
  const m = markAtOrBefore(marks, position);
  if (!m) return '-';
  return m.position === position ? m.name : `${m.name}+${position - m.position}`;
}
