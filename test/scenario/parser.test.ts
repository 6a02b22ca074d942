// The scenario parser on well-formed input: every statement form and option, number forms and
// names, continuations, comments and `expect` forms, with the exact AST fields they produce.

import { describe, expect, it } from 'vitest';
import {
  GICR_SGI_FRAME,
  registerByName,
  SDEI_FUNCTIONS,
  SDEI_ONE_REGS,
  sysregEncoding,
} from '../../devices/names.js';
import { CORE_REG_PC, CORE_REG_PSTATE, coreRegX } from '../../engine/core.js';
import type { Statement } from '../../scenario/ast.js';
import { parseScenario } from '../../scenario/parser.js';

const F = 't.vgs';
const at = (line: number, col: number) => ({ file: F, line, col });

function all(src: string): Statement[] {
  return parseScenario(src, F).statements;
}

/** The statement of `line`, parsed after a `vm` (so it sits on line 2). */
function one(line: string): Statement {
  const stmts = all(`vm\n${line}`);
  expect(stmts).toHaveLength(2);
  return stmts[1] as Statement;
}

function offset(name: string): number {
  const reg = registerByName(name);
  if (!reg) throw new Error(name);
  return reg.offset;
}

describe('board and vm', () => {
  it('board with defaults', () => {
    expect(all('board virt vcpus=4')).toEqual([
      {
        kind: 'board',
        loc: at(1, 1),
        machine: 'virt',
        vcpus: 4,
        nrIrqs: 256,
        its: true,
        sdei: true,
        host: 'gicv3',
        quirks: [],
        ipaBits: 40,
      },
    ]);
  });

  it('board with every option, in any order', () => {
    const [b] = all(
      'board virt ipa_bits=48 quirks=movall-all-lpis,sdei-stale-pending,movall-all-lpis host=gicv4.1 sdei=off its=off nr_irqs=0x60 vcpus=512',
    );
    expect(b).toEqual({
      kind: 'board',
      loc: at(1, 1),
      machine: 'virt',
      vcpus: 512,
      nrIrqs: 96,
      its: false,
      sdei: false,
      host: 'gicv4.1',
      quirks: ['movall-all-lpis', 'sdei-stale-pending'],
      ipaBits: 48,
    });
  });

  it('board accepts every nr_irqs the KVM API can be given', () => {
    expect(all('board virt vcpus=1 nr_irqs=0')[0]).toMatchObject({ nrIrqs: 0 });
    expect(all('board virt vcpus=1 nr_irqs=0xffff_ffff')[0]).toMatchObject({ nrIrqs: 0xffff_ffff });
  });

  it('vm with defaults and with options', () => {
    expect(all('vm')).toEqual([
      { kind: 'vm', loc: at(1, 1), host: 'gicv3', quirks: [], ipaBits: 40, sdei: true },
    ]);
    expect(all('vm sdei=off ipa_bits=32 host=gicv4.1 quirks=pendbaser-ptz-readable')[0]).toEqual({
      kind: 'vm',
      loc: at(1, 1),
      host: 'gicv4.1',
      quirks: ['pendbaser-ptz-readable'],
      ipaBits: 32,
      sdei: false,
    });
    expect(all('vm ipa_bits=52')[0]).toMatchObject({ ipaBits: 52 });
  });

  it('mark and note may come before the VM; board and vm may repeat', () => {
    const stmts = all('mark start\nnote before anything\nvm\nboard virt vcpus=1\nvm');
    expect(stmts.map((s) => s.kind)).toEqual(['mark', 'note', 'vm', 'board', 'vm']);
  });
});

