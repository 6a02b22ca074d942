// ITS table save/restore (devices/its/save-restore.ts; vits.md §4, §5.2): SAVE_TABLES bytes
// compared with hand-computed DTE/ITE/CTE values for a flat and a two-level device table
// (next chains, the caps, the zero CTE terminator, unmapped and orphaned collections),
// RESTORE_TABLES of those bytes into a fresh VM giving the same state and behaviour, every
// restore error with the partial restore undone, the `its-restore-unmapped-collection` quirk,
// SAVE_PENDING_TABLES writing only differing bytes and never the first KiB, and ports of the
// Linux selftest tools/testing/selftests/kvm/arm64/vgic_its_save.c where they apply.

import { describe, expect, it } from 'vitest';
import { processCommands } from '../../../devices/its/command-queue.js';
import { encodeItsCommand, ITS_CMD_SIZE } from '../../../devices/its/commands.js';
import { lpiCandidates } from '../../../devices/its/lpis.js';
import { GITS_BASER, itsRegsGet, itsRegsSet } from '../../../devices/its/registers.js';
import { GITS_BASER0_RESET, GITS_BASER1_RESET, installIts, resetIts } from '../../../devices/its/reset.js';
import { restoreTables, savePendingTables, saveTables } from '../../../devices/its/save-restore.js';
import type { ItsState } from '../../../devices/its/state.js';
import { EEXIST, EFAULT, EINVAL } from '../../../engine/errno.js';
import type { Effect } from '../../../engine/events.js';
import { loadRam, PageOwnership, storeRam, storeRamBytes } from '../../../engine/ram.js';
import type { VmState } from '../../../engine/state.js';
import { gicVm } from '../../helpers/gic.js';
import {
  CBASER,
  type CmdSpec,
  COLLECTION_TABLE,
  DEVICE_TABLE,
  ITT,
  NOT_RAM,
  PEND_TABLE,
  PROP_TABLE,
  QUEUE,
  VALID,
} from '../../helpers/its.js';

const INDIRECT = 1n << 62n;
const L2_A = 0x4050_0000;
const L2_B = 0x4060_0000;

interface Rig {
  vm: VmState;
  its: ItsState;
  run(...cmds: CmdSpec[]): Effect[];
  r64(addr: number): bigint;
  w64(addr: number, value: bigint): void;
}

interface RigOptions {
  quirks?: string[];
  /** BASER0 extra bits (Indirect, Size) and BASER1 Size. */
  baser0?: bigint;
  baser1?: bigint;
  ram?: VmState['ram'];
}

function rig(o: RigOptions = {}): Rig {
  const vm = gicVm({ its: true, vcpus: 2, quirks: o.quirks ?? [] });
  if (o.ram) vm.ram = structuredClone(o.ram);
  const its = installIts(vm);
  its.base = 0x0808_0000;
  its.cbaser = CBASER;
  its.baserDevice = GITS_BASER0_RESET | VALID | BigInt(DEVICE_TABLE) | (o.baser0 ?? 0n);
  its.baserCollection = GITS_BASER1_RESET | VALID | BigInt(COLLECTION_TABLE) | (o.baser1 ?? 0n);
  its.enabled = true;
  vm.devices.gic!.propbaser = BigInt(PROP_TABLE) | 0x380n | 15n;
  for (const vcpu of vm.vcpus) {
    vcpu.devices.gic!.pendbaser = BigInt(PEND_TABLE(vcpu.id)) | 0x380n;
    vcpu.devices.gic!.enableLpis = true;
  }
  if (!o.ram) for (let i = 0; i < 64; i++) storeRam(vm.ram, BigInt(PROP_TABLE + i), 1, 0xa3n);
  const effects: Effect[] = [];
  return {
    vm,
    its,
    run(...cmds) {
      const start = effects.length;
      for (const [n, f] of cmds) {
        storeRamBytes(vm.ram, QUEUE + its.cwriter, encodeItsCommand(n, f));
        its.cwriter = (its.cwriter + ITS_CMD_SIZE) % 0x1000;
      }
      processCommands(vm, its, { emit: (e) => effects.push(e) });
      return effects.slice(start);
    },
    r64: (addr) => loadRam(vm.ram, BigInt(addr), 8),
    w64: (addr, value) => storeRam(vm.ram, BigInt(addr), 8, value),
  };
}

/** ITS and LPI state in a comparable form (devices by DeviceID, ITEs by EventID). */
function snapshot(vm: VmState) {
  const its = vm.devices.its!;
  return {
    devices: [...its.devices]
      .sort((a, b) => a.deviceId - b.deviceId)
      .map((d) => ({ ...d, ites: [...d.ites].sort((a, b) => a.eventId - b.eventId) })),
    collections: its.collections,
    lpis: vm.devices.lpis?.irqs,
  };
}

