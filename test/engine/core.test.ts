// KVM-core semantics (engine/core.ts, engine/ram.ts) with no device model plugged in: every
// step goes through expectReplayable, so each case also checks that the immer path, the
// in-place path and the patches agree.

import { describe, expect, it } from 'vitest';
import { cloneState, freezeState } from '../../engine/clone.js';
import { CORE_REG_PC, CORE_REG_PSTATE, coreRegX } from '../../engine/core.js';
import {
  EBADF,
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  EIO,
  ENODEV,
  ENOENT,
  ENXIO,
  EOPNOTSUPP,
} from '../../engine/errno.js';
import type { AccessSize, Effect, EngineEvent, Output } from '../../engine/events.js';
import { stateHash } from '../../engine/hash.js';
import { ramPages } from '../../engine/ram.js';
import { emptyRegistry, type Registry } from '../../engine/registry.js';
import {
  initialState,
  type MachineState,
  PAGE_SIZE,
  RAM_BASE,
  RAM_SIZE,
  RESET_PSTATE,
} from '../../engine/state.js';
import { expectReplayable } from '../helpers/expect-replayable.js';

const U64_MAX = (1n << 64n) - 1n;
const VM: EngineEvent = { type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: false };
const core = emptyRegistry();

interface Run {
  state: MachineState;
  outputs: Output[];
  effects: Effect[][];
}

/** Plays `events` from the empty machine (or `from`), each through expectReplayable. */
function play(events: readonly EngineEvent[], from?: Run, registry: Registry = core): Run {
  let state = from?.state ?? freezeState(cloneState(initialState()));
  const outputs: Output[] = [];
  const effects: Effect[][] = [];
  for (const event of events) {
    const r = expectReplayable(state, event, registry);
    state = r.state;
    outputs.push(r.output);
    effects.push(r.effects);
  }
  return { state, outputs, effects };
}

/** The output of the last event. */
const last = (run: Run): Output => run.outputs[run.outputs.length - 1]!;
const lastEffects = (run: Run): Effect[] => run.effects[run.effects.length - 1]!;

const vcpu0 = (run: Run) => run.state.vms[0]!.vcpus[0]!;
const booted = () => play([VM, { type: 'vcpu.create', vcpu: 0 }, { type: 'vcpu.create', vcpu: 1 }]);

const write = (addr: number | bigint, value: bigint, size: AccessSize): EngineEvent => ({
  type: 'guest.write',
  vcpu: 0,
  addr: BigInt(addr),
  value,
  size,
});
const read = (addr: number | bigint, size: AccessSize): EngineEvent => ({
  type: 'guest.read',
  vcpu: 0,
  addr: BigInt(addr),
  size,
});
const memRead = (addr: number | bigint, size: AccessSize): EngineEvent => ({
  type: 'mem.read',
  addr: BigInt(addr),
  size,
});

const PATTERN = 0x8877_6655_4433_2211n;
const mask = (size: number) => (1n << BigInt(size * 8)) - 1n;

