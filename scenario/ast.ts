// The typed AST of a `.vgs` scenario (scenario-language.md, version 1). The parser produces it
// with every name resolved that can be resolved without running anything; names whose meaning
// depends on the machine (a GICR_ address, `vcpu=K`) stay symbolic until expansion.

import type { ItsCommandName } from '../devices/its/commands.js';
import type { RegisterSpace } from '../devices/names.js';
import type { DeviceHandle, HostKind } from '../engine/events.js';

export interface Loc {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, in characters of the source line. */
  col: number;
}

/** A number already resolved (literal, errno name, SDEI code or function name). May be negative. */
export interface NumberOperand {
  kind: 'number';
  value: bigint;
  /** The source text, for messages and round trips. */
  text: string;
  loc: Loc;
}

/** A register name standing for an offset or address: `NAME`, `NAME+N`, `GICR_NAME@K`. */
export interface RegisterOperand {
  kind: 'register';
  name: string;
  space: RegisterSpace;
  /** Offset of the register in its frame (ICC: the sysreg encoding). */
  offset: number;
  /** The `+N`. */
  add: bigint;
  /** The `@K` of a GICR_ name: the redistributor of vCPU K instead of the accessing vCPU's. */
  vcpu?: number;
  text: string;
  loc: Loc;
}

export type AddressOperand = NumberOperand | RegisterOperand;

/** `vcpu=K` or `mpidr=M` of a device-attr statement. */
export type AttrTarget = { kind: 'vcpu'; vcpu: number } | { kind: 'mpidr'; mpidr: bigint };

export type ExpectKey = 'main' | 'rc' | 'value' | 'x0' | 'x1' | 'x2' | 'x3';

export interface ExpectItem {
  key: ExpectKey;
  /** As written (negative for errnos and SDEI codes). */
  value: bigint;
  /** `mask=M` after the value: compare only these bits. */
  mask?: bigint;
  text: string;
  loc: Loc;
}

export interface Expectation {
  items: ExpectItem[];
  loc: Loc;
}

interface Base {
  loc: Loc;
  expect?: Expectation;
}

export interface BoardStatement extends Base {
  kind: 'board';
  machine: 'virt';
  vcpus: number;
  nrIrqs: number;
  its: boolean;
  sdei: boolean;
  host: HostKind;
  quirks: string[];
  ipaBits: number;
}
export interface VmStatement extends Base {
  kind: 'vm';
  host: HostKind;
  quirks: string[];
  ipaBits: number;
  sdei: boolean;
}
export interface CreateVcpuStatement extends Base {
  kind: 'create_vcpu';
  vcpu: number;
}
export interface CreateDeviceStatement extends Base {
  kind: 'create_device';
  device: 'vgic-v3' | 'vgic-its';
}

/** The attr of a device-attr statement before the MPIDR field is filled in. */
export interface AttrOperand {
  /** attr[31:0] (or the whole attr for groups without an MPIDR field). */
  value: bigint;
  /** The name it was given by (`GICD_CTLR`, `V3_DIST`, `INIT`, `ICC_PMR_EL1`), if any. */
  name?: string;
  text: string;
  loc: Loc;
}

export interface SetAttrStatement extends Base {
  kind: 'set_attr';
  dev: DeviceHandle;
  group: number;
  groupName: string;
  attr: AttrOperand;
  /** Absent for calls that pass no value (CTRL). `count= base= index= [flags=]` is encoded here. */
  value?: bigint;
  target?: AttrTarget;
}
export interface GetAttrStatement extends Base {
  kind: 'get_attr';
  dev: DeviceHandle;
  group: number;
  groupName: string;
  attr: AttrOperand;
  target?: AttrTarget;
  /** `index=I`: the u64 preset before the call (V3_REDIST_REGION). */
  index?: bigint;
}
export interface HasAttrStatement extends Base {
  kind: 'has_attr';
  dev: DeviceHandle;
  group: number;
  groupName: string;
  attr: AttrOperand;
  target?: AttrTarget;
}
export interface IrqLineStatement extends Base {
  kind: 'irq_line';
  line: 'spi' | 'ppi';
  /** The target vCPU of a PPI; 0 for SPIs. */
  vcpu: number;
  intid: number;
  level: number;
}
export interface SignalMsiStatement extends Base {
  kind: 'signal_msi';
  devid: number;
  eventid: number;
}
export interface GetRegStatement extends Base {
  kind: 'get_reg';
  vcpu: number;
  /** KVM ONE_REG id. */
  reg: bigint;
  regName: string;
}
export interface SetRegStatement extends Base {
  kind: 'set_reg';
  vcpu: number;
  reg: bigint;
  regName: string;
  value: bigint;
}
export interface VcpuCallStatement extends Base {
  kind: 'run' | 'reset_vcpu';
  vcpu: number;
}
export interface SdeiInjectStatement extends Base {
  kind: 'sdei_inject';
  vcpu: number;
  event: bigint;
}
export interface StopContStatement extends Base {
  kind: 'stop' | 'cont';
}

