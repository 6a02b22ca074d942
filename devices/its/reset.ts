// vITS creation, reset and the state-dropping paths (Linux arch/arm64/kvm/vgic/vgic-its.c:
// vgic_its_create, vgic_its_set_abi / vgic_its_commit_v0, vgic_its_reset,
// vgic_its_free_device_list, vgic_its_free_collection_list, vgic_its_free_device,
// vgic_its_free_collection, its_free_ite; vgic.c vgic_put_irq; vits.md §1.1, §2, §2.6).
// Builders return fresh plain data; the other functions mutate a draft.
//
// The translation cache (vgic_its_invalidate_cache) is not modelled: it is semantically
// transparent (vits.md §3.6), so the invalidations KVM performs on these paths have no
// counterpart here.

import type { VmState } from '../../engine/state.js';
import {
  ABI_0_ESZ,
  GITS_BASER_ENTRY_SIZE_MASK,
  GITS_BASER_ENTRY_SIZE_SHIFT,
  GITS_BASER_TYPE_COLLECTION,
  GITS_BASER_TYPE_DEVICE,
  GITS_BASER_TYPE_SHIFT,
  GITS_BASER_VALID,
  INITIAL_BASER_VALUE,
  INITIAL_PROPBASER_VALUE,
  type ItsDevice,
  type ItsState,
  type LpiState,
  NR_ITS_ABIS,
} from './state.js';

/** Initial GITS_BASER0 (0x1907000000000600): device table, Entry_Size 8 after the ABI commit. */
export const GITS_BASER0_RESET =
  INITIAL_BASER_VALUE |
  (GITS_BASER_TYPE_DEVICE << GITS_BASER_TYPE_SHIFT) |
  (BigInt(ABI_0_ESZ - 1) << GITS_BASER_ENTRY_SIZE_SHIFT);
/** Initial GITS_BASER1 (0x1C07000000000600): collection table. */
export const GITS_BASER1_RESET =
  INITIAL_BASER_VALUE |
  (GITS_BASER_TYPE_COLLECTION << GITS_BASER_TYPE_SHIFT) |
  (BigInt(ABI_0_ESZ - 1) << GITS_BASER_ENTRY_SIZE_SHIFT);

/**
 * The ITS as KVM_CREATE_DEVICE(vgic-its) leaves it (vgic_its_create, then
 * vgic_its_set_abi(NR_ITS_ABIS - 1)): no base address, disabled, CBASER/CREADR/CWRITER 0, the
 * initial BASERs with revision 0's entry sizes, no devices or collections.
 */
export function newItsState(): ItsState {
  return {
    kind: 'vgic-its',
    base: null,
    enabled: false,
    abiRev: NR_ITS_ABIS - 1,
    baserDevice: GITS_BASER0_RESET,
    baserCollection: GITS_BASER1_RESET,
    cbaser: 0n,
    creadr: 0,
    cwriter: 0,
    devices: [],
    collections: [],
  };
}

export function newLpiState(): LpiState {
  return { irqs: {} };
}

/**
 * The state half of vgic_its_create (its checks belong to the device API): installs the ITS,
 * creates the VM-global LPI store if this is the first ITS, sets has_its and resets the VM's
 * GICR_PROPBASER to INITIAL_PROPBASER_VALUE (0x580) when a vGICv3 exists. Mutates the draft.
 */
export function installIts(vm: VmState): ItsState {
  const its = newItsState();
  vm.devices.its = its;
  vm.devices.lpis ??= newLpiState();
  const gic = vm.devices.gic;
  if (gic) {
    gic.hasIts = true;
    gic.propbaser = INITIAL_PROPBASER_VALUE;
  }
  return its;
}

/**
 * vgic_its_set_abi → abi->commit (vgic_its_commit_v0): selects the table ABI and rewrites
 * Entry_Size in both BASERs (8-byte DTE and CTE). Does not drop any table state.
 */
export function setItsAbi(its: ItsState, rev: number): void {
  its.abiRev = rev;
  const esz = BigInt(ABI_0_ESZ - 1) << GITS_BASER_ENTRY_SIZE_SHIFT;
  its.baserDevice = (its.baserDevice & ~GITS_BASER_ENTRY_SIZE_MASK) | esz;
  its.baserCollection = (its.baserCollection & ~GITS_BASER_ENTRY_SIZE_MASK) | esz;
}

/**
 * vgic_put_irq for an LPI: drops one reference and frees the LPI at 0 (its pending state is
 * lost). The model has no list-register reference, so an LPI never outlives its last ITE.
 */
export function releaseLpi(vm: VmState, intid: number): void {
  const lpis = vm.devices.lpis;
  const irq = lpis?.irqs[intid];
  if (!lpis || !irq) return;
  irq.refcount -= 1;
  if (irq.refcount <= 0) delete lpis.irqs[intid];
}

/** vgic_its_free_device: its_free_ite for every ITE (releasing the LPIs), then the device. */
export function freeDevice(vm: VmState, its: ItsState, device: ItsDevice): void {
  for (const ite of device.ites) releaseLpi(vm, ite.intid);
  device.ites = [];
  const i = its.devices.indexOf(device);
  if (i >= 0) its.devices.splice(i, 1);
}

/** vgic_its_free_device_list: every device and its ITEs (BASER0 change, CTRL_RESET, destroy). */
export function freeDeviceList(vm: VmState, its: ItsState): void {
  for (const device of its.devices) {
    for (const ite of device.ites) releaseLpi(vm, ite.intid);
  }
  its.devices = [];
}

/**
 * vgic_its_free_collection: removes the collection with `icid` (if any) and orphans every ITE
 * that pointed at it (`ite->collection = NULL`; the LPIs keep their target vCPU).
 */
export function freeCollection(its: ItsState, icid: number): void {
  const i = its.collections.findIndex((c) => c.icid === icid);
  if (i < 0) return;
  for (const device of its.devices) {
    for (const ite of device.ites) if (ite.icid === icid) ite.icid = null;
  }
  its.collections.splice(i, 1);
}

/** vgic_its_free_collection_list: every collection, in list order (BASER1 change, CTRL_RESET). */
export function freeCollectionList(its: ItsState): void {
  while (its.collections.length > 0) freeCollection(its, its.collections[0]!.icid);
}

/**
 * KVM_DEV_ARM_ITS_CTRL_RESET (vgic_its_reset): Valid cleared in both BASERs (other fields and
 * the ABI revision kept), CBASER = CREADR = CWRITER = 0, disabled, devices (with their ITEs) and
 * collections freed. The base address stays. Mutates the draft.
 */
export function resetIts(vm: VmState, its: ItsState): void {
  its.baserCollection &= ~GITS_BASER_VALID;
  its.baserDevice &= ~GITS_BASER_VALID;
  its.cbaser = 0n;
  its.creadr = 0;
  its.cwriter = 0;
  its.enabled = false;
  freeDeviceList(vm, its);
  freeCollectionList(its);
}
