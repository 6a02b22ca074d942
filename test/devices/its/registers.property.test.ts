// Property: no guest access to the ITS frames (128 KiB), however malformed (any offset, size
// 1/2/4/8, any 64-bit value, reads and writes), and no userspace ITS_REGS access (any attr,
// including bits 63:32, any value, bad pointers), throws; the state stays plain data within its
// invariants (queue offsets 32-byte aligned and inside the queue or 0, BASER Type/Entry_Size and
// Page_Size as forced, BASER1 never indirect, ABI revision 0), with or without the quirk.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GITS_REGISTERS, itsRegContext, itsRegsGet, itsRegsSet } from '../../../devices/its/registers.js';
import { installIts } from '../../../devices/its/reset.js';
import { itsCmdBufferSize } from '../../../devices/its/state.js';
import { mmioRead, mmioWrite } from '../../../devices/mmio-table.js';
import { gicVm } from '../../helpers/gic.js';

const U64_MAX = (1n << 64n) - 1n;
const VALID = 1n << 63n;

const value = fc.oneof(
  { arbitrary: fc.bigInt(0n, U64_MAX), weight: 3 },
  { arbitrary: fc.bigInt(0n, 0xffffn), weight: 2 },
  {
    arbitrary: fc.constantFrom(0n, 1n, 0x20n, 0xffff_ffffn, U64_MAX, VALID, VALID | 0x4001_0000n),
    weight: 2,
  },
);

const access = fc.record({
  kind: fc.constantFrom('read', 'write', 'uget', 'uset', 'ubad'),
  offset: fc.oneof(
    fc.integer({ min: 0, max: 0x2_0000 }),
    fc.integer({ min: 0, max: 0x140 }),
    fc.integer({ min: 0xffc0, max: 0x1_0000 }),
    fc.integer({ min: 0x1_0030, max: 0x1_0050 }),
  ),
  high: fc.constantFrom(0n, 0n, 0n, 1n << 32n, 1n << 63n),
  size: fc.constantFrom(1, 2, 4, 8),
  value,
});

describe('random guest and userspace ITS register accesses', () => {
  it('never throw and keep the register state within its invariants', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.array(access, { minLength: 1, maxLength: 50 }),
        (quirk, running, accesses) => {
          const vm = gicVm({ its: true, quirks: quirk ? ['baser-drop-on-invalid-only'] : [] });
          const its = installIts(vm);
          its.base = 0x0808_0000;
          vm.vcpus[0]!.inRun = running;
          const c = itsRegContext(vm)!;
          for (const a of accesses) {
            const attr = a.high | BigInt(a.offset);
            if (a.kind === 'read') mmioRead(GITS_REGISTERS, c, a.offset, a.size);
            else if (a.kind === 'write') mmioWrite(GITS_REGISTERS, c, a.offset, a.size, a.value);
            else if (a.kind === 'uget') itsRegsGet(vm, attr);
            else if (a.kind === 'uset') itsRegsSet(vm, attr, a.value);
            else itsRegsSet(vm, attr, null);
          }
          const qsize = itsCmdBufferSize(its.cbaser);
          for (const off of [its.creadr, its.cwriter]) {
            expect(off % 32).toBe(0);
            expect(off === 0 || off < qsize).toBe(true);
          }
          expect((its.baserDevice >> 48n) & 0x7ffn).toBe(0x107n);
          expect((its.baserCollection >> 48n) & 0x7ffn).toBe(0x407n);
          expect(its.baserCollection & (1n << 62n)).toBe(0n);
          for (const b of [its.baserDevice, its.baserCollection]) {
            expect((b >> 8n) & 3n).toBe(2n);
            expect((b >> 10n) & 3n).not.toBe(2n);
            expect(b >= 0n && b <= U64_MAX).toBe(true);
          }
          expect(its.cbaser & 0xf000n).toBe(0n);
          expect(its.abiRev).toBe(0);
          expect(its.devices).toEqual([]);
          if (running) expect(its.creadr).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
