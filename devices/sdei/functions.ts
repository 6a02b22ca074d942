// The SDEI hypercall service (Arm DEN 0054 v1.1; sdei.md §1 and §2.2, decisions.md "SDEI"):
// one row per function id 0xC4000020–0xC4000032, the rest of the standard-service SDEI range
// 0xC4000033–0xC400003F NOT_SUPPORTED (KVM7 routes the whole range to its handler). Argument
// checks run in the documented order; event numbers use the low 32 bits of x1 only (sdei.md
// §6.27, KVM7 `unsigned int num`). Every call writes x0 = result and x1 = x2 = x3 = 0
// (KVM7 smccc_set_retval(ret, 0, 0, 0)), except a successful COMPLETE / COMPLETE_AND_RESUME,
// which writes nothing (the restored context stays).

import type { StepContext } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import { vcpuByAffinity } from '../../engine/state.js';
import { complete } from './dispatch.js';
import {
  eventStatus,
  hasSdeiQuirk,
  SDEI_EVENTS_MASK,
  SDEI_NR_EVENTS,
  SDEI_SAVED_REGS,
  SDEI_SW_SIGNALED_EVENT,
  type SdeiVcpuState,
} from './state.js';

/** SDEI return codes (sdei.md §1.0), as the 64-bit x0 value. */
export const SDEI_SUCCESS = 0n;
export const SDEI_NOT_SUPPORTED = -1n;
export const SDEI_INVALID_PARAMETERS = -2n;
export const SDEI_DENIED = -3n;
export const SDEI_PENDING = -5n;

/** VERSION: 1.1 with the KVM vendor word ARM_SMCCC_VENDOR_HYP_UID_KVM_REG_2 (decisions.md). */
export const SDEI_VERSION_VALUE = 0x0001_0001_564b_caa9n;

/** The SDEI function-id range the service owns (SMC64 standard service, 0x20–0x3F). */
export const SDEI_FID_FIRST = 0xc400_0020;
export const SDEI_FID_LAST = 0xc400_003f;
export const SDEI_FID_COMPLETE = 0xc400_0025;
export const SDEI_FID_COMPLETE_AND_RESUME = 0xc400_0026;

/** EVENT_GET_INFO info (x2). */
const EV_TYPE = 0n;
const EV_SIGNALED = 1n;
const EV_PRIORITY = 2n;
/** FEATURES feature (x1). */
const FEATURE_BIND_SLOTS = 0n;
const FEATURE_RELATIVE_MODE = 1n;

const U64 = (1n << 64n) - 1n;
/** MPIDR_HWID_BITMASK: Aff3 and Aff2..Aff0; MT, U and RES1 are not part of the identity. */
const MPIDR_HWID_BITMASK = 0xff_00ff_ffffn;

/** What a call returns: a result for x0 (x1–x3 zeroed), or nothing written at all. */
type CallResult = bigint | 'no-result';

interface Call {
  vm: VmState;
  vcpu: VcpuState;
  s: SdeiVcpuState;
  ctx: StepContext;
}

type FunctionHandler = (c: Call) => CallResult;

/** x`i` as the guest set it. */
function arg(c: Call, i: number): bigint {
  return c.vcpu.x[i] ?? 0n;
}

/** The event number of x1: its low 32 bits (sdei.md §6.4, §6.27), or -1 when no such event. */
function eventArg(c: Call): number {
  const num = Number(arg(c, 1) & 0xffff_ffffn);
  return num < SDEI_NR_EVENTS ? num : -1;
}

function registerEvent(c: Call): CallResult {
  const n = eventArg(c);
  if (n < 0) return SDEI_INVALID_PARAMETERS;
  // KVM7 rejects any flag other than bit0 (RM_PE), relative mode included; RM_ANY is accepted
  // for private events (sdei.md §6.18) and the affinity x5 is ignored.
  if (arg(c, 4) & ~1n) return SDEI_INVALID_PARAMETERS;
  // KVM7: registered or running (unregister-pending) -> DENIED. Entry address 0 is accepted, as
  // KVM7 does (sdei.md §6.23; not among decisions.md's fixes).
  if ((c.s.registered | c.s.running) & (1 << n)) return SDEI_DENIED;
  c.s.handlers[n] = { addr: arg(c, 2), arg: arg(c, 3) };
  c.s.registered |= 1 << n;
  return SDEI_SUCCESS;
}

