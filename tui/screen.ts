// What the terminal UI shows, as plain lines: the event list, the state pane with its tabs,
// the diff pane, the status bar and the prompt/message line, each cut to its width, computed
// from the UI state (ui-state.ts) and a timeline (the player). The Ink components only draw
// these lines. Reads the timeline, never moves it.
//
// The frame's own glyphs are ASCII (`>` cursor, `|` rule, `->`, `~` for a cut line): Ink
// measures every line it draws, and a line of printable ASCII takes string-width's fast path
// (a Unicode line goes through Intl.Segmenter, which made a frame several times slower).

import type { MachineState } from '../engine/state.js';
import type { Frame } from '../replay/frame.js';
import { compareVms } from '../replay/migration/compare.js';
import type { DiffEntry } from '../replay/state-diff.js';
import { stateText } from '../replay/state-text.js';
import { stateView } from '../replay/state-view.js';
import { effectText, outputText, statementText } from '../replay/statement-text.js';
import { promptLabel } from './reducer.js';
import { type StateRow, tabRows } from './state-tabs.js';
import { nearestMarkLabel, TABS, type UiState } from './ui-state.js';

/** What the screen reads from the player (a Player satisfies it). */
export interface Timeline {
  readonly length: number;
  readonly position: number;
  readonly state: MachineState;
  frame(position: number): Frame;
  /** What the event at the current position changed. */
  changes(): DiffEntry[];
  diff(a: number, b: number): DiffEntry[];
}

export type LineStyle = 'plain' | 'current' | 'selected' | 'header' | 'dim' | 'mark' | 'boundary' | 'error';

export interface Line {
  text: string;
  style: LineStyle;
}

export interface Screen {
  width: number;
  height: number;
  /** Columns of the event list; the state pane takes the rest after a one-column rule. */
  leftWidth: number;
  rightWidth: number;
  /** Rows of the event list and the state pane (title included). */
  mainRows: number;
  events: Line[];
  state: Line[];
  diff: Line[];
  status: Line;
  bottom: Line;
  /** The help overlay, shown instead of the panes. */
  help: Line[] | undefined;
  /** Rows of the state pane's tab and the selected row's path (for `w`). */
  rowCount: number;
  selectedPath: string | undefined;
}

/** Memoised derived data, one per controller. */
export class ScreenCache {
  private text:
    | { state: MachineState; width: number; lines: string[]; view: ReturnType<typeof stateView> }
    | undefined;
  private diffed: { a: number; b: number; entries: DiffEntry[] } | undefined;
  private firstVm: number | undefined | null = null;

  stateLines(state: MachineState, width: number): { lines: string[]; view: ReturnType<typeof stateView> } {
    if (!this.text || this.text.state !== state || this.text.width !== width) {
      const view = stateView(state);
      this.text = { state, width, view, lines: stateText(view, { width }) };
    }
    return this.text;
  }

  diff(timeline: Timeline, a: number, b: number): DiffEntry[] {
    if (!this.diffed || this.diffed.a !== a || this.diffed.b !== b)
      this.diffed = { a, b, entries: timeline.diff(a, b) };
    return this.diffed.entries;
  }

  /** Position of the first `vm.create` (looked for in the first 100,000 events only). */
  firstVmCreate(timeline: Timeline): number | undefined {
    if (this.firstVm === null) {
      this.firstVm = undefined;
      for (let p = 1; p <= Math.min(timeline.length, 100_000); p++) {
        if (timeline.frame(p).event.type === 'vm.create') {
          this.firstVm = p;
          break;
        }
      }
    }
    return this.firstVm;
  }
}

/** `text` cut or padded to exactly `width` columns. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = [...text];
  if (chars.length > width) return `${chars.slice(0, width - 1).join('')}~`;
  return text + ' '.repeat(width - chars.length);
}

/** A state value as the diff pane shows it. */
export function valueText(value: unknown): string {
  if (value === undefined) return '(absent)';
  if (typeof value === 'bigint') return `0x${value.toString(16)}`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (Array.isArray(value)) return `[${value.length} items]`;
  if (typeof value === 'object' && value !== null) return '{...}';
  return String(value);
}

/** `source` / `destination` once a migration made a second VM, else `VM n`. */
export function vmLabel(state: MachineState): string {
  if (state.current < 0) return 'no VM';
  if (state.vms.length >= 2) return state.current === 0 ? 'source' : 'destination';
  return `VM ${state.current}`;
}

export const HINTS =
  "l/h step  L/H +-100  g go  / search  c/C  w watch  [ ]  m mark  ' jump  d diff  Tab  ? help  q quit";

export const HELP: readonly [string, string][] = [
  ['l  →', 'next event'],
  ['h  ←', 'previous event'],
  ['L  H', '100 events forward / back'],
  ['0  G', 'first / last position'],
  ['g', 'go to a position (#N, N, +N, -N) or a mark'],
  ['/', 'enter a search condition (docs/conditions.md)'],
  ['c  C', 'continue to the next / previous position where it holds'],
  ['j k ↓ ↑', 'select a row in the state pane'],
  ['w', "watch the selected row's state path (or type one)"],
  ['[  ]', 'previous / next change of the watched path'],
  ['m', 'set a mark here'],
  ["'", 'jump to a mark'],
  ['d', 'diff the current position against a mark (d again: back)'],
  ['v', 'diff the source VM against the destination VM here (after a migration)'],
  ['Tab', 'next state tab (Shift-Tab: previous)'],
  ['?', 'this help (any key closes it)'],
  ['q', 'quit'],
];

