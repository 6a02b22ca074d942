// The `.vgs` scenario parser (scenario-language.md, version 1): source text to the typed AST of
// ast.ts, every name resolved that can be resolved without running anything. Pure. The first
// error stops it with a ScenarioError `FILE:LINE:COL: message` pointing at the offending token;
// no other exception escapes for any input. Decisions where the spec is silent are listed in
// docs/scenario-notes.md.
//
// Within one statement the checks run in this order: the option syntax (`key=value`, duplicates,
// operands after options), unknown options and surplus operands, operands left to right (a
// missing one reported just past the last word before `expect`), options in source order, the
// checks that combine options, and last the `expect` tail.

import { ATTR_GROUPS, oneRegBits } from '../devices/names.js';
import type { HostKind } from '../engine/events.js';
import { type AttrTarget, type Scenario, ScenarioError, type Statement, type VmmProfile } from './ast.js';
import { decodeSource, type LogicalLine, lexScenario, type Token } from './lexer.js';
import { HVC_OUTPUTS, type Outputs, parseExpect, RC_ONLY, rcAndValue, VALUE_ONLY } from './parse-expect.js';
import { type Parsed, parseGuest, parseMem, parseVcpu } from './parse-guest.js';
import { attrOperand, MPIDR_GROUPS, msiList, oneRegOperand, quirkList } from './parse-operands.js';
import {
  fail,
  Head,
  isNumber,
  locAfter,
  lookup,
  numberIn,
  oneOf,
  onOff,
  u32,
  u64,
  unknownName,
  unsigned,
  wordValue,
} from './parse-support.js';

export { decodeSource };

const HOSTS: readonly HostKind[] = ['gicv3', 'gicv4.1'];
const VMMS: readonly VmmProfile[] = ['qemu', 'qemu-9', 'cloud-hypervisor', 'firecracker', 'gem5'];
const ADDR_GROUP = 0;
const V3_REDIST_REGION = 5n;

type Loc = Token['loc'];

/** One statement keyword: its usage line (for messages) and how to parse the words after it. */
interface Keyword {
  usage: string;
  parse(h: Head, loc: Loc): Statement;
}

function board(h: Head, loc: Loc): Statement {
  h.check(['vcpus', 'nr_irqs', 'its', 'sdei', 'host', 'quirks', 'ipa_bits'], 1);
  const machine = h.need(0, 'a machine type (virt)');
  if (machine.text !== 'virt') fail(machine.loc, `unknown machine \`${machine.text}\` (board takes virt)`);
  const stmt: Statement = {
    kind: 'board',
    loc,
    machine: 'virt',
    vcpus: 0,
    nrIrqs: 256,
    its: true,
    sdei: true,
    host: 'gicv3',
    quirks: [],
    ipaBits: 40,
  };
  for (const o of h.opts) {
    if (o.key === 'vcpus') stmt.vcpus = Number(numberIn(o.value, 1n, 512n, 'vcpus'));
    else if (o.key === 'nr_irqs') stmt.nrIrqs = u32(o.value, 'nr_irqs');
    else if (o.key === 'its') stmt.its = onOff(o, true);
    else if (o.key === 'sdei') stmt.sdei = onOff(o, true);
    else if (o.key === 'host') stmt.host = oneOf(o.value, HOSTS, 'host');
    else if (o.key === 'quirks') stmt.quirks = quirkList(o, 'kernel');
    else stmt.ipaBits = ipaBits(o.value);
  }
  h.needOpt('vcpus');
  return stmt;
}

function ipaBits(tok: Token): number {
  return Number(numberIn(tok, 32n, 52n, 'ipa_bits'));
}

function vm(h: Head, loc: Loc): Statement {
  h.check(['host', 'quirks', 'ipa_bits', 'sdei'], 0);
  const stmt: Statement = { kind: 'vm', loc, host: 'gicv3', quirks: [], ipaBits: 40, sdei: true };
  for (const o of h.opts) {
    if (o.key === 'host') stmt.host = oneOf(o.value, HOSTS, 'host');
    else if (o.key === 'quirks') stmt.quirks = quirkList(o, 'kernel');
    else if (o.key === 'ipa_bits') stmt.ipaBits = ipaBits(o.value);
    else stmt.sdei = onOff(o, true);
  }
  return stmt;
}

