// The vGICv3 wired into the engine: interrupt-line effects (the afterEvent hook), the frame
// addresses the expander asks for, and that the immer and in-place step paths agree event by event
// on a GIC workload (states by hash, outputs and effects).

import { describe, expect, it } from 'vitest';
import { cloneState } from '../../../engine/clone.js';
import type { Effect, EngineEvent } from '../../../engine/events.js';
import { stateHash } from '../../../engine/hash.js';
import { findMmio } from '../../../engine/registry.js';
import { initialState, type MachineState } from '../../../engine/state.js';
import { step, stepInPlace, stepWithPatches } from '../../../engine/step.js';
import { defaultRegistry } from '../../../replay/machine.js';
import { parseScenario } from '../../../scenario/parser.js';
import { runScenario } from '../../../scenario/runner.js';

const registry = defaultRegistry();

function frames(text: string): { event: EngineEvent; effects: Effect[] }[] {
  const out: { event: EngineEvent; effects: Effect[] }[] = [];
  const result = runScenario(parseScenario(text, 't.vgs'), {
    registry,
    onFrame: (frame) => out.push({ event: frame.event, effects: frame.effects }),
  });
  expect(result.failures).toEqual([]);
  return out;
}

const SETUP = `board virt vcpus=2 its=off
guest gic_init
run 0
vcpu 0 write GICD_ISENABLER1 0x100
`;

describe('interrupt lines as effects', () => {
  it('irq_line raises cpu.irq on the routed vCPU; acknowledge lowers it', () => {
    const f = frames(
      `${SETUP}irq_line spi 40 1\nvcpu 0 mrs ICC_IAR1_EL1 expect 40\nvcpu 0 msr ICC_EOIR1_EL1 40\n`,
    );
    const effects = f.flatMap((x) => x.effects.map((e) => ({ on: x.event.type, ...e })));
    const lines = effects.filter((e) => e.type === 'cpu.irq' || e.type === 'cpu.fiq');
    expect(lines).toEqual([
      { on: 'irq.line', type: 'cpu.irq', vcpu: 0, level: true },
      { on: 'guest.mrs', type: 'cpu.irq', vcpu: 0, level: false },
    ]);
  });

  it('a masked interrupt (PMR) is not signalled until the mask opens', () => {
    const f = frames(`${SETUP}vcpu 0 msr ICC_PMR_EL1 0\nirq_line spi 40 1\nvcpu 0 msr ICC_PMR_EL1 0xf8\n`);
    const on = f.filter((x) => x.effects.some((e) => e.type === 'cpu.irq')).map((x) => x.event.type);
    expect(on).toEqual(['guest.msr']);
  });

  it('a VM without a vGIC never signals', () => {
    const f = frames('vm\ncreate_vcpu 0\nrun 0\nvcpu 0 mrs ICC_IAR1_EL1\n');
    expect(f.flatMap((x) => x.effects).map((e) => e.type)).toEqual(['guest.undef']);
  });
});

describe('frames and MMIO mapping', () => {
  it('frameBase follows the VMM placement; the distributor is mapped at first run', () => {
    const result = runScenario(
      parseScenario(
        'vm\ncreate_vcpu 0\ncreate_vcpu 1\ncreate_device vgic-v3\nset_attr gic ADDR V3_DIST 0x100000\nset_attr gic ADDR V3_REDIST_REGION count=2 base=0x200000 index=0\nset_attr gic CTRL INIT\n',
        't.vgs',
      ),
      { registry },
    );
    const vm = result.state.vms[0]!;
    expect(registry.frameBase?.(vm, 'gicd', vm.vcpus[0]!)).toBe(0x100000);
    expect(registry.frameBase?.(vm, 'gicr', vm.vcpus[1]!)).toBe(0x220000);
    expect(registry.frameBase?.(vm, 'gits', vm.vcpus[0]!)).toBeUndefined();
    expect(findMmio(vm, 0x220000 + 0x10000, 4)).toMatchObject({ handler: 'gicr', index: 1 });
    expect(findMmio(vm, 0x100000, 4)).toBeUndefined();
    const after = step(result.state, { type: 'vcpu.run', vcpu: 0 }, registry);
    expect(after.output.rc).toBe(0);
    expect(findMmio(after.state.vms[0]!, 0x100000, 4)).toMatchObject({ handler: 'gicd' });
  });
});

describe('step paths agree on a GIC workload', () => {
  it('immer, immer with patches and in-place give the same states, outputs and effects', () => {
    const events = frames(
      `${SETUP}vcpu 0 write GICD_IROUTER40 1 size=8\nirq_line spi 40 1\nvcpu 1 mrs ICC_IAR1_EL1\nvcpu 1 msr ICC_EOIR1_EL1 40\nvcpu 0 msr ICC_SGI1R_EL1 0x02000002\nvcpu 1 mrs ICC_IAR1_EL1\nstop\nset_attr gic LEVEL_INFO 32 0x100 vcpu=0\nget_attr gic DIST_REGS GICD_ISPENDR1\n`,
    ).map((f) => f.event);
    let immer: MachineState = initialState();
    let patched: MachineState = initialState();
    const working = cloneState(initialState());
    for (const event of events) {
      const a = step(immer, event, registry);
      const b = stepWithPatches(patched, event, registry);
      const c = stepInPlace(working, event, registry);
      expect(b.effects).toEqual(a.effects);
      expect(c.effects).toEqual(a.effects);
      expect(b.output).toEqual(a.output);
      expect(c.output).toEqual(a.output);
      immer = a.state;
      patched = b.state;
      expect(stateHash(patched)).toBe(stateHash(immer));
      expect(stateHash(working)).toBe(stateHash(immer));
    }
  });
});
