// Property: random sequences of vGICv3 device-attr calls (set/get/has_attr on `gic` with every
// group, random attrs with random MPIDR fields, random values), vCPU creation, run/stop/cont,
// irq_line, guest accesses to random offsets of the GICD/GICR frames with random sizes and values,
// and random ICC_* system-register accesses, run through the engine with the default registry
// (issue 3: "no guest access, however malformed, throws"):
//   - nothing throws;
//   - the state stays plain data (no class instances besides Uint8Array RAM pages);
//   - the immer path (`step`) and the in-place path (`WorkingCopy`) agree on every output, every
//     effect list and the state hash.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ICC_REGISTERS } from '../../../devices/gicv3/cpuif.js';
import { ADDR_ATTRS, ATTR_GROUPS, CTRL_ATTRS, REGISTER_NAMES } from '../../../devices/names.js';
import type { AccessSize, EngineEvent, VmCreateEvent } from '../../../engine/events.js';
import { stateHash } from '../../../engine/hash.js';
import { defaultAffinity, initialState, type MachineState } from '../../../engine/state.js';
import { step } from '../../../engine/step.js';
import { WorkingCopy } from '../../../engine/working-copy.js';
import { defaultRegistry } from '../../../replay/machine.js';
import { GICR_STRIDE, VIRT_GICD_BASE, VIRT_GICR_BASE } from '../../../scenario/board.js';

const U64_MAX = (1n << 64n) - 1n;
const registry = defaultRegistry();

const u64 = fc.oneof(
  { arbitrary: fc.bigInt(0n, U64_MAX), weight: 3 },
  { arbitrary: fc.bigInt(0n, 0xffffn), weight: 3 },
  { arbitrary: fc.constantFrom(0n, 1n, 0xffn, 0xffff_ffffn, U64_MAX, 1n << 63n), weight: 1 },
);

/** Plausible vCPU ids, and a few that are not. */
const vcpuId = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 3 }), weight: 10 },
  { arbitrary: fc.constantFrom(4, 511, 512, 4096, -1), weight: 1 },
);

/** MPIDR fields: those of vCPUs 0–5 (some exist), any 32-bit value. */
const mpidr = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 5 }).map((id) => BigInt(defaultAffinity(id))), weight: 4 },
  { arbitrary: fc.bigInt(0n, 0xffff_ffffn), weight: 1 },
);

const registerOffsets = (space: 'gicd' | 'gicr'): number[] =>
  Object.values(REGISTER_NAMES)
    .filter((r) => r.space === space)
    .map((r) => r.offset);
const GICD_OFFSETS = registerOffsets('gicd');
const GICR_OFFSETS = registerOffsets('gicr');
const ICC_ENCODINGS = ICC_REGISTERS.map((r) => r.encoding);

/** The 32-bit attr field (offset, sysreg encoding, ADDR type, CTRL op, LEVEL_INFO line…). */
const attrLow = fc.oneof(
  { arbitrary: fc.constantFrom(...GICD_OFFSETS), weight: 3 },
  { arbitrary: fc.constantFrom(...GICR_OFFSETS), weight: 3 },
  { arbitrary: fc.constantFrom(...ICC_ENCODINGS), weight: 3 },
  { arbitrary: fc.constantFrom(...Object.values(ADDR_ATTRS), ...Object.values(CTRL_ATTRS)), weight: 2 },
  { arbitrary: fc.integer({ min: 0, max: 31 }).map((n) => n * 32), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 0x2_0000 }), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }), weight: 1 },
);
/** The attr field a group expects, most of the time (so calls get past the checks). */
function lowFor(group: number): fc.Arbitrary<number> {
  switch (group) {
    case ATTR_GROUPS.ADDR:
      return fc.constantFrom(...Object.values(ADDR_ATTRS), 0, 1);
    case ATTR_GROUPS.CTRL:
      return fc.constantFrom(...Object.values(CTRL_ATTRS));
    case ATTR_GROUPS.DIST_REGS:
      return fc.constantFrom(...GICD_OFFSETS);
    case ATTR_GROUPS.REDIST_REGS:
      return fc.constantFrom(...GICR_OFFSETS);
    case ATTR_GROUPS.CPU_SYSREGS:
      return fc.constantFrom(...ICC_ENCODINGS);
    case ATTR_GROUPS.LEVEL_INFO:
      return fc.integer({ min: 0, max: 31 }).map((n) => n * 32);
    default:
      return attrLow;
  }
}

/** Every group of the vGICv3 (ADDR … LEVEL_INFO), ITS_REGS, and some that do not exist. */
const group = fc.oneof(
  { arbitrary: fc.constantFrom(...Object.values(ATTR_GROUPS)), weight: 8 },
  { arbitrary: fc.constantFrom(2, 9, 63, 0x7fff_ffff), weight: 1 },
);

