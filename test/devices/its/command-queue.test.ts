// ITS command queue (devices/its/command-queue.ts) and LPI helpers (devices/its/lpis.ts):
// vits.md §3.1 processing loop, §3.5 every command's success path and every error in KVM's
// order, the guest-memory side effects (DTE/ITE slots zeroed, pending bits consumed), the
// continue-on-error policy with its `its.error` effects, the three command quirks of
// decisions.md, ports of kvm-unit-tests its-trigger and the vgic_lpi_stress selftest, and a
// fast-check property over random command bytes. VMs come from test/helpers/gic.ts and
// devices/its/reset.ts; commands are written into guest RAM with encodeItsCommand.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMAND_QUEUE_HOOKS, itsResultName, processCommands } from '../../../devices/its/command-queue.js';
import {
  E_ITS_ERRORS,
  encodeItsCommand,
  GITS_CMD_VMAPP,
  ITS_CMD_SIZE,
} from '../../../devices/its/commands.js';
import { decodeLpiProperty, lpiCandidates, lpiTargets, maxLpisPropbaser } from '../../../devices/its/lpis.js';
import { GITS_BASER0_RESET, GITS_BASER1_RESET, installIts } from '../../../devices/its/reset.js';
import { COLLECTION_NOT_MAPPED, type ItsState } from '../../../devices/its/state.js';
import type { Effect } from '../../../engine/events.js';
import { loadRam, storeRam, storeRamBytes } from '../../../engine/ram.js';
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

const QUIRK_NAMES = ['its-stale-dte-after-unmap', 'its-discard-unmapped-collection', 'movall-all-lpis'];
/** LPI_PROP_DEFAULT of kvm-unit-tests: priority 0xA0, group bit, enabled. */
const LPI_PROP_DEFAULT = 0xa3;

interface Rig {
  vm: VmState;
  its: ItsState;
  effects: Effect[];
  /** Writes `cmds` at CWRITER (wrapping) and moves CWRITER past them; does not process. */
  queue(...cmds: CmdSpec[]): void;
  /** Writes raw 32-byte commands at CWRITER. */
  queueRaw(...bytes: Uint8Array[]): void;
  /** `queue` then processCommands; returns the effects of this run. */
  run(...cmds: CmdSpec[]): Effect[];
  process(): Effect[];
  setProp(intid: number, byte: number): void;
  pendingByte(vcpu: number, intid: number): number;
  read64(addr: number): bigint;
}

function rig(o: { quirks?: string[]; vcpus?: number; enabled?: boolean } = {}): Rig {
  const vm = gicVm({ its: true, vcpus: o.vcpus ?? 4, quirks: o.quirks ?? [] });
  const its = installIts(vm);
  its.base = 0x0808_0000;
  its.cbaser = CBASER;
  its.baserDevice = GITS_BASER0_RESET | VALID | BigInt(DEVICE_TABLE);
  its.baserCollection = GITS_BASER1_RESET | VALID | BigInt(COLLECTION_TABLE);
  its.enabled = o.enabled ?? true;
  vm.devices.gic!.propbaser = BigInt(PROP_TABLE) | 0x380n | 15n; // IDbits 15: 16 bits
  for (const vcpu of vm.vcpus) {
    vcpu.devices.gic!.pendbaser = BigInt(PEND_TABLE(vcpu.id)) | 0x380n;
    vcpu.devices.gic!.enableLpis = true;
  }
  const effects: Effect[] = [];
  const queueRaw = (...bytes: Uint8Array[]) => {
    for (const b of bytes) {
      storeRamBytes(vm.ram, QUEUE + its.cwriter, b);
      its.cwriter = (its.cwriter + ITS_CMD_SIZE) % 0x1000;
    }
  };
  const queue = (...cmds: CmdSpec[]) => queueRaw(...cmds.map(([n, f]) => encodeItsCommand(n, f)));
  const process = () => {
    const start = effects.length;
    processCommands(vm, its, { emit: (e) => effects.push(e) });
    return effects.slice(start);
  };
  return {
    vm,
    its,
    effects,
    queue,
    queueRaw,
    process,
    run: (...cmds) => {
      queue(...cmds);
      return process();
    },
    setProp: (intid, byte) => storeRam(vm.ram, BigInt(PROP_TABLE + intid - 8192), 1, BigInt(byte)),
    pendingByte: (vcpu, intid) => Number(loadRam(vm.ram, BigInt(PEND_TABLE(vcpu) + (intid >> 3)), 1)),
    read64: (addr) => loadRam(vm.ram, BigInt(addr), 8),
  };
}

