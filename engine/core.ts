// KVM-core semantics that are not the GIC's (scenario-language.md "VMM statements", "vCPU run
// state", "Guest statements"): VM and vCPU creation, KVM_RUN and the VMM's stop/cont, ONE_REG
// access to core registers, VMM and guest RAM accesses, SMCCC dispatch, and the routing of
// device calls to the registry. Every function mutates a draft and returns the event's output.

import { EBADF, EBUSY, EEXIST, EFAULT, EINVAL, EIO, ENODEV, ENOENT, ENXIO, EOPNOTSUPP } from './errno.js';
import type { EngineEvent, EventOf, Output } from './events.js';
import { inRam, loadRam, shareRam, storeRam } from './ram.js';
import { findMmio, type StepContext } from './registry.js';
import {
  currentVm,
  MAX_VCPUS,
  type MachineState,
  type MigrationState,
  newVcpu,
  RESET_PSTATE,
  type VcpuState,
  type VmState,
  vcpuById,
} from './state.js';

/** KVM_REG_ARM_CORE register ids (arch/arm64/include/uapi/asm/kvm.h): offset in 32-bit words. */
const KVM_REG_ARM_CORE_BASE = 0x6030_0000_0010_0000n;
export const CORE_REG_PC = KVM_REG_ARM_CORE_BASE | 0x40n;
export const CORE_REG_PSTATE = KVM_REG_ARM_CORE_BASE | 0x42n;
export function coreRegX(n: number): bigint {
  return KVM_REG_ARM_CORE_BASE | BigInt(n * 2);
}

/** SMCCC (include/linux/arm-smccc.h) as kvm_smccc_call_handler answers it without other services. */
const ARM_SMCCC_VERSION_FUNC_ID = 0x8000_0000;
const ARM_SMCCC_VERSION_1_1 = 0x1_0001n;
const SMCCC_RET_NOT_SUPPORTED = 0xffff_ffff_ffff_ffffn;

const U64 = (1n << 64n) - 1n;

export function applyEvent(machine: MachineState, event: EngineEvent, ctx: StepContext): Output {
  // Taken before the event: `migrate_end` removes it, and its hooks still see the whole migration.
  const migration = machine.migration;
  const output = routeEvent(machine, event, ctx);
  const hooks = ctx.registry.hooks.afterEvent;
  if (hooks.length > 0) {
    const vm = currentVm(machine);
    if (vm && !vm.dead) for (const hook of hooks) hook(vm, ctx);
  }
  if (migration) noteMigrationStep(machine, migration, event, output, ctx);
  return output;
}

/** Counts a migration step, keeps its first failure, and lets the ordering rules look at it. */
function noteMigrationStep(
  machine: MachineState,
  migration: MigrationState,
  event: EngineEvent,
  output: Output,
  ctx: StepContext,
): void {
  if (event.type !== 'migrate.end') migration.steps++;
  if (
    event.type !== 'migrate.end' &&
    migration.firstError === 0 &&
    output.rc !== undefined &&
    output.rc < 0
  ) {
    migration.firstError = output.rc;
    migration.failedStep = migration.steps;
    migration.failedEvent = event.type;
  }
  for (const hook of ctx.registry.hooks.migrationStep) hook(machine, migration, event, output, ctx);
}

