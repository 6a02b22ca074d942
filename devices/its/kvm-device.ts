// The vITS KVM device (`create_device vgic-its`, handle `its`), KVM_SIGNAL_MSI, and the LPI work
// behind the redistributor's GICR_CTLR.EnableLPIs / GICR_INVLPIR / GICR_INVALLR (vits.md §2.5,
// §2.6, §3.6, §5; Linux arch/arm64/kvm/vgic/vgic-its.c vgic_its_create, vgic_its_set_attr,
// vgic_its_get_attr, vgic_its_has_attr, vgic_its_ctrl, vgic_register_its_iodev,
// vgic_its_inject_msi, vgic_msi_to_its; vgic-irqfd.c kvm_set_msi; vgic-mmio-v3.c
// vgic_enable_lpis, vgic_flush_pending_lpis; vgic-v3.c its_sync_lpi_pending_table).
//
// Model limits, written once here:
//   - One ITS per VM (`vm.devices.its`): a second KVM_CREATE_DEVICE(vgic-its) returns -EEXIST,
//     where KVM would create another ITS. The scenario language names one `its` device.
//   - KVM_DEV_ARM_ITS_SAVE_TABLES and KVM_DEV_ARM_ITS_RESTORE_TABLES take the vCPU locks
//     (-EBUSY), then run the table ABI revision 0 code of save-restore.ts.
//   - GITS_TRANSLATER written by a guest does nothing: KVM has no row for it and takes MSIs only
//     through KVM_SIGNAL_MSI / irqfd, which carry the DeviceID (vits.md §3.6; registers.ts).
//
// Every function mutates a draft and returns KVM's result.

import { EBUSY, EEXIST, EFAULT, EINVAL, ENODEV, ENXIO } from '../../engine/errno.js';
import { inRam, loadRam } from '../../engine/ram.js';
import { type AttrResult, type DeviceKind, mapMmio, type StepContext } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import { checkIorange, VGIC_ADDR_UNDEF } from '../gicv3/kvm-device-addr.js';
import type { LpiHooks } from '../gicv3/regs-common.js';
import { findRow } from '../mmio-table.js';
import { COMMAND_QUEUE_HOOKS, triggerLpi } from './command-queue.js';
import { lpiPendingByteAddress, refreshLpiConfig, refreshLpiConfigForVcpu } from './lpis.js';
import { GITS_PIDR4, GITS_REGISTERS, GITS_TYPER, itsRegsGet, itsRegsSet } from './registers.js';
import { installIts, resetIts } from './reset.js';
import { restoreTables, saveTables } from './save-restore.js';
import { type ItsState, KVM_VGIC_V3_ITS_SIZE } from './state.js';

/** KVM_DEV_ARM_VGIC_GRP_* the ITS device answers. */
export const GRP_ADDR = 0;
export const GRP_CTRL = 4;
export const GRP_ITS_REGS = 8;
/** KVM_VGIC_ITS_ADDR_TYPE. */
export const KVM_VGIC_ITS_ADDR_TYPE = 4n;
/** KVM_DEV_ARM_VGIC_CTRL_INIT and the ITS-only CTRL attributes. */
export const CTRL_INIT = 0n;
export const CTRL_ITS_SAVE_TABLES = 1n;
export const CTRL_ITS_RESTORE_TABLES = 2n;
export const CTRL_ITS_CTRL_RESET = 4n;

/** The MmioRegion handler key of the ITS frames. */
export const GITS_HANDLER = 'gits';
/** vgic_check_iorange alignment of the ITS base. */
const SZ_64K = 0x1_0000n;

function anyVcpuRunning(vm: VmState): boolean {
  return vm.vcpus.some((v) => v.inRun);
}

// ---- lifecycle -------------------------------------------------------------------------------

/**
 * KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_ITS) (vgic_its_create): KVM does not require a vGICv3
 * (has_its and PROPBASER live in the VM's vgic_dist, which a later vGICv3 creation keeps); here
 * one ITS per VM (-EEXIST for another, see the header). Installs the ITS, the VM's LPI store,
 * has_its and GICR_PROPBASER = 0x580.
 */