/** DEV GROUP ATTR of the device-attr statements. */
function attrHead(h: Head) {
  const dev = oneOf(h.need(0, 'a device (gic or its)'), ['gic', 'its'] as const, 'device');
  const groups = Object.keys(ATTR_GROUPS).join(', ');
  const groupTok = h.need(1, `a group (${groups})`);
  const named = lookup(ATTR_GROUPS, groupTok.text);
  if (named === undefined && !isNumber(groupTok.text)) unknownName(groupTok, `groups: ${groups} or a number`);
  const group = named ?? u32(groupTok, 'group');
  const groupName = groupTok.text;
  const attr = attrOperand(h.need(2, 'an attr'), named === undefined ? undefined : groupName);
  const region = group === ADDR_GROUP && attr.value === V3_REDIST_REGION;
  return { dev, group, groupName, attr, region, named: named !== undefined };
}

/** `vcpu=K` / `mpidr=M`, for groups with an MPIDR field (and numeric groups). */
function attrTarget(h: Head, groupName: string, named: boolean): AttrTarget | undefined {
  let target: AttrTarget | undefined;
  for (const o of h.opts) {
    if (o.key !== 'vcpu' && o.key !== 'mpidr') continue;
    if (named && !MPIDR_GROUPS.includes(groupName)) {
      fail(
        o.tok.loc,
        `\`${o.key}=\` applies only to groups with an MPIDR field (${MPIDR_GROUPS.join(', ')})`,
      );
    }
    if (target) fail(o.tok.loc, 'give vcpu= or mpidr=, not both');
    target =
      o.key === 'vcpu'
        ? { kind: 'vcpu', vcpu: u32(o.value, 'vCPU id') }
        : { kind: 'mpidr', mpidr: unsigned(o.value, 32, 'mpidr') };
  }
  return target;
}

/** Groups whose values are 32-bit registers or quantities. */
const VALUE32_GROUPS: readonly string[] = ['DIST_REGS', 'REDIST_REGS', 'NR_IRQS', 'LEVEL_INFO'];
const REGION_FIELDS = ['count', 'base', 'index', 'flags'] as const;

function setAttr(h: Head, loc: Loc): Statement {
  h.check(['vcpu', 'mpidr', ...REGION_FIELDS], 4);
  const { dev, group, groupName, attr, region, named } = attrHead(h);
  const valueTok = h.pos[3];
  const bits = named && VALUE32_GROUPS.includes(groupName) ? 32 : 64;
  let value = valueTok ? wordValue(valueTok, bits, `${bits} bits`) : undefined;
  const target = attrTarget(h, groupName, named);
  const fields: Partial<Record<(typeof REGION_FIELDS)[number], bigint>> = {};
  for (const o of h.opts) {
    const key = REGION_FIELDS.find((f) => f === o.key);
    if (!key) continue;
    if (!region) fail(o.tok.loc, `\`${key}=\` applies only to ADDR V3_REDIST_REGION`);
    if (valueTok)
      fail(o.tok.loc, `\`${key}=\` cannot be combined with a VALUE operand: give one or the other`);
    if (key === 'count') fields.count = unsigned(o.value, 12, 'count');
    else if (key === 'flags') fields.flags = unsigned(o.value, 52, 'flags');
    else fields[key] = u64(o.value, key);
  }
  if (Object.keys(fields).length > 0) {
    for (const f of ['count', 'base', 'index'] as const) {
      if (fields[f] === undefined)
        fail(h.end, `V3_REDIST_REGION needs count=, base= and index= (missing ${f}=)`);
    }
    // Raw OR, no masking: KVM sees misplaced bits and rejects them, as it would from a VMM.
    value =
      ((fields.count ?? 0n) << 52n) |
      (fields.base ?? 0n) |
      ((fields.flags ?? 0n) << 12n) |
      (fields.index ?? 0n);
  }
  const stmt: Statement = { kind: 'set_attr', loc, dev, group, groupName, attr };
  if (value !== undefined) stmt.value = value;
  if (target) stmt.target = target;
  return stmt;
}