/** The flat fixture: two devices, three collections (one unmapped, created by MAPTI). */
const FLAT: CmdSpec[] = [
  ['MAPD', { dev: 5n, size: 1n, itt: BigInt(ITT(5)) }],
  ['MAPD', { dev: 1n, size: 3n, itt: BigInt(ITT(1)) }],
  ['MAPC', { icid: 1n, rdbase: 1n }],
  ['MAPC', { icid: 0n, rdbase: 0n }],
  ['MAPTI', { dev: 1n, event: 3n, lpi: 8193n, icid: 0n }],
  ['MAPTI', { dev: 1n, event: 0n, lpi: 8192n, icid: 1n }],
  ['MAPTI', { dev: 5n, event: 1n, lpi: 8194n, icid: 7n }],
];

describe('ITS_SAVE_TABLES: flat device table (vits.md §4.1)', () => {
  it('writes the hand-computed DTEs, ITEs and CTEs, and nothing in the gaps', () => {
    const r = rig();
    expect(r.run(...FLAT)).toEqual([]);
    expect(saveTables(r.vm, r.its)).toBe(0);
    // DTE dev 1: V | next 4 << 49 | (0x41001000 >> 8) << 5 | Size 3
    expect(r.r64(DEVICE_TABLE + 1 * 8)).toBe(0x8008_0000_0820_0203n);
    // DTE dev 5: V | next 0 | (0x41005000 >> 8) << 5 | Size 1
    expect(r.r64(DEVICE_TABLE + 5 * 8)).toBe(0x8000_0000_0820_0a01n);
    for (const id of [0, 2, 3, 4, 6]) expect(r.r64(DEVICE_TABLE + id * 8)).toBe(0n);
    // ITEs of dev 1: event 0 → next 3, LPI 8192, ICID 1; event 3 → last, LPI 8193, ICID 0
    expect(r.r64(ITT(1))).toBe(0x0003_0000_2000_0001n);
    expect(r.r64(ITT(1) + 24)).toBe(0x0000_0000_2001_0000n);
    expect(r.r64(ITT(1) + 8)).toBe(0n);
    // ITE of dev 5: event 1 → LPI 8194 on the unmapped ICID 7
    expect(r.r64(ITT(5) + 8)).toBe(0x0000_0000_2002_0007n);
    // CTEs packed in list order (1, 0, 7 unmapped), then the zero terminator
    expect(r.r64(COLLECTION_TABLE)).toBe(0x8000_0000_0001_0001n);
    expect(r.r64(COLLECTION_TABLE + 8)).toBe(0x8000_0000_0000_0000n);
    expect(r.r64(COLLECTION_TABLE + 16)).toBe(0x8000_ffff_ffff_0007n);
    expect(r.r64(COLLECTION_TABLE + 24)).toBe(0n);
    // the lists are sorted in place, as list_sort does
    expect(r.its.devices.map((d) => d.deviceId)).toEqual([1, 5]);
    expect(r.its.devices[0]!.ites.map((e) => e.eventId)).toEqual([0, 3]);
    expect(r.its.collections.map((c) => c.icid)).toEqual([1, 0, 7]);
  });

  it('writes over a stale terminator slot with a zero CTE', () => {
    const r = rig();
    r.w64(COLLECTION_TABLE + 8, 0x8000_0000_0000_0005n);
    r.run(['MAPC', { icid: 3n, rdbase: 0n }]);
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(COLLECTION_TABLE)).toBe(0x8000_0000_0000_0003n);
    expect(r.r64(COLLECTION_TABLE + 8)).toBe(0n);
  });

  it('caps the DTE next at 2^14 − 1 and an ITE next may reach 2^16 − 1', () => {
    // 8 pages: DeviceIDs up to 65535
    const r = rig({ baser0: 7n });
    r.run(
      ['MAPD', { dev: 0n, size: 15n, itt: 0x4200_0000n }],
      ['MAPD', { dev: 20000n, size: 0n, itt: BigInt(ITT(2)) }],
      ['MAPC', { icid: 0n, rdbase: 0n }],
      ['MAPTI', { dev: 0n, event: 0n, lpi: 8192n, icid: 0n }],
      ['MAPTI', { dev: 0n, event: 65535n, lpi: 8193n, icid: 0n }],
    );
    expect(saveTables(r.vm, r.its)).toBe(0);
    // next = min(20000, 16383) = 0x3FFF → bits 62:49 all set
    expect(r.r64(DEVICE_TABLE)).toBe(0xfffe_0000_0840_000fn);
    expect(r.r64(DEVICE_TABLE + 20000 * 8)).toBe(0x8000_0000_0820_0400n);
    expect(r.r64(0x4200_0000)).toBe(0xffff_0000_2000_0000n);
    expect(r.r64(0x4200_0000 + 65535 * 8)).toBe(0x0000_0000_2001_0000n);
    // the capped chain still restores: 16383 lands on an empty slot, which advances by 1
    const b = rig({ baser0: 7n, ram: r.vm.ram });
    expect(restoreTables(b.vm, b.its)).toBe(0);
    expect(snapshot(b.vm).devices).toEqual(snapshot(r.vm).devices);
  });

  it('full collection table: no terminator is written past it', () => {
    const r = rig();
    // 8192 slots in one page: fill it through state, as MAPC would
    for (let i = 0; i < 8192; i++) r.its.collections.push({ icid: i, target: 0 });
    r.w64(COLLECTION_TABLE + 0x1_0000, 0x1234n);
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(COLLECTION_TABLE + 0xfff8)).toBe(0x8000_0000_0000_1fffn);
    expect(r.r64(COLLECTION_TABLE + 0x1_0000)).toBe(0x1234n);
    const b = rig({ ram: r.vm.ram });
    expect(restoreTables(b.vm, b.its)).toBe(0);
    expect(b.its.collections).toHaveLength(8192);
  });

  it('tables without Valid are neither written nor read', () => {
    const r = rig();
    r.run(...FLAT);
    r.its.baserDevice &= ~VALID;
    r.its.baserCollection &= ~VALID;
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(DEVICE_TABLE + 8)).toBe(0n);
    expect(r.r64(COLLECTION_TABLE)).toBe(0n);
    expect(r.r64(ITT(1))).toBe(0n);
    const b = rig();
    b.w64(COLLECTION_TABLE, 0x8000_0000_0000_0001n);
    b.its.baserDevice &= ~VALID;
    b.its.baserCollection &= ~VALID;
    expect(restoreTables(b.vm, b.its)).toBe(0);
    expect(b.its.collections).toEqual([]);
  });

  it('an ITE orphaned by MAPC V=0 is saved as 0 and skipped by the chain (mainline)', () => {
    const r = rig();
    r.run(...FLAT, ['MAPC', { icid: 1n, valid: 0n }]);
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(ITT(1))).toBe(0n);
    expect(r.r64(ITT(1) + 24)).toBe(0x0000_0000_2001_0000n);
    expect(r.r64(COLLECTION_TABLE)).toBe(0x8000_0000_0000_0000n);
  });

  it('a device whose slot fails check_id is skipped, and the DTE chain skips it (mainline)', () => {
    const r = rig({ baser0: INDIRECT });
    r.w64(DEVICE_TABLE, VALID | BigInt(L2_A));
    r.w64(DEVICE_TABLE + 8, VALID | BigInt(L2_B));
    r.run(
      ['MAPD', { dev: 1n, size: 0n, itt: BigInt(ITT(1)) }],
      ['MAPD', { dev: 8192n, size: 0n, itt: BigInt(ITT(2)) }],
    );
    r.w64(DEVICE_TABLE + 8, 0n); // the guest drops the second level-2 table
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(L2_A + 8)).toBe(0x8000_0000_0820_0200n); // next 0: dev 8192 is not saved
    expect(r.r64(L2_B)).toBe(0n);
  });

  it('an ITT slot outside guest RAM fails with -EFAULT', () => {
    const r = rig();
    r.its.devices.push({ deviceId: 2, ittAddr: NOT_RAM, numEventIdBits: 1, ites: [] });
    r.its.collections.push({ icid: 0, target: 0 });
    r.its.devices[0]!.ites.push({ eventId: 0, intid: 8192, icid: 0 });
    expect(saveTables(r.vm, r.its)).toBe(-EFAULT);
    expect(r.r64(DEVICE_TABLE + 16)).toBe(0n); // the DTE is written after its ITT
  });

  it('a collection table outside guest RAM fails with -EFAULT', () => {
    const r = rig();
    r.its.baserCollection = GITS_BASER1_RESET | VALID | BigInt(NOT_RAM);
    expect(saveTables(r.vm, r.its)).toBe(-EFAULT);
  });
});

