// ITS table ABI revision 0 codecs (devices/its/tables.ts): DTE/ITE/CTE/L1 encodings with
// hand-computed values (vits.md §4), "next" chains and caps, GITS_BASER decoding, the
// `vgic_its_check_id` slot computation for flat and two-level tables (vits.md §3.4), and
// `scan_its_table`.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { le64Bytes } from '../../../devices/its/fields.js';
import {
  baserAddress,
  COLLECTION_NOT_MAPPED,
  type Cte,
  checkId,
  collectionTableSlots,
  cteAddress,
  cteTerminatorNeeded,
  type Dte,
  decodeBaser,
  decodeCte,
  decodeDte,
  decodeIte,
  decodeL1Entry,
  dteNextChain,
  encodeCte,
  encodeDte,
  encodeIte,
  encodeL1Entry,
  type Ite,
  indirectIndex,
  iteAddress,
  iteNextChain,
  ittBytes,
  l1EntryCount,
  l2StartId,
  nextChain,
  scanItsTable,
  VITS_DTE_MAX_DEVID_OFFSET,
  VITS_ITE_MAX_EVENTID_OFFSET,
} from '../../../devices/its/tables.js';
import { EFAULT, EINVAL } from '../../../engine/errno.js';

const V = 1n << 63n;
/** A BASER as the selftest's its_install_table writes it: Size, 64K pages, InnerShareable, RaWaWb, Valid. */
function baser(
  type: number,
  base: bigint,
  pages: number,
  opts: { indirect?: boolean; esz?: number } = {},
): bigint {
  return (
    V |
    (opts.indirect ? 1n << 62n : 0n) |
    (5n << 59n) | // RaWaWb
    (BigInt(type) << 56n) |
    (BigInt((opts.esz ?? 8) - 1) << 48n) |
    base |
    (1n << 10n) | // InnerShareable
    (2n << 8n) | // 64K
    BigInt(pages - 1)
  );
}

/** Sparse guest RAM of u64 words; reads outside `backed` fail. */
function ram(words: Record<string, bigint>, backed = (_a: bigint) => true) {
  return (addr: bigint): bigint | undefined => (backed(addr) ? (words[addr.toString(16)] ?? 0n) : undefined);
}

describe('entry encodings (hand-computed)', () => {
  it.each<[string, Dte, bigint, number[]]>([
    [
      'DTE ITT 0x40050000, 8 bits, next 3',
      { valid: true, next: 3, ittAddr: 0x4005_0000n, size: 7 },
      0x8006_0000_0800_a007n,
      [0x07, 0xa0, 0x00, 0x08, 0x00, 0x00, 0x06, 0x80],
    ],
    [
      'DTE last, ITT 0x4010_0100, 1 bit',
      { valid: true, next: 0, ittAddr: 0x4010_0100n, size: 0 },
      0x8000_0000_0802_0020n,
      [0x20, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x80],
    ],
    [
      'DTE next at the cap',
      { valid: true, next: VITS_DTE_MAX_DEVID_OFFSET, ittAddr: 0n, size: 15 },
      0xfffe_0000_0000_000fn, // bit 48 is ITT_addr, not next
      [0x0f, 0, 0, 0, 0, 0, 0xfe, 0xff],
    ],
  ])('%s', (_l, dte, value, bytes) => {
    expect(encodeDte(dte)).toBe(value);
    expect(Array.from(le64Bytes(value))).toEqual(bytes);
    expect(decodeDte(value)).toEqual(dte);
  });

  it.each<[string, Ite, bigint]>([
    ['ITE LPI 8195 ICID 3 next 1', { next: 1, pintid: 8195, icid: 3 }, 0x0001_0000_2003_0003n],
    ['ITE last LPI 8192 ICID 0', { next: 0, pintid: 8192, icid: 0 }, 0x0000_0000_2000_0000n],
    [
      'ITE next at the cap',
      { next: VITS_ITE_MAX_EVENTID_OFFSET, pintid: 0xffff, icid: 0xffff },
      0xffff_0000_ffff_ffffn,
    ],
  ])('%s', (_l, ite, value) => {
    expect(encodeIte(ite)).toBe(value);
    expect(decodeIte(value)).toEqual(ite);
  });

  it.each<[string, Cte, bigint]>([
    ['CTE ICID 3 → vCPU 1', { valid: true, target: 1, icid: 3 }, 0x8000_0000_0001_0003n],
    ['CTE unmapped ICID 5', { valid: true, target: COLLECTION_NOT_MAPPED, icid: 5 }, 0x8000_ffff_ffff_0005n],
    ['zero terminator', { valid: false, target: 0, icid: 0 }, 0n],
  ])('%s', (_l, cte, value) => {
    expect(encodeCte(cte)).toBe(value);
    expect(decodeCte(value)).toEqual(cte);
  });

  it('CTE restore reads (u32)(val >> 16): bits 62:48 are ignored', () => {
    expect(decodeCte(0xfff5_0000_0002_0007n)).toEqual({ valid: true, target: 2, icid: 7 });
  });

  it('L1 entries: valid bit 63, L2 address bits 51:16, other bits ignored', () => {
    expect(encodeL1Entry({ valid: true, l2Addr: 0x4200_0000n })).toBe(0x8000_0000_4200_0000n);
    expect(decodeL1Entry(0xfff0_0000_4200_ffffn)).toEqual({ valid: true, l2Addr: 0x4200_0000n });
    expect(decodeL1Entry(0x000f_0000_4200_0000n)).toEqual({ valid: false, l2Addr: 0x000f_0000_4200_0000n });
  });
});

