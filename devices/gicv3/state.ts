// vGICv3 state as plain data (vgic-v3.md §1; Linux include/kvm/arm_vgic.h): the per-IRQ state
// of SGIs, PPIs and SPIs, the per-VM distributor, and the per-vCPU redistributor and CPU
// interface. Plugs into the engine by augmenting VmDevices and VcpuDevices. LPIs belong to the
// ITS model (vits.md) and are added there.

/** One interrupt (struct vgic_irq, the fields KVM's GICv3 emulation uses). */
export interface IrqState {
  /** Latched pending state: edges, ISPENDR writes, SGI sends. */
  pendingLatch: boolean;
  /** Input line; meaningful for level-sensitive interrupts. */
  lineLevel: boolean;
  enabled: boolean;
  active: boolean;
  /** Stored masked to the 5 implemented bits (`& 0xF8`). */
  priority: number;
  /** 0 or 1. */
  group: number;
  /** Level-sensitive (ICFGR 0b00) rather than edge (0b10). */
  level: boolean;
  /** GICD_IROUTER affinity Aff2.Aff1.Aff0 (bits 23:0); SPIs only. */
  mpidr: number;
  /** Backed by hardware: a GICv4.1 vSGI whose pending state lives in `GicCpuState.vsgiPending`. */
  hw: boolean;
}

/** A redistributor region (struct vgic_redist_region). */
export interface RedistRegion {
  index: number;
  base: number;
  /** Frames in the region; 0 for the legacy V3_REDIST region (sized by the vCPUs at call time). */
  count: number;
  /** Next free slot. */
  freeIndex: number;
}

/** Per-VM distributor state (struct vgic_dist). */
export interface GicState {
  kind: 'vgic-v3';
  /** CTRL INIT done. */
  initialized: boolean;
  /** First-run map_resources done. */
  ready: boolean;
  /** GICD_IIDR.Revision: 2 or 3. */
  implementationRev: number;
  /** 0 until NR_IRQS is set or INIT defaults it to 224. */
  nrSpis: number;
  /** GICD_CTLR.EnableGrp1A. */
  enabled: boolean;
  /** GICD_TYPER2.nASSGIcap: the VM may use direct vSGIs (host capability, clearable pre-init). */
  nassgicap: boolean;
  /** GICD_CTLR.nASSGIreq. */
  nassgireq: boolean;
  /** GICR_PROPBASER, one value for the whole VM. */
  propbaser: bigint;
  /** Distributor base; null is VGIC_ADDR_UNDEF. */
  distBase: number | null;
  regions: RedistRegion[];
  /** An ITS device exists (GICD_TYPER.LPIS, IDbits 16, GICR_TYPER.PLPIS). */
  hasIts: boolean;
  /** SPIs 32.. nrSpis+31, created at INIT. */
  spis: IrqState[];
}

/** ICH_VMCR_EL2 fields that stand behind the guest's ICC_* registers. */
export interface Vmcr {
  eng0: boolean;
  eng1: boolean;
  cbpr: boolean;
  eoim: boolean;
  bpr0: number;
  bpr1: number;
  pmr: number;
}

/** Per-vCPU redistributor and CPU interface state (struct vgic_cpu). */
export interface GicCpuState {
  /** SGIs 0–15 and PPIs 16–31. */
  irqs: IrqState[];
  /** Placement in a redistributor region; null until placed. */
  region: number | null;
  slot: number;
  pendbaser: bigint;
  /** GICR_CTLR.EnableLPIs. */
  enableLpis: boolean;
  /** ICC_CTLR_EL1.PRIbits + 1 (5 on KVM's GICv3; lowered by a userspace ICC_CTLR_EL1 write). */
  numPriBits: number;
  /** ICC_CTLR_EL1.IDbits (0: 16 bits, 1: 24 bits). */
  numIdBits: number;
  vmcr: Vmcr;
  ap0r: number[];
  ap1r: number[];
  /** Pending state of hardware vSGIs (GICv4.1), read through GICR_VSGIPENDR by KVM. */
  vsgiPending: boolean[];
}

declare module '../../engine/state.js' {
  interface VmDevices {
    gic?: GicState;
  }
  interface VcpuDevices {
    gic?: GicCpuState;
  }
}

export const VGIC_NR_SGIS = 16;
export const VGIC_NR_PRIVATE_IRQS = 32;
export const VGIC_MAX_SPI = 1019;
export const VGIC_DEFAULT_NR_SPIS = 224;
export const VGIC_PRI_MASK = 0xf8;
export const KVM_VGIC_V3_DIST_SIZE = 0x1_0000;
export const KVM_VGIC_V3_REDIST_SIZE = 0x2_0000;
/** GICR_PENDBASER reset: InnerShareable, inner RaWb, outer SameAsInner. */
export const GICR_PENDBASER_RESET = 0x580n;

export function newIrq(partial: Partial<IrqState> = {}): IrqState {
  return {
    pendingLatch: false,
    lineLevel: false,
    enabled: false,
    active: false,
    priority: 0,
    group: 0,
    level: false,
    mpidr: 0,
    hw: false,
    ...partial,
  };
}
