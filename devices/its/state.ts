// vITS and LPI state as plain data (vits.md §1, §9; Linux arch/arm64/kvm/vgic/vgic.h struct
// vgic_its, struct its_device / its_ite / its_collection in vgic-its.c, and the LPI half of
// struct vgic_irq). Plugs into the engine by augmenting VmDevices.
//
// Where things live:
//   - `vm.devices.its`  — the ITS (struct vgic_its): registers, devices with their ITEs, and
//     collections. One ITS per VM here (the scenario language creates at most one).
//   - `vm.devices.lpis` — the LPIs, VM-global as in KVM (`dist->lpi_xa` on struct vgic_dist, not
//     on the ITS): shared by every ITE that maps the same INTID, refcounted, and outliving an ITS
//     reset only as long as an ITE still references them. Kept apart from `GicState` because the
//     vGICv3 model owns that type and LPIs only exist with an ITS.
//
// Order (vits.md §9, style-anchors §8.2 rule 5): devices, per-device ITEs and collections are
// arrays in KVM's list insertion order; save sorts devices by DeviceID and ITEs by EventID in
// place (the sort persists, as list_sort does). LPIs are a record keyed by INTID: integer keys
// iterate in ascending order, which is the xarray order KVM walks (xa_for_each).

/** One interrupt translation entry (struct its_ite). */
export interface ItsIte {
  eventId: number;
  /** The LPI it maps (the shared `vm.devices.lpis.irqs[intid]`). */
  intid: number;
  /**
   * ICID of the collection the ITE points at; null when that collection was freed (MAPC V=0,
   * a BASER1 change or CTRL_RESET: vgic_its_free_collection sets `ite->collection = NULL`). A
   * later collection with the same ICID is a new object and is NOT re-linked (vits.md §1.1).
   */
  icid: number | null;
}

/** One device (struct its_device). */
export interface ItsDevice {
  deviceId: number;
  /** ITT guest-physical address (MAPD ITT_addr << 8; at most 52 bits, a safe integer). */
  ittAddr: number;
  /** MAPD Size + 1: EventIDs are below 2^numEventIdBits (at most 16). */
  numEventIdBits: number;
  /** Insertion order (MAPTI/MAPI append); sorted by EventID when the tables are saved. */
  ites: ItsIte[];
}

/** One collection (struct its_collection). */
export interface ItsCollection {
  icid: number;
  /** Target vCPU id (GITS_TYPER.PTA = 0), or COLLECTION_NOT_MAPPED. */
  target: number;
}

/** The ITS (struct vgic_its). */
export interface ItsState {
  kind: 'vgic-its';
  /** Guest-physical base of the 128 KiB frame pair; null is VGIC_ADDR_UNDEF. */
  base: number | null;
  /** GITS_CTLR.Enabled. */
  enabled: boolean;
  /** GITS_IIDR.Revision = the table ABI revision (only 0 exists, NR_ITS_ABIS = 1). */
  abiRev: number;
  /** GITS_BASER0 (baser_device_table), sanitised. */
  baserDevice: bigint;
  /** GITS_BASER1 (baser_coll_table), sanitised. */
  baserCollection: bigint;
  /** GITS_CBASER, sanitised. */
  cbaser: bigint;
  /**
   * GITS_CREADR / GITS_CWRITER: byte offsets into the command queue, always bits 19:5 only
   * (ITS_CMD_OFFSET), hence numbers although the registers are 64-bit. Stalled/Retry are 0.
   */
  creadr: number;
  cwriter: number;
  /** Insertion order (MAPD V=1 appends); sorted by DeviceID when the tables are saved. */
  devices: ItsDevice[];
  /** Insertion order, never re-sorted; restore rebuilds it in table order. */
  collections: ItsCollection[];
}

/** The LPI half of struct vgic_irq: edge-triggered, Group 1, no active state. */
export interface LpiIrq {
  intid: number;
  /** Cached from the property table (byte & 0xFC) on creation, INV, INVALL, INVLPIR, INVALLR. */
  priority: number;
  /** Cached property-table bit 0. */
  enabled: boolean;
  /** A latch, not a counter: N INTs while undeliverable give one delivery. */
  pendingLatch: boolean;
  /**
   * vCPU id the LPI is delivered to (from its collection when the ITE was created or moved);
   * null when the collection was unmapped at creation (irq->target_vcpu == NULL).
   */
  targetVcpu: number | null;
  /** ITEs referencing it (vgic_get_irq_ref / vgic_put_irq); freed at 0, pending state lost. */
  refcount: number;
}

/** The VM's LPIs (dist->lpi_xa). */
export interface LpiState {
  /** By INTID (8192..65535); iterates in ascending INTID order. */
  irqs: Record<number, LpiIrq>;
}

declare module '../../engine/state.js' {
  interface VmDevices {
    its?: ItsState;
    lpis?: LpiState;
  }
}

