// Macro expansion: each statement becomes the primitive events it stands for. Expansion runs
// interleaved with execution (a generator that yields events and receives their outcomes),
// because what a macro does can depend on machine state: a GICR_ name resolves to the
// redistributor the VMM placed, `vcpu=K` to vCPU K's MPIDR, and `migrate` reads the source to
// write the destination. The trace holds only the primitive events.

import { ADDR_ATTRS, ATTR_GROUPS, CTRL_ATTRS, MPIDR_ATTR_GROUPS, registerByName } from '../devices/names.js';
import type { Effect, EngineEvent, Output } from '../engine/events.js';
import type { FrameKind, Registry } from '../engine/registry.js';
import { currentVm, type MachineState, type VcpuState, type VmState, vcpuById } from '../engine/state.js';
import {
  type AddressOperand,
  type AttrOperand,
  type AttrTarget,
  type Loc,
  ScenarioError,
  type Statement,
} from './ast.js';
import { GICR_STRIDE, VIRT_GICD_BASE, VIRT_GICR_BASE, VIRT_GITS_BASE } from './board.js';

/** What the runner hands back to an expansion after executing one of its events. */
export interface Outcome {
  output: Output;
  effects: Effect[];
}

export interface ExpandContext {
  /** The machine as it is now (read-only). */
  state(): MachineState;
  registry: Registry;
}

/** Yields primitive events; returns the statement's own output (for `expect`), if it has one. */
export type Expansion = Generator<EngineEvent, Output | undefined, Outcome>;

const U64 = (1n << 64n) - 1n;

export function* expandStatement(stmt: Statement, ctx: ExpandContext): Expansion {
  switch (stmt.kind) {
    case 'board':
      return yield* expandBoard(stmt);
    case 'vm':
      yield {
        type: 'vm.create',
        host: stmt.host,
        quirks: stmt.quirks,
        ipaBits: stmt.ipaBits,
        sdei: stmt.sdei,
      };
      return undefined;
    case 'create_vcpu':
      return (yield { type: 'vcpu.create', vcpu: stmt.vcpu }).output;
    case 'create_device':
      return (yield { type: 'device.create', kind: stmt.device }).output;
    case 'set_attr':
      return (yield {
        type: 'attr.set',
        dev: stmt.dev,
        group: stmt.group,
        attr: fullAttr(stmt.group, stmt.attr, stmt.target, ctx),
        value: stmt.value ?? null,
      }).output;
    case 'get_attr':
      return (yield {
        type: 'attr.get',
        dev: stmt.dev,
        group: stmt.group,
        attr: fullAttr(stmt.group, stmt.attr, stmt.target, ctx),
        preset: stmt.index ?? null,
      }).output;
    case 'has_attr':
      return (yield {
        type: 'attr.has',
        dev: stmt.dev,
        group: stmt.group,
        attr: fullAttr(stmt.group, stmt.attr, stmt.target, ctx),
      }).output;
    case 'irq_line':
      return (yield {
        type: 'irq.line',
        kind: stmt.line,
        vcpu: stmt.vcpu,
        intid: stmt.intid,
        level: stmt.level,
      }).output;
    case 'signal_msi':
      return (yield { type: 'msi.signal', devid: stmt.devid, eventid: stmt.eventid }).output;
    case 'get_reg':
      return (yield { type: 'reg.get', vcpu: stmt.vcpu, reg: stmt.reg }).output;
    case 'set_reg':
      return (yield { type: 'reg.set', vcpu: stmt.vcpu, reg: stmt.reg, value: stmt.value }).output;
    case 'run':
      return (yield { type: 'vcpu.run', vcpu: stmt.vcpu }).output;
    case 'reset_vcpu':
      return (yield { type: 'vcpu.reset', vcpu: stmt.vcpu }).output;
    case 'sdei_inject':
      return (yield { type: 'sdei.inject', vcpu: stmt.vcpu, event: stmt.event }).output;
    case 'stop':
      return (yield { type: 'vm.stop' }).output;
    case 'cont':
      return (yield { type: 'vm.cont' }).output;
    case 'guest_read':
      return (yield {
        type: 'guest.read',
        vcpu: stmt.vcpu,
        addr: guestAddress(stmt.addr, stmt.vcpu, stmt.loc, ctx),
        size: stmt.size,
      }).output;
    case 'guest_write':
      yield {
        type: 'guest.write',
        vcpu: stmt.vcpu,
        addr: guestAddress(stmt.addr, stmt.vcpu, stmt.loc, ctx),
        value: stmt.value,
        size: stmt.size,
      };
      return undefined;
    case 'guest_mrs':
      return (yield { type: 'guest.mrs', vcpu: stmt.vcpu, sysreg: stmt.sysreg }).output;
    case 'guest_msr':
      yield { type: 'guest.msr', vcpu: stmt.vcpu, sysreg: stmt.sysreg, value: stmt.value };
      return undefined;
    case 'guest_hvc': {
      const args = [stmt.func, ...stmt.args].map((v) => v & U64);
      while (args.length < 6) args.push(0n);
      return (yield { type: 'guest.hvc', vcpu: stmt.vcpu, args }).output;
    }
    case 'guest_reg':
      return (yield { type: 'guest.reg', vcpu: stmt.vcpu, reg: stmt.reg }).output;
    case 'mem_read':
      return (yield { type: 'mem.read', addr: stmt.addr, size: stmt.size }).output;
    case 'mem_write':
      return (yield { type: 'mem.write', addr: stmt.addr, value: stmt.value, size: stmt.size }).output;
    case 'gic_init':
      yield* expandGicInit(ctx);
      return undefined;
    case 'mark':
      yield { type: 'trace.mark', name: stmt.name };
      return undefined;
    case 'note':
      yield { type: 'trace.note', text: stmt.text };
      return undefined;
    case 'guest_its':
    case 'its_init':
    case 'lpi_config':
      throw new ScenarioError(
        stmt.loc,
        `${statementName(stmt)} needs the ITS model, which this build does not have yet`,
      );
    case 'migrate':
      throw new ScenarioError(
        stmt.loc,
        'migrate needs the migration drivers, which this build does not have yet',
      );
  }
}

