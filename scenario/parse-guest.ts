// Guest statements (`vcpu K …`), VMM RAM accesses (`mem …`) and the guest setup helpers
// (`guest …`) of scenario-language.md "Guest statements" and "Guest setup helpers".

import type { AccessSize, ItsCommandName, Statement } from './ast.js';
import type { Token } from './lexer.js';
import { addressOperand, guestRegIndex, sysregOperand } from './parse-operands.js';
import {
  bytesText,
  fail,
  Head,
  isNumber,
  type OptionToken,
  oneOf,
  u32,
  u64,
  unknownName,
  unsigned,
  wordValue,
} from './parse-support.js';

/** A statement and the name it goes by in messages (`vcpu write`, `guest its_init`). */
export interface Parsed {
  stmt: Statement;
  name: string;
}

const VCPU_OPS = ['read', 'write', 'mrs', 'msr', 'hvc', 'reg', 'its'] as const;
type VcpuOp = (typeof VCPU_OPS)[number];

const VCPU_USAGE: Record<VcpuOp, string> = {
  read: 'vcpu K read ADDR [size=1|2|4|8]',
  write: 'vcpu K write ADDR VALUE [size=1|2|4|8]',
  mrs: 'vcpu K mrs SYSREG',
  msr: 'vcpu K msr SYSREG VALUE',
  hvc: 'vcpu K hvc FUNC [X1 … X5]',
  reg: 'vcpu K reg NAME',
  its: 'vcpu K its CMD field=value …',
};

/** The fields of each ITS command, in the order the spec lists them. */
const ITS_FIELDS: Readonly<Record<ItsCommandName, readonly string[]>> = {
  MAPD: ['dev', 'size', 'itt', 'valid'],
  MAPC: ['icid', 'rdbase', 'valid'],
  MAPTI: ['dev', 'event', 'lpi', 'icid'],
  MAPI: ['dev', 'event', 'icid'],
  MOVI: ['dev', 'event', 'icid'],
  INT: ['dev', 'event'],
  CLEAR: ['dev', 'event'],
  INV: ['dev', 'event'],
  INVALL: ['icid'],
  MOVALL: ['rdbase1', 'rdbase2'],
  DISCARD: ['dev', 'event'],
  SYNC: ['rdbase'],
};
const ITS_COMMANDS = Object.keys(ITS_FIELDS) as ItsCommandName[];

/** Width in bits of each ITS command field as the scenario accepts it (the encoder places it). */
const ITS_FIELD_BITS: Readonly<Record<string, number>> = {
  dev: 32,
  event: 32,
  lpi: 32,
  icid: 16,
  size: 5,
  valid: 1,
  itt: 64,
  rdbase: 64,
  rdbase1: 64,
  rdbase2: 64,
};

/** `size=1|2|4|8`, 4 when absent. */
function accessSize(o: OptionToken | undefined): AccessSize {
  if (!o) return 4;
  const size = isNumber(o.value.text) ? unsigned(o.value, 64, 'size') : undefined;
  if (size !== 1n && size !== 2n && size !== 4n && size !== 8n) {
    fail(o.value.loc, `size must be 1, 2, 4 or 8, not \`${o.value.text}\``);
  }
  return Number(size) as AccessSize;
}

/** `vcpu K OP …`; `words` follow the `vcpu` keyword, `end` is just past the last of them. */
export function parseVcpu(kw: Token, words: Token[], end: Token['loc']): Parsed {
  const kTok = words[0];
  if (!kTok) fail(end, 'vcpu needs a vCPU id');
  if ((VCPU_OPS as readonly string[]).includes(kTok.text)) {
    fail(kTok.loc, `vcpu needs a vCPU id before \`${kTok.text}\``);
  }
  const vcpu = u32(kTok, 'vCPU id');
  const opTok = words[1];
  if (!opTok) fail(end, `vcpu ${kTok.text} needs an operation (${VCPU_OPS.join(', ')})`);
  const op = VCPU_OPS.find((o) => o === opTok.text);
  if (!op) fail(opTok.loc, `unknown vcpu operation \`${opTok.text}\` (${VCPU_OPS.join(', ')})`);
  const name = `vcpu ${op}`;
  const loc = kw.loc;
  if (op === 'its') return { name, stmt: parseIts(words.slice(2), end, loc, vcpu) };
  const h = new Head(name, VCPU_USAGE[op], words.slice(2), end);
  switch (op) {
    case 'read': {
      h.check(['size'], 1);
      const addr = addressOperand(h.need(0, 'an address'));
      return { name, stmt: { kind: 'guest_read', loc, vcpu, addr, size: accessSize(h.opt('size')) } };
    }
    case 'write': {
      h.check(['size'], 2);
      const addr = addressOperand(h.need(0, 'an address'));
      const valueTok = h.need(1, 'a VALUE');
      const size = accessSize(h.opt('size'));
      const value = wordValue(valueTok, size * 8, bytesText(size));
      return { name, stmt: { kind: 'guest_write', loc, vcpu, addr, value, size } };
    }
    case 'mrs': {
      h.check([], 1);
      const { sysreg, name: regName } = sysregOperand(h.need(0, 'a system register'));
      return { name, stmt: { kind: 'guest_mrs', loc, vcpu, sysreg, name: regName } };
    }
    case 'msr': {
      h.check([], 2);
      const { sysreg, name: regName } = sysregOperand(h.need(0, 'a system register'));
      const value = wordValue(h.need(1, 'a VALUE'), 64, '64 bits');
      return { name, stmt: { kind: 'guest_msr', loc, vcpu, sysreg, name: regName, value } };
    }
    case 'hvc': {
      h.check([], 6);
      const func = wordValue(h.need(0, 'a function (a name or an id)'), 64, '64 bits');
      const args = h.pos.slice(1).map((t) => wordValue(t, 64, '64 bits'));
      return { name, stmt: { kind: 'guest_hvc', loc, vcpu, func, args } };
    }
    case 'reg': {
      h.check([], 1);
      const regTok = h.need(0, 'a register (x0…x30, pc or pstate)');
      const reg = guestRegIndex(regTok.text);
      if (reg === undefined) unknownName(regTok, 'vcpu reg takes x0…x30, pc or pstate');
      return { name, stmt: { kind: 'guest_reg', loc, vcpu, reg } };
    }
  }
}

