// The condition language (docs/conditions.md): a small expression language over the machine
// state and the current event, evaluated at a position of a trace. The terminal UI's search
// (`/`, then `c` / `C`) and `vgicrr bisect` share it.
//
//   vms[0].vcpus[1].pc == 0x1000 && event.type == "guest.hvc"
//   !vms.0.devices.gic.spis.8.active || changed(vms.0.vcpus.0.x.3)
//
// Grammar (lowest precedence first):
//
//   or      := and ( '||' and )*
//   and     := unary ( '&&' unary )*
//   unary   := '!' unary | compare
//   compare := operand ( ( '==' | '!=' | '<' | '<=' | '>' | '>=' ) operand )?
//   operand := NUMBER | STRING | 'true' | 'false' | 'undefined' | '(' or ')'
//            | 'changed' '(' PATH ')' | PATH
//
// PATH is a state path (state-path.ts) whose first segment is an identifier; `.N` is accepted
// for an index as well as `[N]` (`vms.0.vcpus.1.pc` = `vms[0].vcpus[1].pc`). Paths starting
// with `event.`, `output.` or the name `position` read the current event, its recorded output
// and the position instead of the state. NUMBER is decimal or 0x-hexadecimal (`_` separators
// allowed); STRING is double- or single-quoted with JSON escapes.
//
// Semantics: numbers and bigints compare by value (an integer `number` equals the same
// `bigint`); strings compare by code unit; booleans only with == and !=; any other pairing, or
// a missing value (`undefined`) on either side of an ordering, is false. A bare operand is true
// when it is not undefined, null, false, 0, 0n or "". `changed(PATH)` is true when the event at
// the position changed the value at PATH (or something below it).
//
// Pure: parsing and evaluation allocate and return values, never throw anything but
// `ConditionSyntaxError` (parse) and never read a clock.

import { normalizeSegment, type PathSegment } from './state-path.js';

/** A parse error: `column` is 1-based; `message` names what was expected. */
export class ConditionSyntaxError extends Error {
  constructor(
    readonly source: string,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`column ${column}: ${reason}`);
    this.name = 'ConditionSyntaxError';
  }

  /** The source and a caret under the offending column, for a terminal. */
  caret(): string {
    return `${this.source}\n${' '.repeat(this.column - 1)}^ ${this.reason}`;
  }
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** Where a path reads from. */
export type PathRoot = 'state' | 'event' | 'output' | 'position';

export type ConditionNode =
  | { kind: 'literal'; value: unknown }
  | { kind: 'path'; root: PathRoot; segments: PathSegment[]; text: string }
  | { kind: 'changed'; segments: PathSegment[]; text: string }
  | { kind: 'not'; operand: ConditionNode }
  | { kind: 'and' | 'or'; left: ConditionNode; right: ConditionNode }
  | { kind: 'compare'; op: CompareOp; left: ConditionNode; right: ConditionNode };

/** A parsed condition and what it depends on. */
export interface Condition {
  source: string;
  root: ConditionNode;
  /** State paths the condition reads (values or `changed`), canonical order of appearance. */
  statePaths: PathSegment[][];
  /** Reads the event, the output or the position. */
  usesEvent: boolean;
  /** Uses `changed(…)`. */
  usesChanged: boolean;
}

/** What a condition is evaluated against. `state` is a thunk so event-only tests skip it. */
export interface ConditionContext {
  position: number;
  state: () => unknown;
  /** The event that led to the position (undefined at position 0). */
  event: unknown;
  output: unknown;
  /** Whether the event at `position` changed the value at `segments` (for `changed`). */
  changed: (segments: readonly PathSegment[]) => boolean;
}

type Token =
  | { t: 'num'; value: number | bigint; col: number }
  | { t: 'str'; value: string; col: number }
  | { t: 'path'; segments: PathSegment[]; text: string; col: number }
  | { t: 'op'; value: string; col: number }
  | { t: 'end'; col: number };

