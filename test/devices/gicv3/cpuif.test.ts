// ICC_*_EL1 register rows (devices/gicv3/cpuif.ts): table shape, guest reset values and
// write/read-back, UNDEFINED directions, and the userspace CPU_SYSREGS accessors with the error
// codes of arch/arm64/kvm/vgic-sys-reg-v3.c (vgic-v3.md §3.1).

import { describe, expect, it } from 'vitest';
import {
  cpuSysregsGet,
  cpuSysregsHas,
  cpuSysregsSet,
  ICC_REGISTERS,
  iccRead,
  iccRegisterAt,
  iccWrite,
  sysregOfAttr,
} from '../../../devices/gicv3/cpuif.js';
import { REGISTER_NAMES, registerByName, sysregEncoding } from '../../../devices/names.js';
import { EINVAL, ENOENT, ENXIO } from '../../../engine/errno.js';
import type { VmState } from '../../../engine/state.js';
import { cpuifVm, cpuOf, effectSink, gicOf, initedCpu } from '../../helpers/gic.js';

// ---- fixture (shared, test/helpers/gic.ts) ------------------------------------------------------

/** One running vCPU with the distributor's EnableGrp1A set (the rest as reset and INIT leave it). */
function vmWithGic(): VmState {
  const vm = cpuifVm();
  gicOf(vm).enabled = true;
  return vm;
}

const enc = (name: string): number => registerByName(name)!.offset;

function mrs(vm: VmState, name: string, fx = effectSink()): bigint {
  return iccRead(vm, vm.vcpus[0]!, enc(name), fx);
}

function msr(vm: VmState, name: string, value: bigint, fx = effectSink()): void {
  iccWrite(vm, vm.vcpus[0]!, enc(name), value, fx);
}

// ---- table ---------------------------------------------------------------------------------------

describe('ICC register table', () => {
  it('is sorted by encoding with no duplicates', () => {
    for (let i = 1; i < ICC_REGISTERS.length; i++) {
      expect(ICC_REGISTERS[i]!.encoding).toBeGreaterThan(ICC_REGISTERS[i - 1]!.encoding);
    }
  });

  it('has one row per ICC name of devices/names.ts, at the same encoding', () => {
    const names = Object.values(REGISTER_NAMES).filter((r) => r.space === 'icc');
    expect(ICC_REGISTERS.map((r) => r.name).sort()).toEqual(names.map((r) => r.name).sort());
    for (const r of names) expect(iccRegisterAt(r.offset)?.name).toBe(r.name);
  });

  it('marks only the acknowledge registers as reads with side effects', () => {
    expect(ICC_REGISTERS.filter((r) => r.sideEffectOnRead).map((r) => r.name)).toEqual([
      'ICC_IAR0_EL1',
      'ICC_IAR1_EL1',
    ]);
  });

  it('matches the instr values of vgic-v3.md §3.1', () => {
    expect(enc('ICC_PMR_EL1')).toBe(0xc230);
    expect(enc('ICC_BPR0_EL1')).toBe(0xc643);
    expect(enc('ICC_AP0R0_EL1')).toBe(0xc644);
    expect(enc('ICC_AP1R3_EL1')).toBe(0xc64b);
    expect(enc('ICC_BPR1_EL1')).toBe(0xc663);
    expect(enc('ICC_CTLR_EL1')).toBe(0xc664);
    expect(enc('ICC_SRE_EL1')).toBe(0xc665);
    expect(enc('ICC_IGRPEN1_EL1')).toBe(0xc667);
  });
});

// ---- guest view ----------------------------------------------------------------------------------

describe('guest reset values', () => {
  it.each([
    ['ICC_PMR_EL1', 0n],
    // VMCR resets to 0; the hardware shows the BPRs clamped to their minimum for 5 bits.
    ['ICC_BPR0_EL1', 2n],
    ['ICC_BPR1_EL1', 3n],
    ['ICC_AP0R0_EL1', 0n],
    ['ICC_AP1R0_EL1', 0n],
    ['ICC_CTLR_EL1', 0x8400n],
    ['ICC_SRE_EL1', 7n],
    ['ICC_IGRPEN0_EL1', 0n],
    ['ICC_IGRPEN1_EL1', 0n],
    ['ICC_RPR_EL1', 0xffn],
    ['ICC_HPPIR0_EL1', 1023n],
    ['ICC_HPPIR1_EL1', 1023n],
    ['ICC_IAR0_EL1', 1023n],
    ['ICC_IAR1_EL1', 1023n],
  ])('%s reads %s', (name, expected) => {
    const fx = effectSink();
    expect(mrs(vmWithGic(), name, fx)).toBe(expected);
    expect(fx.effects).toEqual([]);
  });
});

