import { describe, expect, it } from 'vitest';
import { type Action, BIG_STEP, type KeyContext, parseTarget, reduce } from '../../tui/reducer.js';
import { initialUiState, nearestMarkLabel, type UiState } from '../../tui/ui-state.js';

const MARKS = [
  { name: 'booted', position: 24 },
  { name: 'stopped', position: 40 },
];

function start(position = 0): UiState {
  return { ...initialUiState(500, MARKS), position };
}

function keys(state: UiState, ...names: string[]): { state: UiState; effects: unknown[] } {
  let effects: unknown[] = [];
  for (const key of names) {
    const r = reduce(state, { type: 'key', key });
    state = r.state;
    effects = r.effects;
  }
  return { state, effects };
}

function type(state: UiState, text: string): UiState {
  return keys(state, ...[...text].map((c) => (c === ' ' ? 'space' : c))).state;
}

describe('tui reducer: moving in time', () => {
  it.each([
    ['l', 10, 11],
    ['right', 10, 11],
    ['h', 10, 9],
    ['left', 10, 9],
    ['h', 0, 0],
    ['l', 500, 500],
    ['L', 10, 10 + BIG_STEP],
    ['H', 150, 150 - BIG_STEP],
    ['H', 30, 0],
    ['L', 450, 500],
    ['0', 77, 0],
    ['G', 77, 500],
  ])('%s at #%i → #%i', (key, from, to) => {
    const { state, effects } = keys(start(from), key);
    expect(state.position).toBe(to);
    expect(effects).toEqual(to === from ? [] : [{ type: 'seek', position: to }]);
  });

  it('g opens a prompt that takes #N, N, +N, -N and mark names', () => {
    let s = keys(start(10), 'g').state;
    expect(s.prompt).toEqual({ kind: 'goto', text: '' });
    s = type(s, '#42');
    const r = reduce(s, { type: 'key', key: 'enter' });
    expect(r.state.position).toBe(42);
    expect(r.state.prompt).toBeUndefined();
    expect(r.effects).toEqual([{ type: 'seek', position: 42 }]);
    expect(parseTarget('+5', start(10))).toBe(15);
    expect(parseTarget('-5', start(10))).toBe(5);
    expect(parseTarget('stopped', start(10))).toBe(40);
    expect(parseTarget('nope', start(10))).toBeUndefined();
  });

  it('a bad goto keeps the prompt open with an error; Escape closes it', () => {
    let s = type(keys(start(), 'g').state, 'nowhere');
    s = keys(s, 'enter').state;
    expect(s.prompt).toEqual({ kind: 'goto', text: 'nowhere', error: 'no position or mark `nowhere`' });
    expect(s.position).toBe(0);
    s = keys(s, 'backspace', 'escape').state;
    expect(s.prompt).toBeUndefined();
  });
});

describe('tui reducer: search', () => {
  it('/ sets a condition; c and C search forward and backward from the position', () => {
    let s = type(keys(start(30), '/').state, 'event.vcpu == 1');
    s = keys(s, 'enter').state;
    expect(s.search?.source).toBe('event.vcpu == 1');
    expect(s.message).toContain('c next');
    let r = reduce(s, { type: 'key', key: 'c' });
    expect(r.effects).toEqual([{ type: 'search', direction: 'forward', from: 30 }]);
    expect(r.state.searching).toBe(true);
    r = reduce(r.state, { type: 'moved', position: 34 });
    r = reduce(r.state, { type: 'searchDone', message: 'hit' });
    expect(r.state).toMatchObject({ position: 34, searching: false, message: 'hit' });
    r = reduce(r.state, { type: 'key', key: 'C' });
    expect(r.effects).toEqual([{ type: 'search', direction: 'backward', from: 34 }]);
  });

  it('a key while searching stops the search', () => {
    const s = { ...start(), searching: true };
    const r = reduce(s, { type: 'key', key: 'l' });
    expect(r.effects).toEqual([{ type: 'cancelSearch' }]);
    expect(r.state.searching).toBe(false);
  });

  it('c without a condition says so', () => {
    const r = reduce(start(), { type: 'key', key: 'c' });
    expect(r.effects).toEqual([]);
    expect(r.state.message).toMatch(/no search condition/);
  });

  it('a bad condition is refused with its column, counted in the raw prompt text', () => {
    let s = type(keys(start(), '/').state, ' position = 1');
    s = keys(s, 'enter').state;
    expect(s.prompt?.error).toBe("column 11: expected '==' (comparison), not '='");
    expect(s.search).toBeUndefined();
  });
});