const fx = (command: string, code: string) => expect.objectContaining({ type: 'its.error', command, code });
/** MAPD dev 1 (4 EventID bits), MAPC ICID 1 → vCPU 1, MAPTI dev 1 event 0 → LPI 8192 on ICID 1. */
const BASE: CmdSpec[] = [
  ['MAPD', { dev: 1n, size: 3n, itt: BigInt(ITT(1)) }],
  ['MAPC', { icid: 1n, rdbase: 1n }],
  ['MAPTI', { dev: 1n, event: 0n, lpi: 8192n, icid: 1n }],
];
function based(o: { quirks?: string[] } = {}): Rig {
  const r = rig(o);
  r.setProp(8192, LPI_PROP_DEFAULT);
  r.setProp(8193, LPI_PROP_DEFAULT);
  expect(r.run(...BASE)).toEqual([]);
  return r;
}
const lpi = (r: Rig, intid: number) => r.vm.devices.lpis?.irqs[intid];

describe('ITS commands: success paths (vits.md §3.5)', () => {
  it.each<[string, (r: Rig) => void, (r: Rig) => void]>([
    [
      'MAPD V=1 appends a device without ITEs',
      (r) => r.run(['MAPD', { dev: 5n, size: 4n, itt: BigInt(ITT(5)) }]),
      (r) =>
        expect(r.its.devices.at(-1)).toEqual({ deviceId: 5, ittAddr: ITT(5), numEventIdBits: 5, ites: [] }),
    ],
    [
      'MAPD V=1 on a mapped device frees its ITEs and LPIs, re-appends it',
      (r) => r.run(['MAPD', { dev: 1n, size: 1n, itt: BigInt(ITT(9)) }]),
      (r) => {
        expect(r.its.devices).toEqual([{ deviceId: 1, ittAddr: ITT(9), numEventIdBits: 2, ites: [] }]);
        expect(lpi(r, 8192)).toBeUndefined();
      },
    ],
    [
      'MAPD V=0 frees the device and zeroes its DTE slot',
      (r) => {
        storeRam(r.vm.ram, BigInt(DEVICE_TABLE + 8), 8, 0x8000_0000_0000_1234n);
        r.run(['MAPD', { dev: 1n, valid: 0n }]);
      },
      (r) => {
        expect(r.its.devices).toEqual([]);
        expect(lpi(r, 8192)).toBeUndefined();
        expect(r.read64(DEVICE_TABLE + 8)).toBe(0n);
      },
    ],
    [
      'MAPC V=1 new ICID appends a mapped collection',
      (r) => r.run(['MAPC', { icid: 9n, rdbase: 3n }]),
      (r) => expect(r.its.collections.at(-1)).toEqual({ icid: 9, target: 3 }),
    ],
    [
      'MAPC V=1 existing ICID retargets its LPIs',
      (r) => r.run(['MAPC', { icid: 1n, rdbase: 2n }]),
      (r) => {
        expect(r.its.collections).toEqual([{ icid: 1, target: 2 }]);
        expect(lpi(r, 8192)?.targetVcpu).toBe(2);
      },
    ],
    [
      'MAPC V=0 frees the collection and orphans its ITEs (LPI target kept, §1.1)',
      (r) => r.run(['MAPC', { icid: 1n, rdbase: 0n, valid: 0n }]),
      (r) => {
        expect(r.its.collections).toEqual([]);
        expect(r.its.devices[0]?.ites).toEqual([{ eventId: 0, intid: 8192, icid: null }]);
        expect(lpi(r, 8192)?.targetVcpu).toBe(1);
      },
    ],
    [
      'MAPTI creates the ITE and the LPI from the property byte',
      () => {},
      (r) => {
        expect(r.its.devices[0]?.ites).toEqual([{ eventId: 0, intid: 8192, icid: 1 }]);
        expect(lpi(r, 8192)).toEqual({
          intid: 8192,
          priority: 0xa0,
          enabled: true,
          pendingLatch: false,
          targetVcpu: 1,
          refcount: 1,
        });
      },
    ],
    [
      'MAPTI on an existing LPI shares it (refcount 2, no property re-read)',
      (r) => {
        r.setProp(8192, 0x00);
        r.run(['MAPTI', { dev: 1n, event: 1n, lpi: 8192n, icid: 1n }]);
      },
      (r) => expect(lpi(r, 8192)).toMatchObject({ refcount: 2, priority: 0xa0, enabled: true }),
    ],
    [
      'MAPTI over an existing ITE changes nothing (UNPREDICTABLE: KVM keeps the old one)',
      (r) => r.run(['MAPTI', { dev: 1n, event: 0n, lpi: 8193n, icid: 1n }]),
      (r) => {
        expect(r.its.devices[0]?.ites).toEqual([{ eventId: 0, intid: 8192, icid: 1 }]);
        expect(lpi(r, 8193)).toBeUndefined();
      },
    ],
    [
      'MAPTI naming an unknown ICID creates it unmapped; the LPI has no target',
      (r) => r.run(['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 7n }]),
      (r) => {
        expect(r.its.collections.at(-1)).toEqual({ icid: 7, target: COLLECTION_NOT_MAPPED });
        expect(lpi(r, 8193)?.targetVcpu).toBeNull();
      },
    ],
    [
      'MAPI uses the EventID as the LPI',
      (r) =>
        r.run(
          ['MAPD', { dev: 2n, size: 13n, itt: BigInt(ITT(2)) }],
          ['MAPI', { dev: 2n, event: 8200n, icid: 1n }],
        ),
      (r) => {
        expect(r.its.devices.at(-1)?.ites).toEqual([{ eventId: 8200, intid: 8200, icid: 1 }]);
        expect(lpi(r, 8200)?.targetVcpu).toBe(1);
      },
    ],
    [
      'MOVI moves the ITE and the LPI to the new collection',
      (r) => r.run(['MAPC', { icid: 2n, rdbase: 3n }], ['MOVI', { dev: 1n, event: 0n, icid: 2n }]),
      (r) => {
        expect(r.its.devices[0]?.ites[0]?.icid).toBe(2);
        expect(lpi(r, 8192)?.targetVcpu).toBe(3);
      },
    ],
    [
      'INT sets the pending latch',
      (r) => r.run(['INT', { dev: 1n, event: 0n }]),
      (r) => expect(lpi(r, 8192)?.pendingLatch).toBe(true),
    ],
    [
      'CLEAR clears the pending latch',
      (r) => r.run(['INT', { dev: 1n, event: 0n }], ['CLEAR', { dev: 1n, event: 0n }]),
      (r) => expect(lpi(r, 8192)?.pendingLatch).toBe(false),
    ],
    [
      'INV re-reads the property byte',
      (r) => {
        r.setProp(8192, 0x52);
        r.run(['INV', { dev: 1n, event: 0n }]);
      },
      (r) => expect(lpi(r, 8192)).toMatchObject({ priority: 0x50, enabled: false }),
    ],
    [
      'INVALL re-reads every LPI targeting the collection vCPU',
      (r) => {
        r.run(['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 1n }]);
        r.setProp(8192, 0x11);
        r.setProp(8193, 0x21);
        r.run(['INVALL', { icid: 1n }]);
      },
      (r) => {
        expect(lpi(r, 8192)).toMatchObject({ priority: 0x10, enabled: true });
        expect(lpi(r, 8193)).toMatchObject({ priority: 0x20, enabled: true });
      },
    ],
    [
      'MOVALL retargets the LPIs of RDbase1 (links unchanged)',
      (r) => r.run(['MOVALL', { rdbase1: 1n, rdbase2: 3n }]),
      (r) => {
        expect(lpi(r, 8192)?.targetVcpu).toBe(3);
        expect(r.its.devices[0]?.ites[0]?.icid).toBe(1);
      },
    ],
    [
      'MOVALL with RDbase1 == RDbase2 is a no-op',
      (r) => r.run(['MOVALL', { rdbase1: 1n, rdbase2: 1n }]),
      (r) => expect(lpi(r, 8192)?.targetVcpu).toBe(1),
    ],
    [
      'DISCARD frees the ITE and the LPI and zeroes the ITT slot',
      (r) => {
        storeRam(r.vm.ram, BigInt(ITT(1)), 8, 0x1234n);
        r.run(['DISCARD', { dev: 1n, event: 0n }]);
      },
      (r) => {
        expect(r.its.devices[0]?.ites).toEqual([]);
        expect(lpi(r, 8192)).toBeUndefined();
        expect(r.read64(ITT(1))).toBe(0n);
      },
    ],
    [
      'SYNC is a no-op',
      (r) => r.run(['SYNC', { rdbase: 3n }]),
      (r) => expect(r.its.devices[0]?.ites).toHaveLength(1),
    ],
  ])('%s', (_name, act, check) => {
    const r = based();
    act(r);
    expect(r.effects).toEqual([]);
    expect(r.its.creadr).toBe(r.its.cwriter);
    check(r);
  });

  it('LPI creation consumes the pending bit from the target pending table (§5.2)', () => {
    const r = rig();
    storeRam(r.vm.ram, BigInt(PEND_TABLE(1) + (8194 >> 3)), 1, 0x05n); // 8192 and 8194 pending
    r.run(...BASE);
    expect(lpi(r, 8192)?.pendingLatch).toBe(true);
    expect(r.pendingByte(1, 8192)).toBe(0x04);
  });

  it('no pending-table read for an LPI without a target', () => {
    const r = rig();
    storeRam(r.vm.ram, BigInt(PEND_TABLE(1) + 1024), 1, 0x01n);
    r.run(
      ['MAPD', { dev: 1n, size: 3n, itt: BigInt(ITT(1)) }],
      ['MAPTI', { dev: 1n, event: 0n, lpi: 8192n, icid: 4n }],
    );
    expect(lpi(r, 8192)?.pendingLatch).toBe(false);
    expect(r.pendingByte(1, 8192)).toBe(0x01);
  });

  it('the LPI survives DISCARD of one of two ITEs sharing it', () => {
    const r = based();
    r.run(['MAPTI', { dev: 1n, event: 1n, lpi: 8192n, icid: 1n }], ['DISCARD', { dev: 1n, event: 0n }]);
    expect(lpi(r, 8192)?.refcount).toBe(1);
  });
});

describe('ITS commands: every error (recorded, processing continues)', () => {
  const rows: [string, (r: Rig) => void, CmdSpec, string, string][] = [
    ['DeviceID beyond Devbits', () => {}, ['MAPD', { dev: 0x1_0000n }], 'MAPD', 'E_ITS_MAPD_DEVICE_OOR'],
    ['DeviceID beyond the flat table', () => {}, ['MAPD', { dev: 8192n }], 'MAPD', 'E_ITS_MAPD_DEVICE_OOR'],
    [
      'DeviceID OOR checked for V=0 too',
      () => {},
      ['MAPD', { dev: 8192n, valid: 0n }],
      'MAPD',
      'E_ITS_MAPD_DEVICE_OOR',
    ],
    ['Size + 1 > 16', () => {}, ['MAPD', { dev: 3n, size: 16n }], 'MAPD', 'E_ITS_MAPD_ITTSIZE_OOR'],
    ['no vCPU 4', () => {}, ['MAPC', { icid: 2n, rdbase: 4n }], 'MAPC', 'E_ITS_MAPC_PROCNUM_OOR'],
    [
      'ICID beyond the table',
      () => {},
      ['MAPC', { icid: 8192n, rdbase: 0n }],
      'MAPC',
      'E_ITS_MAPC_COLLECTION_OOR',
    ],
    [
      'unmapped device',
      () => {},
      ['MAPTI', { dev: 9n, event: 0n, lpi: 8193n }],
      'MAPTI',
      'E_ITS_MAPTI_UNMAPPED_DEVICE',
    ],
    [
      'EventID ≥ 2^bits',
      () => {},
      ['MAPTI', { dev: 1n, event: 16n, lpi: 8193n }],
      'MAPTI',
      'E_ITS_MAPTI_ID_OOR',
    ],
    [
      'ITT slot outside guest RAM',
      (r) => r.run(['MAPD', { dev: 3n, size: 3n, itt: BigInt(NOT_RAM) }]),
      ['MAPTI', { dev: 3n, event: 0n, lpi: 8193n }],
      'MAPTI',
      'E_ITS_MAPTI_ID_OOR',
    ],
    [
      'pINTID 8191',
      () => {},
      ['MAPTI', { dev: 1n, event: 1n, lpi: 8191n }],
      'MAPTI',
      'E_ITS_MAPTI_PHYSICALID_OOR',
    ],
    [
      'pINTID 65536',
      () => {},
      ['MAPTI', { dev: 1n, event: 1n, lpi: 65536n }],
      'MAPTI',
      'E_ITS_MAPTI_PHYSICALID_OOR',
    ],
    [
      'pINTID beyond PROPBASER.IDbits (14 bits)',
      (r) => {
        r.vm.devices.gic!.propbaser = BigInt(PROP_TABLE) | 13n;
      },
      ['MAPTI', { dev: 1n, event: 1n, lpi: 16384n }],
      'MAPTI',
      'E_ITS_MAPTI_PHYSICALID_OOR',
    ],
    [
      'MAPI EventID below 8192',
      () => {},
      ['MAPI', { dev: 1n, event: 3n }],
      'MAPI',
      'E_ITS_MAPTI_PHYSICALID_OOR',
    ],
    [
      'unknown ICID beyond the table',
      () => {},
      ['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 8192n }],
      'MAPTI',
      'E_ITS_MAPC_COLLECTION_OOR',
    ],
    ['no ITE', () => {}, ['MOVI', { dev: 1n, event: 5n, icid: 1n }], 'MOVI', 'E_ITS_MOVI_UNMAPPED_INTERRUPT'],
    [
      'new ICID unknown',
      () => {},
      ['MOVI', { dev: 1n, event: 0n, icid: 9n }],
      'MOVI',
      'E_ITS_MOVI_UNMAPPED_COLLECTION',
    ],
    [
      'ITE orphaned by MAPC V=0',
      (r) => r.run(['MAPC', { icid: 1n, valid: 0n }], ['MAPC', { icid: 1n, rdbase: 2n }]),
      ['MOVI', { dev: 1n, event: 0n, icid: 1n }],
      'MOVI',
      'E_ITS_MOVI_UNMAPPED_COLLECTION',
    ],
    ['no ITE', () => {}, ['INT', { dev: 1n, event: 5n }], 'INT', 'E_ITS_INT_UNMAPPED_INTERRUPT'],
    [
      'ITE on an unmapped collection',
      (r) => r.run(['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 7n }]),
      ['INT', { dev: 1n, event: 1n }],
      'INT',
      'E_ITS_INT_UNMAPPED_INTERRUPT',
    ],
    [
      'target vCPU has EnableLPIs = 0 (event dropped)',
      (r) => {
        r.vm.vcpus[1]!.devices.gic!.enableLpis = false;
      },
      ['INT', { dev: 1n, event: 0n }],
      'INT',
      'EBUSY',
    ],
    ['no ITE', () => {}, ['CLEAR', { dev: 1n, event: 5n }], 'CLEAR', 'E_ITS_CLEAR_UNMAPPED_INTERRUPT'],
    ['no ITE', () => {}, ['INV', { dev: 1n, event: 5n }], 'INV', 'E_ITS_INV_UNMAPPED_INTERRUPT'],
    ['unknown collection', () => {}, ['INVALL', { icid: 9n }], 'INVALL', 'E_ITS_INVALL_UNMAPPED_COLLECTION'],
    ['no vCPU 4', () => {}, ['MOVALL', { rdbase1: 0n, rdbase2: 4n }], 'MOVALL', 'E_ITS_MOVALL_PROCNUM_OOR'],
    ['no ITE', () => {}, ['DISCARD', { dev: 1n, event: 5n }], 'DISCARD', 'E_ITS_DISCARD_UNMAPPED_INTERRUPT'],
    [
      'ITE on an unmapped collection',
      (r) => r.run(['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 7n }]),
      ['DISCARD', { dev: 1n, event: 1n }],
      'DISCARD',
      'E_ITS_DISCARD_UNMAPPED_INTERRUPT',
    ],
    [
      'property table outside guest RAM (LPI creation fails, new collection undone)',
      (r) => {
        r.vm.devices.gic!.propbaser = BigInt(NOT_RAM) | 15n;
      },
      ['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 7n }],
      'MAPTI',
      'EFAULT',
    ],
  ];
  it.each(rows.map((row) => [`${row[3]} ${row[4]}: ${row[0]}`, ...row.slice(1)] as typeof row))(
    '%s',
    (_name, setup, cmd, command, code) => {
      const r = based();
      setup(r);
      expect(r.effects).toEqual([]);
      const before = structuredClone(r.its);
      const lpisBefore = structuredClone(r.vm.devices.lpis);
      // The failing command, then a SYNC and a MAPC that must still run.
      const fxs = r.run(cmd, ['SYNC', {}], ['MAPC', { icid: 30n, rdbase: 0n }]);
      expect(fxs).toEqual([
        { type: 'its.error', command, code, value: expect.any(Number), creadr: r.its.cwriter - 96 },
      ]);
      expect(r.its.collections.at(-1)).toEqual({ icid: 30, target: 0 });
      r.its.collections.pop();
      expect({ ...r.its, creadr: 0, cwriter: 0 }).toEqual({ ...before, creadr: 0, cwriter: 0 });
      expect(r.vm.devices.lpis).toEqual(lpisBefore);
    },
  );

  it('every E_ITS_* code has a row', () => {
    const codes = new Set(rows.map((row) => row[4]));
    for (const name of Object.keys(E_ITS_ERRORS)) expect(codes).toContain(name);
    expect(itsResultName(E_ITS_ERRORS.E_ITS_MAPD_DEVICE_OOR!)).toBe('E_ITS_MAPD_DEVICE_OOR');
  });

  it.each<[string, Uint8Array, string]>([
    ['unknown opcode 0x42', Uint8Array.of(0x42, ...new Uint8Array(31)), '0x42'],
    ['GICv4 VMAPP', Uint8Array.of(GITS_CMD_VMAPP, ...new Uint8Array(31)), 'VMAPP'],
  ])('%s is skipped with -ENODEV', (_n, bytes, command) => {
    const r = based();
    r.queueRaw(bytes);
    expect(r.process()).toEqual([fx(command, 'ENODEV')]);
    expect(r.its.creadr).toBe(r.its.cwriter);
  });
});

describe('ITS command queue processing (vgic_its_process_commands)', () => {
  it('CWRITER == CREADR: nothing happens', () => {
    const r = based();
    const snapshot = structuredClone(r.its);
    expect(r.process()).toEqual([]);
    expect(r.its).toEqual(snapshot);
  });

  it('a disabled ITS processes nothing; enabling it runs the queue', () => {
    const r = rig({ enabled: false });
    r.queue(['MAPC', { icid: 1n, rdbase: 0n }]);
    expect(r.process()).toEqual([]);
    expect(r.its.creadr).toBe(0);
    expect(r.its.collections).toEqual([]);
    r.its.enabled = true;
    r.process();
    expect(r.its.creadr).toBe(32);
    expect(r.its.collections).toEqual([{ icid: 1, target: 0 }]);
  });

  it('wraps CREADR to 0 at the queue size', () => {
    const r = rig();
    r.its.creadr = 0x1000 - 64;
    r.its.cwriter = 0x1000 - 64;
    r.run(
      ['MAPD', { dev: 1n, size: 3n, itt: BigInt(ITT(1)) }],
      ['MAPC', { icid: 1n, rdbase: 1n }],
      ['MAPTI', { dev: 1n, event: 0n, lpi: 8192n, icid: 1n }],
    );
    expect(r.its.cwriter).toBe(32);
    expect(r.its.creadr).toBe(32);
    expect(r.its.devices[0]?.ites).toHaveLength(1);
    expect(r.effects).toEqual([]);
  });

  it('processes up to CWRITER and stops there', () => {
    const r = rig();
    r.queue(['MAPC', { icid: 1n, rdbase: 0n }], ['MAPC', { icid: 2n, rdbase: 0n }]);
    r.its.cwriter = 32;
    r.process();
    expect(r.its.creadr).toBe(32);
    expect(r.its.collections).toEqual([{ icid: 1, target: 0 }]);
  });

  it('a queue outside guest RAM: each command is skipped, recorded, CREADR advances', () => {
    const r = rig();
    r.its.cbaser = VALID | (3n << 59n) | BigInt(NOT_RAM);
    r.its.cwriter = 64;
    expect(r.process()).toEqual([fx('read', 'EFAULT'), fx('read', 'EFAULT')]);
    expect(r.its.creadr).toBe(64);
  });

  it('COMMAND_QUEUE_HOOKS runs the queue from a register context', () => {
    const r = rig();
    r.queue(['MAPC', { icid: 1n, rdbase: 0n }]);
    COMMAND_QUEUE_HOOKS.processCommands({
      vm: r.vm,
      its: r.its,
      fx: { emit() {} },
      hooks: COMMAND_QUEUE_HOOKS,
    });
    expect(r.its.collections).toEqual([{ icid: 1, target: 0 }]);
  });
});

describe('ITS quirks vs default', () => {
  it.each([
    [[], 0n],
    [['its-stale-dte-after-unmap'], 0x8000_0000_0000_1234n],
  ])('MAPD V=0 with quirks %j leaves DTE %s', (quirks, dte) => {
    const r = based({ quirks });
    storeRam(r.vm.ram, BigInt(DEVICE_TABLE + 8), 8, 0x8000_0000_0000_1234n);
    r.run(['MAPD', { dev: 1n, valid: 0n }]);
    expect(r.its.devices).toEqual([]);
    expect(r.read64(DEVICE_TABLE + 8)).toBe(dte);
  });

  it.each([
    [[], 1, [fx('DISCARD', 'E_ITS_DISCARD_UNMAPPED_INTERRUPT')]],
    [['its-discard-unmapped-collection'], 0, []],
  ])('DISCARD on an unmapped collection with quirks %j', (quirks, ites, effects) => {
    const r = based({ quirks });
    r.run(
      ['MAPD', { dev: 2n, size: 3n, itt: BigInt(ITT(2)) }],
      ['MAPTI', { dev: 2n, event: 1n, lpi: 8193n, icid: 7n }],
    );
    expect(r.run(['DISCARD', { dev: 2n, event: 1n }])).toEqual(effects);
    expect(r.its.devices.at(-1)?.ites).toHaveLength(ites);
  });

  it('its-discard-unmapped-collection still refuses an orphaned ITE (NULL collection)', () => {
    const r = based({ quirks: ['its-discard-unmapped-collection'] });
    r.run(['MAPC', { icid: 1n, valid: 0n }]);
    expect(r.run(['DISCARD', { dev: 1n, event: 0n }])).toEqual([
      fx('DISCARD', 'E_ITS_DISCARD_UNMAPPED_INTERRUPT'),
    ]);
  });

  it.each([
    [[], 0],
    [['movall-all-lpis'], 3],
  ])('MOVALL 1 → 3 with quirks %j: the LPI on vCPU 0 ends on vCPU %i', (quirks, other) => {
    const r = based({ quirks });
    r.run(['MAPC', { icid: 2n, rdbase: 0n }], ['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 2n }]);
    r.run(['MOVALL', { rdbase1: 1n, rdbase2: 3n }]);
    expect(lpi(r, 8192)?.targetVcpu).toBe(3);
    expect(lpi(r, 8193)?.targetVcpu).toBe(other);
  });
});

describe('LPI helpers (devices/its/lpis.ts)', () => {
  it.each([
    [0xa3, { priority: 0xa0, enabled: true }],
    [0xa2, { priority: 0xa0, enabled: false }],
    [0x01, { priority: 0, enabled: true }],
    [0xff, { priority: 0xfc, enabled: true }],
  ])('property byte %i', (byte, prop) => expect(decodeLpiProperty(byte)).toEqual(prop));

  it('maxLpisPropbaser caps at 16 bits', () => {
    expect(maxLpisPropbaser(13n)).toBe(16384);
    expect(maxLpisPropbaser(15n)).toBe(65536);
    expect(maxLpisPropbaser(31n)).toBe(65536);
  });

  it('lpiTargets and lpiCandidates', () => {
    const r = based();
    r.run(
      ['MAPTI', { dev: 1n, event: 1n, lpi: 8193n, icid: 1n }],
      ['MAPTI', { dev: 1n, event: 2n, lpi: 8194n, icid: 7n }],
      ['INT', { dev: 1n, event: 0n }],
      ['INT', { dev: 1n, event: 1n }],
    );
    expect(lpiTargets(r.vm)).toEqual({ 1: [8192, 8193] });
    r.setProp(8193, 0x40); // disabled
    r.run(['INV', { dev: 1n, event: 1n }]);
    expect(lpiCandidates(r.vm, 1)).toEqual([{ intid: 8192, priority: 0xa0, group: 1 }]);
    expect(lpiCandidates(r.vm, 0)).toEqual([]);
    r.vm.vcpus[1]!.devices.gic!.enableLpis = false;
    expect(lpiCandidates(r.vm, 1)).toEqual([]);
  });
});

describe('ports', () => {
  // kvm-unit-tests arm/gic.c test_its_trigger ("its-trigger"): dev2/event 20 → LPI 8195 on
  // col3 (PE 3), dev7/event 255 → LPI 8196 on col2 (PE 2). "LPI hits" = an lpiCandidates entry;
  // the guest's acknowledge is modelled by CLEAR.
  it('its-trigger: int, inv/invall, mapd valid=false', () => {
    const r = rig();
    r.setProp(8195, LPI_PROP_DEFAULT);
    r.setProp(8196, LPI_PROP_DEFAULT);
    r.run(
      ['MAPD', { dev: 2n, size: 7n, itt: BigInt(ITT(2)) }],
      ['MAPD', { dev: 7n, size: 7n, itt: BigInt(ITT(7)) }],
      ['MAPC', { icid: 3n, rdbase: 3n }],
      ['MAPC', { icid: 2n, rdbase: 2n }],
      ['INVALL', { icid: 2n }],
      ['INVALL', { icid: 3n }],
      ['MAPTI', { dev: 2n, event: 20n, lpi: 8195n, icid: 3n }],
      ['MAPTI', { dev: 7n, event: 255n, lpi: 8196n, icid: 2n }],
    );
    expect(r.effects).toEqual([]);
    r.run(['INT', { dev: 2n, event: 20n }]);
    expect(lpiCandidates(r.vm, 3).map((c) => c.intid)).toEqual([8195]);
    r.run(['CLEAR', { dev: 2n, event: 20n }], ['INT', { dev: 7n, event: 255n }]);
    expect(lpiCandidates(r.vm, 2).map((c) => c.intid)).toEqual([8196]);
    r.run(['CLEAR', { dev: 7n, event: 255n }]);
    // inv/invall: disable 8195 + INV → INT does not hit
    r.setProp(8195, LPI_PROP_DEFAULT & ~1);
    r.run(['INV', { dev: 2n, event: 20n }], ['INT', { dev: 2n, event: 20n }]);
    expect(lpiCandidates(r.vm, 3)).toEqual([]);
    // re-enabled in memory, no invalidation: still no hit
    r.setProp(8195, LPI_PROP_DEFAULT);
    r.run(['INT', { dev: 2n, event: 20n }]);
    expect(lpiCandidates(r.vm, 3)).toEqual([]);
    // INVALL: the pending LPI is received
    r.run(['INVALL', { icid: 3n }]);
    expect(lpiCandidates(r.vm, 3).map((c) => c.intid)).toEqual([8195]);
    r.run(['CLEAR', { dev: 2n, event: 20n }]);
    // mapd valid=false: no LPI after device unmap
    expect(r.run(['MAPD', { dev: 2n, valid: 0n }], ['INT', { dev: 2n, event: 20n }])).toEqual([
      fx('INT', 'E_ITS_INT_UNMAPPED_INTERRUPT'),
    ]);
    expect(lpiCandidates(r.vm, 3)).toEqual([]);
  });

  // tools/testing/selftests/kvm/arm64/vgic_lpi_stress.c, shrunk: every (device, event) pair maps
  // its own LPI on a collection per vCPU; one INT each makes every LPI pending exactly once.
  it('vgic_lpi_stress: devices × events, all LPIs pending after one INT each', () => {
    const r = rig();
    const devices = 4;
    const events = 8;
    for (let i = 0; i < devices * events; i++) r.setProp(8192 + i, LPI_PROP_DEFAULT);
    const cmds: CmdSpec[] = [];
    for (let v = 0; v < 4; v++) cmds.push(['MAPC', { icid: BigInt(v), rdbase: BigInt(v) }]);
    for (let d = 0; d < devices; d++) {
      cmds.push(['MAPD', { dev: BigInt(d), size: 2n, itt: BigInt(ITT(d)) }]);
      for (let e = 0; e < events; e++) {
        cmds.push([
          'MAPTI',
          { dev: BigInt(d), event: BigInt(e), lpi: BigInt(8192 + d * events + e), icid: BigInt(e % 4) },
        ]);
      }
    }
    r.run(...cmds);
    const ints: CmdSpec[] = [];
    for (let d = 0; d < devices; d++)
      for (let e = 0; e < events; e++) ints.push(['INT', { dev: BigInt(d), event: BigInt(e) }]);
    r.run(...ints);
    expect(r.effects).toEqual([]);
    const all = [0, 1, 2, 3].flatMap((v) => lpiCandidates(r.vm, v).map((c) => c.intid));
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: devices * events }, (_, i) => 8192 + i));
  });
});

/** True when `v` is plain data: objects and arrays with plain prototypes, no functions or NaN. */
function isPlain(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (v instanceof Uint8Array) return true;
  if (Array.isArray(v)) return v.every(isPlain);
  if (typeof v === 'object') {
    if (Object.getPrototypeOf(v) !== Object.prototype) return false;
    return Object.values(v as object).every(isPlain);
  }
  return false;
}

describe('property: random command bytes', () => {
  const names = [
    'MAPD',
    'MAPC',
    'MAPTI',
    'MAPI',
    'MOVI',
    'INT',
    'CLEAR',
    'INV',
    'INVALL',
    'MOVALL',
    'DISCARD',
    'SYNC',
  ] as const;
  const small = fc.integer({ min: 0, max: 12 }).map(BigInt);
  const valid = fc.record({
    name: fc.constantFrom(...names),
    dev: small,
    event: small,
    lpi: fc.integer({ min: 8185, max: 8200 }).map(BigInt),
    size: fc.integer({ min: 0, max: 17 }).map(BigInt),
    icid: small,
    rdbase: fc.integer({ min: 0, max: 5 }).map(BigInt),
    rdbase1: fc.integer({ min: 0, max: 5 }).map(BigInt),
    rdbase2: fc.integer({ min: 0, max: 5 }).map(BigInt),
    valid: fc.integer({ min: 0, max: 1 }).map(BigInt),
  });
  const command = fc.oneof(
    valid.map(({ name, ...f }) => encodeItsCommand(name, { ...f, itt: BigInt(ITT(Number(f.dev))) })),
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
  );
  it('never throws, drains the queue, keeps state plain and refcounts exact', () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 60 }),
        fc.array(fc.constantFrom(...QUIRK_NAMES)),
        (cmds, quirks) => {
          const r = rig({ quirks });
          for (let i = 8192; i < 8200; i++) r.setProp(i, i & 0xff);
          r.queueRaw(...cmds);
          r.process();
          expect(r.its.creadr).toBe(r.its.cwriter);
          expect(isPlain(r.its)).toBe(true);
          expect(isPlain(r.vm.devices.lpis)).toBe(true);
          for (const e of r.effects) expect(e.type).toBe('its.error');
          const refs: Record<number, number> = {};
          for (const d of r.its.devices)
            for (const ite of d.ites) refs[ite.intid] = (refs[ite.intid] ?? 0) + 1;
          const counts = Object.fromEntries(
            Object.values(r.vm.devices.lpis?.irqs ?? {}).map((l) => [l.intid, l.refcount]),
          );
          expect(counts).toEqual(refs);
        },
      ),
      { numRuns: 300 },
    );
  });
});
