// ITS register frames (devices/its/registers.ts; vits.md §2): reset values, guest write/read
// back, widths and holes, the CTLR/CBASER/CWRITER/BASER rules, the userspace ITS_REGS rules
// and error codes, the BASER table-drop rule with and without `baser-drop-on-invalid-only`, and
// the state-dropping helpers of devices/its/reset.ts. VMs come from the reset paths.

import { describe, expect, it } from 'vitest';
import {
  GITS_REGISTERS,
  type ItsRegContext,
  type ItsRegHooks,
  itsRegContext,
  itsRegsGet,
  itsRegsSet,
  sanitiseItsBaser,
  sanitiseItsCbaser,
} from '../../../devices/its/registers.js';
import {
  freeCollection,
  GITS_BASER0_RESET,
  GITS_BASER1_RESET,
  installIts,
  newItsState,
  releaseLpi,
  resetIts,
} from '../../../devices/its/reset.js';
import { COLLECTION_NOT_MAPPED, type ItsState } from '../../../devices/its/state.js';
import { mmioRead, mmioWrite } from '../../../devices/mmio-table.js';
import { EBUSY, EFAULT, EINVAL, ENXIO } from '../../../engine/errno.js';
import type { VmState } from '../../../engine/state.js';
import { gicVm } from '../../helpers/gic.js';

const ITS_BASE = 0x0808_0000;
const VALID = 1n << 63n;
/** Inner cacheability RaWb, which the sanitisers keep. */
const RAWB = 3n << 59n;
/** A valid CBASER: PA 0x4001_0000, inner RaWb, InnerShareable, one 4 KiB page. */
const CBASER_OK = VALID | (3n << 59n) | 0x4001_0000n | (1n << 10n);

interface Rig {
  vm: VmState;
  its: ItsState;
  c: ItsRegContext;
  calls: string[];
  read(offset: number, size?: number): bigint;
  write(offset: number, value: bigint, size?: number): void;
}

function rig(o: { quirks?: string[]; base?: number | null } = {}): Rig {
  const vm = gicVm({ its: true, quirks: o.quirks ?? [] });
  const its = installIts(vm);
  its.base = o.base === undefined ? ITS_BASE : o.base;
  const calls: string[] = [];
  const hooks: ItsRegHooks = {
    processCommands: (c) => calls.push(`process creadr=${c.its.creadr} cwriter=${c.its.cwriter}`),
    translaterWrite: (_c, v) => calls.push(`translater ${v}`),
  };
  const c = itsRegContext(vm, undefined, hooks)!;
  return {
    vm,
    its,
    c,
    calls,
    read: (offset, size = 4) => mmioRead(GITS_REGISTERS, c, offset, size),
    write: (offset, value, size = 4) => mmioWrite(GITS_REGISTERS, c, offset, size, value),
  };
}

/** Devices 1 (ITEs on LPIs 8192, 8193) and 2 (an ITE on 8192), collections 3 and 4, LPIs 8192 (2 refs) and 8193. */
function populate(r: Rig): void {
  r.its.devices = [
    {
      deviceId: 1,
      ittAddr: 0x4100_0000,
      numEventIdBits: 4,
      ites: [
        { eventId: 0, intid: 8192, icid: 3 },
        { eventId: 1, intid: 8193, icid: 4 },
      ],
    },
    { deviceId: 2, ittAddr: 0x4100_1000, numEventIdBits: 2, ites: [{ eventId: 0, intid: 8192, icid: 3 }] },
  ];
  r.its.collections = [
    { icid: 4, target: 1 },
    { icid: 3, target: 0 },
  ];
  const lpi = (intid: number, refcount: number) => ({
    intid,
    priority: 0xa0,
    enabled: true,
    pendingLatch: true,
    targetVcpu: 0,
    refcount,
  });
  r.vm.devices.lpis!.irqs = { 8192: lpi(8192, 2), 8193: lpi(8193, 1) };
}

function validTables(r: Rig): void {
  r.write(0x0100, GITS_BASER0_RESET | VALID, 8);
  r.write(0x0108, GITS_BASER1_RESET | VALID, 8);
  r.write(0x0080, CBASER_OK, 8);
}