describe('tui reducer: watch, marks, diff, tabs, help, quit', () => {
  const ctx: KeyContext = { rowCount: 5, selectedPath: 'vms[0].devices.gic.spis[8]' };

  it('w watches the selected row; [ and ] ask for its changes', () => {
    let r = reduce(start(30), { type: 'key', key: 'w', context: ctx });
    expect(r.state.watch).toBe('vms[0].devices.gic.spis[8]');
    r = reduce(r.state, { type: 'key', key: ']' });
    expect(r.effects).toEqual([
      { type: 'watchJump', path: 'vms[0].devices.gic.spis[8]', direction: 'forward', from: 30 },
    ]);
    expect(r.state.searching).toBe(true);
    r = reduce(r.state, { type: 'searchDone', message: 'found' });
    r = reduce(r.state, { type: 'key', key: '[' });
    expect(r.effects[0]).toMatchObject({ direction: 'backward' });
  });

  it('w on a row without a path prompts for one and canonicalises it', () => {
    let s = reduce(start(), {
      type: 'key',
      key: 'w',
      context: { rowCount: 1, selectedPath: undefined },
    }).state;
    expect(s.prompt?.kind).toBe('watch');
    s = keys(type(s, 'vms[0].ram[0x1]'), 'enter').state;
    expect(s.watch).toBe('vms[0].ram[1]');
  });

  it('[ without a watch says so', () => {
    expect(reduce(start(), { type: 'key', key: '[' }).state.message).toMatch(/nothing watched/);
  });

  it("m sets a mark (next free letter or a name) and ' jumps to one", () => {
    let s = keys(keys(start(30), 'm').state, 'enter').state;
    expect(s.marks.find((m) => m.source === 'user')).toEqual({ name: 'a', position: 30, source: 'user' });
    expect(nearestMarkLabel(s.marks, 33)).toBe('a+3');
    s = keys(s, 'G').state;
    s = keys(type(keys(s, "'").state, 'a'), 'enter').state;
    expect(s.position).toBe(30);
    s = keys(type(keys(s, "'").state, 'booted'), 'enter').state;
    expect(s.position).toBe(24);
    s = keys(keys(keys(s, 'G').state, "'").state, 'enter').state;
    expect(s.position).toBe(40);
  });

  it('d diffs against a mark and d again returns', () => {
    let s = keys(type(keys(start(45), 'd').state, 'booted'), 'enter').state;
    expect(s.diffMark).toEqual({ name: 'booted', position: 24, source: 'trace' });
    s = keys(s, 'd').state;
    expect(s.diffMark).toBeUndefined();
    s = keys(keys(s, 'd').state, 'enter').state;
    expect(s.diffMark?.name).toBe('stopped');
  });

  it('Tab cycles the tabs and resets the row; j/k move the row within the pane', () => {
    let s = start();
    const seen = [s.tab];
    for (let i = 0; i < 5; i++) {
      s = keys(s, 'tab').state;
      seen.push(s.tab);
    }
    expect(seen).toEqual(['irqs', 'vcpu', 'its', 'lpis', 'sdei', 'irqs']);
    expect(keys(s, 'shift-tab').state.tab).toBe('sdei');
    const down: Action = { type: 'key', key: 'j', context: { rowCount: 2, selectedPath: undefined } };
    s = reduce(s, down).state;
    s = reduce(s, down).state;
    expect(s.row).toBe(1);
    s = keys(s, 'k', 'k').state;
    expect(s.row).toBe(0);
  });

  it('Ctrl-C quits even from a prompt or a running search', () => {
    const inPrompt = keys(start(), 'g', '1').state;
    expect(reduce(inPrompt, { type: 'key', key: 'ctrl-c' }).effects).toEqual([
      { type: 'cancelSearch' },
      { type: 'quit' },
    ]);
    const r = reduce({ ...start(), searching: true }, { type: 'key', key: 'ctrl-c' });
    expect(r.state.quit).toBe(true);
    // q in a prompt is just a letter.
    expect(keys(inPrompt, 'q').state.prompt?.text).toBe('1q');
  });

  it('? opens help, any key closes it; q quits', () => {
    let s = keys(start(), '?').state;
    expect(s.help).toBe(true);
    s = keys(s, 'l').state;
    expect(s).toMatchObject({ help: false, position: 0 });
    const r = reduce(s, { type: 'key', key: 'q' });
    expect(r.state.quit).toBe(true);
    expect(r.effects).toEqual([{ type: 'quit' }]);
  });
});
