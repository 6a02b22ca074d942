// SDEI delivery into the vCPU and the return from a handler (sdei.md §2.3–§2.5; KVM7
// kvm_sdei_deliver_event and event_complete, with decisions.md's fixes): a guest handler is not
// executed, entering it only sets pc, pstate and x0–x3 the way the hypervisor does; the scenario
// then issues COMPLETE or COMPLETE_AND_RESUME itself.

import type { StepContext } from '../../engine/registry.js';
import type { VcpuState } from '../../engine/state.js';
import { lowestBit, SDEI_SAVED_REGS, type SdeiVcpuState } from './state.js';

/** PSTATE bits (arch/arm64/include/uapi/asm/ptrace.h). */
const PSR_MODE_MASK = 0x0fn;
const PSR_MODE32_BIT = 0x10n;
const PSR_DAIF = 0x3c0n;
const PSR_MODE_EL1h = 0x05n;

/**
 * The PSTATE of a handler entry or a COMPLETE_AND_RESUME: AArch64 EL1h with D, A, I, F set, the
 * other bits (NZCV, PAN, ...) kept from `interrupted` as KVM7 does (sdei.md §2.4 step 3). Pure.
 */
export function exceptionPstate(interrupted: bigint): bigint {
  return (interrupted & ~(PSR_MODE32_BIT | PSR_MODE_MASK)) | PSR_DAIF | PSR_MODE_EL1h;
}

/**
 * The event delivery would pick now, or -1: nothing while masked or while any handler runs
 * (every event is normal priority), else the lowest event both pending and enabled. Selecting
 * from pending & enabled is the fix of KVM7's livelock on a pending-but-disabled event
 * (sdei.md §6.1); a disabled event stays pending. Pure.
 */
export function deliverableEvent(s: SdeiVcpuState): number {
  if (s.masked || s.running !== 0) return -1;
  return lowestBit(s.pending & s.enabled & s.registered);
}

/**
 * Guest entry: delivers the deliverable event, if any (sdei.md §2.4). Saves pc, pstate and
 * x0–x17, zeroes x0–x17, then x0 = event, x1 = registered argument, x2 = interrupted pc,
 * x3 = interrupted pstate (decisions.md "handler entry"); pc = handler address. Emits
 * `sdei.dispatch`. Returns whether it delivered.
 */
export function deliver(vcpu: VcpuState, s: SdeiVcpuState, ctx: StepContext): boolean {
  const n = deliverableEvent(s);
  if (n < 0) return false;
  const handler = s.handlers[n]!;
  const pc = vcpu.pc;
  const pstate = vcpu.pstate;
  s.ctx.pc = pc;
  s.ctx.pstate = pstate;
  for (let i = 0; i < SDEI_SAVED_REGS; i++) {
    s.ctx.regs[i] = vcpu.x[i] ?? 0n;
    vcpu.x[i] = 0n;
  }
  vcpu.x[0] = BigInt(n);
  vcpu.x[1] = handler.arg;
  vcpu.x[2] = pc;
  vcpu.x[3] = pstate;
  vcpu.pstate = exceptionPstate(pstate);
  vcpu.pc = handler.addr;
  s.pending &= ~(1 << n);
  s.running |= 1 << n;
  ctx.emit({ type: 'sdei.dispatch', vcpu: vcpu.id, event: n, entry: handler.addr, arg: handler.arg, pc });
  return true;
}

/**
 * COMPLETE (`resume` null) or COMPLETE_AND_RESUME(`resume`) with a handler running (sdei.md §2.5):
 * restores x0–x17; COMPLETE restores pc and pstate, COMPLETE_AND_RESUME enters `resume` as an
 * exception to EL1h would (ELR_EL1 = interrupted pc, SPSR_EL1 = interrupted pstate: those two
 * system registers are not part of the modelled vCPU, so they are reported in the effect).
 * Clears the running bit, which finishes a pending unregistration (state 4 -> 0). No result is
 * written: the restored x0 stays. Emits `sdei.complete`. The caller checked `running != 0`.
 */
export function complete(vcpu: VcpuState, s: SdeiVcpuState, resume: bigint | null, ctx: StepContext): void {
  // KVM7 event_complete: the outstanding dispatch is the lowest running event (at most one by
  // default; several only through a set_reg under sdei-fw-regs-mask-unknown-bits).
  const n = lowestBit(s.running);
  for (let i = 0; i < SDEI_SAVED_REGS; i++) vcpu.x[i] = s.ctx.regs[i] ?? 0n;
  if (resume === null) {
    vcpu.pc = s.ctx.pc;
    vcpu.pstate = s.ctx.pstate;
    ctx.emit({ type: 'sdei.complete', vcpu: vcpu.id, event: n, resume: false, pc: s.ctx.pc });
  } else {
    vcpu.pstate = exceptionPstate(s.ctx.pstate);
    vcpu.pc = resume;
    ctx.emit({
      type: 'sdei.complete',
      vcpu: vcpu.id,
      event: n,
      resume: true,
      pc: resume,
      elr: s.ctx.pc,
      spsr: s.ctx.pstate,
    });
  }
  s.running &= ~(1 << n);
}