describe('creation and reset values', () => {
  it('installIts creates the ITS, the LPI store, has_its and PROPBASER 0x580', () => {
    const vm = gicVm({ its: false });
    vm.devices.gic!.propbaser = 0x1234n;
    const its = installIts(vm);
    expect(its).toEqual(newItsState());
    expect(vm.devices.its).toBe(its);
    expect(vm.devices.lpis).toEqual({ irqs: {} });
    expect(vm.devices.gic!.hasIts).toBe(true);
    expect(vm.devices.gic!.propbaser).toBe(0x580n);
  });

  it.each([
    ['GITS_CTLR', 0x0000, 4, 0x8000_0000n],
    ['GITS_IIDR', 0x0004, 4, 0x4b00_043bn],
    ['GITS_TYPER', 0x0008, 8, 0x1ef71n],
    ['GITS_TYPER low', 0x0008, 4, 0x1ef71n],
    ['GITS_TYPER high', 0x000c, 4, 0n],
    ['GITS_MPIDR', 0x0018, 4, 0n],
    ['GITS_CBASER', 0x0080, 8, 0n],
    ['GITS_CWRITER', 0x0088, 8, 0n],
    ['GITS_CREADR', 0x0090, 8, 0n],
    ['GITS_BASER0', 0x0100, 8, 0x1907_0000_0000_0600n],
    ['GITS_BASER0 high', 0x0104, 4, 0x1907_0000n],
    ['GITS_BASER1', 0x0108, 8, 0x1c07_0000_0000_0600n],
    ['GITS_BASER1 low', 0x0108, 4, 0x600n],
    ...[2, 3, 4, 5, 6, 7].map((n) => [`GITS_BASER${n}`, 0x100 + 8 * n, 8, 0n] as const),
    ['GITS_PIDR4', 0xffd0, 4, 0x40n],
    ['GITS_PIDR5', 0xffd4, 4, 0n],
    ['GITS_PIDR0', 0xffe0, 4, 0x92n],
    ['GITS_PIDR1', 0xffe4, 4, 0xb4n],
    ['GITS_PIDR2', 0xffe8, 4, 0x3bn],
    ['GITS_PIDR3', 0xffec, 4, 0n],
    ['GITS_CIDR0', 0xfff0, 4, 0x0dn],
    ['GITS_CIDR1', 0xfff4, 4, 0xf0n],
    ['GITS_CIDR2', 0xfff8, 4, 0x05n],
    ['GITS_CIDR3', 0xfffc, 4, 0xb1n],
    ['GITS_TRANSLATER', 0x1_0040, 4, 0n],
  ] as const)('%s (0x%s) reads its reset value', (_name, offset, size, value) => {
    expect(rig().read(offset, size)).toBe(value);
  });
});

describe('guest widths and holes', () => {
  it.each([
    ['byte read of CTLR', 0x0000, 1],
    ['64-bit read of CTLR/IIDR', 0x0000, 8],
    ['byte read of IIDR', 0x0004, 1],
    ['misaligned 32-bit read', 0x0002, 4],
    ['64-bit read of an ID register', 0xffd0, 8],
    ['a gap', 0x0020, 4],
    ['BASER beyond 7', 0x0140, 8],
    ['translation frame hole', 0x1_0000, 4],
    ['beyond both frames', 0x2_0000, 4],
  ] as const)('%s is RAZ', (_name, offset, size) => {
    expect(rig().read(offset, size)).toBe(0n);
  });

  it.each([
    ['byte write of CTLR', 0x0000, 1, 1n],
    ['64-bit write of CTLR', 0x0000, 8, 1n],
    ['byte write of CBASER', 0x0080, 1, 0xffn],
    ['misaligned 64-bit CBASER write', 0x0084, 8, CBASER_OK],
    ['guest IIDR write', 0x0004, 4, 0xffff_ffffn],
    ['guest TYPER write', 0x0008, 8, 0n],
    ['guest CREADR write', 0x0090, 8, 0x20n],
    ['ID register write', 0xffe8, 4, 0n],
    ['BASER2 write', 0x0110, 8, VALID | 0x1234_0000n],
  ] as const)('%s is WI', (_name, offset, size, value) => {
    const r = rig();
    const before = structuredClone(r.its);
    r.write(offset, value, size);
    expect(r.its).toEqual(before);
    expect(r.calls).toEqual([]);
  });

  it('GITS_TRANSLATER writes reach the hook and change nothing', () => {
    const r = rig();
    const before = structuredClone(r.its);
    r.write(0x1_0040, 7n);
    r.write(0x1_0040, 9n, 1); // bad width: a hole
    expect(r.calls).toEqual(['translater 7']);
    expect(r.its).toEqual(before);
  });
});

