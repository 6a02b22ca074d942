// vGICv3 reset and initial states (Linux arch/arm64/kvm/vgic/vgic-init.c: kvm_vgic_create,
// vgic_allocate_private_irqs_locked, kvm_vgic_dist_init, vgic_init; vgic-v3.c vgic_v3_enable;
// vgic-v3.md §1.3–1.5). Builders return fresh plain data; `initGicState` mutates a draft.

import type { HostKind } from '../../engine/events.js';
import type { VmState } from '../../engine/state.js';
import {
  GICR_PENDBASER_RESET,
  type GicCpuState,
  type GicState,
  type IrqState,
  newIrq,
  VGIC_DEFAULT_NR_SPIS,
  VGIC_NR_PRIVATE_IRQS,
  VGIC_NR_SGIS,
  type Vmcr,
} from './state.js';

/** IIDR revision a new vGICv3 reports (6.17+ sets 3 at device creation). */
export const DEFAULT_IMPLEMENTATION_REV = 3;
/** ICH_VTR_EL2.PRIbits + 1 on KVM's GICv3: 5 priority bits (VGIC_PRI_BITS). */
export const DEFAULT_NUM_PRI_BITS = 5;
/**
 * ICH_VTR_EL2.IDbits as KVM passes it through: 0 = 16-bit INTIDs. Host-dependent on real
 * hardware; the model reports the smallest, which every GICv3 CPU interface supports.
 */
export const DEFAULT_NUM_ID_BITS = 0;
/** ICC_SRE_EL1 as KVM reports it (vgic_sre = SRE | DFB | DIB); a constant, userspace writes ignored. */
export const ICC_SRE_EL1_RESET = 0x7n;

/**
 * KVM_CREATE_DEVICE(vgic-v3) (kvm_vgic_create): no addresses, no regions, nr_spis 0 until
 * NR_IRQS or INIT, revision 3, nASSGIcap = the host's vSGI capability.
 */
export function newGicState(host: HostKind): GicState {
  return {
    kind: 'vgic-v3',
    initialized: false,
    ready: false,
    implementationRev: DEFAULT_IMPLEMENTATION_REV,
    nrSpis: 0,
    enabled: false,
    nassgicap: host === 'gicv4.1',
    nassgireq: false,
    propbaser: 0n,
    distBase: null,
    regions: [],
    hasIts: false,
    spis: [],
  };
}

/**
 * Private IRQs at vCPU creation (vgic_allocate_private_irqs_locked): SGIs enabled and edge,
 * PPIs level and disabled; group 0 and no affinity until INIT (`initPrivateIrqs`).
 */
export function newPrivateIrqs(): IrqState[] {
  return Array.from({ length: VGIC_NR_PRIVATE_IRQS }, (_, i) =>
    i < VGIC_NR_SGIS ? newIrq({ enabled: true }) : newIrq({ level: true }),
  );
}

/** ICH_VMCR_EL2 = 0 (vgic_v3_enable): PMR 0 masks everything, EOImode 0, both groups off. */
export function resetVmcr(): Vmcr {
  return { eng0: false, eng1: false, cbpr: false, eoim: false, bpr0: 0, bpr1: 0, pmr: 0 };
}

/** A vCPU's redistributor and CPU interface at vCPU creation (kvm_vgic_vcpu_init). */
export function newGicCpuState(): GicCpuState {
  return {
    irqs: newPrivateIrqs(),
    region: null,
    slot: 0,
    pendbaser: GICR_PENDBASER_RESET,
    enableLpis: false,
    numPriBits: DEFAULT_NUM_PRI_BITS,
    numIdBits: DEFAULT_NUM_ID_BITS,
    vmcr: resetVmcr(),
    ap0r: [0, 0, 0, 0],
    ap1r: [0, 0, 0, 0],
    vsgiPending: Array.from({ length: VGIC_NR_SGIS }, () => false),
  };
}

/** SPIs at INIT (kvm_vgic_dist_init): group 1, edge, disabled, priority 0, routed to MPIDR 0 (vCPU 0). */
export function newSpis(nrSpis: number): IrqState[] {
  return Array.from({ length: nrSpis }, () => newIrq({ group: 1 }));
}

/** Private IRQs at INIT for a GICv3 (vgic_init): group 1, mpidr = the vCPU's Aff2.Aff1.Aff0. */
export function initPrivateIrqs(cpu: GicCpuState, affinity: number): void {
  for (const irq of cpu.irqs) {
    irq.group = 1;
    irq.mpidr = affinity & 0xff_ffff;
  }
}

/** The CPU interface at INIT (vgic_v3_enable): VMCR 0, PENDBASER 0x580, 5 priority bits. */
export function resetCpuInterface(cpu: GicCpuState): void {
  cpu.vmcr = resetVmcr();
  cpu.pendbaser = GICR_PENDBASER_RESET;
  cpu.numPriBits = DEFAULT_NUM_PRI_BITS;
  cpu.numIdBits = DEFAULT_NUM_ID_BITS;
}

/**
 * The state changes of CTRL_INIT (vgic_init), minus its checks and the `initialized` flag,
 * which belong to the device API: nr_spis defaults to 224, SPIs are allocated, private IRQs
 * take group 1 and their vCPU's affinity, CPU interfaces reset. Mutates the draft.
 */
export function initGicState(vm: VmState, gic: GicState): void {
  if (gic.nrSpis === 0) gic.nrSpis = VGIC_DEFAULT_NR_SPIS;
  gic.spis = newSpis(gic.nrSpis);
  for (const vcpu of vm.vcpus) {
    const cpu = vcpu.devices.gic;
    if (!cpu) continue;
    initPrivateIrqs(cpu, vcpu.affinity);
    resetCpuInterface(cpu);
  }
}
