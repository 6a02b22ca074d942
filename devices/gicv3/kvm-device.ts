// The vGICv3 KVM device (`create_device vgic-v3`, handle `gic`) and its lifecycle in the KVM core
// (vgic-v3.md §4; Linux arch/arm64/kvm/vgic/vgic-kvm-device.c, vgic-init.c, vgic-v3.c, vgic.c and
// arch/arm64/kvm/arm.c). Every function mutates a draft and returns KVM's result.
//
// Locking: KVM takes every vCPU mutex (kvm_trylock_all_vcpus) for KVM_CREATE_DEVICE, the register
// groups (DIST_REGS, REDIST_REGS, CPU_SYSREGS, LEVEL_INFO) and SAVE_PENDING_TABLES; a vCPU inside
// KVM_RUN holds its mutex, so those calls return -EBUSY while any vCPU is inside KVM_RUN
// (scenario-language.md "vCPU run state"). CTRL INIT takes no vCPU lock (vgic_init returns 0 when
// already initialized, which a running vCPU implies), nor do ADDR and NR_IRQS.
//
// A `set_attr` whose value is absent stands for a bad user pointer: -EFAULT where KVM reads it.

import { E2BIG, EBUSY, EEXIST, EFAULT, EINVAL, ENOENT, ENXIO } from '../../engine/errno.js';
import type { AttrResult, DeviceKind, StepContext } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import { vcpuByAffinity, vcpuById } from '../../engine/state.js';
import { cpuSysregsGet, cpuSysregsHas, cpuSysregsSet, sysregOfAttr } from './cpuif.js';
import { distHasRegister, distUaccessRead, distUaccessWrite } from './dist-registers.js';
import {
  allPlaced,
  checkBase,
  getAddr,
  hasAddr,
  mapDistributor,
  placementRefused,
  placeVcpu,
  setAddr,
} from './kvm-device-addr.js';
import { redistHasRegister, redistUaccessRead, redistUaccessWrite } from './redist-registers.js';
import type { LpiHooks } from './regs-common.js';
import { initGicState, newGicCpuState, newGicState } from './reset.js';
import { type GicState, VGIC_NR_PRIVATE_IRQS, VGIC_NR_SGIS } from './state.js';
import { configureVsgis } from './vsgi.js';

/** KVM_DEV_ARM_VGIC_GRP_* (arch/arm64/include/uapi/asm/kvm.h). */
export const GRP_ADDR = 0;
export const GRP_DIST_REGS = 1;
export const GRP_NR_IRQS = 3;
export const GRP_CTRL = 4;
export const GRP_REDIST_REGS = 5;
export const GRP_CPU_SYSREGS = 6;
export const GRP_LEVEL_INFO = 7;
/** KVM_DEV_ARM_VGIC_CTRL_INIT, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES. */
export const CTRL_INIT = 0n;
export const CTRL_SAVE_PENDING_TABLES = 3n;

/** VGIC_V3_MAX_CPUS. */
export const VGIC_V3_MAX_CPUS = 512;
/** VGIC_MAX_RESERVED: NR_IRQS may not exceed it (so 992 is the largest multiple of 32 accepted). */
const VGIC_MAX_RESERVED = 1023;
/** GICD_IIDR and GICD_TYPER2 offsets: DIST_REGS allowed before INIT (6.17+, reg_allowed_pre_init). */
const GICD_IIDR = 0x0008;
const GICD_TYPER2 = 0x000c;
/** LEVEL_INFO attr: info [31:10] (VGIC_LEVEL_INFO_LINE_LEVEL = 0), vINTID [9:0]. */
const LEVEL_INFO_SHIFT = 10n;
const LEVEL_INFO_MASK = 0x3f_ffffn;
const LEVEL_INFO_INTID_MASK = 0x3ffn;
const OFFSET_MASK = 0xffff_ffffn;
const U32 = 0xffff_ffffn;
/** INITIAL_PROPBASER_VALUE that vgic_its_create stores (devices/its/state.ts has the same). */
const INITIAL_PROPBASER_VALUE_FOR_ITS = 0x580n;

/**
 * What other models contribute to the vGICv3 device (filled in by the ITS issue). Absent: a VM
 * without an ITS, where SAVE_PENDING_TABLES has no LPI to write.
 */