function statementName(stmt: Statement): string {
  if (stmt.kind === 'guest_its') return `vcpu ${stmt.vcpu} its ${stmt.command}`;
  if (stmt.kind === 'its_init') return 'guest its_init';
  if (stmt.kind === 'lpi_config') return 'guest lpi_config';
  return stmt.kind;
}

/**
 * `board virt`: what QEMU's virt machine does at machine init (qemu-client.md §1.7): vCPUs
 * first, then the vGICv3 with NR_IRQS and CTRL INIT, its addresses once machine init is done,
 * then the ITS, its CTRL INIT and its address.
 */
function* expandBoard(stmt: Extract<Statement, { kind: 'board' }>): Expansion {
  yield { type: 'vm.create', host: stmt.host, quirks: stmt.quirks, ipaBits: stmt.ipaBits, sdei: stmt.sdei };
  for (let id = 0; id < stmt.vcpus; id++) yield { type: 'vcpu.create', vcpu: id };
  yield { type: 'device.create', kind: 'vgic-v3' };
  yield attrSet('gic', ATTR_GROUPS.NR_IRQS!, 0n, BigInt(stmt.nrIrqs));
  yield attrSet('gic', ATTR_GROUPS.CTRL!, BigInt(CTRL_ATTRS.INIT!), null);
  yield attrSet('gic', ATTR_GROUPS.ADDR!, BigInt(ADDR_ATTRS.V3_DIST!), BigInt(VIRT_GICD_BASE));
  const region = (BigInt(stmt.vcpus) << 52n) | BigInt(VIRT_GICR_BASE);
  yield attrSet('gic', ATTR_GROUPS.ADDR!, BigInt(ADDR_ATTRS.V3_REDIST_REGION!), region);
  if (stmt.its) {
    yield { type: 'device.create', kind: 'vgic-its' };
    yield attrSet('its', ATTR_GROUPS.CTRL!, BigInt(CTRL_ATTRS.INIT!), null);
    yield attrSet('its', ATTR_GROUPS.ADDR!, BigInt(ADDR_ATTRS.ITS!), BigInt(VIRT_GITS_BASE));
  }
  return undefined;
}

function attrSet(dev: 'gic' | 'its', group: number, attr: bigint, value: bigint | null): EngineEvent {
  return { type: 'attr.set', dev, group, attr, value };
}

const GICD_CTLR_ARE_NS = 1n << 4n;
const GICD_CTLR_ENABLE_G1A = 1n << 1n;
const ICC_CTLR_EL1_EOIMODE = 1n << 1n;