function routeEvent(machine: MachineState, event: EngineEvent, ctx: StepContext): Output {
  switch (event.type) {
    case 'vm.create':
      return createVm(machine, event);
    case 'trace.mark':
    case 'trace.note':
      return {};
    case 'vm.select':
      if (event.vm < 0 || event.vm >= machine.vms.length) return { rc: -EINVAL };
      machine.current = event.vm;
      return { rc: 0 };
    case 'ram.transfer':
      return { rc: transferRam(machine, event, ctx) };
    case 'migrate.begin':
      return { rc: beginMigration(machine, event) };
    case 'migrate.end':
      return endMigration(machine, ctx);
    default:
      break;
  }
  const vm = currentVm(machine);
  if (!vm) {
    ctx.emit({ type: 'engine.no-vm' });
    return emptyOutput(event);
  }
  if (vm.dead && !isGuestEvent(event)) return { rc: -EIO, ...(hasValue(event) ? { value: 0n } : {}) };
  switch (event.type) {
    case 'vcpu.create':
      return { rc: createVcpu(vm, event.vcpu, ctx) };
    case 'device.create':
      return { rc: createDevice(vm, event.kind, ctx) };
    case 'attr.set': {
      const kind = deviceOf(vm, event.dev, ctx);
      return { rc: kind ? kind.setAttr(vm, event.group, event.attr, event.value, ctx) : -EBADF };
    }
    case 'attr.get': {
      const kind = deviceOf(vm, event.dev, ctx);
      if (!kind) return { rc: -EBADF, value: 0n };
      const r = kind.getAttr(vm, event.group, event.attr, event.preset, ctx);
      return { rc: r.rc, value: r.rc === 0 ? (r.value ?? 0n) : 0n };
    }
    case 'attr.has': {
      const kind = deviceOf(vm, event.dev, ctx);
      return { rc: kind ? kind.hasAttr(vm, event.group, event.attr, ctx) : -EBADF };
    }
    case 'irq.line': {
      const service = ctx.registry.services.irqLine;
      // arm.c kvm_vm_ioctl_irq_line: SPI and PPI lines need the in-kernel vGIC.
      if (!service || !deviceOf(vm, 'gic', ctx)) return { rc: -ENXIO };
      return { rc: service(vm, event.kind, event.vcpu, event.intid, event.level, ctx) };
    }
    case 'msi.signal': {
      const service = ctx.registry.services.signalMsi;
      // irqchip.c kvm_send_userspace_msi: no in-kernel irqchip -> -EINVAL.
      if (!service || !deviceOf(vm, 'gic', ctx)) return { rc: -EINVAL };
      return { rc: service(vm, event.devid, event.eventid, ctx) };
    }
    case 'reg.get':
      return getOneReg(vm, event, ctx);
    case 'reg.set':
      return { rc: setOneReg(vm, event, ctx) };
    case 'vcpu.run':
      return { rc: runVcpu(vm, event.vcpu, ctx) };
    case 'vcpu.reset':
      return { rc: resetVcpu(vm, event.vcpu, ctx) };
    case 'sdei.inject': {
      const vcpu = vcpuById(vm, event.vcpu);
      if (!vcpu) return { rc: -EBADF };
      const service = ctx.registry.services.sdeiInject;
      if (!service || !vm.sdei) return { rc: -EOPNOTSUPP };
      return { rc: service(vm, vcpu, event.event, ctx) };
    }
    case 'vm.stop':
      for (const vcpu of vm.vcpus) {
        if (vcpu.inRun) {
          vcpu.inRun = false;
          vcpu.resumeOnCont = true;
        }
      }
      return { rc: 0 };
    case 'vm.cont':
      for (const vcpu of vm.vcpus) {
        if (vcpu.resumeOnCont) {
          vcpu.resumeOnCont = false;
          vcpu.inRun = true;
          enterGuest(vm, vcpu, ctx);
        }
      }
      return { rc: 0 };
    case 'mem.read':
      if (!inRam(event.addr, event.size)) return { rc: -EFAULT, value: 0n };
      return { rc: 0, value: loadRam(vm.ram, event.addr, event.size) };
    case 'mem.write':
      if (!inRam(event.addr, event.size)) return { rc: -EFAULT };
      storeRam(vm.ram, event.addr, event.size, event.value, ctx.ownedPages);
      return { rc: 0 };
    default:
      return applyGuestEvent(vm, event, ctx);
  }
}

type GuestEvent = EventOf<
  'guest.read' | 'guest.write' | 'guest.mrs' | 'guest.msr' | 'guest.hvc' | 'guest.reg'
>;

/** The VMM's RAM transfer: the destination's RAM becomes the source's, page for page. */
function transferRam(machine: MachineState, event: EventOf<'ram.transfer'>, ctx: StepContext): number {
  const from = machine.vms[event.from];
  const to = machine.vms[event.to];
  if (!from || !to || from === to) return -EINVAL;
  if (to.dead) return -EIO;
  // A VMM writes guest memory through its mapping while the vCPUs are stopped; a running vCPU
  // would race with the copy, so we refuse it rather than pick an order.
  if (to.vcpus.some((v) => v.inRun)) return -EBUSY;
  to.ram = shareRam(from.ram, ctx.ownedPages);
  return 0;
}