export interface VgicV3Extensions {
  /** LPI work behind GICR_CTLR.EnableLPIs, GICR_INVLPIR, GICR_INVALLR (redistributor accesses). */
  lpi?: LpiHooks;
  /**
   * CTRL SAVE_PENDING_TABLES after its checks (vgic_v3_save_pending_tables): write each LPI's
   * pending bit into its vCPU's pending table in guest RAM; 0 or a negative errno (-EFAULT).
   */
  savePendingTables?: (vm: VmState, gic: GicState, ctx: StepContext) => number;
}

/** kvm_trylock_all_vcpus fails: some vCPU is inside KVM_RUN. Pure. */
function anyVcpuRunning(vm: VmState): boolean {
  return vm.vcpus.some((v) => v.inRun);
}

// ---- lifecycle ------------------------------------------------------------------------------

/**
 * KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_V3) (kvm_vgic_create): a vGIC exists → -EEXIST; a vCPU
 * inside KVM_RUN (lock) or one that has run → -EBUSY; more than 512 vCPUs → -E2BIG; else the
 * distributor state (nASSGIcap = the host's vSGI capability) and every existing vCPU's private
 * IRQs (vgic_allocate_private_irqs_locked).
 */
export function createVgicV3(vm: VmState): number {
  if (vm.devices.gic) return -EEXIST;
  if (anyVcpuRunning(vm) || vm.vcpus.some((v) => v.ran)) return -EBUSY;
  if (vm.vcpus.length > VGIC_V3_MAX_CPUS) return -E2BIG;
  vm.devices.gic = newGicState(vm.host);
  // has_its and PROPBASER live in the VM's vgic_dist: an ITS created first keeps them.
  if (vm.devices.its) {
    vm.devices.gic.hasIts = true;
    vm.devices.gic.propbaser = INITIAL_PROPBASER_VALUE_FOR_ITS;
  }
  for (const vcpu of vm.vcpus) vcpu.devices.gic = newGicCpuState();
  return 0;
}

/**
 * kvm_arch_vcpu_precreate and the failure half of kvm_vgic_vcpu_init: after INIT → -EBUSY; a
 * redistributor slot is free but the layout with the vCPUs online now fails vgic_v3_check_base →
 * -EINVAL (vgic_register_redist_iodev; KVM checks this before the duplicate-id -EEXIST).
 */
export function vgicVcpuPrecreate(vm: VmState): number {
  const gic = vm.devices.gic;
  if (!gic) return 0;
  if (gic.initialized) return -EBUSY;
  if (placementRefused(vm, gic, vm.vcpus.length)) return -EINVAL;
  return 0;
}

/**
 * kvm_vgic_vcpu_init: private IRQs for the new vCPU, and its redistributor in the first region
 * with room (the check already passed in `vgicVcpuPrecreate`; online excludes the new vCPU).
 */
export function vgicVcpuCreated(vm: VmState, vcpu: VcpuState): void {
  const gic = vm.devices.gic;
  if (!gic) return;
  vcpu.devices.gic = newGicCpuState();
  const position = vm.vcpus.indexOf(vcpu);
  placeVcpu(vm, gic, position, vm.vcpus.length - 1);
}

/**
 * kvm_vgic_map_resources → vgic_v3_map_resources at a vCPU's first KVM_RUN, once per VM: a vCPU
 * without a redistributor or no distributor base → -ENXIO; regions outside the IPA space or the
 * distributor overlapping a region → -EINVAL; no CTRL INIT → -EBUSY; on a GICv4.1 host the
 * SGIs follow nASSGIreq (vgic_v4_configure_vsgis); the distributor frame is mapped; ready.
 * The KVM core marks the VM dead on failure (kvm_vm_dead).
 */
export function vgicFirstRun(vm: VmState): number {
  const gic = vm.devices.gic;
  if (!gic || gic.ready) return 0;
  if (!allPlaced(vm)) return -ENXIO;
  if (gic.distBase === null) return -ENXIO;
  if (!checkBase(vm, gic, vm.vcpus.length)) return -EINVAL;
  if (!gic.initialized) return -EBUSY;
  if (vm.host === 'gicv4.1') configureVsgis(vm, gic);
  mapDistributor(vm, gic);
  gic.ready = true;
  return 0;
}