/** COLLECTION_NOT_MAPPED: an unmapped collection's target. */
export const COLLECTION_NOT_MAPPED = 0xffff_ffff;
/** VITS_MAX_DEVID: DeviceIDs 0..0xFFFF (GITS_TYPER.Devbits = 16). */
export const VITS_MAX_DEVID = 0xffff;
/** VITS_TYPER_DEVBITS / VITS_TYPER_IDBITS. */
export const VITS_TYPER_DEVBITS = 16;
export const VITS_TYPER_IDBITS = 16;
/** ABI revision 0 entry sizes (ABI_0_ESZ): DTE, CTE and ITE are 8 bytes. */
export const ABI_0_ESZ = 8;
/** NR_ITS_ABIS: only table ABI revision 0. */
export const NR_ITS_ABIS = 1;
/** KVM_VGIC_V3_ITS_SIZE: control frame + translation frame. */
export const KVM_VGIC_V3_ITS_SIZE = 0x2_0000;
/** First LPI INTID (GIC_LPI_OFFSET). */
export const GIC_LPI_OFFSET = 8192;
/** INITIAL_PROPBASER_VALUE, which vgic_its_create writes into the VM's GICR_PROPBASER. */
export const INITIAL_PROPBASER_VALUE = 0x580n;

// ---- register fields (include/linux/irqchip/arm-gic-v3.h) -------------------------------------

export const GITS_CTLR_ENABLE = 1n << 0n;
export const GITS_CTLR_QUIESCENT = 1n << 31n;
export const GITS_IIDR_REV_SHIFT = 12;
export const GITS_IIDR_REV_MASK = 0xf << GITS_IIDR_REV_SHIFT;
export const GITS_IIDR_PRODUCTID_SHIFT = 24;
export const GITS_TYPER_PLPIS = 1n << 0n;
export const GITS_TYPER_ITT_ENTRY_SIZE_SHIFT = 4n;
export const GITS_TYPER_IDBITS_SHIFT = 8n;
export const GITS_TYPER_DEVBITS_SHIFT = 13n;
export const GITS_CBASER_VALID = 1n << 63n;
export const GITS_BASER_VALID = 1n << 63n;
export const GITS_BASER_INDIRECT = 1n << 62n;
export const GITS_BASER_INNER_CACHEABILITY_SHIFT = 59n;
export const GITS_BASER_TYPE_SHIFT = 56n;
export const GITS_BASER_TYPE_MASK = 7n << GITS_BASER_TYPE_SHIFT;
export const GITS_BASER_OUTER_CACHEABILITY_SHIFT = 53n;
export const GITS_BASER_ENTRY_SIZE_SHIFT = 48n;
export const GITS_BASER_ENTRY_SIZE_MASK = 0x1fn << GITS_BASER_ENTRY_SIZE_SHIFT;
export const GITS_BASER_SHAREABILITY_SHIFT = 10n;
export const GITS_BASER_PAGE_SIZE_SHIFT = 8n;
export const GITS_BASER_PAGE_SIZE_MASK = 3n << GITS_BASER_PAGE_SIZE_SHIFT;
export const GITS_BASER_PAGE_SIZE_64K = 2n << GITS_BASER_PAGE_SIZE_SHIFT;
/** GITS_BASER_RO_MASK: Type and Entry_Size are not guest-writable. */
export const GITS_BASER_RO_MASK = GITS_BASER_TYPE_MASK | GITS_BASER_ENTRY_SIZE_MASK;
export const GITS_BASER_TYPE_DEVICE = 1n;
export const GITS_BASER_TYPE_COLLECTION = 4n;
/** GITS_CBASER shares the BASER cacheability/shareability positions. */
export const GITS_CBASER_INNER_CACHEABILITY_SHIFT = 59n;
export const GITS_CBASER_OUTER_CACHEABILITY_SHIFT = 53n;
export const GITS_CBASER_SHAREABILITY_SHIFT = 10n;

/**
 * INITIAL_BASER_VALUE: inner RaWb (3 << 59), outer SameAsInner, InnerShareable (1 << 10),
 * 64 KiB pages (2 << 8). Type and Entry_Size are added per table.
 */
export const INITIAL_BASER_VALUE = (3n << 59n) | (1n << 10n) | GITS_BASER_PAGE_SIZE_64K;

/** ITS_CMD_OFFSET: a queue offset is bits 19:5 of CWRITER/CREADR. */
export function itsCmdOffset(value: bigint): number {
  return Number(value & 0xf_ffe0n);
}

/** ITS_CMD_BUFFER_SIZE: the queue is (CBASER.Size + 1) × 4 KiB. */
export function itsCmdBufferSize(cbaser: bigint): number {
  return (Number(cbaser & 0xffn) + 1) << 12;
}