describe('guest write and read back', () => {
  it.each([
    ['ICC_PMR_EL1', 0xffn, 0xf8n],
    ['ICC_PMR_EL1', 0x13n, 0x10n],
    ['ICC_PMR_EL1', 0x1_0000_0080n, 0x80n],
    ['ICC_BPR0_EL1', 0n, 2n],
    ['ICC_BPR0_EL1', 5n, 5n],
    ['ICC_BPR0_EL1', 0xffn, 7n],
    ['ICC_BPR1_EL1', 1n, 3n],
    ['ICC_BPR1_EL1', 4n, 4n],
    ['ICC_CTLR_EL1', 0x3n, 0x8403n],
    ['ICC_CTLR_EL1', 0xffff_ffffn, 0x8403n],
    ['ICC_CTLR_EL1', 0x2n, 0x8402n],
    ['ICC_SRE_EL1', 0n, 7n],
    ['ICC_IGRPEN0_EL1', 3n, 1n],
    ['ICC_IGRPEN1_EL1', 0xfen, 0n],
    ['ICC_IGRPEN1_EL1', 1n, 1n],
    ['ICC_AP0R0_EL1', 0xdead_beefn, 0xdead_beefn],
    ['ICC_AP1R0_EL1', (1n << 40n) | 5n, 5n],
  ])('%s := %s reads %s', (name, value, expected) => {
    const vm = vmWithGic();
    const fx = effectSink();
    msr(vm, name, value, fx);
    expect(mrs(vm, name, fx)).toBe(expected);
    expect(fx.effects).toEqual([]);
  });

  it('stores the guest CBPR and EOImode in VMCR', () => {
    const vm = vmWithGic();
    msr(vm, 'ICC_CTLR_EL1', 3n);
    expect(cpuOf(vm).vmcr).toMatchObject({ cbpr: true, eoim: true });
  });

  it('with CBPR, BPR1 reads BPR0 + 1 saturated to 7 and ignores writes', () => {
    const vm = vmWithGic();
    msr(vm, 'ICC_BPR1_EL1', 5n);
    msr(vm, 'ICC_CTLR_EL1', 1n);
    msr(vm, 'ICC_BPR0_EL1', 4n);
    expect(mrs(vm, 'ICC_BPR1_EL1')).toBe(5n);
    msr(vm, 'ICC_BPR1_EL1', 7n);
    expect(cpuOf(vm).vmcr.bpr1).toBe(5);
    msr(vm, 'ICC_BPR0_EL1', 7n);
    expect(mrs(vm, 'ICC_BPR1_EL1')).toBe(7n);
    msr(vm, 'ICC_CTLR_EL1', 0n);
    expect(mrs(vm, 'ICC_BPR1_EL1')).toBe(5n);
  });
});