// ---- KVM_IRQ_LINE ---------------------------------------------------------------------------

/**
 * KVM_IRQ_LINE for SPIs and PPIs (arm.c kvm_vm_ioctl_irq_line, vgic.c kvm_vgic_inject_irq,
 * vgic_validate_injection); the KVM core has already answered -ENXIO without a vGIC. PPI: the vCPU
 * id must exist and the INTID be 16–31 (-EINVAL); SPI: INTID >= 32 (-EINVAL); then not initialized
 * → -EBUSY (no lazy init for GICv3); an INTID with no IRQ → -EINVAL. Level: the line is set when
 * it changes; edge: a rising edge sets the latch, level 0 does nothing.
 */
export function vgicIrqLine(
  vm: VmState,
  kind: 'spi' | 'ppi',
  vcpuId: number,
  intid: number,
  level: number,
): number {
  const gic = vm.devices.gic;
  if (!gic) return -ENXIO;
  let vcpu: VcpuState | undefined;
  if (kind === 'ppi') {
    vcpu = vcpuById(vm, vcpuId);
    if (!vcpu) return -EINVAL;
    if (intid < VGIC_NR_SGIS || intid >= VGIC_NR_PRIVATE_IRQS) return -EINVAL;
  } else if (intid < VGIC_NR_PRIVATE_IRQS) {
    return -EINVAL;
  }
  if (!gic.initialized) return -EBUSY;
  const irq =
    intid < VGIC_NR_PRIVATE_IRQS
      ? vcpu?.devices.gic?.irqs[intid]
      : intid < VGIC_NR_PRIVATE_IRQS + gic.nrSpis
        ? gic.spis[intid - VGIC_NR_PRIVATE_IRQS]
        : undefined;
  if (!irq) return -EINVAL;
  const high = level !== 0;
  if (irq.level) {
    if (irq.lineLevel !== high) irq.lineLevel = high;
  } else if (high) {
    irq.pendingLatch = true;
  }
  return 0;
}

// ---- register groups (vgic_v3_attr_regs_access) -----------------------------------------------

/** vgic_v3_parse_attr: DIST_REGS → vCPU 0; others → the vCPU whose affinity is attr[63:32]. Pure. */
function attrVcpu(vm: VmState, group: number, attr: bigint): VcpuState | undefined {
  if (group === GRP_DIST_REGS) return vm.vcpus[0];
  return vcpuByAffinity(vm, Number((attr >> 32n) & U32));
}

function isRegGroup(group: number): boolean {
  return (
    group === GRP_DIST_REGS ||
    group === GRP_REDIST_REGS ||
    group === GRP_CPU_SYSREGS ||
    group === GRP_LEVEL_INFO
  );
}

/** reg_allowed_pre_init (6.17+): DIST_REGS GICD_IIDR and GICD_TYPER2. Pure. */
function allowedPreInit(group: number, attr: bigint): boolean {
  if (group !== GRP_DIST_REGS) return false;
  const offset = Number(attr & OFFSET_MASK);
  return offset === GICD_IIDR || offset === GICD_TYPER2;
}

/**
 * The common front of vgic_v3_attr_regs_access: the vCPU (-EINVAL), the value for a 32-bit set
 * (-EFAULT), the vCPU locks (-EBUSY), INIT (-EBUSY except GICD_IIDR/GICD_TYPER2).
 */
function regsAccessFront(
  vm: VmState,
  gic: GicState,
  group: number,
  attr: bigint,
  write: boolean,
  value: bigint | null,
): VcpuState | number {
  const vcpu = attrVcpu(vm, group, attr);
  if (!vcpu) return -EINVAL;
  if (write && group !== GRP_CPU_SYSREGS && value === null) return -EFAULT;
  if (anyVcpuRunning(vm)) return -EBUSY;
  if (!gic.initialized && !allowedPreInit(group, attr)) return -EBUSY;
  return vcpu;
}

