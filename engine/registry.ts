// The device registry: how device models plug into the engine without the engine importing
// them (style-anchors.md §8.1). A device contributes a KVM device type (KVM_CREATE_DEVICE and
// its attr groups), MMIO handlers for the regions it maps into `VmState.mmio`, system
// registers, a hypercall range, firmware pseudo-registers and lifecycle hooks. The composition
// root (`replay/machine.ts`) builds the registry once.

import type { DeviceHandle, Effect, EngineEvent, Output } from './events.js';
import type { PageOwnership } from './ram.js';
import type { MachineState, MigrationState, MmioRegion, VcpuState, VmState } from './state.js';

/** What every reducer receives besides the draft: the registry and the effect sink. */
export interface StepContext {
  readonly registry: Registry;
  /** The event being processed (read-only). */
  readonly event: EngineEvent;
  /** The whole machine (draft), for cross-VM work such as a migration's RAM transfer. */
  readonly machine: MachineState;
  emit(effect: Effect): void;
  /**
   * RAM pages the in-place path created during this run and nobody else holds yet: stores may
   * write them directly (engine/working-copy.ts). Absent on the immer path.
   */
  readonly ownedPages?: PageOwnership;
}

export interface AttrResult {
  rc: number;
  value?: bigint;
}

/** A KVM device type (`create_device KIND`) and its KVM_{SET,GET,HAS}_DEVICE_ATTR groups. */
export interface DeviceKind {
  /** The name scenarios give to `create_device` (`vgic-v3`, `vgic-its`). */
  kind: string;
  /** The name device-attr statements use for the created device. */
  handle: DeviceHandle;
  /** KVM_CREATE_DEVICE: returns 0 and installs state in `vm.devices`, or a negative errno. */
  create(vm: VmState, ctx: StepContext): number;
  setAttr(vm: VmState, group: number, attr: bigint, value: bigint | null, ctx: StepContext): number;
  getAttr(vm: VmState, group: number, attr: bigint, preset: bigint | null, ctx: StepContext): AttrResult;
  hasAttr(vm: VmState, group: number, attr: bigint, ctx: StepContext): number;
}

/** A guest access that reached an MMIO region; `offset` is relative to the region base. */
export interface MmioAccess {
  vm: VmState;
  vcpu: VcpuState;
  region: MmioRegion;
  offset: number;
  size: number;
}

export interface MmioHandler {
  read(access: MmioAccess, ctx: StepContext): bigint;
  write(access: MmioAccess, value: bigint, ctx: StepContext): void;
}

export interface SysregHandler {
  name: string;
  read(vm: VmState, vcpu: VcpuState, ctx: StepContext): bigint;
  write(vm: VmState, vcpu: VcpuState, value: bigint, ctx: StepContext): void;
}

/** SMCCC function ids `first`..`last` (inclusive, 32-bit) served by one handler. */
export interface HypercallRange {
  name: string;
  first: number;
  last: number;
  /** Reads the arguments from `vcpu.x`, writes the results there. */
  call(vm: VmState, vcpu: VcpuState, functionId: number, ctx: StepContext): void;
}

/** A KVM_{GET,SET}_ONE_REG register outside the core registers (firmware pseudo-registers). */
export interface OneRegHandler {
  name: string;
  id: bigint;
  get(vm: VmState, vcpu: VcpuState, ctx: StepContext): AttrResult;
  set(vm: VmState, vcpu: VcpuState, value: bigint, ctx: StepContext): number;
}

