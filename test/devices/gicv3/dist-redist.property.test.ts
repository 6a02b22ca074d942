// Property: no guest access to the distributor (64 KiB) or a redistributor (128 KiB), however
// malformed (any offset, any size 1/2/4/8, any 64-bit value, reads and writes), and no
// userspace access, throws; and the state stays plain data within its invariants (priorities
// multiples of 8, groups 0/1, affinities 24-bit, vSGI stores of 16 booleans).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GICD_REGISTERS } from '../../../devices/gicv3/dist-registers.js';
import { GICR_REGISTERS } from '../../../devices/gicv3/redist-registers.js';
import { gicRegContext } from '../../../devices/gicv3/regs-common.js';
import type { IrqState } from '../../../devices/gicv3/state.js';
import { hasRegister, mmioRead, mmioWrite, uaccessRead, uaccessWrite } from '../../../devices/mmio-table.js';
import { effectSink, gicVm } from '../../helpers/gic.js';

function isPlain(value: unknown): boolean {
  if (value === null) return true;
  const t = typeof value;
  if (t === 'number') return Number.isFinite(value);
  if (t === 'boolean' || t === 'string' || t === 'bigint') return true;
  if (t !== 'object') return false;
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) return value.every(isPlain);
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value as object).every(isPlain);
}

function irqOk(irq: IrqState): boolean {
  return (
    (irq.priority & 7) === 0 &&
    irq.priority >= 0 &&
    irq.priority <= 0xf8 &&
    (irq.group === 0 || irq.group === 1) &&
    irq.mpidr >= 0 &&
    irq.mpidr <= 0xff_ffff
  );
}

const access = fc.record({
  frame: fc.constantFrom('gicd', 'gicr'),
  vcpu: fc.integer({ min: 0, max: 1 }),
  kind: fc.constantFrom('read', 'write', 'uread', 'uwrite', 'has'),
  offset: fc.oneof(
    fc.integer({ min: 0, max: 0x2_0000 }),
    fc.integer({ min: 0, max: 0x1000 }),
    fc.integer({ min: 0x1_0000, max: 0x1_1000 }),
    fc.integer({ min: 0x6000, max: 0x8000 }),
  ),
  size: fc.constantFrom(1, 2, 4, 8),
  value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
});

describe('random guest and userspace accesses', () => {
  it('never throw and leave plain state within its invariants', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.constantFrom('gicv3' as const, 'gicv4.1' as const),
        fc.constantFrom(64, 96, 256, 1024),
        fc.array(access, { minLength: 1, maxLength: 40 }),
        (its, host, nrIrqs, accesses) => {
          const vm = gicVm({ its, host, nrIrqs });
          const fx = effectSink();
          for (const a of accesses) {
            const ctx = gicRegContext(vm, vm.vcpus[a.vcpu]!, fx)!;
            const table = a.frame === 'gicd' ? GICD_REGISTERS : GICR_REGISTERS;
            const offset = a.frame === 'gicd' ? a.offset % 0x1_0000 : a.offset;
            if (a.kind === 'read') {
              const v = mmioRead(table, ctx, offset, a.size);
              expect(v >= 0n && v < 1n << BigInt(a.size * 8)).toBe(true);
            } else if (a.kind === 'write') mmioWrite(table, ctx, offset, a.size, a.value);
            else if (a.kind === 'uread') expect(uaccessRead(table, ctx, offset).rc).toBe(0);
            else if (a.kind === 'uwrite')
              expect(uaccessWrite(table, ctx, offset, a.value)).toBeLessThanOrEqual(0);
            else expect([0, -6]).toContain(hasRegister(table, ctx, offset));
          }
          const gic = vm.devices.gic!;
          expect(isPlain(vm)).toBe(true);
          expect(gic.spis.length).toBe(nrIrqs - 32);
          expect(gic.spis.every(irqOk)).toBe(true);
          for (const vcpu of vm.vcpus) {
            const c = vcpu.devices.gic!;
            expect(c.irqs.length).toBe(32);
            expect(c.irqs.every(irqOk)).toBe(true);
            expect(c.vsgiPending.length).toBe(16);
            // SGIs are edge, PPIs level: ICFGR0/1 are read-only
            expect(c.irqs.every((irq, i) => irq.level === i >= 16)).toBe(true);
            // a hw vSGI has no active state and no latch
            expect(c.irqs.slice(0, 16).every((irq) => !irq.hw || !irq.pendingLatch)).toBe(true);
            expect(c.pendbaser >= 0n && c.pendbaser < 1n << 64n).toBe(true);
          }
          expect(gic.propbaser >= 0n && gic.propbaser < 1n << 64n).toBe(true);
          expect(fx.effects).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