describe('UNDEFINED guest accesses', () => {
  it.each([
    ['ICC_IAR0_EL1', true],
    ['ICC_IAR1_EL1', true],
    ['ICC_HPPIR0_EL1', true],
    ['ICC_HPPIR1_EL1', true],
    ['ICC_RPR_EL1', true],
    ['ICC_EOIR0_EL1', false],
    ['ICC_EOIR1_EL1', false],
    ['ICC_DIR_EL1', false],
    ['ICC_SGI0R_EL1', false],
    ['ICC_SGI1R_EL1', false],
    ['ICC_ASGI1R_EL1', false],
    // 5 priority bits: only AP<g>R0 is implemented.
    ['ICC_AP0R1_EL1', false],
    ['ICC_AP0R1_EL1', true],
    ['ICC_AP1R3_EL1', false],
    ['ICC_AP1R2_EL1', true],
  ])('%s (write=%s) raises guest.undef', (name, write) => {
    const vm = vmWithGic();
    const fx = effectSink();
    const before = structuredClone(cpuOf(vm));
    if (write) msr(vm, name, 0xffn, fx);
    else expect(mrs(vm, name, fx)).toBe(0n);
    expect(fx.effects).toEqual([{ type: 'guest.undef', vcpu: 0, sysreg: enc(name), write }]);
    expect(cpuOf(vm)).toEqual(before);
  });

  it('an encoding outside the table is UNDEFINED both ways', () => {
    const vm = vmWithGic();
    const fx = effectSink();
    const sysreg = sysregEncoding(3, 0, 12, 10, 0);
    expect(iccRead(vm, vm.vcpus[0]!, sysreg, fx)).toBe(0n);
    iccWrite(vm, vm.vcpus[0]!, sysreg, 1n, fx);
    expect(fx.effects.map((e) => e.write)).toEqual([false, true]);
  });
});

// ---- userspace CPU_SYSREGS -----------------------------------------------------------------------