describe('sanitisers (vgic_sanitise_its_baser / _cbaser)', () => {
  it.each([
    ['OuterShareable → InnerShareable', RAWB | (2n << 10n), RAWB | (1n << 10n)],
    ['NonShareable kept', RAWB, RAWB],
    ['InnerShareable kept', RAWB | (1n << 10n), RAWB | (1n << 10n)],
    ['shareability 3 kept', RAWB | (3n << 10n), RAWB | (3n << 10n)],
    ['inner nCnB → RaWb', 0n << 59n, 3n << 59n],
    ['inner nC → RaWb', 1n << 59n, 3n << 59n],
    ['inner WaWb kept', 5n << 59n, 5n << 59n],
    ['outer nC kept', RAWB | (1n << 53n), RAWB | (1n << 53n)],
    ['outer RaWb → SameAsInner', RAWB | (3n << 53n), RAWB],
    ['PA bits 15:12 cleared', (3n << 59n) | 0x4000_f000n, (3n << 59n) | 0x4000_0000n],
  ])('CBASER: %s', (_name, input, output) => {
    expect(sanitiseItsCbaser(input)).toBe(output);
  });

  it.each([
    ['Page_Size forced to 64K', (3n << 59n) | (0n << 8n), (3n << 59n) | (2n << 8n)],
    ['Page_Size 16K → 64K', (3n << 59n) | (1n << 8n), (3n << 59n) | (2n << 8n)],
    ['PA bits 15:12 kept (high PA bits)', (3n << 59n) | 0xf000n, (3n << 59n) | 0xf200n],
    ['inner nC → RaWb', 1n << 59n, (3n << 59n) | (2n << 8n)],
  ])('BASER: %s', (_name, input, output) => {
    expect(sanitiseItsBaser(input)).toBe(output);
  });
});

describe('GITS_CBASER, GITS_CWRITER, GITS_CREADR (guest)', () => {
  it('a CBASER write is sanitised and empties the queue', () => {
    const r = rig();
    r.its.creadr = 0x40;
    r.its.cwriter = 0x60;
    r.write(0x0080, VALID | (1n << 59n) | (2n << 10n) | 0x4001_3000n | 3n, 8);
    expect(r.its.cbaser).toBe(VALID | (3n << 59n) | (1n << 10n) | 0x4001_0000n | 3n);
    expect(r.read(0x0080, 8)).toBe(r.its.cbaser);
    expect([r.its.creadr, r.its.cwriter]).toEqual([0, 0]);
  });

  it('CBASER takes 32-bit halves', () => {
    const r = rig();
    r.write(0x0080, 0x4001_0401n);
    r.write(0x0084, 0x9800_0000n);
    expect(r.its.cbaser).toBe(0x9800_0000_4001_0401n);
    expect(r.read(0x0084)).toBe(0x9800_0000n);
  });

  it('CBASER is read-only while enabled', () => {
    const r = rig();
    validTables(r);
    r.write(0x0000, 1n);
    r.its.creadr = 0x20;
    r.its.cwriter = 0x20;
    r.write(0x0080, 0n, 8);
    expect(r.its.cbaser).toBe(CBASER_OK);
    expect(r.its.creadr).toBe(0x20);
  });

  it.each([
    ['an offset inside the queue', 0x20n, 0x20, true],
    ['bits outside 19:5 masked', 0xffff_0000_0000_003fn, 0x20, true],
    ['the last command slot', 0xfe0n, 0xfe0, true],
    ['the queue size (4 KiB) is dropped', 0x1000n, 0, false],
    ['beyond the queue is dropped', 0x8_0000n, 0, false],
  ] as const)('CWRITER: %s', (_name, value, stored, processed) => {
    const r = rig();
    r.write(0x0080, CBASER_OK, 8);
    r.write(0x0088, value, 8);
    expect(r.its.cwriter).toBe(stored);
    expect(r.read(0x0088, 8)).toBe(BigInt(stored));
    expect(r.calls).toEqual(processed ? [`process creadr=0 cwriter=${stored}`] : []);
  });

  it('a CWRITER upper-half write keeps the offset but still processes the queue', () => {
    const r = rig();
    r.write(0x0080, CBASER_OK, 8);
    r.write(0x0088, 0x40n);
    r.write(0x008c, 0xffff_ffffn);
    expect(r.its.cwriter).toBe(0x40);
    expect(r.calls).toEqual(['process creadr=0 cwriter=64', 'process creadr=0 cwriter=64']);
  });

  it('CWRITER writes are accepted while enabled', () => {
    const r = rig();
    validTables(r);
    r.write(0x0000, 1n);
    r.write(0x0088, 0x60n, 8);
    expect(r.its.cwriter).toBe(0x60);
  });

  it('CREADR reads the read offset; Quiescent follows CREADR == CWRITER', () => {
    const r = rig();
    r.its.creadr = 0x20;
    r.its.cwriter = 0x40;
    expect(r.read(0x0090, 8)).toBe(0x20n);
    expect(r.read(0x0090)).toBe(0x20n);
    expect(r.read(0x0000)).toBe(0n);
    r.its.creadr = 0x40;
    expect(r.read(0x0000)).toBe(0x8000_0000n);
  });
});

