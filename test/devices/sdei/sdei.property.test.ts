// Properties of the SDEI service under random call sequences on three vCPUs (issue 5 "Done
// when"): nothing throws; at most one event runs per vCPU; every event is in one of the six
// legal states of sdei.md §2.1; EVENT_STATUS agrees with the bitmaps; after any guest entry of a
// vCPU nothing deliverable is left undelivered. And migration: saving every KVM_REG_ARM_SDEI_*
// register (and the core registers) of every vCPU at a random cut and restoring them into a
// fresh VM reproduces every later output and effect, and the same final SDEI state.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SDEI_FUNCTIONS, SDEI_ONE_REGS } from '../../../devices/names.js';
import { deliverableEvent } from '../../../devices/sdei/dispatch.js';
import {
  eventStatus,
  SDEI_EVENTS_MASK,
  SDEI_NR_EVENTS,
  SDEI_STATE_NAMES,
} from '../../../devices/sdei/state.js';
import { cloneState } from '../../../engine/clone.js';
import { CORE_REG_PC, CORE_REG_PSTATE, coreRegX } from '../../../engine/core.js';
import type { Effect, EngineEvent, Output } from '../../../engine/events.js';
import { initialState, type MachineState, type VmState } from '../../../engine/state.js';
import { stepInPlace } from '../../../engine/step.js';
import { defaultRegistry } from '../../../replay/machine.js';

const VCPUS = [0, 1, 2];
const registry = defaultRegistry();

const FIDS = Object.values(SDEI_FUNCTIONS);
const fidArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...FIDS) },
  { weight: 1, arbitrary: fc.integer({ min: 0xc400_0033, max: 0xc400_003f }) },
);
// Event numbers, entries, targets (MPIDRs of vCPU 0-2, a missing one, a pointer), contexts.
const argArb = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 0xffff_ffffn, 0x1_0000_0000n, 17n, 18n),
  fc.constantFrom(0x8000_0000n, 0x8000_0001n, 0x8000_0002n, 0x8000_0009n, 0x4010_0000n),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);

const opArb: fc.Arbitrary<EngineEvent> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .record({
        vcpu: fc.constantFrom(...VCPUS),
        fid: fidArb,
        args: fc.array(argArb, { minLength: 5, maxLength: 5 }),
      })
      .map(({ vcpu, fid, args }): EngineEvent => ({ type: 'guest.hvc', vcpu, args: [BigInt(fid), ...args] })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ vcpu: fc.constantFrom(...VCPUS), event: fc.constantFrom(0n, 1n, 2n) })
      .map(({ vcpu, event }): EngineEvent => ({ type: 'sdei.inject', vcpu, event })),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...VCPUS).map((vcpu): EngineEvent => ({ type: 'vcpu.run', vcpu })),
  },
  { weight: 1, arbitrary: fc.constantFrom<EngineEvent>({ type: 'vm.stop' }, { type: 'vm.cont' }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...VCPUS).map((vcpu): EngineEvent => ({ type: 'vcpu.reset', vcpu })),
  },
);

/** Register/enable-heavy prefix so that handlers actually run in most sequences. */
const warmupArb: fc.Arbitrary<EngineEvent[]> = fc.constant(
  VCPUS.flatMap((vcpu): EngineEvent[] => [
    hvc(vcpu, 'SDEI_EVENT_REGISTER', 0n, 0x4000_1000n + BigInt(vcpu), 0xa0n + BigInt(vcpu)),
    hvc(vcpu, 'SDEI_EVENT_REGISTER', 1n, 0x4000_2000n + BigInt(vcpu), 0xb0n + BigInt(vcpu)),
    hvc(vcpu, 'SDEI_EVENT_ENABLE', 0n),
    hvc(vcpu, 'SDEI_EVENT_ENABLE', 1n),
    hvc(vcpu, 'SDEI_PE_UNMASK'),
  ]),
);

function hvc(vcpu: number, name: string, ...args: bigint[]): EngineEvent {
  return { type: 'guest.hvc', vcpu, args: [BigInt(SDEI_FUNCTIONS[name]!), ...args] };
}

function boot(quirks: string[] = []): MachineState {
  const state = initialState();
  stepInPlace(state, { type: 'vm.create', host: 'gicv3', quirks, ipaBits: 40, sdei: true }, registry);
  for (const vcpu of VCPUS) stepInPlace(state, { type: 'vcpu.create', vcpu }, registry);
  return state;
}

function vmOf(state: MachineState): VmState {
  return state.vms[state.current]!;
}

const LEGAL = Object.keys(SDEI_STATE_NAMES).map(Number);