describe('ITS_SAVE_TABLES / RESTORE_TABLES: two-level device table spanning several L2 pages', () => {
  const setup = (): Rig => {
    const r = rig({ baser0: INDIRECT });
    r.w64(DEVICE_TABLE, VALID | BigInt(L2_A)); // L1[0]: DeviceIDs 0..8191
    // L1[1] invalid: DeviceIDs 8192..16383
    r.w64(DEVICE_TABLE + 16, VALID | BigInt(L2_B)); // L1[2]: DeviceIDs 16384..24575
    r.run(
      ['MAPD', { dev: 16400n, size: 0n, itt: BigInt(ITT(3)) }],
      ['MAPD', { dev: 5n, size: 1n, itt: BigInt(ITT(1)) }],
      ['MAPD', { dev: 16387n, size: 0n, itt: BigInt(ITT(2)) }],
      ['MAPC', { icid: 0n, rdbase: 0n }],
      ['MAPTI', { dev: 5n, event: 1n, lpi: 8192n, icid: 0n }],
      ['MAPTI', { dev: 16387n, event: 0n, lpi: 8193n, icid: 0n }],
      ['MAPTI', { dev: 16400n, event: 1n, lpi: 8193n, icid: 0n }],
    );
    return r;
  };

  it('writes each DTE in its level-2 table and never an L1 entry', () => {
    const r = setup();
    expect(saveTables(r.vm, r.its)).toBe(0);
    // dev 5: next 16382 (0x3FFE) → 0x3FFE << 49 = 0x7FFC << 48
    expect(r.r64(L2_A + 5 * 8)).toBe(0xfffc_0000_0820_0201n);
    // dev 16387 at L2_B slot 3: next 13
    expect(r.r64(L2_B + 3 * 8)).toBe(0x801a_0000_0820_0400n);
    // dev 16400 at L2_B slot 16: last
    expect(r.r64(L2_B + 16 * 8)).toBe(0x8000_0000_0820_0600n);
    expect(r.r64(DEVICE_TABLE)).toBe(VALID | BigInt(L2_A));
    expect(r.r64(DEVICE_TABLE + 8)).toBe(0n);
    expect(r.r64(ITT(1) + 8)).toBe(0x0000_0000_2000_0000n);
    expect(r.r64(ITT(2))).toBe(0x0000_0000_2001_0000n);
  });

  it('restores into a fresh VM: same state, and a DTE next past its L2 table continues at the next L1 entry', () => {
    const r = setup();
    expect(saveTables(r.vm, r.its)).toBe(0);
    const b = rig({ baser0: INDIRECT, ram: r.vm.ram });
    expect(restoreTables(b.vm, b.its)).toBe(0);
    expect(snapshot(b.vm)).toEqual(snapshot(r.vm));
    expect(b.vm.devices.lpis!.irqs[8193]!.refcount).toBe(2);
  });
});

