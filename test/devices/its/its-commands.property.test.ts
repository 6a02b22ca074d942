// Property: random ITS command sequences (all twelve commands, biased to operands that hit mapped
// entries, mixed with out-of-range IDs, unmapped devices and collections, bad ITT sizes and
// garbage command words), interleaved with KVM_SIGNAL_MSI, property-table edits, pending-table
// edits, GICR_CTLR.EnableLPIs toggles and LPI acknowledges, never throw; and QEMU's save →
// in-place restore (stop, SAVE_PENDING_TABLES, ITS_SAVE_TABLES, the kvm_arm_its_pre_save
// register reads, ITS_CTRL_RESET, then kvm_arm_its_post_load's writes: IIDR, CBASER, CREADR,
// CWRITER, BASER0..7, ITS_RESTORE_TABLES, CTLR; qemu-client.md §1.5, §1.6) reproduces the ITS
// and LPI state.
//
// What "reproduces" means, from KVM's design (vits.md §4, §5.2; docs/its.md):
//   - Registers: CTLR, CBASER, CREADR, CWRITER, BASER0..7 and IIDR read back exactly as before
//     (the VMM wrote them back; ITS_CTRL_RESET had cleared them).
//   - Collections: the same list, in the same order, with the same targets (unmapped ones stay
//     unmapped: mainline since 8c58be34494b).
//   - Devices: the same DeviceIDs with the same ITT address and EventID bits; their ITEs the same
//     (EventID, INTID, ICID), except ITEs orphaned by MAPC V=0 (collection null): KVM saves them
//     as a zero ITE, so they do not come back. Lists are compared by ID (save sorts them in place).
//   - LPIs: exactly the INTIDs still referenced by a surviving ITE, with refcount = number of
//     such ITEs; priority and enable are re-read from the property table at restore, so they
//     equal the table bytes (not the cached values: an edit without INV is picked up, by
//     design); target = the collection's target of its ITE; the pending latch survives through
//     the pending table (SAVE_PENDING_TABLES writes every targeted latch, the restore consumes
//     the bit). Precisely: the restore walks devices by DeviceID and ITEs by EventID, and the
//     first surviving ITE of an INTID creates the LPI with its collection's target and reads
//     the pending bit from that target's table (as saved); later ITEs of the same INTID only
//     take a reference (vgic_add_lpi returns an existing LPI untouched). So an LPI shared by
//     ITEs of different collections, or whose collection was remapped, can come back with
//     another target, and then with that target's bit: that is KVM's design, and the oracle
//     computes it; everything else is compared as it was.
//   - RAM: SAVE_PENDING_TABLES leaves every targeted latch in its target's table; after the
//     restore a second save writes exactly the same guest RAM (a fixed point).
//   - The round trip keeps every ITT inside guest RAM and disjoint (a guest that points two
//     devices at one ITT, or an ITT outside RAM, gets tables that KVM cannot restore either:
//     scan_its_table reads the first ITE even of an empty ITT, -EFAULT; so the garbage words
//     of the round trip never form a MAPD). A second property with wild operands (ITTs
//     anywhere, any garbage) only checks that nothing throws and that save/restore return 0
//     or an errno.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeItsCommand, type ItsCommandName } from '../../../devices/its/commands.js';
import {
  CTRL_ITS_CTRL_RESET,
  CTRL_ITS_RESTORE_TABLES,
  CTRL_ITS_SAVE_TABLES,
} from '../../../devices/its/kvm-device.js';
import { COLLECTION_NOT_MAPPED, type ItsState, type LpiState } from '../../../devices/its/state.js';
import { sysregEncoding } from '../../../devices/names.js';
import { loadRam, ramPages } from '../../../engine/ram.js';
import type { MachineState, VmState } from '../../../engine/state.js';
import { WorkingCopy } from '../../../engine/working-copy.js';
import { defaultRegistry } from '../../../replay/machine.js';
import { parseScenario } from '../../../scenario/parser.js';
import { runScenario } from '../../../scenario/runner.js';

// ---- the board: guest its_init's documented layout (docs/its.md), IDbits 13 (LPIs < 16384)

