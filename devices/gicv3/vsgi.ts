// GICv4.1 direct virtual SGIs (Arm IHI 0069 §5.4 "vSGIs"; Linux arch/arm64/kvm/vgic/vgic-v4.c
// vgic_v4_configure_vsgis, vgic_v4_enable_vsgis, vgic_v4_disable_vsgis; vgic-v3.md §5).
//
// With GICD_CTLR.nASSGIreq = 1 KVM hands SGIs 0–15 of every vCPU to the vPE: the IRQ becomes
// `hw`, its pending state moves from `pendingLatch` into the vCPU's `vsgiPending` store (the
// model of the vPE's pending bits that KVM reads through GICR_VSGIR/GICR_VSGIPENDR), and it has
// no active state. Enabled, group and priority stay on the IRQ: KVM copies them to the vPE
// (vgic_v4_sync_sgi_config) and keeps both in step, so the model keeps one copy.
//
// Callers: a guest GICD_CTLR write that changes nASSGIreq (dist-registers.ts), and first run
// (vgic_v3_map_resources → vgic_v4_configure_vsgis when the host has GICv4.1), which applies a
// value userspace restored without side effects.

import type { VmState } from '../../engine/state.js';
import { type GicCpuState, type GicState, VGIC_NR_SGIS } from './state.js';

/** vgic_v4_enable_vsgis: SGIs not yet `hw` become `hw`, their latch moves into the vPE. */
export function enableVsgis(cpu: GicCpuState): void {
  for (let i = 0; i < VGIC_NR_SGIS; i++) {
    const irq = cpu.irqs[i];
    if (!irq || irq.hw) continue;
    irq.hw = true;
    cpu.vsgiPending[i] = irq.pendingLatch;
    irq.pendingLatch = false;
  }
}

/** vgic_v4_disable_vsgis: `hw` SGIs return to software, the vPE's pending bit into the latch. */
export function disableVsgis(cpu: GicCpuState): void {
  for (let i = 0; i < VGIC_NR_SGIS; i++) {
    const irq = cpu.irqs[i];
    if (!irq?.hw) continue;
    irq.hw = false;
    irq.pendingLatch = cpu.vsgiPending[i] ?? false;
    cpu.vsgiPending[i] = false;
  }
}

/** vgic_v4_configure_vsgis: every vCPU's SGIs follow `gic.nassgireq`. Mutates the draft. */
export function configureVsgis(vm: VmState, gic: GicState): void {
  for (const vcpu of vm.vcpus) {
    const cpu = vcpu.devices.gic;
    if (!cpu) continue;
    if (gic.nassgireq) enableVsgis(cpu);
    else disableVsgis(cpu);
  }
}
