// Event streams for property tests and benchmarks of the KVM core as it exists (engine/core.ts):
// a fast-check arbitrary of valid event sequences, a seeded plain generator for big streams,
// and `recordFrames`, which runs a stream through `stepInPlace` the way the recorder does.
//
// "Valid" means well-typed events, not successful calls: out-of-range and duplicate vCPU ids,
// invalid PSTATEs, unknown ONE_REG ids, accesses outside RAM, calls on a running vCPU and
// statements on missing vCPUs are all generated on purpose, since their errors are state too.

import fc from 'fast-check';
import { prng } from '../../bench/workload.js';
import { CORE_REG_PC, CORE_REG_PSTATE, coreRegX } from '../../engine/core.js';
import type { AccessSize, EngineEvent, VmCreateEvent } from '../../engine/events.js';
import type { Registry } from '../../engine/registry.js';
import { PAGE_SIZE, RAM_BASE, RAM_SIZE } from '../../engine/state.js';
import { WorkingCopy } from '../../engine/working-copy.js';
import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';

const U64_MAX = (1n << 64n) - 1n;
const RAM_END = RAM_BASE + RAM_SIZE;
/** KVM_REG_ARM_CORE base; odd offsets and offsets past pstate are not core registers. */
const CORE_BASE = 0x6030_0000_0010_0000n;
/** Some ids no handler serves (KVM_REG_ARM_FW, a timer register, a bogus id): -ENOENT. */
const UNKNOWN_REGS: readonly bigint[] = [
  0x6030_0000_0014_0000n,
  0x6030_0000_0013_df1an,
  0x1234n,
  CORE_BASE | 1n,
];
/** Hot RAM pages (page numbers relative to RAM_BASE): the first, a few more, and the last. */
const HOT_PAGES: readonly number[] = [0, 1, 2, 0x10, RAM_SIZE / PAGE_SIZE - 1];
const MARK_NAMES: readonly string[] = ['start', 'boot', 'irq', 'migrate', 'end'];
const SMCCC_VERSION = 0x8000_0000n;

export interface EventArbitraryOptions {
  /** Events after the leading `vm.create` (default 0..60). */
  minLength?: number;
  maxLength?: number;
  /** Plausible vCPU ids are 0..vcpus-1 (default 4); a few others are generated too. */
  vcpus?: number;
  /** Also generate device calls (create_device, attrs, irq_line, signal_msi, sdei_inject). */
  deviceCalls?: boolean;
}

const sizeArb: fc.Arbitrary<AccessSize> = fc.constantFrom<AccessSize>(1, 2, 4, 8);

const u64Arb: fc.Arbitrary<bigint> = fc.oneof(
  { arbitrary: fc.bigInt(0n, U64_MAX), weight: 3 },
  { arbitrary: fc.bigInt(0n, 0xffffn), weight: 2 },
  { arbitrary: fc.constantFrom(0n, 1n, U64_MAX, 0x8000_0000_0000_0000n, 0xdead_beefn), weight: 1 },
);

/** RAM addresses: hot pages at any offset (so loads see earlier stores), page ends, anywhere. */
export const ramAddressArb: fc.Arbitrary<bigint> = fc.oneof(
  {
    arbitrary: fc
      .tuple(fc.constantFrom(...HOT_PAGES), fc.integer({ min: 0, max: PAGE_SIZE - 1 }))
      .map(([page, offset]) => BigInt(RAM_BASE + page * PAGE_SIZE + offset)),
    weight: 4,
  },
  {
    // The last 7 bytes of a hot page: multi-byte accesses cross into the next page.
    arbitrary: fc
      .tuple(fc.constantFrom(...HOT_PAGES.slice(0, -1)), fc.integer({ min: 1, max: 7 }))
      .map(([page, back]) => BigInt(RAM_BASE + (page + 1) * PAGE_SIZE - back)),
    weight: 2,
  },
  { arbitrary: fc.bigInt(BigInt(RAM_BASE), BigInt(RAM_END - 1)), weight: 1 },
);

/** Addresses outside RAM, including accesses that straddle either end of it. */
export const mmioAddressArb: fc.Arbitrary<bigint> = fc.oneof(
  { arbitrary: fc.bigInt(0n, BigInt(RAM_BASE - 1)), weight: 3 },
  { arbitrary: fc.bigInt(BigInt(RAM_END), 1n << 48n), weight: 2 },
  {
    arbitrary: fc.constantFrom(
      BigInt(RAM_BASE - 1),
      BigInt(RAM_BASE - 3),
      BigInt(RAM_END - 1),
      BigInt(RAM_END - 3),
      0x0800_0000n,
      1n << 53n,
      U64_MAX - 7n,
    ),
    weight: 1,
  },
);