/** vgic_read_irq_line_level_info: bit n for INTID base+n >= 16, existing, level, line high. Pure. */
function readLevelInfo(gic: GicState, vcpu: VcpuState, base: number): bigint {
  let value = 0;
  const limit = gic.nrSpis + VGIC_NR_PRIVATE_IRQS;
  for (let i = 0; i < 32; i++) {
    const intid = base + i;
    if (intid < VGIC_NR_SGIS || intid >= limit) continue;
    const irq =
      intid < VGIC_NR_PRIVATE_IRQS ? vcpu.devices.gic?.irqs[intid] : gic.spis[intid - VGIC_NR_PRIVATE_IRQS];
    if (irq?.level && irq.lineLevel) value |= 1 << i;
  }
  return BigInt(value >>> 0);
}

/**
 * vgic_write_irq_line_level_info: the line of every INTID >= 16 that exists is assigned, whatever
 * its config ("line level is set irrespective of irq type"). Mutates the draft.
 */
function writeLevelInfo(gic: GicState, vcpu: VcpuState, base: number, value: bigint): void {
  const limit = gic.nrSpis + VGIC_NR_PRIVATE_IRQS;
  for (let i = 0; i < 32; i++) {
    const intid = base + i;
    if (intid < VGIC_NR_SGIS || intid >= limit) continue;
    const irq =
      intid < VGIC_NR_PRIVATE_IRQS ? vcpu.devices.gic?.irqs[intid] : gic.spis[intid - VGIC_NR_PRIVATE_IRQS];
    if (irq) irq.lineLevel = ((value >> BigInt(i)) & 1n) === 1n;
  }
}

function levelInfoIntid(attr: bigint): number | undefined {
  if (((attr >> LEVEL_INFO_SHIFT) & LEVEL_INFO_MASK) !== 0n) return undefined;
  return Number(attr & LEVEL_INFO_INTID_MASK);
}

function setRegs(
  vm: VmState,
  gic: GicState,
  group: number,
  attr: bigint,
  value: bigint | null,
  ext: VgicV3Extensions,
  ctx: StepContext,
): number {
  const vcpu = regsAccessFront(vm, gic, group, attr, true, value);
  if (typeof vcpu === 'number') return vcpu;
  const offset = Number(attr & OFFSET_MASK);
  switch (group) {
    case GRP_DIST_REGS:
      return distUaccessWrite(vm, vcpu, offset, (value ?? 0n) & U32, ctx);
    case GRP_REDIST_REGS:
      return redistUaccessWrite(vm, vcpu, offset, (value ?? 0n) & U32, ctx, ext.lpi);
    case GRP_CPU_SYSREGS: {
      const cpu = vcpu.devices.gic;
      if (!cpu) return -EINVAL;
      const sysreg = sysregOfAttr(attr);
      if (value === null) return cpuSysregsHas(sysreg) === 0 ? -EFAULT : -ENOENT;
      return cpuSysregsSet(cpu, sysreg, value);
    }
    default: {
      const intid = levelInfoIntid(attr);
      if (intid === undefined || intid % 32 !== 0) return -EINVAL;
      writeLevelInfo(gic, vcpu, intid, (value ?? 0n) & U32);
      return 0;
    }
  }
}

function getRegs(
  vm: VmState,
  gic: GicState,
  group: number,
  attr: bigint,
  ext: VgicV3Extensions,
  ctx: StepContext,
): AttrResult {
  const vcpu = regsAccessFront(vm, gic, group, attr, false, null);
  if (typeof vcpu === 'number') return { rc: vcpu };
  const offset = Number(attr & OFFSET_MASK);
  switch (group) {
    case GRP_DIST_REGS:
      return distUaccessRead(vm, vcpu, offset, ctx);
    case GRP_REDIST_REGS:
      return redistUaccessRead(vm, vcpu, offset, ctx, ext.lpi);
    case GRP_CPU_SYSREGS: {
      const cpu = vcpu.devices.gic;
      return cpu ? cpuSysregsGet(cpu, sysregOfAttr(attr)) : { rc: -EINVAL };
    }
    default: {
      const intid = levelInfoIntid(attr);
      if (intid === undefined || intid % 32 !== 0) return { rc: -EINVAL };
      return { rc: 0, value: readLevelInfo(gic, vcpu, intid) };
    }
  }
}

// ---- NR_IRQS and CTRL ---------------------------------------------------------------------------

/**
 * NR_IRQS set (vgic_set_common_attr): fewer than 64, more than 1023 or not a multiple of 32 →
 * -EINVAL; nr_spis already fixed (set before, or defaulted by INIT) → -EBUSY.
 */