const GITS = 0x0808_0000n;
const GITS_CWRITER = GITS + 0x88n;
const GICR = (vcpu: number): bigint => 0x080a_0000n + BigInt(vcpu) * 0x2_0000n;
const QUEUE = 0x5002_0000n;
const QUEUE_SIZE = 0x1_0000;
const PROP_TABLE = 0x5003_0000n;
const PEND_TABLE = (vcpu: number): bigint => 0x5004_0000n + BigInt(vcpu) * 0x1_0000n;
/** Disjoint ITTs, 1 MiB apart (a 16-bit EventID space needs 512 KiB), above the tables. */
const ITT = (dev: number): bigint => 0x5100_0000n + BigInt(dev) * 0x10_0000n;
const VCPUS = 2;
const ICC_IAR1_EL1 = sysregEncoding(3, 0, 12, 12, 0);
const ICC_EOIR1_EL1 = sysregEncoding(3, 0, 12, 12, 1);
const GRP_CTRL = 4;
const GRP_ITS_REGS = 8;
const CTRL_SAVE_PENDING_TABLES = 3n;

const SETUP = `board virt vcpus=${VCPUS} nr_irqs=64 its=on
guest gic_init
guest its_init
run 0
run 1
`;

const registry = defaultRegistry();
const setupState: MachineState = (() => {
  const result = runScenario(parseScenario(SETUP, 'setup.vgs'), { registry });
  if (result.failures.length > 0 || result.warnings.length > 0) throw new Error('setup failed');
  return result.state;
})();

// ---- actions

type Action =
  | { kind: 'cmd'; name: ItsCommandName; fields: Record<string, bigint> }
  | { kind: 'garbage'; words: [bigint, bigint, bigint, bigint] }
  | { kind: 'msi'; devid: number; eventid: number }
  | { kind: 'prop'; lpi: number; byte: number }
  | { kind: 'pend'; vcpu: number; lpi: number; byte: number }
  | { kind: 'enableLpis'; vcpu: number; on: boolean }
  | { kind: 'ack'; vcpu: number };

interface Ranges {
  /** ITT addresses anywhere (including overlapping and outside RAM). */
  wild: boolean;
}

const U64 = fc.bigInt(0n, (1n << 64n) - 1n);

