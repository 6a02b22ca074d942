// Macro expansion: each statement becomes the primitive events it stands for. Expansion runs
// interleaved with execution (a generator that yields events and receives their outcomes),
// because what a macro does can depend on machine state: a GICR_ name resolves to the
// redistributor the VMM placed, `vcpu=K` to vCPU K's MPIDR, and `migrate` reads the source to
// write the destination. The trace holds only the primitive events.

import { encodeItsCommand } from '../devices/its/commands.js';
import { readLe64 } from '../devices/its/fields.js';
import { ADDR_ATTRS, ATTR_GROUPS, CTRL_ATTRS, MPIDR_ATTR_GROUPS, registerByName } from '../devices/names.js';
import type { Effect, EngineEvent, Output } from '../engine/events.js';
import type { FrameKind, Registry } from '../engine/registry.js';
import { currentVm, type MachineState, type VcpuState, type VmState, vcpuById } from '../engine/state.js';
import { checkpointMigrate } from '../replay/migration/driver.js';
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
  /** Called with the table layout each `guest its_init` chose (the runner collects them). */
  onItsLayout?: (layout: ItsInitLayout) => void;
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
    case 'its_init':
      yield* expandItsInit(stmt, ctx);
      return undefined;
    case 'lpi_config':
      yield* expandLpiConfig(stmt, ctx);
      return undefined;
    case 'guest_its':
      yield* expandItsCommand(stmt, ctx);
      return undefined;
    case 'migrate':
      return yield* checkpointMigrate(ctx.state, {
        vmm: stmt.vmm,
        quirks: stmt.quirks,
        ...(stmt.host ? { host: stmt.host } : {}),
        ...(stmt.msis ? { inflightMsis: stmt.msis } : {}),
      });
    case 'use_vm':
      return (yield { type: 'vm.select', vm: stmt.vm }).output;
    case 'ram_transfer':
      return (yield { type: 'ram.transfer', from: stmt.from, to: stmt.to }).output;
    case 'migrate_begin':
      return (yield { type: 'migrate.begin', vmm: stmt.vmm, quirks: stmt.quirks.join(',') }).output;
    case 'migrate_end':
      return (yield { type: 'migrate.end' }).output;
  }
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

// ---- ITS guest driver (docs/its.md "guest its_init") ------------------------------------------

/** Table layout of `guest its_init`: one 64 KiB slot each, from `base` upward. */
export const ITS_INIT_SLOT = 0x1_0000n;
/** Slot order: device table, collection table, command queue, property table, pending tables. */
export const ITS_INIT_DEVICE_TABLE = 0n;
export const ITS_INIT_COLLECTION_TABLE = 1n;
export const ITS_INIT_COMMAND_QUEUE = 2n;
export const ITS_INIT_PROPERTY_TABLE = 3n;
export const ITS_INIT_PENDING_TABLES = 4n;

/** GITS_BASER<n>/CBASER attributes: Valid, inner RaWb, InnerShareable (Linux its_setup_baser). */
const BASER_VALID = 1n << 63n;
const BASER_RAWB = 3n << 59n;
const BASER_INNER_SHAREABLE = 1n << 10n;
/** GITS_BASER.Page_Size 64 KiB, Entry_Size 8 bytes (field = 7), Type device 1 / collection 4. */
const BASER_PAGE_64K = 2n << 8n;
const BASER_ESZ_8 = 7n << 48n;
const BASER_TYPE_DEVICE = 1n << 56n;
const BASER_TYPE_COLLECTION = 4n << 56n;
/** GITS_CBASER.Size: 16 × 4 KiB pages, field = 15. */
const CBASER_SIZE_64K = 15n;
/** GICR_PROPBASER/PENDBASER: inner RaWaWb (7 << 7), InnerShareable. */
const LPI_TABLE_ATTRS = (7n << 7n) | (1n << 10n);
const GICR_CTLR_ENABLE_LPIS = 1n;
const GITS_CTLR_ENABLE = 1n;
const CBASER_PA = ((1n << 52n) - 1n) & ~0xfffn;
const PROPBASER_PA = ((1n << 52n) - 1n) & ~0xfffn;
const ITS_CMD_BYTES = 32;

