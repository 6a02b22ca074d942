// The vITS plugged into the engine's registry together with the vGICv3 (style-anchors.md §8.1:
// the composition root, replay/machine.ts, calls `withVgicIts(base)`, which adds the vGICv3
// itself with the ITS's extensions, since those are fixed when the vGICv3 is built). Adds:
//   devices  'vgic-its' (handle 'its'): KVM_CREATE_DEVICE and the ADDR/CTRL/ITS_REGS groups
//            (kvm-device.ts), and the vGICv3 with the LPI hooks of the redistributor
//   mmio     'gits': the 128 KiB control + translation frames, mapped when ADDR is set, with
//            command processing on CWRITER/CTLR writes (command-queue.ts)
//   services signalMsi (KVM_SIGNAL_MSI)
//   vGICv3   SAVE_PENDING_TABLES writing the LPI pending bits (save-restore.ts)
//   frameBase 'gits' as the VMM placed it
// LPI delivery itself is derived by the vGICv3 CPU interface (cpuif-derive.ts reads lpis.ts).

import type { FrameKind, Registry } from '../../engine/registry.js';
import type { VmState } from '../../engine/state.js';
import { withVgicV3 } from '../gicv3/index.js';
import { COMMAND_QUEUE_HOOKS } from './command-queue.js';
import { GITS_HANDLER, ITS_LPI_HOOKS, makeVgicItsDevice, signalMsi } from './kvm-device.js';
import { makeItsMmioHandler } from './registers.js';
import { savePendingTables } from './save-restore.js';

/** Registry.frameBase for 'gits': the ITS base once set. Pure. */
export function itsFrameBase(vm: VmState, frame: FrameKind): number | undefined {
  if (frame !== 'gits') return undefined;
  return vm.devices.its?.base ?? undefined;
}

/**
 * `base` with the vGICv3 (its redistributor LPI hooks and SAVE_PENDING_TABLES filled in) and the
 * vITS added (a new registry; `base` is untouched).
 */
export function withVgicIts(base: Registry): Registry {
  const withGic = withVgicV3(base, {
    lpi: ITS_LPI_HOOKS,
    savePendingTables: (vm, _gic, ctx) => savePendingTables(vm, ctx.ownedPages),
  });
  const previousFrameBase = withGic.frameBase;
  return {
    ...withGic,
    frameBase: (vm, frame, vcpu) => itsFrameBase(vm, frame) ?? previousFrameBase?.(vm, frame, vcpu),
    devices: { ...withGic.devices, 'vgic-its': makeVgicItsDevice() },
    mmio: { ...withGic.mmio, [GITS_HANDLER]: makeItsMmioHandler(COMMAND_QUEUE_HOOKS) },
    services: { ...withGic.services, signalMsi: (vm, devid, eventid) => signalMsi(vm, devid, eventid) },
  };
}