describe('"next" chains', () => {
  it('DTE: distance to the next saved DeviceID, capped at 2^14 − 1, 0 for the last', () => {
    expect(dteNextChain([0, 3, 20_000, 20_001])).toEqual([3, VITS_DTE_MAX_DEVID_OFFSET, 1, 0]);
    expect(dteNextChain([5])).toEqual([0]);
    expect(dteNextChain([])).toEqual([]);
  });
  it('ITE: distance to the next saved EventID, capped at 2^16 − 1', () => {
    expect(iteNextChain([0, 65_535])).toEqual([65_535, 0]);
    expect(iteNextChain([1, 2, 10])).toEqual([1, 8, 0]);
    expect(nextChain([0, 100_000], VITS_ITE_MAX_EVENTID_OFFSET)).toEqual([VITS_ITE_MAX_EVENTID_OFFSET, 0]);
  });
});

describe('GITS_BASER decoding', () => {
  it('reset value of BASER0 (0x1907000000000600): device table, 8-byte entries, 64K', () => {
    expect(decodeBaser(0x1907_0000_0000_0600n)).toEqual({
      valid: false,
      indirect: false,
      type: 1,
      entrySize: 8,
      pageSize: 0x10000,
      base: 0n,
      nrPages: 1,
      tableBytes: 0x10000,
    });
    expect(decodeBaser(0x1c07_0000_0000_0600n).type).toBe(4);
  });
  it('address: bits 47:16, plus bits 15:12 as PA[51:48]', () => {
    expect(baserAddress(0x0000_8765_4321_3000n | 0xfffn)).toBe(0x0003_8765_4321_0000n);
    expect(decodeBaser(baser(1, 0x4000_0000n, 4, { indirect: true }))).toMatchObject({
      valid: true,
      indirect: true,
      base: 0x4000_0000n,
      nrPages: 4,
      tableBytes: 0x40000,
    });
  });
  it('page size field: 4K, 16K, 64K', () => {
    expect([0n, 1n, 2n, 3n].map((p) => decodeBaser(p << 8n).pageSize)).toEqual([
      0x1000, 0x4000, 0x10000, 0x10000,
    ]);
  });
});

describe('check_id: flat tables', () => {
  const noRam = ram({});
  const dev1 = baser(1, 0x4000_0000n, 1);
  it.each<[string, bigint, number, bigint | undefined]>([
    ['device 0', dev1, 0, 0x4000_0000n],
    ['device 8191 (last slot of one page)', dev1, 8191, 0x4000_fff8n],
    ['device 8192 beyond one page', dev1, 8192, undefined],
    ['device 8192 with two pages', baser(1, 0x4000_0000n, 2), 8192, 0x4001_0000n],
    ['device 0x10000 beyond Devbits', baser(1, 0x4000_0000n, 256), 0x10000, undefined],
    ['collection 65535', baser(4, 0x5000_0000n, 256), 65_535, 0x5007_fff8n],
    ['collection 65536', baser(4, 0x5000_0000n, 256), 65_536, undefined],
    ['type 0 (unimplemented)', baser(0, 0x4000_0000n, 1), 0, undefined],
    ['BASER esz is used (16-byte entries)', baser(1, 0x4000_0000n, 1, { esz: 16 }), 3, 0x4000_0030n],
    ['Valid is not checked', dev1 & ~V, 2, 0x4000_0010n],
    ['negative id', dev1, -1, undefined],
  ])('%s', (_l, b, id, expected) => {
    expect(checkId(b, id, noRam)).toBe(expected);
  });
  it('a slot whose page has no memslot fails', () => {
    expect(checkId(dev1, 1, noRam, (a) => a < 0x4000_0008n)).toBeUndefined();
    expect(checkId(dev1, 0, noRam, (a) => a < 0x4000_0008n)).toBe(0x4000_0000n);
  });
});