describe('guest RAM', () => {
  const sizes: AccessSize[] = [1, 2, 4, 8];
  // Every alignment within a word, and every offset that makes an access cross into the next page.
  const offsets = [
    ...Array.from({ length: 16 }, (_, i) => 0x1000 + i),
    ...Array.from({ length: 7 }, (_, i) => 0x2000 - 1 - i),
  ];
  const cases = sizes.flatMap((size) => offsets.map((offset) => ({ size, offset })));

  it.each(cases)('store and load size $size at RAM+$offset', ({ size, offset }) => {
    const addr = RAM_BASE + offset;
    const value = PATTERN & mask(size);
    const run = play([write(addr, PATTERN, size), read(addr, size)], booted());
    expect(last(run)).toEqual({ value });
    // Little-endian, byte by byte, and nothing around it touched.
    const bytes = play(
      Array.from({ length: size + 2 }, (_, i) => memRead(addr - 1 + i, 1)),
      run,
    ).outputs.map((o) => o.value);
    const expected = [0n, ...Array.from({ length: size }, (_, i) => (PATTERN >> BigInt(8 * i)) & 0xffn), 0n];
    expect(bytes).toEqual(expected);
    // The pages written are the ones the access spans.
    const pages = ramPages(run.state.vms[0]!.ram).map((p) => p.addr / PAGE_SIZE);
    const firstPage = Math.floor(addr / PAGE_SIZE);
    const lastPage = Math.floor((addr + size - 1) / PAGE_SIZE);
    expect(pages).toEqual(firstPage === lastPage ? [firstPage] : [firstPage, lastPage]);
  });

  it('reads 0 from RAM never written, without creating pages', () => {
    const run = play([read(RAM_BASE + 0x123, 8), memRead(RAM_BASE + RAM_SIZE - 8, 8)], booted());
    expect(run.outputs).toEqual([{ value: 0n }, { rc: 0, value: 0n }]);
    expect(Object.keys(run.state.vms[0]!.ram)).toEqual([]);
  });

  it('a store truncates the value to its size and replaces the page', () => {
    const run = play([write(RAM_BASE, U64_MAX, 8)], booted());
    const page = run.state.vms[0]!.ram[0]![0]!;
    const next = play([write(RAM_BASE + 2, 0n, 2), read(RAM_BASE, 8)], run);
    expect(last(next)).toEqual({ value: 0xffff_ffff_0000_ffffn });
    // The earlier page is untouched (pages are immutable; stores copy them).
    expect(page[2]).toBe(0xff);
    expect(next.state.vms[0]!.ram[0]![0]).not.toBe(page);
  });

  it('accesses at the last bytes of RAM stay in RAM; past the end they exit', () => {
    const end = RAM_BASE + RAM_SIZE;
    const run = play([write(end - 8, PATTERN, 8), read(end - 8, 8), read(end - 7, 8)], booted());
    expect(run.outputs[1]).toEqual({ value: PATTERN });
    expect(run.outputs[2]).toEqual({ value: 0n });
    expect(run.effects[2]).toEqual([
      { type: 'mmio.exit', vcpu: 0, addr: BigInt(end - 7), size: 8, write: false },
    ]);
  });

  it('VMM accesses go to the same RAM', () => {
    const run = play(
      [
        { type: 'mem.write', addr: BigInt(RAM_BASE + 0x10), value: 0xabcdn, size: 2 },
        read(RAM_BASE + 0x10, 4),
      ],
      booted(),
    );
    expect(run.outputs).toEqual([{ rc: 0 }, { value: 0xabcdn }]);
  });

  it('mem read/write outside RAM fail with -EFAULT and change nothing', () => {
    const base = booted();
    const cases: EngineEvent[] = [
      { type: 'mem.write', addr: BigInt(RAM_BASE - 1), value: 1n, size: 2 },
      { type: 'mem.write', addr: BigInt(RAM_BASE + RAM_SIZE - 4), value: 1n, size: 8 },
      { type: 'mem.read', addr: 0n, size: 4 },
      { type: 'mem.read', addr: BigInt(RAM_BASE + RAM_SIZE), size: 1 },
    ];
    const run = play(cases, base);
    expect(run.outputs).toEqual([
      { rc: -EFAULT },
      { rc: -EFAULT },
      { rc: -EFAULT, value: 0n },
      { rc: -EFAULT, value: 0n },
    ]);
    expect(stateHash(run.state)).toBe(stateHash(base.state));
  });
});