describe('VMM statements', () => {
  it('create_vcpu and create_device', () => {
    expect(one('create_vcpu 7')).toEqual({ kind: 'create_vcpu', loc: at(2, 1), vcpu: 7 });
    expect(one('create_vcpu 0xffff_ffff')).toMatchObject({ vcpu: 0xffff_ffff });
    expect(one('create_device vgic-v3')).toEqual({ kind: 'create_device', loc: at(2, 1), device: 'vgic-v3' });
    expect(one('create_device vgic-its')).toMatchObject({ device: 'vgic-its' });
  });

  it('set_attr DIST_REGS with a register name, +N and a 32-bit value', () => {
    expect(one('set_attr gic DIST_REGS GICD_IROUTER40+4 0xffff_ffff')).toEqual({
      kind: 'set_attr',
      loc: at(2, 1),
      dev: 'gic',
      group: 1,
      groupName: 'DIST_REGS',
      attr: {
        value: BigInt(0x6000 + 40 * 8 + 4),
        name: 'GICD_IROUTER40',
        text: 'GICD_IROUTER40+4',
        loc: at(2, 24),
      },
      value: 0xffff_ffffn,
    });
  });

  it('set_attr takes a negative value as two\u2019s complement in its width', () => {
    expect(one('set_attr gic DIST_REGS GICD_ICENABLER1 -1')).toMatchObject({ value: 0xffff_ffffn });
    expect(one('set_attr its ITS_REGS GITS_CBASER -1')).toMatchObject({ value: 0xffff_ffff_ffff_ffffn });
  });

  it('set_attr REDIST_REGS: SGI-frame names include 0x10000; vcpu= and mpidr= targets', () => {
    expect(one('set_attr gic REDIST_REGS GICR_ISENABLER0 1 vcpu=1')).toMatchObject({
      group: 5,
      attr: { value: BigInt(GICR_SGI_FRAME + 0x100), name: 'GICR_ISENABLER0' },
      value: 1n,
      target: { kind: 'vcpu', vcpu: 1 },
    });
    expect(one('set_attr gic REDIST_REGS GICR_CTLR 0 mpidr=0x0100')).toMatchObject({
      attr: { value: 0n, name: 'GICR_CTLR' },
      target: { kind: 'mpidr', mpidr: 0x100n },
    });
  });

  it('set_attr with numeric group, attr and offsets', () => {
    expect(one('set_attr gic 9 0x1234_5678_9abc 5')).toMatchObject({
      group: 9,
      groupName: '9',
      attr: { value: 0x1234_5678_9abcn, text: '0x1234_5678_9abc' },
      value: 5n,
    });
    const s = one('set_attr gic 1 0 0 vcpu=0');
    expect(s).toMatchObject({ group: 1, groupName: '1', target: { kind: 'vcpu', vcpu: 0 } });
    expect(s.kind === 'set_attr' && s.attr.name).toBe(undefined);
    expect(one('set_attr gic DIST_REGS 0x100 1')).toMatchObject({ attr: { value: 0x100n } });
  });

  it('set_attr ADDR, CTRL, NR_IRQS, LEVEL_INFO and CPU_SYSREGS', () => {
    expect(one('set_attr gic ADDR V3_DIST 0x08000000')).toMatchObject({
      group: 0,
      groupName: 'ADDR',
      attr: { value: 2n, name: 'V3_DIST' },
      value: 0x0800_0000n,
    });
    expect(one('set_attr its ADDR ITS 0x08080000')).toMatchObject({
      dev: 'its',
      attr: { value: 4n, name: 'ITS' },
    });
    const init = one('set_attr gic CTRL INIT');
    expect(init).toEqual({
      kind: 'set_attr',
      loc: at(2, 1),
      dev: 'gic',
      group: 4,
      groupName: 'CTRL',
      attr: { value: 0n, name: 'INIT', text: 'INIT', loc: at(2, 19) },
    });
    expect(one('set_attr its CTRL ITS_RESTORE_TABLES')).toMatchObject({ attr: { value: 2n } });
    expect(one('set_attr gic CTRL 3')).toMatchObject({ attr: { value: 3n } });
    expect(one('set_attr gic NR_IRQS 0 256')).toMatchObject({ group: 3, attr: { value: 0n }, value: 256n });
    expect(one('set_attr gic LEVEL_INFO 32 0x5 vcpu=1')).toMatchObject({
      group: 7,
      attr: { value: 32n },
      value: 5n,
      target: { kind: 'vcpu', vcpu: 1 },
    });
    expect(one('set_attr gic CPU_SYSREGS ICC_PMR_EL1 0xf0 mpidr=0')).toMatchObject({
      group: 6,
      attr: { value: BigInt(sysregEncoding(3, 0, 4, 6, 0)), name: 'ICC_PMR_EL1' },
      value: 0xf0n,
      target: { kind: 'mpidr', mpidr: 0n },
    });
    expect(one('set_attr gic CPU_SYSREGS S3_0_C12_C12_4 0 vcpu=0')).toMatchObject({
      attr: { value: BigInt(offset('ICC_CTLR_EL1')), name: 'S3_0_C12_C12_4' },
    });
    expect(one('set_attr gic CPU_SYSREGS 0xc664 1')).toMatchObject({ attr: { value: 0xc664n } });
  });

  it('set_attr V3_REDIST_REGION as count= base= index= [flags=], a raw OR', () => {
    expect(one('set_attr gic ADDR V3_REDIST_REGION count=2 base=0x080A0000 index=0')).toMatchObject({
      attr: { value: 5n, name: 'V3_REDIST_REGION' },
      value: (2n << 52n) | 0x080a_0000n,
    });
    // Misplaced bits are not masked: KVM must see them.
    expect(
      one('set_attr gic ADDR V3_REDIST_REGION index=0x1001 base=0x1234 flags=3 count=0xfff'),
    ).toMatchObject({
      value: (0xfffn << 52n) | 0x1234n | (3n << 12n) | 0x1001n,
    });
    expect(one('set_attr gic ADDR 5 count=1 base=0 index=1')).toMatchObject({ value: (1n << 52n) | 1n });
    expect(one('set_attr gic ADDR V3_REDIST_REGION 0x10_0000_080a_0000')).toMatchObject({
      value: 0x10_0000_080a_0000n,
    });
  });

  it('get_attr and has_attr', () => {
    expect(one('get_attr gic ADDR V3_REDIST_REGION index=1')).toEqual({
      kind: 'get_attr',
      loc: at(2, 1),
      dev: 'gic',
      group: 0,
      groupName: 'ADDR',
      attr: { value: 5n, name: 'V3_REDIST_REGION', text: 'V3_REDIST_REGION', loc: at(2, 19) },
      index: 1n,
    });
    expect(one('get_attr gic REDIST_REGS GICR_TYPER+4 vcpu=3')).toMatchObject({
      attr: { value: 0xcn, name: 'GICR_TYPER' },
      target: { kind: 'vcpu', vcpu: 3 },
    });
    expect(one('get_attr its ITS_REGS GITS_BASER1')).toMatchObject({ group: 8, attr: { value: 0x108n } });
    expect(one('has_attr gic CPU_SYSREGS ICC_SRE_EL1 vcpu=0')).toMatchObject({
      kind: 'has_attr',
      group: 6,
      attr: { value: BigInt(offset('ICC_SRE_EL1')) },
      target: { kind: 'vcpu', vcpu: 0 },
    });
    expect(one('has_attr its ITS_REGS GITS_TRANSLATER')).toMatchObject({ attr: { value: 0x1_0040n } });
  });

  it('irq_line, signal_msi', () => {
    expect(one('irq_line spi 40 1')).toEqual({
      kind: 'irq_line',
      loc: at(2, 1),
      line: 'spi',
      vcpu: 0,
      intid: 40,
      level: 1,
    });
    expect(one('irq_line ppi 3 27 0')).toEqual({
      kind: 'irq_line',
      loc: at(2, 1),
      line: 'ppi',
      vcpu: 3,
      intid: 27,
      level: 0,
    });
    expect(one('irq_line ppi 4095 0xffff 0xffff_ffff')).toMatchObject({
      vcpu: 4095,
      intid: 0xffff,
      level: 0xffff_ffff,
    });
    expect(one('signal_msi 0x10 7')).toEqual({ kind: 'signal_msi', loc: at(2, 1), devid: 16, eventid: 7 });
  });

  it('get_reg and set_reg on core, SDEI and numeric registers', () => {
    expect(one('get_reg 1 x30')).toEqual({
      kind: 'get_reg',
      loc: at(2, 1),
      vcpu: 1,
      reg: coreRegX(30),
      regName: 'x30',
    });
    expect(one('get_reg 0 pc')).toMatchObject({ reg: CORE_REG_PC, regName: 'pc' });
    expect(one('get_reg 0 pstate')).toMatchObject({ reg: CORE_REG_PSTATE, regName: 'pstate' });
    expect(one('get_reg 0 KVM_REG_ARM_SDEI_PE_STATE')).toMatchObject({
      reg: SDEI_ONE_REGS.KVM_REG_ARM_SDEI_PE_STATE,
      regName: 'KVM_REG_ARM_SDEI_PE_STATE',
    });
    expect(one('get_reg 0 0x6030_0000_0010_0040')).toMatchObject({
      reg: CORE_REG_PC,
      regName: '0x6030000000100040',
    });
    expect(one('set_reg 0 x0 -1')).toEqual({
      kind: 'set_reg',
      loc: at(2, 1),
      vcpu: 0,
      reg: coreRegX(0),
      regName: 'x0',
      value: 0xffff_ffff_ffff_ffffn,
    });
    const wide = `0x${'f'.repeat(32)}`;
    expect(one(`set_reg 0 KVM_REG_ARM_SDEI_EVENT_HANDLER_0 ${wide}`)).toMatchObject({ value: BigInt(wide) });
    const huge = `0x${'a5'.repeat(256)}`;
    expect(one(`set_reg 0 KVM_REG_ARM_SDEI_EVENT_CONTEXT ${huge}`)).toMatchObject({ value: BigInt(huge) });
  });

  it('run, reset_vcpu, sdei_inject, stop, cont', () => {
    expect(one('run 2')).toEqual({ kind: 'run', loc: at(2, 1), vcpu: 2 });
    expect(one('reset_vcpu 0')).toEqual({ kind: 'reset_vcpu', loc: at(2, 1), vcpu: 0 });
    expect(one('sdei_inject 1 0xffff_ffff')).toEqual({
      kind: 'sdei_inject',
      loc: at(2, 1),
      vcpu: 1,
      event: 0xffff_ffffn,
    });
    expect(one('stop')).toEqual({ kind: 'stop', loc: at(2, 1) });
    expect(one('cont')).toEqual({ kind: 'cont', loc: at(2, 1) });
  });

  it('migrate', () => {
    expect(one('migrate')).toEqual({ kind: 'migrate', loc: at(2, 1), vmm: 'qemu', quirks: [] });
    expect(one('migrate host=gicv4.1 quirks=zero-clear,no-level-info vmm=cloud-hypervisor')).toEqual({
      kind: 'migrate',
      loc: at(2, 1),
      vmm: 'cloud-hypervisor',
      quirks: ['zero-clear', 'no-level-info'],
      host: 'gicv4.1',
    });
    for (const vmm of ['qemu', 'qemu-9', 'cloud-hypervisor', 'firecracker', 'gem5']) {
      expect(one(`migrate vmm=${vmm}`)).toMatchObject({ vmm });
    }
  });
});

