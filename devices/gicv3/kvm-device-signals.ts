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
import { type VcpuState, type VmState, vcpuById } from '../../engine/state.js';
import { type LpiCandidate, lpiCandidatesByVcpu } from '../its/lpis.js';
import { registerByName } from '../names.js';
import { interruptSignals } from './cpuif-derive.js';
import { spiTarget } from './derive.js';
import { type GicState, VGIC_NR_PRIVATE_IRQS } from './state.js';

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
  // KVM_GET_DEVICE_ATTR only reads (the uaccess read accessors have no side effects).
  'attr.get',
  'guest.reg',
  'trace.mark',
  'trace.note',
  'vm.select',
  'ram.transfer',
  'migrate.begin',
  'migrate.end',
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

/** CPU-interface registers whose effect reaches other vCPUs: SGI generation, cross-vCPU DIR. */
const CROSS_VCPU_SYSREGS: ReadonlySet<number> = new Set(
  ['ICC_SGI0R_EL1', 'ICC_SGI1R_EL1', 'ICC_ASGI1R_EL1', 'ICC_DIR_EL1'].map((n) => registerByName(n)!.offset),
);

/**
 * The vCPUs whose lines `event` can change, when fewer than all: a system-register access
 * touches its own CPU interface (except the registers above), a PPI line its own vCPU, an SPI
 * line the vCPU its IROUTER names (the line does not move it). Anything else (MMIO, device
 * attrs, lifecycle, and the ITS paths: `msi.signal`, GITS_* MMIO, ITS_REGS, whose LPIs may
 * target any vCPU) may change any vCPU's lines. Undefined means all.
 */
function affectedVcpus(
  vm: VmState,
  gic: GicState,
  event: EngineEvent,
): (VcpuState | undefined)[] | undefined {
  if ((event.type === 'guest.mrs' || event.type === 'guest.msr') && !CROSS_VCPU_SYSREGS.has(event.sysreg)) {
    return [vcpuById(vm, event.vcpu)];
  }
  if (event.type !== 'irq.line') return undefined;
  if (event.kind === 'ppi') return [vcpuById(vm, event.vcpu)];
  const spi = gic.spis[event.intid - VGIC_NR_PRIVATE_IRQS];
  return spi ? [spiTarget(vm, spi)] : [];
}

const NO_LPIS: readonly LpiCandidate[] = [];

function signalVcpu(
  vm: VmState,
  vcpu: VcpuState,
  ctx: StepContext,
  lpis: Record<number, LpiCandidate[]> | undefined,
): void {
  if (!vcpu.devices.gic) return;
  const now = interruptSignals(vm, vcpu, lpis ? (lpis[vcpu.id] ?? NO_LPIS) : undefined);
  const was = vcpu.devices.gicLines;
  const irqWas = was?.irq ?? false;
  const fiqWas = was?.fiq ?? false;
  if (now.irq === irqWas && now.fiq === fiqWas) return;
  vcpu.devices.gicLines = { irq: now.irq, fiq: now.fiq };
  if (now.irq !== irqWas) ctx.emit({ type: 'cpu.irq', vcpu: vcpu.id, level: now.irq });
  if (now.fiq !== fiqWas) ctx.emit({ type: 'cpu.fiq', vcpu: vcpu.id, level: now.fiq });
}

/**
 * The `afterEvent` hook: for every vCPU of a VM with a vGICv3, compare the lines the CPU interface
 * asserts now with the last ones and emit the changes, vCPUs in creation order, IRQ before FIQ.
 * Mutates the draft.
 */
export function signalInterrupts(vm: VmState, ctx: StepContext): void {
  const gic = vm.devices.gic;
  if (!gic || inert(ctx.event)) return;
  const vcpus = affectedVcpus(vm, gic, ctx.event) ?? vm.vcpus;
  // One pass over the LPIs for all the vCPUs rather than one per vCPU.
  const lpis = vcpus.length > 1 && vm.devices.lpis ? lpiCandidatesByVcpu(vm) : undefined;
  for (const vcpu of vcpus) if (vcpu) signalVcpu(vm, vcpu, ctx, lpis);
}