describe('MMIO exits', () => {
  it('a load outside RAM and every device region reads 0 and exits to the VMM', () => {
    const run = play([{ type: 'vcpu.run', vcpu: 0 }, read(0x0900_0000, 4)], booted());
    expect(last(run)).toEqual({ value: 0n });
    expect(lastEffects(run)).toEqual([
      { type: 'mmio.exit', vcpu: 0, addr: 0x0900_0000n, size: 4, write: false },
    ]);
  });

  it('a store outside RAM exits with its value and changes no state', () => {
    const base = play([{ type: 'vcpu.run', vcpu: 0 }], booted());
    const run = play([write(0x0900_0008, 0x1234n, 2)], base);
    expect(last(run)).toEqual({});
    expect(lastEffects(run)).toEqual([
      { type: 'mmio.exit', vcpu: 0, addr: 0x0900_0008n, size: 2, write: true, value: 0x1234n },
    ]);
    expect(stateHash(run.state)).toBe(stateHash(base.state));
  });

  it('an access straddling the start of RAM is not a RAM access', () => {
    const run = play([read(RAM_BASE - 2, 4)], booted());
    expect(lastEffects(run)).toEqual([
      { type: 'mmio.exit', vcpu: 0, addr: BigInt(RAM_BASE - 2), size: 4, write: false },
    ]);
  });

  it('the first guest statement on a vCPU is its first run', () => {
    const base = booted();
    expect(vcpu0(base).ran).toBe(false);
    const run = play([read(0, 4)], base);
    expect(vcpu0(run).ran).toBe(true);
    expect(vcpu0(run).inRun).toBe(false);
  });
});

describe('vCPU creation', () => {
  it.each([
    { id: -1, rc: -EINVAL },
    { id: 512, rc: -EINVAL },
    { id: 4096, rc: -EINVAL },
    { id: 0, rc: 0 },
    { id: 511, rc: 0 },
  ])('create_vcpu $id → $rc', ({ id, rc }) => {
    const run = play([VM, { type: 'vcpu.create', vcpu: id }]);
    expect(last(run)).toEqual({ rc });
    expect(run.state.vms[0]!.vcpus.length).toBe(rc === 0 ? 1 : 0);
  });

  it('a duplicate id is -EEXIST', () => {
    const run = play([{ type: 'vcpu.create', vcpu: 1 }], booted());
    expect(last(run)).toEqual({ rc: -EEXIST });
    expect(run.state.vms[0]!.vcpus.map((v) => v.id)).toEqual([0, 1]);
  });

  it('a new vCPU has KVM reset state and default affinity', () => {
    const run = play([VM, { type: 'vcpu.create', vcpu: 0x123 }]);
    const v = run.state.vms[0]!.vcpus[0]!;
    expect(v).toMatchObject({
      id: 0x123,
      affinity: 0x1203,
      pc: 0n,
      pstate: RESET_PSTATE,
      inRun: false,
      ran: false,
    });
    expect(v.x).toEqual(Array.from({ length: 31 }, () => 0n));
  });

  it('before any VM, calls do nothing but report engine.no-vm', () => {
    const run = play([
      { type: 'vcpu.create', vcpu: 0 },
      { type: 'reg.get', vcpu: 0, reg: CORE_REG_PC },
    ]);
    expect(run.outputs).toEqual([{ rc: -EBADF }, { rc: -EBADF, value: 0n }]);
    expect(run.effects).toEqual([[{ type: 'engine.no-vm' }], [{ type: 'engine.no-vm' }]]);
  });

  it('a second vm.create becomes the current VM', () => {
    const run = play([VM, { type: 'vcpu.create', vcpu: 0 }, VM, { type: 'vcpu.create', vcpu: 0 }]);
    expect(run.outputs.map((o) => o.rc)).toEqual([0, 0, 0, 0]);
    expect(run.state.current).toBe(1);
    expect(run.state.vms.map((vm) => vm.vcpus.length)).toEqual([1, 1]);
  });
});

