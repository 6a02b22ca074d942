// Operands that name things (scenario-language.md "Register names", "VMM statements"): register
// operands `NAME`, `NAME+N`, `GICR_NAME@K`; device-attr ATTR operands by group; system
// registers; ONE_REG and guest core register names; quirk lists.

import {
  ADDR_ATTRS,
  CTRL_ATTRS,
  type RegisterName,
  type RegisterSpace,
  registerByName,
  SDEI_ONE_REGS,
  sysregEncoding,
} from '../devices/names.js';
import { type QuirkSide, quirkByName } from '../devices/quirks.js';
import { CORE_REG_PC, CORE_REG_PSTATE, coreRegX } from '../engine/core.js';
import type { AddressOperand, AttrOperand } from './ast.js';
import { looksNumeric, parseNumberLiteral, type Token } from './lexer.js';
import {
  fail,
  isNumber,
  locIn,
  lookup,
  type OptionToken,
  U64_MAX,
  u32,
  u64,
  unknownName,
  unsigned,
} from './parse-support.js';

/** A register name with its `+N` and `@K` suffixes split off (either order). */
interface RegisterRef {
  reg: RegisterName;
  tok: Token;
  add?: Token;
  at?: Token;
}

/** Splits `NAME[+N][@K]`; undefined when NAME is not a register name. */
function registerRef(tok: Token): RegisterRef | undefined {
  const chars = Array.from(tok.text);
  const isSep = (c: string | undefined) => c === '+' || c === '@';
  let i = 0;
  while (i < chars.length && !isSep(chars[i])) i++;
  const reg = registerByName(chars.slice(0, i).join(''));
  if (!reg) return undefined;
  const ref: RegisterRef = { reg, tok };
  while (i < chars.length) {
    const sep = chars[i];
    const start = ++i;
    while (i < chars.length && !isSep(chars[i])) i++;
    const sub: Token = { text: chars.slice(start, i).join(''), loc: locIn(tok, start), len: i - start };
    if (sep === '+') {
      if (ref.add) fail(locIn(tok, start - 1), 'only one `+N` per register name');
      if (sub.text === '') fail(sub.loc, 'missing number after `+`');
      ref.add = sub;
    } else {
      if (ref.at) fail(locIn(tok, start - 1), 'only one `@K` per register name');
      if (sub.text === '') fail(sub.loc, 'missing vCPU id after `@`');
      ref.at = sub;
    }
  }
  return ref;
}

/** The N of `NAME+N`: a literal, not negative. */
function addend(ref: RegisterRef): bigint {
  const tok = ref.add;
  if (!tok) return 0n;
  const value = looksNumeric(tok.text) ? parseNumberLiteral(tok.text) : undefined;
  if (value === undefined) fail(tok.loc, `malformed number \`${tok.text}\``);
  if (value < 0n) fail(tok.loc, `\`+N\` takes a non-negative number, not \`${tok.text}\``);
  if (value > U64_MAX) fail(tok.loc, `number out of range: ${tok.text}`);
  return value;
}

const SPACE_PREFIX: Record<RegisterSpace, string> = {
  gicd: 'GICD_',
  gicr: 'GICR_',
  gits: 'GITS_',
  icc: 'ICC_',
};

/**
 * The ADDR of a guest MMIO access: a number, or a GICD_/GICR_/GITS_ name with `+N` and (GICR_
 * only) `@K`.
 */
export function addressOperand(tok: Token): AddressOperand {
  const ref = registerRef(tok);
  if (!ref) {
    if (!isNumber(tok.text)) unknownName(tok, 'an address is a number or a GICD_, GICR_ or GITS_ name');
    return { kind: 'number', value: u64(tok, 'address'), text: tok.text, loc: tok.loc };
  }
  const { reg } = ref;
  if (reg.space === 'icc') fail(tok.loc, `${reg.name} is a system register, not an address`);
  if (ref.at && reg.space !== 'gicr') {
    fail(locIn(ref.at, -1), `\`@K\` applies only to GICR_ names (${reg.name} is not per vCPU)`);
  }
  const operand: AddressOperand = {
    kind: 'register',
    name: reg.name,
    space: reg.space,
    offset: reg.offset,
    add: addend(ref),
    text: tok.text,
    loc: tok.loc,
  };
  if (ref.at) operand.vcpu = u32(ref.at, 'vCPU id');
  return operand;
}