function enableEvent(enable: boolean): FunctionHandler {
  return (c) => {
    const n = eventArg(c);
    if (n < 0) return SDEI_INVALID_PARAMETERS;
    if (!(c.s.registered & (1 << n))) return SDEI_DENIED;
    if (enable) c.s.enabled |= 1 << n;
    else c.s.enabled &= ~(1 << n);
    // Delivery of a pending event is evaluated at the guest entry that follows the call.
    return SDEI_SUCCESS;
  };
}

function eventContext(c: Call): CallResult {
  // decisions.md: INVALID_PARAMETERS (param > 17) before DENIED (TFA order; KVM7 has it reversed).
  const param = arg(c, 1) & 0xffff_ffffn;
  if (param >= BigInt(SDEI_SAVED_REGS)) return SDEI_INVALID_PARAMETERS;
  if (c.s.running === 0) return SDEI_DENIED;
  return c.s.ctx.regs[Number(param)]!;
}

function eventComplete(resume: boolean): FunctionHandler {
  return (c) => {
    if (c.s.running === 0) {
      // sdei-complete-no-result: KVM7 writes nothing, x0 keeps the function id (sdei.md §6.3).
      return hasSdeiQuirk(c.vm, 'sdei-complete-no-result') ? 'no-result' : SDEI_DENIED;
    }
    // COMPLETE's status argument (HANDLED / FAILED) is ignored (sdei.md §6.12).
    complete(c.vcpu, c.s, resume ? arg(c, 1) : null, c.ctx);
    return 'no-result';
  };
}

function unregisterEvent(c: Call): CallResult {
  const n = eventArg(c);
  if (n < 0) return SDEI_INVALID_PARAMETERS;
  const bit = 1 << n;
  if (!(c.s.registered & bit)) return c.s.running & bit ? SDEI_PENDING : SDEI_DENIED;
  c.s.registered &= ~bit;
  c.s.enabled &= ~bit;
  // decisions.md: UNREGISTER also clears the pending bit (sdei.md §6.5), unless sdei-stale-pending.
  // The handler entry is kept, as KVM7 does (TFA clears it; nothing observable reads it then).
  if (!hasSdeiQuirk(c.vm, 'sdei-stale-pending')) c.s.pending &= ~bit;
  return c.s.running & bit ? SDEI_PENDING : SDEI_SUCCESS;
}

function eventStatusCall(c: Call): CallResult {
  const n = eventArg(c);
  if (n < 0) return SDEI_INVALID_PARAMETERS;
  return BigInt(eventStatus(c.s, n));
}

function eventGetInfo(c: Call): CallResult {
  const n = eventArg(c);
  if (n < 0) return SDEI_INVALID_PARAMETERS;
  switch (arg(c, 2) & 0xffff_ffffn) {
    case EV_TYPE:
      return 0n; // private
    case EV_SIGNALED:
      // decisions.md: 1 for event 0 (KVM7 polarity, sdei.md §6.10). Event 1 cannot be signalled
      // (SIGNAL refuses it), so it reports 0; KVM7 answers 1 for every event.
      return n === SDEI_SW_SIGNALED_EVENT ? 1n : 0n;
    case EV_PRIORITY:
      return 0n; // normal
    default:
      // ROUTING_MODE / ROUTING_AFF of a private event, and unknown info: INVALID_PARAMETERS.
      return SDEI_INVALID_PARAMETERS;
  }
}

function peMask(c: Call): CallResult {
  const was = c.s.masked;
  c.s.masked = true;
  // decisions.md: 1 if this call masked the PE, 0 if already masked (sdei.md §6.7).
  if (hasSdeiQuirk(c.vm, 'sdei-pe-mask-returns-zero')) return SDEI_SUCCESS;
  return was ? 0n : 1n;
}

function peUnmask(c: Call): CallResult {
  c.s.masked = false;
  return SDEI_SUCCESS;
}

function eventSignal(c: Call): CallResult {
  const n = Number(arg(c, 1) & 0xffff_ffffn);
  if (n !== SDEI_SW_SIGNALED_EVENT) return SDEI_INVALID_PARAMETERS;
  let target: VcpuState | undefined = c.vcpu;
  if (!hasSdeiQuirk(c.vm, 'sdei-signal-ignores-target')) {
    // decisions.md: the target MPIDR in x2 is honoured; one naming no vCPU is INVALID_PARAMETERS.
    const mpidr = arg(c, 2) & MPIDR_HWID_BITMASK;
    const affinity = Number(mpidr & 0xff_ffffn) | (Number(mpidr >> 32n) << 24);
    target = vcpuByAffinity(c.vm, affinity >>> 0);
  }
  const ts = target?.devices.sdei;
  if (!ts) return SDEI_INVALID_PARAMETERS;
  // KVM7 kvm_sdei_inject_event: not registered on the target -> -ENOENT -> INVALID_PARAMETERS.
  // Masked, disabled or already pending: succeeds, at most one pending instance (decisions.md).
  if (!(ts.registered & (1 << n))) return SDEI_INVALID_PARAMETERS;
  ts.pending |= 1 << n;
  c.ctx.emit({ type: 'sdei.signal', vcpu: c.vcpu.id, target: target!.id, event: n, source: 'guest' });
  return SDEI_SUCCESS;
}

