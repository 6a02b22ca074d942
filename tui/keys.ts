// Key names: Ink's `useInput(input, key)` turned into the one string the reducer switches on
// (`l`, `G`, `left`, `tab`, `shift-tab`, `enter`, `escape`, `backspace`, …). Pure.

/** The subset of Ink's `Key` the UI reads. */
export interface InkKey {
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
  shift?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

/** The key's name, or undefined for keys the UI ignores. */
export function keyName(input: string, key: InkKey): string | undefined {
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.pageUp) return 'pageup';
  if (key.pageDown) return 'pagedown';
  if (key.return) return 'enter';
  if (key.escape) return 'escape';
  if (key.tab) return key.shift ? 'shift-tab' : 'tab';
  // Most terminals send DEL (0x7f) for Backspace, which Ink reports as `delete`.
  if (key.backspace || key.delete) return 'backspace';
  if (key.ctrl) return input === 'c' ? 'ctrl-c' : undefined;
  if (input === ' ') return 'space';
  if (input.length === 0) return undefined;
  return input;
}
