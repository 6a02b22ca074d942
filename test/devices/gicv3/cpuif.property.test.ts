// Property: no guest ICC_* access and no userspace CPU_SYSREGS access throws, whatever the
// register, value or CPU-interface state (issue 3 "no guest access, however malformed, throws"),
// and the architectural ranges hold afterwards.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cpuSysregsGet,
  cpuSysregsSet,
  ICC_REGISTERS,
  iccRead,
  iccWrite,
} from '../../../devices/gicv3/cpuif.js';
import { runningPriority } from '../../../devices/gicv3/cpuif-derive.js';
import { newGicState } from '../../../devices/gicv3/reset.js';
import type { GicCpuState, GicState, IrqState } from '../../../devices/gicv3/state.js';
import { EINVAL, ENOENT } from '../../../engine/errno.js';
import { newVcpu, type VmState } from '../../../engine/state.js';
import { effectSink, emptyVm } from '../../helpers/gic.js';

const arbIrq: fc.Arbitrary<IrqState> = fc.record({
  pendingLatch: fc.boolean(),
  lineLevel: fc.boolean(),
  enabled: fc.boolean(),
  active: fc.boolean(),
  priority: fc.integer({ min: 0, max: 31 }).map((p) => p << 3),
  group: fc.integer({ min: 0, max: 1 }),
  level: fc.boolean(),
  mpidr: fc.integer({ min: 0, max: 3 }),
  hw: fc.boolean(),
});

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

// Deliberately not the reset state (test/helpers/gic.ts builds that): any CPU-interface state
// in the architectural ranges, including ones no guest could reach, so the property covers them.
const arbCpu: fc.Arbitrary<GicCpuState> = fc.record({
  irqs: fc.array(arbIrq, { minLength: 32, maxLength: 32 }),
  region: fc.constant(null),
  slot: fc.constant(0),
  pendbaser: fc.constant(0x580n),
  enableLpis: fc.constant(false),
  numPriBits: fc.integer({ min: 1, max: 7 }),
  numIdBits: fc.integer({ min: 0, max: 1 }),
  vmcr: fc.record({
    eng0: fc.boolean(),
    eng1: fc.boolean(),
    cbpr: fc.boolean(),
    eoim: fc.boolean(),
    bpr0: fc.integer({ min: 0, max: 7 }),
    bpr1: fc.integer({ min: 0, max: 7 }),
    pmr: fc.integer({ min: 0, max: 255 }),
  }),
  ap0r: fc.array(u32, { minLength: 4, maxLength: 4 }),
  ap1r: fc.array(u32, { minLength: 4, maxLength: 4 }),
  vsgiPending: fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
});

const arbVm: fc.Arbitrary<VmState> = fc
  .record({
    cpus: fc.array(fc.option(arbCpu, { freq: 10 }), { minLength: 1, maxLength: 3 }),
    spis: fc.array(arbIrq, { maxLength: 40 }),
    enabled: fc.boolean(),
  })
  .map(({ cpus, spis, enabled }) => {
    // Past INIT and first run; everything else about the distributor as created.
    const gic: GicState = {
      ...newGicState('gicv3'),
      initialized: true,
      ready: true,
      nrSpis: spis.length,
      enabled,
      spis,
    };
    const vm = emptyVm();
    vm.devices.gic = gic;
    vm.vcpus = cpus.map((cpu, id) => {
      const vcpu = newVcpu(id);
      if (cpu) vcpu.devices.gic = cpu;
      return vcpu;
    });
    return vm;
  });

const arbSysreg = fc.oneof(
  fc.constantFrom(...ICC_REGISTERS.map((r) => r.encoding)),
  fc.integer({ min: 0, max: 0xffff }),
);

const arbAccess = fc.record({
  cpu: fc.nat(2),
  sysreg: arbSysreg,
  kind: fc.constantFrom('mrs', 'msr', 'get', 'set'),
  value: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 2048n })),
});

describe('ICC accesses never throw', () => {
  it('random guest and userspace accesses on random states', () => {
    fc.assert(
      fc.property(arbVm, fc.array(arbAccess, { maxLength: 40 }), (vm, accesses) => {
        const fx = effectSink();
        for (const a of accesses) {
          const vcpu = vm.vcpus[a.cpu % vm.vcpus.length]!;
          const cpu = vcpu.devices.gic;
          switch (a.kind) {
            case 'mrs': {
              const value = iccRead(vm, vcpu, a.sysreg, fx);
              expect(value >= 0n && value < 1n << 64n).toBe(true);
              break;
            }
            case 'msr':
              iccWrite(vm, vcpu, a.sysreg, a.value, fx);
              break;
            case 'get':
              if (cpu) expect([0, -EINVAL, -ENOENT]).toContain(cpuSysregsGet(cpu, a.sysreg).rc);
              break;
            case 'set':
              if (cpu) expect([0, -EINVAL, -ENOENT]).toContain(cpuSysregsSet(cpu, a.sysreg, a.value));
              break;
          }
          if (cpu) {
            const rp = runningPriority(cpu);
            expect(rp === 0xff || (rp % 8 === 0 && rp <= 0xf8)).toBe(true);
            expect(cpu.numPriBits).toBeGreaterThanOrEqual(1);
            expect(cpu.ap1r.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff)).toBe(true);
          }
        }
        for (const e of fx.effects) expect(e.type).toBe('guest.undef');
      }),
      { numRuns: 300 },
    );
  });

  it('IAR returns 1023 or an INTID that is now active (or a consumed vSGI)', () => {
    fc.assert(
      fc.property(arbVm, fc.nat(2), fc.constantFrom(0, 1), (vm, c, group) => {
        const vcpu = vm.vcpus[c % vm.vcpus.length]!;
        if (!vcpu.devices.gic) return;
        const sysreg = ICC_REGISTERS.find((r) => r.name === `ICC_IAR${group}_EL1`)!.encoding;
        const intid = Number(iccRead(vm, vcpu, sysreg, { emit: () => {} }));
        if (intid === 1023) return;
        const cpu = vcpu.devices.gic!;
        const irq = intid < 32 ? cpu.irqs[intid]! : vm.devices.gic!.spis[intid - 32]!;
        expect(irq.group).toBe(group);
        if (intid < 16 && irq.hw) expect(cpu.vsgiPending[intid]).toBe(false);
        else expect(irq.active).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