describe('guest statements', () => {
  it('vcpu read/write with numbers and register operands', () => {
    expect(one('vcpu 1 read 0x40000000')).toEqual({
      kind: 'guest_read',
      loc: at(2, 1),
      vcpu: 1,
      addr: { kind: 'number', value: 0x4000_0000n, text: '0x40000000', loc: at(2, 13) },
      size: 4,
    });
    expect(one('vcpu 0 read GICR_CTLR@1+4 size=8')).toEqual({
      kind: 'guest_read',
      loc: at(2, 1),
      vcpu: 0,
      addr: {
        kind: 'register',
        name: 'GICR_CTLR',
        space: 'gicr',
        offset: 0,
        add: 4n,
        vcpu: 1,
        text: 'GICR_CTLR@1+4',
        loc: at(2, 13),
      },
      size: 8,
    });
    expect(one('vcpu 0 read GICR_TYPER+4@2 size=4')).toMatchObject({ addr: { add: 4n, vcpu: 2, offset: 8 } });
    expect(one('vcpu 0 read GICD_IPRIORITYR8 size=1')).toMatchObject({
      addr: { kind: 'register', space: 'gicd', offset: 0x420, add: 0n },
      size: 1,
    });
    const write = one('vcpu 2 write GITS_CWRITER 0x20 size=8');
    expect(write).toMatchObject({
      kind: 'guest_write',
      vcpu: 2,
      addr: { kind: 'register', space: 'gits', name: 'GITS_CWRITER', offset: 0x88 },
      value: 0x20n,
      size: 8,
    });
    expect(write.kind === 'guest_write' && write.addr.kind === 'register' && write.addr.vcpu).toBe(undefined);
    expect(one('vcpu 0 write 0x40000000 -1 size=1')).toMatchObject({ value: 0xffn, size: 1 });
    expect(one('vcpu 0 write 0x40000000 0xffff size=2')).toMatchObject({ value: 0xffffn, size: 2 });
    expect(one('vcpu 0 write 0x40000000 -0x8000_0000')).toMatchObject({ value: 0x8000_0000n, size: 4 });
  });

  it('vcpu mrs/msr with names, the generic form and numbers', () => {
    expect(one('vcpu 0 mrs ICC_IAR1_EL1')).toEqual({
      kind: 'guest_mrs',
      loc: at(2, 1),
      vcpu: 0,
      sysreg: sysregEncoding(3, 0, 12, 12, 0),
      name: 'ICC_IAR1_EL1',
    });
    expect(one('vcpu 0 mrs S3_0_C12_C12_5')).toMatchObject({
      sysreg: offset('ICC_SRE_EL1'),
      name: 'S3_0_C12_C12_5',
    });
    expect(one('vcpu 0 mrs 0xffff')).toMatchObject({ sysreg: 0xffff, name: '0xffff' });
    expect(one('vcpu 1 msr ICC_PMR_EL1 0xf8')).toEqual({
      kind: 'guest_msr',
      loc: at(2, 1),
      vcpu: 1,
      sysreg: offset('ICC_PMR_EL1'),
      name: 'ICC_PMR_EL1',
      value: 0xf8n,
    });
    expect(one('vcpu 1 msr ICC_SGI1R_EL1 -1')).toMatchObject({ value: 0xffff_ffff_ffff_ffffn });
  });

  it('vcpu hvc with names, ids and up to five arguments', () => {
    expect(one('vcpu 0 hvc SDEI_VERSION')).toEqual({
      kind: 'guest_hvc',
      loc: at(2, 1),
      vcpu: 0,
      func: BigInt(SDEI_FUNCTIONS.SDEI_VERSION ?? 0),
      args: [],
    });
    expect(one('vcpu 0 hvc 0x8000_0000 1 0b10 -1 SDEI_PE_MASK 0xffff_ffff_ffff_ffff')).toMatchObject({
      func: 0x8000_0000n,
      args: [
        1n,
        2n,
        0xffff_ffff_ffff_ffffn,
        BigInt(SDEI_FUNCTIONS.SDEI_PE_MASK ?? 0),
        0xffff_ffff_ffff_ffffn,
      ],
    });
  });

  it('vcpu reg', () => {
    expect(one('vcpu 3 reg x0')).toEqual({ kind: 'guest_reg', loc: at(2, 1), vcpu: 3, reg: 0 });
    expect(one('vcpu 3 reg x30')).toMatchObject({ reg: 30 });
    expect(one('vcpu 3 reg pc')).toMatchObject({ reg: 31 });
    expect(one('vcpu 3 reg pstate')).toMatchObject({ reg: 32 });
  });

  it.each([
    ['MAPD dev=1 size=4 itt=0x50020000', { dev: 1n, size: 4n, itt: 0x5002_0000n, valid: 1n }],
    ['MAPD valid=0 itt=0 size=0 dev=1', { dev: 1n, size: 0n, itt: 0n, valid: 0n }],
    ['MAPC icid=3 rdbase=1', { icid: 3n, rdbase: 1n, valid: 1n }],
    ['MAPC icid=3 rdbase=1 valid=0', { icid: 3n, rdbase: 1n, valid: 0n }],
    ['MAPTI dev=1 event=2 lpi=8192 icid=3', { dev: 1n, event: 2n, lpi: 8192n, icid: 3n }],
    ['MAPI dev=1 event=2 icid=3', { dev: 1n, event: 2n, icid: 3n }],
    ['MOVI dev=1 event=2 icid=0xffff', { dev: 1n, event: 2n, icid: 0xffffn }],
    ['INT dev=0xffff_ffff event=0', { dev: 0xffff_ffffn, event: 0n }],
    ['CLEAR dev=1 event=2', { dev: 1n, event: 2n }],
    ['INV dev=1 event=2', { dev: 1n, event: 2n }],
    ['INVALL icid=5', { icid: 5n }],
    ['MOVALL rdbase1=0 rdbase2=1', { rdbase1: 0n, rdbase2: 1n }],
    ['DISCARD dev=1 event=2', { dev: 1n, event: 2n }],
    ['SYNC rdbase=0', { rdbase: 0n }],
  ])('vcpu its %s', (cmd, fields) => {
    const s = one(`vcpu 1 its ${cmd}`);
    expect(s).toEqual({ kind: 'guest_its', loc: at(2, 1), vcpu: 1, command: cmd.split(' ')[0], fields });
  });

  it('mem read/write', () => {
    expect(one('mem read 0x40001000')).toEqual({
      kind: 'mem_read',
      loc: at(2, 1),
      addr: 0x4000_1000n,
      size: 4,
    });
    expect(one('mem read 0x40001000 size=8')).toMatchObject({ size: 8 });
    expect(one('mem write 0x40001000 0xab size=1')).toEqual({
      kind: 'mem_write',
      loc: at(2, 1),
      addr: 0x4000_1000n,
      value: 0xabn,
      size: 1,
    });
    expect(one('mem write 0x40001000 0x1122334455667788 size=8')).toMatchObject({
      value: 0x1122334455667788n,
    });
  });

  it('guest helpers', () => {
    expect(one('guest gic_init')).toEqual({ kind: 'gic_init', loc: at(2, 1) });
    expect(one('guest its_init')).toEqual({
      kind: 'its_init',
      loc: at(2, 1),
      base: 0x5000_0000n,
      idbits: 13,
    });
    expect(one('guest its_init idbits=15 base=0x60000000')).toMatchObject({ base: 0x6000_0000n, idbits: 15 });
    expect(one('guest lpi_config 8192 0xa2')).toEqual({
      kind: 'lpi_config',
      loc: at(2, 1),
      lpi: 8192n,
      byte: 0xa2,
    });
  });

  it('mark and note', () => {
    expect(one('mark before-migration')).toEqual({ kind: 'mark', loc: at(2, 1), name: 'before-migration' });
    expect(one('note  the   guest\tacks  # but this is a comment')).toEqual({
      kind: 'note',
      loc: at(2, 1),
      text: 'the   guest\tacks',
    });
    expect(one('note expect 5 is = text, -EINVAL')).toMatchObject({ text: 'expect 5 is = text, -EINVAL' });
    expect(one('note é 😀 ünïcødé')).toMatchObject({ text: 'é 😀 ünïcødé' });
  });
});