function getAttr(h: Head, loc: Loc): Statement {
  h.check(['vcpu', 'mpidr', 'index'], 3);
  const { dev, group, groupName, attr, region, named } = attrHead(h);
  const target = attrTarget(h, groupName, named);
  const stmt: Statement = { kind: 'get_attr', loc, dev, group, groupName, attr };
  if (target) stmt.target = target;
  const index = h.opt('index');
  if (index) {
    if (!region) fail(index.tok.loc, '`index=` applies only to ADDR V3_REDIST_REGION');
    stmt.index = u64(index.value, 'index');
  }
  return stmt;
}

function hasAttr(h: Head, loc: Loc): Statement {
  h.check(['vcpu', 'mpidr'], 3);
  const { dev, group, groupName, attr, named } = attrHead(h);
  const target = attrTarget(h, groupName, named);
  const stmt: Statement = { kind: 'has_attr', loc, dev, group, groupName, attr };
  if (target) stmt.target = target;
  return stmt;
}

function irqLine(h: Head, loc: Loc): Statement {
  h.check([], 4);
  const line = oneOf(h.need(0, 'a line type (spi or ppi)'), ['spi', 'ppi'] as const, 'line type');
  let vcpu = 0;
  let i = 1;
  if (line === 'spi') {
    h.check([], 3);
  } else {
    // KVM_IRQ_LINE has 12 bits of vCPU index (vcpu2 [31:28], vcpu [23:16]).
    vcpu = Number(unsigned(h.need(1, 'a vCPU id'), 12, 'vCPU id'));
    i = 2;
  }
  const intid = Number(unsigned(h.need(i, 'an INTID'), 16, 'INTID'));
  const level = u32(h.need(i + 1, 'a LEVEL'), 'LEVEL');
  return { kind: 'irq_line', loc, line, vcpu, intid, level };
}

function vcpuOnly(kind: 'run' | 'reset_vcpu') {
  return (h: Head, loc: Loc): Statement => {
    h.check([], 1);
    return { kind, loc, vcpu: u32(h.need(0, 'a vCPU id'), 'vCPU id') };
  };
}

function noOperands(kind: 'stop' | 'cont') {
  return (h: Head, loc: Loc): Statement => {
    h.check([], 0);
    return { kind, loc };
  };
}

