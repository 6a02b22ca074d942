// KVM_DEV_ARM_VGIC_GRP_ADDR of the vGICv3 device and redistributor placement (vgic-v3.md §4.3;
// Linux arch/arm64/kvm/vgic/vgic-kvm-device.c kvm_vgic_addr, vgic_check_iorange;
// vgic-mmio-v3.c vgic_v3_set_redist_base, vgic_v3_alloc_redist_region,
// vgic_register_redist_iodev(s); vgic-v3.c vgic_v3_check_base, vgic_v3_rdist_overlap,
// vgic_dist_overlap, vgic_v3_rdist_free_slot).
//
// Address arithmetic is done in bigint, as KVM does it in u64 (wrap checks), and stored as numbers
// once it is known to be inside the IPA space (at most 52 bits).
//
// Mapping convention: KVM registers one io device per placed vCPU (128 KiB at its RD_base) when
// the vCPU is placed, and the distributor's io device only at first run
// (kvm_vgic_map_resources → vgic_register_dist_iodev). The model maps MmioRegions at the same
// moments: 'gicr' with `index` = the vCPU's position in `vm.vcpus`, 'gicd' with index 0.
//
// Not modelled: when placing the unplaced vCPUs into a new region fails, KVM's
// vgic_register_all_redist_iodevs also unregisters the io devices of the vCPUs before the failing
// one (they keep their placement). The model only drops the new region, as the failure happens
// before any vCPU is placed in it.

import { E2BIG, EEXIST, EFAULT, EINVAL, ENOENT, ENXIO } from '../../engine/errno.js';
import { mapMmio } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import { type GicState, KVM_VGIC_V3_DIST_SIZE, KVM_VGIC_V3_REDIST_SIZE, type RedistRegion } from './state.js';

/** KVM_VGIC_V3_ADDR_TYPE_* (arch/arm64/include/uapi/asm/kvm.h). */
export const KVM_VGIC_V3_ADDR_TYPE_DIST = 2n;
export const KVM_VGIC_V3_ADDR_TYPE_REDIST = 3n;
export const KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION = 5n;

/** REDIST_REGION value fields: index [11:0], flags [15:12], base [51:16], count [63:52]. */
const RDIST_INDEX_MASK = 0xfffn;
const RDIST_FLAGS_SHIFT = 12n;
const RDIST_FLAGS_MASK = 0xfn;
const RDIST_BASE_MASK = ((1n << 52n) - 1n) & ~0xffffn;
const RDIST_COUNT_SHIFT = 52n;

/** VGIC_ADDR_UNDEF as userspace reads it. */
export const VGIC_ADDR_UNDEF = (1n << 64n) - 1n;
const U64 = (1n << 64n) - 1n;
const SZ_64K = 0x1_0000n;
const DIST_SIZE = BigInt(KVM_VGIC_V3_DIST_SIZE);
const REDIST_SIZE = BigInt(KVM_VGIC_V3_REDIST_SIZE);

/** MmioRegion handler keys the registry maps the distributor and redistributors under. */
export const GICD_HANDLER = 'gicd';
export const GICR_HANDLER = 'gicr';

/**
 * vgic_check_iorange for an address not yet set: alignment of base and size (-EINVAL), u64 wrap
 * (-EINVAL), outside the IPA space (-E2BIG). Pure.
 */
export function checkIorange(vm: VmState, addr: bigint, alignment: bigint, size: bigint): number {
  if (addr % alignment !== 0n || size % alignment !== 0n) return -EINVAL;
  if (addr + size > U64) return -EINVAL;
  const physSize = 1n << BigInt(vm.ipaBits);
  if ((addr & ~(physSize - 1n)) !== 0n || addr + size > physSize) return -E2BIG;
  return 0;
}

/** vgic_v3_rd_region_size: a legacy region covers the vCPUs online now. Pure. */
export function regionSize(region: RedistRegion, online: number): bigint {
  return BigInt(region.count === 0 ? online : region.count) * REDIST_SIZE;
}