/** One table of an `its_init` layout: guest-physical address and the bytes the table covers. */
export interface ItsInitTable {
  addr: bigint;
  size: number;
}

/** The layout one `guest its_init` wrote (docs/its.md), for `vgicrr run --json`. */
export interface ItsInitLayout {
  base: bigint;
  /** GICR_PROPBASER.IDbits as written (the LPI INTIDs are below 2^min(idbits + 1, 16)). */
  idbits: number;
  /** GITS_BASER0: one flat 64 KiB page. */
  deviceTable: ItsInitTable;
  /** GITS_BASER1: one flat 64 KiB page. */
  collectionTable: ItsInitTable;
  /** GITS_CBASER: (Size 15 + 1) × 4 KiB. */
  commandQueue: ItsInitTable;
  /** GICR_PROPBASER: one byte per LPI, 2^IDbits − 8192 bytes. */
  propertyTable: ItsInitTable & { idbits: number };
  /** GICR_PENDBASER per vCPU (KVM id), in creation order: one bit per INTID, 2^IDbits / 8 bytes. */
  pendingTables: (ItsInitTable & { vcpu: number })[];
}

/** INTERRUPT_ID_BITS_ITS: KVM caps the property table's IDbits at 16 (max_lpis_propbaser). */
const ITS_MAX_ID_BITS = 16;

function itsInitLayout(base: bigint, idbits: number, vcpus: readonly VcpuState[]): ItsInitLayout {
  const slot = (n: bigint) => (base + n * ITS_INIT_SLOT) & U64;
  const table = (n: bigint, size: number): ItsInitTable => ({ addr: slot(n), size });
  const ids = 2 ** Math.min(idbits + 1, ITS_MAX_ID_BITS);
  const full = Number(ITS_INIT_SLOT);
  return {
    base: base & U64,
    idbits,
    deviceTable: table(ITS_INIT_DEVICE_TABLE, full),
    collectionTable: table(ITS_INIT_COLLECTION_TABLE, full),
    commandQueue: table(ITS_INIT_COMMAND_QUEUE, (Number(CBASER_SIZE_64K) + 1) << 12),
    propertyTable: { ...table(ITS_INIT_PROPERTY_TABLE, Math.max(0, ids - 8192)), idbits },
    pendingTables: vcpus.map((vcpu, i) => ({
      vcpu: vcpu.id,
      ...table(ITS_INIT_PENDING_TABLES + BigInt(i), ids / 8),
    })),
  };
}

function gitsAddress(vm: VmState, name: string, ctx: ExpandContext): bigint {
  return BigInt(frameAddress(vm, 'gits', vm.vcpus[0]!, ctx) + registerByName(name)!.offset);
}

function gicrAddress(vm: VmState, vcpu: VcpuState, name: string, ctx: ExpandContext): bigint {
  return BigInt(frameAddress(vm, 'gicr', vcpu, ctx) + registerByName(name)!.offset);
}

/**
 * `guest its_init [base=] [idbits=]`: what a Linux-like ITS driver does, as guest MMIO writes.
 * By vCPU 0: GITS_BASER0 (device table, one flat 64 KiB page at base), GITS_BASER1 (collection
 * table at base + 64 KiB), GITS_CBASER (64 KiB queue at base + 128 KiB, Size 15, Valid),
 * GITS_CWRITER = 0. Then each vCPU through its own redistributor (its_cpu_init_lpis runs on
 * every CPU): GICR_PROPBASER (property table at base + 192 KiB, IDbits = `idbits`), then each
 * GICR_PENDBASER (vCPU at position i: base + (4 + i) × 64 KiB, PTZ clear), then each
 * GICR_CTLR.EnableLPIs; last, by vCPU 0, GITS_CTLR Enable.
 */
