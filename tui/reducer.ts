// The terminal UI's reducer: UI state + one action → the next UI state and the effects the
// controller must carry out (seek, search, watch jumps, quit), as data. Pure: no player, no
// I/O, no clock. Keys arrive already named (keys.ts); what the reducer needs to know about the
// screen (the state pane's rows) comes with the key.

import { ConditionSyntaxError, parseCondition } from '../replay/condition.js';
import { formatPath, PathSyntaxError, parsePath } from '../replay/state-path.js';
import { markAtOrBefore, type PromptKind, sortMarks, TABS, type UiMark, type UiState } from './ui-state.js';

export type Direction = 'forward' | 'backward';

/** What the screen shows when a key is pressed (only what the reducer needs). */
export interface KeyContext {
  /** Rows in the state pane's current tab. */
  rowCount: number;
  /** The state path of the selected row, if it has one. */
  selectedPath: string | undefined;
}

export type Action =
  | { type: 'key'; key: string; context?: KeyContext }
  /** The controller moved the player (search hit, watch jump, search progress). */
  | { type: 'moved'; position: number; message?: string }
  | { type: 'searchDone'; message: string };

export type Effect =
  | { type: 'seek'; position: number }
  | { type: 'search'; direction: Direction; from: number }
  | { type: 'cancelSearch' }
  | { type: 'watchJump'; path: string; direction: Direction; from: number }
  | { type: 'quit' };

export interface Result {
  state: UiState;
  effects: Effect[];
}

/** Big step of `H` / `L`. */
export const BIG_STEP = 100;

const NO_CONTEXT: KeyContext = { rowCount: 0, selectedPath: undefined };

const PROMPT_LABELS: Record<PromptKind, string> = {
  goto: 'go to (#N, N, +N, -N or a mark)',
  search: 'search condition',
  mark: 'set mark (name, Enter for the next letter)',
  jump: 'jump to mark (Enter: the previous one)',
  diff: 'diff against mark (Enter: the previous one)',
  watch: 'watch state path',
};

export function promptLabel(kind: PromptKind): string {
  return PROMPT_LABELS[kind];
}

/** The next state and effects. Pure. */
export function reduce(state: UiState, action: Action): Result {
  switch (action.type) {
    case 'moved':
      return {
        state: {
          ...state,
          position: clamp(state, action.position),
          message: action.message ?? state.message,
        },
        effects: [],
      };
    case 'searchDone':
      return { state: { ...state, searching: false, message: action.message }, effects: [] };
    case 'key':
      return onKey(state, action.key, action.context ?? NO_CONTEXT);
  }
}

function clamp(state: UiState, position: number): number {
  return Math.min(state.length, Math.max(0, Math.trunc(position)));
}

function moveTo(state: UiState, position: number, message?: string): Result {
  const target = clamp(state, position);
  return {
    state: { ...state, position: target, message },
    effects: target === state.position ? [] : [{ type: 'seek', position: target }],
  };
}

function say(state: UiState, message: string): Result {
  return { state: { ...state, message }, effects: [] };
}

function onKey(state: UiState, key: string, ctx: KeyContext): Result {
  // Ctrl-C quits from anywhere: a prompt, the help, a running search.
  if (key === 'ctrl-c')
    return { state: { ...state, quit: true }, effects: [{ type: 'cancelSearch' }, { type: 'quit' }] };
  if (state.searching) {
    return {
      state: { ...state, searching: false, message: 'search stopped' },
      effects: [{ type: 'cancelSearch' }],
    };
  }
  if (state.prompt) return onPromptKey(state, key);
  if (state.help) {
    if (key === 'q') return { state: { ...state, quit: true }, effects: [{ type: 'quit' }] };
    return { state: { ...state, help: false }, effects: [] };
  }
  const open = (kind: PromptKind): Result => ({
    state: { ...state, prompt: { kind, text: '' }, message: undefined },
    effects: [],
  });
  switch (key) {
    case 'q':
      return { state: { ...state, quit: true }, effects: [{ type: 'quit' }] };
    case 'l':
    case 'right':
      return moveTo(state, state.position + 1);
    case 'h':
    case 'left':
      return moveTo(state, state.position - 1);
    case 'L':
      return moveTo(state, state.position + BIG_STEP);
    case 'H':
      return moveTo(state, state.position - BIG_STEP);
    case '0':
      return moveTo(state, 0);
    case 'G':
      return moveTo(state, state.length);
    case 'g':
      return open('goto');
    case '/':
      return open('search');
    case 'm':
      return open('mark');
    case "'":
      return open('jump');
    case 'd':
      if (state.diffMark)
        return { state: { ...state, diffMark: undefined, message: 'diff: current event' }, effects: [] };
      return open('diff');
    case 'v':
      return say(
        { ...state, versus: !state.versus },
        state.versus ? 'diff: current event' : 'diff: source VM vs destination VM here (v again: back)',
      );
    case '?':
      return { state: { ...state, help: true }, effects: [] };
    case 'escape':
      return { state: { ...state, message: undefined }, effects: [] };
    case 'tab':
    case 'shift-tab': {
      const i = TABS.findIndex((t) => t.id === state.tab);
      const next = TABS[(i + (key === 'tab' ? 1 : TABS.length - 1)) % TABS.length]!;
      return { state: { ...state, tab: next.id, row: 0 }, effects: [] };
    }
    case 'j':
    case 'down':
      return {
        state: { ...state, row: Math.max(0, Math.min(ctx.rowCount - 1, state.row + 1)) },
        effects: [],
      };
    case 'k':
    case 'up':
      return { state: { ...state, row: Math.max(0, state.row - 1) }, effects: [] };
    case 'pagedown':
      return {
        state: { ...state, row: Math.max(0, Math.min(ctx.rowCount - 1, state.row + 10)) },
        effects: [],
      };
    case 'pageup':
      return { state: { ...state, row: Math.max(0, state.row - 10) }, effects: [] };
    case 'c':
    case 'C': {
      if (!state.search) return say(state, 'no search condition: press / to enter one');
      const direction = key === 'c' ? 'forward' : 'backward';
      return {
        state: { ...state, searching: true, message: `searching ${direction}: ${state.search.source}` },
        effects: [{ type: 'search', direction, from: state.position }],
      };
    }
    case 'w':
      if (!ctx.selectedPath) return open('watch');
      return say(
        { ...state, watch: ctx.selectedPath },
        `watching ${ctx.selectedPath}: [ and ] jump to its changes`,
      );
    case '[':
    case ']': {
      if (!state.watch) return say(state, 'nothing watched: select a row and press w');
      return {
        state: { ...state, searching: true, message: `looking for changes of ${state.watch}` },
        effects: [
          {
            type: 'watchJump',
            path: state.watch,
            direction: key === ']' ? 'forward' : 'backward',
            from: state.position,
          },
        ],
      };
    }
    default:
      return { state, effects: [] };
  }
}

