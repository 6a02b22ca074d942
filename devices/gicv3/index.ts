// The vGICv3 plugged into the engine's registry (style-anchors.md §8.1: the engine imports nothing
// from devices; the composition root, replay/machine.ts, calls `withVgicV3`). What it adds:
//   devices  'vgic-v3' (handle 'gic'): KVM_CREATE_DEVICE and the attr groups (kvm-device.ts)
//   mmio     'gicd' (distributor, mapped at first run) and 'gicr' (one per placed vCPU)
//   sysregs  every ICC_*_EL1 encoding, guest MRS/MSR through cpuif.ts (UNDEF without a vGIC)
//   hooks    vcpuPrecreate (-EBUSY after INIT, placement refusal), vcpuCreated (private IRQs,
//            placement), firstRun (vgic_v3_map_resources), afterEvent (cpu.irq / cpu.fiq effects),
//            migrationStep (the save/restore ordering rules of devices/migration-order.ts)
//   services irqLine (KVM_IRQ_LINE); signalMsi is left to the ITS model
//   frameBase 'gicd' and 'gicr' as the VMM placed them; 'gits' is the ITS model's

import type { FrameKind, Registry, SysregHandler } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import { checkMigrationStep } from '../migration-order.js';
import { ICC_REGISTERS, iccRead, iccWrite } from './cpuif.js';
import { distMmioHandler } from './dist-registers.js';
import {
  makeVgicV3Device,
  type VgicV3Extensions,
  vgicFirstRun,
  vgicIrqLine,
  vgicVcpuCreated,
  vgicVcpuPrecreate,
} from './kvm-device.js';
import { GICD_HANDLER, GICR_HANDLER } from './kvm-device-addr.js';
import { signalInterrupts } from './kvm-device-signals.js';
import { makeRedistMmioHandler, redistFrameBase } from './redist-registers.js';

export type { VgicV3Extensions } from './kvm-device.js';

/** A guest ICC_* access: the CPU interface, or UNDEFINED when the VM has no vGICv3 (GIC = 0). */
function iccHandler(name: string, encoding: number): SysregHandler {
  return {
    name,
    read(vm, vcpu, ctx) {
      if (!vm.devices.gic) {
        ctx.emit({ type: 'guest.undef', vcpu: vcpu.id, sysreg: encoding, write: false });
        return 0n;
      }
      return iccRead(vm, vcpu, encoding, ctx);
    },
    write(vm, vcpu, value, ctx) {
      if (!vm.devices.gic) {
        ctx.emit({ type: 'guest.undef', vcpu: vcpu.id, sysreg: encoding, write: true });
        return;
      }
      iccWrite(vm, vcpu, encoding, value, ctx);
    },
  };
}

/** Registry.frameBase for the GIC frames: the distributor base, a vCPU's RD_base. Pure. */
export function gicFrameBase(vm: VmState, frame: FrameKind, vcpu: VcpuState): number | undefined {
  const gic = vm.devices.gic;
  if (!gic) return undefined;
  if (frame === 'gicd') return gic.distBase ?? undefined;
  if (frame === 'gicr') {
    const cpu = vcpu.devices.gic;
    return cpu && cpu.region !== null ? redistFrameBase(gic, cpu) : undefined;
  }
  return undefined;
}

/** `base` with the vGICv3 added (a new registry; `base` is untouched). */
export function withVgicV3(base: Registry, ext: VgicV3Extensions = {}): Registry {
  const sysregs: Record<number, SysregHandler> = { ...base.sysregs };
  for (const row of ICC_REGISTERS) sysregs[row.encoding] = iccHandler(row.name, row.encoding);
  const previousFrameBase = base.frameBase;
  return {
    ...base,
    frameBase: (vm, frame, vcpu) => gicFrameBase(vm, frame, vcpu) ?? previousFrameBase?.(vm, frame, vcpu),
    devices: { ...base.devices, 'vgic-v3': makeVgicV3Device(ext) },
    mmio: { ...base.mmio, [GICD_HANDLER]: distMmioHandler, [GICR_HANDLER]: makeRedistMmioHandler(ext.lpi) },
    sysregs,
    hooks: {
      ...base.hooks,
      vcpuPrecreate: [...base.hooks.vcpuPrecreate, (vm) => vgicVcpuPrecreate(vm)],
      vcpuCreated: [...base.hooks.vcpuCreated, (vm, vcpu) => vgicVcpuCreated(vm, vcpu)],
      firstRun: [...base.hooks.firstRun, (vm) => vgicFirstRun(vm)],
      afterEvent: [...base.hooks.afterEvent, signalInterrupts],
      migrationStep: [...base.hooks.migrationStep, checkMigrationStep],
    },
    services: {
      ...base.services,
      irqLine: (vm, kind, vcpu, intid, level) => vgicIrqLine(vm, kind, vcpu, intid, level),
    },
  };
}