describe('check_id: two-level device table', () => {
  const L1 = 0x4100_0000n;
  const b = baser(1, L1, 1, { indirect: true });
  const words = {
    [L1.toString(16)]: encodeL1Entry({ valid: true, l2Addr: 0x4200_0000n }),
    [(L1 + 8n).toString(16)]: 0x0000_0000_4300_0000n, // invalid (bit 63 clear)
    [(L1 + 16n).toString(16)]: encodeL1Entry({ valid: true, l2Addr: 0x4300_0000n }) | 0xfffn,
  };
  const read = ram(words, (a) => a !== L1 + 24n);
  it('splits the id into L1 index = id / 8192 and L2 index = id % 8192', () => {
    expect(indirectIndex(2 * 8192 + 7)).toEqual({ l1Index: 2, l2Index: 7 });
    expect(l2StartId(3)).toBe(3 * 8192);
    expect(l1EntryCount(b)).toBe(8192);
  });
  it.each<[string, number, bigint | undefined]>([
    ['device 5 in the first L2 page', 5, 0x4200_0028n],
    ['device 8192 + 1: L1 entry invalid', 8193, undefined],
    ['device 2·8192 + 7: L1 low bits ignored', 2 * 8192 + 7, 0x4300_0038n],
    ['device 3·8192: L1 entry unreadable', 3 * 8192, undefined],
    ['device 4·8192: L1 entry zero', 4 * 8192, undefined],
  ])('%s', (_l, id, expected) => {
    expect(checkId(b, id, read)).toBe(expected);
  });
});

describe('collections, ITT and scans', () => {
  it('CTEs are packed from slot 0; terminator unless exactly full', () => {
    const b = baser(4, 0x5000_0000n, 1);
    expect(collectionTableSlots(b)).toBe(8192);
    expect(cteAddress(b, 2)).toBe(0x5000_0010n);
    expect(cteTerminatorNeeded(b, 3)).toBe(true);
    expect(cteTerminatorNeeded(b, 0)).toBe(true);
    expect(cteTerminatorNeeded(b, 8192)).toBe(false);
  });

  it('ITT slot and size', () => {
    expect(iteAddress(0x4005_0000n, 20)).toBe(0x4005_00a0n);
    expect(ittBytes(7)).toBe(2048);
    expect(ittBytes(15)).toBe(65_536 * 8);
  });

  it('scan_its_table follows "next" and stops at 0', () => {
    const base = 0x4000_0000n;
    const read = ram({
      [base.toString(16)]: encodeDte({ valid: true, next: 3, ittAddr: 0x4800_0000n, size: 1 }),
      [(base + 24n).toString(16)]: encodeDte({ valid: true, next: 0, ittAddr: 0x4800_1000n, size: 1 }),
    });
    const seen: number[] = [];
    const ret = scanItsTable(base, 0x10000, 8, 0, read, (id, e) => {
      seen.push(id);
      return decodeDte(e).next;
    });
    expect(ret).toBe(0);
    expect(seen).toEqual([0, 3]);
  });

  it('scan_its_table returns 1 at the end of the table, -EFAULT on a failed read, fn errors as is', () => {
    const read = ram({});
    let visits = 0;
    expect(
      scanItsTable(0x4000_0000n, 64, 8, 0, read, () => {
        visits++;
        return 1;
      }),
    ).toBe(1);
    expect(visits).toBe(8);
    expect(
      scanItsTable(
        0x4000_0000n,
        64,
        8,
        0,
        ram({}, (a) => a < 0x4000_0010n),
        () => 1,
      ),
    ).toBe(-EFAULT);
    expect(scanItsTable(0x4000_0000n, 64, 8, 0, read, () => -EINVAL)).toBe(-EINVAL);
    // an advance that passes the end stops the scan with 1
    expect(scanItsTable(0x4000_0000n, 64, 8, 0, read, () => 100)).toBe(1);
  });

  it('a DTE chain across several level-2 pages is found again by an L1 scan', () => {
    const L1 = 0x4100_0000n;
    const b = baser(1, L1, 1, { indirect: true });
    const words: Record<string, bigint> = {};
    for (const i of [0, 1, 3])
      words[(L1 + BigInt(i * 8)).toString(16)] = encodeL1Entry({
        valid: true,
        l2Addr: 0x4200_0000n + BigInt(i) * 0x1_0000n,
      });
    const read = ram(words);
    const ids = [1, 8192 + 2, 3 * 8192 + 5, 3 * 8192 + 6];
    const nexts = dteNextChain(ids);
    ids.forEach((id, i) => {
      const slot = checkId(b, id, read);
      expect(slot).toBeDefined();
      words[(slot ?? 0n).toString(16)] = encodeDte({
        valid: true,
        next: nexts[i] ?? 0,
        ittAddr: 0x4800_0000n,
        size: 3,
      });
    });
    expect(words[0x4201_0010n.toString(16)]).toBe(
      encodeDte({ valid: true, next: VITS_DTE_MAX_DEVID_OFFSET, ittAddr: 0x4800_0000n, size: 3 }),
    );
    // handle_l1_dte: scan each valid L2 page from l1 index × 8192; a 0 from the L2 scan ends all.
    const found: number[] = [];
    const ret = scanItsTable(L1, 0x10000, 8, 0, read, (l1Index, l1) => {
      const e = decodeL1Entry(l1);
      if (!e.valid) return 1;
      return scanItsTable(e.l2Addr, 0x10000, 8, l2StartId(l1Index), read, (id, raw) => {
        const d = decodeDte(raw);
        if (!d.valid) return 1;
        found.push(id);
        return d.next;
      });
    });
    expect(ret).toBe(0);
    // 8194's true distance (2·8192 + 3) is capped at 2^14 − 1, which runs past its L2 page: the
    // L2 scan returns 1, the L1 scan moves on, and 3·8192 + 5 is found by scanning its own page.
    expect(found).toEqual(ids);
  });
});