const KEYWORDS: Readonly<Record<string, Keyword>> = {
  board: {
    usage:
      'board virt vcpus=N [nr_irqs=N] [its=on|off] [sdei=on|off] [host=gicv3|gicv4.1] [quirks=A,B] [ipa_bits=N]',
    parse: board,
  },
  vm: { usage: 'vm [host=gicv3|gicv4.1] [quirks=A,B] [ipa_bits=N] [sdei=on|off]', parse: vm },
  create_vcpu: {
    usage: 'create_vcpu ID',
    parse(h, loc) {
      h.check([], 1);
      return { kind: 'create_vcpu', loc, vcpu: u32(h.need(0, 'an ID'), 'vCPU id') };
    },
  },
  create_device: {
    usage: 'create_device vgic-v3|vgic-its',
    parse(h, loc) {
      h.check([], 1);
      const types = ['vgic-v3', 'vgic-its'] as const;
      const device = oneOf(h.need(0, 'a device type (vgic-v3 or vgic-its)'), types, 'device type');
      return { kind: 'create_device', loc, device };
    },
  },
  set_attr: { usage: 'set_attr DEV GROUP ATTR [VALUE] [vcpu=K | mpidr=M]', parse: setAttr },
  get_attr: { usage: 'get_attr DEV GROUP ATTR [vcpu=K | mpidr=M] [index=I]', parse: getAttr },
  has_attr: { usage: 'has_attr DEV GROUP ATTR [vcpu=K | mpidr=M]', parse: hasAttr },
  irq_line: { usage: 'irq_line spi INTID LEVEL | irq_line ppi VCPU INTID LEVEL', parse: irqLine },
  signal_msi: {
    usage: 'signal_msi DEVID EVENTID',
    parse(h, loc) {
      h.check([], 2);
      const devid = u32(h.need(0, 'a DEVID'), 'DEVID');
      const eventid = u32(h.need(1, 'an EVENTID'), 'EVENTID');
      return { kind: 'signal_msi', loc, devid, eventid };
    },
  },
  get_reg: {
    usage: 'get_reg VCPU REG',
    parse(h, loc) {
      h.check([], 2);
      const vcpu = u32(h.need(0, 'a vCPU id'), 'vCPU id');
      return { kind: 'get_reg', loc, vcpu, ...oneRegOperand(h.need(1, 'a register'), 'get_reg') };
    },
  },
  set_reg: {
    usage: 'set_reg VCPU REG VALUE',
    parse(h, loc) {
      h.check([], 3);
      const vcpu = u32(h.need(0, 'a vCPU id'), 'vCPU id');
      const { reg, regName } = oneRegOperand(h.need(1, 'a register'), 'set_reg');
      const bits = oneRegBits(reg);
      const value = wordValue(h.need(2, 'a VALUE'), bits, `${bits} bits`, true);
      return { kind: 'set_reg', loc, vcpu, reg, regName, value };
    },
  },
  run: { usage: 'run VCPU', parse: vcpuOnly('run') },
  reset_vcpu: { usage: 'reset_vcpu VCPU', parse: vcpuOnly('reset_vcpu') },
  sdei_inject: {
    usage: 'sdei_inject VCPU EVENT',
    parse(h, loc) {
      h.check([], 2);
      const vcpu = u32(h.need(0, 'a vCPU id'), 'vCPU id');
      // SDEI event numbers are 32-bit (sdei.md §1).
      const event = unsigned(h.need(1, 'an EVENT'), 32, 'EVENT');
      return { kind: 'sdei_inject', loc, vcpu, event };
    },
  },
  stop: { usage: 'stop', parse: noOperands('stop') },
  cont: { usage: 'cont', parse: noOperands('cont') },
  migrate: {
    usage:
      'migrate [vmm=qemu|qemu-9|cloud-hypervisor|firecracker|gem5] [quirks=A,B] [host=gicv3|gicv4.1] [msi=DEVID:EVENTID,…]',
    parse(h, loc) {
      h.check(['vmm', 'quirks', 'host', 'msi'], 0);
      const stmt: Statement = { kind: 'migrate', loc, vmm: 'qemu', quirks: [] };
      for (const o of h.opts) {
        if (o.key === 'vmm') stmt.vmm = oneOf(o.value, VMMS, 'VMM');
        else if (o.key === 'quirks') stmt.quirks = quirkList(o, 'vmm');
        else if (o.key === 'msi') stmt.msis = msiList(o);
        else stmt.host = oneOf(o.value, HOSTS, 'host');
      }
      return stmt;
    },
  },
  use_vm: {
    usage: 'use_vm VM',
    parse(h, loc) {
      h.check([], 1);
      return { kind: 'use_vm', loc, vm: u32(h.need(0, 'a VM number'), 'VM number') };
    },
  },
  ram_transfer: {
    usage: 'ram_transfer FROM TO',
    parse(h, loc) {
      h.check([], 2);
      const from = u32(h.need(0, 'the source VM number'), 'VM number');
      const to = u32(h.need(1, 'the destination VM number'), 'VM number');
      return { kind: 'ram_transfer', loc, from, to };
    },
  },
  migrate_begin: {
    usage: 'migrate_begin vmm=qemu|qemu-9|cloud-hypervisor|firecracker|gem5 [quirks=A,B]',
    parse(h, loc) {
      h.check(['vmm', 'quirks'], 0);
      h.needOpt('vmm');
      const stmt: Statement = { kind: 'migrate_begin', loc, vmm: 'qemu', quirks: [] };
      for (const o of h.opts) {
        if (o.key === 'vmm') stmt.vmm = oneOf(o.value, VMMS, 'VMM');
        else stmt.quirks = quirkList(o, 'vmm');
      }
      return stmt;
    },
  },
  migrate_end: {
    usage: 'migrate_end',
    parse(h, loc) {
      h.check([], 0);
      return { kind: 'migrate_end', loc };
    },
  },
  mark: {
    usage: 'mark NAME',
    parse(h, loc) {
      h.check([], 1);
      return { kind: 'mark', loc, name: h.need(0, 'a name').text };
    },
  },
};

