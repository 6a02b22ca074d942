// Issue "Done when": random workloads migrated at random cuts show no divergence under `qemu`,
// and for each VMM quirk whose effect the workload exercises at the cut, migrate-check finds
// the divergence every time. A workload is a random sequence of guest and VMM actions on a
// 2-vCPU board with an ITS and SDEI (interrupt lines and configuration, SGIs, MSIs through
// mapped devices, ITS commands, LPI property changes, acknowledges, SDEI calls, stop/cont);
// "exercises" is a predicate on the source state at the cut, one per quirk, stating why the
// quirk must lose something there.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MachineState, VmState } from '../../../engine/state.js';
import { WorkingCopy } from '../../../engine/working-copy.js';
import type { Frame } from '../../../replay/frame.js';
import { defaultRegistry } from '../../../replay/machine.js';
import { migratable, migrateCheck } from '../../../replay/migration/check.js';
import { framesOf } from '../../helpers/migration.js';

const PROLOGUE = `board virt vcpus=2 nr_irqs=64
guest gic_init
guest its_init
run 0
run 1
vcpu 0 its MAPC icid=0 rdbase=0
vcpu 0 its MAPC icid=1 rdbase=1
vcpu 0 its MAPD dev=1 size=3 itt=0x50100000
vcpu 0 its MAPD dev=2 size=3 itt=0x50110000
`;

const vcpu = fc.integer({ min: 0, max: 1 });
const spiBit = fc.integer({ min: 0, max: 31 });
const event = fc.integer({ min: 0, max: 3 });
const dev = fc.integer({ min: 1, max: 2 });
const lpi = (d: number, e: number) => 8192 + d * 16 + e;

/** One guest or VMM action as scenario text (well-formed; it may fail at run time, as guests do). */
const action: fc.Arbitrary<string> = fc.oneof(
  spiBit.map((b) => `vcpu 0 write GICD_ISENABLER1 ${(1 << b) >>> 0}`),
  fc
    .tuple(fc.constantFrom('GICD_ICFGR2', 'GICD_ICFGR3'), fc.integer({ min: 0, max: 0xffff }))
    .map(([r, v]) => `vcpu 0 write ${r} ${(v * 0x10001) & 0xaaaaaaaa}`),
  fc.tuple(spiBit, fc.integer({ min: 0, max: 1 })).map(([b, l]) => `irq_line spi ${32 + b} ${l}`),
  fc
    .tuple(vcpu, fc.integer({ min: 16, max: 31 }), fc.integer({ min: 0, max: 1 }))
    .map(([v, i, l]) => `irq_line ppi ${v} ${i} ${l}`),
  fc.tuple(vcpu, fc.integer({ min: 0, max: 0xffff })).map(([v, m]) => `vcpu ${v} write GICR_ISENABLER0 ${m}`),
  fc.tuple(vcpu, fc.integer({ min: 0, max: 0xffff })).map(([v, m]) => `vcpu ${v} write GICR_ICENABLER0 ${m}`),
  fc
    .tuple(vcpu, fc.integer({ min: 0, max: 15 }), vcpu)
    .map(([v, sgi, to]) => `vcpu ${v} msr ICC_SGI1R_EL1 ${(sgi * 2 ** 24 + (1 << to)).toString()}`),
  fc
    .tuple(dev, event, vcpu)
    .map(([d, e, c]) => `vcpu 0 its MAPTI dev=${d} event=${e} lpi=${lpi(d, e)} icid=${c}`),
  fc.tuple(dev, event).map(([d, e]) => `signal_msi ${d} ${e}`),
  fc
    .tuple(dev, event, vcpu)
    .map(
      ([d, e, c]) =>
        `vcpu 0 its MAPTI dev=${d} event=${e} lpi=${lpi(d, e)} icid=${c}\nguest lpi_config ${lpi(d, e)} 0xa1\nvcpu 0 its INV dev=${d} event=${e}\nsignal_msi ${d} ${e}`,
    ),
  fc.tuple(dev, event).map(([d, e]) => `vcpu 0 its INT dev=${d} event=${e}`),
  fc.tuple(dev, event, vcpu).map(([d, e, c]) => `vcpu 0 its MOVI dev=${d} event=${e} icid=${c}`),
  fc
    .tuple(dev, event, fc.constantFrom(0xa1, 0xa0, 0x91))
    .map(([d, e, b]) => `guest lpi_config ${lpi(d, e)} ${b}\nvcpu 0 its INV dev=${d} event=${e}`),
  vcpu.map((v) => `vcpu ${v} mrs ICC_IAR1_EL1`),
  fc.tuple(vcpu, fc.integer({ min: 0, max: 63 })).map(([v, i]) => `vcpu ${v} msr ICC_EOIR1_EL1 ${i}`),
  vcpu.map(
    (v) =>
      `vcpu ${v} hvc SDEI_EVENT_REGISTER 0 ${0x4010_0000 + v * 0x1000} 0 0 0\nvcpu ${v} hvc SDEI_EVENT_ENABLE 0\nvcpu ${v} hvc SDEI_PE_UNMASK`,
  ),
  fc.tuple(vcpu, vcpu).map(([v, to]) => `vcpu ${v} hvc SDEI_EVENT_SIGNAL 0 ${0x8000_0000 + to}`),
  vcpu.map((v) => `vcpu ${v} hvc SDEI_EVENT_COMPLETE 0`),
  fc.constantFrom('stop\ncont', 'stop', 'cont'),
);