export function createVgicIts(vm: VmState): number {
  if (vm.devices.its) return -EEXIST;
  installIts(vm);
  return 0;
}

// ---- ADDR ------------------------------------------------------------------------------------

/**
 * KVM_DEV_ARM_VGIC_GRP_ADDR set: attr other than KVM_VGIC_ITS_ADDR_TYPE → -ENODEV; bad pointer
 * → -EFAULT; vgic_check_iorange (already set → -EEXIST; 64 KiB alignment or wrap → -EINVAL;
 * beyond the IPA space → -E2BIG); then vgic_register_its_iodev maps the 128 KiB frame pair.
 */
function setItsAddr(vm: VmState, its: ItsState, attr: bigint, value: bigint | null): number {
  if (attr !== KVM_VGIC_ITS_ADDR_TYPE) return -ENODEV;
  if (value === null) return -EFAULT;
  if (its.base !== null) return -EEXIST;
  const rc = checkIorange(vm, value, SZ_64K, BigInt(KVM_VGIC_V3_ITS_SIZE));
  if (rc !== 0) return rc;
  its.base = Number(value);
  mapMmio(vm, { base: its.base, size: KVM_VGIC_V3_ITS_SIZE, handler: GITS_HANDLER, index: 0 });
  return 0;
}

/** KVM_DEV_ARM_VGIC_GRP_ADDR get: -ENODEV for another attr; the base or VGIC_ADDR_UNDEF. */
function getItsAddr(its: ItsState, attr: bigint): AttrResult {
  if (attr !== KVM_VGIC_ITS_ADDR_TYPE) return { rc: -ENODEV };
  return { rc: 0, value: its.base === null ? VGIC_ADDR_UNDEF : BigInt(its.base) };
}

// ---- CTRL ------------------------------------------------------------------------------------

/**
 * vgic_its_ctrl: INIT is a no-op (no lock); everything else takes every vCPU lock (-EBUSY while
 * a vCPU runs), then CTRL_RESET (vgic_its_reset), SAVE_TABLES / RESTORE_TABLES (table ABI
 * revision 0, save-restore.ts), anything else -ENXIO.
 */
function setItsCtrl(vm: VmState, its: ItsState, attr: bigint, ctx: StepContext): number {
  if (attr === CTRL_INIT) return 0;
  if (anyVcpuRunning(vm)) return -EBUSY;
  switch (attr) {
    case CTRL_ITS_CTRL_RESET:
      resetIts(vm, its);
      return 0;
    case CTRL_ITS_SAVE_TABLES:
      return saveTables(vm, its, ctx.ownedPages);
    case CTRL_ITS_RESTORE_TABLES:
      return restoreTables(vm, its, ctx.ownedPages);
    default:
      return -ENXIO;
  }
}

// ---- ITS_REGS has_attr -------------------------------------------------------------------------

/**
 * vgic_its_has_attr_regs: alignment (-EINVAL), then a register at that offset (-ENXIO). No
 * base-address or lock check. GITS_MPIDR and GITS_TRANSLATER have no row in KVM.
 */
function hasItsReg(attr: bigint): number {
  const align = attr < BigInt(GITS_TYPER) || attr >= BigInt(GITS_PIDR4) ? 3n : 7n;
  if ((attr & align) !== 0n) return -EINVAL;
  const row = findRow(GITS_REGISTERS, Number(BigInt.asUintN(32, attr)));
  if (!row || row.name === 'GITS_MPIDR' || row.name === 'GITS_TRANSLATER') return -ENXIO;
  return 0;
}

// ---- KVM_SIGNAL_MSI ----------------------------------------------------------------------------

/**
 * KVM_SIGNAL_MSI with KVM_MSI_VALID_DEVID at the ITS doorbell (kvm_set_msi → vgic_its_inject_msi):
 * no ITS → -ENODEV; the doorbell is not on the MMIO bus (ITS base never set) → -EINVAL
 * (vgic_msi_to_its); then vgic_its_trigger_msi: ITS disabled or target LPIs disabled → -EBUSY,
 * a translation error (E_ITS_*) → 0, delivered → 1.
 */
