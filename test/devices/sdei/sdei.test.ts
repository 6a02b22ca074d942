// Unit tests of the SDEI service (devices/sdei): what the scenario files cannot express — the
// `sdei.*` effects, the 2048-bit CONTEXT layout beyond the first two words and its unused bytes,
// out-of-range ONE_REG values, the state view and text, every step path agreeing (immer draft,
// patches, in place), and that each sdei-* quirk of devices/quirks.ts has a scenario showing it.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SDEI_FUNCTIONS, SDEI_ONE_REGS } from '../../../devices/names.js';
import { QUIRKS } from '../../../devices/quirks.js';
import { exceptionPstate } from '../../../devices/sdei/dispatch.js';
import { SDEI_FUNCTION_TABLE } from '../../../devices/sdei/functions.js';
import { stateName } from '../../../devices/sdei/state.js';
import { EINVAL } from '../../../engine/errno.js';
import type { EngineEvent } from '../../../engine/events.js';
import { initialState, type MachineState } from '../../../engine/state.js';
import type { Frame } from '../../../replay/frame.js';
import { defaultRegistry } from '../../../replay/machine.js';
import { replayAndCheck } from '../../../replay/replay-check.js';
import { stateText } from '../../../replay/state-text.js';
import { stateView } from '../../../replay/state-view.js';
import { readTrace } from '../../../replay/trace-reader.js';
import { encodeTrace } from '../../../replay/trace-writer.js';
import { parseScenario } from '../../../scenario/parser.js';
import { runScenario } from '../../../scenario/runner.js';
import { expectAllReplayable, expectReplayable } from '../../helpers/expect-replayable.js';

function run(text: string): { state: MachineState; frames: Frame[] } {
  const frames: Frame[] = [];
  const result = runScenario(parseScenario(text, 'inline.vgs'), {
    registry: defaultRegistry(),
    onFrame: (frame) => frames.push(structuredClone(frame)),
  });
  expect(result.failures).toEqual([]);
  return { state: result.state, frames };
}

const DISPATCHED = `board virt vcpus=2 its=off
set_reg 0 pc 0x40000800
set_reg 0 pstate 0x80000004
set_reg 0 x17 0x1717
run 0
vcpu 0 hvc SDEI_EVENT_REGISTER 0 0x40001000 0xfeed 0 0
vcpu 0 hvc SDEI_EVENT_ENABLE 0
vcpu 0 hvc SDEI_PE_UNMASK
vcpu 0 hvc SDEI_EVENT_SIGNAL 0 0x80000000 0 0x44
`;

describe('SDEI effects', () => {
  it('a SIGNAL to self emits sdei.signal, then sdei.dispatch at the guest entry', () => {
    const { frames } = run(DISPATCHED);
    expect(frames.at(-1)!.effects).toEqual([
      { type: 'sdei.signal', vcpu: 0, target: 0, event: 0, source: 'guest' },
      { type: 'sdei.dispatch', vcpu: 0, event: 0, entry: 0x4000_1000n, arg: 0xfeedn, pc: 0x4000_0800n },
    ]);
  });

  it('COMPLETE and COMPLETE_AND_RESUME emit sdei.complete; RESUME reports ELR_EL1 and SPSR_EL1', () => {
    const { frames } = run(`${DISPATCHED}vcpu 0 hvc SDEI_EVENT_COMPLETE
vcpu 0 hvc SDEI_EVENT_SIGNAL 0 0x80000000
vcpu 0 hvc SDEI_EVENT_COMPLETE_AND_RESUME 0x40000280
`);
    const completes = frames.flatMap((f) => f.effects.filter((e) => e.type === 'sdei.complete'));
    expect(completes).toEqual([
      { type: 'sdei.complete', vcpu: 0, event: 0, resume: false, pc: 0x4000_0800n },
      {
        type: 'sdei.complete',
        vcpu: 0,
        event: 0,
        resume: true,
        pc: 0x4000_0280n,
        elr: 0x4000_0800n,
        spsr: 0x8000_0004n,
      },
    ]);
  });

  it('sdei_inject emits sdei.signal with the hypervisor as source and nothing when refused', () => {
    const { frames } = run(
      `${DISPATCHED}sdei_inject 1 1\nvcpu 0 hvc SDEI_EVENT_REGISTER 1 0x2000 0 0 0\nsdei_inject 0 1\n`,
    );
    const injects = frames.filter((f) => f.event.type === 'sdei.inject');
    expect(injects.map((f) => f.output.rc)).toEqual([-2, 0]);
    expect(injects[0]!.effects).toEqual([]);
    expect(injects[1]!.effects).toEqual([
      { type: 'sdei.signal', vcpu: 0, target: 0, event: 1, source: 'hypervisor' },
    ]);
  });
});

