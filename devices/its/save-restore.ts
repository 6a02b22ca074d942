// ITS table save/restore in table ABI revision 0 and the LPI pending-table save (vits.md §4,
// §5.2; Linux arch/arm64/kvm/vgic/vgic-its.c vgic_its_save_tables_v0,
// vgic_its_save_device_tables, vgic_its_save_itt, vgic_its_save_ite, vgic_its_save_dte,
// vgic_its_save_collection_table, vgic_its_save_cte, vgic_its_restore_tables_v0,
// vgic_its_restore_collection_table, vgic_its_restore_cte, vgic_its_restore_device_tables,
// handle_l1_dte, vgic_its_restore_dte, vgic_its_restore_itt, vgic_its_restore_ite;
// vgic-v3.c vgic_v3_save_pending_tables).
//
// Mainline behaviour (vits.md §4.1): a device whose DTE slot fails check_id is skipped by the
// save (and by the DTE "next" chain), an ITE orphaned by MAPC V=0 is saved as 0 and skipped by
// the ITE "next" chain, the restore rejects a DTE with Size + 1 > 16.
//
// Quirk (decisions.md): `its-restore-unmapped-collection` — the restore rejects a CTE whose
// target is 0xFFFFFFFF with -EINVAL, as KVM did before 8c58be34494b (it compared the target
// with the vCPU count).
//
// Errors as KVM returns them: -EFAULT for a guest access outside guest RAM (kvm_read_guest /
// kvm_write_guest without a memslot), -EINVAL for inconsistent table data, -EEXIST for an ICID
// restored twice. -ENOMEM (allocation failure) and -EACCES (GICv4-forwarded LPIs) cannot arise
// in the model: it has no allocator limit and no GICv4. Partial restores are undone as KVM undoes
// them: a collection-table error frees the whole collection list, a device-table error the whole
// device list (releasing the LPIs of the restored ITEs) and then the collection list.
//
// Pure reducers over the VM draft; nothing here throws.

import { EEXIST, EFAULT, EINVAL } from '../../engine/errno.js';
import { inRam, loadRam, PAGES_PER_BLOCK, type PageOwnership, storeRam } from '../../engine/ram.js';
import { PAGE_SIZE, RAM_BASE, RAM_SIZE, type VmState, vcpuById } from '../../engine/state.js';
import { hasQuirk } from '../gicv3/regs-common.js';
import { addLpi, lpiPendingByteAddress } from './lpis.js';
import { freeCollectionList, freeDevice, freeDeviceList } from './reset.js';
import {
  ABI_0_ESZ,
  COLLECTION_NOT_MAPPED,
  GIC_LPI_OFFSET,
  type ItsCollection,
  type ItsDevice,
  type ItsState,
  VITS_TYPER_IDBITS,
} from './state.js';
import {
  checkId,
  decodeBaser,
  decodeCte,
  decodeDte,
  decodeIte,
  decodeL1Entry,
  dteNextChain,
  encodeCte,
  encodeDte,
  encodeIte,
  GITS_LVL1_ENTRY_SIZE,
  type GuestRead64,
  type GuestVisible,
  iteAddress,
  iteNextChain,
  ittBytes,
  l2StartId,
  SZ_64K,
  scanItsTable,
  type ZeroRun,
} from './tables.js';

// ---- guest memory ------------------------------------------------------------------------------

/**
 * Zero 8-byte entries from `gpa` on (at least 1: the caller saw one), within `len` bytes and
 * guest RAM: absent pages count whole, present ones are scanned.
 */
function zeroRun(vm: VmState): ZeroRun {
  return (gpa, len) => {
    const start = Number(gpa);
    if (start % 8 !== 0 || start < RAM_BASE) return 1;
    const end = Math.min(start + len, RAM_BASE + RAM_SIZE);
    let addr = start;
    while (addr + 8 <= end) {
      const pageIndex = Math.floor((addr - RAM_BASE) / PAGE_SIZE);
      const pageStart = RAM_BASE + pageIndex * PAGE_SIZE;
      const limit = Math.min(end, pageStart + PAGE_SIZE);
      const page = vm.ram[Math.floor(pageIndex / PAGES_PER_BLOCK)]?.[pageIndex % PAGES_PER_BLOCK];
      if (!page) {
        addr += Math.floor((limit - addr) / 8) * 8;
        continue;
      }
      for (; addr + 8 <= limit; addr += 8) {
        const off = addr - pageStart;
        for (let i = 0; i < 8; i++) if (page[off + i] !== 0) return Math.max(1, (addr - start) / 8);
      }
    }
    return Math.max(1, (addr - start) / 8);
  };
}