describe('round trip: save → new VM → restore (vits.md §4.2)', () => {
  it('reproduces the ITS and LPI state, the pending latch through the pending table, and INT delivers', () => {
    const a = rig();
    a.run(...FLAT, ['INT', { dev: 1n, event: 3n }]);
    expect(a.vm.devices.lpis!.irqs[8193]!.pendingLatch).toBe(true);
    expect(savePendingTables(a.vm)).toBe(0);
    expect(saveTables(a.vm, a.its)).toBe(0);
    const b = rig({ ram: a.vm.ram });
    expect(restoreTables(b.vm, b.its)).toBe(0);
    expect(snapshot(b.vm)).toEqual(snapshot(a.vm));
    // the pending bit was consumed (cleared in guest memory)
    expect(Number(loadRam(b.vm.ram, BigInt(PEND_TABLE(0) + 0x400), 1)) & 2).toBe(0);
    expect(lpiCandidates(b.vm, 0).map((c) => c.intid)).toEqual([8193]);
    expect(b.run(['INT', { dev: 1n, event: 0n }])).toEqual([]);
    expect(lpiCandidates(b.vm, 1).map((c) => c.intid)).toEqual([8192]);
    // the unmapped collection came back unmapped: INT on it fails as before
    expect(b.run(['INT', { dev: 5n, event: 1n }])).toEqual([
      expect.objectContaining({ type: 'its.error', code: 'E_ITS_INT_UNMAPPED_INTERRUPT' }),
    ]);
    // save again: identical bytes
    const before = structuredClone(b.vm.ram);
    expect(saveTables(b.vm, b.its)).toBe(0);
    expect(loadRam(b.vm.ram, BigInt(DEVICE_TABLE + 8), 8)).toBe(loadRam(before, BigInt(DEVICE_TABLE + 8), 8));
    for (const addr of [
      DEVICE_TABLE + 8,
      DEVICE_TABLE + 40,
      ITT(1),
      ITT(1) + 24,
      ITT(5) + 8,
      COLLECTION_TABLE + 16,
    ]) {
      expect(loadRam(b.vm.ram, BigInt(addr), 8)).toBe(loadRam(a.vm.ram, BigInt(addr), 8));
    }
  });

  it('save → CTRL_RESET → restore → save gives identical bytes', () => {
    const a = rig();
    a.run(...FLAT);
    expect(saveTables(a.vm, a.its)).toBe(0);
    const saved = [DEVICE_TABLE + 8, DEVICE_TABLE + 40, ITT(1), ITT(1) + 24, ITT(5) + 8].map(a.r64);
    const state = structuredClone(snapshot(a.vm));
    const [b0, b1] = [a.its.baserDevice, a.its.baserCollection];
    resetIts(a.vm, a.its);
    expect(a.vm.devices.lpis!.irqs).toEqual({});
    a.its.baserDevice = b0;
    a.its.baserCollection = b1;
    expect(restoreTables(a.vm, a.its)).toBe(0);
    expect(snapshot(a.vm)).toEqual(state);
    expect(saveTables(a.vm, a.its)).toBe(0);
    expect([DEVICE_TABLE + 8, DEVICE_TABLE + 40, ITT(1), ITT(1) + 24, ITT(5) + 8].map(a.r64)).toEqual(saved);
  });
});