describe('GITS_CTLR', () => {
  it.each([
    ['BASER0 invalid', 0x0100],
    ['BASER1 invalid', 0x0108],
    ['CBASER invalid', 0x0080],
  ] as const)('enabling with %s drops the write (no processing)', (_name, offset) => {
    const r = rig();
    validTables(r);
    const reg = offset === 0x0080 ? CBASER_OK : offset === 0x0100 ? GITS_BASER0_RESET : GITS_BASER1_RESET;
    r.write(offset, reg & ~VALID, 8);
    r.calls.length = 0;
    r.write(0x0000, 1n);
    expect(r.its.enabled).toBe(false);
    expect(r.calls).toEqual([]);
    expect(r.read(0x0000)).toBe(0x8000_0000n);
  });

  it('enabling with valid tables sets Enabled and processes the queue', () => {
    const r = rig();
    validTables(r);
    r.its.cwriter = 0x40;
    r.write(0x0000, 0xffff_ffffn);
    expect(r.its.enabled).toBe(true);
    expect(r.calls).toEqual(['process creadr=0 cwriter=64']);
    expect(r.read(0x0000)).toBe(1n);
  });

  it('disabling is always accepted, needs no valid table, and also calls the hook', () => {
    const r = rig();
    validTables(r);
    r.write(0x0000, 1n);
    r.its.baserDevice &= ~VALID; // as a restore could leave it
    r.write(0x0000, 0n);
    expect(r.its.enabled).toBe(false);
    expect(r.calls).toHaveLength(2);
  });

  it('a write of 0 while disabled, or of 1 while enabled, still processes', () => {
    const r = rig();
    r.write(0x0000, 0n);
    expect(r.calls).toHaveLength(1);
    validTables(r);
    r.write(0x0000, 1n);
    r.write(0x0000, 1n);
    expect(r.calls).toHaveLength(3);
    expect(r.its.enabled).toBe(true);
  });
});

describe('GITS_BASER0/1 writes', () => {
  it.each([
    [
      'Type and Entry_Size forced (BASER0)',
      0x0100,
      VALID | RAWB | (1n << 10n) | (0x7fn << 48n) | (7n << 56n),
      VALID | GITS_BASER0_RESET,
    ],
    [
      'Type and Entry_Size forced (BASER1)',
      0x0108,
      VALID | RAWB | (1n << 10n) | (0x7fn << 48n) | (7n << 56n),
      VALID | GITS_BASER1_RESET,
    ],
    ['Indirect kept for BASER0', 0x0100, (1n << 62n) | GITS_BASER0_RESET, (1n << 62n) | GITS_BASER0_RESET],
    ['Indirect cleared for BASER1', 0x0108, (1n << 62n) | GITS_BASER1_RESET, GITS_BASER1_RESET],
    [
      'address, size and sanitised attributes',
      0x0100,
      VALID | (1n << 59n) | (2n << 10n) | (0n << 8n) | 0x1234_5000n | 0x0fn,
      VALID | (3n << 59n) | (1n << 56n) | (7n << 48n) | (1n << 10n) | (2n << 8n) | 0x1234_5000n | 0x0fn,
    ],
  ] as const)('%s', (_name, offset, value, stored) => {
    const r = rig();
    r.write(offset, value, 8);
    expect(r.read(offset, 8)).toBe(stored);
  });

  it('a 32-bit write updates one half', () => {
    const r = rig();
    r.write(0x0104, 0x8000_0000n);
    expect(r.its.baserDevice).toBe(GITS_BASER0_RESET | VALID);
    r.write(0x0100, 0x4321_0000n);
    // The low half carries shareability and Page_Size: shareability 0 stays, Page_Size is forced.
    expect(r.its.baserDevice).toBe((GITS_BASER0_RESET & ~0xffff_ffffn) | VALID | 0x4321_0200n);
  });

  it('is ignored while enabled, even if the value differs', () => {
    const r = rig();
    validTables(r);
    populate(r);
    r.write(0x0000, 1n);
    r.write(0x0100, 0n, 8);
    r.write(0x0108, 0n, 8);
    expect(r.its.baserDevice).toBe(GITS_BASER0_RESET | VALID);
    expect(r.its.devices).toHaveLength(2);
    expect(r.its.collections).toHaveLength(2);
  });
});