describe('run state', () => {
  const get = (vcpu = 0): EngineEvent => ({ type: 'reg.get', vcpu, reg: CORE_REG_PC });
  const set = (vcpu = 0): EngineEvent => ({ type: 'reg.set', vcpu, reg: CORE_REG_PC, value: 0x1000n });
  const reset = (vcpu = 0): EngineEvent => ({ type: 'vcpu.reset', vcpu });

  it('run, stop and cont move vCPUs in and out of KVM_RUN', () => {
    const run = play([{ type: 'vcpu.run', vcpu: 0 }], booted());
    expect(last(run)).toEqual({ rc: 0 });
    expect(vcpu0(run)).toMatchObject({ inRun: true, ran: true, resumeOnCont: false });
    const stopped = play([{ type: 'vm.stop' }], run);
    expect(vcpu0(stopped)).toMatchObject({ inRun: false, resumeOnCont: true });
    expect(stopped.state.vms[0]!.vcpus[1]).toMatchObject({ inRun: false, resumeOnCont: false });
    const resumed = play([{ type: 'vm.cont' }], stopped);
    expect(vcpu0(resumed)).toMatchObject({ inRun: true, resumeOnCont: false });
    expect(resumed.state.vms[0]!.vcpus[1]).toMatchObject({ inRun: false });
  });

  it('get_reg, set_reg and reset_vcpu on a running vCPU are -EBUSY', () => {
    const run = play([{ type: 'vcpu.run', vcpu: 0 }, get(), set(), reset(), get(1)], booted());
    expect(run.outputs.slice(1)).toEqual([
      { rc: -EBUSY, value: 0n },
      { rc: -EBUSY },
      { rc: -EBUSY },
      { rc: 0, value: 0n },
    ]);
    const stopped = play([{ type: 'vm.stop' }, set(), get(), reset(), get()], run);
    expect(stopped.outputs.slice(1)).toEqual([
      { rc: 0 },
      { rc: 0, value: 0x1000n },
      { rc: 0 },
      { rc: 0, value: 0n },
    ]);
  });

  it('run of a running vCPU re-enters; run of a missing vCPU is -EBADF', () => {
    const run = play(
      [
        { type: 'vcpu.run', vcpu: 0 },
        { type: 'vcpu.run', vcpu: 0 },
        { type: 'vcpu.run', vcpu: 7 },
      ],
      booted(),
    );
    expect(run.outputs).toEqual([{ rc: 0 }, { rc: 0 }, { rc: -EBADF }]);
  });

  it('ioctls on a missing vCPU are -EBADF', () => {
    const run = play([get(9), set(9), reset(9)], booted());
    expect(run.outputs).toEqual([{ rc: -EBADF, value: 0n }, { rc: -EBADF }, { rc: -EBADF }]);
  });

  it('reset_vcpu restores x, pc and pstate', () => {
    const run = play(
      [
        { type: 'reg.set', vcpu: 0, reg: coreRegX(5), value: 5n },
        { type: 'reg.set', vcpu: 0, reg: CORE_REG_PSTATE, value: 0x5n },
        set(),
        reset(),
      ],
      booted(),
    );
    expect(vcpu0(run)).toMatchObject({ pc: 0n, pstate: RESET_PSTATE });
    expect(vcpu0(run).x[5]).toBe(0n);
  });

  it('a failing first-run hook kills the VM: later calls are -EIO', () => {
    const failing: Registry = { ...core, hooks: { ...core.hooks, firstRun: [() => -EBUSY] } };
    const run = play(
      [VM, { type: 'vcpu.create', vcpu: 0 }, { type: 'vcpu.run', vcpu: 0 }, get(), read(RAM_BASE, 4)],
      undefined,
      failing,
    );
    expect(run.outputs.slice(2)).toEqual([{ rc: -EBUSY }, { rc: -EIO, value: 0n }, { value: 0n }]);
    expect(run.effects[2]).toEqual([{ type: 'vm.dead', vcpu: 0, rc: -EBUSY }]);
    expect(run.effects[4]).toEqual([{ type: 'vm.dead', vcpu: 0, rc: -EIO }]);
    expect(run.state.vms[0]!.dead).toBe(true);
  });
});