/** The whole screen for `ui` at `width` × `height`. */
export function buildScreen(
  ui: UiState,
  timeline: Timeline,
  cache: ScreenCache,
  width: number,
  height: number,
  /** Set while the player has not reached `ui.position` yet: shown instead of state and diff. */
  pending?: string,
): Screen {
  const w = Math.max(40, width);
  const h = Math.max(12, height);
  const diffRows = Math.max(4, Math.floor(h / 4));
  const mainRows = h - diffRows - 2;
  const leftWidth = Math.floor((w - 1) / 2);
  const rightWidth = w - 1 - leftWidth;
  const state = timeline.state;

  const { lines, view } = cache.stateLines(state, rightWidth);
  const rows: StateRow[] = pending ? [{ text: pending }] : tabRows(view, lines, ui.tab);
  const row = Math.min(ui.row, Math.max(0, rows.length - 1));

  return {
    width: w,
    height: h,
    leftWidth,
    rightWidth,
    mainRows,
    events: eventLines(ui, timeline, cache, leftWidth, mainRows),
    state: stateLines(ui, rows, row, rightWidth, mainRows),
    diff: pending
      ? padLines([{ text: fit(pending, w), style: 'dim' }], w, diffRows)
      : ui.versus
        ? versusLines(ui, state, w, diffRows)
        : diffLines(ui, timeline, cache, w, diffRows),
    status: statusLine(ui, state, w),
    bottom: bottomLine(ui, w),
    help: ui.help ? helpLines(w, mainRows + diffRows) : undefined,
    rowCount: rows.length,
    selectedPath: rows[row]?.path,
  };
}

function eventLines(
  ui: UiState,
  timeline: Timeline,
  cache: ScreenCache,
  width: number,
  rows: number,
): Line[] {
  const out: Line[] = [{ text: fit(`Events (${timeline.length})`, width), style: 'header' }];
  const visible = rows - 1;
  const start = Math.max(0, Math.min(ui.position - Math.floor(visible / 2), timeline.length + 1 - visible));
  const numWidth = String(timeline.length).length + 1;
  const firstVm = cache.firstVmCreate(timeline);
  for (let p = start; p < start + visible && p <= timeline.length; p++) {
    const current = p === ui.position;
    const lead = `${current ? '>' : ' '}${`#${p}`.padStart(numWidth)} `;
    if (p === 0) {
      out.push({ text: fit(`${lead}(initial state)`, width), style: current ? 'current' : 'dim' });
      continue;
    }
    const frame = timeline.frame(p);
    const result = [outputText(frame.output), ...frame.effects.map(effectText)].filter(Boolean).join(' | ');
    const user = ui.marks.filter((m) => m.source === 'user' && m.position === p).map((m) => `'${m.name} `);
    const boundary = boundaryTag(frame.event.type, p, firstVm);
    const text = `${lead}${boundary}${user.join('')}${statementText(frame.event)}${result ? `  -> ${result}` : ''}`;
    const style: LineStyle = current
      ? 'current'
      : boundary
        ? 'boundary'
        : frame.event.type === 'trace.mark' || user.length
          ? 'mark'
          : 'plain';
    out.push({ text: fit(text, width), style });
  }
  while (out.length < rows) out.push({ text: fit('', width), style: 'plain' });
  return out;
}

/** The source/destination boundary of a migration, on the events that make it. */
function boundaryTag(type: string, position: number, firstVm: number | undefined): string {
  if (type === 'migrate.begin') return '== migration: source -> destination == ';
  if (type === 'migrate.end') return '== migration done == ';
  if (type === 'vm.create' && firstVm !== undefined && position > firstVm) return '== destination VM == ';
  return '';
}

function stateLines(
  ui: UiState,
  rows: readonly StateRow[],
  row: number,
  width: number,
  height: number,
): Line[] {
  const tabLine = (short: boolean) =>
    TABS.map((t) => {
      const title = short ? t.short : t.title;
      return t.id === ui.tab ? `[${title}]` : ` ${title} `;
    }).join('');
  const full = tabLine(false);
  const tabs = full.length <= width ? full : tabLine(true);
  const out: Line[] = [{ text: fit(tabs, width), style: 'header' }];
  const visible = height - 1;
  const start = Math.max(0, Math.min(row - Math.floor(visible / 2), rows.length - visible));
  for (let i = start; i < start + visible && i < rows.length; i++) {
    const r = rows[i]!;
    const selected = i === row;
    const watched = r.path !== undefined && r.path === ui.watch;
    const text = `${selected ? '>' : ' '}${watched ? '*' : ''}${r.text}`;
    out.push({ text: fit(text, width), style: selected ? 'selected' : 'plain' });
  }
  while (out.length < height) out.push({ text: fit('', width), style: 'plain' });
  return out;
}