function guestRead64(vm: VmState): GuestRead64 {
  return (addr) => (inRam(addr, ABI_0_ESZ) ? loadRam(vm.ram, addr, ABI_0_ESZ) : undefined);
}

const guestVisible: GuestVisible = (addr) => inRam(addr, 1);

/** vgic_its_write_entry_lock: one little-endian u64; -EFAULT outside guest RAM. */
function writeEntry(vm: VmState, addr: bigint, value: bigint, owned: PageOwnership | undefined): number {
  if (!inRam(addr, ABI_0_ESZ)) return -EFAULT;
  storeRam(vm.ram, addr, ABI_0_ESZ, value, owned);
  return 0;
}

const byId =
  <T>(key: (t: T) => number) =>
  (a: T, b: T) =>
    key(a) - key(b);

// ---- SAVE_TABLES ---------------------------------------------------------------------------------

/**
 * vgic_its_save_itt: sorts the ITEs by EventID (in place, stable as list_sort) and writes each at
 * ITT + EventID × 8. An ITE whose collection was freed (MAPC V=0) is written as 0; the others as
 * (next << 48) | (pINTID << 16) | ICID, next = distance to the following ITE that has a
 * collection, capped at 2^16 − 1.
 */
function saveItt(vm: VmState, device: ItsDevice, owned: PageOwnership | undefined): number {
  device.ites.sort(byId((e) => e.eventId));
  const linked = device.ites.filter((e) => e.icid !== null);
  const nexts = iteNextChain(linked.map((e) => e.eventId));
  for (const ite of device.ites) {
    const i = linked.indexOf(ite);
    const value =
      ite.icid === null ? 0n : encodeIte({ next: nexts[i] ?? 0, pintid: ite.intid, icid: ite.icid });
    const rc = writeEntry(vm, iteAddress(BigInt(device.ittAddr), ite.eventId), value, owned);
    if (rc !== 0) return rc;
  }
  return 0;
}

/**
 * vgic_its_save_device_tables: nothing without BASER0.Valid; else the devices sorted by DeviceID
 * (in place); a device whose slot fails check_id is skipped (mainline); for each other device its
 * ITT, then its DTE (1 << 63) | (next << 49) | ((ITT >> 8) << 5) | (EventID bits − 1), next =
 * distance to the following saved device, capped at 2^14 − 1. Level-1 entries are never written.
 */
function saveDeviceTables(vm: VmState, its: ItsState, owned: PageOwnership | undefined): number {
  const baser = its.baserDevice;
  if (!decodeBaser(baser).valid) return 0;
  its.devices.sort(byId((d) => d.deviceId));
  const read64 = guestRead64(vm);
  const slots = its.devices
    .map((device) => ({ device, gpa: checkId(baser, device.deviceId, read64, guestVisible) }))
    .filter((s): s is { device: ItsDevice; gpa: bigint } => s.gpa !== undefined);
  const nexts = dteNextChain(slots.map((s) => s.device.deviceId));
  for (const [i, { device, gpa }] of slots.entries()) {
    let rc = saveItt(vm, device, owned);
    if (rc !== 0) return rc;
    const dte = encodeDte({
      valid: true,
      next: nexts[i] ?? 0,
      ittAddr: BigInt(device.ittAddr),
      size: device.numEventIdBits - 1,
    });
    rc = writeEntry(vm, gpa, dte, owned);
    if (rc !== 0) return rc;
  }
  return 0;
}

/**
 * vgic_its_save_collection_table: nothing without BASER1.Valid; else one CTE per collection in
 * list order, packed from slot 0 ((1 << 63) | (target << 16) | ICID; unmapped:
 * 0x8000FFFFFFFF0000 | ICID), then a zero CTE unless the table is exactly full.
 */
function saveCollectionTable(vm: VmState, its: ItsState, owned: PageOwnership | undefined): number {
  const b = decodeBaser(its.baserCollection);
  if (!b.valid) return 0;
  let gpa = b.base;
  let filled = 0;
  for (const c of its.collections) {
    const rc = writeEntry(vm, gpa, encodeCte({ valid: true, target: c.target, icid: c.icid }), owned);
    if (rc !== 0) return rc;
    gpa += BigInt(ABI_0_ESZ);
    filled += ABI_0_ESZ;
  }
  if (filled === b.tableBytes) return 0;
  return writeEntry(vm, gpa, 0n, owned);
}

