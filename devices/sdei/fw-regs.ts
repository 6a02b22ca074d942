// The SDEI pseudo-firmware registers (sdei.md §4; KVM7 patch 19 "Support SDEI event migration"):
// KVM_{GET,SET}_ONE_REG of KVM_REG_ARM_SDEI_*, per vCPU, with the IDs and layouts of §4. Values
// are little-endian: a 128-bit HANDLER_n is ep_addr | ep_arg << 64, the 2048-bit CONTEXT is
// u64[0] pc, [1] pstate, [2..19] x0..x17, bytes 160-255 unused.
//
// Writes are validated strictly (decisions.md "Migration", review of v6 03/18): a bitmap with a
// bit at or above KVM_NR_SDEI_EVENTS, RUNNING with more than one bit, PE_STATE other than 0/1,
// non-zero unused CONTEXT bytes: -EINVAL. `sdei-fw-regs-mask-unknown-bits` restores KVM7, which
// masks bitmaps to the known events, takes any non-zero PE_STATE as masked and ignores the rest.
// Delivery is not requested here: it is re-evaluated at the next guest entry (sdei.md §4
// "Restore semantics"), which sees the restored state as a whole.

import { EINVAL, ENOENT } from '../../engine/errno.js';
import type { AttrResult, OneRegHandler } from '../../engine/registry.js';
import type { VcpuState, VmState } from '../../engine/state.js';
import { SDEI_ONE_REGS } from '../names.js';
import {
  hasSdeiQuirk,
  SDEI_EVENTS_MASK,
  SDEI_NR_EVENTS,
  SDEI_SAVED_REGS,
  type SdeiVcpuState,
} from './state.js';

const U64 = (1n << 64n) - 1n;
/** Words of the CONTEXT register that carry state: pc, pstate, x0–x17. */
const CONTEXT_WORDS = 2 + SDEI_SAVED_REGS;

type BitmapName = 'registered' | 'enabled' | 'running' | 'pending';

/** The register's state, or null without SDEI (the register is not listed: -ENOENT). */
function stateOf(vm: VmState, vcpu: VcpuState): SdeiVcpuState | null {
  return vm.sdei && vcpu.devices.sdei ? vcpu.devices.sdei : null;
}

function strict(vm: VmState): boolean {
  return !hasSdeiQuirk(vm, 'sdei-fw-regs-mask-unknown-bits');
}

function inRange(value: bigint, bits: number): boolean {
  return value >= 0n && value < 1n << BigInt(bits);
}

/** KVM_REG_ARM_SDEI_EVENT_HANDLER_`n`: events 2 and 3 do not exist, read 0, writes ignored. */
function handlerReg(n: number): OneRegHandler {
  const name = `KVM_REG_ARM_SDEI_EVENT_HANDLER_${n}`;
  return {
    name,
    id: SDEI_ONE_REGS[name]!,
    get(vm, vcpu): AttrResult {
      const s = stateOf(vm, vcpu);
      if (!s) return { rc: -ENOENT };
      const h = s.handlers[n];
      return { rc: 0, value: h ? h.addr | (h.arg << 64n) : 0n };
    },
    set(vm, vcpu, value) {
      const s = stateOf(vm, vcpu);
      if (!s) return -ENOENT;
      if (!inRange(value, 128)) return -EINVAL;
      if (n < SDEI_NR_EVENTS) s.handlers[n] = { addr: value & U64, arg: value >> 64n };
      return 0;
    },
  };
}

/** One of the four 64-bit bitmaps. */
function bitmapReg(name: string, field: BitmapName): OneRegHandler {
  return {
    name,
    id: SDEI_ONE_REGS[name]!,
    get(vm, vcpu) {
      const s = stateOf(vm, vcpu);
      if (!s) return { rc: -ENOENT };
      return { rc: 0, value: BigInt(s[field]) };
    },
    set(vm, vcpu, value) {
      const s = stateOf(vm, vcpu);
      if (!s) return -ENOENT;
      if (!inRange(value, 64)) return -EINVAL;
      const known = Number(value & BigInt(SDEI_EVENTS_MASK));
      if (strict(vm)) {
        if (value !== BigInt(known)) return -EINVAL;
        if (field === 'running' && (known & (known - 1)) !== 0) return -EINVAL;
      }
      s[field] = known;
      return 0;
    },
  };
}

const contextReg: OneRegHandler = {
  name: 'KVM_REG_ARM_SDEI_EVENT_CONTEXT',
  id: SDEI_ONE_REGS.KVM_REG_ARM_SDEI_EVENT_CONTEXT!,
  get(vm, vcpu) {
    const s = stateOf(vm, vcpu);
    if (!s) return { rc: -ENOENT };
    const words = [s.ctx.pc, s.ctx.pstate, ...s.ctx.regs];
    let value = 0n;
    for (let i = words.length - 1; i >= 0; i--) value = (value << 64n) | (words[i]! & U64);
    return { rc: 0, value };
  },
  set(vm, vcpu, value) {
    const s = stateOf(vm, vcpu);
    if (!s) return -ENOENT;
    if (!inRange(value, 2048)) return -EINVAL;
    if (strict(vm) && value >> BigInt(64 * CONTEXT_WORDS) !== 0n) return -EINVAL;
    const word = (i: number) => (value >> BigInt(64 * i)) & U64;
    s.ctx.pc = word(0);
    s.ctx.pstate = word(1);
    s.ctx.regs = Array.from({ length: SDEI_SAVED_REGS }, (_, i) => word(2 + i));
    return 0;
  },
};

const peStateReg: OneRegHandler = {
  name: 'KVM_REG_ARM_SDEI_PE_STATE',
  id: SDEI_ONE_REGS.KVM_REG_ARM_SDEI_PE_STATE!,
  get(vm, vcpu) {
    const s = stateOf(vm, vcpu);
    if (!s) return { rc: -ENOENT };
    return { rc: 0, value: s.masked ? 1n : 0n };
  },
  set(vm, vcpu, value) {
    const s = stateOf(vm, vcpu);
    if (!s) return -ENOENT;
    if (!inRange(value, 64)) return -EINVAL;
    if (strict(vm) && value > 1n) return -EINVAL;
    s.masked = value !== 0n;
    return 0;
  },
};

/** Every SDEI pseudo-firmware register, in KVM_GET_REG_LIST order (index ascending). */
export const SDEI_FW_REGS: readonly OneRegHandler[] = [
  handlerReg(0),
  handlerReg(1),
  handlerReg(2),
  handlerReg(3),
  bitmapReg('KVM_REG_ARM_SDEI_EVENT_REGISTERED', 'registered'),
  bitmapReg('KVM_REG_ARM_SDEI_EVENT_ENABLED', 'enabled'),
  bitmapReg('KVM_REG_ARM_SDEI_EVENT_RUNNING', 'running'),
  bitmapReg('KVM_REG_ARM_SDEI_EVENT_PENDING', 'pending'),
  contextReg,
  peStateReg,
];