function beginMigration(machine: MachineState, event: EventOf<'migrate.begin'>): number {
  if (machine.migration) return -EBUSY;
  const vm = currentVm(machine);
  if (!vm) return -EINVAL;
  machine.migration = {
    vmm: event.vmm,
    quirks: event.quirks === '' ? [] : event.quirks.split(','),
    source: machine.current,
    paused: vm.vcpus.filter((v) => v.resumeOnCont).map((v) => v.id),
    steps: 0,
    failedStep: 0,
    failedEvent: '',
    firstError: 0,
    seen: {},
  };
  return 0;
}

function endMigration(machine: MachineState, ctx: StepContext): Output {
  const migration = machine.migration;
  if (!migration) return { rc: -EINVAL };
  if (migration.firstError !== 0) {
    ctx.emit({
      type: 'migrate.step-failed',
      step: migration.failedStep,
      event: migration.failedEvent,
      rc: migration.firstError,
    });
  }
  const dest = currentVm(machine);
  if (dest && machine.current !== migration.source) {
    for (const vcpu of dest.vcpus)
      if (!vcpu.inRun && migration.paused.includes(vcpu.id)) vcpu.resumeOnCont = true;
  }
  delete machine.migration;
  return { rc: migration.firstError };
}

function isGuestEvent(event: EngineEvent): event is GuestEvent {
  return event.type.startsWith('guest.');
}

function hasValue(event: EngineEvent): boolean {
  return event.type === 'attr.get' || event.type === 'reg.get' || event.type === 'mem.read';
}

/** The output shape of `event` with every field zero, for events that could not be performed. */
function emptyOutput(event: EngineEvent): Output {
  if (event.type === 'guest.hvc') return { x: [0n, 0n, 0n, 0n] };
  if (event.type === 'guest.read' || event.type === 'guest.mrs' || event.type === 'guest.reg')
    return { value: 0n };
  if (event.type === 'guest.write' || event.type === 'guest.msr') return {};
  return hasValue(event) ? { rc: -EBADF, value: 0n } : { rc: -EBADF };
}

function createVm(machine: MachineState, event: EventOf<'vm.create'>): Output {
  machine.vms.push({
    id: machine.vms.length,
    host: event.host,
    quirks: [...event.quirks],
    ipaBits: event.ipaBits,
    sdei: event.sdei,
    dead: false,
    vcpus: [],
    ram: {},
    mmio: [],
    devices: {},
  });
  machine.current = machine.vms.length - 1;
  return { rc: 0 };
}

/** kvm_vm_ioctl_create_vcpu: id range, vCPU count, arch precreate (vGIC), then duplicate id. */
function createVcpu(vm: VmState, id: number, ctx: StepContext): number {
  if (id < 0 || id >= MAX_VCPUS) return -EINVAL;
  if (vm.vcpus.length >= MAX_VCPUS) return -EINVAL;
  for (const hook of ctx.registry.hooks.vcpuPrecreate) {
    const rc = hook(vm, ctx);
    if (rc < 0) return rc;
  }
  if (vcpuById(vm, id)) return -EEXIST;
  vm.vcpus.push(newVcpu(id));
  const vcpu = vm.vcpus[vm.vcpus.length - 1]!;
  for (const hook of ctx.registry.hooks.vcpuCreated) hook(vm, vcpu, ctx);
  return 0;
}

function createDevice(vm: VmState, kind: string, ctx: StepContext): number {
  const device = ctx.registry.devices[kind];
  if (!device) return -ENODEV;
  return device.create(vm, ctx);
}

function deviceOf(vm: VmState, handle: 'gic' | 'its', ctx: StepContext) {
  const state = (vm.devices as Record<string, { kind: string } | undefined>)[handle];
  return state ? ctx.registry.devices[state.kind] : undefined;
}

/** A vCPU ioctl while the vCPU is inside KVM_RUN would wait for its mutex; a scenario cannot wait. */
function vcpuForIoctl(vm: VmState, id: number): VcpuState | number {
  const vcpu = vcpuById(vm, id);
  if (!vcpu) return -EBADF;
  if (vcpu.inRun) return -EBUSY;
  return vcpu;
}

function getOneReg(vm: VmState, event: EventOf<'reg.get'>, ctx: StepContext): Output {
  const vcpu = vcpuForIoctl(vm, event.vcpu);
  if (typeof vcpu === 'number') return { rc: vcpu, value: 0n };
  const core = coreRegIndex(event.reg);
  if (core !== undefined) return { rc: 0, value: readCoreReg(vcpu, core) };
  const handler = ctx.registry.oneRegs[hexId(event.reg)];
  if (!handler) return { rc: -ENOENT, value: 0n };
  const r = handler.get(vm, vcpu, ctx);
  return { rc: r.rc, value: r.rc === 0 ? (r.value ?? 0n) : 0n };
}