/** Lifecycle points where devices take part in KVM-core calls. */
export interface Hooks {
  /** Before KVM_CREATE_VCPU succeeds: a negative errno vetoes it (vGIC after INIT: -EBUSY). */
  vcpuPrecreate: ((vm: VmState, ctx: StepContext) => number)[];
  /** After a vCPU is created (redistributor placement, private IRQ state). */
  vcpuCreated: ((vm: VmState, vcpu: VcpuState, ctx: StepContext) => void)[];
  /** KVM's first-run work for a vCPU; a negative errno fails the run. */
  firstRun: ((vm: VmState, vcpu: VcpuState, ctx: StepContext) => number)[];
  /** The vCPU enters the guest (`run`, `cont`, return from `hvc`): SDEI delivery. */
  guestEntry: ((vm: VmState, vcpu: VcpuState, ctx: StepContext) => void)[];
  /** KVM_ARM_VCPU_INIT on an existing vCPU, after the core registers are reset. */
  vcpuReset: ((vm: VmState, vcpu: VcpuState, ctx: StepContext) => void)[];
  /**
   * After every event that reached the current VM (the VM not dead), once the KVM core and the
   * devices are done with it: derived outputs such as the interrupt lines a vGIC asserts towards
   * each vCPU, emitted as effects when they change. Runs inside `applyEvent`, so the immer and
   * the in-place step paths call it identically.
   */
  afterEvent: ((vm: VmState, ctx: StepContext) => void)[];
  /**
   * Each step of a checkpoint migration (between `migrate_begin` and `migrate_end`), after the
   * event is done: the ordering rules of qemu-client.md §3 flag violations as effects.
   */
  migrationStep: ((
    machine: MachineState,
    migration: MigrationState,
    event: EngineEvent,
    output: Output,
    ctx: StepContext,
  ) => void)[];
}

/** Calls whose whole behaviour belongs to one device; absent means KVM has nothing to serve them. */
export interface Services {
  irqLine?: (
    vm: VmState,
    kind: 'spi' | 'ppi',
    vcpu: number,
    intid: number,
    level: number,
    ctx: StepContext,
  ) => number;
  signalMsi?: (vm: VmState, devid: number, eventid: number, ctx: StepContext) => number;
  sdeiInject?: (vm: VmState, vcpu: VcpuState, event: bigint, ctx: StepContext) => number;
}

/** Which register frame a scenario name refers to (GICD_, GICR_, GITS_). */
export type FrameKind = 'gicd' | 'gicr' | 'gits';

export interface Registry {
  /**
   * Guest-physical base of a register frame as the VMM placed it (the redistributor of `vcpu`
   * for 'gicr'); undefined when not placed. Absent until a device model provides it.
   */
  frameBase?: (vm: VmState, frame: FrameKind, vcpu: VcpuState) => number | undefined;
  devices: Readonly<Record<string, DeviceKind>>;
  mmio: Readonly<Record<string, MmioHandler>>;
  /** By KVM_DEV_ARM_VGIC_SYSREG encoding (op0:op1:CRn:CRm:op2). */
  sysregs: Readonly<Record<number, SysregHandler>>;
  hypercalls: readonly HypercallRange[];
  /** By register id as a hex string (`0x6030000000140008`). */
  oneRegs: Readonly<Record<string, OneRegHandler>>;
  hooks: Readonly<Hooks>;
  services: Readonly<Services>;
}

/** A registry with nothing plugged in: the KVM core alone. */
export function emptyRegistry(): Registry {
  return {
    devices: {},
    mmio: {},
    sysregs: {},
    hypercalls: [],
    oneRegs: {},
    hooks: {
      vcpuPrecreate: [],
      vcpuCreated: [],
      firstRun: [],
      guestEntry: [],
      vcpuReset: [],
      afterEvent: [],
      migrationStep: [],
    },
    services: {},
  };
}

/** Inserts `region` into `vm.mmio` keeping it sorted by base. */
export function mapMmio(vm: VmState, region: MmioRegion): void {
  let i = vm.mmio.length;
  while (i > 0 && vm.mmio[i - 1]!.base > region.base) i--;
  vm.mmio.splice(i, 0, region);
}

/** The region containing [addr, addr + size), by binary search on base. */
export function findMmio(vm: VmState, addr: number, size: number): MmioRegion | undefined {
  let lo = 0;
  let hi = vm.mmio.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = vm.mmio[mid]!;
    if (addr < r.base) hi = mid - 1;
    else if (addr >= r.base + r.size) lo = mid + 1;
    else return addr + size <= r.base + r.size ? r : undefined;
  }
  return undefined;
}