function setNrIrqs(gic: GicState, value: bigint | null): number {
  if (value === null) return -EFAULT;
  const val = Number(value & U32);
  if (val < VGIC_NR_PRIVATE_IRQS + 32 || val > VGIC_MAX_RESERVED || (val & 31) !== 0) return -EINVAL;
  if (gic.nrSpis !== 0) return -EBUSY;
  gic.nrSpis = val - VGIC_NR_PRIVATE_IRQS;
  return 0;
}

/**
 * CTRL INIT (vgic_init): idempotent; nr_spis defaults to 224; SPIs allocated, private IRQs group 1
 * with their vCPU's affinity, CPU interfaces reset; initialized. (KVM's "vCPU mid-creation" -EBUSY
 * cannot arise: vCPU creation is atomic here.)
 */
export function ctrlInit(vm: VmState, gic: GicState): number {
  if (gic.initialized) return 0;
  initGicState(vm, gic);
  gic.initialized = true;
  return 0;
}

function setCtrl(vm: VmState, gic: GicState, attr: bigint, ext: VgicV3Extensions, ctx: StepContext): number {
  if (attr === CTRL_INIT) return ctrlInit(vm, gic);
  if (attr === CTRL_SAVE_PENDING_TABLES) {
    if (anyVcpuRunning(vm)) return -EBUSY;
    if (!gic.initialized) return -ENXIO;
    // Without the ITS extension the VM has no LPI, so there is no pending bit to write.
    return ext.savePendingTables?.(vm, gic, ctx) ?? 0;
  }
  return -ENXIO;
}

// ---- the device kind ------------------------------------------------------------------------------

/** The vGICv3 as a registry DeviceKind; `ext` carries what the ITS model adds. */
export function makeVgicV3Device(ext: VgicV3Extensions = {}): DeviceKind {
  return {
    kind: 'vgic-v3',
    handle: 'gic',
    create: (vm) => createVgicV3(vm),
    setAttr(vm, group, attr, value, ctx) {
      const gic = vm.devices.gic;
      if (!gic) return -ENXIO;
      if (isRegGroup(group)) return setRegs(vm, gic, group, attr, value, ext, ctx);
      switch (group) {
        case GRP_ADDR:
          return setAddr(vm, gic, attr, value);
        case GRP_NR_IRQS:
          return setNrIrqs(gic, value);
        case GRP_CTRL:
          return setCtrl(vm, gic, attr, ext, ctx);
        default:
          return -ENXIO;
      }
    },
    getAttr(vm, group, attr, preset, ctx) {
      const gic = vm.devices.gic;
      if (!gic) return { rc: -ENXIO };
      if (isRegGroup(group)) return getRegs(vm, gic, group, attr, ext, ctx);
      switch (group) {
        case GRP_ADDR:
          return getAddr(gic, attr, preset);
        case GRP_NR_IRQS:
          return { rc: 0, value: BigInt(gic.nrSpis + VGIC_NR_PRIVATE_IRQS) };
        default:
          return { rc: -ENXIO };
      }
    },
    hasAttr(vm, group, attr) {
      switch (group) {
        case GRP_ADDR:
          return hasAddr(attr);
        case GRP_DIST_REGS:
        case GRP_REDIST_REGS:
        case GRP_CPU_SYSREGS: {
          const vcpu = attrVcpu(vm, group, attr);
          if (!vcpu) return -EINVAL;
          if (group === GRP_CPU_SYSREGS) return cpuSysregsHas(sysregOfAttr(attr));
          const offset = Number(attr & OFFSET_MASK);
          return group === GRP_DIST_REGS
            ? distHasRegister(vm, vcpu, offset)
            : redistHasRegister(vm, vcpu, offset);
        }
        case GRP_NR_IRQS:
          return 0;
        case GRP_LEVEL_INFO:
          return ((attr >> LEVEL_INFO_SHIFT) & LEVEL_INFO_MASK) === 0n ? 0 : -ENXIO;
        case GRP_CTRL:
          return attr === CTRL_INIT || attr === CTRL_SAVE_PENDING_TABLES ? 0 : -ENXIO;
        default:
          return -ENXIO;
      }
    },
  };
}