describe('ONE_REG core registers', () => {
  it.each([
    { name: 'x0', reg: coreRegX(0), field: (s: MachineState) => s.vms[0]!.vcpus[0]!.x[0] },
    { name: 'x30', reg: coreRegX(30), field: (s: MachineState) => s.vms[0]!.vcpus[0]!.x[30] },
    { name: 'pc', reg: CORE_REG_PC, field: (s: MachineState) => s.vms[0]!.vcpus[0]!.pc },
  ])('set_reg/get_reg $name', ({ reg, field }) => {
    const run = play(
      [
        { type: 'reg.set', vcpu: 0, reg, value: U64_MAX },
        { type: 'reg.get', vcpu: 0, reg },
      ],
      booted(),
    );
    expect(run.outputs).toEqual([{ rc: 0 }, { rc: 0, value: U64_MAX }]);
    expect(field(run.state)).toBe(U64_MAX);
  });

  it.each([
    { value: 0x0n, rc: 0 },
    { value: 0x4n, rc: 0 },
    { value: 0x5n, rc: 0 },
    { value: 0x3c5n, rc: 0 },
    { value: 0xf000_03c4n, rc: 0 },
    { value: 0x1n, rc: -EINVAL },
    { value: 0x3c9n, rc: -EINVAL },
    { value: 0x10n, rc: -EINVAL },
    { value: 0x1fn, rc: -EINVAL },
  ])('set_reg pstate $value → $rc', ({ value, rc }) => {
    const run = play([{ type: 'reg.set', vcpu: 0, reg: CORE_REG_PSTATE, value }], booted());
    expect(last(run)).toEqual({ rc });
    expect(vcpu0(run).pstate).toBe(rc === 0 ? value : RESET_PSTATE);
  });

  it('a value wider than 64 bits is -EINVAL', () => {
    const run = play([{ type: 'reg.set', vcpu: 0, reg: coreRegX(1), value: U64_MAX + 1n }], booted());
    expect(last(run)).toEqual({ rc: -EINVAL });
  });

  it.each([
    { name: 'an odd core offset', reg: 0x6030_0000_0010_0001n },
    { name: 'past pstate', reg: 0x6030_0000_0010_0044n },
    { name: 'a firmware register', reg: 0x6030_0000_0014_0000n },
  ])('unknown register ($name) is -ENOENT', ({ reg }) => {
    const run = play(
      [
        { type: 'reg.get', vcpu: 0, reg },
        { type: 'reg.set', vcpu: 0, reg, value: 1n },
      ],
      booted(),
    );
    expect(run.outputs).toEqual([{ rc: -ENOENT, value: 0n }, { rc: -ENOENT }]);
  });

  it('guest.reg observes x, pc and pstate without side effects', () => {
    const base = play(
      [
        { type: 'reg.set', vcpu: 0, reg: coreRegX(3), value: 33n },
        { type: 'vcpu.run', vcpu: 0 },
      ],
      booted(),
    );
    const run = play(
      [
        { type: 'guest.reg', vcpu: 0, reg: 3 },
        { type: 'guest.reg', vcpu: 0, reg: 31 },
        { type: 'guest.reg', vcpu: 0, reg: 32 },
      ],
      base,
    );
    expect(run.outputs).toEqual([{ value: 33n }, { value: 0n }, { value: RESET_PSTATE }]);
    expect(stateHash(run.state)).toBe(stateHash(base.state));
  });
});

describe('hypercalls without services', () => {
  it('an unknown function returns NOT_SUPPORTED with x1–x3 zeroed', () => {
    const run = play([{ type: 'guest.hvc', vcpu: 0, args: [0xc400_0020n, 1n, 2n, 3n, 4n, 5n] }], booted());
    expect(last(run)).toEqual({ x: [U64_MAX, 0n, 0n, 0n] });
    expect(vcpu0(run).x.slice(0, 7)).toEqual([U64_MAX, 0n, 0n, 0n, 4n, 5n, 0n]);
    expect(vcpu0(run).pc).toBe(0n);
  });

  it('SMCCC_VERSION answers 1.1', () => {
    const run = play([{ type: 'guest.hvc', vcpu: 0, args: [0x8000_0000n] }], booted());
    expect(last(run)).toEqual({ x: [0x1_0001n, 0n, 0n, 0n] });
  });

  it('the function id is the low 32 bits of x0; missing arguments are 0', () => {
    const run = play([{ type: 'guest.hvc', vcpu: 0, args: [0xffff_ffff_8000_0000n, 9n] }], booted());
    expect(last(run)).toEqual({ x: [0x1_0001n, 0n, 0n, 0n] });
    expect(vcpu0(run).x.slice(4, 6)).toEqual([0n, 0n]);
  });
});