const SYSREG_FORM = /^S([0-9]+)_([0-9]+)_C([0-9]+)_C([0-9]+)_([0-9]+)$/;

/** The generic `S<op0>_<op1>_C<n>_C<m>_<op2>` form, or undefined when `tok` is not in that form. */
function genericSysreg(tok: Token): number | undefined {
  const m = SYSREG_FORM.exec(tok.text);
  if (!m) return undefined;
  const [op0, op1, crn, crm, op2] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (op0 > 3 || op1 > 7 || crn > 15 || crm > 15 || op2 > 7) {
    fail(
      tok.loc,
      `system register field out of range in \`${tok.text}\` (op0 0..3, op1 0..7, CRn/CRm 0..15, op2 0..7)`,
    );
  }
  return sysregEncoding(op0, op1, crn, crm, op2);
}

/** The SYSREG of `mrs`/`msr`: an ICC_ name, the generic form, or a 16-bit encoding. */
export function sysregOperand(tok: Token): { sysreg: number; name: string } {
  const ref = registerRef(tok);
  if (ref) {
    if (ref.reg.space !== 'icc') fail(tok.loc, `${ref.reg.name} is not a system register (ICC_ names are)`);
    if (ref.add || ref.at) fail(tok.loc, `a system register takes no \`+N\` or \`@K\``);
    return { sysreg: ref.reg.offset, name: tok.text };
  }
  const generic = genericSysreg(tok);
  if (generic !== undefined) return { sysreg: generic, name: tok.text };
  if (!isNumber(tok.text))
    unknownName(tok, 'a system register is an ICC_ name, S<op0>_<op1>_C<n>_C<m>_<op2> or a number');
  return { sysreg: Number(unsigned(tok, 16, 'system register encoding')), name: tok.text };
}

/** The register groups whose ATTR is a register name, and the space they take. */
const GROUP_SPACE: Readonly<Record<string, RegisterSpace>> = {
  DIST_REGS: 'gicd',
  REDIST_REGS: 'gicr',
  ITS_REGS: 'gits',
  CPU_SYSREGS: 'icc',
};

/** Groups whose attr has an MPIDR field in bits 63:32, so that ATTR is attr[31:0]. */
export const MPIDR_GROUPS: readonly string[] = ['DIST_REGS', 'REDIST_REGS', 'CPU_SYSREGS', 'LEVEL_INFO'];

/**
 * The ATTR of a device-attr statement in group `groupName` (a name of ATTR_GROUPS, or undefined
 * for a numeric group, whose ATTR is a number only).
 */
export function attrOperand(tok: Token, groupName: string | undefined): AttrOperand {
  const base = { text: tok.text, loc: tok.loc };
  if (groupName === undefined) {
    if (!isNumber(tok.text)) unknownName(tok, 'a numeric group takes a numeric attr');
    return { ...base, value: u64(tok, 'attr') };
  }
  const low32 = MPIDR_GROUPS.includes(groupName);
  const label = `${groupName} attr`;
  const space = lookup(GROUP_SPACE, groupName);
  if (space) {
    const ref = registerRef(tok);
    if (ref) {
      const { reg } = ref;
      if (reg.space !== space) {
        fail(
          tok.loc,
          `${reg.name} is not ${/^[AEIOU]/.test(groupName) ? 'an' : 'a'} ${groupName} register (${groupName} takes ${SPACE_PREFIX[space]} names)`,
        );
      }
      if (ref.at) fail(locIn(ref.at, -1), '`@K` is only allowed in guest MMIO statements (use vcpu= here)');
      if (space === 'icc' && ref.add) fail(locIn(ref.add, -1), '`+N` does not apply to a system register');
      const value = BigInt(reg.offset) + addend(ref);
      const max = low32 ? 0xffff_ffffn : U64_MAX;
      if (value > max) fail(tok.loc, `attr out of range: ${tok.text} (${label}: 0..0x${max.toString(16)})`);
      return { ...base, value, name: reg.name };
    }
    if (space === 'icc') {
      const generic = genericSysreg(tok);
      if (generic !== undefined) return { ...base, value: BigInt(generic), name: tok.text };
    }
    if (!isNumber(tok.text)) unknownName(tok, `${groupName} takes ${SPACE_PREFIX[space]} names or an offset`);
  }
  const names = groupName === 'ADDR' ? ADDR_ATTRS : groupName === 'CTRL' ? CTRL_ATTRS : undefined;
  if (names) {
    const named = lookup(names, tok.text);
    if (named !== undefined) return { ...base, value: BigInt(named), name: tok.text };
    if (!isNumber(tok.text))
      unknownName(tok, `${groupName} takes ${Object.keys(names).join(', ')} or a number`);
  }
  if (!isNumber(tok.text)) unknownName(tok, `${groupName} takes a number`);
  return { ...base, value: unsigned(tok, low32 ? 32 : 64, label) };
}