function actionArb({ wild }: Ranges): fc.Arbitrary<Action> {
  const dev = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 3 }), weight: 8 },
    {
      arbitrary: fc.constantFrom(8191, 8192, 0xffff, 0x1_0000),
      weight: 1,
    },
  );
  const event = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 5 }), weight: 8 },
    { arbitrary: fc.constantFrom(255, 256, 0xffff, 0x1_0000), weight: 1 },
  );
  const icid = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 3 }), weight: 8 },
    { arbitrary: fc.constantFrom(8191, 8192, 0xffff), weight: 1 },
  );
  const lpi = fc.oneof(
    { arbitrary: fc.integer({ min: 8192, max: 8192 + 11 }), weight: 8 },
    { arbitrary: fc.constantFrom(0, 32, 8191, 16383, 16384, 0xffff), weight: 1 },
  );
  const rdbase = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: VCPUS - 1 }), weight: 8 },
    {
      arbitrary: fc.constantFrom(VCPUS, 0xffff),
      weight: 1,
    },
  );
  const size = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 4 }), weight: 8 },
    { arbitrary: fc.constantFrom(15, 16, 31), weight: 1 },
  );
  const valid = fc.oneof({ arbitrary: fc.constant(1), weight: 5 }, { arbitrary: fc.constant(0), weight: 1 });
  const b = (n: number): bigint => BigInt(n);
  const itt = (d: number): fc.Arbitrary<bigint> =>
    wild
      ? fc.oneof(
          fc.constant(ITT(d & 0xff)),
          fc.constantFrom(0n, 0x0800_0000n, 0x7fff_ff00n, 0x5000_0000n),
          U64,
        )
      : fc.constant(ITT(d & 0xff));
  const cmd = (name: ItsCommandName, fields: fc.Arbitrary<Record<string, bigint>>): fc.Arbitrary<Action> =>
    fields.map((f) => ({ kind: 'cmd' as const, name, fields: f }));
  const devEvent = fc.record({ dev, event }).map(({ dev: d, event: e }) => ({ dev: b(d), event: b(e) }));

  return fc.oneof(
    {
      arbitrary: cmd(
        'MAPD',
        fc
          .record({ dev, size, valid })
          .chain((r) =>
            itt(r.dev).map((a) => ({ dev: b(r.dev), size: b(r.size), valid: b(r.valid), itt: a })),
          ),
      ),
      weight: 4,
    },
    {
      arbitrary: cmd(
        'MAPC',
        fc
          .record({ icid, rdbase, valid })
          .map((r) => ({ icid: b(r.icid), rdbase: b(r.rdbase), valid: b(r.valid) })),
      ),
      weight: 3,
    },
    {
      arbitrary: cmd(
        'MAPTI',
        fc.record({ dev, event, lpi, icid }).map((r) => ({
          dev: b(r.dev),
          event: b(r.event),
          lpi: b(r.lpi),
          icid: b(r.icid),
        })),
      ),
      weight: 6,
    },
    {
      arbitrary: cmd(
        'MAPI',
        fc.record({ dev, event, icid }).map((r) => ({ dev: b(r.dev), event: b(r.event), icid: b(r.icid) })),
      ),
      weight: 2,
    },
    {
      arbitrary: cmd(
        'MOVI',
        fc.record({ dev, event, icid }).map((r) => ({ dev: b(r.dev), event: b(r.event), icid: b(r.icid) })),
      ),
      weight: 3,
    },
    { arbitrary: cmd('INT', devEvent), weight: 4 },
    { arbitrary: cmd('CLEAR', devEvent), weight: 2 },
    { arbitrary: cmd('INV', devEvent), weight: 2 },
    {
      arbitrary: cmd(
        'INVALL',
        icid.map((i) => ({ icid: b(i) })),
      ),
      weight: 2,
    },
    {
      arbitrary: cmd(
        'MOVALL',
        fc.record({ r1: rdbase, r2: rdbase }).map((r) => ({ rdbase1: b(r.r1), rdbase2: b(r.r2) })),
      ),
      weight: 1,
    },
    { arbitrary: cmd('DISCARD', devEvent), weight: 2 },
    {
      arbitrary: cmd(
        'SYNC',
        rdbase.map((r) => ({ rdbase: b(r) })),
      ),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(
          // round trip: no garbage MAPD (0x08), whose ITT would be anywhere
          (wild
            ? fc.oneof(fc.integer({ min: 0, max: 0xff }).map(b), U64)
            : fc.integer({ min: 0, max: 0xff }).map(b)
          ).filter((w) => wild || (w & 0xffn) !== 0x08n),
          U64,
          U64,
          U64,
        )
        .map((words) => ({ kind: 'garbage' as const, words })),
      weight: 1,
    },
    {
      arbitrary: fc.record({ devid: dev, eventid: event }).map((r) => ({ kind: 'msi' as const, ...r })),
      weight: 3,
    },
    {
      arbitrary: fc
        .record({
          lpi: fc.integer({ min: 8192, max: 8192 + 11 }),
          byte: fc.constantFrom(0xa3, 0xa2, 0x63, 0x11, 0xff),
        })
        .map((r) => ({ kind: 'prop' as const, ...r })),
      weight: 2,
    },
    {
      arbitrary: fc
        .record({
          vcpu: fc.integer({ min: 0, max: VCPUS - 1 }),
          lpi: fc.integer({ min: 8192, max: 8192 + 11 }),
          byte: fc.integer({ min: 0, max: 0xff }),
        })
        .map((r) => ({ kind: 'pend' as const, ...r })),
      weight: 1,
    },
    {
      arbitrary: fc
        .record({ vcpu: fc.integer({ min: 0, max: VCPUS - 1 }), on: fc.boolean() })
        .map((r) => ({ kind: 'enableLpis' as const, ...r })),
      weight: 1,
    },
    {
      arbitrary: fc.integer({ min: 0, max: VCPUS - 1 }).map((vcpu) => ({ kind: 'ack' as const, vcpu })),
      weight: 2,
    },
  );
}

/**
 * A prologue of commands with valid operands (devices, collections and mappings, some of them
 * to a collection no MAPC maps), so that the random body finds mapped entries to work on.
 */