function setOneReg(vm: VmState, event: EventOf<'reg.set'>, ctx: StepContext): number {
  const vcpu = vcpuForIoctl(vm, event.vcpu);
  if (typeof vcpu === 'number') return vcpu;
  const core = coreRegIndex(event.reg);
  if (core !== undefined) {
    if (event.value < 0n || event.value > U64) return -EINVAL;
    if (core === 32 && !validPstate(event.value)) return -EINVAL;
    writeCoreReg(vcpu, core, event.value);
    return 0;
  }
  const handler = ctx.registry.oneRegs[hexId(event.reg)];
  if (!handler) return -ENOENT;
  return handler.set(vm, vcpu, event.value, ctx);
}

/** guest.reg numbering (0–30 x, 31 pc, 32 pstate) of a KVM core register id, if it is one we model. */
export function coreRegIndex(id: bigint): number | undefined {
  if (id === CORE_REG_PC) return 31;
  if (id === CORE_REG_PSTATE) return 32;
  const off = id - KVM_REG_ARM_CORE_BASE;
  if (off >= 0n && off < 62n && off % 2n === 0n) return Number(off / 2n);
  return undefined;
}

export function readCoreReg(vcpu: VcpuState, index: number): bigint {
  if (index === 31) return vcpu.pc;
  if (index === 32) return vcpu.pstate;
  return vcpu.x[index] ?? 0n;
}

function writeCoreReg(vcpu: VcpuState, index: number, value: bigint): void {
  if (index === 31) vcpu.pc = value;
  else if (index === 32) vcpu.pstate = value;
  else vcpu.x[index] = value;
}

/** guest.c set_core_reg: PSTATE.M must name an AArch64 mode the vCPU has (EL0t, EL1t, EL1h). */
function validPstate(value: bigint): boolean {
  const mode = Number(value & 0x1fn);
  return mode === 0x0 || mode === 0x4 || mode === 0x5;
}

function hexId(id: bigint): string {
  return `0x${id.toString(16)}`;
}

/** KVM_RUN: first-run work once per vCPU, then guest entry. Re-running a running vCPU only re-enters. */
function runVcpu(vm: VmState, id: number, ctx: StepContext): number {
  const vcpu = vcpuById(vm, id);
  if (!vcpu) return -EBADF;
  if (!vcpu.inRun) {
    const rc = firstRun(vm, vcpu, ctx);
    if (rc < 0) return rc;
    vcpu.inRun = true;
    vcpu.resumeOnCont = false;
  }
  enterGuest(vm, vcpu, ctx);
  return 0;
}

/** kvm_arch_vcpu_run_pid_change: done once per vCPU; a failure marks the VM dead. */
function firstRun(vm: VmState, vcpu: VcpuState, ctx: StepContext): number {
  if (vcpu.ran) return 0;
  for (const hook of ctx.registry.hooks.firstRun) {
    const rc = hook(vm, vcpu, ctx);
    if (rc < 0) {
      vm.dead = true;
      ctx.emit({ type: 'vm.dead', vcpu: vcpu.id, rc });
      return rc;
    }
  }
  vcpu.ran = true;
  return 0;
}

function enterGuest(vm: VmState, vcpu: VcpuState, ctx: StepContext): void {
  for (const hook of ctx.registry.hooks.guestEntry) hook(vm, vcpu, ctx);
}

function resetVcpu(vm: VmState, id: number, ctx: StepContext): number {
  const vcpu = vcpuForIoctl(vm, id);
  if (typeof vcpu === 'number') return vcpu;
  vcpu.x = Array.from({ length: 31 }, () => 0n);
  vcpu.pc = 0n;
  vcpu.pstate = RESET_PSTATE;
  for (const hook of ctx.registry.hooks.vcpuReset) hook(vm, vcpu, ctx);
  return 0;
}

