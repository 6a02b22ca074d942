// The lexical layer of `.vgs` scenarios (scenario-language.md "Lexical rules"): strict UTF-8
// decoding, logical lines (comments, `\` continuations), tokens with exact positions, and the
// numeric literal grammar. Columns count Unicode code points of the source line, 1-based; a tab
// is one column. The choices this file makes where the spec is silent are listed in
// docs/scenario-notes.md ("Lexical decisions").

import { type Loc, ScenarioError } from './ast.js';

/** One whitespace-separated word of a logical line. */
export interface Token {
  text: string;
  loc: Loc;
  /** Length in code points, so `loc.col + len` is the column just past the token. */
  len: number;
}

/** The code part of one physical line of a logical line, as the `note` statement needs it. */
export interface Segment {
  line: number;
  /** The code part (comment and continuation `\` removed), one element per code point. */
  chars: string[];
}

/** One statement's worth of source: every token of a line and its continuation lines. */
export interface LogicalLine {
  tokens: Token[];
  segments: Segment[];
}

const TAB = 0x09;
const SPACE = 0x20;

function isBlank(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t';
}

/** C0 controls other than tab, and DEL: never valid outside a comment. */
function isControl(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? SPACE;
  return (cp < SPACE && cp !== TAB) || cp === 0x7f;
}

function hex4(ch: string): string {
  return (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

/**
 * Splits `text` into logical lines (a leading byte-order mark ignored). Pure; throws ScenarioError for a control character outside a
 * comment and for a continuation on the last line of the file.
 */
export function lexScenario(text: string, file: string): LogicalLine[] {
  // A byte-order mark is not part of the first line (decodeSource drops it too).
  const physical = (text.startsWith('\uFEFF') ? text.slice(1) : text).split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (physical.length > 1 && physical[physical.length - 1] === '') physical.pop();
  const out: LogicalLine[] = [];
  let current: LogicalLine | undefined;
  let pendingBackslash: Loc | undefined;
  for (let i = 0; i < physical.length; i++) {
    let raw = physical[i] ?? '';
    if (raw.endsWith('\r')) raw = raw.slice(0, -1); // CRLF line ends
    const line = i + 1;
    const chars = Array.from(raw);
    let codeEnd = chars.indexOf('#');
    if (codeEnd < 0) codeEnd = chars.length;
    const code = chars.slice(0, codeEnd);
    for (let c = 0; c < code.length; c++) {
      const ch = code[c] ?? '';
      if (isControl(ch))
        throw new ScenarioError({ file, line, col: c + 1 }, `invalid character U+${hex4(ch)}`);
    }
    // A code part ending in `\` (trailing blanks allowed) continues on the next line.
    let last = code.length - 1;
    while (last >= 0 && isBlank(code[last])) last--;
    const continues = last >= 0 && code[last] === '\\';
    if (continues) code.length = last;
    current ??= { tokens: [], segments: [] };
    current.segments.push({ line, chars: code });
    let c = 0;
    while (c < code.length) {
      if (isBlank(code[c])) {
        c++;
        continue;
      }
      const start = c;
      while (c < code.length && !isBlank(code[c])) c++;
      current.tokens.push({
        text: code.slice(start, c).join(''),
        loc: { file, line, col: start + 1 },
        len: c - start,
      });
    }
    if (continues) {
      pendingBackslash = { file, line, col: last + 1 };
      continue;
    }
    pendingBackslash = undefined;
    if (current.tokens.length > 0) out.push(current);
    current = undefined;
  }
  if (pendingBackslash) {
    throw new ScenarioError(
      pendingBackslash,
      '`\\` at the end of the file: there is no next line to continue on',
    );
  }
  return out;
}

const DEC = /^[0-9]+(?:_[0-9]+)*$/;
const HEX = /^[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*$/;
const BIN = /^[01]+(?:_[01]+)*$/;

/**
 * The value of a numeric literal (`42`, `-22`, `0x2a`, `-0x16`, `0b101`, `0x8000_0000`), of any
 * size, or undefined when `text` is not one. Prefixes are lower case; hex digits either case;
 * `_` only between two digits.
 */
export function parseNumberLiteral(text: string): bigint | undefined {
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  let value: bigint;
  if (body.startsWith('0x')) {
    const digits = body.slice(2);
    if (!HEX.test(digits)) return undefined;
    value = BigInt(`0x${digits.replaceAll('_', '')}`);
  } else if (body.startsWith('0b')) {
    const digits = body.slice(2);
    if (!BIN.test(digits)) return undefined;
    value = BigInt(`0b${digits.replaceAll('_', '')}`);
  } else {
    if (!DEC.test(body)) return undefined;
    value = BigInt(body.replaceAll('_', ''));
  }
  return negative ? -value : value;
}

/** Whether `text` is meant as a numeric literal (so a parse failure is a malformed number). */
export function looksNumeric(text: string): boolean {
  return /^[-+]*[0-9]/.test(text) || /^[-+]+$/.test(text);
}

// UTF-8 well-formedness (RFC 3629, Unicode Table 3-7): the allowed second byte range per lead byte.
function secondByteRange(lead: number): [number, number, number] | undefined {
  if (lead >= 0xc2 && lead <= 0xdf) return [0x80, 0xbf, 1];
  if (lead === 0xe0) return [0xa0, 0xbf, 2];
  if (lead === 0xed) return [0x80, 0x9f, 2];
  if (lead >= 0xe1 && lead <= 0xef) return [0x80, 0xbf, 2];
  if (lead === 0xf0) return [0x90, 0xbf, 3];
  if (lead === 0xf4) return [0x80, 0x8f, 3];
  if (lead >= 0xf1 && lead <= 0xf3) return [0x80, 0xbf, 3];
  return undefined;
}

/** Length of the well-formed UTF-8 sequence at `i`, or 0 when it is ill-formed. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i] ?? 0;
  if (lead < 0x80) return 1;
  const range = secondByteRange(lead);
  if (!range) return 0;
  const [lo, hi, trailing] = range;
  const second = bytes[i + 1];
  if (second === undefined || second < lo || second > hi) return 0;
  for (let k = 2; k <= trailing; k++) {
    const b = bytes[i + k];
    if (b === undefined || b < 0x80 || b > 0xbf) return 0;
  }
  return trailing + 1;
}

/**
 * Decodes a scenario file: strict UTF-8, a leading byte-order mark dropped. Throws ScenarioError
 * `invalid UTF-8` at the line and column (in characters decoded so far on that line) of the first
 * ill-formed byte sequence.
 */
export function decodeSource(bytes: Uint8Array, file: string): string {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const start = i;
  let line = 1;
  let col = 1;
  while (i < bytes.length) {
    const n = sequenceLength(bytes, i);
    if (n === 0) throw new ScenarioError({ file, line, col }, 'invalid UTF-8');
    if (bytes[i] === 0x0a) {
      line++;
      col = 1;
    } else {
      col++;
    }
    i += n;
  }
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(start));
}