const prologueArb: fc.Arbitrary<Action[]> = fc
  .tuple(
    fc.array(fc.record({ dev: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 1, max: 4 }) }), {
      minLength: 1,
      maxLength: 4,
    }),
    fc.array(
      fc.record({ icid: fc.integer({ min: 0, max: 3 }), rdbase: fc.integer({ min: 0, max: VCPUS - 1 }) }),
      {
        minLength: 1,
        maxLength: 4,
      },
    ),
    fc.array(
      fc.record({
        dev: fc.integer({ min: 0, max: 3 }),
        event: fc.integer({ min: 0, max: 3 }),
        lpi: fc.integer({ min: 8192, max: 8192 + 11 }),
        icid: fc.integer({ min: 0, max: 4 }),
        int: fc.boolean(),
      }),
      { maxLength: 10 },
    ),
    fc.array(
      fc.record({ lpi: fc.integer({ min: 8192, max: 8192 + 11 }), byte: fc.constantFrom(0xa3, 0xa2, 0x63) }),
      {
        maxLength: 12,
      },
    ),
  )
  .map(([devs, cols, maps, props]) => [
    ...props.map((p): Action => ({ kind: 'prop', ...p })),
    ...devs.map(
      (d): Action => ({
        kind: 'cmd',
        name: 'MAPD',
        fields: { dev: BigInt(d.dev), size: BigInt(d.size), itt: ITT(d.dev), valid: 1n },
      }),
    ),
    ...cols.map(
      (c): Action => ({
        kind: 'cmd',
        name: 'MAPC',
        fields: { icid: BigInt(c.icid), rdbase: BigInt(c.rdbase) },
      }),
    ),
    ...maps.map(
      (x): Action => ({
        kind: 'cmd',
        name: 'MAPTI',
        fields: { dev: BigInt(x.dev), event: BigInt(x.event), lpi: BigInt(x.lpi), icid: BigInt(x.icid) },
      }),
    ),
    ...maps
      .filter((x) => x.int)
      .map(
        (x): Action => ({ kind: 'cmd', name: 'INT', fields: { dev: BigInt(x.dev), event: BigInt(x.event) } }),
      ),
  ]);

function sequenceArb(ranges: Ranges): fc.Arbitrary<Action[]> {
  return fc
    .tuple(prologueArb, fc.array(actionArb(ranges), { minLength: 1, maxLength: 40, size: 'medium' }))
    .map(([p, body]) => [...p, ...body]);
}

// ---- driving the machine through primitive events (what `vcpu K its`, `signal_msi`, … expand to)

function vmOf(m: WorkingCopy): VmState {
  return m.state.vms[m.state.current]!;
}

function itsOf(m: WorkingCopy): ItsState {
  return vmOf(m).devices.its!;
}

function writeCommand(m: WorkingCopy, bytes: Uint8Array): void {
  const its = itsOf(m);
  const at = QUEUE + BigInt(its.cwriter);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < 4; i++) {
    const value = view.getBigUint64(i * 8, true);
    m.step({ type: 'guest.write', vcpu: 0, addr: at + BigInt(i * 8), value, size: 8 });
  }
  const next = (its.cwriter + 32) % QUEUE_SIZE;
  m.step({ type: 'guest.write', vcpu: 0, addr: GITS_CWRITER, value: BigInt(next), size: 8 });
}

function apply(m: WorkingCopy, a: Action): void {
  switch (a.kind) {
    case 'cmd':
      writeCommand(m, encodeItsCommand(a.name, a.fields));
      break;
    case 'garbage': {
      const bytes = new Uint8Array(32);
      const view = new DataView(bytes.buffer);
      a.words.forEach((w, i) => {
        view.setBigUint64(i * 8, w, true);
      });
      writeCommand(m, bytes);
      break;
    }
    case 'msi':
      m.step({ type: 'msi.signal', devid: a.devid, eventid: a.eventid });
      break;
    case 'prop':
      m.step({
        type: 'guest.write',
        vcpu: 0,
        addr: PROP_TABLE + BigInt(a.lpi - 8192),
        value: BigInt(a.byte),
        size: 1,
      });
      break;
    case 'pend':
      m.step({
        type: 'mem.write',
        addr: PEND_TABLE(a.vcpu) + BigInt(a.lpi >> 3),
        value: BigInt(a.byte),
        size: 1,
      });
      break;
    case 'enableLpis':
      m.step({ type: 'guest.write', vcpu: a.vcpu, addr: GICR(a.vcpu), value: a.on ? 1n : 0n, size: 4 });
      break;
    case 'ack': {
      const { output } = m.step({ type: 'guest.mrs', vcpu: a.vcpu, sysreg: ICC_IAR1_EL1 });
      const intid = output.value ?? 1023n;
      if (intid !== 1023n) m.step({ type: 'guest.msr', vcpu: a.vcpu, sysreg: ICC_EOIR1_EL1, value: intid });
      break;
    }
  }
}

const ITS_REGS = { CTLR: 0x0n, IIDR: 0x4n, CBASER: 0x80n, CWRITER: 0x88n, CREADR: 0x90n } as const;
const BASER = (i: number): bigint => 0x100n + BigInt(i) * 8n;

