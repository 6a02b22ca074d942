// SDEI per-vCPU state as plain data (Arm DEN 0054; sdei.md §3 and §4, decisions.md "SDEI"): the
// KVM series' model as agreed in review — only private events (0 software-signalled, 1 raised
// by the hypervisor), all of normal priority, so at most one handler runs per vCPU and one
// interrupted context is saved. Four bitmaps (registered, enabled, running, pending; at most
// one pending instance per event), one handler entry per event and the PE mask flag.
// Plugs into the engine by augmenting VcpuDevices; absent on VMs created with `sdei=off`.

import type { VmState } from '../../engine/state.js';

/** KVM_NR_SDEI_EVENTS (KVM7 enum: 0 SW_SIGNALED, 1 ASYNC_PF). */
export const SDEI_NR_EVENTS = 2;
/** The architected software-signalled event, the only one SIGNAL accepts (sdei.md §1.0). */
export const SDEI_SW_SIGNALED_EVENT = 0;
/** Every event number below SDEI_NR_EVENTS as a bitmap. */
export const SDEI_EVENTS_MASK = (1 << SDEI_NR_EVENTS) - 1;
/** Saved interrupted registers x0–x17 (struct kvm_sdei_event_context.regs). */
export const SDEI_SAVED_REGS = 18;

/** EVENT_STATUS bits (sdei.md §1.0, §2.1). */
export const SDEI_STATUS_REGISTERED = 1;
export const SDEI_STATUS_ENABLED = 2;
export const SDEI_STATUS_RUNNING = 4;

/** struct kvm_sdei_event_handler: what EVENT_REGISTER stored. */
export interface SdeiHandler {
  addr: bigint;
  arg: bigint;
}

/** struct kvm_sdei_event_context: the context a handler interrupted. */
export interface SdeiContext {
  pc: bigint;
  pstate: bigint;
  /** x0–x17, SDEI_SAVED_REGS entries. */
  regs: bigint[];
}

/** struct kvm_sdei_vcpu plus the KVM_ARM64_SDEI_MASKED vCPU flag. Bitmaps bit n = event n. */
export interface SdeiVcpuState {
  masked: boolean;
  registered: number;
  enabled: number;
  running: number;
  pending: number;
  /** handlers[n] for n < SDEI_NR_EVENTS. */
  handlers: SdeiHandler[];
  /** Meaningful only while `running` is non-zero; kept (and migrated) regardless. */
  ctx: SdeiContext;
}

declare module '../../engine/state.js' {
  interface VcpuDevices {
    sdei?: SdeiVcpuState;
  }
}

/** A vCPU's SDEI state at creation and after reset: nothing registered, the PE masked (sdei.md §2.6). */
export function newSdeiVcpuState(): SdeiVcpuState {
  return {
    masked: true,
    registered: 0,
    enabled: 0,
    running: 0,
    pending: 0,
    handlers: Array.from({ length: SDEI_NR_EVENTS }, () => ({ addr: 0n, arg: 0n })),
    ctx: emptyContext(),
  };
}

export function emptyContext(): SdeiContext {
  return { pc: 0n, pstate: 0n, regs: Array.from({ length: SDEI_SAVED_REGS }, () => 0n) };
}

/** Puts `s` back to `newSdeiVcpuState()` in place (works on drafts and plain objects). */
export function resetSdeiVcpuState(s: SdeiVcpuState): void {
  const fresh = newSdeiVcpuState();
  s.masked = fresh.masked;
  s.registered = 0;
  s.enabled = 0;
  s.running = 0;
  s.pending = 0;
  s.handlers = fresh.handlers;
  s.ctx = fresh.ctx;
}

/** EVENT_STATUS of event `n`: registered | enabled << 1 | running << 2. Pure. */
export function eventStatus(s: SdeiVcpuState, n: number): number {
  const bit = 1 << n;
  return (
    (s.registered & bit ? SDEI_STATUS_REGISTERED : 0) |
    (s.enabled & bit ? SDEI_STATUS_ENABLED : 0) |
    (s.running & bit ? SDEI_STATUS_RUNNING : 0)
  );
}

/** The six legal states of sdei.md §2.1 by status value; 2 and 6 are unreachable from the guest. */
export const SDEI_STATE_NAMES: Readonly<Record<number, string>> = {
  0: 'unregistered',
  1: 'registered',
  3: 'enabled',
  4: 'unregister-pending',
  5: 'registered-running',
  7: 'enabled-running',
};

/** The state name of a status value; `illegal(N)` for 2 and 6 (reachable only through set_reg). */
export function stateName(status: number): string {
  return SDEI_STATE_NAMES[status] ?? `illegal(${status})`;
}

/** The lowest set bit's index, or -1 (KVM's find_next_bit from 0). */
export function lowestBit(bitmap: number): number {
  for (let n = 0; n < SDEI_NR_EVENTS; n++) if (bitmap & (1 << n)) return n;
  return -1;
}

/** The kernel quirks of decisions.md that change this model (devices/quirks.ts lists them). */
export type SdeiQuirk =
  | 'sdei-signal-ignores-target'
  | 'sdei-no-redispatch-on-complete'
  | 'sdei-complete-no-result'
  | 'sdei-stale-pending'
  | 'sdei-private-reset-while-running'
  | 'sdei-pe-mask-returns-zero'
  | 'sdei-survives-vcpu-reset'
  | 'sdei-fw-regs-mask-unknown-bits';

/** Whether the VM was created with quirk `name` (typed, so a misspelt quirk does not compile). */
export function hasSdeiQuirk(vm: VmState, name: SdeiQuirk): boolean {
  return vm.quirks.includes(name);
}
