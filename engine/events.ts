// The primitive events: one type per primitive scenario statement (scenario-language.md,
// "VMM statements" and "Guest statements"). Macros (`board`, `guest …`, `vcpu K its`, `migrate`)
// never appear here: they expand into these.

/** The KVM device a device-attr call goes to, named as in scenarios. */
export type DeviceHandle = 'gic' | 'its';
export type HostKind = 'gicv3' | 'gicv4.1';

export interface VmCreateEvent {
  type: 'vm.create';
  host: HostKind;
  /** Kernel-side quirks (decisions.md), in the order given. */
  quirks: string[];
  ipaBits: number;
  /** Whether the VM exposes the SDEI service (`board … sdei=`; an extension of `vm`). */
  sdei: boolean;
}
export interface VcpuCreateEvent {
  type: 'vcpu.create';
  vcpu: number;
}
export interface DeviceCreateEvent {
  type: 'device.create';
  kind: string;
}
export interface AttrSetEvent {
  type: 'attr.set';
  dev: DeviceHandle;
  group: number;
  /** The full 64-bit `kvm_device_attr.attr`, MPIDR field included. */
  attr: bigint;
  /** What `kvm_device_attr.addr` points to; null when the call passes no value (CTRL). */
  value: bigint | null;
}
export interface AttrGetEvent {
  type: 'attr.get';
  dev: DeviceHandle;
  group: number;
  attr: bigint;
  /** The u64 userspace presets before the call (the region index of V3_REDIST_REGION). */
  preset: bigint | null;
}
export interface AttrHasEvent {
  type: 'attr.has';
  dev: DeviceHandle;
  group: number;
  attr: bigint;
}
export interface IrqLineEvent {
  type: 'irq.line';
  kind: 'spi' | 'ppi';
  /** Target vCPU id for a PPI; 0 for an SPI. */
  vcpu: number;
  intid: number;
  level: number;
}
export interface MsiSignalEvent {
  type: 'msi.signal';
  devid: number;
  eventid: number;
}
export interface RegGetEvent {
  type: 'reg.get';
  vcpu: number;
  /** KVM_GET_ONE_REG register id. */
  reg: bigint;
}
export interface RegSetEvent {
  type: 'reg.set';
  vcpu: number;
  reg: bigint;
  value: bigint;
}
export interface VcpuRunEvent {
  type: 'vcpu.run';
  vcpu: number;
}
export interface VcpuResetEvent {
  type: 'vcpu.reset';
  vcpu: number;
}
export interface SdeiInjectEvent {
  type: 'sdei.inject';
  vcpu: number;
  event: bigint;
}
export interface VmStopEvent {
  type: 'vm.stop';
}
export interface VmContEvent {
  type: 'vm.cont';
}
export interface GuestReadEvent {
  type: 'guest.read';
  vcpu: number;
  addr: bigint;
  size: AccessSize;
}
export interface GuestWriteEvent {
  type: 'guest.write';
  vcpu: number;
  addr: bigint;
  value: bigint;
  size: AccessSize;
}
export interface GuestMrsEvent {
  type: 'guest.mrs';
  vcpu: number;
  /** System register encoding op0:op1:CRn:CRm:op2 as in KVM_DEV_ARM_VGIC_SYSREG (16 bits). */
  sysreg: number;
}
export interface GuestMsrEvent {
  type: 'guest.msr';
  vcpu: number;
  sysreg: number;
  value: bigint;
}
export interface GuestHvcEvent {
  type: 'guest.hvc';
  vcpu: number;
  /** x0 (the function id) to x5 as the guest set them up. */
  args: bigint[];
}
export interface GuestRegEvent {
  type: 'guest.reg';
  vcpu: number;
  /** 0–30 for x0–x30, 31 for pc, 32 for pstate. */
  reg: number;
}
export interface MemReadEvent {
  type: 'mem.read';
  addr: bigint;
  size: AccessSize;
}
export interface MemWriteEvent {
  type: 'mem.write';
  addr: bigint;
  value: bigint;
  size: AccessSize;
}
/** Which VM the following statements address (`use_vm N`): a VMM driving two VMs, as a migration does. */
export interface VmSelectEvent {
  type: 'vm.select';
  vm: number;
}
/** The VMM copies every guest RAM page of VM `from` into VM `to` (a migration's RAM transfer). */
export interface RamTransferEvent {
  type: 'ram.transfer';
  from: number;
  to: number;
}
/**
 * A checkpoint migration starts (`migrate_begin`): the VMM profile and its quirks, kept so that
 * the steps that follow are checked against the ordering rules and their first failure is the
 * `migrate` statement's result.
 */
export interface MigrateBeginEvent {
  type: 'migrate.begin';
  vmm: string;
  /** VMM quirks, comma-separated (empty for none). */
  quirks: string;
}
/** The migration is over (`migrate_end`): `rc` is the first failing step's error, 0 if none failed. */
export interface MigrateEndEvent {
  type: 'migrate.end';
}
export interface MarkEvent {
  type: 'trace.mark';
  name: string;
}
export interface NoteEvent {
  type: 'trace.note';
  text: string;
}

export type AccessSize = 1 | 2 | 4 | 8;

export type EngineEvent =
  | VmCreateEvent
  | VcpuCreateEvent
  | DeviceCreateEvent
  | AttrSetEvent
  | AttrGetEvent
  | AttrHasEvent
  | IrqLineEvent
  | MsiSignalEvent
  | RegGetEvent
  | RegSetEvent
  | VcpuRunEvent
  | VcpuResetEvent
  | SdeiInjectEvent
  | VmStopEvent
  | VmContEvent
  | GuestReadEvent
  | GuestWriteEvent
  | GuestMrsEvent
  | GuestMsrEvent
  | GuestHvcEvent
  | GuestRegEvent
  | MemReadEvent
  | MemWriteEvent
  | VmSelectEvent
  | RamTransferEvent
  | MigrateBeginEvent
  | MigrateEndEvent
  | MarkEvent
  | NoteEvent;

export type EventType = EngineEvent['type'];
export type EventOf<T extends EventType> = Extract<EngineEvent, { type: T }>;

/**
 * What a statement returns. VMM calls give `rc` (0 or a negative errno) and, for reads,
 * `value`; guest loads give `value`; `hvc` gives `x` (x0–x3 as the call left them).
 */
export interface Output {
  rc?: number;
  value?: bigint;
  x?: bigint[];
}

/** A primitive field value an effect may carry. */
export type EffectValue = number | bigint | string | boolean;

/**
 * Something a step caused that is not state: an MMIO exit to the VMM, an error the guest or
 * VMM provoked, an interrupt signalled to a vCPU, an SDEI dispatch. Recorded and checked on
 * replay; types are namespaced lower dot-case (`mmio.exit`, `guest.undef`).
 */
export interface Effect {
  type: string;
  [field: string]: EffectValue;
}

/** Core-register numbering of `guest.reg` and the names scenarios use for it. */
export const CORE_REG_NAMES: readonly string[] = [
  ...Array.from({ length: 31 }, (_, i) => `x${i}`),
  'pc',
  'pstate',
];