const addressArb: fc.Arbitrary<bigint> = fc.oneof(
  { arbitrary: ramAddressArb, weight: 4 },
  { arbitrary: mmioAddressArb, weight: 1 },
);

function vcpuIdArb(vcpus: number): fc.Arbitrary<number> {
  return fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: Math.max(0, vcpus - 1) }), weight: 12 },
    { arbitrary: fc.constantFrom(vcpus, 511, 512, -1, 4096), weight: 1 },
  );
}

/** ONE_REG ids: every core register, and ids that are not core registers. */
export const regIdArb: fc.Arbitrary<bigint> = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 30 }).map(coreRegX), weight: 6 },
  { arbitrary: fc.constantFrom(CORE_REG_PC, CORE_REG_PSTATE), weight: 3 },
  { arbitrary: fc.constantFrom(...UNKNOWN_REGS), weight: 1 },
);

/** PSTATE values: the valid AArch64 modes with any flags, invalid modes, out-of-range values. */
export const pstateArb: fc.Arbitrary<bigint> = fc.oneof(
  {
    arbitrary: fc
      .tuple(fc.constantFrom(0x0n, 0x4n, 0x5n), fc.bigInt(0n, 0xffff_ffffn))
      .map(([mode, flags]) => (flags & ~0x1fn) | mode),
    weight: 3,
  },
  { arbitrary: fc.constantFrom(0x3c9n, 0x10n, 0x1n, 0x3c5n, 0x1fn), weight: 2 },
  { arbitrary: fc.bigInt(0n, U64_MAX), weight: 1 },
);

function vmCreateArb(): fc.Arbitrary<VmCreateEvent> {
  return fc.record({
    type: fc.constant('vm.create' as const),
    host: fc.constantFrom('gicv3' as const, 'gicv4.1' as const),
    quirks: fc.constant([] as string[]),
    ipaBits: fc.constantFrom(40, 48),
    sdei: fc.boolean(),
  });
}