/** Why each quirk must lose something at a cut, as a predicate on the source VM there. */
const EXERCISED: Record<string, (vm: VmState) => boolean> = {
  'no-level-info': (vm) =>
    vm.devices.gic!.spis.some((i) => i.lineLevel) ||
    vm.vcpus.some((v) => v.devices.gic!.irqs.some((i) => i.lineLevel)),
  'lpis-enabled-before-base': (vm) => vm.vcpus.some((v) => v.devices.gic!.enableLpis),
  'no-save-pending-tables': (vm) =>
    Object.values(vm.devices.lpis?.irqs ?? {}).some(
      (i) =>
        i.pendingLatch &&
        i.targetVcpu !== null &&
        vm.vcpus.find((v) => v.id === i.targetVcpu)?.devices.gic?.enableLpis,
    ),
  'no-its-save-tables': (vm) => (vm.devices.its?.devices.length ?? 0) > 0,
  'ram-before-flush': (vm) => (vm.devices.its?.devices.length ?? 0) > 0,
  'its-before-gic': (vm) => (vm.devices.its?.devices ?? []).some((d) => d.ites.some((i) => i.icid !== null)),
  'no-sdei-state': (vm) => vm.vcpus.some((v) => (v.devices.sdei?.registered ?? 0) !== 0),
  'zero-clear': (vm) => vm.vcpus.some((v) => v.devices.gic!.irqs.slice(0, 16).some((i) => !i.enabled)),
  'saved-value-clear': (vm) => vm.vcpus.some((v) => v.devices.gic!.irqs.slice(0, 16).some((i) => !i.enabled)),
};

/** The state after each of `positions` (ascending). */
function statesAt(frames: readonly Frame[], positions: readonly number[]): Map<number, MachineState> {
  const out = new Map<number, MachineState>();
  const wc = new WorkingCopy(defaultRegistry());
  let at = 0;
  for (const p of positions) {
    while (at < p) wc.step(frames[at++]!.event);
    out.set(p, wc.snapshot());
  }
  return out;
}

describe('random workloads migrated at random cuts', () => {
  it('diverge under qemu only with a quirk, and always when the quirk is exercised', () => {
    const exercised: Record<string, number> = {};
    fc.assert(
      fc.property(
        fc.array(action, { minLength: 15, maxLength: 60 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 2 }),
        (actions, cutsAt) => {
          const { frames } = framesOf(`${PROLOGUE}${actions.join('\n')}\n`);
          const first = framesOf(PROLOGUE).frames.length;
          // Random cuts, and the end (where everything the workload did is in the state).
          const positions = [
            ...cutsAt.map((f) => first + Math.floor(f * (frames.length - first))),
            frames.length,
          ];
          const cuts = [...new Set(positions)].sort((a, b) => a - b);
          const states = statesAt(frames, cuts);
          const clean = migrateCheck(frames, defaultRegistry(), { vmm: 'qemu', quirks: [], at: cuts });
          expect(clean.diverged.map((c) => ({ cut: c.cut, diff: c.diff.slice(0, 3) }))).toEqual([]);
          for (const cut of cuts) {
            const state = states.get(cut)!;
            const vm = state.vms[state.current]!;
            if (state.migration || !migratable(vm)) continue;
            for (const [quirk, holds] of Object.entries(EXERCISED)) {
              if (!holds(vm)) continue;
              exercised[quirk] = (exercised[quirk] ?? 0) + 1;
              const report = migrateCheck(frames, defaultRegistry(), {
                vmm: 'qemu',
                quirks: [quirk],
                at: [cut],
              });
              expect(
                report.diverged.map((c) => c.cut),
                `${quirk} at #${cut}`,
              ).toEqual([cut]);
            }
          }
        },
      ),
      { numRuns: 30, seed: 20261121 },
    );
    // The workloads must actually exercise every quirk of the table somewhere.
    expect(Object.keys(exercised).sort()).toEqual(Object.keys(EXERCISED).sort());
  }, 120_000);
});