describe('SDEI firmware registers', () => {
  const CONTEXT = SDEI_ONE_REGS.KVM_REG_ARM_SDEI_EVENT_CONTEXT!;

  it('CONTEXT is pc, pstate, x0..x17 as little-endian u64 words (x17 is word 19)', () => {
    const { frames } = run(`${DISPATCHED}stop\nget_reg 0 KVM_REG_ARM_SDEI_EVENT_CONTEXT\n`);
    const value = frames.at(-1)!.output.value!;
    const word = (i: number) => (value >> BigInt(64 * i)) & ((1n << 64n) - 1n);
    expect([word(0), word(1), word(2 + 4), word(2 + 17), word(20)]).toEqual([
      0x4000_0800n,
      0x8000_0004n,
      0x44n,
      0x1717n,
      0n,
    ]);
    expect(value >> 1280n).toBe(0n);
  });

  it.each([
    ['KVM_REG_ARM_SDEI_EVENT_CONTEXT', 'bit 1280 (unused bytes)', 1n << 1280n, -EINVAL, 0],
    ['KVM_REG_ARM_SDEI_EVENT_CONTEXT', 'bit 2047', 1n << 2047n, -EINVAL, 0],
    ['KVM_REG_ARM_SDEI_EVENT_CONTEXT', 'bit 1280 | 5, quirk', (1n << 1280n) | 5n, 0, 1],
    ['KVM_REG_ARM_SDEI_EVENT_HANDLER_0', '2^128, quirk', 1n << 128n, -EINVAL, 1],
    ['KVM_REG_ARM_SDEI_EVENT_PENDING', '-1, quirk', -1n, -EINVAL, 1],
    ['KVM_REG_ARM_SDEI_PE_STATE', '2^64, quirk', 1n << 64n, -EINVAL, 1],
  ] as const)('set %s = %s', (name, _label, value, rc, quirk) => {
    const events: EngineEvent[] = [
      {
        type: 'vm.create',
        host: 'gicv3',
        quirks: quirk ? ['sdei-fw-regs-mask-unknown-bits'] : [],
        ipaBits: 40,
        sdei: true,
      },
      { type: 'vcpu.create', vcpu: 0 },
      { type: 'reg.set', vcpu: 0, reg: SDEI_ONE_REGS[name]!, value },
    ];
    const state = expectAllReplayable(initialState(), events.slice(0, 2));
    const { output } = expectReplayable(state, events[2]!);
    expect(output.rc).toBe(rc);
  });

  it('with the quirk, a CONTEXT with unused bytes set keeps only the meaningful words', () => {
    const { frames } = run(`board virt vcpus=1 quirks=sdei-fw-regs-mask-unknown-bits
set_reg 0 KVM_REG_ARM_SDEI_EVENT_CONTEXT ${`0x1${'0'.repeat(320)}`}
get_reg 0 KVM_REG_ARM_SDEI_EVENT_CONTEXT
`);
    expect(frames.at(-2)!.output.rc).toBe(0);
    expect(frames.at(-1)!.output.value).toBe(0n);
    expect(CONTEXT).toBe(0x6080_0000_0014_000cn);
  });
});

describe('SDEI reducers on every step path', () => {
  it('a dispatch / complete / migration scenario gives identical states through immer and in place', () => {
    const { frames } = run(`${DISPATCHED}vcpu 0 hvc SDEI_EVENT_CONTEXT 4
vcpu 0 hvc SDEI_EVENT_UNREGISTER 0
vcpu 0 hvc SDEI_EVENT_COMPLETE
vcpu 1 hvc SDEI_EVENT_REGISTER 0 0x40001000 0 0 0
vcpu 0 hvc SDEI_EVENT_SIGNAL 0 0x80000001
stop
set_reg 1 KVM_REG_ARM_SDEI_PE_STATE 0
set_reg 1 KVM_REG_ARM_SDEI_EVENT_ENABLED 1
reset_vcpu 0
run 1
`);
    expectAllReplayable(
      initialState(),
      frames.map((f) => f.event),
    );
  });
});

describe('SDEI traces', () => {
  it('record, read back and replay without divergence, effects included', () => {
    const path = join(import.meta.dirname, '..', '..', 'scenarios', 'sdei', 'migrate-running-handler.vgs');
    const { frames } = run(readFileSync(path, 'utf8'));
    const bytes = encodeTrace(
      {
        producer: 'sdei test',
        board: { machine: 'virt', vcpus: 2, nrIrqs: 256, its: false, sdei: true, ipaBits: 40 },
        host: 'gicv3',
        quirks: [],
        seed: '0',
      },
      frames,
      { chunkEvents: 64 },
    );
    const trace = readTrace(bytes);
    expect(trace.length).toBe(frames.length);
    expect(trace.frame(frames.length)).toEqual(frames.at(-1));
    expect(frames.some((f) => f.effects.some((e) => e.type === 'sdei.complete'))).toBe(true);
    expect(replayAndCheck(trace, defaultRegistry())).toEqual({ events: frames.length });
  });
});