describe('GITS_BASER change drops table state', () => {
  type Case = readonly [string, string[], number, bigint, boolean];
  const v0 = GITS_BASER0_RESET | VALID;
  const v1 = GITS_BASER1_RESET | VALID;
  const cases: readonly Case[] = [
    ['mainline: same BASER0 value keeps devices', [], 0x0100, v0, false],
    ['mainline: same BASER1 value keeps collections', [], 0x0108, v1, false],
    ['mainline: BASER0 address change drops devices', [], 0x0100, v0 | 0x10_0000n, true],
    ['mainline: BASER1 size change drops collections', [], 0x0108, v1 | 1n, true],
    ['mainline: BASER0 Valid 1→0 drops', [], 0x0100, GITS_BASER0_RESET, true],
    ['mainline: an ignored-bit difference (RO Type) is no change', [], 0x0100, v0 & ~(7n << 56n), false],
    [
      'quirk: BASER0 address change with Valid keeps devices',
      ['baser-drop-on-invalid-only'],
      0x0100,
      v0 | 0x10_0000n,
      false,
    ],
    [
      'quirk: BASER1 change with Valid keeps collections',
      ['baser-drop-on-invalid-only'],
      0x0108,
      v1 | 1n,
      false,
    ],
    ['quirk: BASER0 Valid 1→0 drops', ['baser-drop-on-invalid-only'], 0x0100, GITS_BASER0_RESET, true],
    ['quirk: BASER1 Valid 1→0 drops', ['baser-drop-on-invalid-only'], 0x0108, GITS_BASER1_RESET, true],
    ['quirk: same value keeps', ['baser-drop-on-invalid-only'], 0x0100, v0, false],
  ];

  it.each(cases)('%s', (_name, quirks, offset, value, dropped) => {
    const r = rig({ quirks });
    validTables(r);
    populate(r);
    const before = structuredClone({ its: r.its, lpis: r.vm.devices.lpis });
    r.write(offset, value, 8);
    if (!dropped) {
      expect(r.its.devices).toEqual(before.its.devices);
      expect(r.its.collections).toEqual(before.its.collections);
      expect(r.vm.devices.lpis).toEqual(before.lpis);
    } else if (offset === 0x0100) {
      // Devices freed with their ITEs; every LPI reference dropped; collections untouched.
      expect(r.its.devices).toEqual([]);
      expect(r.vm.devices.lpis!.irqs).toEqual({});
      expect(r.its.collections).toEqual(before.its.collections);
    } else {
      // Collections freed in list order; their ITEs orphaned; LPIs (and their targets) kept.
      expect(r.its.collections).toEqual([]);
      expect(r.its.devices.flatMap((d) => d.ites.map((i) => i.icid))).toEqual([null, null, null]);
      expect(r.vm.devices.lpis).toEqual(before.lpis);
    }
  });
});