describe('ITS_RESTORE_TABLES errors, each undoing the partial restore (vits.md §4.2)', () => {
  /** A valid table image: CTE ICID 0 → vCPU 0, dev 1 with ITE 0 → LPI 8192. */
  const image = (): Rig => {
    const r = rig();
    r.w64(COLLECTION_TABLE, 0x8000_0000_0000_0000n);
    r.w64(DEVICE_TABLE + 8, 0x8000_0000_0820_0203n);
    r.w64(ITT(1), 0x0000_0000_2000_0000n);
    return r;
  };
  const undone = (r: Rig) => {
    expect(r.its.devices).toEqual([]);
    expect(r.its.collections).toEqual([]);
    expect(r.vm.devices.lpis!.irqs).toEqual({});
  };

  it('the image restores', () => {
    const r = image();
    expect(restoreTables(r.vm, r.its)).toBe(0);
    expect(r.its.collections).toEqual([{ icid: 0, target: 0 }]);
    expect(r.its.devices).toEqual([
      { deviceId: 1, ittAddr: ITT(1), numEventIdBits: 4, ites: [{ eventId: 0, intid: 8192, icid: 0 }] },
    ]);
  });

  it.each<[string, (r: Rig) => void, number]>([
    ['CTE target is no vCPU', (r) => r.w64(COLLECTION_TABLE + 8, 0x8000_0000_0002_0001n), -EINVAL],
    ['CTE ICID twice', (r) => r.w64(COLLECTION_TABLE + 8, 0x8000_0000_0001_0000n), -EEXIST],
    [
      'CTE ICID beyond the collection table',
      (r) => r.w64(COLLECTION_TABLE + 8, 0x8000_0000_0000_2000n),
      -EINVAL,
    ],
    [
      'collection table outside guest RAM',
      (r) => {
        r.its.baserCollection = GITS_BASER1_RESET | VALID | BigInt(NOT_RAM);
      },
      -EFAULT,
    ],
    ['DTE Size + 1 > 16', (r) => r.w64(DEVICE_TABLE + 16, 0x8000_0000_0820_0210n), -EINVAL],
    [
      'device table outside guest RAM',
      (r) => {
        r.its.baserDevice = GITS_BASER0_RESET | VALID | BigInt(NOT_RAM);
      },
      -EFAULT,
    ],
    ['ITE pINTID below 8192', (r) => r.w64(ITT(1) + 8, 0x0000_0000_1fff_0000n), -EINVAL],
    ['ITE next beyond the ITT', (r) => r.w64(ITT(1), 0x0010_0000_2000_0000n), -EINVAL],
    ['ITE ICID not restored', (r) => r.w64(ITT(1) + 8, 0x0000_0000_2001_0009n), -EINVAL],
    ['ITT outside guest RAM', (r) => r.w64(DEVICE_TABLE + 8, 0x8000_0000_0080_0003n), -EFAULT],
    [
      'property table outside guest RAM (vgic_add_lpi)',
      (r) => {
        r.vm.devices.gic!.propbaser = BigInt(NOT_RAM) | 15n;
      },
      -EFAULT,
    ],
  ])('%s', (_name, corrupt, rc) => {
    const r = image();
    // make the image chain into a second device and ITE, so errors land after partial work
    r.w64(DEVICE_TABLE + 8, 0x8002_0000_0820_0203n); // dev 1, next 1 → dev 2
    r.w64(DEVICE_TABLE + 16, 0x8000_0000_0820_0403n); // dev 2, ITT(2)
    r.w64(ITT(1), 0x0001_0000_2000_0000n); // event 0 → 8192, next 1
    r.w64(ITT(1) + 8, 0x0000_0000_2001_0000n); // event 1 → 8193
    corrupt(r);
    expect(restoreTables(r.vm, r.its)).toBe(rc);
    undone(r);
  });

  it('a DTE beyond the 16 DeviceID bits fails check_id: -EINVAL', () => {
    const r = image();
    r.its.baserDevice |= 8n; // 9 pages: 73728 slots, more than 65536 DeviceIDs
    r.w64(DEVICE_TABLE + 8, 0x8002_0000_0820_0203n | (0x3fffn << 49n)); // next 16383 → 16384
    r.w64(DEVICE_TABLE + 8 + 16383 * 8, 0x8000_0000_0820_0203n | (0x3fffn << 49n)); // → 32767
    r.w64(DEVICE_TABLE + 8 + 32766 * 8, 0x8000_0000_0820_0203n | (0x3fffn << 49n)); // → 49150
    r.w64(DEVICE_TABLE + 8 + 49149 * 8, 0x8000_0000_0820_0203n | (0x3fffn << 49n)); // → 65533
    r.w64(DEVICE_TABLE + 8 + 65532 * 8, 0x8000_0000_0820_0203n | (3n << 49n)); // → 65536
    r.w64(DEVICE_TABLE + 65536 * 8, 0x8000_0000_0820_0203n);
    expect(restoreTables(r.vm, r.its)).toBe(-EINVAL);
    undone(r);
  });

  it('restoring twice without CTRL_RESET: -EEXIST on the first CTE, and every collection is freed', () => {
    const r = image();
    expect(restoreTables(r.vm, r.its)).toBe(0);
    expect(restoreTables(r.vm, r.its)).toBe(-EEXIST);
    expect(r.its.collections).toEqual([]);
    // the devices stay; their ITEs are orphaned as vgic_its_free_collection leaves them
    expect(r.its.devices[0]!.ites).toEqual([{ eventId: 0, intid: 8192, icid: null }]);
  });

  it('an invalid CTE ends the collection table; an empty device table is not an error', () => {
    const r = rig();
    r.w64(COLLECTION_TABLE, 0x8000_0000_0001_0004n);
    r.w64(COLLECTION_TABLE + 16, 0x8000_0000_0000_0005n); // after the terminator: not read
    expect(restoreTables(r.vm, r.its)).toBe(0);
    expect(r.its.collections).toEqual([{ icid: 4, target: 1 }]);
    expect(r.its.devices).toEqual([]);
  });

  it('CTE bits 62:48 are ignored', () => {
    const r = rig();
    r.w64(COLLECTION_TABLE, 0xffff_0000_0001_0004n);
    expect(restoreTables(r.vm, r.its)).toBe(0);
    expect(r.its.collections).toEqual([{ icid: 4, target: 1 }]);
  });
});