describe('SDEI function table', () => {
  it('has a row for every SDEI function name, with the same id', () => {
    const rows = Object.entries(SDEI_FUNCTION_TABLE).map(([fid, row]) => [row.name, Number(fid)]);
    expect(Object.fromEntries(rows)).toEqual(SDEI_FUNCTIONS);
  });

  it('builds exception PSTATEs as KVM7: nRW and M cleared, EL1h, DAIF set, the rest kept', () => {
    expect(exceptionPstate(0x0n)).toBe(0x3c5n);
    expect(exceptionPstate(0x6000_0010n)).toBe(0x6000_03c5n); // AArch32 bit cleared, Z and C kept
    expect(exceptionPstate(0x40_0000n | 0x4n)).toBe(0x40_03c5n); // PAN kept
  });

  it('names the six legal states and flags the two unreachable ones', () => {
    expect([0, 1, 3, 4, 5, 7].map(stateName)).toEqual([
      'unregistered',
      'registered',
      'enabled',
      'unregister-pending',
      'registered-running',
      'enabled-running',
    ]);
    expect([2, 6].map(stateName)).toEqual(['illegal(2)', 'illegal(6)']);
  });
});

describe('SDEI state view', () => {
  it('shows mask, states, handlers, pending and the saved context while a handler runs', () => {
    const { state } = run(`${DISPATCHED}sdei_inject 0 0\nvcpu 1 hvc SDEI_EVENT_REGISTER 1 0x2000 0x33 0 0\n`);
    const vm = stateView(state).vms[0]!;
    const v0 = vm.vcpus[0]!.sdei!;
    expect(v0.masked).toBe(false);
    expect(v0.running).toBe(0);
    expect(v0.events.map((e) => [e.event, e.state, e.status, e.entry, e.arg, e.pending])).toEqual([
      [0, 'enabled-running', 7, 0x4000_1000n, 0xfeedn, true],
      [1, 'unregistered', 0, 0n, 0n, false],
    ]);
    expect(v0.context?.pc).toBe(0x4000_0800n);
    expect(v0.context?.x[17]).toBe(0x1717n);
    expect(vm.vcpus[1]!.sdei!.context).toBeNull();
    const lines = stateText(stateView(state), { width: 120 });
    expect(lines).toContain('      SDEI PE unmasked  handler running event 0');
    expect(lines).toContain(
      '        event 0 enabled-running (status 7)  entry 0x40001000 arg 0xfeed  pending yes',
    );
    expect(lines).toContain('        interrupted pc 0x40000800  pstate 0x80000004  x4 0x44  x17 0x1717');
    expect(lines).toContain('      SDEI PE masked  handler running none');
    expect(lines).toContain('        event 1 registered (status 1)  entry 0x2000 arg 0x33  pending no');
    // The SDEI lines sit under each vCPU, before the RAM section.
    expect(lines.indexOf('      SDEI PE masked  handler running none')).toBeLessThan(
      lines.findIndex((l) => l.startsWith('  RAM')),
    );
  });

  it('adds nothing for a VM without SDEI', () => {
    const { state } = run('board virt vcpus=1 its=off sdei=off\n');
    expect(stateView(state).vms[0]!.vcpus[0]!.sdei).toBeUndefined();
    expect(stateText(stateView(state)).join('\n')).not.toContain('SDEI PE');
  });
});

describe('SDEI quirks', () => {
  const dir = join(import.meta.dirname, '..', '..', 'scenarios', 'sdei');
  const texts = readdirSync(dir)
    .filter((f) => f.endsWith('.vgs'))
    .map((f) => readFileSync(join(dir, f), 'utf8'));

  it.each(QUIRKS.filter((q) => q.side === 'kernel' && q.name.startsWith('sdei-')).map((q) => q.name))(
    '%s is switched on by a scenario that also shows the default',
    (name) => {
      const file = texts.find((t) => t.includes(`quirks=${name}`));
      expect(file, `no scenario uses quirks=${name}`).toBeDefined();
      // The same file first runs a board without the quirk (the fixed behaviour).
      expect(file!.indexOf('board virt')).toBeLessThan(file!.indexOf(`quirks=${name}`) - 20);
    },
  );
});
