// The SDEI service plugged into the engine's registry (style-anchors.md §8.1; Arm DEN 0054 and
// sdei.md §1–§4: the KVM series as agreed in review, with decisions.md's fixes). Adds:
//   hypercalls  0xC4000020–0xC400003F (functions.ts)
//   oneRegs     KVM_REG_ARM_SDEI_* pseudo-firmware registers (fw-regs.ts)
//   hooks       vcpuCreated (state, PE masked), guestEntry (delivery, dispatch.ts),
//               vcpuReset (private events unregistered, PE masked)
//   services    sdeiInject (`sdei_inject`: KVM7 kvm_sdei_inject_event, non-immediate)

import { ENOENT, EPERM } from '../../engine/errno.js';
import type { Registry, StepContext } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import { deliver } from './dispatch.js';
import {
  SDEI_FID_COMPLETE,
  SDEI_FID_COMPLETE_AND_RESUME,
  SDEI_FID_FIRST,
  SDEI_FID_LAST,
  sdeiHypercall,
} from './functions.js';
import { SDEI_FW_REGS } from './fw-regs.js';
import { hasSdeiQuirk, newSdeiVcpuState, resetSdeiVcpuState, SDEI_NR_EVENTS } from './state.js';

/** vcpuCreated: KVM7 kvm_sdei_create_vcpu allocates the state and masks the PE. */
export function sdeiVcpuCreated(vm: VmState, vcpu: VcpuState): void {
  if (vm.sdei) vcpu.devices.sdei = newSdeiVcpuState();
}

/**
 * vcpuReset (KVM_ARM_VCPU_INIT again: PSCI CPU_ON, system reset): private events unregistered,
 * PE masked, as the spec and ACS 047 require (sdei.md §2.6, §6.22). `sdei-survives-vcpu-reset`
 * keeps KVM7's behaviour: no reset hook, everything survives.
 */
export function sdeiVcpuReset(vm: VmState, vcpu: VcpuState): void {
  const s = vcpu.devices.sdei;
  if (!s || hasSdeiQuirk(vm, 'sdei-survives-vcpu-reset')) return;
  resetSdeiVcpuState(s);
}

/** Whether this entry is the return from a COMPLETE(_AND_RESUME) of `vcpu`. */
function returnFromComplete(vcpu: VcpuState, ctx: StepContext): boolean {
  const event = ctx.event;
  if (event.type !== 'guest.hvc' || event.vcpu !== vcpu.id) return false;
  const fid = Number((event.args[0] ?? 0n) & 0xffff_ffffn);
  return fid === SDEI_FID_COMPLETE || fid === SDEI_FID_COMPLETE_AND_RESUME;
}

/**
 * guestEntry: deliver a pending event (sdei.md §2.3). Runs at every entry, so ENABLE, PE_UNMASK,
 * SIGNAL, injection, COMPLETE and a restore are all followed by a re-evaluation.
 * `sdei-no-redispatch-on-complete` skips the entry that returns from COMPLETE (KVM7 makes no
 * KVM_REQ_SDEI there, sdei.md §6.2): the next event then waits for a later entry.
 */
export function sdeiGuestEntry(vm: VmState, vcpu: VcpuState, ctx: StepContext): void {
  const s = vcpu.devices.sdei;
  if (!vm.sdei || !s) return;
  if (hasSdeiQuirk(vm, 'sdei-no-redispatch-on-complete') && returnFromComplete(vcpu, ctx)) return;
  deliver(vcpu, s, ctx);
}

/**
 * `sdei_inject VCPU EVENT`: the hypervisor raises EVENT (KVM7 kvm_sdei_inject_event, not
 * immediate): no SDEI state -EPERM; unknown or unregistered event -ENOENT; else pending (at most
 * one instance), delivered at the vCPU's next guest entry.
 */
export function sdeiInject(_vm: VmState, vcpu: VcpuState, event: bigint, ctx: StepContext): number {
  const s = vcpu.devices.sdei;
  if (!s) return -EPERM;
  if (event < 0n || event >= BigInt(SDEI_NR_EVENTS)) return -ENOENT;
  const n = Number(event);
  if (!(s.registered & (1 << n))) return -ENOENT;
  s.pending |= 1 << n;
  ctx.emit({ type: 'sdei.signal', vcpu: vcpu.id, target: vcpu.id, event: n, source: 'hypervisor' });
  return 0;
}

/** `base` with the SDEI service added (a new registry; `base` is untouched). */
export function withSdei(base: Registry): Registry {
  const oneRegs = { ...base.oneRegs };
  for (const reg of SDEI_FW_REGS) oneRegs[`0x${reg.id.toString(16)}`] = reg;
  return {
    ...base,
    hypercalls: [
      ...base.hypercalls,
      { name: 'sdei', first: SDEI_FID_FIRST, last: SDEI_FID_LAST, call: sdeiHypercall },
    ],
    oneRegs,
    hooks: {
      ...base.hooks,
      vcpuCreated: [...base.hooks.vcpuCreated, sdeiVcpuCreated],
      guestEntry: [...base.hooks.guestEntry, sdeiGuestEntry],
      vcpuReset: [...base.hooks.vcpuReset, sdeiVcpuReset],
    },
    services: { ...base.services, sdeiInject },
  };
}