describe('system registers without devices', () => {
  it('mrs and msr of an unknown register are UNDEFINED', () => {
    const run = play(
      [
        { type: 'guest.mrs', vcpu: 0, sysreg: 0xc664 },
        { type: 'guest.msr', vcpu: 0, sysreg: 0xc664, value: 1n },
      ],
      booted(),
    );
    expect(run.outputs).toEqual([{ value: 0n }, {}]);
    expect(run.effects).toEqual([
      [{ type: 'guest.undef', vcpu: 0, sysreg: 0xc664, write: false }],
      [{ type: 'guest.undef', vcpu: 0, sysreg: 0xc664, write: true }],
    ]);
  });
});

describe('guest statements on a missing vCPU', () => {
  it.each<{ event: EngineEvent; output: Output }>([
    { event: { type: 'guest.read', vcpu: 5, addr: BigInt(RAM_BASE), size: 4 }, output: { value: 0n } },
    { event: { type: 'guest.write', vcpu: 5, addr: BigInt(RAM_BASE), value: 1n, size: 4 }, output: {} },
    { event: { type: 'guest.mrs', vcpu: 5, sysreg: 0xc664 }, output: { value: 0n } },
    { event: { type: 'guest.msr', vcpu: 5, sysreg: 0xc664, value: 1n }, output: {} },
    { event: { type: 'guest.hvc', vcpu: 5, args: [0x8000_0000n] }, output: { x: [0n, 0n, 0n, 0n] } },
    { event: { type: 'guest.reg', vcpu: 5, reg: 0 }, output: { value: 0n } },
  ])('$event.type reports engine.no-vcpu', ({ event, output }) => {
    const base = booted();
    const run = play([event], base);
    expect(last(run)).toEqual(output);
    expect(lastEffects(run)).toEqual([{ type: 'engine.no-vcpu', vcpu: 5 }]);
    expect(stateHash(run.state)).toBe(stateHash(base.state));
  });
});

describe('device calls without devices', () => {
  it.each<{ event: EngineEvent; output: Output }>([
    { event: { type: 'device.create', kind: 'vgic-v3' }, output: { rc: -ENODEV } },
    { event: { type: 'device.create', kind: 'vgic-its' }, output: { rc: -ENODEV } },
    { event: { type: 'attr.set', dev: 'gic', group: 4, attr: 0n, value: null }, output: { rc: -EBADF } },
    {
      event: { type: 'attr.get', dev: 'its', group: 1, attr: 0n, preset: null },
      output: { rc: -EBADF, value: 0n },
    },
    { event: { type: 'attr.has', dev: 'gic', group: 0, attr: 0n }, output: { rc: -EBADF } },
    { event: { type: 'irq.line', kind: 'spi', vcpu: 0, intid: 32, level: 1 }, output: { rc: -ENXIO } },
    { event: { type: 'irq.line', kind: 'ppi', vcpu: 0, intid: 27, level: 1 }, output: { rc: -ENXIO } },
    { event: { type: 'msi.signal', devid: 0, eventid: 0 }, output: { rc: -EINVAL } },
    { event: { type: 'sdei.inject', vcpu: 0, event: 0n }, output: { rc: -EOPNOTSUPP } },
    { event: { type: 'sdei.inject', vcpu: 9, event: 0n }, output: { rc: -EBADF } },
  ])('$event.type → $output.rc', ({ event, output }) => {
    const base = booted();
    const run = play([event], base);
    expect(last(run)).toEqual(output);
    expect(stateHash(run.state)).toBe(stateHash(base.state));
  });

  it('trace marks and notes change nothing and return nothing', () => {
    const base = booted();
    const run = play(
      [
        { type: 'trace.mark', name: 'here' },
        { type: 'trace.note', text: 'hi' },
      ],
      base,
    );
    expect(run.outputs).toEqual([{}, {}]);
    expect(run.effects).toEqual([[], []]);
    expect(stateHash(run.state)).toBe(stateHash(base.state));
  });
});