/** A group and an attr for it: MPIDR field (or none) and a fitting or random low half. */
const groupAttr = group.chain((g) =>
  fc
    .tuple(
      fc.constant(g),
      fc.option(mpidr, { freq: 3 }),
      fc.oneof({ arbitrary: lowFor(g), weight: 3 }, { arbitrary: attrLow, weight: 1 }),
    )
    .map(([grp, m, low]) => ({ group: grp, attr: ((m ?? 0n) << 32n) | BigInt(low) })),
);

/** ADDR values: the virt layout, region encodings with count/flags/index, anything. */
const addrValue = fc.oneof(
  fc.constantFrom(BigInt(VIRT_GICD_BASE), BigInt(VIRT_GICR_BASE), 0x0800_0001n, 1n << 40n),
  fc
    .tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))
    .map(
      ([count, index, flags]) =>
        (BigInt(count) << 52n) |
        BigInt(VIRT_GICR_BASE + index * 0x20_0000) |
        (BigInt(index) << 0n) |
        (BigInt(flags) << 12n),
    ),
);
const attrValue = fc.oneof(
  { arbitrary: u64, weight: 4 },
  { arbitrary: addrValue, weight: 2 },
  { arbitrary: fc.constantFrom(64n, 96n, 128n, 256n, 1024n, 63n), weight: 1 },
  { arbitrary: fc.constant(null), weight: 1 },
);

const size = fc.constantFrom<AccessSize>(1, 2, 4, 8);

/** Addresses in the distributor frame, a redistributor (RD_base or SGI_base), or just around them. */
const gicAddress = fc.oneof(
  {
    arbitrary: fc
      .oneof(fc.constantFrom(...GICD_OFFSETS), fc.integer({ min: 0, max: 0x1_0000 + 8 }))
      .map((o) => BigInt(VIRT_GICD_BASE + o)),
    weight: 4,
  },
  {
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 4 }),
        fc.oneof(fc.constantFrom(...GICR_OFFSETS), fc.integer({ min: 0, max: GICR_STRIDE + 8 })),
      )
      .map(([k, o]) => BigInt(VIRT_GICR_BASE + k * GICR_STRIDE + o)),
    weight: 4,
  },
  { arbitrary: fc.bigInt(BigInt(VIRT_GICD_BASE - 16), BigInt(VIRT_GICR_BASE + 6 * GICR_STRIDE)), weight: 1 },
);

const sysreg = fc.oneof(
  { arbitrary: fc.constantFrom(...ICC_ENCODINGS), weight: 6 },
  { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 1 },
);

const gicEvent: fc.Arbitrary<EngineEvent> = fc.oneof(
  { arbitrary: fc.constant<EngineEvent>({ type: 'device.create', kind: 'vgic-v3' }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant('vcpu.create' as const), vcpu: vcpuId }), weight: 2 },
  {
    arbitrary: fc
      .tuple(groupAttr, fc.record({ value: attrValue }))
      .map(([ga, rest]): EngineEvent => ({ type: 'attr.set', dev: 'gic', ...ga, ...rest })),
    weight: 6,
  },
  {
    arbitrary: fc
      .tuple(groupAttr, fc.record({ preset: fc.option(fc.bigInt(0n, 8n), { nil: null }) }))
      .map(([ga, rest]): EngineEvent => ({ type: 'attr.get', dev: 'gic', ...ga, ...rest })),
    weight: 5,
  },
  {
    arbitrary: groupAttr.map((ga): EngineEvent => ({ type: 'attr.has', dev: 'gic', ...ga })),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('irq.line' as const),
      kind: fc.constantFrom('spi' as const, 'ppi' as const),
      vcpu: vcpuId,
      intid: fc.oneof(
        { arbitrary: fc.integer({ min: 16, max: 127 }), weight: 4 },
        { arbitrary: fc.integer({ min: 0, max: 1023 }), weight: 1 },
      ),
      level: fc.oneof(fc.integer({ min: 0, max: 1 }), fc.constant(7)),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ type: fc.constant('vcpu.run' as const), vcpu: vcpuId }), weight: 2 },
  { arbitrary: fc.constant<EngineEvent>({ type: 'vm.stop' }), weight: 1 },
  { arbitrary: fc.constant<EngineEvent>({ type: 'vm.cont' }), weight: 1 },
  {
    arbitrary: fc.record({ type: fc.constant('guest.read' as const), vcpu: vcpuId, addr: gicAddress, size }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('guest.write' as const),
      vcpu: vcpuId,
      addr: gicAddress,
      value: u64,
      size,
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ type: fc.constant('guest.mrs' as const), vcpu: vcpuId, sysreg }), weight: 4 },
  {
    arbitrary: fc.record({ type: fc.constant('guest.msr' as const), vcpu: vcpuId, sysreg, value: u64 }),
    weight: 4,
  },
);