describe('quirk its-restore-unmapped-collection (before 8c58be34494b)', () => {
  // kvm-unit-tests its-migrate-unmapped-collection: MAPTI to an unmapped ICID, save, restore.
  const saved = (): Rig => {
    const r = rig();
    r.run(
      ['MAPD', { dev: 1n, size: 3n, itt: BigInt(ITT(1)) }],
      ['MAPTI', { dev: 1n, event: 0n, lpi: 8192n, icid: 3n }],
    );
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(COLLECTION_TABLE)).toBe(0x8000_ffff_ffff_0003n);
    return r;
  };

  it('default: the unmapped collection is restored unmapped', () => {
    const a = saved();
    const b = rig({ ram: a.vm.ram });
    expect(restoreTables(b.vm, b.its)).toBe(0);
    expect(snapshot(b.vm)).toEqual(snapshot(a.vm));
    expect(b.vm.devices.lpis!.irqs[8192]!.targetVcpu).toBeNull();
    // a later MAPC maps it; INT then delivers
    b.run(['MAPC', { icid: 3n, rdbase: 1n }], ['INT', { dev: 1n, event: 0n }]);
    expect(lpiCandidates(b.vm, 1).map((c) => c.intid)).toEqual([8192]);
  });

  it('quirk: -EINVAL, nothing restored', () => {
    const a = saved();
    const b = rig({ ram: a.vm.ram, quirks: ['its-restore-unmapped-collection'] });
    expect(restoreTables(b.vm, b.its)).toBe(-EINVAL);
    expect(b.its.collections).toEqual([]);
    expect(b.its.devices).toEqual([]);
  });
});