describe('numbers and names', () => {
  it.each([
    ['42', 42n],
    ['0', 0n],
    ['007', 7n],
    ['0x2a', 42n],
    ['0x2A', 42n],
    ['0b101', 5n],
    ['0x8000_0000', 0x8000_0000n],
    ['1_000_000', 1_000_000n],
    ['0b1111_0000', 0xf0n],
    ['0xffff_ffff_ffff_ffff', 0xffff_ffff_ffff_ffffn],
    ['18446744073709551615', 0xffff_ffff_ffff_ffffn],
    ['SDEI_VERSION', 0xc400_0020n],
    ['SDEI_SHARED_RESET', 0xc400_0032n],
    ['SDEI_SUCCESS', 0n],
  ])('u64 %s', (text, value) => {
    expect(one(`mem read ${text}`)).toMatchObject({ addr: value });
  });

  it.each([
    ['-22', -22n],
    ['-0x16', -22n],
    ['-0b10110', -22n],
    ['-EPERM', -1n],
    ['-ENOENT', -2n],
    ['-EFAULT', -14n],
    ['-EBUSY', -16n],
    ['-EEXIST', -17n],
    ['-ENODEV', -19n],
    ['-EINVAL', -22n],
    ['-E2BIG', -7n],
    ['-ENOMEM', -12n],
    ['-EACCES', -13n],
    ['-ENXIO', -6n],
    ['-EOPNOTSUPP', -95n],
    ['SDEI_NOT_SUPPORTED', -1n],
    ['SDEI_INVALID_PARAMETERS', -2n],
    ['SDEI_DENIED', -3n],
    ['SDEI_PENDING', -5n],
    ['SDEI_OUT_OF_RESOURCE', -10n],
    ['-0x8000_0000_0000_0000', -(1n << 63n)],
    ['0xffff_ffff_ffff_ffff', (1n << 64n) - 1n],
  ])('signed expect value %s', (text, value) => {
    const s = one(`create_vcpu 0 expect ${text}`);
    expect(s.expect?.items).toEqual([{ key: 'main', value, text, loc: at(2, 22) }]);
  });
});