const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')'];

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (col: number, msg: string): never => {
    throw new ConditionSyntaxError(src, col + 1, msg);
  };
  while (i < src.length) {
    const ch = src[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9]/.test(ch)) {
      const m = /^(0[xX][0-9a-fA-F_]*|[0-9][0-9_]*)/.exec(src.slice(i))!;
      const text = m[0].replaceAll('_', '');
      if (/^0[xX]$/.test(text)) fail(start, 'expected hexadecimal digits after 0x');
      if (/[A-Za-z_$]/.test(src[i + m[0].length] ?? ''))
        fail(i + m[0].length, 'unexpected character in number');
      const big = BigInt(text);
      tokens.push({
        t: 'num',
        value: big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big,
        col: start,
      });
      i += m[0].length;
      continue;
    }
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== ch) j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) fail(start, 'unterminated string');
      let body = src.slice(i + 1, j);
      if (ch === "'") body = body.replaceAll("\\'", "'").replaceAll('"', '\\"');
      let value: unknown;
      try {
        value = JSON.parse(`"${body}"`);
      } catch {
        fail(start, 'bad escape in string');
      }
      tokens.push({ t: 'str', value: value as string, col: start });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_$]/.test(ch)) {
      const [segments, end] = readPath(src, i, fail);
      tokens.push({ t: 'path', segments, text: src.slice(start, end), col: start });
      i = end;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) {
      if (ch === '=') fail(start, "expected '==' (comparison), not '='");
      if (ch === '&' || ch === '|') fail(start, `expected '${ch}${ch}'`);
      fail(start, `unexpected character '${ch}'`);
    }
    tokens.push({ t: 'op', value: op!, col: start });
    i += op!.length;
  }
  tokens.push({ t: 'end', col: src.length });
  return tokens;
}

/** A path from `i`: ident ( '.' ident | '.' digits | '[' index-or-string ']' )*. */
function readPath(
  src: string,
  i: number,
  fail: (col: number, msg: string) => never,
): [PathSegment[], number] {
  const segments: PathSegment[] = [];
  const ident = /^[A-Za-z_$][A-Za-z0-9_$]*/;
  const first = ident.exec(src.slice(i))!;
  segments.push(first[0]);
  i += first[0].length;
  for (;;) {
    if (src[i] === '.') {
      const rest = src.slice(i + 1);
      const id = ident.exec(rest);
      const num = /^(0[xX][0-9a-fA-F]+|[0-9]+)/.exec(rest);
      if (id) segments.push(id[0]);
      else if (num) segments.push(Number(num[0]));
      else fail(i + 1, 'expected a property name or index after "."');
      i += 1 + (id ?? num)![0].length;
    } else if (src[i] === '[') {
      const rest = src.slice(i + 1);
      const num = /^\s*(0[xX][0-9a-fA-F]+|[0-9]+)\s*\]/.exec(rest);
      const str = /^\s*("(?:[^"\\]|\\.)*")\s*\]/.exec(rest);
      if (num) segments.push(Number(num[1]));
      else if (str) segments.push(normalizeSegment(JSON.parse(str[1]!) as string));
      else fail(i + 1, "expected an index or a quoted key, then ']'");
      i += 1 + (num ?? str)![0].length;
    } else {
      return [segments, i];
    }
  }
}

