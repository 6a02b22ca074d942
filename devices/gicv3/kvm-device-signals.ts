// The interrupt lines the vGICv3 CPU interface asserts towards each vCPU (vIRQ for Group 1, vFIQ
// for Group 0; IHI 0069 §4.8 "signalling"), recorded as effects when they change: `cpu.irq`
// {vcpu, level} and `cpu.fiq` {vcpu, level}. KVM does not report these to userspace; they are the
// model's observable output (style-anchors.md §8.2 rule 3), checked on replay like any effect.
//
// The last level of each line is state (`VcpuDevices.gicLines`), so a change is detected exactly
// once whichever event caused it: an `irq_line`, a userspace ISPENDR write, a guest EOI, a
// distributor enable, first-run vSGI configuration.

import type { EngineEvent } from '../../engine/events.js';
import { inRam } from '../../engine/ram.js';
import type { StepContext } from '../../engine/registry.js';
import type { VmState } from '../../engine/state.js';
import { interruptSignals } from './cpuif-derive.js';

/** The lines as last signalled. */
export interface GicLines {
  irq: boolean;
  fiq: boolean;
}

declare module '../../engine/state.js' {
  interface VcpuDevices {
    gicLines?: GicLines;
  }
}

/** Events that cannot change any vGIC state or what the CPU interfaces present. */
const INERT: ReadonlySet<EngineEvent['type']> = new Set<EngineEvent['type']>([
  'vm.create',
  'mem.read',
  'mem.write',
  'reg.get',
  'reg.set',
  'attr.has',
  'guest.reg',
  'trace.mark',
  'trace.note',
]);

/**
 * Guest steps that touch only RAM or make a hypercall leave the vGIC alone. One of them may be a
 * vCPU's first entry, whose first-run work configures GICv4.1 vSGIs, but that moves pending SGIs
 * between the latch and the vPE store without changing what is presented.
 */
function inert(event: EngineEvent): boolean {
  if (INERT.has(event.type)) return true;
  if (event.type === 'guest.hvc') return true;
  return (event.type === 'guest.read' || event.type === 'guest.write') && inRam(event.addr, event.size);
}

/**
 * The `afterEvent` hook: for every vCPU of a VM with a vGICv3, compare the lines the CPU interface
 * asserts now with the last ones and emit the changes, vCPUs in creation order, IRQ before FIQ.
 * Mutates the draft.
 */
export function signalInterrupts(vm: VmState, ctx: StepContext): void {
  if (!vm.devices.gic || inert(ctx.event)) return;
  for (const vcpu of vm.vcpus) {
    if (!vcpu.devices.gic) continue;
    const now = interruptSignals(vm, vcpu);
    const was = vcpu.devices.gicLines;
    const irqWas = was?.irq ?? false;
    const fiqWas = was?.fiq ?? false;
    if (now.irq === irqWas && now.fiq === fiqWas) continue;
    vcpu.devices.gicLines = { irq: now.irq, fiq: now.fiq };
    if (now.irq !== irqWas) ctx.emit({ type: 'cpu.irq', vcpu: vcpu.id, level: now.irq });
    if (now.fiq !== fiqWas) ctx.emit({ type: 'cpu.fiq', vcpu: vcpu.id, level: now.fiq });
  }
}