/**
 * KVM_DEV_ARM_ITS_SAVE_TABLES (vgic_its_save_tables_v0): the device tables (with the ITTs), then
 * the collection table. 0, or -EFAULT when an entry is outside guest RAM (what was written
 * before stays written). Sorts the device and ITE lists in place, as KVM does.
 */
export function saveTables(vm: VmState, its: ItsState, owned?: PageOwnership): number {
  const rc = saveDeviceTables(vm, its, owned);
  if (rc !== 0) return rc;
  return saveCollectionTable(vm, its, owned);
}

// ---- RESTORE_TABLES -------------------------------------------------------------------------------

/**
 * vgic_its_restore_cte: 0 for an entry with V = 0 (end of table); -EINVAL for a target that is
 * neither COLLECTION_NOT_MAPPED nor an existing vCPU id (with the quirk, also for
 * COLLECTION_NOT_MAPPED); -EEXIST for an ICID already present; -EINVAL when check_id fails for
 * the ICID; else the collection is appended and 1 returned.
 */
function restoreCte(vm: VmState, its: ItsState, entry: bigint): number {
  const cte = decodeCte(entry);
  if (!cte.valid) return 0;
  if (cte.target === COLLECTION_NOT_MAPPED && hasQuirk(vm, 'its-restore-unmapped-collection')) return -EINVAL;
  if (cte.target !== COLLECTION_NOT_MAPPED && !vcpuById(vm, cte.target)) return -EINVAL;
  if (its.collections.some((c) => c.icid === cte.icid)) return -EEXIST;
  if (checkId(its.baserCollection, cte.icid, guestRead64(vm), guestVisible) === undefined) return -EINVAL;
  its.collections.push({ icid: cte.icid, target: cte.target } satisfies ItsCollection);
  return 1;
}

/**
 * vgic_its_restore_collection_table: reads CTEs from slot 0 until one is invalid or the table
 * ends. On an error (-EFAULT on a failing read included) the whole collection list is freed.
 */
function restoreCollectionTable(vm: VmState, its: ItsState): number {
  const b = decodeBaser(its.baserCollection);
  if (!b.valid) return 0;
  const read64 = guestRead64(vm);
  let gpa = b.base;
  let rc = 1;
  for (let read = 0; read < b.tableBytes; read += ABI_0_ESZ) {
    const entry = read64(gpa);
    rc = entry === undefined ? -EFAULT : restoreCte(vm, its, entry);
    if (rc <= 0) break;
    gpa += BigInt(ABI_0_ESZ);
  }
  if (rc > 0) return 0;
  if (rc < 0) freeCollectionList(its);
  return rc;
}

/**
 * vgic_its_restore_ite for `device`: pINTID 0 → advance 1; pINTID < 8192 → -EINVAL; EventID +
 * next beyond the ITT → -EINVAL; ICID not restored → -EINVAL; ITT slot not in guest RAM →
 * -EINVAL; else the ITE and (get-or-create, vgic_add_lpi) its LPI, targeting the collection's
 * vCPU when the collection is mapped. Returns next (0 ends the ITT).
 */
function restoreIte(
  vm: VmState,
  its: ItsState,
  device: ItsDevice,
  eventId: number,
  entry: bigint,
  owned: PageOwnership | undefined,
): number {
  const ite = decodeIte(entry);
  if (ite.pintid === 0) return 1;
  if (ite.pintid < GIC_LPI_OFFSET) return -EINVAL;
  if (eventId + ite.next >= 2 ** device.numEventIdBits) return -EINVAL;
  const collection = its.collections.find((c) => c.icid === ite.icid);
  if (!collection) return -EINVAL;
  if (eventId >= 2 ** device.numEventIdBits || !guestVisible(iteAddress(BigInt(device.ittAddr), eventId))) {
    return -EINVAL;
  }
  const target =
    collection.target !== COLLECTION_NOT_MAPPED && vcpuById(vm, collection.target) ? collection.target : null;
  const rc = addLpi(vm, ite.pintid, target, owned);
  if (rc !== 0) return rc;
  device.ites.push({ eventId, intid: ite.pintid, icid: ite.icid });
  return ite.next;
}

/**
 * vgic_its_restore_dte: V = 0 → advance 1; Size + 1 > 16 → -EINVAL (mainline); check_id fails
 * → -EINVAL; else the device is created and its ITT restored (vgic_its_restore_itt); an ITT
 * error frees the device and is returned. Returns the DTE's next (0 ends the scan).
 */
