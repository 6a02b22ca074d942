// The ITS conformance scenarios (test/scenarios/its/*.vgs) run through the parser, the expander
// and the engine with the default registry; every `expect` must hold. Each file names the
// upstream test it follows in its header. Also: `board virt its=on` end to end, the `its.error`
// and `cpu.irq` effects of the ITS paths, the primitive events `guest its_init` / `lpi_config` /
// `vcpu K its` expand into, and every event of a scenario replayable through all step paths.

import { describe, expect, it } from 'vitest';
import { cloneState, freezeState } from '../../../engine/clone.js';
import type { Effect, EngineEvent } from '../../../engine/events.js';
import { initialState } from '../../../engine/state.js';
import type { Frame } from '../../../replay/frame.js';
import { defaultRegistry } from '../../../replay/machine.js';
import { parseScenario } from '../../../scenario/parser.js';
import { runScenario } from '../../../scenario/runner.js';
import { expectAllReplayable } from '../../helpers/expect-replayable.js';
import { scenarioSuite } from '../../helpers/scenario-suite.js';

function run(text: string) {
  const frames: Frame[] = [];
  const result = runScenario(parseScenario(text, 'inline.vgs'), {
    registry: defaultRegistry(),
    onFrame: (frame) => frames.push(structuredClone(frame)),
  });
  return { result, frames };
}

const SETUP = `board virt vcpus=2 nr_irqs=64 its=on
guest gic_init
guest its_init
run 0
run 1
guest lpi_config 8192 0xa3
vcpu 0 its MAPD dev=1 size=3 itt=0x50100000
vcpu 0 its MAPC icid=0 rdbase=1
vcpu 0 its MAPTI dev=1 event=0 lpi=8192 icid=0
`;

scenarioSuite('ITS conformance scenarios', 'its');

describe('board virt its=on', () => {
  it('creates, inits and places the ITS: every call succeeds and the frame is mapped', () => {
    const { result, frames } = run('board virt vcpus=2 its=on\n');
    expect(frames.map((f) => f.output.rc)).toEqual(frames.map(() => 0));
    expect(frames.some((f) => f.event.type === 'device.create' && f.event.kind === 'vgic-its')).toBe(true);
    const vm = result.state.vms[result.state.current]!;
    expect(vm.devices.its?.base).toBe(0x0808_0000);
    expect(vm.devices.gic?.hasIts).toBe(true);
    expect(vm.mmio.some((r) => r.handler === 'gits' && r.base === 0x0808_0000 && r.size === 0x2_0000)).toBe(
      true,
    );
  });
});