describe('lines, comments, continuations', () => {
  it('skips comments and blank lines and keeps positions', () => {
    const stmts = all('# header\n\n   \t\nvm   # trailing\n\t  create_vcpu\t 3  # three\n');
    expect(stmts).toEqual([
      { kind: 'vm', loc: at(4, 1), host: 'gicv3', quirks: [], ipaBits: 40, sdei: true },
      { kind: 'create_vcpu', loc: at(5, 4), vcpu: 3 },
    ]);
  });

  it('joins continuation lines; tokens keep their own positions', () => {
    const [, s] = all(
      'vm\nset_attr gic \\\n   DIST_REGS GICD_CTLR\\\n 0x12 \\  # comment after the backslash\n  expect 0',
    );
    expect(s).toEqual({
      kind: 'set_attr',
      loc: at(2, 1),
      dev: 'gic',
      group: 1,
      groupName: 'DIST_REGS',
      attr: { value: 0n, name: 'GICD_CTLR', text: 'GICD_CTLR', loc: at(3, 14) },
      value: 0x12n,
      expect: { loc: at(5, 3), items: [{ key: 'main', value: 0n, text: '0', loc: at(5, 10) }] },
    });
  });

  it('a backslash in a comment does not continue', () => {
    expect(all('vm\ncreate_vcpu 1 # not a continuation \\\ncreate_vcpu 2').map((s) => s.kind)).toEqual([
      'vm',
      'create_vcpu',
      'create_vcpu',
    ]);
  });

  it('a continued note joins its pieces with one space', () => {
    expect(one('note first   \\\n    second  \\\n\\\n  third # done')).toMatchObject({
      text: 'first second third',
    });
  });

  it('accepts CRLF line ends, a BOM, and control characters inside comments', () => {
    const stmts = all('\uFEFFvm\r\ncreate_vcpu 1\r\n# bell \u0007 here\r\n');
    expect(stmts).toEqual([
      { kind: 'vm', loc: at(1, 1), host: 'gicv3', quirks: [], ipaBits: 40, sdei: true },
      { kind: 'create_vcpu', loc: at(2, 1), vcpu: 1 },
    ]);
  });

  it('an empty file and a comment-only file have no statements', () => {
    expect(parseScenario('', F)).toEqual({ file: F, statements: [] });
    expect(parseScenario('# nothing\n\n', F)).toEqual({ file: F, statements: [] });
  });
});

