// The generic register-table dispatcher (devices/mmio-table.ts), on a toy table: lookup,
// check_region (width, alignment, INTID range), the RAZ/WI fallback, the _SHARED split, the
// uaccess fallbacks and the startup self-check. Follows Linux vgic-mmio.c check_region.

import { describe, expect, it } from 'vitest';
import {
  A8,
  A32,
  A64,
  defineTable,
  extractBytes,
  findRow,
  fixedRegister,
  hasRegister,
  mmioRead,
  mmioWrite,
  offsetToIntid,
  perIrqRegister,
  sharedPerIrq,
  uaccessRead,
  uaccessWrite,
  update64,
} from '../../../devices/mmio-table.js';
import { EINVAL, ENXIO } from '../../../engine/errno.js';

interface Toy {
  limit: number;
  regs: Record<string, bigint>;
  log: string[];
}

function toy(limit = 64): Toy {
  return { limit, regs: {}, log: [] };
}

const TABLE = defineTable<Toy>({
  name: 'TOY',
  size: 0x1_0000,
  irqLimit: (c) => c.limit,
  rows: [
    fixedRegister({
      name: 'CTRL',
      offset: 0x0,
      access: A32,
      read: (a) => a.ctx.regs.CTRL ?? 0x11n,
      write: (a, v) => {
        a.ctx.regs.CTRL = v;
      },
      hostWrite: (a, v) => {
        if (v === 0xdeadn) return -EINVAL;
        a.ctx.regs.CTRL = v | 0x100n;
        return 0;
      },
    }),
    fixedRegister({
      name: 'WIDE',
      offset: 0x8,
      bytes: 8,
      access: A32 | A64,
      read: (a) => extractBytes(a.ctx.regs.WIDE ?? 0x1122_3344_5566_7788n, a.offset, a.size),
      write: (a, v) => {
        a.ctx.regs.WIDE = update64(a.ctx.regs.WIDE ?? 0n, a.offset, a.size, v);
      },
    }),
    fixedRegister({ name: 'RAZ', offset: 0x10, access: A32 }),
    sharedPerIrq({
      name: 'BITS',
      offset: 0x100,
      bitsPerIrq: 1,
      access: A32,
      read: (a) => BigInt(a.intid),
      write: (a, v) => {
        a.ctx.log.push(`BITS ${a.intid} ${a.count} ${v}`);
      },
    }),
    perIrqRegister({
      name: 'BYTES',
      offset: 0x400,
      bitsPerIrq: 8,
      access: A8 | A32,
      read: (a) => BigInt(a.intid * 0x10 + a.count),
      hostRead: () => 0x77n,
    }),
  ],
});

describe('defineTable self-check', () => {
  it.each([
    [
      'unsorted',
      [
        fixedRegister({ name: 'B', offset: 8, access: A32 }),
        fixedRegister({ name: 'A', offset: 0, access: A32 }),
      ],
    ],
    [
      'overlapping',
      [
        fixedRegister({ name: 'A', offset: 0, bytes: 8, access: A32 }),
        fixedRegister({ name: 'B', offset: 4, access: A32 }),
      ],
    ],
    ['outside the frame', [fixedRegister({ name: 'A', offset: 0xfffc, bytes: 8, access: A32 })]],
    ['no access flags', [fixedRegister({ name: 'A', offset: 0, access: 0 })]],
    ['64-bit misaligned', [fixedRegister({ name: 'A', offset: 4, bytes: 8, access: A64 })]],
  ])('rejects a table whose rows are %s', (_what, rows) => {
    expect(() => defineTable<Toy>({ name: 'BAD', size: 0x1_0000, irqLimit: () => 0, rows })).toThrow();
  });

  it('flattens _SHARED pairs in order', () => {
    expect(TABLE.rows.map((r) => [r.name, r.offset, r.len])).toEqual([
      ['CTRL', 0x0, 4],
      ['WIDE', 0x8, 8],
      ['RAZ', 0x10, 4],
      ['BITS', 0x100, 4],
      ['BITS', 0x104, 124],
      ['BYTES', 0x400, 1024],
    ]);
  });
});

describe('lookup', () => {
  it.each([
    [0x0, 'CTRL'],
    [0x3, 'CTRL'],
    [0x4, undefined],
    [0xc, 'WIDE'],
    [0x103, 'BITS'],
    [0x17f, 'BITS'],
    [0x180, undefined],
    [0x7ff, 'BYTES'],
    [0x800, undefined],
  ])('offset %d → %s', (offset, name) => {
    expect(findRow(TABLE, offset)?.name).toBe(name);
  });

  it.each([
    [0x100, 1, 0],
    [0x104, 1, 32],
    [0x17c, 1, 992],
    [0x400, 8, 0],
    [0x7ff, 8, 1023],
    [0x6008, 64, 1],
    [0x600c, 64, 1],
    [0xc04, 2, 16],
  ])('VGIC_ADDR_TO_INTID(%d, %d) = %d', (offset, bits, intid) => {
    expect(offsetToIntid(offset, bits)).toBe(intid);
  });
});