function onPromptKey(state: UiState, key: string): Result {
  const prompt = state.prompt!;
  if (key === 'escape') return { state: { ...state, prompt: undefined }, effects: [] };
  if (key === 'backspace')
    return {
      state: { ...state, prompt: { kind: prompt.kind, text: prompt.text.slice(0, -1) } },
      effects: [],
    };
  if (key === 'enter')
    return submit({ ...state, prompt: undefined }, prompt.kind, prompt.text.trim(), prompt.text);
  if (key === 'space')
    return { state: { ...state, prompt: { kind: prompt.kind, text: `${prompt.text} ` } }, effects: [] };
  if ([...key].length !== 1) return { state, effects: [] };
  return { state: { ...state, prompt: { kind: prompt.kind, text: prompt.text + key } }, effects: [] };
}

/** Keeps the prompt open with an error. */
function refuse(state: UiState, kind: PromptKind, text: string, error: string): Result {
  return { state: { ...state, prompt: { kind, text, error } }, effects: [] };
}

function findMark(marks: readonly UiMark[], name: string): UiMark | undefined {
  // A user mark shadows a trace mark of the same name.
  return marks.find((m) => m.name === name && m.source === 'user') ?? marks.find((m) => m.name === name);
}

/** The mark before `position` (or the first one), for an empty `'` or `d`. */
function previousMark(state: UiState): UiMark | undefined {
  return markAtOrBefore(state.marks, state.position - 1) ?? state.marks[0];
}

function submit(state: UiState, kind: PromptKind, text: string, raw: string): Result {
  switch (kind) {
    case 'goto': {
      const target = parseTarget(text, state);
      if (target === undefined) return refuse(state, kind, raw, `no position or mark \`${text}\``);
      return moveTo(state, target);
    }
    case 'search': {
      if (text === '') return say({ ...state, search: undefined }, 'search cleared');
      try {
        const search = parseCondition(text);
        return say({ ...state, search }, `search: ${text}  (c next, C previous)`);
      } catch (error) {
        if (error instanceof ConditionSyntaxError) {
          // Columns count in the trimmed text; the prompt shows the raw one.
          const lead = raw.length - raw.trimStart().length;
          return refuse(state, kind, raw, `column ${error.column + lead}: ${error.reason}`);
        }
        throw error;
      }
    }
    case 'mark': {
      const name = text || nextLetter(state.marks);
      if (/\s/.test(name)) return refuse(state, kind, raw, 'a mark name has no spaces');
      const marks = sortMarks([
        ...state.marks.filter((m) => !(m.source === 'user' && m.name === name)),
        { name, position: state.position, source: 'user' },
      ]);
      return say({ ...state, marks }, `mark ${name} at #${state.position}`);
    }
    case 'jump': {
      const mark = text ? findMark(state.marks, text) : previousMark(state);
      if (!mark) return text ? refuse(state, kind, raw, `no mark \`${text}\``) : say(state, 'no marks');
      return moveTo(state, mark.position, `mark ${mark.name}`);
    }
    case 'diff': {
      const mark = text ? findMark(state.marks, text) : previousMark(state);
      if (!mark)
        return text
          ? refuse(state, kind, raw, `no mark \`${text}\``)
          : say(state, 'no marks to diff against');
      return say({ ...state, diffMark: mark }, `diff against ${mark.name} (#${mark.position}); d returns`);
    }
    case 'watch': {
      if (text === '') return { state, effects: [] };
      try {
        const path = formatPath(parsePath(text));
        return say({ ...state, watch: path }, `watching ${path}: [ and ] jump to its changes`);
      } catch (error) {
        if (error instanceof PathSyntaxError) return refuse(state, kind, raw, error.message);
        throw error;
      }
    }
  }
}

/** `#N`, `N`, `+N`, `-N` or a mark name. */
export function parseTarget(text: string, state: UiState): number | undefined {
  const abs = /^#?(\d+)$/.exec(text);
  if (abs) return Number(abs[1]);
  const rel = /^([+-])(\d+)$/.exec(text);
  if (rel) return state.position + (rel[1] === '+' ? 1 : -1) * Number(rel[2]);
  return findMark(state.marks, text)?.position;
}

function nextLetter(marks: readonly UiMark[]): string {
  for (let c = 97; c <= 122; c++) {
    const name = String.fromCharCode(c);
    if (!marks.some((m) => m.name === name)) return name;
  }
  return `m${marks.length}`;
}