describe('userspace ITS_REGS', () => {
  it.each([
    ['GITS_CTLR', 0x0000n, 0x8000_0000n],
    ['GITS_IIDR', 0x0004n, 0x4b00_043bn],
    ['GITS_TYPER (64 bits)', 0x0008n, 0x1ef71n],
    ['GITS_BASER0 (64 bits)', 0x0100n, GITS_BASER0_RESET],
    ['GITS_BASER7', 0x0138n, 0n],
    ['GITS_PIDR2', 0xffe8n, 0x3bn],
    ['GITS_CIDR3', 0xfffcn, 0xb1n],
    ['attr bits 63:32 are ignored by the lookup', 0x1_0000_0100n, GITS_BASER0_RESET],
  ] as const)('get %s', (_name, attr, value) => {
    expect(itsRegsGet(rig().vm, attr)).toEqual({ rc: 0, value });
  });

  it.each([
    ['IIDR misaligned', 0x0006n, -EINVAL],
    ['TYPER upper half', 0x000cn, -EINVAL],
    ['BASER0 upper half', 0x0104n, -EINVAL],
    ['CREADR + 4', 0x0094n, -EINVAL],
    ['ID register misaligned', 0xffd2n, -EINVAL],
    ['MPIDR (no KVM region)', 0x0018n, -ENXIO],
    ['a gap', 0x0098n, -ENXIO],
    ['beyond BASER7', 0x0140n, -ENXIO],
    ['GITS_TRANSLATER (no KVM region)', 0x1_0040n, -ENXIO],
    ['beyond the frames', 0x2_0000n, -ENXIO],
  ] as const)('%s → %i for get and set', (_name, attr, rc) => {
    const r = rig();
    expect(itsRegsGet(r.vm, attr).rc).toBe(rc);
    expect(itsRegsSet(r.vm, attr, 0n)).toBe(rc);
  });

  it('alignment is checked before the vCPU locks, which come before the base address', () => {
    const r = rig({ base: null });
    r.vm.vcpus[0]!.inRun = true;
    expect(itsRegsGet(r.vm, 0x0002n).rc).toBe(-EINVAL);
    expect(itsRegsGet(r.vm, 0x0000n).rc).toBe(-EBUSY);
    expect(itsRegsSet(r.vm, 0x0000n, 0n)).toBe(-EBUSY);
    r.vm.vcpus[0]!.inRun = false;
    expect(itsRegsGet(r.vm, 0x0000n).rc).toBe(-ENXIO);
    expect(itsRegsSet(r.vm, 0x0000n, 0n)).toBe(-ENXIO);
  });

  it('a bad user pointer: set fails first with -EFAULT, get after the access', () => {
    const r = rig({ base: null });
    expect(itsRegsSet(r.vm, 0x0002n, null)).toBe(-EFAULT);
    expect(itsRegsGet(r.vm, 0x0000n, { badPointer: true }).rc).toBe(-ENXIO);
    expect(itsRegsGet(rig().vm, 0x0000n, { badPointer: true }).rc).toBe(-EFAULT);
  });

  it.each([
    ['revision 0 accepted', 0x0000_0000n, 0],
    ['other bits ignored', 0xffff_0fffn, 0],
    ['revision 1 rejected', 0x0000_1000n, -EINVAL],
    ['revision 15 rejected', 0x0000_f000n, -EINVAL],
  ] as const)('IIDR set: %s', (_name, value, rc) => {
    const r = rig();
    expect(itsRegsSet(r.vm, 0x0004n, value)).toBe(rc);
    expect(itsRegsGet(r.vm, 0x0004n).value).toBe(0x4b00_043bn);
  });

  it('IIDR set re-commits Entry_Size in both BASERs without dropping state', () => {
    const r = rig();
    populate(r);
    r.its.baserDevice &= ~(0x1fn << 48n);
    r.its.baserCollection |= 0x1fn << 48n;
    expect(itsRegsSet(r.vm, 0x0004n, 0n)).toBe(0);
    expect(r.its.baserDevice).toBe(GITS_BASER0_RESET);
    expect(r.its.baserCollection).toBe(GITS_BASER1_RESET);
    expect(r.its.devices).toHaveLength(2);
  });

  it('IIDR set is allowed while enabled', () => {
    const r = rig();
    validTables(r);
    r.write(0x0000, 1n);
    expect(itsRegsSet(r.vm, 0x0004n, 0n)).toBe(0);
  });

  it.each([
    ['inside the queue', false, 0x20n, 0, 0x20],
    ['bits outside 19:5 masked', false, 0xffff_0000_0000_003fn, 0, 0x20],
    ['at the queue size', false, 0x1000n, -EINVAL, 0],
    ['while enabled', true, 0x20n, -EBUSY, 0],
  ] as const)('CREADR set %s', (_name, enabled, value, rc, creadr) => {
    const r = rig();
    validTables(r);
    if (enabled) r.write(0x0000, 1n);
    r.calls.length = 0;
    expect(itsRegsSet(r.vm, 0x0090n, value, { hooks: r.c.hooks })).toBe(rc);
    expect(r.its.creadr).toBe(creadr);
    expect(r.calls).toEqual([]);
  });

  it('CREADR set before CBASER is undone by the CBASER write (restore order matters)', () => {
    const r = rig();
    r.write(0x0080, CBASER_OK, 8);
    expect(itsRegsSet(r.vm, 0x0090n, 0x40n)).toBe(0);
    expect(itsRegsSet(r.vm, 0x0080n, CBASER_OK)).toBe(0);
    expect(r.its.creadr).toBe(0);
  });

  it('TYPER and ID register sets are ignored with rc 0', () => {
    const r = rig();
    const before = structuredClone(r.its);
    expect(itsRegsSet(r.vm, 0x0008n, 0n)).toBe(0);
    expect(itsRegsSet(r.vm, 0xffe8n, 0n)).toBe(0);
    expect(itsRegsSet(r.vm, 0x0110n, VALID)).toBe(0);
    expect(r.its).toEqual(before);
  });

  it('CBASER, BASER and CWRITER sets use the guest path with 64-bit values', () => {
    const r = rig();
    const hooks = { hooks: r.c.hooks };
    expect(itsRegsSet(r.vm, 0x0080n, (CBASER_OK & ~(3n << 10n)) | (2n << 10n), hooks)).toBe(0);
    expect(r.its.cbaser).toBe(CBASER_OK);
    expect(itsRegsSet(r.vm, 0x0100n, GITS_BASER0_RESET | VALID, hooks)).toBe(0);
    expect(itsRegsGet(r.vm, 0x0100n).value).toBe(GITS_BASER0_RESET | VALID);
    expect(itsRegsSet(r.vm, 0x0108n, GITS_BASER1_RESET | VALID, hooks)).toBe(0);
    expect(itsRegsSet(r.vm, 0x0088n, 0x60n, hooks)).toBe(0);
    expect(r.its.cwriter).toBe(0x60);
    expect(r.calls).toEqual(['process creadr=0 cwriter=96']);
    // The restore's last step: CTLR enables the ITS and runs what lies between CREADR and CWRITER.
    expect(itsRegsSet(r.vm, 0x0000n, 1n, hooks)).toBe(0);
    expect(r.its.enabled).toBe(true);
    expect(r.calls).toHaveLength(2);
  });
});