function getReg(m: WorkingCopy, attr: bigint): bigint {
  const { output } = m.step({ type: 'attr.get', dev: 'its', group: GRP_ITS_REGS, attr, preset: null });
  expect(output.rc).toBe(0);
  return output.value!;
}

function setReg(m: WorkingCopy, attr: bigint, value: bigint): number {
  return m.step({ type: 'attr.set', dev: 'its', group: GRP_ITS_REGS, attr, value }).output.rc ?? Number.NaN;
}

function ctrl(m: WorkingCopy, dev: 'gic' | 'its', attr: bigint): number {
  return m.step({ type: 'attr.set', dev, group: GRP_CTRL, attr, value: null }).output.rc ?? Number.NaN;
}

interface SavedRegs {
  baser: bigint[];
  ctlr: bigint;
  cbaser: bigint;
  creadr: bigint;
  cwriter: bigint;
  iidr: bigint;
}

/** QEMU's save on stop: SAVE_PENDING_TABLES, ITS_SAVE_TABLES, kvm_arm_its_pre_save. */
function save(m: WorkingCopy): { pending: number; tables: number; regs: SavedRegs } {
  m.step({ type: 'vm.stop' });
  const pending = ctrl(m, 'gic', CTRL_SAVE_PENDING_TABLES);
  const tables = ctrl(m, 'its', CTRL_ITS_SAVE_TABLES);
  const regs: SavedRegs = {
    baser: Array.from({ length: 8 }, (_, i) => getReg(m, BASER(i))),
    ctlr: getReg(m, ITS_REGS.CTLR),
    cbaser: getReg(m, ITS_REGS.CBASER),
    creadr: getReg(m, ITS_REGS.CREADR),
    cwriter: getReg(m, ITS_REGS.CWRITER),
    iidr: getReg(m, ITS_REGS.IIDR),
  };
  return { pending, tables, regs };
}

/** ITS_CTRL_RESET, then kvm_arm_its_post_load in its order; the rc of RESTORE_TABLES. */
function resetAndRestore(m: WorkingCopy, regs: SavedRegs): number {
  expect(ctrl(m, 'its', CTRL_ITS_CTRL_RESET)).toBe(0);
  expect(itsOf(m).devices).toEqual([]);
  expect(itsOf(m).collections).toEqual([]);
  expect(setReg(m, ITS_REGS.IIDR, regs.iidr)).toBe(0);
  expect(setReg(m, ITS_REGS.CBASER, regs.cbaser)).toBe(0);
  expect(setReg(m, ITS_REGS.CREADR, regs.creadr)).toBe(0);
  expect(setReg(m, ITS_REGS.CWRITER, regs.cwriter)).toBe(0);
  for (let i = 0; i < 8; i++) expect(setReg(m, BASER(i), regs.baser[i]!)).toBe(0);
  const rc = ctrl(m, 'its', CTRL_ITS_RESTORE_TABLES);
  expect(setReg(m, ITS_REGS.CTLR, regs.ctlr)).toBe(0);
  return rc;
}

// ---- the comparison

function itsView(its: ItsState) {
  return {
    collections: its.collections.map((c) => ({ ...c })),
    devices: [...its.devices]
      .sort((a, b) => a.deviceId - b.deviceId)
      .map((d) => ({
        deviceId: d.deviceId,
        ittAddr: d.ittAddr,
        numEventIdBits: d.numEventIdBits,
        ites: [...d.ites].sort((a, b) => a.eventId - b.eventId).map((e) => ({ ...e })),
      })),
  };
}

/** The non-zero RAM pages as hex, by address. */
function ramImage(vm: VmState): [number, string][] {
  return ramPages(vm.ram)
    .filter((p) => p.bytes.some((b) => b !== 0))
    .map((p) => [p.addr, Buffer.from(p.bytes).toString('hex')]);
}

function pendingBit(vm: VmState, vcpu: number, intid: number): boolean {
  const byte = Number(loadRam(vm.ram, PEND_TABLE(vcpu) + BigInt(intid >> 3), 1));
  return ((byte >> (intid & 7)) & 1) === 1;
}

/** SAVE_PENDING_TABLES left every targeted LPI's latch in its target's pending table. */
function expectPendingSaved(vm: VmState): void {
  for (const irq of Object.values(vm.devices.lpis?.irqs ?? {})) {
    if (irq.targetVcpu !== null)
      expect([irq.intid, pendingBit(vm, irq.targetVcpu, irq.intid)]).toEqual([irq.intid, irq.pendingLatch]);
  }
}

