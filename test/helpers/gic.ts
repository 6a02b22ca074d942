// Shared fixtures for the vGICv3 unit tests (test/devices/gicv3/): VMs whose GIC state comes
// from the device's own reset path (devices/gicv3/reset.ts) rather than hand-written literals, so
// the tests start from exactly what KVM_CREATE_DEVICE, vCPU creation and CTRL_INIT produce, and a
// change to those reset values reaches every test at once. Also effect sinks and shorthands for
// frame accesses. No registry: the tests call the device code directly.

import {
  type EffectSink,
  type GicRegContext,
  gicRegContext,
  type LpiHooks,
} from '../../devices/gicv3/regs-common.js';
import {
  initGicState,
  initPrivateIrqs,
  newGicCpuState,
  newGicState,
  resetCpuInterface,
} from '../../devices/gicv3/reset.js';
import type { GicCpuState, GicState, RedistRegion } from '../../devices/gicv3/state.js';
import { mmioRead, mmioWrite, type RegisterTable } from '../../devices/mmio-table.js';
import type { Effect, HostKind } from '../../engine/events.js';
import { newVcpu, type VmState } from '../../engine/state.js';
import { VIRT_GICD_BASE, VIRT_GICR_BASE } from '../../scenario/board.js';

/**
 * A VM as `vm.create` builds it (engine/core.ts createVm, which is not exported) with 40 IPA
 * bits and SDEI off: no vCPUs, no devices.
 */
export function emptyVm(host: HostKind = 'gicv3', quirks: string[] = []): VmState {
  return {
    id: 0,
    host,
    quirks,
    ipaBits: 40,
    sdei: false,
    dead: false,
    vcpus: [],
    ram: {},
    mmio: [],
    devices: {},
  };
}

export interface GicVmOptions {
  /** vCPUs created (ids 0..n-1, default affinities); default 2. */
  vcpus?: number;
  host?: HostKind;
  quirks?: string[];
  its?: boolean;
  /** NR_IRQS as userspace sets it (SPIs + 32); unset: INIT's default of 224 SPIs. */
  nrIrqs?: number;
  /** Apply CTRL_INIT (`initGicState`, `initialized`); default true. */
  init?: boolean;
  /** First run done (`ready`); default false. */
  ready?: boolean;
  /** Redistributor regions; default one legacy region at the virt board's GICR base holding every vCPU. */
  regions?: RedistRegion[];
  /** [region, slot] per vCPU, null (or missing) for an unplaced one; default region 0, slot = position. */
  placement?: ([number, number] | null)[];
}

/**
 * A VM with `vcpus` vCPUs and a vGICv3 built by the reset functions: created, each vCPU's
 * redistributor placed directly in the region layout (no ADDR attrs, no registry), then INIT
 * unless `init: false`.
 */
export function gicVm(o: GicVmOptions = {}): VmState {
  const vm = emptyVm(o.host, o.quirks);
  const gic = newGicState(vm.host);
  gic.hasIts = o.its ?? false;
  if (o.nrIrqs) gic.nrSpis = o.nrIrqs - 32;
  vm.devices.gic = gic;
  const n = o.vcpus ?? 2;
  for (let i = 0; i < n; i++) {
    const vcpu = newVcpu(i);
    const place: [number, number] | null = o.placement ? (o.placement[i] ?? null) : [0, i];
    vcpu.devices.gic = { ...newGicCpuState(), region: place ? place[0] : null, slot: place ? place[1] : 0 };
    vm.vcpus.push(vcpu);
  }
  gic.regions = o.regions ?? [{ index: 0, base: VIRT_GICR_BASE, count: 0, freeIndex: n }];
  if (o.init ?? true) {
    initGicState(vm, gic);
    gic.initialized = true;
  }
  if (o.ready) gic.ready = true;
  return vm;
}

/**
 * A running VM for CPU-interface tests: INIT and first run done, `nrSpis` SPIs, the distributor
 * at the virt board's base and no redistributor regions or placement (the CPU interface never
 * looks at frames). Private IRQs carry their vCPU's affinity as INIT sets it; the CPU interface
 * reads affinity only from SPIs.
 */
export function cpuifVm(nrVcpus = 1, nrSpis = 32): VmState {
  const vm = gicVm({ vcpus: nrVcpus, nrIrqs: nrSpis + 32, regions: [], placement: [], ready: true });
  vm.devices.gic!.distBase = VIRT_GICD_BASE;
  return vm;
}

/** One vCPU's redistributor and CPU interface after INIT, on its own (no VM), at `affinity`. */
export function initedCpu(affinity = 0): GicCpuState {
  const cpu = newGicCpuState();
  initPrivateIrqs(cpu, affinity);
  resetCpuInterface(cpu);
  return cpu;
}

export const gicOf = (vm: VmState): GicState => vm.devices.gic!;
export const cpuOf = (vm: VmState, k = 0): GicCpuState => vm.vcpus[k]!.devices.gic!;

/** An effect sink that keeps what it receives, so a test can assert on (or clear) the list. */
export interface RecordingSink extends EffectSink {
  effects: Effect[];
}
export function effectSink(): RecordingSink {
  const effects: Effect[] = [];
  return { effects, emit: (e) => effects.push(e) };
}

/**
 * Guest accesses to one GIC frame (GICD_REGISTERS or GICR_REGISTERS) as vCPU `k` makes them:
 * for GICD_* `k` is the accessing vCPU, for GICR_* the owner of the frame. `hooks` stand in for
 * the ITS (absent: a VM without one).
 */
export function frameAccess(table: RegisterTable<GicRegContext>, fx: EffectSink, hooks?: LpiHooks) {
  const ctx = (vm: VmState, k: number): GicRegContext => gicRegContext(vm, vm.vcpus[k]!, fx, hooks)!;
  return {
    read: (vm: VmState, offset: number, size = 4, k = 0): bigint => mmioRead(table, ctx(vm, k), offset, size),
    write: (vm: VmState, offset: number, value: bigint, size = 4, k = 0): void =>
      mmioWrite(table, ctx(vm, k), offset, size, value),
  };
}