export type AccessSize = 1 | 2 | 4 | 8;

export interface GuestReadStatement extends Base {
  kind: 'guest_read';
  vcpu: number;
  addr: AddressOperand;
  size: AccessSize;
}
export interface GuestWriteStatement extends Base {
  kind: 'guest_write';
  vcpu: number;
  addr: AddressOperand;
  value: bigint;
  size: AccessSize;
}
export interface GuestMrsStatement extends Base {
  kind: 'guest_mrs';
  vcpu: number;
  sysreg: number;
  name: string;
}
export interface GuestMsrStatement extends Base {
  kind: 'guest_msr';
  vcpu: number;
  sysreg: number;
  name: string;
  value: bigint;
}
export interface GuestHvcStatement extends Base {
  kind: 'guest_hvc';
  vcpu: number;
  /** The function id (x0). */
  func: bigint;
  /** x1… as given (at most 5). */
  args: bigint[];
}
export interface GuestRegStatement extends Base {
  kind: 'guest_reg';
  vcpu: number;
  /** 0–30 for x0–x30, 31 pc, 32 pstate. */
  reg: number;
}
/** The ITS commands a scenario can write (the twelve KVM's vITS executes). */
export type { ItsCommandName };
export interface GuestItsStatement extends Base {
  kind: 'guest_its';
  vcpu: number;
  command: ItsCommandName;
  /** Every field the command takes, `valid` defaulted to 1 where it applies. */
  fields: Record<string, bigint>;
}
export interface MemReadStatement extends Base {
  kind: 'mem_read';
  addr: bigint;
  size: AccessSize;
}
export interface MemWriteStatement extends Base {
  kind: 'mem_write';
  addr: bigint;
  value: bigint;
  size: AccessSize;
}
export interface GicInitStatement extends Base {
  kind: 'gic_init';
}
export interface ItsInitStatement extends Base {
  kind: 'its_init';
  base: bigint;
  idbits: number;
}
export interface LpiConfigStatement extends Base {
  kind: 'lpi_config';
  lpi: bigint;
  byte: number;
}
export type VmmProfile = 'qemu' | 'qemu-9' | 'cloud-hypervisor' | 'firecracker' | 'gem5';
export interface MigrateStatement extends Base {
  kind: 'migrate';
  vmm: VmmProfile;
  quirks: string[];
  /** `host=` of the destination, when given. */
  host?: HostKind;
  /** `msi=`: MSIs devices still send when the VM stops (an extension; see docs/migration.md). */
  msis?: { devid: number; eventid: number }[];
}
/** `use_vm N`: the VM the following statements address. */
export interface UseVmStatement extends Base {
  kind: 'use_vm';
  vm: number;
}
/** `ram_transfer FROM TO`: the VMM copies guest RAM from VM FROM to VM TO. */
export interface RamTransferStatement extends Base {
  kind: 'ram_transfer';
  from: number;
  to: number;
}
/** `migrate_begin vmm=V [quirks=…]` / `migrate_end`: the bracket `migrate` records around its steps. */
export interface MigrateBeginStatement extends Base {
  kind: 'migrate_begin';
  vmm: VmmProfile;
  quirks: string[];
}
export interface MigrateEndStatement extends Base {
  kind: 'migrate_end';
}
export interface MarkStatement extends Base {
  kind: 'mark';
  name: string;
}
export interface NoteStatement extends Base {
  kind: 'note';
  text: string;
}

export type Statement =
  | BoardStatement
  | VmStatement
  | CreateVcpuStatement
  | CreateDeviceStatement
  | SetAttrStatement
  | GetAttrStatement
  | HasAttrStatement
  | IrqLineStatement
  | SignalMsiStatement
  | GetRegStatement
  | SetRegStatement
  | VcpuCallStatement
  | SdeiInjectStatement
  | StopContStatement
  | GuestReadStatement
  | GuestWriteStatement
  | GuestMrsStatement
  | GuestMsrStatement
  | GuestHvcStatement
  | GuestRegStatement
  | GuestItsStatement
  | MemReadStatement
  | MemWriteStatement
  | GicInitStatement
  | ItsInitStatement
  | LpiConfigStatement
  | MigrateStatement
  | UseVmStatement
  | RamTransferStatement
  | MigrateBeginStatement
  | MigrateEndStatement
  | MarkStatement
  | NoteStatement;

export interface Scenario {
  file: string;
  statements: Statement[];
}

/** A scenario that cannot be run: printed as `FILE:LINE:COL: message`, exit status 2. */
export class ScenarioError extends Error {
  constructor(
    readonly loc: Loc,
    readonly detail: string,
  ) {
    super(`${loc.file}:${loc.line}:${loc.col}: ${detail}`);
    this.name = 'ScenarioError';
  }
}