describe('CPU_SYSREGS get/set (vgic-sys-reg-v3.c)', () => {
  it.each([
    ['ICC_PMR_EL1', 0n],
    ['ICC_BPR0_EL1', 0n],
    ['ICC_BPR1_EL1', 0n],
    ['ICC_AP0R0_EL1', 0n],
    ['ICC_AP1R0_EL1', 0n],
    ['ICC_CTLR_EL1', 0x8400n],
    ['ICC_SRE_EL1', 7n],
    ['ICC_IGRPEN0_EL1', 0n],
    ['ICC_IGRPEN1_EL1', 0n],
  ])('%s reads %s after reset (raw VMCR, no clamping)', (name, expected) => {
    expect(cpuSysregsGet(initedCpu(), enc(name))).toEqual({ rc: 0, value: expected });
    expect(cpuSysregsHas(enc(name))).toBe(0);
  });

  it.each([
    ['ICC_PMR_EL1', 0xffn, 0xffn],
    ['ICC_PMR_EL1', 0x1234n, 0x34n],
    ['ICC_BPR0_EL1', 0xfn, 7n],
    ['ICC_BPR0_EL1', 1n, 1n],
    ['ICC_BPR1_EL1', 0n, 0n],
    ['ICC_BPR1_EL1', 0xan, 2n],
    ['ICC_AP0R0_EL1', 0x1_8000_0001n, 0x8000_0001n],
    ['ICC_AP1R0_EL1', 0xffff_ffffn, 0xffff_ffffn],
    ['ICC_IGRPEN0_EL1', 0xffn, 1n],
    ['ICC_IGRPEN1_EL1', 2n, 0n],
    ['ICC_SRE_EL1', 1n, 7n],
    ['ICC_CTLR_EL1', 0x8403n, 0x8403n],
  ])('%s := %s reads %s', (name, value, expected) => {
    const cpu = initedCpu();
    expect(cpuSysregsSet(cpu, enc(name), value)).toBe(0);
    expect(cpuSysregsGet(cpu, enc(name))).toEqual({ rc: 0, value: expected });
  });

  it('BPR1 with CBPR: get is min(BPR0 + 1, 7), set is ignored with rc 0', () => {
    const cpu = initedCpu();
    cpuSysregsSet(cpu, enc('ICC_BPR1_EL1'), 4n);
    cpuSysregsSet(cpu, enc('ICC_CTLR_EL1'), 0x8401n);
    cpuSysregsSet(cpu, enc('ICC_BPR0_EL1'), 7n);
    expect(cpuSysregsGet(cpu, enc('ICC_BPR1_EL1')).value).toBe(7n);
    expect(cpuSysregsSet(cpu, enc('ICC_BPR1_EL1'), 1n)).toBe(0);
    expect(cpu.vmcr.bpr1).toBe(4);
  });

  it.each([
    ['PRIbits above the vCPU (6 bits)', 0x8500n],
    ['IDbits above the vCPU (24 bits)', 0x8c00n],
    ['SEIS unlike the host', 0xc400n],
    ['A3V unlike the host', 0x0400n],
  ])('ICC_CTLR_EL1 rejects %s with -EINVAL', (_what, image) => {
    const cpu = initedCpu();
    expect(cpuSysregsSet(cpu, enc('ICC_CTLR_EL1'), image | 3n)).toBe(-EINVAL);
    expect(cpu.vmcr).toMatchObject({ cbpr: false, eoim: false });
  });

  it('ICC_CTLR_EL1 lowers PRIbits even when a later check fails, as set_gic_ctlr does', () => {
    const cpu = initedCpu();
    expect(cpuSysregsSet(cpu, enc('ICC_CTLR_EL1'), 0xcb00n)).toBe(-EINVAL);
    expect(cpu.numPriBits).toBe(4);
    expect(cpuSysregsGet(cpu, enc('ICC_CTLR_EL1')).value).toBe(0x8300n);
  });

  it('ICC_CTLR_EL1 may lower PRIbits and then not raise it again', () => {
    const cpu = initedCpu();
    expect(cpuSysregsSet(cpu, enc('ICC_CTLR_EL1'), 0x8200n)).toBe(0);
    expect(cpu.numPriBits).toBe(3);
    expect(cpuSysregsSet(cpu, enc('ICC_CTLR_EL1'), 0x8400n)).toBe(-EINVAL);
  });

  it.each([
    ['ICC_AP0R1_EL1', 5, -EINVAL],
    ['ICC_AP1R3_EL1', 5, -EINVAL],
    ['ICC_AP1R1_EL1', 6, 0],
    ['ICC_AP0R2_EL1', 6, -EINVAL],
    ['ICC_AP0R3_EL1', 7, 0],
    ['ICC_AP1R0_EL1', 1, 0],
  ])('%s with %i priority bits: rc %i for get and set', (name, bits, rc) => {
    const cpu = initedCpu();
    cpu.numPriBits = bits;
    expect(cpuSysregsSet(cpu, enc(name), 1n)).toBe(rc);
    expect(cpuSysregsGet(cpu, enc(name)).rc).toBe(rc);
  });

  it('ICC_SRE_EL1 without SRE is -EINVAL; with it, ignored', () => {
    const cpu = initedCpu();
    expect(cpuSysregsSet(cpu, enc('ICC_SRE_EL1'), 6n)).toBe(-EINVAL);
    expect(cpuSysregsSet(cpu, enc('ICC_SRE_EL1'), 1n)).toBe(0);
    expect(cpuSysregsGet(cpu, enc('ICC_SRE_EL1')).value).toBe(7n);
  });

  it.each([
    ['ICC_IAR1_EL1', enc('ICC_IAR1_EL1')],
    ['ICC_EOIR0_EL1', enc('ICC_EOIR0_EL1')],
    ['ICC_SGI1R_EL1', enc('ICC_SGI1R_EL1')],
    ['ICC_RPR_EL1', enc('ICC_RPR_EL1')],
    ['ICH_HCR_EL2 (hidden without nested virt)', sysregEncoding(3, 4, 12, 11, 0)],
    ['ICH_VMCR_EL2 (hidden)', sysregEncoding(3, 4, 12, 11, 7)],
    ['an unallocated encoding', 0xffff],
  ])('%s: get/set -ENOENT, has -ENXIO', (_what, sysreg) => {
    const cpu = initedCpu();
    expect(cpuSysregsGet(cpu, sysreg)).toEqual({ rc: -ENOENT });
    expect(cpuSysregsSet(cpu, sysreg, 0n)).toBe(-ENOENT);
    expect(cpuSysregsHas(sysreg)).toBe(-ENXIO);
  });

  it('takes the sysreg from bits 15:0 of the attr, ignoring the MPIDR field', () => {
    expect(sysregOfAttr((0x0102_0304n << 32n) | 0xc664n)).toBe(0xc664);
  });

  it('a userspace PMR of 0xFF masks like 0xF8 for the guest', () => {
    const vm = vmWithGic();
    cpuSysregsSet(cpuOf(vm), enc('ICC_PMR_EL1'), 0xffn);
    expect(mrs(vm, 'ICC_PMR_EL1')).toBe(0xf8n);
  });
});