describe('reset and freeing helpers', () => {
  it('CTRL_RESET clears Valid, the queue, Enabled, devices and collections; keeps the rest', () => {
    const r = rig();
    validTables(r);
    r.write(0x0108, GITS_BASER1_RESET | VALID | 0x4200_0000n, 8);
    r.write(0x0000, 1n);
    populate(r);
    r.its.creadr = 0x20;
    r.its.cwriter = 0x40;
    resetIts(r.vm, r.its);
    expect(r.its).toEqual({
      ...newItsState(),
      base: ITS_BASE,
      baserCollection: GITS_BASER1_RESET | 0x4200_0000n,
    });
    expect(r.vm.devices.lpis!.irqs).toEqual({});
    expect(r.read(0x0000)).toBe(0x8000_0000n);
  });

  it('freeing a collection orphans its ITEs; a new one with the same ICID is not re-linked', () => {
    const r = rig();
    populate(r);
    freeCollection(r.its, 3);
    expect(r.its.collections).toEqual([{ icid: 4, target: 1 }]);
    expect(r.its.devices.flatMap((d) => d.ites.map((i) => i.icid))).toEqual([null, 4, null]);
    r.its.collections.push({ icid: 3, target: COLLECTION_NOT_MAPPED });
    expect(r.its.devices[0]!.ites[0]!.icid).toBeNull();
    freeCollection(r.its, 99); // unknown: nothing
    expect(r.its.collections).toHaveLength(2);
  });

  it('LPIs are freed when their last reference goes', () => {
    const r = rig();
    populate(r);
    releaseLpi(r.vm, 8192);
    expect(r.vm.devices.lpis!.irqs[8192]!.refcount).toBe(1);
    releaseLpi(r.vm, 8192);
    expect(r.vm.devices.lpis!.irqs[8192]).toBeUndefined();
    releaseLpi(r.vm, 8192);
    expect(Object.keys(r.vm.devices.lpis!.irqs)).toEqual(['8193']);
  });

  it('a VM without an ITS has no handler context', () => {
    expect(itsRegContext(gicVm())).toBeUndefined();
    expect(itsRegsGet(gicVm(), 0n).rc).toBe(-ENXIO);
  });
});
