// Machine state as plain data (design.md "Determinism rules"): one host running KVM VMs, each
// with vCPUs, sparse guest RAM and the KVM devices created in it. Devices add their own state
// by augmenting `VmDevices` and `VcpuDevices` (TypeScript declaration merging), so this file
// never imports them.

import type { HostKind } from './events.js';

/** Device states by handle; `devices/` augments this interface. */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by module augmentation
export interface VmDevices {}
/** Per-vCPU device state (redistributor, CPU interface, SDEI); `devices/` augments this. */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by module augmentation
export interface VcpuDevices {}

export interface VcpuState {
  /** The id given to KVM_CREATE_VCPU. */
  id: number;
  /** MPIDR affinity as the device-attr MPIDR field packs it: Aff3.Aff2.Aff1.Aff0, 8 bits each. */
  affinity: number;
  /** x0–x30. */
  x: bigint[];
  pc: bigint;
  pstate: bigint;
  /** Inside KVM_RUN (between `run` and `stop`). */
  inRun: boolean;
  /** Was inside KVM_RUN when the VMM stopped the VM; `cont` puts it back. */
  resumeOnCont: boolean;
  /** KVM's first-run work (kvm_arch_vcpu_run_pid_change) has been done. */
  ran: boolean;
  devices: VcpuDevices;
}

/** A guest-physical range claimed by a device, kept sorted by `base`. */
export interface MmioRegion {
  base: number;
  size: number;
  /** Key of the handler in the registry's `mmio` table. */
  handler: string;
  /** Handler-defined: which frame of the device (a redistributor's vCPU index, say). */
  index: number;
}

export interface VmState {
  /** Position of this VM in `MachineState.vms`. */
  id: number;
  host: HostKind;
  quirks: string[];
  ipaBits: number;
  sdei: boolean;
  /** kvm_vm_dead(): every later ioctl fails with -EIO. */
  dead: boolean;
  /** vCPUs in creation order (KVM's vcpu_idx). */
  vcpus: VcpuState[];
  /**
   * Guest RAM: 2 MiB block, then 4 KiB page in the block (both numbered from RAM_BASE), each page
   * an immutable byte array replaced on store (engine/ram.ts).
   */
  ram: Record<string, Record<string, Uint8Array>>;
  mmio: MmioRegion[];
  devices: VmDevices;
}

/** A checkpoint migration in progress (between `migrate_begin` and `migrate_end`). */
export interface MigrationState {
  vmm: string;
  quirks: string[];
  /** The VM being migrated (current at `migrate_begin`). */
  source: number;
  /**
   * vCPUs the VMM had paused (`stop`) before the migration: the destination keeps that run state,
   * so at `migrate_end` its vCPUs of these ids resume at the next `cont` (QEMU migrates the
   * runstate; a paused VM stays paused).
   */
  paused: number[];
  /** Steps (events) since `migrate_begin`, the current one included. */
  steps: number;
  /** The first failing step: its number, event type and rc (rc 0: none failed yet). */
  failedStep: number;
  failedEvent: string;
  firstError: number;
  /**
   * What the ordering rules (qemu-client.md §3) have seen so far, by rule-defined key: plain
   * flags, so that the checks are a function of the recorded steps alone.
   */
  seen: Record<string, number>;
}

export interface MachineState {
  vms: VmState[];
  /** Index into `vms` of the VM statements address; -1 before the first `vm`. */
  current: number;
  /** Present only while a migration runs, so that states without one hash as before. */
  migration?: MigrationState;
}

export const RAM_BASE = 0x4000_0000;
export const RAM_SIZE = 0x4000_0000;
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** KVM's reset PSTATE for an AArch64 vCPU: EL1h with D, A, I and F masked. */
export const RESET_PSTATE = 0x3c5n;
/** KVM_MAX_VCPUS and KVM_MAX_VCPU_IDS on arm64. */
export const MAX_VCPUS = 512;

export function initialState(): MachineState {
  return { vms: [], current: -1 };
}

/** MPIDR affinity KVM assigns by default (reset_mpidr): Aff0 = id[3:0], Aff1 = id[11:4], Aff2 = id[19:12]. */
export function defaultAffinity(id: number): number {
  return (id & 0xf) | (((id >> 4) & 0xff) << 8) | (((id >> 12) & 0xff) << 16);
}

/** MPIDR_EL1 as the guest reads it: affinity fields plus RES1 bit 31. */
export function mpidrEl1(affinity: number): bigint {
  return BigInt(affinity & 0xffffff) | (1n << 31n) | (BigInt(affinity >>> 24) << 32n);
}

export function newVcpu(id: number): VcpuState {
  return {
    id,
    affinity: defaultAffinity(id),
    x: Array.from({ length: 31 }, () => 0n),
    pc: 0n,
    pstate: RESET_PSTATE,
    inRun: false,
    resumeOnCont: false,
    ran: false,
    devices: {},
  };
}

export function currentVm(state: MachineState): VmState | undefined {
  return state.vms[state.current];
}

/** The vCPU with KVM id `id`, by linear search (at most 512). */
export function vcpuById(vm: VmState, id: number): VcpuState | undefined {
  for (const vcpu of vm.vcpus) if (vcpu.id === id) return vcpu;
  return undefined;
}

/** The vCPU whose affinity equals `affinity`, as KVM's kvm_mpidr_to_vcpu. */
export function vcpuByAffinity(vm: VmState, affinity: number): VcpuState | undefined {
  for (const vcpu of vm.vcpus) if (vcpu.affinity === affinity) return vcpu;
  return undefined;
}