/**
 * What the restore must rebuild from the state and RAM at save time (see the header). The
 * restore walks devices by DeviceID and ITEs by EventID; the first surviving ITE of an LPI
 * creates it (target from its collection, property byte read, pending bit read from that
 * target's table); later ITEs of the same LPI only take a reference (vgic_add_lpi returns the
 * existing LPI untouched).
 */
function expectedAfter(vm: VmState) {
  const its = vm.devices.its!;
  const view = itsView(its);
  // orphaned ITEs are saved as zero ITEs
  for (const d of view.devices) d.ites = d.ites.filter((e) => e.icid !== null);
  const refs = new Map<number, number>();
  for (const d of view.devices) for (const e of d.ites) refs.set(e.intid, (refs.get(e.intid) ?? 0) + 1);
  const targetOf = (icid: number): number | null => {
    const c = its.collections.find((x) => x.icid === icid);
    return c === undefined || c.target === COLLECTION_NOT_MAPPED ? null : c.target;
  };
  const irqs: Record<number, LpiState['irqs'][number]> = {};
  for (const d of view.devices) {
    for (const e of d.ites) {
      if (irqs[e.intid] !== undefined) continue;
      const byte = Number(loadRam(vm.ram, PROP_TABLE + BigInt(e.intid - 8192), 1));
      const target = targetOf(e.icid!);
      irqs[e.intid] = {
        intid: e.intid,
        priority: byte & 0xfc,
        enabled: (byte & 1) === 1,
        pendingLatch: target !== null && pendingBit(vm, target, e.intid),
        targetVcpu: target,
        refcount: refs.get(e.intid)!,
      };
    }
  }
  return { ...view, irqs };
}

function actualAfter(vm: VmState) {
  return { ...itsView(vm.devices.its!), irqs: { ...(vm.devices.lpis?.irqs ?? {}) } };
}

describe('random ITS command sequences', () => {
  it('never throw, and save → ITS reset → restore reproduces the ITS and LPI state', () => {
    fc.assert(
      fc.property(sequenceArb({ wild: false }), (actions) => {
        const m = new WorkingCopy(registry, setupState);
        for (const a of actions) apply(m, a);
        const { pending, tables, regs } = save(m);
        expect(pending).toBe(0);
        expect(tables).toBe(0);
        const before = structuredClone(vmOf(m));
        expectPendingSaved(before);
        const expected = expectedAfter(before);
        expect(resetAndRestore(m, regs)).toBe(0);
        expect(actualAfter(vmOf(m))).toEqual(expected);
        // the registers read back as saved
        const its = itsOf(m);
        expect(getReg(m, ITS_REGS.CTLR)).toBe(regs.ctlr);
        expect(getReg(m, ITS_REGS.CBASER)).toBe(regs.cbaser);
        expect(getReg(m, ITS_REGS.CREADR)).toBe(regs.creadr);
        expect(getReg(m, ITS_REGS.CWRITER)).toBe(regs.cwriter);
        expect(getReg(m, ITS_REGS.IIDR)).toBe(regs.iidr);
        for (let i = 0; i < 8; i++) expect(getReg(m, BASER(i))).toBe(regs.baser[i]);
        expect(its.enabled).toBe(before.devices.its!.enabled);
        // a second save writes exactly the same guest RAM (tables, ITTs and pending tables, whose
        // bits the restore consumed): the restored state is a fixed point of save
        expect(ctrl(m, 'gic', CTRL_SAVE_PENDING_TABLES)).toBe(0);
        expect(ctrl(m, 'its', CTRL_ITS_SAVE_TABLES)).toBe(0);
        expect(ramImage(vmOf(m))).toEqual(ramImage(before));
      }),
      { numRuns: 150 },
    );
  });

  it('with wild operands (ITTs anywhere, garbage) nothing throws and save/restore give 0 or an errno', () => {
    fc.assert(
      fc.property(sequenceArb({ wild: true }), (actions) => {
        const m = new WorkingCopy(registry, setupState);
        for (const a of actions) apply(m, a);
        const { pending, tables, regs } = save(m);
        expect(pending).toBeLessThanOrEqual(0);
        expect(tables).toBeLessThanOrEqual(0);
        const rc = resetAndRestore(m, regs);
        expect(rc).toBeLessThanOrEqual(0);
        // the machine goes on: more commands after the restore do not throw either
        for (const a of actions.slice(0, 10)) apply(m, a);
      }),
      { numRuns: 100 },
    );
  });
});
