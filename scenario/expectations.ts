// `expect` clauses (scenario-language.md "Expectations"): which output a bare value is compared
// with, masks, and the `FILE:LINE: expected X, got Y` report (hex for register values,
// symbolic names for errnos and SDEI codes).

import { SDEI_RETURN_CODES } from '../devices/names.js';
import { formatRc } from '../engine/errno.js';
import type { Output } from '../engine/events.js';
import type { Expectation, ExpectItem, Loc } from './ast.js';

const U64 = (1n << 64n) - 1n;

export interface ExpectFailure {
  loc: Loc;
  expected: string;
  got: string;
  message: string;
}

function hex(v: bigint): string {
  return `0x${(v < 0n ? BigInt.asUintN(64, v) : v).toString(16)}`;
}

function signed64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

function sdeiText(v: bigint): string {
  const s = signed64(v);
  if (s < 0n) {
    for (const [name, code] of Object.entries(SDEI_RETURN_CODES))
      if (BigInt(code) === s) return `${name} (${s})`;
    return String(s);
  }
  return hex(s);
}

function masked(text: string, mask: bigint | undefined): string {
  return mask === undefined ? text : `${text} (mask ${hex(mask)})`;
}

interface Check {
  expected: string;
  got: string;
  ok: boolean;
}

/** Bits needed to compare with `actual`: 64, or more for the wide ONE_REG registers (128, 2048). */
function widthOf(actual: bigint | undefined): number {
  return actual !== undefined && actual > U64 ? actual.toString(2).length : 64;
}

function compareValue(item: ExpectItem, actual: bigint | undefined, fmt: (v: bigint) => string): Check {
  const width = widthOf(actual);
  const mask = item.mask === undefined ? (1n << BigInt(width)) - 1n : BigInt.asUintN(width, item.mask);
  const expected = BigInt.asUintN(width, item.value);
  const ok = actual !== undefined && (actual & mask) === (expected & mask);
  return {
    expected: masked(fmt(item.value), item.mask),
    got: actual === undefined ? 'nothing' : fmt(actual),
    ok,
  };
}

function compareRc(item: ExpectItem, rc: number | undefined): Check {
  const ok = rc !== undefined && BigInt(rc) === item.value;
  return { expected: formatRc(Number(item.value)), got: rc === undefined ? 'nothing' : formatRc(rc), ok };
}

function checkItem(item: ExpectItem, output: Output): Check {
  switch (item.key) {
    case 'rc':
      return compareRc(item, output.rc);
    case 'value':
      return compareValue(item, output.value, hex);
    case 'main':
      if (output.x) return compareValue(item, output.x[0], sdeiText);
      if (output.rc === undefined) return compareValue(item, output.value, hex);
      if (item.value < 0n || output.value === undefined) return compareRc(item, output.rc);
      // A non-negative value on a VMM read requires rc = 0 and compares the value.
      if (output.rc !== 0) return { expected: hex(item.value), got: formatRc(output.rc), ok: false };
      return compareValue(item, output.value, hex);
    default: {
      const index = Number(item.key.slice(1));
      return compareValue(item, output.x?.[index], index === 0 ? sdeiText : hex);
    }
  }
}

/** Every failing item of `expectation` against `output`, in order. */
export function checkExpectation(expectation: Expectation, output: Output): ExpectFailure[] {
  const failures: ExpectFailure[] = [];
  for (const item of expectation.items) {
    const check = checkItem(item, output);
    if (check.ok) continue;
    const what = item.key === 'main' ? '' : `${item.key}=`;
    failures.push({
      loc: item.loc,
      expected: `${what}${check.expected}`,
      got: check.got,
      message: `${item.loc.file}:${item.loc.line}: expected ${what}${check.expected}, got ${check.got}`,
    });
  }
  return failures;
}