describe('table properties', () => {
  const arbDte = fc.record({
    valid: fc.boolean(),
    next: fc.integer({ min: 0, max: VITS_DTE_MAX_DEVID_OFFSET }),
    ittAddr: fc.bigInt({ min: 0n, max: (1n << 44n) - 1n }).map((v) => v << 8n),
    size: fc.integer({ min: 0, max: 31 }),
  });
  const arbIte = fc.record({
    next: fc.integer({ min: 0, max: VITS_ITE_MAX_EVENTID_OFFSET }),
    pintid: fc.integer({ min: 0, max: 0xffff_ffff }),
    icid: fc.integer({ min: 0, max: 0xffff }),
  });
  const arbCte = fc.record({
    valid: fc.boolean(),
    target: fc.integer({ min: 0, max: 0xffff_ffff }),
    icid: fc.integer({ min: 0, max: 0xffff }),
  });
  const arbL1 = fc.record({
    valid: fc.boolean(),
    l2Addr: fc.bigInt({ min: 0n, max: (1n << 36n) - 1n }).map((v) => v << 16n),
  });
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

  it('decode(encode(x)) == x for DTE, ITE, CTE and L1 entries', () => {
    fc.assert(
      fc.property(arbDte, (d) => {
        expect(decodeDte(encodeDte(d))).toEqual(d);
      }),
    );
    fc.assert(
      fc.property(arbIte, (e) => {
        expect(decodeIte(encodeIte(e))).toEqual(e);
      }),
    );
    fc.assert(
      fc.property(arbCte, (c) => {
        expect(decodeCte(encodeCte(c))).toEqual(c);
      }),
    );
    fc.assert(
      fc.property(arbL1, (l) => {
        expect(decodeL1Entry(encodeL1Entry(l))).toEqual(l);
      }),
    );
  });

  it('DTE and ITE fields cover all 64 bits: encode(decode(v)) == v for any u64', () => {
    fc.assert(
      fc.property(u64, (v) => {
        expect(encodeDte(decodeDte(v))).toBe(v);
        expect(encodeIte(decodeIte(v))).toBe(v);
        expect(encodeCte(decodeCte(v))).toBe(v & 0x8000_ffff_ffff_ffffn);
      }),
    );
  });

  it('check_id and decodeBaser never throw; a slot lies inside its table', () => {
    fc.assert(
      fc.property(
        u64,
        fc.integer({ min: -5, max: 0x2_0000 }),
        fc.array(u64, { maxLength: 4 }),
        (b, id, l1s) => {
          const read = (addr: bigint) => l1s[Number(addr % 4n)];
          const slot = checkId(b, id, read);
          const d = decodeBaser(b);
          if (slot !== undefined && !d.indirect) {
            expect(slot).toBeGreaterThanOrEqual(d.base);
            expect(slot).toBeLessThan(d.base + BigInt(d.tableBytes));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
