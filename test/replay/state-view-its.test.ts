// The state view's ITS section and LPI rows (replay/state-view.ts, replay/state-text.ts) for a
// scenario with `guest its_init`, MAPD / MAPC / MAPTI / INT and a MAPC V=0 orphaning ITEs:
// registers and queue pointers, devices by DeviceID with their ITEs by EventID, collections by
// ICID (an unmapped one shown as such), LPIs in the interrupt table; --json; no ITS, no section.

import { describe, expect, it } from 'vitest';
import { COLLECTION_NOT_MAPPED } from '../../devices/its/state.js';
import { cloneState } from '../../engine/clone.js';
import type { MachineState } from '../../engine/state.js';
import { defaultRegistry } from '../../replay/machine.js';
import { stateText } from '../../replay/state-text.js';
import { stateView, viewJsonReplacer } from '../../replay/state-view.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';

function run(source: string): MachineState {
  return runScenario(parseScenario(source, 'test.vgs'), { registry: defaultRegistry() }).state;
}

// Devices, collections and events are mapped out of order, to check the view's ordering.
const SCENARIO = `board virt vcpus=2 nr_irqs=64 its=on
guest gic_init
guest its_init
run 0
run 1
guest lpi_config 8192 0xa3
guest lpi_config 8193 0x93
vcpu 0 its MAPD dev=2 size=4 itt=0x50100000
vcpu 0 its MAPD dev=1 size=1 itt=0x50200000
vcpu 0 its MAPC icid=1 rdbase=1
vcpu 0 its MAPC icid=0 rdbase=0
vcpu 0 its MAPTI dev=2 event=1 lpi=8193 icid=1
vcpu 0 its MAPTI dev=2 event=0 lpi=8192 icid=0
vcpu 0 its MAPTI dev=1 event=0 lpi=8194 icid=1
vcpu 0 its INT dev=2 event=1
vcpu 0 its MAPC icid=0 rdbase=0 valid=0
`;

describe('stateView: ITS and LPIs', () => {
  const state = run(SCENARIO);
  const vm = stateView(state).vms[0]!;
  const its = vm.its!;

  it('shows the ITS registers and the command queue pointers', () => {
    expect(its).toMatchObject({
      base: 0x808_0000,
      enabled: true,
      abiRev: 0,
      cbaserValid: true,
      queueSize: 0x1_0000,
      // 9 commands of 32 bytes
      creadr: 0x120,
      cwriter: 0x120,
    });
    expect(its.cbaser & 0xffff_ffff_f000n).toBe(0x5002_0000n);
    expect(its.baser0 & 0xffff_ffff_f000n).toBe(0x5000_0000n);
    expect(its.baser1 & 0xffff_ffff_f000n).toBe(0x5001_0000n);
    expect((its.baser0 >> 56n) & 7n).toBe(1n);
    expect((its.baser1 >> 56n) & 7n).toBe(4n);
  });

  it('lists devices by DeviceID with ITT address and size and ITEs by EventID; orphans as such', () => {
    expect(its.devices).toEqual([
      {
        deviceId: 1,
        ittAddr: 0x5020_0000,
        eventIdBits: 2,
        ittSize: 32,
        ites: [{ eventId: 0, intid: 8194, icid: 1, orphaned: false }],
      },
      {
        deviceId: 2,
        ittAddr: 0x5010_0000,
        eventIdBits: 5,
        ittSize: 256,
        ites: [
          { eventId: 0, intid: 8192, icid: null, orphaned: true },
          { eventId: 1, intid: 8193, icid: 1, orphaned: false },
        ],
      },
    ]);
  });

  it('lists collections by ICID with their target, an unmapped one with none', () => {
    expect(its.collections).toEqual([{ icid: 1, target: 1 }]);
    const copy = cloneState(state);
    const raw = copy.vms[0]!.devices.its!;
    raw.collections.push({ icid: 7, target: COLLECTION_NOT_MAPPED }, { icid: 3, target: 0 });
    expect(stateView(copy).vms[0]!.its!.collections).toEqual([
      { icid: 1, target: 1 },
      { icid: 3, target: 0 },
      { icid: 7, target: null },
    ]);
  });

  it('lists every LPI in the interrupt table after the SPIs, INTID ascending', () => {
    const lpis = vm.gic!.irqs.filter((r) => r.kind === 'LPI');
    expect(lpis).toEqual([
      expect.objectContaining({ intid: 8192, priority: 0xa0, enabled: true, pending: false, target: 0 }),
      expect.objectContaining({ intid: 8193, priority: 0x90, enabled: true, pending: true, target: 1 }),
      expect.objectContaining({ intid: 8194, priority: 0, enabled: false, pending: false, target: 1 }),
    ]);
    for (const row of lpis) {
      expect(row).toMatchObject({
        vcpu: null,
        line: false,
        active: false,
        hw: false,
        level: false,
        group: 1,
      });
      expect(row.isPending).toBe(row.pending);
    }
    const all = stateView(state, { all: true }).vms[0]!.gic!;
    expect(all.irqs.slice(-3).map((r) => r.intid)).toEqual([8192, 8193, 8194]);
    expect(all.irqsTotal).toBe(2 * 32 + 32 + 3);
    // LPIs are VM-global: they stay with the vCPU filter, as SPIs do.
    const one = stateView(state, { vcpu: 0 }).vms[0]!.gic!;
    expect(one.irqs.filter((r) => r.kind === 'LPI').map((r) => r.intid)).toEqual([8192, 8193, 8194]);
  });

  it('is in --json, deterministic, and leaves the state alone', () => {
    const before = cloneState(state);
    const a = JSON.stringify(stateView(state), viewJsonReplacer);
    expect(JSON.stringify(stateView(state), viewJsonReplacer)).toBe(a);
    expect(state).toEqual(before);
    const json = JSON.parse(a).vms[0];
    expect(json.its.cbaser).toMatch(/^0x98[0-9a-f]*5002040f$/);
    expect(json.its.devices.map((d: { deviceId: number }) => d.deviceId)).toEqual([1, 2]);
    expect(json.gic.irqs.at(-1)).toMatchObject({ kind: 'LPI', intid: 8194, target: 1 });
  });

  it('has no ITS section without a vgic-its device', () => {
    const noIts = stateView(run('board virt vcpus=1 its=off\nguest gic_init\n')).vms[0]!;
    expect(noIts.its).toBeUndefined();
    expect(noIts.gic!.irqs.some((r) => r.kind === 'LPI')).toBe(false);
    expect(stateText(stateView(run('board virt vcpus=1 its=off\n'))).join('\n')).not.toContain('ITS (');
  });
});