function applyGuestEvent(vm: VmState, event: GuestEvent, ctx: StepContext): Output {
  const vcpu = vcpuById(vm, event.vcpu);
  if (!vcpu) {
    ctx.emit({ type: 'engine.no-vcpu', vcpu: event.vcpu });
    return emptyOutput(event);
  }
  if (vm.dead) {
    ctx.emit({ type: 'vm.dead', vcpu: vcpu.id, rc: -EIO });
    return emptyOutput(event);
  }
  if (event.type === 'guest.reg') return { value: readCoreReg(vcpu, event.reg) };
  // A guest statement on a vCPU that never ran is its first entry (scenario-language.md).
  if (!vcpu.ran && firstRun(vm, vcpu, ctx) < 0) return emptyOutput(event);
  switch (event.type) {
    case 'guest.read':
      return { value: guestLoad(vm, vcpu, event.addr, event.size, ctx) };
    case 'guest.write':
      guestStore(vm, vcpu, event.addr, event.size, event.value, ctx);
      return {};
    case 'guest.mrs': {
      const handler = ctx.registry.sysregs[event.sysreg];
      if (!handler) {
        ctx.emit({ type: 'guest.undef', vcpu: vcpu.id, sysreg: event.sysreg, write: false });
        return { value: 0n };
      }
      return { value: handler.read(vm, vcpu, ctx) };
    }
    case 'guest.msr': {
      const handler = ctx.registry.sysregs[event.sysreg];
      if (!handler) ctx.emit({ type: 'guest.undef', vcpu: vcpu.id, sysreg: event.sysreg, write: true });
      else handler.write(vm, vcpu, event.value, ctx);
      return {};
    }
    default:
      return { x: hypercall(vm, vcpu, event.args, ctx) };
  }
}

/** RAM first (a memslot wins over MMIO, as in KVM), then device regions, else an MMIO exit. */
function guestLoad(vm: VmState, vcpu: VcpuState, addr: bigint, size: number, ctx: StepContext): bigint {
  if (inRam(addr, size)) return loadRam(vm.ram, addr, size);
  const region = addr < 2n ** 53n ? findMmio(vm, Number(addr), size) : undefined;
  if (region) {
    const handler = ctx.registry.mmio[region.handler];
    if (handler) return handler.read({ vm, vcpu, region, offset: Number(addr) - region.base, size }, ctx);
  }
  ctx.emit({ type: 'mmio.exit', vcpu: vcpu.id, addr, size, write: false });
  return 0n;
}

function guestStore(
  vm: VmState,
  vcpu: VcpuState,
  addr: bigint,
  size: number,
  value: bigint,
  ctx: StepContext,
): void {
  if (inRam(addr, size)) {
    storeRam(vm.ram, addr, size, value, ctx.ownedPages);
    return;
  }
  const region = addr < 2n ** 53n ? findMmio(vm, Number(addr), size) : undefined;
  if (region) {
    const handler = ctx.registry.mmio[region.handler];
    if (handler) {
      handler.write({ vm, vcpu, region, offset: Number(addr) - region.base, size }, value, ctx);
      return;
    }
  }
  ctx.emit({ type: 'mmio.exit', vcpu: vcpu.id, addr, size, write: true, value });
}

/**
 * HVC from the guest: x0–x5 as set up, dispatched on the 32-bit function id. Unknown ids get
 * SMCCC_RET_NOT_SUPPORTED with x1–x3 zeroed (hypercalls.c kvm_smccc_call_handler).
 */
function hypercall(vm: VmState, vcpu: VcpuState, args: bigint[], ctx: StepContext): bigint[] {
  for (let i = 0; i < 6; i++) vcpu.x[i] = (args[i] ?? 0n) & U64;
  const functionId = Number(vcpu.x[0]! & 0xffff_ffffn);
  const range = ctx.registry.hypercalls.find((r) => functionId >= r.first && functionId <= r.last);
  if (range) {
    range.call(vm, vcpu, functionId, ctx);
  } else {
    vcpu.x[0] = functionId === ARM_SMCCC_VERSION_FUNC_ID ? ARM_SMCCC_VERSION_1_1 : SMCCC_RET_NOT_SUPPORTED;
    vcpu.x[1] = 0n;
    vcpu.x[2] = 0n;
    vcpu.x[3] = 0n;
  }
  const result = [vcpu.x[0]!, vcpu.x[1]!, vcpu.x[2]!, vcpu.x[3]!];
  // The output is what the call returned; delivery at the following guest entry comes after.
  enterGuest(vm, vcpu, ctx);
  return result;
}