function* expandItsInit(stmt: Extract<Statement, { kind: 'its_init' }>, ctx: ExpandContext): Expansion {
  const vm = requireVm(ctx);
  if (vm.vcpus.length === 0) return undefined;
  const first = vm.vcpus[0]!.id;
  const slot = (n: bigint) => (stmt.base + n * ITS_INIT_SLOT) & U64;
  const write = (vcpu: number, addr: bigint, value: bigint, size: 4 | 8): EngineEvent => ({
    type: 'guest.write',
    vcpu,
    addr,
    value,
    size,
  });
  const baserAttrs = BASER_VALID | BASER_RAWB | BASER_INNER_SHAREABLE | BASER_PAGE_64K | BASER_ESZ_8;
  yield write(
    first,
    gitsAddress(vm, 'GITS_BASER0', ctx),
    baserAttrs | BASER_TYPE_DEVICE | slot(ITS_INIT_DEVICE_TABLE),
    8,
  );
  yield write(
    first,
    gitsAddress(vm, 'GITS_BASER1', ctx),
    baserAttrs | BASER_TYPE_COLLECTION | slot(ITS_INIT_COLLECTION_TABLE),
    8,
  );
  yield write(
    first,
    gitsAddress(vm, 'GITS_CBASER', ctx),
    BASER_VALID | BASER_RAWB | BASER_INNER_SHAREABLE | slot(ITS_INIT_COMMAND_QUEUE) | CBASER_SIZE_64K,
    8,
  );
  yield write(first, gitsAddress(vm, 'GITS_CWRITER', ctx), 0n, 8);
  const propbaser = slot(ITS_INIT_PROPERTY_TABLE) | LPI_TABLE_ATTRS | BigInt(stmt.idbits);
  for (const vcpu of vm.vcpus) {
    yield write(vcpu.id, gicrAddress(vm, vcpu, 'GICR_PROPBASER', ctx), propbaser, 8);
  }
  for (const [i, vcpu] of vm.vcpus.entries()) {
    const pendbaser = slot(ITS_INIT_PENDING_TABLES + BigInt(i)) | LPI_TABLE_ATTRS;
    yield write(vcpu.id, gicrAddress(vm, vcpu, 'GICR_PENDBASER', ctx), pendbaser, 8);
  }
  for (const vcpu of vm.vcpus) {
    yield write(vcpu.id, gicrAddress(vm, vcpu, 'GICR_CTLR', ctx), GICR_CTLR_ENABLE_LPIS, 4);
  }
  yield write(first, gitsAddress(vm, 'GITS_CTLR', ctx), GITS_CTLR_ENABLE, 4);
  ctx.onItsLayout?.(itsInitLayout(stmt.base, stmt.idbits, vm.vcpus));
  return undefined;
}

/** `guest lpi_config LPI BYTE`: vCPU 0 stores BYTE at PROPBASER.PA + (LPI − 8192). */
function* expandLpiConfig(stmt: Extract<Statement, { kind: 'lpi_config' }>, ctx: ExpandContext): Expansion {
  const vm = requireVm(ctx);
  const propbaser = vm.devices.gic?.propbaser ?? 0n;
  const addr = ((propbaser & PROPBASER_PA) + stmt.lpi - 8192n) & U64;
  yield { type: 'guest.write', vcpu: vm.vcpus[0]?.id ?? 0, addr, value: BigInt(stmt.byte), size: 1 };
  return undefined;
}

/**
 * `vcpu K its CMD field=value …`: the 32 command bytes as four 8-byte stores at CBASER.PA +
 * CWRITER, then GITS_CWRITER advanced by 32, wrapping at the queue size (its_post_commands).
 */
function* expandItsCommand(stmt: Extract<Statement, { kind: 'guest_its' }>, ctx: ExpandContext): Expansion {
  const vm = requireVm(ctx);
  const its = vm.devices.its;
  const cbaser = its?.cbaser ?? 0n;
  const cwriter = its?.cwriter ?? 0;
  const queueSize = (Number(cbaser & 0xffn) + 1) << 12;
  const bytes = encodeItsCommand(stmt.command, stmt.fields);
  const at = (cbaser & CBASER_PA) + BigInt(cwriter);
  for (let i = 0; i < ITS_CMD_BYTES; i += 8) {
    yield { type: 'guest.write', vcpu: stmt.vcpu, addr: at + BigInt(i), value: readLe64(bytes, i), size: 8 };
  }
  const next = cwriter + ITS_CMD_BYTES >= queueSize ? 0 : cwriter + ITS_CMD_BYTES;
  yield {
    type: 'guest.write',
    vcpu: stmt.vcpu,
    addr: gitsAddress(vm, 'GITS_CWRITER', ctx),
    value: BigInt(next),
    size: 8,
  };
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