/** One event after the first `vm.create` (a second `vm.create` occasionally). */
export function eventArb(options: EventArbitraryOptions = {}): fc.Arbitrary<EngineEvent> {
  const vcpu = vcpuIdArb(options.vcpus ?? 4);
  const arbs: fc.WeightedArbitrary<EngineEvent>[] = [
    { arbitrary: fc.record({ type: fc.constant('vcpu.create' as const), vcpu }), weight: 6 },
    {
      arbitrary: fc.record({
        type: fc.constant('guest.write' as const),
        vcpu,
        addr: addressArb,
        value: u64Arb,
        size: sizeArb,
      }),
      weight: 10,
    },
    {
      arbitrary: fc.record({
        type: fc.constant('guest.read' as const),
        vcpu,
        addr: addressArb,
        size: sizeArb,
      }),
      weight: 8,
    },
    {
      arbitrary: fc.record({
        type: fc.constant('mem.write' as const),
        addr: addressArb,
        value: u64Arb,
        size: sizeArb,
      }),
      weight: 4,
    },
    {
      arbitrary: fc.record({ type: fc.constant('mem.read' as const), addr: addressArb, size: sizeArb }),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        type: fc.constant('guest.hvc' as const),
        vcpu,
        args: fc.array(fc.oneof(u64Arb, fc.constant(SMCCC_VERSION)), { minLength: 6, maxLength: 6 }),
      }),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        type: fc.constant('guest.mrs' as const),
        vcpu,
        sysreg: fc.integer({ min: 0, max: 0xffff }),
      }),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        type: fc.constant('guest.msr' as const),
        vcpu,
        sysreg: fc.integer({ min: 0, max: 0xffff }),
        value: u64Arb,
      }),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        type: fc.constant('guest.reg' as const),
        vcpu,
        reg: fc.integer({ min: 0, max: 32 }),
      }),
      weight: 2,
    },
    { arbitrary: fc.record({ type: fc.constant('reg.get' as const), vcpu, reg: regIdArb }), weight: 3 },
    {
      arbitrary: fc.oneof(
        fc.record({ type: fc.constant('reg.set' as const), vcpu, reg: regIdArb, value: u64Arb }),
        fc.record({
          type: fc.constant('reg.set' as const),
          vcpu,
          reg: fc.constant(CORE_REG_PSTATE),
          value: pstateArb,
        }),
        fc.record({
          type: fc.constant('reg.set' as const),
          vcpu,
          reg: regIdArb,
          value: fc.constant(U64_MAX + 1n),
        }),
      ),
      weight: 4,
    },
    { arbitrary: fc.record({ type: fc.constant('vcpu.run' as const), vcpu }), weight: 3 },
    { arbitrary: fc.record({ type: fc.constant('vcpu.reset' as const), vcpu }), weight: 1 },
    { arbitrary: fc.constant({ type: 'vm.stop' as const }), weight: 2 },
    { arbitrary: fc.constant({ type: 'vm.cont' as const }), weight: 2 },
    {
      arbitrary: fc.record({
        type: fc.constant('trace.mark' as const),
        name: fc.constantFrom(...MARK_NAMES),
      }),
      weight: 1,
    },
    {
      arbitrary: fc.record({ type: fc.constant('trace.note' as const), text: fc.string({ maxLength: 8 }) }),
      weight: 1,
    },
    { arbitrary: vmCreateArb(), weight: 1 },
    // The migration primitives, in and out of order (a migrate_end without a begin is -EINVAL).
    {
      arbitrary: fc.record({ type: fc.constant('vm.select' as const), vm: fc.integer({ min: 0, max: 2 }) }),
      weight: 1,
    },
    {
      arbitrary: fc.record({
        type: fc.constant('ram.transfer' as const),
        from: fc.integer({ min: 0, max: 2 }),
        to: fc.integer({ min: 0, max: 2 }),
      }),
      weight: 1,
    },
    {
      arbitrary: fc.record({
        type: fc.constant('migrate.begin' as const),
        vmm: fc.constantFrom('qemu', 'gem5'),
        quirks: fc.constantFrom('', 'zero-clear', 'force-ptz,no-level-info'),
      }),
      weight: 1,
    },
    { arbitrary: fc.constant({ type: 'migrate.end' as const }), weight: 1 },
  ];
  if (options.deviceCalls) {
    const dev = fc.constantFrom('gic' as const, 'its' as const);
    const group = fc.integer({ min: 0, max: 9 });
    const attr = fc.bigInt(0n, 0xffff_ffffn);
    arbs.push(
      {
        arbitrary: fc.record({
          type: fc.constant('device.create' as const),
          kind: fc.constantFrom('vgic-v3', 'vgic-its', 'bogus'),
        }),
        weight: 1,
      },
      {
        arbitrary: fc.record({
          type: fc.constant('attr.set' as const),
          dev,
          group,
          attr,
          value: fc.option(u64Arb, { nil: null }),
        }),
        weight: 1,
      },
      {
        arbitrary: fc.record({
          type: fc.constant('attr.get' as const),
          dev,
          group,
          attr,
          preset: fc.option(u64Arb, { nil: null }),
        }),
        weight: 1,
      },
      { arbitrary: fc.record({ type: fc.constant('attr.has' as const), dev, group, attr }), weight: 1 },
      {
        arbitrary: fc.record({
          type: fc.constant('irq.line' as const),
          kind: fc.constantFrom('spi' as const, 'ppi' as const),
          vcpu,
          intid: fc.integer({ min: 0, max: 1023 }),
          level: fc.integer({ min: 0, max: 1 }),
        }),
        weight: 1,
      },
      {
        arbitrary: fc.record({
          type: fc.constant('msi.signal' as const),
          devid: fc.nat(0xffff),
          eventid: fc.nat(0xffff),
        }),
        weight: 1,
      },
      {
        arbitrary: fc.record({ type: fc.constant('sdei.inject' as const), vcpu, event: fc.bigInt(0n, 3n) }),
        weight: 1,
      },
    );
  }
  return fc.oneof(...arbs);
}

/** A stream that starts with `vm.create`, then `eventArb` events. */
export function eventsArb(options: EventArbitraryOptions = {}): fc.Arbitrary<EngineEvent[]> {
  return fc
    .tuple(
      vmCreateArb(),
      fc.array(eventArb(options), { minLength: options.minLength ?? 0, maxLength: options.maxLength ?? 60 }),
    )
    .map(([vm, rest]) => [vm, ...rest]);
}

/** The seeded PRNG of the benchmarks (no Math.random anywhere in tests or benchmarks). */
export const seededRandom = prng;