/** `guest gic_init`: the distributor by vCPU 0, then each vCPU's CPU interface (Linux irq-gic-v3.c). */
function* expandGicInit(ctx: ExpandContext): Expansion {
  const vm = requireVm(ctx);
  const vcpus = vm.vcpus.map((v) => v.id);
  if (vcpus.length === 0) return undefined;
  const first = vcpus[0]!;
  const gicd = frameAddress(vm, 'gicd', vm.vcpus[0]!, ctx);
  yield {
    type: 'guest.write',
    vcpu: first,
    addr: BigInt(gicd + registerByName('GICD_CTLR')!.offset),
    value: GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_G1A,
    size: 4,
  };
  const sysreg = (name: string) => registerByName(name)!.offset;
  for (const vcpu of vcpus) {
    yield { type: 'guest.msr', vcpu, sysreg: sysreg('ICC_SRE_EL1'), value: 7n };
    yield { type: 'guest.msr', vcpu, sysreg: sysreg('ICC_PMR_EL1'), value: 0xf8n };
    yield { type: 'guest.msr', vcpu, sysreg: sysreg('ICC_BPR1_EL1'), value: 0n };
    const ctlr = (yield { type: 'guest.mrs', vcpu, sysreg: sysreg('ICC_CTLR_EL1') }).output.value ?? 0n;
    yield { type: 'guest.msr', vcpu, sysreg: sysreg('ICC_CTLR_EL1'), value: ctlr & ~ICC_CTLR_EL1_EOIMODE };
    yield { type: 'guest.msr', vcpu, sysreg: sysreg('ICC_IGRPEN1_EL1'), value: 1n };
  }
  return undefined;
}

function requireVm(ctx: ExpandContext): VmState {
  const vm = currentVm(ctx.state());
  // The parser rejects statements before the first `board`/`vm`, so this cannot fail.
  if (!vm) throw new Error('no current VM');
  return vm;
}

function fullAttr(
  group: number,
  attr: AttrOperand,
  target: AttrTarget | undefined,
  ctx: ExpandContext,
): bigint {
  if (!target) return attr.value;
  let mpidr: bigint;
  if (target.kind === 'mpidr') {
    mpidr = target.mpidr;
  } else {
    const vcpu = vcpuById(requireVm(ctx), target.vcpu);
    if (!vcpu) throw new ScenarioError(attr.loc, `vcpu=${target.vcpu}: no vCPU ${target.vcpu} in this VM`);
    mpidr = BigInt(vcpu.affinity >>> 0);
  }
  // Groups without an MPIDR field get the bits anyway: KVM decides what they mean.
  return MPIDR_ATTR_GROUPS.includes(group)
    ? (mpidr << 32n) | (attr.value & 0xffff_ffffn)
    : (mpidr << 32n) | attr.value;
}

/** The absolute address of a guest MMIO operand; GICR_ names use the accessing (or `@K`) vCPU. */
function guestAddress(operand: AddressOperand, accessor: number, loc: Loc, ctx: ExpandContext): bigint {
  if (operand.kind === 'number') return operand.value & U64;
  const vm = requireVm(ctx);
  const id = operand.vcpu ?? accessor;
  const vcpu = vcpuById(vm, id);
  if (!vcpu) throw new ScenarioError(operand.loc ?? loc, `${operand.text}: no vCPU ${id} in this VM`);
  if (operand.space === 'icc')
    throw new ScenarioError(operand.loc, `${operand.name} is a system register, not an address`);
  const base = frameAddress(vm, operand.space, vcpu, ctx);
  return (BigInt(base) + BigInt(operand.offset) + operand.add) & U64;
}

/**
 * Where a frame is: as the device model placed it, or, with no model to ask, where `board virt`
 * puts it (the guest's firmware tables say so).
 */
function frameAddress(vm: VmState, frame: FrameKind, vcpu: VcpuState, ctx: ExpandContext): number {
  const base = ctx.registry.frameBase?.(vm, frame, vcpu);
  if (base !== undefined) return base;
  if (frame === 'gicd') return VIRT_GICD_BASE;
  if (frame === 'gits') return VIRT_GITS_BASE;
  return VIRT_GICR_BASE + vm.vcpus.indexOf(vcpu) * GICR_STRIDE;
}
