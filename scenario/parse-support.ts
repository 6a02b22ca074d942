// Shared machinery of the scenario parser: operand/option splitting of one statement, named and
// literal numbers, and range checks, each failing with a ScenarioError at the offending token.
// The messages are part of the user interface: docs/scenario-notes.md lists them.

import { registerByName, SDEI_FUNCTIONS, SDEI_RETURN_CODES } from '../devices/names.js';
import { ERRNO_NAMES } from '../engine/errno.js';
import { type Loc, ScenarioError } from './ast.js';
import { looksNumeric, parseNumberLiteral, type Token } from './lexer.js';

/** Throws the ScenarioError `FILE:LINE:COL: detail`. */
export function fail(loc: Loc, detail: string): never {
  throw new ScenarioError(loc, detail);
}

/** `table[key]` for own keys only (so `constructor` or `__proto__` are never names). */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The location `offset` code points into a token. */
export function locIn(tok: Token, offset: number): Loc {
  return { ...tok.loc, col: tok.loc.col + offset };
}

/** The column just past a token. */
export function locAfter(tok: Token): Loc {
  return locIn(tok, tok.len);
}

/** A `key=value` option of a statement. */
export interface OptionToken {
  key: string;
  /** The value as a token of its own (located after the `=`). */
  value: Token;
  tok: Token;
}

export const U64_MAX = (1n << 64n) - 1n;
export const I64_MIN = -(1n << 63n);

/** The value of a named number (`-EINVAL`, `SDEI_DENIED`, `SDEI_VERSION`), or undefined. */
export function namedNumber(text: string): bigint | undefined {
  if (text.startsWith('-')) {
    const errno = lookup(ERRNO_NAMES, text.slice(1));
    return errno === undefined ? undefined : BigInt(-errno);
  }
  const code = lookup(SDEI_RETURN_CODES, text) ?? lookup(SDEI_FUNCTIONS, text);
  return code === undefined ? undefined : BigInt(code);
}

/** Whether `text` is a literal or a named number (possibly malformed or out of range). */
export function isNumber(text: string): boolean {
  return looksNumeric(text) || namedNumber(text) !== undefined;
}

/**
 * Fails for a word that is neither a number nor a name the operand takes: a register name used
 * where none is allowed, an errno name without its minus sign, or `unknown name \`NAME\`` (a
 * `+N`/`@K` suffix left out), each with a hint of what the operand takes.
 */
export function unknownName(tok: Token, hint?: string): never {
  const { text } = tok;
  const name = text.startsWith('-') ? text : text.replace(/[+@].*$/, '') || text;
  const also = hint ? ` (${hint})` : '';
  if (registerByName(name)) fail(tok.loc, `\`${name}\` is a register name, not allowed here${also}`);
  if (lookup(ERRNO_NAMES, name) !== undefined) fail(tok.loc, `errno names take a minus sign: \`-${name}\``);
  fail(tok.loc, `unknown name \`${name}\`${also}`);
}

/** A number as written: a literal of any size or a named number. Range checks come after. */
export function resolveNumber(tok: Token): bigint {
  if (looksNumeric(tok.text)) {
    const value = parseNumberLiteral(tok.text);
    if (value === undefined) fail(tok.loc, `malformed number \`${tok.text}\``);
    return value;
  }
  const named = namedNumber(tok.text);
  if (named === undefined) unknownName(tok);
  return named;
}

function bound(value: bigint): string {
  return value > 0xfffn || value < -0xfffn
    ? `${value < 0n ? '-' : ''}0x${(value < 0n ? -value : value).toString(16)}`
    : String(value);
}

/**
 * A number in lo..hi: `number out of range: TEXT`, with the range and `label` appended unless the
 * range is the whole u64 one.
 */
export function numberIn(tok: Token, lo: bigint, hi: bigint, label: string): bigint {
  const value = resolveNumber(tok);
  if (value < lo || value > hi) {
    const wide = lo === 0n && hi === U64_MAX;
    fail(tok.loc, `number out of range: ${tok.text}${wide ? '' : ` (${label}: ${bound(lo)}..${bound(hi)})`}`);
  }
  return value;
}

/** An unsigned number of `bits` bits. */
export function unsigned(tok: Token, bits: number, label: string): bigint {
  return numberIn(tok, 0n, (1n << BigInt(bits)) - 1n, label);
}

/** An unsigned 32-bit number (vCPU ids, DEVID, EVENTID, LEVEL…). */
export function u32(tok: Token, label: string): number {
  return Number(unsigned(tok, 32, label));
}