export function signalMsi(vm: VmState, devid: number, eventid: number): number {
  const its = vm.devices.its;
  if (!its) return -ENODEV;
  if (its.base === null) return -EINVAL;
  const rc = triggerLpi(vm, its, devid >>> 0, eventid >>> 0);
  if (rc < 0) return rc;
  return rc === 0 ? 1 : 0;
}

// ---- redistributor LPI hooks --------------------------------------------------------------------

/**
 * its_sync_lpi_pending_table (vgic_enable_lpis, EnableLPIs 0→1 with the stored PTZ clear): every
 * LPI targeting the vCPU takes its pending latch from the vCPU's pending table; the bits are
 * not cleared. A byte outside guest RAM stops the scan (kvm_read_guest_lock fails). With PTZ
 * (GICR_PENDBASER bit 62) set the scan is skipped.
 */
function syncPendingTable(vm: VmState, vcpu: VcpuState): void {
  const cpu = vcpu.devices.gic;
  if (!cpu || (cpu.pendbaser >> 62n) & 1n) return;
  for (const irq of Object.values(vm.devices.lpis?.irqs ?? {})) {
    if (irq.targetVcpu !== vcpu.id) continue;
    const addr = lpiPendingByteAddress(cpu.pendbaser, irq.intid);
    if (!inRam(addr, 1)) return;
    const byte = Number(loadRam(vm.ram, addr, 1));
    irq.pendingLatch = (byte & (1 << (irq.intid % 8))) !== 0;
  }
}

/**
 * The LPI work of the redistributor (regs-common.ts LpiHooks). EnableLPIs 1→0:
 * vgic_flush_pending_lpis only removes LPIs from the vCPU's ap_list (pending_latch is kept,
 * vits.md §9) and the translation cache is not modelled, so there is nothing to do; delivery
 * stops because `lpiCandidates` needs EnableLPIs.
 */
export const ITS_LPI_HOOKS: LpiHooks = {
  enableLpis: (vm, vcpu) => syncPendingTable(vm, vcpu),
  disableLpis: () => {},
  invalidateLpi(vm, _vcpu, intid) {
    const irq = vm.devices.lpis?.irqs[intid];
    if (irq) refreshLpiConfig(vm, irq);
  },
  invalidateAll: (vm, vcpu) => refreshLpiConfigForVcpu(vm, vcpu.id),
};

// ---- the device kind -----------------------------------------------------------------------------

/** The vITS as a registry DeviceKind. */
export function makeVgicItsDevice(): DeviceKind {
  return {
    kind: 'vgic-its',
    handle: 'its',
    create: (vm) => createVgicIts(vm),
    setAttr(vm, group, attr, value, ctx: StepContext) {
      const its = vm.devices.its;
      if (!its) return -ENXIO;
      switch (group) {
        case GRP_ADDR:
          return setItsAddr(vm, its, attr, value);
        case GRP_CTRL:
          return setItsCtrl(vm, its, attr, ctx);
        case GRP_ITS_REGS:
          return itsRegsSet(vm, attr, value, { fx: ctx, hooks: COMMAND_QUEUE_HOOKS });
        default:
          return -ENXIO;
      }
    },
    getAttr(vm, group, attr, _preset, ctx) {
      const its = vm.devices.its;
      if (!its) return { rc: -ENXIO };
      switch (group) {
        case GRP_ADDR:
          return getItsAddr(its, attr);
        case GRP_ITS_REGS:
          return itsRegsGet(vm, attr, { fx: ctx, hooks: COMMAND_QUEUE_HOOKS });
        default:
          return { rc: -ENXIO };
      }
    },
    hasAttr(_vm, group, attr) {
      switch (group) {
        case GRP_ADDR:
          return attr === KVM_VGIC_ITS_ADDR_TYPE ? 0 : -ENXIO;
        case GRP_CTRL:
          return attr === CTRL_INIT ||
            attr === CTRL_ITS_SAVE_TABLES ||
            attr === CTRL_ITS_RESTORE_TABLES ||
            attr === CTRL_ITS_CTRL_RESET
            ? 0
            : -ENXIO;
        case GRP_ITS_REGS:
          return hasItsReg(attr);
        default:
          return -ENXIO;
      }
    },
  };
}