/** `vcpu K its CMD field=value …`; `words` follow `its`. */
function parseIts(words: Token[], end: Token['loc'], loc: Token['loc'], vcpu: number): Statement {
  const cmdTok = words[0];
  const commands = ITS_COMMANDS.join(', ');
  if (!cmdTok) fail(end, `vcpu its needs a command (${commands})`);
  if (cmdTok.text.includes('=')) fail(cmdTok.loc, `vcpu its needs a command before the fields (${commands})`);
  const command = oneOf(cmdTok, ITS_COMMANDS, 'ITS command');
  const allowed = ITS_FIELDS[command];
  const h = new Head(
    command,
    `vcpu K its ${command} ${allowed.map((f) => `${f}=`).join(' ')}`,
    words.slice(1),
    end,
  );
  h.check(allowed, 0);
  const fields: Record<string, bigint> = {};
  for (const o of h.opts) fields[o.key] = unsigned(o.value, ITS_FIELD_BITS[o.key] ?? 64, `${o.key}`);
  for (const f of allowed) {
    if (fields[f] !== undefined) continue;
    if (f === 'valid') fields[f] = 1n;
    else fail(h.end, `${command} needs ${f}=`);
  }
  return { kind: 'guest_its', loc, vcpu, command, fields };
}

/** The ADDR of `mem read`/`mem write`: a number only. */
function ramAddress(tok: Token): bigint {
  if (!isNumber(tok.text)) unknownName(tok, 'mem takes a RAM address: a number');
  return u64(tok, 'address');
}

/** `mem read|write …`. */
export function parseMem(kw: Token, words: Token[], end: Token['loc']): Parsed {
  const opTok = words[0];
  if (!opTok) fail(end, 'mem needs an operation (read or write)');
  const op = oneOf(opTok, ['read', 'write'] as const, 'mem operation');
  const name = `mem ${op}`;
  const loc = kw.loc;
  if (op === 'read') {
    const h = new Head(name, 'mem read ADDR [size=1|2|4|8]', words.slice(1), end);
    h.check(['size'], 1);
    const addr = ramAddress(h.need(0, 'an address'));
    return { name, stmt: { kind: 'mem_read', loc, addr, size: accessSize(h.opt('size')) } };
  }
  const h = new Head(name, 'mem write ADDR VALUE [size=1|2|4|8]', words.slice(1), end);
  h.check(['size'], 2);
  const addr = ramAddress(h.need(0, 'an address'));
  const valueTok = h.need(1, 'a VALUE');
  const size = accessSize(h.opt('size'));
  return {
    name,
    stmt: { kind: 'mem_write', loc, addr, value: wordValue(valueTok, size * 8, bytesText(size)), size },
  };
}

const HELPERS = ['gic_init', 'its_init', 'lpi_config'] as const;

/** `guest gic_init|its_init|lpi_config …`. */
export function parseGuest(kw: Token, words: Token[], end: Token['loc']): Parsed {
  const helperTok = words[0];
  if (!helperTok) fail(end, `guest needs a helper (${HELPERS.join(', ')})`);
  const helper = oneOf(helperTok, HELPERS, 'guest helper');
  const name = `guest ${helper}`;
  const loc = kw.loc;
  switch (helper) {
    case 'gic_init': {
      new Head(name, 'guest gic_init', words.slice(1), end).check([], 0);
      return { name, stmt: { kind: 'gic_init', loc } };
    }
    case 'its_init': {
      const h = new Head(name, 'guest its_init [base=ADDR] [idbits=N]', words.slice(1), end);
      h.check(['base', 'idbits'], 0);
      let base = 0x5000_0000n;
      let idbits = 13;
      for (const o of h.opts) {
        if (o.key === 'base') base = u64(o.value, 'base');
        else idbits = Number(unsigned(o.value, 5, 'idbits'));
      }
      return { name, stmt: { kind: 'its_init', loc, base, idbits } };
    }
    case 'lpi_config': {
      const h = new Head(name, 'guest lpi_config LPI BYTE', words.slice(1), end);
      h.check([], 2);
      const lpi = unsigned(h.need(0, 'an LPI'), 32, 'LPI');
      const byte = Number(unsigned(h.need(1, 'a BYTE'), 8, 'BYTE'));
      return { name, stmt: { kind: 'lpi_config', loc, lpi, byte } };
    }
  }
}
