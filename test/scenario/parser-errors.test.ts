// Every error the scenario parser emits, with its exact message and position. In each source the
// marker `▸` stands just before the character the error must point at (it is removed before
// parsing); the expected text is then `t.vgs:LINE:COL: MESSAGE`.

import { describe, expect, it } from 'vitest';
import { ScenarioError } from '../../scenario/ast.js';
import { decodeSource, parseScenario } from '../../scenario/parser.js';

const MARK = '▸';

/** Where the marker is (1-based line, column in code points) and the source without it. */
function locate(marked: string): { src: string; line: number; col: number } {
  const at = marked.indexOf(MARK);
  if (at < 0 || marked.indexOf(MARK, at + 1) >= 0) throw new Error(`exactly one marker needed: ${marked}`);
  const before = marked.slice(0, at);
  const lines = before.split('\n');
  const last = lines[lines.length - 1] ?? '';
  return { src: before + marked.slice(at + 1), line: lines.length, col: Array.from(last).length + 1 };
}

function errorOf(src: string): ScenarioError {
  try {
    parseScenario(src, 't.vgs');
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error(`no error for:\n${src}`);
}

function check(marked: string, message: string): void {
  const { src, line, col } = locate(marked);
  const err = errorOf(src);
  expect(err.message).toBe(`t.vgs:${line}:${col}: ${message}`);
  expect(err.loc).toEqual({ file: 't.vgs', line, col });
  expect(err.detail).toBe(message);
}

/** Sources that run after a VM exists. */
const VM = 'vm\n';
const BOARD = 'board virt vcpus=2\n';

describe('explicit positions', () => {
  it.each([
    ['create_vcpu 0', 't.vgs:1:1: no VM yet: start the scenario with `board` or `vm`'],
    ['vm\ncreate_vcpu', 't.vgs:2:12: create_vcpu needs an ID'],
    ['vm\n\tcreate_vcpu\t\tx', 't.vgs:2:15: unknown name `x`'],
    ['vm\nmark 𝑥 y', 't.vgs:2:8: unexpected operand `y` (usage: mark NAME)'],
    ['vm\ncreate_vcpu \\\n   1 2', 't.vgs:3:6: unexpected operand `2` (usage: create_vcpu ID)'],
  ])('%j', (src, message) => {
    expect(() => parseScenario(src, 't.vgs')).toThrow(message);
    expect(errorOf(src).message).toBe(message);
  });
});

describe('lexical errors', () => {
  it.each([
    [`${VM}create_vcpu 1▸\u0007`, 'invalid character U+0007'],
    [`${VM}create_vcpu ▸\r1`, 'invalid character U+000D'],
    [`${VM}note bell▸\u007f`, 'invalid character U+007F'],
    [`${VM}create_vcpu 1 ▸\\`, '`\\` at the end of the file: there is no next line to continue on'],
    [`${VM}create_vcpu 1 ▸\\  \n`, '`\\` at the end of the file: there is no next line to continue on'],
    [`${VM}create_vcpu▸ \\\n# the continuation ends here\n`, 'create_vcpu needs an ID'],
    [`${VM}set_attr gic \\\n  DIST_REGS▸`, 'set_attr needs an attr'],
    [`${VM}create_vcpu 1 # a comment \\\n▸x`, 'unknown statement `x`'],
    [`${VM}create_vcpu▸ #\\ 1`, 'create_vcpu needs an ID'],
  ])('%j', check);
});

describe('numbers and names', () => {
  it.each([
    [`${VM}mem read ▸0x`, 'malformed number `0x`'],
    [`${VM}mem read ▸1__0`, 'malformed number `1__0`'],
    [`${VM}mem read ▸12_`, 'malformed number `12_`'],
    [`${VM}mem read ▸0b2`, 'malformed number `0b2`'],
    [`${VM}mem read ▸0xg`, 'malformed number `0xg`'],
    [`${VM}mem read ▸0x_80`, 'malformed number `0x_80`'],
    [`${VM}mem read ▸0X10`, 'malformed number `0X10`'],
    [`${VM}mem read ▸1.5`, 'malformed number `1.5`'],
    [`${VM}mem read ▸+5`, 'malformed number `+5`'],
    [`${VM}mem read ▸-`, 'malformed number `-`'],
    [`${VM}mem read ▸0b`, 'malformed number `0b`'],
    [`${VM}mem read ▸1e3`, 'malformed number `1e3`'],
    [`${VM}mem read ▸--5`, 'malformed number `--5`'],
    [`${VM}mem read ▸0x1_0000_0000_0000_0000`, 'number out of range: 0x1_0000_0000_0000_0000'],
    [`${VM}mem read ▸-1`, 'number out of range: -1'],
    [`${VM}mem write 0 ▸0x1_0000_0000_0000_0000 size=8`, 'number out of range: 0x1_0000_0000_0000_0000'],
    [`${VM}mem write 0 ▸-0x8000_0000_0000_0001 size=8`, 'number out of range: -0x8000_0000_0000_0001'],
    [`${VM}create_vcpu ▸0x1_0000_0000`, 'number out of range: 0x1_0000_0000 (vCPU id: 0..0xffffffff)'],
    [`${VM}create_vcpu ▸-EINVAL`, 'number out of range: -EINVAL (vCPU id: 0..0xffffffff)'],
    [`${VM}create_vcpu ▸EINVAL`, 'errno names take a minus sign: `-EINVAL`'],
    [`${VM}create_vcpu ▸-EFOO`, 'unknown name `-EFOO`'],
    [`${VM}create_vcpu ▸FOO`, 'unknown name `FOO`'],
    [`${VM}create_vcpu ▸constructor`, 'unknown name `constructor`'],
    [`${VM}create_vcpu ▸__proto__`, 'unknown name `__proto__`'],
    [`${VM}create_vcpu ▸GICD_CTLR`, '`GICD_CTLR` is a register name, not allowed here'],
    [`${VM}create_vcpu ▸GICD_CTLR+4`, '`GICD_CTLR` is a register name, not allowed here'],
    [`${VM}create_vcpu ▸sdei_version`, 'unknown name `sdei_version`'],
  ])('%j', check);
});

describe('statements, operands and options', () => {
  it.each([
    ['▸foo 1', 'unknown statement `foo`'],
    ['▸Board virt vcpus=1', 'unknown statement `Board`'],
    ['mark start\n▸create_vcpu 0', 'no VM yet: start the scenario with `board` or `vm`'],
    ['▸vcpu 0 read 0', 'no VM yet: start the scenario with `board` or `vm`'],
    [`${VM}note▸`, 'note needs text'],
    [`${VM}note▸ \t # only a comment`, 'note needs text'],
    [`${VM}mark▸`, 'mark needs a name'],
    [`${VM}mark a ▸b`, 'unexpected operand `b` (usage: mark NAME)'],
    [`${VM}mark a ▸expect 0`, '`mark` has no output to expect'],
    [`${VM}mark ▸a=b`, 'unknown option `a` (mark takes no options)'],
    // board
    ['board virt vcpus=1 ▸vcpus=2', 'duplicate option `vcpus`'],
    [
      'board virt vcpus=1 ▸foo=2',
      'unknown option `foo` (board takes: vcpus, nr_irqs, its, sdei, host, quirks, ipa_bits)',
    ],
    ['board vcpus=1 ▸virt', 'operand `virt` after option `vcpus=` (options go last)'],
    ['board virt vcpus=▸', 'missing value after `vcpus=`'],
    ['board virt ▸=1', 'missing option name before `=`'],
    ['board virt▸', 'board needs vcpus='],
    ['board virt▸ expect 0', 'board needs vcpus='],
    ['board vcpus=1▸', 'board needs a machine type (virt)'],
    ['board ▸foo vcpus=1', 'unknown machine `foo` (board takes virt)'],
    [
      'board virt ▸2 vcpus=1',
      'unexpected operand `2` (usage: board virt vcpus=N [nr_irqs=N] [its=on|off] [sdei=on|off] [host=gicv3|gicv4.1] [quirks=A,B] [ipa_bits=N])',
    ],
    ['board virt vcpus=▸0', 'number out of range: 0 (vcpus: 1..512)'],
    ['board virt vcpus=▸513', 'number out of range: 513 (vcpus: 1..512)'],
    ['board virt vcpus=▸two', 'unknown name `two`'],
    ['board virt vcpus=1 its=▸yes', '`its` must be on or off, not `yes`'],
    ['board virt vcpus=1 sdei=▸1', '`sdei` must be on or off, not `1`'],
    ['board virt vcpus=1 host=▸gicv4', 'unknown host `gicv4` (gicv3, gicv4.1)'],
    ['board virt vcpus=1 ipa_bits=▸31', 'number out of range: 31 (ipa_bits: 32..52)'],
    ['board virt vcpus=1 ipa_bits=▸53', 'number out of range: 53 (ipa_bits: 32..52)'],
    ['board virt vcpus=1 nr_irqs=▸-1', 'number out of range: -1 (nr_irqs: 0..0xffffffff)'],
    ['board virt vcpus=1 quirks=▸zero-clear', '`zero-clear` is a VMM quirk: give it to migrate'],
    ['board virt vcpus=1 quirks=movall-all-lpis,▸nope', 'unknown quirk `nope` (see `vgicrr quirks`)'],
    ['board virt vcpus=1 quirks=movall-all-lpis,▸,x', 'empty quirk name in `quirks=`'],
    ['board virt vcpus=1 quirks=movall-all-lpis,▸', 'empty quirk name in `quirks=`'],
    ['board virt vcpus=1 ▸expect 0', '`board` has no output to expect'],
    // vm
    [
      'vm ▸foo',
      'unexpected operand `foo` (usage: vm [host=gicv3|gicv4.1] [quirks=A,B] [ipa_bits=N] [sdei=on|off])',
    ],
    ['vm ▸vcpus=2', 'unknown option `vcpus` (vm takes: host, quirks, ipa_bits, sdei)'],
    ['vm sdei=▸maybe', '`sdei` must be on or off, not `maybe`'],
    ['vm ▸expect 0', '`vm` has no output to expect'],
    ['vm quirks=▸no-sdei-state', '`no-sdei-state` is a VMM quirk: give it to migrate'],
    // migrate
    [
      `${BOARD}migrate quirks=zero-clear,▸movall-all-lpis`,
      '`movall-all-lpis` is a kernel quirk: give it to board or vm',
    ],
    [
      `${BOARD}migrate vmm=▸qemu10`,
      'unknown VMM `qemu10` (qemu, qemu-9, cloud-hypervisor, firecracker, gem5)',
    ],
    [`${BOARD}migrate host=▸gicv2`, 'unknown host `gicv2` (gicv3, gicv4.1)'],
    [
      `${BOARD}migrate ▸now`,
      'unexpected operand `now` (usage: migrate [vmm=qemu|qemu-9|cloud-hypervisor|firecracker|gem5] [quirks=A,B] [host=gicv3|gicv4.1] [msi=DEVID:EVENTID,…])',
    ],
    [`${BOARD}migrate msi=1:2,▸3`, '`msi=` takes DEVID:EVENTID pairs separated by commas, not `3`'],
    [`${BOARD}migrate msi=▸1:0x100000000`, '`1:0x100000000`: DEVID and EVENTID are 32-bit'],
    [`${BOARD}use_vm▸`, 'use_vm needs a VM number'],
    [`${BOARD}ram_transfer 0▸`, 'ram_transfer needs the destination VM number'],
    [`${BOARD}migrate_begin▸`, 'migrate_begin needs vmm='],
    [`${BOARD}migrate_begin vmm=qemu quirks=force-ptz,▸bogus`, 'unknown quirk `bogus` (see `vgicrr quirks`)'],
    [`${BOARD}migrate_end ▸1`, 'unexpected operand `1` (usage: migrate_end)'],
    [`${BOARD}migrate expect ▸value=0`, '`migrate` has no `value` output (it has: rc)'],
    // create_vcpu, create_device
    [`${VM}create_vcpu 1 ▸2`, 'unexpected operand `2` (usage: create_vcpu ID)'],
    [`${VM}create_vcpu 1 ▸x=1`, 'unknown option `x` (create_vcpu takes no options)'],
    [`${VM}create_device ▸vgic-v2`, 'unknown device type `vgic-v2` (vgic-v3, vgic-its)'],
    [`${VM}create_device▸`, 'create_device needs a device type (vgic-v3 or vgic-its)'],
  ])('%j', check);
});

describe('device attrs', () => {
  it.each([
    [`${VM}set_attr▸`, 'set_attr needs a device (gic or its)'],
    [`${VM}set_attr ▸gicv3 CTRL INIT`, 'unknown device `gicv3` (gic, its)'],
    [
      `${VM}set_attr gic▸`,
      'set_attr needs a group (ADDR, DIST_REGS, NR_IRQS, CTRL, REDIST_REGS, CPU_SYSREGS, LEVEL_INFO, ITS_REGS)',
    ],
    [
      `${VM}set_attr gic ▸FOO X`,
      'unknown name `FOO` (groups: ADDR, DIST_REGS, NR_IRQS, CTRL, REDIST_REGS, CPU_SYSREGS, LEVEL_INFO, ITS_REGS or a number)',
    ],
    [`${VM}set_attr gic ▸0x1_0000_0000 0`, 'number out of range: 0x1_0000_0000 (group: 0..0xffffffff)'],
    [`${VM}set_attr gic DIST_REGS▸`, 'set_attr needs an attr'],
    [
      `${VM}set_attr gic DIST_REGS ▸GICR_CTLR 0`,
      'GICR_CTLR is not a DIST_REGS register (DIST_REGS takes GICD_ names)',
    ],
    [
      `${VM}set_attr gic REDIST_REGS ▸GICD_CTLR 0`,
      'GICD_CTLR is not a REDIST_REGS register (REDIST_REGS takes GICR_ names)',
    ],
    [
      `${VM}set_attr its ITS_REGS ▸GICD_CTLR 0`,
      'GICD_CTLR is not an ITS_REGS register (ITS_REGS takes GITS_ names)',
    ],
    [
      `${VM}set_attr gic CPU_SYSREGS ▸GICD_CTLR 0`,
      'GICD_CTLR is not a CPU_SYSREGS register (CPU_SYSREGS takes ICC_ names)',
    ],
    [
      `${VM}set_attr gic DIST_REGS ▸GICD_FOO 0`,
      'unknown name `GICD_FOO` (DIST_REGS takes GICD_ names or an offset)',
    ],
    [
      `${VM}set_attr gic DIST_REGS ▸GICD_FOO+4 0`,
      'unknown name `GICD_FOO` (DIST_REGS takes GICD_ names or an offset)',
    ],
    [`${VM}set_attr gic DIST_REGS GICD_CTLR+▸x 0`, 'malformed number `x`'],
    [`${VM}set_attr gic DIST_REGS GICD_CTLR+▸ 0`, 'missing number after `+`'],
    [`${VM}set_attr gic DIST_REGS GICD_CTLR+▸-4 0`, '`+N` takes a non-negative number, not `-4`'],
    [`${VM}set_attr gic DIST_REGS GICD_CTLR+▸SDEI_VERSION 0`, 'malformed number `SDEI_VERSION`'],
    [`${VM}set_attr gic DIST_REGS GICD_CTLR+4▸+4 0`, 'only one `+N` per register name'],
    [
      `${VM}set_attr gic REDIST_REGS GICR_CTLR▸@1 0 vcpu=1`,
      '`@K` is only allowed in guest MMIO statements (use vcpu= here)',
    ],
    [`${VM}set_attr gic CPU_SYSREGS ICC_PMR_EL1▸+4 0`, '`+N` does not apply to a system register'],
    [
      `${VM}set_attr gic DIST_REGS ▸GICD_TYPER+0xffffffff 0`,
      'attr out of range: GICD_TYPER+0xffffffff (DIST_REGS attr: 0..0xffffffff)',
    ],
    [
      `${VM}set_attr gic DIST_REGS ▸0x1_0000_0000 0`,
      'number out of range: 0x1_0000_0000 (DIST_REGS attr: 0..0xffffffff)',
    ],
    [
      `${VM}set_attr gic LEVEL_INFO ▸0x1_0000_0000 0`,
      'number out of range: 0x1_0000_0000 (LEVEL_INFO attr: 0..0xffffffff)',
    ],
    [`${VM}set_attr gic NR_IRQS ▸zero 64`, 'unknown name `zero` (NR_IRQS takes a number)'],
    [`${VM}set_attr gic DIST_REGS GICD_CTLR ▸0x1_0000_0000`, 'value does not fit in 32 bits'],
    [`${VM}set_attr gic DIST_REGS GICD_CTLR ▸-0x8000_0001`, 'value does not fit in 32 bits'],
    [`${VM}set_attr gic NR_IRQS 0 ▸0x1_0000_0000`, 'value does not fit in 32 bits'],
    [
      `${VM}set_attr gic ADDR V3_DIST ▸0x1_0000_0000_0000_0000`,
      'number out of range: 0x1_0000_0000_0000_0000',
    ],
    [
      `${VM}set_attr gic DIST_REGS GICD_CTLR 1 ▸2`,
      'unexpected operand `2` (usage: set_attr DEV GROUP ATTR [VALUE] [vcpu=K | mpidr=M])',
    ],
    [
      `${VM}set_attr gic ADDR ▸FOO 0`,
      'unknown name `FOO` (ADDR takes V3_DIST, V3_REDIST, ITS, V3_REDIST_REGION or a number)',
    ],
    [
      `${VM}set_attr gic ADDR ▸INIT 0`,
      'unknown name `INIT` (ADDR takes V3_DIST, V3_REDIST, ITS, V3_REDIST_REGION or a number)',
    ],
    [
      `${VM}set_attr gic CTRL ▸V3_DIST`,
      'unknown name `V3_DIST` (CTRL takes INIT, ITS_SAVE_TABLES, ITS_RESTORE_TABLES, SAVE_PENDING_TABLES, ITS_CTRL_RESET or a number)',
    ],
    [
      `${VM}set_attr gic ADDR ▸GICD_CTLR 0`,
      '`GICD_CTLR` is a register name, not allowed here (ADDR takes V3_DIST, V3_REDIST, ITS, V3_REDIST_REGION or a number)',
    ],
    [
      `${VM}set_attr gic 1 ▸GICD_CTLR 0`,
      '`GICD_CTLR` is a register name, not allowed here (a numeric group takes a numeric attr)',
    ],
    [
      `${VM}set_attr gic CPU_SYSREGS ▸S4_0_C12_C12_5 0`,
      'system register field out of range in `S4_0_C12_C12_5` (op0 0..3, op1 0..7, CRn/CRm 0..15, op2 0..7)',
    ],
    [
      `${VM}set_attr gic CTRL INIT ▸vcpu=0`,
      '`vcpu=` applies only to groups with an MPIDR field (DIST_REGS, REDIST_REGS, CPU_SYSREGS, LEVEL_INFO)',
    ],
    [
      `${VM}get_attr its ITS_REGS GITS_CTLR ▸mpidr=0`,
      '`mpidr=` applies only to groups with an MPIDR field (DIST_REGS, REDIST_REGS, CPU_SYSREGS, LEVEL_INFO)',
    ],
    [`${VM}set_attr gic REDIST_REGS GICR_CTLR 0 vcpu=0 ▸mpidr=1`, 'give vcpu= or mpidr=, not both'],
    [
      `${VM}set_attr gic REDIST_REGS GICR_CTLR 0 mpidr=▸0x1_0000_0000`,
      'number out of range: 0x1_0000_0000 (mpidr: 0..0xffffffff)',
    ],
    [`${VM}has_attr gic REDIST_REGS GICR_CTLR vcpu=▸-1`, 'number out of range: -1 (vCPU id: 0..0xffffffff)'],
    [`${VM}set_attr gic ADDR V3_DIST ▸count=1`, '`count=` applies only to ADDR V3_REDIST_REGION'],
    [
      `${VM}set_attr gic ADDR V3_REDIST_REGION 0 ▸count=1`,
      '`count=` cannot be combined with a VALUE operand: give one or the other',
    ],
    [
      `${VM}set_attr gic ADDR V3_REDIST_REGION count=1 base=0▸`,
      'V3_REDIST_REGION needs count=, base= and index= (missing index=)',
    ],
    [
      `${VM}set_attr gic ADDR V3_REDIST_REGION flags=1▸ expect 0`,
      'V3_REDIST_REGION needs count=, base= and index= (missing count=)',
    ],
    [
      `${VM}set_attr gic ADDR V3_REDIST_REGION count=▸0x1000 base=0 index=0`,
      'number out of range: 0x1000 (count: 0..4095)',
    ],
    [
      `${VM}set_attr gic ADDR V3_REDIST_REGION count=1 base=0 index=0 flags=▸0x10_0000_0000_0000`,
      'number out of range: 0x10_0000_0000_0000 (flags: 0..0xfffffffffffff)',
    ],
    [
      `${VM}set_attr gic DIST_REGS GICD_CTLR ▸size=4`,
      'unknown option `size` (set_attr takes: vcpu, mpidr, count, base, index, flags)',
    ],
    [`${VM}get_attr gic DIST_REGS GICD_CTLR ▸index=0`, '`index=` applies only to ADDR V3_REDIST_REGION'],
    [
      `${VM}get_attr gic DIST_REGS GICD_CTLR ▸0`,
      'unexpected operand `0` (usage: get_attr DEV GROUP ATTR [vcpu=K | mpidr=M] [index=I])',
    ],
    [
      `${VM}has_attr gic DIST_REGS GICD_CTLR ▸index=1`,
      'unknown option `index` (has_attr takes: vcpu, mpidr)',
    ],
    [`${VM}set_attr gic CTRL INIT expect ▸value=0`, '`set_attr` has no `value` output (it has: rc)'],
  ])('%j', check);
});

describe('other VMM statements', () => {
  it.each([
    [`${VM}irq_line▸`, 'irq_line needs a line type (spi or ppi)'],
    [`${VM}irq_line ▸sgi 1 1`, 'unknown line type `sgi` (spi, ppi)'],
    [`${VM}irq_line spi 40▸`, 'irq_line needs a LEVEL'],
    [`${VM}irq_line spi▸`, 'irq_line needs an INTID'],
    [`${VM}irq_line spi ▸0x10000 1`, 'number out of range: 0x10000 (INTID: 0..0xffff)'],
    [
      `${VM}irq_line spi 40 1 ▸2`,
      'unexpected operand `2` (usage: irq_line spi INTID LEVEL | irq_line ppi VCPU INTID LEVEL)',
    ],
    [`${VM}irq_line ppi ▸4096 20 1`, 'number out of range: 4096 (vCPU id: 0..4095)'],
    [`${VM}irq_line ppi 0 20▸`, 'irq_line needs a LEVEL'],
    [`${VM}irq_line ppi▸`, 'irq_line needs a vCPU id'],
    [`${VM}irq_line spi 40 ▸0x1_0000_0000`, 'number out of range: 0x1_0000_0000 (LEVEL: 0..0xffffffff)'],
    [`${VM}signal_msi 1▸`, 'signal_msi needs an EVENTID'],
    [`${VM}signal_msi▸`, 'signal_msi needs a DEVID'],
    [`${VM}signal_msi ▸-1 0`, 'number out of range: -1 (DEVID: 0..0xffffffff)'],
    [`${VM}get_reg 0▸`, 'get_reg needs a register'],
    [`${VM}get_reg▸`, 'get_reg needs a vCPU id'],
    [
      `${VM}get_reg 0 ▸x31`,
      'unknown name `x31` (get_reg takes x0…x30, pc, pstate, KVM_REG_ARM_SDEI_* or a numeric id)',
    ],
    [
      `${VM}set_reg 0 ▸X0 1`,
      'unknown name `X0` (set_reg takes x0…x30, pc, pstate, KVM_REG_ARM_SDEI_* or a numeric id)',
    ],
    [`${VM}get_reg 0 ▸0x1_0000_0000_0000_0000`, 'number out of range: 0x1_0000_0000_0000_0000'],
    [`${VM}set_reg 0 x0▸`, 'set_reg needs a VALUE'],
    [`${VM}set_reg 0 x0 ▸0x1_0000_0000_0000_0000`, 'value does not fit in 64 bits'],
    [`${VM}set_reg 0 pc ▸-0x8000_0000_0000_0001`, 'value does not fit in 64 bits'],
    [
      `${VM}set_reg 0 KVM_REG_ARM_SDEI_EVENT_HANDLER_0 ▸0x1${'0'.repeat(32)}`,
      'value does not fit in 128 bits',
    ],
    [`${VM}get_reg 0 x0 expect ▸x1=0`, '`get_reg` has no `x1` output (it has: rc, value)'],
    [`${VM}run▸`, 'run needs a vCPU id'],
    [`${VM}run 0 ▸1`, 'unexpected operand `1` (usage: run VCPU)'],
    [`${VM}reset_vcpu ▸all`, 'unknown name `all`'],
    [`${VM}run 0 expect ▸value=0`, '`run` has no `value` output (it has: rc)'],
    [`${VM}sdei_inject 0▸`, 'sdei_inject needs an EVENT'],
    [`${VM}sdei_inject 0 ▸0x1_0000_0000`, 'number out of range: 0x1_0000_0000 (EVENT: 0..0xffffffff)'],
    [`${VM}stop ▸now`, 'unexpected operand `now` (usage: stop)'],
    [`${VM}cont ▸x=1`, 'unknown option `x` (cont takes no options)'],
  ])('%j', check);
});

describe('guest statements', () => {
  it.each([
    [`${VM}vcpu▸`, 'vcpu needs a vCPU id'],
    [`${VM}vcpu ▸read 0`, 'vcpu needs a vCPU id before `read`'],
    [`${VM}vcpu ▸-1 read 0`, 'number out of range: -1 (vCPU id: 0..0xffffffff)'],
    [`${VM}vcpu 0▸`, 'vcpu 0 needs an operation (read, write, mrs, msr, hvc, reg, its)'],
    [`${VM}vcpu 0 ▸load 0`, 'unknown vcpu operation `load` (read, write, mrs, msr, hvc, reg, its)'],
    [`${VM}vcpu 0 read▸`, 'vcpu read needs an address'],
    [`${VM}vcpu 0 read ▸ICC_PMR_EL1`, 'ICC_PMR_EL1 is a system register, not an address'],
    [`${VM}vcpu 0 read GICD_CTLR▸@1`, '`@K` applies only to GICR_ names (GICD_CTLR is not per vCPU)'],
    [`${VM}vcpu 0 read GITS_CTLR+4▸@1`, '`@K` applies only to GICR_ names (GITS_CTLR is not per vCPU)'],
    [`${VM}vcpu 0 read GICR_CTLR@▸`, 'missing vCPU id after `@`'],
    [`${VM}vcpu 0 read GICR_CTLR@1▸@2`, 'only one `@K` per register name'],
    [`${VM}vcpu 0 read GICR_CTLR@▸x`, 'unknown name `x`'],
    [
      `${VM}vcpu 0 read GICR_CTLR@▸0x1_0000_0000`,
      'number out of range: 0x1_0000_0000 (vCPU id: 0..0xffffffff)',
    ],
    [
      `${VM}vcpu 0 read ▸FOO+4`,
      'unknown name `FOO` (an address is a number or a GICD_, GICR_ or GITS_ name)',
    ],
    [`${VM}vcpu 0 read ▸-EINVAL`, 'number out of range: -EINVAL'],
    [`${VM}vcpu 0 read GICD_CTLR+▸0x1_0000_0000_0000_0000`, 'number out of range: 0x1_0000_0000_0000_0000'],
    [`${VM}vcpu 0 read GICR_CTLR@1+▸1.5`, 'malformed number `1.5`'],
    [`${VM}vcpu 0 read 0 size=▸3`, 'size must be 1, 2, 4 or 8, not `3`'],
    [`${VM}vcpu 0 read 0 size=▸word`, 'size must be 1, 2, 4 or 8, not `word`'],
    [`${VM}vcpu 0 read 0 size=▸0x`, 'malformed number `0x`'],
    [`${VM}vcpu 0 read 0 ▸4`, 'unexpected operand `4` (usage: vcpu K read ADDR [size=1|2|4|8])'],
    [`${VM}vcpu 0 read 0 ▸align=4`, 'unknown option `align` (vcpu read takes: size)'],
    [`${VM}vcpu 0 read 0 expect ▸rc=0`, '`vcpu read` has no `rc` output (it has: value)'],
    [`${VM}vcpu 0 write 0▸`, 'vcpu write needs a VALUE'],
    [`${VM}vcpu 0 write GICD_CTLR ▸0x1_0000_0000`, 'value does not fit in 4 bytes'],
    [`${VM}vcpu 0 write 0 ▸0x100 size=1`, 'value does not fit in 1 byte'],
    [`${VM}vcpu 0 write 0 ▸-129 size=1`, 'value does not fit in 1 byte'],
    [`${VM}vcpu 0 write 0 ▸0x1_0000 size=2`, 'value does not fit in 2 bytes'],
    [`${VM}vcpu 0 write 0 1 ▸expect 0`, '`vcpu write` has no output to expect'],
    [`${VM}vcpu 0 mrs▸`, 'vcpu mrs needs a system register'],
    [`${VM}vcpu 0 mrs ▸GICD_CTLR`, 'GICD_CTLR is not a system register (ICC_ names are)'],
    [
      `${VM}vcpu 0 mrs ▸FOO`,
      'unknown name `FOO` (a system register is an ICC_ name, S<op0>_<op1>_C<n>_C<m>_<op2> or a number)',
    ],
    [`${VM}vcpu 0 mrs ▸0x10000`, 'number out of range: 0x10000 (system register encoding: 0..0xffff)'],
    [`${VM}vcpu 0 mrs ▸ICC_PMR_EL1+4`, 'a system register takes no `+N` or `@K`'],
    [
      `${VM}vcpu 0 mrs ▸S3_8_C12_C12_5`,
      'system register field out of range in `S3_8_C12_C12_5` (op0 0..3, op1 0..7, CRn/CRm 0..15, op2 0..7)',
    ],
    [`${VM}vcpu 0 msr ICC_PMR_EL1▸`, 'vcpu msr needs a VALUE'],
    [`${VM}vcpu 0 msr ICC_PMR_EL1 1 ▸expect 0`, '`vcpu msr` has no output to expect'],
    [`${VM}vcpu 0 hvc▸`, 'vcpu hvc needs a function (a name or an id)'],
    [`${VM}vcpu 0 hvc ▸SDEI_FOO`, 'unknown name `SDEI_FOO`'],
    [`${VM}vcpu 0 hvc 0 1 2 3 4 5 ▸6`, 'unexpected operand `6` (usage: vcpu K hvc FUNC [X1 … X5])'],
    [`${VM}vcpu 0 hvc 0 ▸0x1_0000_0000_0000_0000`, 'number out of range: 0x1_0000_0000_0000_0000'],
    [`${VM}vcpu 0 hvc SDEI_VERSION expect ▸x4=0`, '`vcpu hvc` has no `x4` output (it has: x0, x1, x2, x3)'],
    [`${VM}vcpu 0 hvc SDEI_VERSION expect ▸rc=0`, '`vcpu hvc` has no `rc` output (it has: x0, x1, x2, x3)'],
    [`${VM}vcpu 0 reg▸`, 'vcpu reg needs a register (x0…x30, pc or pstate)'],
    [`${VM}vcpu 0 reg ▸sp`, 'unknown name `sp` (vcpu reg takes x0…x30, pc or pstate)'],
    [
      `${VM}vcpu 0 reg ▸KVM_REG_ARM_SDEI_PE_STATE`,
      'unknown name `KVM_REG_ARM_SDEI_PE_STATE` (vcpu reg takes x0…x30, pc or pstate)',
    ],
    [`${VM}vcpu 0 reg ▸x01`, 'unknown name `x01` (vcpu reg takes x0…x30, pc or pstate)'],
  ])('%j', check);
});

describe('vcpu its, mem, guest helpers', () => {
  const COMMANDS = 'MAPD, MAPC, MAPTI, MAPI, MOVI, INT, CLEAR, INV, INVALL, MOVALL, DISCARD, SYNC';
  it.each([
    [`${VM}vcpu 0 its▸`, `vcpu its needs a command (${COMMANDS})`],
    [`${VM}vcpu 0 its ▸dev=1 MAPD`, `vcpu its needs a command before the fields (${COMMANDS})`],
    [`${VM}vcpu 0 its ▸MAPX dev=1`, `unknown ITS command \`MAPX\` (${COMMANDS})`],
    [`${VM}vcpu 0 its ▸mapd dev=1`, `unknown ITS command \`mapd\` (${COMMANDS})`],
    [`${VM}vcpu 0 its MAPD dev=1 size=4▸`, 'MAPD needs itt='],
    [`${VM}vcpu 0 its MAPTI dev=1 event=2 icid=0▸`, 'MAPTI needs lpi='],
    [
      `${VM}vcpu 0 its MAPD dev=1 size=4 itt=0 ▸lpi=5`,
      'unknown option `lpi` (MAPD takes: dev, size, itt, valid)',
    ],
    [`${VM}vcpu 0 its MAPD dev=1 size=▸32 itt=0`, 'number out of range: 32 (size: 0..31)'],
    [`${VM}vcpu 0 its MAPC icid=0 rdbase=0 valid=▸2`, 'number out of range: 2 (valid: 0..1)'],
    [`${VM}vcpu 0 its MAPC icid=▸0x10000 rdbase=0`, 'number out of range: 0x10000 (icid: 0..0xffff)'],
    [`${VM}vcpu 0 its INT dev=▸-1 event=0`, 'number out of range: -1 (dev: 0..0xffffffff)'],
    [`${VM}vcpu 0 its INT ▸1 dev=1 event=1`, 'unexpected operand `1` (usage: vcpu K its INT dev= event=)'],
    [`${VM}vcpu 0 its INT dev=1 ▸dev=2 event=0`, 'duplicate option `dev`'],
    [`${VM}vcpu 0 its SYNC rdbase=0 ▸expect 0`, '`vcpu its` has no output to expect'],
    [`${VM}vcpu 0 its MOVALL rdbase1=0▸`, 'MOVALL needs rdbase2='],
    [`${VM}mem▸`, 'mem needs an operation (read or write)'],
    [`${VM}mem ▸copy 0`, 'unknown mem operation `copy` (read, write)'],
    [
      `${VM}mem read ▸GICD_CTLR`,
      '`GICD_CTLR` is a register name, not allowed here (mem takes a RAM address: a number)',
    ],
    [`${VM}mem read ▸ram`, 'unknown name `ram` (mem takes a RAM address: a number)'],
    [`${VM}mem read▸`, 'mem read needs an address'],
    [`${VM}mem write 0x40000000▸`, 'mem write needs a VALUE'],
    [`${VM}mem write 0 ▸0x1_0000 size=2`, 'value does not fit in 2 bytes'],
    [`${VM}mem write 0 1 expect ▸value=1`, '`mem write` has no `value` output (it has: rc)'],
    [`${VM}mem read 0 size=▸16`, 'size must be 1, 2, 4 or 8, not `16`'],
    [`${VM}guest▸`, 'guest needs a helper (gic_init, its_init, lpi_config)'],
    [`${VM}guest ▸init`, 'unknown guest helper `init` (gic_init, its_init, lpi_config)'],
    [`${VM}guest gic_init ▸1`, 'unexpected operand `1` (usage: guest gic_init)'],
    [`${VM}guest its_init idbits=▸32`, 'number out of range: 32 (idbits: 0..31)'],
    [`${VM}guest its_init base=▸-1`, 'number out of range: -1'],
    [`${VM}guest its_init ▸size=1`, 'unknown option `size` (guest its_init takes: base, idbits)'],
    [`${VM}guest lpi_config 8192▸`, 'guest lpi_config needs a BYTE'],
    [`${VM}guest lpi_config 8192 ▸0x100`, 'number out of range: 0x100 (BYTE: 0..255)'],
    [`${VM}guest gic_init ▸expect 0`, '`guest gic_init` has no output to expect'],
    [`${VM}guest its_init ▸expect 0`, '`guest its_init` has no output to expect'],
    [`${VM}guest lpi_config 8192 0xa2 ▸expect 0`, '`guest lpi_config` has no output to expect'],
  ])('%j', check);
});

describe('expect', () => {
  const GETREG = `${VM}get_reg 0 KVM_REG_ARM_SDEI_EVENT_HANDLER_0 expect`;
  it.each([
    [`${VM}create_vcpu 0 expect▸`, '`expect` needs at least one value'],
    [`${VM}create_vcpu 0 expect ▸mask=1`, '`mask=` must follow the value it applies to'],
    [`${VM}create_vcpu 0 expect 0 mask=1 ▸mask=2`, '`mask=` given twice for one value'],
    [`${VM}create_vcpu 0 expect 0 ▸expect 1`, '`expect` is given only once per statement'],
    [`${VM}create_vcpu 0 expect ▸value=0`, '`create_vcpu` has no `value` output (it has: rc)'],
    [`${VM}create_vcpu 0 expect ▸foo=1`, 'unknown output `foo` (`create_vcpu` has: rc; and mask=)'],
    [`${VM}create_vcpu 0 expect rc=▸`, 'missing value after `rc=`'],
    [`${VM}create_vcpu 0 expect ▸=1`, 'missing output name before `=`'],
    [`${VM}create_vcpu 0 expect 0 ▸rc=0`, '`rc` is expected twice'],
    [`${VM}get_attr gic CTRL INIT expect 5 ▸value=5`, '`value` is expected twice'],
    [`${VM}get_attr gic CTRL INIT expect -EINVAL ▸rc=-22`, '`rc` is expected twice'],
    [`${VM}vcpu 0 hvc 0 expect 0 ▸x0=1`, '`x0` is expected twice'],
    [`${VM}vcpu 0 read 0 expect 0 ▸value=1`, '`value` is expected twice'],
    [`${VM}create_vcpu 0 expect ▸0x1_0000_0000_0000_0000`, 'number out of range: 0x1_0000_0000_0000_0000'],
    [`${VM}create_vcpu 0 expect ▸-0x8000_0000_0000_0001`, 'number out of range: -0x8000_0000_0000_0001'],
    [`${VM}create_vcpu 0 expect ▸EINVAL`, 'errno names take a minus sign: `-EINVAL`'],
    [`${VM}create_vcpu 0 expect ▸0x`, 'malformed number `0x`'],
    [`${VM}create_vcpu 0 expect rc=▸0xz`, 'malformed number `0xz`'],
    [`${VM}create_vcpu 0 expect 0 mask=▸GICD_CTLR`, '`GICD_CTLR` is a register name, not allowed here'],
    [`${VM}create_vcpu 0 expect ▸ok`, 'unknown name `ok`'],
    [`${GETREG} value=▸0x1${'0'.repeat(32)}`, 'value does not fit in 128 bits'],
    [`${GETREG} value=1 mask=▸0x1${'0'.repeat(32)}`, 'value does not fit in 128 bits'],
    [`${VM}get_reg 0 x0 expect value=▸0x1${'0'.repeat(16)}`, `number out of range: 0x1${'0'.repeat(16)}`],
  ])('%j', check);
});

describe('decodeSource', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const cat = (...parts: (string | number[])[]) =>
    new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? Array.from(enc(p)) : p)));
  it.each([
    ['a lone continuation byte', cat('vm\n', [0x80]), 2, 1],
    ['0xff', cat('vm\nab', [0xff]), 2, 3],
    ['a truncated 2-byte sequence at the end', cat('vm\nab', [0xc3]), 2, 3],
    ['a truncated 3-byte sequence before ASCII', cat('x', [0xe2, 0x82], 'y'), 1, 2],
    ['an overlong NUL', cat([0xc0, 0x80]), 1, 1],
    ['an overlong 3-byte form', cat([0xe0, 0x80, 0xaf]), 1, 1],
    ['an encoded surrogate', cat([0xef, 0xbb, 0xbf], 'vm\n', [0xed, 0xa0, 0x80]), 2, 1],
    ['a code point above U+10FFFF', cat('é', [0xf4, 0x90, 0x80, 0x80]), 1, 2],
    ['after an astral character', cat('mark 😀', [0xfe]), 1, 7],
    ['after a BOM (not counted)', cat([0xef, 0xbb, 0xbf], 'ab', [0xff]), 1, 3],
  ])('%s', (_name, bytes, line, col) => {
    let err: unknown;
    try {
      decodeSource(bytes, 't.vgs');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as ScenarioError).message).toBe(`t.vgs:${line}:${col}: invalid UTF-8`);
  });
});