const CORE_REG = /^x([0-9]|[12][0-9]|30)$/;

/** 0–30 for x0–x30, 31 for pc, 32 for pstate (guest.reg numbering); undefined otherwise. */
export function guestRegIndex(text: string): number | undefined {
  if (text === 'pc') return 31;
  if (text === 'pstate') return 32;
  const m = CORE_REG.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The REG of get_reg/set_reg: a core or SDEI register name, or a numeric ONE_REG id. */
export function oneRegOperand(tok: Token, statement: string): { reg: bigint; regName: string } {
  const index = guestRegIndex(tok.text);
  if (index !== undefined) {
    const reg = index === 31 ? CORE_REG_PC : index === 32 ? CORE_REG_PSTATE : coreRegX(index);
    return { reg, regName: tok.text };
  }
  const sdei = lookup(SDEI_ONE_REGS, tok.text);
  if (sdei !== undefined) return { reg: sdei, regName: tok.text };
  if (!isNumber(tok.text))
    unknownName(tok, `${statement} takes x0…x30, pc, pstate, KVM_REG_ARM_SDEI_* or a numeric id`);
  const reg = u64(tok, 'register id');
  return { reg, regName: `0x${reg.toString(16)}` };
}

/** `quirks=a,b,...` of `board`/`vm` (kernel) or `migrate` (vmm); duplicates collapse. */
export function quirkList(o: OptionToken | undefined, side: QuirkSide): string[] {
  if (!o) return [];
  const out: string[] = [];
  const chars = Array.from(o.value.text);
  let start = 0;
  while (start <= chars.length) {
    let end = start;
    while (end < chars.length && chars[end] !== ',') end++;
    const name = chars.slice(start, end).join('');
    const loc = locIn(o.value, start);
    if (name === '') fail(loc, 'empty quirk name in `quirks=`');
    const quirk = quirkByName(name);
    if (!quirk) fail(loc, `unknown quirk \`${name}\` (see \`vgicrr quirks\`)`);
    if (quirk.side !== side) {
      fail(
        loc,
        quirk.side === 'vmm'
          ? `\`${name}\` is a VMM quirk: give it to migrate`
          : `\`${name}\` is a kernel quirk: give it to board or vm`,
      );
    }
    if (!out.includes(name)) out.push(name);
    start = end + 1;
  }
  return out;
}

/** `msi=DEVID:EVENTID,…` of `migrate`: the MSIs devices still send when the VM stops. */
export function msiList(o: OptionToken): { devid: number; eventid: number }[] {
  const out: { devid: number; eventid: number }[] = [];
  const chars = Array.from(o.value.text);
  let start = 0;
  while (start <= chars.length) {
    let end = start;
    while (end < chars.length && chars[end] !== ',') end++;
    const item = chars.slice(start, end).join('');
    const loc = locIn(o.value, start);
    const m = /^(0x[0-9a-fA-F]+|[0-9]+):(0x[0-9a-fA-F]+|[0-9]+)$/.exec(item);
    if (!m) fail(loc, `\`msi=\` takes DEVID:EVENTID pairs separated by commas, not \`${item}\``);
    const devid = Number(m[1]);
    const eventid = Number(m[2]);
    if (devid > 0xffff_ffff || eventid > 0xffff_ffff) fail(loc, `\`${item}\`: DEVID and EVENTID are 32-bit`);
    out.push({ devid, eventid });
    start = end + 1;
  }
  return out;
}