function restoreDte(
  vm: VmState,
  its: ItsState,
  id: number,
  entry: bigint,
  owned: PageOwnership | undefined,
): number {
  const dte = decodeDte(entry);
  if (!dte.valid) return 1;
  const numEventIdBits = dte.size + 1;
  if (numEventIdBits > VITS_TYPER_IDBITS) return -EINVAL;
  if (checkId(its.baserDevice, id, guestRead64(vm), guestVisible) === undefined) return -EINVAL;
  const device: ItsDevice = { deviceId: id, ittAddr: Number(dte.ittAddr), numEventIdBits, ites: [] };
  its.devices.push(device);
  let rc = scanItsTable(
    dte.ittAddr,
    ittBytes(dte.size),
    ABI_0_ESZ,
    0,
    guestRead64(vm),
    (eventId, e) => restoreIte(vm, its, device, eventId, e, owned),
    zeroRun(vm),
  );
  if (rc > 0) rc = 0;
  if (rc !== 0) {
    freeDevice(vm, its, device);
    return rc;
  }
  return dte.next;
}

/**
 * vgic_its_restore_device_tables: nothing without BASER0.Valid; flat: scan the table from
 * DeviceID 0; indirect: scan the level-1 table, each valid entry's 64 KiB level-2 table from
 * l1 index × 8192 (an L2 scan returning 0 ends everything, 1 goes on with the next L1 entry).
 * On an error the whole device list is freed.
 */
function restoreDeviceTables(vm: VmState, its: ItsState, owned: PageOwnership | undefined): number {
  const b = decodeBaser(its.baserDevice);
  if (!b.valid) return 0;
  const read64 = guestRead64(vm);
  const dteFn = (id: number, entry: bigint) => restoreDte(vm, its, id, entry, owned);
  const zeros = zeroRun(vm);
  let rc: number;
  if (b.indirect) {
    rc = scanItsTable(
      b.base,
      b.tableBytes,
      GITS_LVL1_ENTRY_SIZE,
      0,
      read64,
      (l1Index, entry) => {
        const l1 = decodeL1Entry(entry);
        if (!l1.valid) return 1;
        return scanItsTable(l1.l2Addr, SZ_64K, ABI_0_ESZ, l2StartId(l1Index), read64, dteFn, zeros);
      },
      zeros,
    );
  } else {
    rc = scanItsTable(b.base, b.tableBytes, ABI_0_ESZ, 0, read64, dteFn, zeros);
  }
  if (rc > 0) rc = 0;
  if (rc < 0) freeDeviceList(vm, its);
  return rc;
}

/**
 * KVM_DEV_ARM_ITS_RESTORE_TABLES (vgic_its_restore_tables_v0): the collection table, then the
 * device tables; a device-table error also frees every collection. Existing lists are not
 * cleared first (a second restore fails with -EEXIST on the first CTE). 0 or a negative errno.
 */
export function restoreTables(vm: VmState, its: ItsState, owned?: PageOwnership): number {
  let rc = restoreCollectionTable(vm, its);
  if (rc !== 0) return rc;
  rc = restoreDeviceTables(vm, its, owned);
  if (rc !== 0) freeCollectionList(its);
  return rc;
}

// ---- SAVE_PENDING_TABLES ------------------------------------------------------------------------------

/**
 * KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES after its checks (vgic_v3_save_pending_tables): for every
 * LPI with a target vCPU, in INTID order, the byte of that vCPU's pending table holding the LPI's
 * bit is read (only when it is not the byte read last) and written back only when the bit differs
 * from the pending latch. LPIs start at 8192, so the first KiB is never touched. -EFAULT when a
 * byte is outside guest RAM (earlier writes stay).
 */
export function savePendingTables(vm: VmState, owned?: PageOwnership): number {
  let lastPtr: bigint | undefined;
  let val = 0;
  for (const irq of Object.values(vm.devices.lpis?.irqs ?? {})) {
    if (irq.targetVcpu === null) continue;
    const cpu = vcpuById(vm, irq.targetVcpu)?.devices.gic;
    if (!cpu) continue;
    const ptr = lpiPendingByteAddress(cpu.pendbaser, irq.intid);
    if (ptr !== lastPtr) {
      if (!inRam(ptr, 1)) return -EFAULT;
      val = Number(loadRam(vm.ram, ptr, 1));
      lastPtr = ptr;
    }
    const bit = 1 << (irq.intid % 8);
    const stored = (val & bit) !== 0;
    if (stored === irq.pendingLatch) continue;
    val = irq.pendingLatch ? val | bit : val & ~bit;
    storeRam(vm.ram, ptr, 1, BigInt(val), owned);
  }
  return 0;
}