/** Counts in-place-or-copy stores to pages that already exist. */
class CountingOwnership extends PageOwnership {
  stores = 0;
  override mayWrite(page: Uint8Array): boolean {
    this.stores += 1;
    return super.mayWrite(page);
  }
}

describe('SAVE_PENDING_TABLES (vits.md §5.2)', () => {
  it('writes only the bytes whose bit differs, never the first KiB', () => {
    const r = rig();
    r.run(
      ['MAPD', { dev: 1n, size: 3n, itt: BigInt(ITT(1)) }],
      ['MAPC', { icid: 0n, rdbase: 0n }],
      ['MAPC', { icid: 1n, rdbase: 1n }],
      ['MAPTI', { dev: 1n, event: 0n, lpi: 8192n, icid: 0n }],
      ['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 0n }],
      ['MAPTI', { dev: 1n, event: 2n, lpi: 8200n, icid: 1n }],
      ['MAPTI', { dev: 1n, event: 3n, lpi: 8208n, icid: 0n }],
      ['INT', { dev: 1n, event: 0n }],
      ['INT', { dev: 1n, event: 2n }],
    );
    // first KiB all ones, other bytes a pattern: 8193's bit set in memory but not pending
    for (const vcpu of [0, 1])
      for (let i = 0; i < 0x400; i += 8) r.w64(PEND_TABLE(vcpu) + i, ~0n & ((1n << 64n) - 1n));
    storeRam(r.vm.ram, BigInt(PEND_TABLE(0) + 0x400), 1, 0xf2n); // 8192 clear, 8193 set
    storeRam(r.vm.ram, BigInt(PEND_TABLE(1) + 0x401), 1, 0x01n); // 8200 already set
    storeRam(r.vm.ram, BigInt(PEND_TABLE(0) + 0x402), 1, 0x80n); // 8208 clear, matches
    const before = structuredClone(r.vm.ram);
    const owned = new CountingOwnership();
    expect(savePendingTables(r.vm, owned)).toBe(0);
    // 8192 set and 8193 cleared in one byte: two stores (one per differing LPI); nothing else
    expect(owned.stores).toBe(2);
    expect(Number(loadRam(r.vm.ram, BigInt(PEND_TABLE(0) + 0x400), 1))).toBe(0xf1);
    for (const vcpu of [0, 1]) {
      for (let i = 0; i < 0x408; i += 8) {
        if (vcpu === 0 && i === 0x400) continue;
        const addr = BigInt(PEND_TABLE(vcpu) + i);
        expect(loadRam(r.vm.ram, addr, 8)).toBe(loadRam(before, addr, 8));
      }
    }
    // a second save writes nothing
    const again = new CountingOwnership();
    expect(savePendingTables(r.vm, again)).toBe(0);
    expect(again.stores).toBe(0);
  });

  it('LPIs without a target are skipped; a pending table outside guest RAM: -EFAULT', () => {
    const r = rig();
    r.run(
      ['MAPD', { dev: 1n, size: 3n, itt: BigInt(ITT(1)) }],
      ['MAPTI', { dev: 1n, event: 0n, lpi: 8192n, icid: 5n }],
    );
    r.vm.devices.lpis!.irqs[8192]!.pendingLatch = true;
    expect(savePendingTables(r.vm)).toBe(0);
    r.run(['MAPC', { icid: 0n, rdbase: 0n }], ['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 0n }]);
    r.vm.vcpus[0]!.devices.gic!.pendbaser = BigInt(NOT_RAM);
    expect(savePendingTables(r.vm)).toBe(-EFAULT);
  });
});

// Ports of tools/testing/selftests/kvm/arm64/vgic_its_save.c (mainline 2026, Fuad Tabba): a
// save against tables the guest broke must succeed, then CTRL_RESET, the BASERs written back
// and RESTORE_TABLES must succeed too.
const POISON = 0xdead_beef_dead_beefn;

function poison(r: Rig, base: number, bytes: number): void {
  for (let i = 0; i < bytes; i += 8) r.w64(base + i, POISON);
}

/** reset_and_restore_tables: BASERs read, CTRL_RESET, BASERs written back, RESTORE_TABLES. */
function resetAndRestore(r: Rig): number {
  const get = (n: number) => itsRegsGet(r.vm, BigInt(GITS_BASER + n * 8)).value ?? 0n;
  const basers = [0, 1, 2, 3, 4, 5, 6, 7].map(get);
  resetIts(r.vm, r.its);
  for (const [n, v] of basers.entries()) expect(itsRegsSet(r.vm, BigInt(GITS_BASER + n * 8), v)).toBe(0);
  return restoreTables(r.vm, r.its);
}

describe('vgic_its_save.c', () => {
  it('test_baser_change_drops_collections: the save writes only the terminator', () => {
    const r = rig({ baser1: 1n }); // two pages
    for (let icid = 0; icid < 8193; icid++) r.its.collections.push({ icid, target: 0 });
    // guest_shrink_coll_table: disable the ITS, write BASER1 with one page (Valid kept)
    r.its.enabled = false;
    expect(itsRegsSet(r.vm, BigInt(GITS_BASER + 8), r.its.baserCollection & ~0xffn)).toBe(0);
    expect(r.its.collections).toEqual([]);
    poison(r, COLLECTION_TABLE, 0x2_0000);
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(COLLECTION_TABLE)).toBe(0n);
    for (let i = 8; i < 0x2_0000; i += 8)
      if (r.r64(COLLECTION_TABLE + i) !== POISON) expect.fail(`CTE ${i / 8}`);
    expect(resetAndRestore(r)).toBe(0);
    expect(r.its.collections).toEqual([]);
  });

  it('test_unreachable_device_skipped: the chain skips a device whose L2 block was dropped', () => {
    const r = rig({ baser0: INDIRECT });
    r.w64(DEVICE_TABLE, VALID | BigInt(L2_A));
    r.w64(DEVICE_TABLE + 8, VALID | BigInt(L2_B));
    const ittSz = 2 ** 13 * 8;
    expect(
      r.run(
        ['MAPD', { dev: 0n, size: 12n, itt: 0x4200_0000n }],
        ['MAPD', { dev: 8192n, size: 12n, itt: BigInt(0x4200_0000 + ittSz) }],
      ),
    ).toEqual([]);
    r.w64(DEVICE_TABLE + 8, 0n); // l1[1] = 0: nothing tells KVM
    poison(r, L2_A, 0x1_0000);
    poison(r, L2_B, 0x1_0000);
    expect(saveTables(r.vm, r.its)).toBe(0);
    const dte = r.r64(L2_A);
    expect(dte >> 63n).toBe(1n);
    expect((dte >> 49n) & 0x3fffn).toBe(0n);
    expect(r.r64(L2_B)).toBe(POISON);
    expect(resetAndRestore(r)).toBe(0);
    expect(r.its.devices.map((d) => d.deviceId)).toEqual([0]);
  });
});

// Further cases in the spirit of the selftest.
describe('save after unmaps', () => {
  it('save after MAPC V=0 of a collection with ITEs does not crash and writes a zero ITE', () => {
    const r = rig();
    r.run(
      ['MAPD', { dev: 0n, size: 3n, itt: BigInt(ITT(0)) }],
      ['MAPC', { icid: 0n, rdbase: 0n }],
      ['MAPTI', { dev: 0n, event: 0n, lpi: 8192n, icid: 0n }],
      ['MAPTI', { dev: 0n, event: 1n, lpi: 8193n, icid: 0n }],
      ['MAPC', { icid: 0n, valid: 0n }],
    );
    r.w64(ITT(0), 0xdeadn);
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(ITT(0))).toBe(0n);
    expect(r.r64(ITT(0) + 8)).toBe(0n);
    expect(r.r64(DEVICE_TABLE)).toBe(0x8000_0000_0820_0003n);
    expect(r.r64(COLLECTION_TABLE)).toBe(0n);
    // restoring this image gives the device without ITEs
    const b = rig({ ram: r.vm.ram });
    expect(restoreTables(b.vm, b.its)).toBe(0);
    expect(b.its.devices).toEqual([{ deviceId: 0, ittAddr: ITT(0), numEventIdBits: 4, ites: [] }]);
  });

  it('MAPD V=0 then save: the DTE slot stays zero and the chain omits the device', () => {
    const r = rig();
    r.run(
      ['MAPD', { dev: 0n, size: 0n, itt: BigInt(ITT(0)) }],
      ['MAPD', { dev: 2n, size: 0n, itt: BigInt(ITT(2)) }],
    );
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(DEVICE_TABLE)).toBe(0x8004_0000_0820_0000n);
    r.run(['MAPD', { dev: 2n, valid: 0n }]);
    expect(saveTables(r.vm, r.its)).toBe(0);
    expect(r.r64(DEVICE_TABLE)).toBe(0x8000_0000_0820_0000n);
    expect(r.r64(DEVICE_TABLE + 16)).toBe(0n);
  });
});
