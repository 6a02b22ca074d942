// The `expect …` tail of a statement (scenario-language.md "Expectations"): which outputs each
// statement has, and the items `V`, `rc=R`, `value=V`, `x0=`…`x3=`, `mask=M`.

import type { Expectation, ExpectItem, ExpectKey } from './ast.js';
import type { Token } from './lexer.js';
import { fail, I64_MIN, locAfter, locIn, resolveNumber, U64_MAX } from './parse-support.js';

/** What a statement outputs, for `expect`. */
export interface Outputs {
  keys: readonly ExpectKey[];
  /** The output a bare `expect V` is compared with, for duplicate detection. */
  main(value: bigint): ExpectKey;
  /** Width of `value` when it is wider than 64 bits (get_reg of a 128- or 2048-bit register). */
  valueBits?: number;
}

/** VMM statements without a value, and `migrate`. */
export const RC_ONLY: Outputs = { keys: ['rc'], main: () => 'rc' };
/** VMM reads: a negative V is compared with rc, a non-negative one with value. */
export function rcAndValue(valueBits = 64): Outputs {
  return { keys: ['rc', 'value'], main: (v) => (v < 0n ? 'rc' : 'value'), valueBits };
}
/** Guest reads. */
export const VALUE_ONLY: Outputs = { keys: ['value'], main: () => 'value' };
/** `vcpu K hvc`: x0–x3, a bare V is x0. */
export const HVC_OUTPUTS: Outputs = { keys: ['x0', 'x1', 'x2', 'x3'], main: () => 'x0' };

const KNOWN_KEY = /^(rc|value|x[0-9]+)$/;

function expectedNumber(tok: Token, bits: number): bigint {
  const value = resolveNumber(tok);
  if (bits > 64) {
    const b = BigInt(bits);
    if (value >= 1n << b || value < -(1n << (b - 1n))) fail(tok.loc, `value does not fit in ${bits} bits`);
  } else if (value < I64_MIN || value > U64_MAX) {
    fail(tok.loc, `number out of range: ${tok.text}`);
  }
  return value;
}

/**
 * Parses `expect ITEM…` of statement `name` (as printed in messages, e.g. `vcpu write`), whose
 * outputs are `outputs` (undefined: the statement has none).
 */
export function parseExpect(
  expectTok: Token,
  items: readonly Token[],
  name: string,
  outputs: Outputs | undefined,
): Expectation {
  if (!outputs) fail(expectTok.loc, `\`${name}\` has no output to expect`);
  if (items.length === 0) fail(locAfter(expectTok), '`expect` needs at least one value');
  const out: ExpectItem[] = [];
  const seen = new Set<ExpectKey>();
  const bitsOf = (key: ExpectKey) => (key === 'value' ? (outputs.valueBits ?? 64) : 64);
  for (const tok of items) {
    if (tok.text === 'expect') fail(tok.loc, '`expect` is given only once per statement');
    const eq = tok.text.indexOf('=');
    let key: ExpectKey | 'mask' = 'main';
    let valueTok = tok;
    if (eq >= 0) {
      const written = tok.text.slice(0, eq);
      if (written === '') fail(tok.loc, 'missing output name before `=`');
      const keyLen = Array.from(written).length;
      valueTok = { text: tok.text.slice(eq + 1), loc: locIn(tok, keyLen + 1), len: tok.len - keyLen - 1 };
      if (valueTok.text === '') fail(valueTok.loc, `missing value after \`${written}=\``);
      if (written === 'mask') {
        key = 'mask';
      } else if ((outputs.keys as readonly string[]).includes(written)) {
        key = written as ExpectKey;
      } else if (KNOWN_KEY.test(written)) {
        fail(tok.loc, `\`${name}\` has no \`${written}\` output (it has: ${outputs.keys.join(', ')})`);
      } else {
        fail(
          tok.loc,
          `unknown output \`${written}\` (\`${name}\` has: ${outputs.keys.join(', ')}; and mask=)`,
        );
      }
    }
    if (key === 'mask') {
      const prev = out[out.length - 1];
      if (!prev) fail(tok.loc, '`mask=` must follow the value it applies to');
      if (prev.mask !== undefined) fail(tok.loc, '`mask=` given twice for one value');
      const target = prev.key === 'main' ? outputs.main(prev.value) : prev.key;
      prev.mask = expectedNumber(valueTok, bitsOf(target));
      continue;
    }
    const value = expectedNumber(valueTok, bitsOf(key === 'main' ? outputs.main(0n) : key));
    const effective = key === 'main' ? outputs.main(value) : key;
    if (seen.has(effective)) fail(tok.loc, `\`${effective}\` is expected twice`);
    seen.add(effective);
    out.push({ key, value, text: valueTok.text, loc: tok.loc });
  }
  return { items: out, loc: expectTok.loc };
}