function checkInvariants(state: MachineState, event: EngineEvent): void {
  const vm = vmOf(state);
  for (const vcpu of vm.vcpus) {
    const s = vcpu.devices.sdei!;
    expect(s.running & (s.running - 1), 'more than one running event').toBe(0);
    for (const bitmap of [s.registered, s.enabled, s.running, s.pending])
      expect(bitmap & ~SDEI_EVENTS_MASK).toBe(0);
    for (let n = 0; n < SDEI_NR_EVENTS; n++) expect(LEGAL).toContain(eventStatus(s, n));
    // After an entry of this vCPU (its hvc or run), nothing deliverable is left behind.
    const entered =
      (event.type === 'guest.hvc' || event.type === 'vcpu.run') && event.vcpu === vcpu.id && vcpu.ran;
    if (entered) expect(deliverableEvent(s)).toBe(-1);
  }
  // EVENT_STATUS, asked on a copy, reports exactly the bitmaps.
  for (const vcpu of vm.vcpus) {
    const s = vcpu.devices.sdei!;
    for (let n = 0; n < SDEI_NR_EVENTS; n++) {
      const copy = cloneState(state);
      const { output } = stepInPlace(copy, hvc(vcpu.id, 'SDEI_EVENT_STATUS', BigInt(n)), registry);
      expect(output.x?.[0]).toBe(BigInt(eventStatus(s, n)));
    }
  }
}

describe('SDEI random call sequences', () => {
  it('keep the invariants and never throw', () => {
    fc.assert(
      fc.property(
        warmupArb,
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        fc.boolean(),
        (warmup, ops, warm) => {
          const state = boot();
          for (const event of [...(warm ? warmup : []), ...ops]) {
            stepInPlace(state, event, registry);
            checkInvariants(state, event);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never throw with every SDEI quirk on', () => {
    const quirks = [
      'sdei-signal-ignores-target',
      'sdei-no-redispatch-on-complete',
      'sdei-complete-no-result',
      'sdei-stale-pending',
      'sdei-private-reset-while-running',
      'sdei-pe-mask-returns-zero',
      'sdei-survives-vcpu-reset',
    ];
    fc.assert(
      fc.property(warmupArb, fc.array(opArb, { minLength: 1, maxLength: 60 }), (warmup, ops) => {
        const state = boot(quirks);
        for (const event of [...warmup, ...ops]) {
          stepInPlace(state, event, registry);
          const s = vmOf(state).vcpus.map((v) => v.devices.sdei!);
          for (const x of s) expect(x.running & (x.running - 1)).toBe(0);
        }
      }),
      { numRuns: 60 },
    );
  });
});

const FW_REGS = Object.values(SDEI_ONE_REGS);
const CORE_REGS = [...Array.from({ length: 31 }, (_, i) => coreRegX(i)), CORE_REG_PC, CORE_REG_PSTATE];

/** Every vCPU's SDEI and core registers, read through KVM_GET_ONE_REG (the VM must be stopped). */
function saveRegs(state: MachineState): { vcpu: number; reg: bigint; value: bigint }[] {
  const saved: { vcpu: number; reg: bigint; value: bigint }[] = [];
  for (const vcpu of VCPUS)
    for (const reg of [...FW_REGS, ...CORE_REGS]) {
      const { output } = stepInPlace(state, { type: 'reg.get', vcpu, reg }, registry);
      expect(output.rc).toBe(0);
      saved.push({ vcpu, reg, value: output.value! });
    }
  return saved;
}

describe('SDEI migration through the pseudo-firmware registers', () => {
  it('a fresh VM restored from the saved registers reproduces every later result', () => {
    fc.assert(
      fc.property(
        warmupArb,
        fc.array(opArb, { maxLength: 40 }),
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        (warmup, before, after) => {
          const source = boot();
          for (const event of [...warmup, ...before]) stepInPlace(source, event, registry);
          // The VMM stops the VM, copies the registers and resumes it.
          stepInPlace(source, { type: 'vm.stop' }, registry);
          const resumed = vmOf(source)
            .vcpus.filter((v) => v.resumeOnCont)
            .map((v) => v.id);
          const saved = saveRegs(source);
          stepInPlace(source, { type: 'vm.cont' }, registry);

          const dest = boot();
          for (const { vcpu, reg, value } of saved) {
            const { output } = stepInPlace(dest, { type: 'reg.set', vcpu, reg, value }, registry);
            expect(output.rc, `set_reg ${vcpu} 0x${reg.toString(16)}`).toBe(0);
          }
          for (const vcpu of resumed) stepInPlace(dest, { type: 'vcpu.run', vcpu }, registry);
          for (const vcpu of VCPUS)
            expect(vmOf(dest).vcpus[vcpu]!.devices.sdei).toEqual(vmOf(source).vcpus[vcpu]!.devices.sdei);

          const outputs: [Output, Effect[]][] = [];
          const replayed: [Output, Effect[]][] = [];
          for (const event of after) {
            const a = stepInPlace(source, event, registry);
            const b = stepInPlace(dest, event, registry);
            outputs.push([a.output, a.effects]);
            replayed.push([b.output, b.effects]);
          }
          expect(replayed).toEqual(outputs);
          for (const vcpu of VCPUS) {
            const src = vmOf(source).vcpus[vcpu]!;
            const dst = vmOf(dest).vcpus[vcpu]!;
            expect(dst.devices.sdei).toEqual(src.devices.sdei);
            expect([dst.pc, dst.pstate, dst.x]).toEqual([src.pc, src.pstate, src.x]);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