/** Statements allowed before the first `board`/`vm`. */
const BEFORE_VM = new Set(['board', 'vm', 'mark', 'note']);
const COMPOUND = new Set(['vcpu', 'mem', 'guest']);

/** What a parsed statement outputs for `expect` (undefined: nothing). */
function outputsOf(stmt: Statement): Outputs | undefined {
  switch (stmt.kind) {
    case 'create_vcpu':
    case 'create_device':
    case 'set_attr':
    case 'has_attr':
    case 'irq_line':
    case 'signal_msi':
    case 'set_reg':
    case 'run':
    case 'reset_vcpu':
    case 'sdei_inject':
    case 'stop':
    case 'cont':
    case 'mem_write':
    case 'migrate':
    case 'use_vm':
    case 'ram_transfer':
    case 'migrate_begin':
    case 'migrate_end':
      return RC_ONLY;
    case 'get_attr':
    case 'mem_read':
      return rcAndValue();
    case 'get_reg':
      return rcAndValue(Math.max(64, oneRegBits(stmt.reg)));
    case 'guest_read':
    case 'guest_mrs':
    case 'guest_reg':
      return VALUE_ONLY;
    case 'guest_hvc':
      return HVC_OUTPUTS;
    default:
      return undefined;
  }
}

/** `note TEXT…`: the raw rest of the line(s), comment removed, continuation lines joined by one space. */
function parseNote(line: LogicalLine, kw: Token): Statement {
  const parts: string[] = [];
  for (const seg of line.segments) {
    if (seg.line < kw.loc.line) continue;
    const chars = seg.line === kw.loc.line ? seg.chars.slice(kw.loc.col - 1 + kw.len) : seg.chars;
    const text = chars.join('').replace(/^[ \t]+|[ \t]+$/g, '');
    if (text !== '') parts.push(text);
  }
  if (parts.length === 0) fail(locAfter(kw), 'note needs text');
  return { kind: 'note', loc: kw.loc, text: parts.join(' ') };
}

/** The statement of one logical line; `kw` is its first word. */
function parseStatement(line: LogicalLine, kw: Token, haveVm: boolean): Statement {
  const keyword = lookup(KEYWORDS, kw.text);
  if (!keyword && !COMPOUND.has(kw.text) && kw.text !== 'note')
    fail(kw.loc, `unknown statement \`${kw.text}\``);
  if (!haveVm && !BEFORE_VM.has(kw.text)) fail(kw.loc, 'no VM yet: start the scenario with `board` or `vm`');
  if (kw.text === 'note') return parseNote(line, kw);
  const rest = line.tokens.slice(1);
  const at = rest.findIndex((t) => t.text === 'expect');
  const words = at < 0 ? rest : rest.slice(0, at);
  const end = locAfter(words[words.length - 1] ?? kw);
  let parsed: Parsed;
  if (keyword)
    parsed = { name: kw.text, stmt: keyword.parse(new Head(kw.text, keyword.usage, words, end), kw.loc) };
  else if (kw.text === 'vcpu') parsed = parseVcpu(kw, words, end);
  else if (kw.text === 'mem') parsed = parseMem(kw, words, end);
  else parsed = parseGuest(kw, words, end);
  const expectTok = rest[at];
  if (expectTok)
    parsed.stmt.expect = parseExpect(expectTok, rest.slice(at + 1), parsed.name, outputsOf(parsed.stmt));
  return parsed.stmt;
}

/**
 * Parses a scenario. Pure. Throws ScenarioError (`FILE:LINE:COL: message`) at the first error and
 * nothing else, whatever `text` holds.
 */
export function parseScenario(text: string, file: string): Scenario {
  const statements: Statement[] = [];
  let haveVm = false;
  for (const line of lexScenario(text, file)) {
    const kw = line.tokens[0];
    if (!kw) continue; // the lexer keeps only lines with words
    const stmt = parseStatement(line, kw, haveVm);
    if (stmt.kind === 'board' || stmt.kind === 'vm') haveVm = true;
    statements.push(stmt);
  }
  return { file, statements };
}

export { ScenarioError };