/** vgic_v3_rdist_overlap: [base, base + size) meets a redistributor region. Pure. */
export function rdistOverlap(gic: GicState, base: bigint, size: bigint, online: number): boolean {
  for (const r of gic.regions) {
    const start = BigInt(r.base);
    if (base + size > start && base < start + regionSize(r, online)) return true;
  }
  return false;
}

/** vgic_dist_overlap: [base, base + size) meets the distributor (which must be set). Pure. */
function distOverlap(gic: GicState, base: bigint, size: bigint): boolean {
  if (gic.distBase === null) return false;
  const dist = BigInt(gic.distBase);
  return base + size > dist && base < dist + DIST_SIZE;
}

/**
 * vgic_v3_check_base with `online` vCPUs: every region inside the IPA space, and the distributor
 * (if set) clear of every region. Pure.
 */
export function checkBase(vm: VmState, gic: GicState, online: number): boolean {
  for (const r of gic.regions) {
    if (checkIorange(vm, BigInt(r.base), SZ_64K, regionSize(r, online)) !== 0) return false;
  }
  if (gic.distBase === null) return true;
  return !rdistOverlap(gic, BigInt(gic.distBase), DIST_SIZE, online);
}

/** vgic_v3_rdist_free_slot: the first region with room (a legacy region is never full). Pure. */
export function freeRegion(gic: GicState): RedistRegion | undefined {
  return gic.regions.find((r) => r.count === 0 || r.freeIndex < r.count);
}

/**
 * vgic_register_redist_iodev for the vCPU at `position` in `vm.vcpus`, with `online` vCPUs
 * counted as KVM counts them at that point: already placed or no region with room → 0 (it is
 * placed later); the layout fails vgic_v3_check_base → -EINVAL; else the next slot of the first
 * region with room, mapped as a 'gicr' MmioRegion. Mutates the draft.
 */
export function placeVcpu(vm: VmState, gic: GicState, position: number, online: number): number {
  const cpu = vm.vcpus[position]?.devices.gic;
  if (!cpu || cpu.region !== null) return 0;
  const region = freeRegion(gic);
  if (!region) return 0;
  if (!checkBase(vm, gic, online)) return -EINVAL;
  cpu.region = region.index;
  cpu.slot = region.freeIndex++;
  mapMmio(vm, {
    base: region.base + cpu.slot * KVM_VGIC_V3_REDIST_SIZE,
    size: KVM_VGIC_V3_REDIST_SIZE,
    handler: GICR_HANDLER,
    index: position,
  });
  return 0;
}

/** Is a vCPU placement possible but refused by vgic_v3_check_base? (vCPU creation's view.) Pure. */
export function placementRefused(vm: VmState, gic: GicState, online: number): boolean {
  return freeRegion(gic) !== undefined && !checkBase(vm, gic, online);
}

/**
 * vgic_v3_alloc_redist_region then vgic_register_all_redist_iodevs (vgic_v3_set_redist_base):
 * the checks in KVM's order, the region appended, every unplaced vCPU placed; a placement
 * failure drops the region again. `count` 0 is the legacy V3_REDIST region.
 */
function setRedistBase(vm: VmState, gic: GicState, index: number, base: bigint, count: number): number {
  const online = vm.vcpus.length;
  const size = BigInt(count === 0 ? online : count) * REDIST_SIZE;
  if (base + size > U64) return -EINVAL;
  const last = gic.regions[gic.regions.length - 1];
  if (!last) {
    if (index !== 0) return -EINVAL;
  } else {
    if (count === 0 && last.count !== 0) return -EINVAL;
    if (count === 0) return -EEXIST;
    if (index !== last.index + 1) return -EINVAL;
  }
  if (count === 0 && distOverlap(gic, base, size)) return -EINVAL;
  if (rdistOverlap(gic, base, size, online)) return -EINVAL;
  const rc = checkIorange(vm, base, SZ_64K, size);
  if (rc !== 0) return rc;
  gic.regions.push({ index, base: Number(base), count, freeIndex: 0 });
  for (let position = 0; position < vm.vcpus.length; position++) {
    if (placeVcpu(vm, gic, position, online) < 0) {
      gic.regions.pop();
      return -EINVAL;
    }
  }
  return 0;
}