/** Parses `source`; throws `ConditionSyntaxError` with a 1-based column. Pure. */
export function parseCondition(source: string): Condition {
  const tokens = tokenize(source);
  let k = 0;
  const peek = () => tokens[k]!;
  const fail = (tok: Token, msg: string): never => {
    throw new ConditionSyntaxError(source, tok.col + 1, msg);
  };
  const isOp = (value: string) => {
    const tok = peek();
    return tok.t === 'op' && tok.value === value;
  };
  const expectOp = (value: string, what: string) => {
    if (!isOp(value)) fail(peek(), `expected ${what}`);
    k++;
  };
  const statePaths: PathSegment[][] = [];
  const seen = new Set<string>();
  let usesEvent = false;
  let usesChanged = false;
  const noteState = (segments: PathSegment[]) => {
    const key = JSON.stringify(segments);
    if (!seen.has(key)) {
      seen.add(key);
      statePaths.push(segments);
    }
  };

  const parseOr = (): ConditionNode => {
    let left = parseAnd();
    while (isOp('||')) {
      k++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): ConditionNode => {
    let left = parseUnary();
    while (isOp('&&')) {
      k++;
      left = { kind: 'and', left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): ConditionNode => {
    if (isOp('!')) {
      k++;
      return { kind: 'not', operand: parseUnary() };
    }
    const left = parseOperand();
    const tok = peek();
    if (tok.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(tok.value)) {
      k++;
      return { kind: 'compare', op: tok.value as CompareOp, left, right: parseOperand() };
    }
    return left;
  };
  const parseOperand = (): ConditionNode => {
    const tok = peek();
    if (tok.t === 'num' || tok.t === 'str') {
      k++;
      return { kind: 'literal', value: tok.value };
    }
    if (tok.t === 'op' && tok.value === '(') {
      k++;
      const inner = parseOr();
      expectOp(')', "')'");
      return inner;
    }
    if (tok.t === 'path') {
      k++;
      const [head, ...rest] = tok.segments;
      if (tok.segments.length === 1 && (head === 'true' || head === 'false'))
        return { kind: 'literal', value: head === 'true' };
      if (tok.segments.length === 1 && head === 'undefined') return { kind: 'literal', value: undefined };
      if (tok.segments.length === 1 && head === 'changed' && isOp('(')) {
        k++;
        const arg = peek();
        if (arg.t !== 'path') fail(arg, 'expected a state path inside changed(…)');
        const a = arg as Extract<Token, { t: 'path' }>;
        if (rootOf(a.segments[0]) !== 'state') fail(a, 'changed(…) takes a state path');
        k++;
        expectOp(')', "')' after the path");
        usesChanged = true;
        noteState(a.segments);
        return { kind: 'changed', segments: a.segments, text: a.text };
      }
      const root = rootOf(head);
      if (root === 'position' && rest.length > 0) fail(tok, '`position` has no fields');
      if (root === 'state') noteState(tok.segments);
      else usesEvent = true;
      return { kind: 'path', root, segments: root === 'state' ? tok.segments : rest, text: tok.text };
    }
    if (tok.t === 'end') return fail(tok, 'unexpected end of condition: expected a value or a path');
    return fail(tok, `unexpected '${(tok as { value: string }).value}': expected a value or a path`);
  };

  if (peek().t === 'end') fail(peek(), 'empty condition');
  const root = parseOr();
  const rest = peek();
  if (rest.t !== 'end') {
    fail(rest, rest.t === 'op' && rest.value === ')' ? "unmatched ')'" : "expected '&&', '||' or the end");
  }
  return { source, root, statePaths, usesEvent, usesChanged };
}

function rootOf(head: PathSegment | undefined): PathRoot {
  if (head === 'event') return 'event';
  if (head === 'output') return 'output';
  if (head === 'position') return 'position';
  return 'state';
}

/**
 * True when the condition reads only state values (no event, output, position or `changed`):
 * its truth can only change at positions where one of `statePaths` changed, which is what lets a
 * search skip the others with the change index.
 */
export function isStateOnly(condition: Condition): boolean {
  return !condition.usesEvent && !condition.usesChanged && condition.statePaths.length > 0;
}

/** Evaluates `condition` in `ctx` to a boolean. Pure (calls `ctx.state` at most once). */
export function evaluateCondition(condition: Condition, ctx: ConditionContext): boolean {
  let state: { value: unknown } | undefined;
  const stateValue = () => {
    state ??= { value: ctx.state() };
    return state.value;
  };
  const value = (node: ConditionNode): unknown => {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'path':
        if (node.root === 'position') return ctx.position;
        return read(
          node.root === 'state' ? stateValue() : node.root === 'event' ? ctx.event : ctx.output,
          node.segments,
        );
      case 'changed':
        return ctx.changed(node.segments);
      case 'not':
        return !truthy(value(node.operand));
      case 'and':
        return truthy(value(node.left)) && truthy(value(node.right));
      case 'or':
        return truthy(value(node.left)) || truthy(value(node.right));
      case 'compare':
        return compare(node.op, value(node.left), value(node.right));
    }
  };
  return truthy(value(condition.root));
}

/** Reads `segments` below `root`: own properties, array indexes and, below bytes, a u64 word. */
function read(root: unknown, segments: readonly PathSegment[]): unknown {
  let value = root;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null) return undefined;
    if (value instanceof Uint8Array) {
      const offset = Number(segment);
      if (!Number.isInteger(offset) || offset % 8 !== 0 || offset < 0 || offset >= value.length)
        return undefined;
      let word = 0n;
      for (let i = Math.min(offset + 8, value.length) - 1; i >= offset; i--)
        word = (word << 8n) | BigInt(value[i]!);
      value = word;
      continue;
    }
    const key = String(segment);
    if (!Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function truthy(v: unknown): boolean {
  return !(
    v === undefined ||
    v === null ||
    v === false ||
    v === 0 ||
    v === 0n ||
    v === '' ||
    Number.isNaN(v)
  );
}

function numeric(v: unknown): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

/** -1, 0, 1, or undefined when the two are not comparable. */
function order(a: unknown, b: unknown): number | undefined {
  if (numeric(a) && numeric(b)) {
    if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
    const x = typeof a === 'bigint' || Number.isInteger(a) ? BigInt(a) : undefined;
    const y = typeof b === 'bigint' || Number.isInteger(b) ? BigInt(b) : undefined;
    if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
    const p = Number(a);
    const q = Number(b);
    return p < q ? -1 : p > q ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

function compare(op: CompareOp, a: unknown, b: unknown): boolean {
  if (op === '==' || op === '!=') {
    const o = order(a, b);
    const equal = o !== undefined ? o === 0 : a === b;
    return op === '==' ? equal : !equal;
  }
  const o = order(a, b);
  if (o === undefined) return false;
  switch (op) {
    case '<':
      return o < 0;
    case '<=':
      return o <= 0;
    case '>':
      return o > 0;
    case '>=':
      return o >= 0;
  }
}