describe('stateText: ITS and LPIs', () => {
  const lines = stateText(stateView(run(SCENARIO)));
  const text = lines.join('\n');

  it('prints LPI rows in the interrupt table', () => {
    expect(lines).toContain('    LPI   8192    - ...E..G 0xa0 vCPU 0  -');
    expect(lines).toContain('    LPI   8193    - P..E..G 0x90 vCPU 1  -');
    expect(lines).toContain('    LPI   8194    - ......G 0x00 vCPU 1  -');
  });

  it('prints the ITS section last', () => {
    const at = lines.indexOf('  ITS (vgic-its)');
    expect(at).toBeGreaterThan(
      lines.findIndex((l) => l.startsWith('  Redistributor and CPU interface, vCPU 1')),
    );
    expect(lines.slice(at)).toEqual([
      '  ITS (vgic-its)',
      '    base 0x8080000  enabled yes  ABI revision 0',
      '    GITS_CBASER 0x980000005002040f (valid, queue 64 KiB)  GITS_CREADR 0x120',
      '    GITS_CWRITER 0x120',
      '    GITS_BASER0 0x9907000050000600  GITS_BASER1 0x9c07000050010600',
      '    devices: 2',
      '      DeviceID 1  ITT 0x50200000 (32 B)  EventID bits 2  ITEs 1',
      '        event 0 → LPI 8194, ICID 1',
      '      DeviceID 2  ITT 0x50100000 (256 B)  EventID bits 5  ITEs 2',
      '        event 0 → LPI 8192, orphaned (collection freed)',
      '        event 1 → LPI 8193, ICID 1',
      '    collections: 1',
      '      ICID 1 → vCPU 1',
    ]);
    expect(text).toContain('ITS yes');
  });

  it('shows an unmapped collection and a device without ITEs', () => {
    const state = run(`${SCENARIO}vcpu 0 its MAPD dev=9 size=0 itt=0x50300000\n`);
    const copy = cloneState(state);
    copy.vms[0]!.devices.its!.collections.push({ icid: 4, target: COLLECTION_NOT_MAPPED });
    const out = stateText(stateView(copy));
    expect(out).toContain('      DeviceID 9  ITT 0x50300000 (16 B)  EventID bits 1  ITEs none');
    expect(out).toContain('      ICID 1 → vCPU 1  ICID 4 unmapped');
  });
});