const vmCreate: fc.Arbitrary<VmCreateEvent> = fc.record({
  type: fc.constant('vm.create' as const),
  host: fc.constantFrom('gicv3' as const, 'gicv4.1' as const),
  quirks: fc.subarray(['vsgi-pending-latch-only', 'pendbaser-ptz-readable', 'uaccess-ispendr-guest-view']),
  ipaBits: fc.constantFrom(32, 40, 48),
  sdei: fc.boolean(),
});

/** vCPUs the board creates: mostly 4 (so most vCPU ids above exist), sometimes fewer. */
const vcpuCount = fc.oneof(
  { arbitrary: fc.constant(4), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 2 },
);

/** What `board virt vcpus=N its=off` expands to (scenario/expand.ts expandBoard), cut anywhere. */
function boardPrefix(vcpus: number, cut: number): EngineEvent[] {
  const set = (group: number, a: bigint, value: bigint | null): EngineEvent => ({
    type: 'attr.set',
    dev: 'gic',
    group,
    attr: a,
    value,
  });
  const events: EngineEvent[] = [];
  for (let id = 0; id < vcpus; id++) events.push({ type: 'vcpu.create', vcpu: id });
  events.push(
    { type: 'device.create', kind: 'vgic-v3' },
    set(ATTR_GROUPS.NR_IRQS!, 0n, 128n),
    set(ATTR_GROUPS.CTRL!, BigInt(CTRL_ATTRS.INIT!), null),
    set(ATTR_GROUPS.ADDR!, BigInt(ADDR_ATTRS.V3_DIST!), BigInt(VIRT_GICD_BASE)),
    set(
      ATTR_GROUPS.ADDR!,
      BigInt(ADDR_ATTRS.V3_REDIST_REGION!),
      (BigInt(vcpus) << 52n) | BigInt(VIRT_GICR_BASE),
    ),
  );
  return events.slice(0, cut);
}

const scenario = fc
  .tuple(
    vmCreate,
    vcpuCount,
    // Mostly the whole board (the interesting states are after INIT), else cut anywhere.
    fc.oneof(
      { arbitrary: fc.constant(9), weight: 3 },
      { arbitrary: fc.integer({ min: 0, max: 8 }), weight: 2 },
    ),
    fc.array(gicEvent, { minLength: 1, maxLength: 60 }),
  )
  .map(([vm, vcpus, cut, rest]) => [vm, ...boardPrefix(vcpus, cut), ...rest]);

/** Plain data: primitives, arrays, plain objects, and Uint8Array RAM pages only. */
function plainPath(value: unknown, path = 'state'): string | undefined {
  if (value === null) return undefined;
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? undefined : path;
    case 'boolean':
    case 'string':
    case 'bigint':
    case 'undefined':
      return undefined;
    case 'object':
      break;
    default:
      return path;
  }
  if (value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = plainPath(value[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return path;
  for (const [key, v] of Object.entries(value as object)) {
    const bad = plainPath(v, `${path}.${key}`);
    if (bad) return bad;
  }
  return undefined;
}

/**
 * Event `i` through the immer path (`step` on `state`) and the in-place path (`working`), checking
 * that their outputs and effects agree; returns the immer path's next state.
 */
function stepBoth(state: MachineState, working: WorkingCopy, event: EngineEvent, i: number): MachineState {
  const immer = step(state, event, registry);
  const inPlace = working.step(event);
  expect(inPlace.output, `output of #${i}`).toEqual(immer.output);
  expect(inPlace.effects, `effects of #${i}`).toEqual(immer.effects);
  return immer.state;
}

describe('vGICv3 through the engine: random attr calls, lifecycle and guest accesses', () => {
  it('never throw, keep plain state, and the immer and in-place paths agree', () => {
    fc.assert(
      fc.property(scenario, (events) => {
        let state: MachineState = initialState();
        const working = new WorkingCopy(registry);
        for (let i = 0; i < events.length; i++) state = stepBoth(state, working, events[i]!, i);
        expect(plainPath(state)).toBeUndefined();
        expect(plainPath(working.state)).toBeUndefined();
        expect(working.hash()).toBe(stateHash(state));
      }),
      { numRuns: 400 },
    );
  });

  it('agree after each event of a fully set-up board (hash per step)', () => {
    fc.assert(
      fc.property(
        vmCreate,
        vcpuCount,
        fc.array(gicEvent, { minLength: 1, maxLength: 30 }),
        (vm, vcpus, rest) => {
          const events: EngineEvent[] = [vm, ...boardPrefix(vcpus, 9), ...rest];
          let state: MachineState = initialState();
          const working = new WorkingCopy(registry);
          for (let i = 0; i < events.length; i++) {
            state = stepBoth(state, working, events[i]!, i);
            expect(working.hash(), `state after #${i}`).toBe(stateHash(state));
          }
          expect(plainPath(state)).toBeUndefined();
        },
      ),
      { numRuns: 150 },
    );
  });
});