describe('guest dispatch (check_region)', () => {
  it.each([
    ['a 32-bit register', 0x0, 4, 0x11n],
    ['byte access to a 32-bit-only register', 0x0, 1, 0n],
    ['halfword access', 0x0, 2, 0n],
    ['64-bit access to a 32-bit-only register', 0x0, 8, 0n],
    ['a 64-bit register, whole', 0x8, 8, 0x1122_3344_5566_7788n],
    ['a 64-bit register, low half', 0x8, 4, 0x5566_7788n],
    ['a 64-bit register, high half', 0xc, 4, 0x1122_3344n],
    ['a misaligned word', 0xa, 4, 0n],
    ['a hole', 0x20, 4, 0n],
    ['beyond the frame', 0x1_0000, 4, 0n],
    ['a negative offset', -4, 4, 0n],
    ['the private slice of a _SHARED register', 0x100, 4, 0n],
    ['the first SPI word', 0x104, 4, 32n],
    ['an INTID at the limit', 0x108, 4, 0n],
    ['a byte per IRQ, byte access', 0x405, 1, 0x51n],
    ['a byte per IRQ, word access', 0x404, 4, 0x44n],
    ['a byte per IRQ beyond the limit', 0x440, 1, 0n],
  ])('%s reads as expected', (_what, offset, size, expected) => {
    expect(mmioRead(TABLE, toy(), offset, size)).toBe(expected);
  });

  it('hands handlers the first INTID and the count, and drops writes to holes', () => {
    const c = toy();
    mmioWrite(TABLE, c, 0x104, 4, 0x1_ffff_ffffn);
    mmioWrite(TABLE, c, 0x100, 4, 1n);
    mmioWrite(TABLE, c, 0x108, 4, 1n);
    mmioWrite(TABLE, c, 0x106, 4, 1n);
    mmioWrite(TABLE, c, 0x104, 2, 1n);
    expect(c.log).toEqual(['BITS 32 32 4294967295']);
  });

  it('updates only the addressed half of a 64-bit register', () => {
    const c = toy();
    mmioWrite(TABLE, c, 0x8, 8, 0xaaaa_bbbb_cccc_ddddn);
    mmioWrite(TABLE, c, 0xc, 4, 0x1234n);
    expect(c.regs.WIDE).toBe(0x0000_1234_cccc_ddddn);
    mmioWrite(TABLE, c, 0x8, 4, 0xffff_ffff_0000_0001n);
    expect(c.regs.WIDE).toBe(0x0000_1234_0000_0001n);
  });
});

describe('uaccess dispatch', () => {
  it('reads through hostRead when present, else the guest read', () => {
    expect(uaccessRead(TABLE, toy(), 0x404)).toEqual({ rc: 0, value: 0x77n });
    expect(uaccessRead(TABLE, toy(), 0x0)).toEqual({ rc: 0, value: 0x11n });
  });

  it('returns the hostWrite rc, or 0 after the guest write', () => {
    const c = toy();
    expect(uaccessWrite(TABLE, c, 0x0, 0xdeadn)).toBe(-EINVAL);
    expect(uaccessWrite(TABLE, c, 0x0, 0x2n)).toBe(0);
    expect(c.regs.CTRL).toBe(0x102n);
    expect(uaccessWrite(TABLE, c, 0x104, 0x5n)).toBe(0);
    expect(c.log).toEqual(['BITS 32 32 5']);
  });

  it.each([0x2, 0x20, 0x108, 0x1_0000])('a hole at %d gets 0 and sets nothing, rc 0', (offset) => {
    const c = toy();
    expect(uaccessRead(TABLE, c, offset)).toEqual({ rc: 0, value: 0n });
    expect(uaccessWrite(TABLE, c, offset, 1n)).toBe(0);
    expect(c).toEqual(toy());
  });

  it.each([
    [0x0, 0],
    [0x2, -ENXIO],
    [0x20, -ENXIO],
    [0x100, 0],
    [0x104, 0],
    [0x108, -ENXIO],
    [0xc, 0],
  ])('has_attr at %d → %d', (offset, rc) => {
    expect(hasRegister(TABLE, toy(), offset)).toBe(rc);
  });
});
