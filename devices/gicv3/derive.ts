// Pure queries over vGICv3 state (vgic-v3.md §1.2; Linux vgic.h, vgic.c vgic_target_oracle).

import type { VcpuState, VmState } from '../../engine/state.js';
import { type GicCpuState, type GicState, type IrqState, VGIC_NR_PRIVATE_IRQS } from './state.js';

/** is_pending: an edge interrupt's latch, or a level interrupt's latch OR its line. */
export function isPending(irq: IrqState): boolean {
  return irq.level ? irq.pendingLatch || irq.lineLevel : irq.pendingLatch;
}

/** The distributor state of a VM with a vGICv3, if it has one. */
export function gicOf(vm: VmState): GicState | undefined {
  return vm.devices.gic;
}

/** A vCPU's redistributor/CPU-interface state (present once the vGIC exists). */
export function gicCpuOf(vcpu: VcpuState): GicCpuState | undefined {
  return vcpu.devices.gic;
}

/**
 * The interrupt `intid` as seen from `vcpu` (private interrupts are banked), or undefined for
 * an INTID that does not exist (an SPI beyond nr_spis, a reserved or LPI INTID).
 */
export function irqFor(gic: GicState, vcpu: VcpuState, intid: number): IrqState | undefined {
  if (intid < VGIC_NR_PRIVATE_IRQS) return vcpu.devices.gic?.irqs[intid];
  return gic.spis[intid - VGIC_NR_PRIVATE_IRQS];
}

/** The vCPU an SPI is routed to by its IROUTER affinity, or undefined (no 1-of-N in KVM). */
export function spiTarget(vm: VmState, irq: IrqState): VcpuState | undefined {
  for (const vcpu of vm.vcpus) if ((vcpu.affinity & 0xff_ffff) === irq.mpidr) return vcpu;
  return undefined;
}