function features(c: Call): CallResult {
  const feature = arg(c, 1) & 0xffff_ffffn;
  // No interrupt binding (0 private, 0 shared slots) and no relative mode (sdei.md §3).
  if (feature === FEATURE_BIND_SLOTS || feature === FEATURE_RELATIVE_MODE) return 0n;
  return SDEI_INVALID_PARAMETERS;
}

function privateReset(c: Call): CallResult {
  const s = c.s;
  const kvm7 = hasSdeiQuirk(c.vm, 'sdei-private-reset-while-running');
  // Every private event is unregistered; a running one becomes unregister-pending (running kept,
  // COMPLETE finishes it). decisions.md: DENIED when one was running (sdei.md §6.6); the quirk
  // returns 0 as KVM7 event_reset does.
  const denied = s.running & SDEI_EVENTS_MASK ? !kvm7 : false;
  s.registered = 0;
  s.enabled = 0;
  if (!hasSdeiQuirk(c.vm, 'sdei-stale-pending')) s.pending = 0;
  return denied ? SDEI_DENIED : SDEI_SUCCESS;
}

const notSupported: FunctionHandler = () => SDEI_NOT_SUPPORTED;

/** The function table, by function id (0xC4000020 + number). */
export const SDEI_FUNCTION_TABLE: Readonly<Record<number, { name: string; call: FunctionHandler }>> = {
  3288334368: { name: 'SDEI_VERSION', call: () => SDEI_VERSION_VALUE },
  3288334369: { name: 'SDEI_EVENT_REGISTER', call: registerEvent },
  3288334370: { name: 'SDEI_EVENT_ENABLE', call: enableEvent(true) },
  3288334371: { name: 'SDEI_EVENT_DISABLE', call: enableEvent(false) },
  3288334372: { name: 'SDEI_EVENT_CONTEXT', call: eventContext },
  3288334373: { name: 'SDEI_EVENT_COMPLETE', call: eventComplete(false) },
  3288334374: { name: 'SDEI_EVENT_COMPLETE_AND_RESUME', call: eventComplete(true) },
  3288334375: { name: 'SDEI_EVENT_UNREGISTER', call: unregisterEvent },
  3288334376: { name: 'SDEI_EVENT_STATUS', call: eventStatusCall },
  3288334377: { name: 'SDEI_EVENT_GET_INFO', call: eventGetInfo },
  // Shared events, routing and interrupt binding were dropped in review (sdei.md §3).
  3288334378: { name: 'SDEI_EVENT_ROUTING_SET', call: notSupported },
  3288334379: { name: 'SDEI_PE_MASK', call: peMask },
  3288334380: { name: 'SDEI_PE_UNMASK', call: peUnmask },
  3288334381: { name: 'SDEI_INTERRUPT_BIND', call: notSupported },
  3288334382: { name: 'SDEI_INTERRUPT_RELEASE', call: notSupported },
  3288334383: { name: 'SDEI_EVENT_SIGNAL', call: eventSignal },
  3288334384: { name: 'SDEI_FEATURES', call: features },
  3288334385: { name: 'SDEI_PRIVATE_RESET', call: privateReset },
  // No shared events: a successful no-op (decisions.md).
  3288334386: { name: 'SDEI_SHARED_RESET', call: () => SDEI_SUCCESS },
};

/**
 * An SDEI hypercall from `vcpu` (x0 = `functionId`, arguments in x1–x5): runs the function and
 * writes its result. NOT_SUPPORTED for the unallocated ids of the range and for every id when
 * the VM has no SDEI service. Delivery is the guest-entry hook's job (index.ts).
 */
export function sdeiHypercall(vm: VmState, vcpu: VcpuState, functionId: number, ctx: StepContext): void {
  const s = vcpu.devices.sdei;
  const row = SDEI_FUNCTION_TABLE[functionId];
  const result: CallResult = !vm.sdei || !s || !row ? SDEI_NOT_SUPPORTED : row.call({ vm, vcpu, s, ctx });
  if (result === 'no-result') return;
  vcpu.x[0] = result & U64;
  vcpu.x[1] = 0n;
  vcpu.x[2] = 0n;
  vcpu.x[3] = 0n;
}