describe('scenario expansion of the ITS guest helpers', () => {
  it('guest its_init writes the documented layout, in order, as guest MMIO', () => {
    const { frames } = run('board virt vcpus=2 its=on\nguest its_init base=0x60000000 idbits=15\n');
    const writes = frames
      .filter((f) => f.event.type === 'guest.write')
      .map((f) => f.event as Extract<EngineEvent, { type: 'guest.write' }>)
      .map((e) => [e.vcpu, `0x${e.addr.toString(16)}`, `0x${e.value.toString(16)}`, e.size]);
    expect(writes).toEqual([
      [0, '0x8080100', '0x9907000060000600', 8], // GITS_BASER0: device table at base
      [0, '0x8080108', '0x9c07000060010600', 8], // GITS_BASER1: collection table
      [0, '0x8080080', '0x980000006002040f', 8], // GITS_CBASER: queue, Size 15, Valid
      [0, '0x8080088', '0x0', 8], // GITS_CWRITER
      [0, '0x80a0070', '0x6003078f', 8], // GICR_PROPBASER via vCPU 0's redistributor
      [1, '0x80c0070', '0x6003078f', 8], // … and vCPU 1's
      [0, '0x80a0078', '0x60040780', 8], // GICR_PENDBASER vCPU 0
      [1, '0x80c0078', '0x60050780', 8], // GICR_PENDBASER vCPU 1
      [0, '0x80a0000', '0x1', 4], // GICR_CTLR.EnableLPIs
      [1, '0x80c0000', '0x1', 4],
      [0, '0x8080000', '0x1', 4], // GITS_CTLR.Enabled
    ]);
    const bad = frames.filter((f) =>
      f.effects.some((e) => e.type.startsWith('guest.') || e.type === 'its.error'),
    );
    expect(bad).toEqual([]);
  });

  it('vcpu K its stores 32 bytes at CBASER.PA + CWRITER, then advances CWRITER', () => {
    const { frames } = run(`${SETUP}vcpu 1 its INT dev=1 event=0\n`);
    const last = frames.slice(-5).map((f) => f.event as Extract<EngineEvent, { type: 'guest.write' }>);
    expect(last.map((e) => [e.vcpu, e.addr, e.value, e.size])).toEqual([
      [1, 0x5002_0060n, 0x1_0000_0003n, 8],
      [1, 0x5002_0068n, 0n, 8],
      [1, 0x5002_0070n, 0n, 8],
      [1, 0x5002_0078n, 0n, 8],
      [1, 0x0808_0088n, 0x80n, 8],
    ]);
  });

  it('guest lpi_config stores one byte in the property table', () => {
    const { frames } = run(`${SETUP}guest lpi_config 8200 0x42\n`);
    expect(frames.at(-1)!.event).toEqual({
      type: 'guest.write',
      vcpu: 0,
      addr: 0x5003_0008n,
      value: 0x42n,
      size: 1,
    });
  });

  it('CWRITER wraps to 0 at the end of the 64 KiB queue', () => {
    const text = `${SETUP}${'vcpu 0 its SYNC rdbase=0\n'.repeat(2048 - 3)}`;
    const { result } = run(text);
    const its = result.state.vms[result.state.current]!.devices.its!;
    expect(its.cwriter).toBe(0);
    expect(its.creadr).toBe(0);
  });
});

describe('ITS effects', () => {
  it('an MSI raises the target vCPU IRQ line; acknowledging drops it', () => {
    const { frames } = run(`${SETUP}signal_msi 1 0\nvcpu 1 mrs ICC_IAR1_EL1\n`);
    const msi = frames.at(-2)!;
    expect(msi.output.rc).toBe(1);
    expect(msi.effects).toEqual<Effect[]>([{ type: 'cpu.irq', vcpu: 1, level: true }]);
    const ack = frames.at(-1)!;
    expect(ack.output.value).toBe(8192n);
    expect(ack.effects).toContainEqual({ type: 'cpu.irq', vcpu: 1, level: false });
  });

  it('a failing command is recorded as an its.error effect and the queue moves on', () => {
    const { frames, result } = run(
      `${SETUP}vcpu 0 its DISCARD dev=1 event=0\nvcpu 0 its INT dev=1 event=0\n`,
    );
    const cwriter = frames.at(-1)!;
    expect(cwriter.effects).toEqual([
      {
        type: 'its.error',
        command: 'INT',
        code: 'E_ITS_INT_UNMAPPED_INTERRUPT',
        value: 0x010307,
        creadr: 0x80,
      },
    ]);
    expect(result.state.vms[result.state.current]!.devices.its!.creadr).toBe(0xa0);
  });
});

describe('ITS events through every step path', () => {
  it('the events of an ITS scenario are replayable (patches, in place, plain)', () => {
    const { frames } = run(`${SETUP}vcpu 0 its INT dev=1 event=0
signal_msi 1 0
vcpu 1 mrs ICC_IAR1_EL1
vcpu 1 msr ICC_EOIR1_EL1 8192
vcpu 0 its MOVI dev=1 event=0 icid=0
vcpu 1 write GICR_CTLR 0x0
signal_msi 1 0
vcpu 1 write GICR_CTLR 0x1
vcpu 0 its DISCARD dev=1 event=0
stop
get_attr its ITS_REGS GITS_CWRITER
set_attr gic CTRL SAVE_PENDING_TABLES
set_attr its CTRL ITS_SAVE_TABLES
set_attr its CTRL ITS_CTRL_RESET
set_attr its ITS_REGS 0x100 0x9907000050000600
set_attr its ITS_REGS 0x108 0x9c07000050010600
set_attr its CTRL ITS_RESTORE_TABLES
set_attr its CTRL ITS_SAVE_TABLES
`);
    expectAllReplayable(
      freezeState(cloneState(initialState())),
      frames.map((f) => f.event),
    );
  });
});