/**
 * `count` events from `seed`: `vm.create`, four vCPUs, then a guest-heavy mix over a 1 MiB
 * working set of RAM (plus some page crossings and MMIO exits), register traffic, hypercalls,
 * run/stop/cont, and a `trace.mark` every 10,000 events. Same seed, same stream.
 */
export function generateEvents(seed: number, count: number): EngineEvent[] {
  const rnd = seededRandom(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const u64 = () => (BigInt(int(0x1_0000_0000)) << 32n) | BigInt(int(0x1_0000_0000));
  const sizes: readonly AccessSize[] = [1, 2, 4, 8];
  const size = () => sizes[int(4)]!;
  const vcpu = () => int(4);
  // Stores stay in the working set (a guest touches few pages); loads sometimes go anywhere.
  const ramAddr = (anywhere: boolean) => {
    const r = rnd();
    if (anywhere && r < 0.03) return BigInt(RAM_BASE + int(RAM_SIZE - 8));
    if (r < 0.9) return BigInt(RAM_BASE + 0x10_0000 + int(256) * PAGE_SIZE + int(PAGE_SIZE / 8) * 8);
    return BigInt(RAM_BASE + 0x10_0000 + int(256) * PAGE_SIZE + int(PAGE_SIZE));
  };
  const mmioAddr = () => BigInt(0x0800_0000 + int(0x20_0000));
  const events: EngineEvent[] = [{ type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: false }];
  for (let id = 0; id < 4 && events.length < count; id++) events.push({ type: 'vcpu.create', vcpu: id });
  let marks = 0;
  while (events.length < count) {
    if (events.length % 10_000 === 0) {
      events.push({ type: 'trace.mark', name: `m${marks++}` });
      continue;
    }
    const r = int(1000);
    let e: EngineEvent;
    if (r < 300) e = { type: 'guest.write', vcpu: vcpu(), addr: ramAddr(false), value: u64(), size: size() };
    else if (r < 550) e = { type: 'guest.read', vcpu: vcpu(), addr: ramAddr(true), size: size() };
    else if (r < 600) e = { type: 'mem.write', addr: ramAddr(false), value: u64(), size: size() };
    else if (r < 650) e = { type: 'mem.read', addr: ramAddr(true), size: size() };
    else if (r < 690) e = { type: 'guest.write', vcpu: vcpu(), addr: mmioAddr(), value: u64(), size: 4 };
    else if (r < 730) e = { type: 'guest.read', vcpu: vcpu(), addr: mmioAddr(), size: 4 };
    else if (r < 780)
      e = {
        type: 'guest.hvc',
        vcpu: vcpu(),
        args: [int(4) === 0 ? 0x8000_0000n : u64(), u64(), 0n, 0n, 0n, 0n],
      };
    else if (r < 820) e = { type: 'guest.mrs', vcpu: vcpu(), sysreg: 0xc660 + int(16) };
    else if (r < 860) e = { type: 'guest.msr', vcpu: vcpu(), sysreg: 0xc660 + int(16), value: u64() };
    else if (r < 890) e = { type: 'guest.reg', vcpu: vcpu(), reg: int(33) };
    else if (r < 920) e = { type: 'reg.get', vcpu: vcpu(), reg: coreRegX(int(31)) };
    else if (r < 950) e = { type: 'reg.set', vcpu: vcpu(), reg: coreRegX(int(31)), value: u64() };
    else if (r < 960) e = { type: 'reg.set', vcpu: vcpu(), reg: CORE_REG_PC, value: u64() };
    else if (r < 975) e = { type: 'vcpu.run', vcpu: vcpu() };
    else if (r < 983) e = { type: 'vm.stop' };
    else if (r < 991) e = { type: 'vm.cont' };
    else if (r < 994) e = { type: 'vcpu.reset', vcpu: vcpu() };
    else e = { type: 'trace.note', text: `note ${events.length}` };
    events.push(e);
  }
  return events;
}

/** Runs `events` from `initialState()` on a `WorkingCopy` (the in-place path), as the recorder does. */
export function recordFrames(
  events: readonly EngineEvent[],
  registry: Registry = defaultRegistry(),
): Frame[] {
  const working = new WorkingCopy(registry);
  const frames: Frame[] = [];
  for (const event of events) {
    const { output, effects } = working.step(event);
    frames.push({ event, output, effects });
  }
  return frames;
}