/** KVM_SET_DEVICE_ATTR(ADDR) (kvm_vgic_addr, write; -ENODEV mapped to -ENXIO by the caller's rule). */
export function setAddr(vm: VmState, gic: GicState, attr: bigint, value: bigint | null): number {
  const known =
    attr === KVM_VGIC_V3_ADDR_TYPE_DIST ||
    attr === KVM_VGIC_V3_ADDR_TYPE_REDIST ||
    attr === KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION;
  if (value === null) return -EFAULT;
  if (!known) return -ENXIO;
  const addr = value & U64;
  if (attr === KVM_VGIC_V3_ADDR_TYPE_REDIST) return setRedistBase(vm, gic, 0, addr, 0);
  if (attr === KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION) {
    const index = Number(addr & RDIST_INDEX_MASK);
    const flags = (addr >> RDIST_FLAGS_SHIFT) & RDIST_FLAGS_MASK;
    const count = Number(addr >> RDIST_COUNT_SHIFT);
    if (count === 0 || flags !== 0n) return -EINVAL;
    return setRedistBase(vm, gic, index, addr & RDIST_BASE_MASK, count);
  }
  if (gic.distBase !== null) return -EEXIST;
  const rc = checkIorange(vm, addr, SZ_64K, DIST_SIZE);
  if (rc !== 0) return rc;
  gic.distBase = Number(addr);
  return 0;
}

/**
 * KVM_GET_DEVICE_ATTR(ADDR): the distributor base, the first region's base (legacy attr), or a
 * region's `(count << 52) | base | index` for the index preset in the value (-EFAULT without
 * one, -ENOENT for an unknown index); unset addresses read VGIC_ADDR_UNDEF.
 */
export function getAddr(gic: GicState, attr: bigint, preset: bigint | null): { rc: number; value?: bigint } {
  if (attr === KVM_VGIC_V3_ADDR_TYPE_DIST) {
    return { rc: 0, value: gic.distBase === null ? VGIC_ADDR_UNDEF : BigInt(gic.distBase) };
  }
  if (attr === KVM_VGIC_V3_ADDR_TYPE_REDIST) {
    const first = gic.regions[0];
    return { rc: 0, value: first ? BigInt(first.base) : VGIC_ADDR_UNDEF };
  }
  if (attr === KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION) {
    if (preset === null) return { rc: -EFAULT };
    const index = Number(preset & RDIST_INDEX_MASK);
    const region = gic.regions.find((r) => r.index === index);
    if (!region) return { rc: -ENOENT };
    return {
      rc: 0,
      value: (BigInt(region.count) << RDIST_COUNT_SHIFT) | BigInt(region.base) | BigInt(index),
    };
  }
  return { rc: -ENXIO };
}

/** KVM_HAS_DEVICE_ATTR(ADDR): the three GICv3 address types. Pure. */
export function hasAddr(attr: bigint): number {
  return attr === KVM_VGIC_V3_ADDR_TYPE_DIST ||
    attr === KVM_VGIC_V3_ADDR_TYPE_REDIST ||
    attr === KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION
    ? 0
    : -ENXIO;
}

/** Every vCPU has a redistributor placed (vgic_v3_map_resources' first check). Pure. */
export function allPlaced(vm: VmState): boolean {
  return vm.vcpus.every((v: VcpuState) => v.devices.gic?.region !== null && v.devices.gic !== undefined);
}

/** Maps the distributor frame (vgic_register_dist_iodev at first run). Mutates the draft. */
export function mapDistributor(vm: VmState, gic: GicState): void {
  if (gic.distBase === null) return;
  mapMmio(vm, { base: gic.distBase, size: KVM_VGIC_V3_DIST_SIZE, handler: GICD_HANDLER, index: 0 });
}