describe('expect', () => {
  it('VMM statements: bare value, rc=, value=, mask=', () => {
    expect(one('get_attr gic DIST_REGS GICD_TYPER expect value=0x1f mask=0x1f rc=0').expect).toEqual({
      loc: at(2, 35),
      items: [
        { key: 'value', value: 0x1fn, mask: 0x1fn, text: '0x1f', loc: at(2, 42) },
        { key: 'rc', value: 0n, text: '0', loc: at(2, 63) },
      ],
    });
    expect(one('set_attr gic CTRL INIT expect -EBUSY').expect?.items).toEqual([
      { key: 'main', value: -16n, text: '-EBUSY', loc: at(2, 31) },
    ]);
    expect(one('get_reg 0 x1 expect 5 mask=0xff').expect?.items).toMatchObject([
      { key: 'main', value: 5n, mask: 0xffn },
    ]);
    expect(one('mem read 0x40000000 expect rc=0 value=0').expect?.items.map((i) => i.key)).toEqual([
      'rc',
      'value',
    ]);
    expect(one('migrate vmm=gem5 expect rc=-EINVAL').expect?.items).toMatchObject([
      { key: 'rc', value: -22n },
    ]);
    for (const line of [
      'create_vcpu 0',
      'create_device vgic-v3',
      'has_attr gic CTRL INIT',
      'irq_line spi 40 1',
      'signal_msi 0 0',
      'set_reg 0 x0 0',
      'run 0',
      'reset_vcpu 0',
      'sdei_inject 0 0',
      'stop',
      'cont',
      'mem write 0 0',
      'migrate',
    ]) {
      expect(one(`${line} expect rc=0`).expect?.items).toMatchObject([{ key: 'rc', value: 0n }]);
    }
  });

  it('a bare non-negative value and rc= on a VMM read are different outputs', () => {
    expect(one('get_attr gic CTRL INIT expect 5 rc=0').expect?.items.map((i) => i.key)).toEqual([
      'main',
      'rc',
    ]);
    expect(one('get_attr gic CTRL INIT expect -EINVAL value=0').expect?.items.map((i) => i.key)).toEqual([
      'main',
      'value',
    ]);
  });

  it('guest reads and hvc', () => {
    expect(one('vcpu 0 read GICD_CTLR expect 0x12 mask=0x10').expect?.items).toMatchObject([
      { key: 'main', value: 0x12n, mask: 0x10n },
    ]);
    expect(one('vcpu 0 mrs ICC_IAR1_EL1 expect value=1023').expect?.items).toMatchObject([
      { key: 'value', value: 1023n },
    ]);
    expect(one('vcpu 0 reg pc expect 0x1000').expect?.items).toMatchObject([{ key: 'main', value: 0x1000n }]);
    expect(
      one('vcpu 0 hvc SDEI_VERSION expect 0x1000000 x1=0 x2=1 mask=1 x3=SDEI_DENIED').expect?.items,
    ).toMatchObject([
      { key: 'main', value: 0x100_0000n },
      { key: 'x1', value: 0n },
      { key: 'x2', value: 1n, mask: 1n },
      { key: 'x3', value: -3n },
    ]);
    expect(one('vcpu 0 hvc SDEI_PE_MASK expect SDEI_DENIED').expect?.items).toMatchObject([
      { key: 'main', value: -3n, text: 'SDEI_DENIED' },
    ]);
  });

  it('get_reg of a wide register may expect a wide value', () => {
    const wide = `0x${'f'.repeat(32)}`;
    expect(
      one(`get_reg 0 KVM_REG_ARM_SDEI_EVENT_HANDLER_0 expect value=${wide} mask=${wide}`).expect?.items,
    ).toMatchObject([{ key: 'value', value: BigInt(wide), mask: BigInt(wide) }]);
  });
});