/** An unsigned 64-bit number (addresses, register ids, attrs). */
export function u64(tok: Token, label: string): bigint {
  return unsigned(tok, 64, label);
}

/**
 * A register or memory value `bits` wide: 0..2^bits-1, or a negative number down to
 * -2^(bits-1) taken as its two's complement. Literals beyond the signed/unsigned 64-bit range
 * are out of range unless `wide` (set_reg of a 128- or 2048-bit register).
 */
export function wordValue(tok: Token, bits: number, what: string, wide = false): bigint {
  const value = resolveNumber(tok);
  if (!wide && (value < I64_MIN || value > U64_MAX)) fail(tok.loc, `number out of range: ${tok.text}`);
  const b = BigInt(bits);
  if (value >= 1n << b || value < -(1n << (b - 1n))) fail(tok.loc, `value does not fit in ${what}`);
  return value < 0n ? value + (1n << b) : value;
}

/** `1 byte`, `4 bytes`: the width of a sized access, for messages. */
export function bytesText(size: number): string {
  return size === 1 ? '1 byte' : `${size} bytes`;
}

/** The operands and options of one statement (the words before `expect`). */
export class Head {
  /** The operand words, in order. */
  readonly pos: Token[] = [];
  /** The `key=value` words, in order. */
  readonly opts: OptionToken[] = [];
  /** Just past the last word: where a missing operand or option is reported. */
  readonly end: Loc;

  /**
   * Splits `words` into operands and options. Throws at a malformed option, a duplicate option
   * or an operand written after an option.
   */
  constructor(
    readonly name: string,
    readonly usage: string,
    words: Token[],
    end: Loc,
  ) {
    this.end = end;
    const seen = new Set<string>();
    for (const tok of words) {
      const eq = tok.text.indexOf('=');
      if (eq < 0) {
        const first = this.opts[0];
        if (first) fail(tok.loc, `operand \`${tok.text}\` after option \`${first.key}=\` (options go last)`);
        this.pos.push(tok);
        continue;
      }
      const key = tok.text.slice(0, eq);
      if (key === '') fail(tok.loc, `missing option name before \`=\``);
      const keyLen = Array.from(key).length;
      const value: Token = {
        text: tok.text.slice(eq + 1),
        loc: locIn(tok, keyLen + 1),
        len: tok.len - keyLen - 1,
      };
      if (value.text === '') fail(value.loc, `missing value after \`${key}=\``);
      if (seen.has(key)) fail(tok.loc, `duplicate option \`${key}\``);
      seen.add(key);
      this.opts.push({ key, value, tok });
    }
  }

  /** Rejects options outside `allowed` (listed in the message) and more than `max` operands. */
  check(allowed: readonly string[], max: number): void {
    for (const o of this.opts) {
      if (!allowed.includes(o.key)) {
        const takes = allowed.length > 0 ? `takes: ${allowed.join(', ')}` : 'takes no options';
        fail(o.tok.loc, `unknown option \`${o.key}\` (${this.name} ${takes})`);
      }
    }
    const extra = this.pos[max];
    if (extra) fail(extra.loc, `unexpected operand \`${extra.text}\` (usage: ${this.usage})`);
  }

  /** Operand `i`, or an error at the end of the statement: `NAME needs WHAT`. */
  need(i: number, what: string): Token {
    const tok = this.pos[i];
    if (!tok) fail(this.end, `${this.name} needs ${what}`);
    return tok;
  }

  /** The option `key=`, if given. */
  opt(key: string): OptionToken | undefined {
    return this.opts.find((o) => o.key === key);
  }

  /** A required option: `NAME needs KEY=` at the end of the statement when missing. */
  needOpt(key: string, who = this.name): OptionToken {
    const o = this.opt(key);
    if (!o) fail(this.end, `${who} needs ${key}=`);
    return o;
  }
}

/** `on`/`off` of a switch option. */
export function onOff(o: OptionToken | undefined, fallback: boolean): boolean {
  if (!o) return fallback;
  if (o.value.text === 'on') return true;
  if (o.value.text === 'off') return false;
  fail(o.value.loc, `\`${o.key}\` must be on or off, not \`${o.value.text}\``);
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(tok: Token, choices: readonly T[], what: string): T {
  const found = choices.find((c) => c === tok.text);
  if (found === undefined) fail(tok.loc, `unknown ${what} \`${tok.text}\` (${choices.join(', ')})`);
  return found;
}