function diffLines(
  ui: UiState,
  timeline: Timeline,
  cache: ScreenCache,
  width: number,
  height: number,
): Line[] {
  let title: string;
  let entries: DiffEntry[];
  if (ui.diffMark) {
    title = `Diff ${ui.diffMark.name} (#${ui.diffMark.position}) -> #${ui.position}`;
    entries = cache.diff(timeline, ui.diffMark.position, ui.position);
  } else if (ui.position === 0) {
    title = 'Changes: none at #0 (the initial state)';
    entries = [];
  } else {
    title = `Changed by #${ui.position} ${statementText(timeline.frame(ui.position).event)}`;
    entries = timeline.changes();
  }
  title += entries.length ? `: ${entries.length} path${entries.length === 1 ? '' : 's'}` : '';
  const out: Line[] = [{ text: fit(title, width), style: 'header' }];
  const room = height - 1;
  const shown = entries.length > room ? entries.slice(0, room - 1) : entries;
  for (const e of shown) {
    const watched = e.path === ui.watch ? '* ' : '';
    out.push({
      text: fit(`  ${watched}${e.path}  ${valueText(e.before)} -> ${valueText(e.after)}`, width),
      style: 'plain',
    });
  }
  if (shown.length < entries.length)
    out.push({ text: fit(`  ... and ${entries.length - shown.length} more`, width), style: 'dim' });
  if (entries.length === 0 && (ui.diffMark || ui.position > 0))
    out.push({ text: fit('  (no state changed)', width), style: 'dim' });
  while (out.length < height) out.push({ text: fit('', width), style: 'plain' });
  return out;
}

/**
 * The diff pane after `v`: the migration's source VM against its destination on everything a
 * guest or VMM can observe, as migrate-check compares them (replay/migration/compare.ts), with
 * the differences KVM itself makes listed as known.
 */
function versusLines(ui: UiState, state: MachineState, width: number, height: number): Line[] {
  const out: Line[] = [];
  if (state.vms.length < 2) {
    out.push({
      text: fit(`Source vs destination at #${ui.position}: only one VM here`, width),
      style: 'header',
    });
  } else {
    const source = state.migration?.source ?? Math.max(0, state.current - 1);
    const dest = state.current === source ? state.vms.length - 1 : state.current;
    const cmp = compareVms(state.vms[source]!, state.vms[dest]!);
    const what = cmp.equal ? 'equal' : `${cmp.diff.length} path${cmp.diff.length === 1 ? '' : 's'} differ`;
    out.push({
      text: fit(`Source VM ${source} vs destination VM ${dest} at #${ui.position}: ${what}`, width),
      style: 'header',
    });
    for (const e of cmp.diff.slice(0, Math.max(0, height - 1 - cmp.known.length)))
      out.push({
        text: fit(`  ${e.path}  ${valueText(e.before)} -> ${valueText(e.after)}`, width),
        style: 'plain',
      });
    for (const note of cmp.known) out.push({ text: fit(`  known: ${note}`, width), style: 'dim' });
  }
  return padLines(out.slice(0, height), width, height);
}

function statusLine(ui: UiState, state: MachineState, width: number): Line {
  const parts = [
    `#${ui.position}/${ui.length}`,
    `mark ${nearestMarkLabel(ui.marks, ui.position)}`,
    vmLabel(state),
    TABS.find((t) => t.id === ui.tab)!.title,
  ];
  if (ui.search) parts.push(`/${ui.search.source}`);
  if (ui.watch) parts.push(`watch ${ui.watch}`);
  if (ui.diffMark) parts.push(`diff vs ${ui.diffMark.name}`);
  if (ui.versus) parts.push('source vs destination');
  return { text: fit(` ${parts.join(' | ')}  ? help  q quit`, width), style: 'header' };
}

function bottomLine(ui: UiState, width: number): Line {
  if (ui.prompt) {
    const error = ui.prompt.error ? `  error: ${ui.prompt.error}` : '';
    return {
      text: fit(`${promptLabel(ui.prompt.kind)}: ${ui.prompt.text}_${error}`, width),
      style: ui.prompt.error ? 'error' : 'plain',
    };
  }
  if (ui.message) return { text: fit(ui.message, width), style: 'plain' };
  return { text: fit(HINTS, width), style: 'dim' };
}

function padLines(lines: Line[], width: number, height: number): Line[] {
  while (lines.length < height) lines.push({ text: fit('', width), style: 'plain' });
  return lines;
}

function helpLines(width: number, height: number): Line[] {
  const out: Line[] = [{ text: fit('Keys', width), style: 'header' }];
  for (const [keys, what] of HELP)
    out.push({ text: fit(`  ${keys.padEnd(9)} ${what}`, width), style: 'plain' });
  out.push({ text: fit('', width), style: 'plain' });
  out.push({
    text: fit('  Search conditions: vms[0].vcpus[1].pc == 0x1000 && event.type == "guest.hvc"', width),
    style: 'dim',
  });
  while (out.length < height) out.push({ text: fit('', width), style: 'plain' });
  return out.slice(0, height);
}
