// Macro expansion: the primitive events `board`, `guest gic_init`, device-attr targets and
// GICR_ names stand for.

import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../engine/events.js';
import { defaultRegistry } from '../../replay/machine.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';

function events(text: string): EngineEvent[] {
  const out: EngineEvent[] = [];
  runScenario(parseScenario(text, 's.vgs'), {
    registry: defaultRegistry(),
    onFrame: (f) => out.push(f.event),
  });
  return out;
}

describe('board virt', () => {
  it('records what QEMU virt does at machine init, in its order', () => {
    expect(events('board virt vcpus=2 nr_irqs=128 host=gicv4.1 quirks=movall-all-lpis ipa_bits=36')).toEqual([
      { type: 'vm.create', host: 'gicv4.1', quirks: ['movall-all-lpis'], ipaBits: 36, sdei: true },
      { type: 'vcpu.create', vcpu: 0 },
      { type: 'vcpu.create', vcpu: 1 },
      { type: 'device.create', kind: 'vgic-v3' },
      { type: 'attr.set', dev: 'gic', group: 3, attr: 0n, value: 128n },
      { type: 'attr.set', dev: 'gic', group: 4, attr: 0n, value: null },
      { type: 'attr.set', dev: 'gic', group: 0, attr: 2n, value: 0x0800_0000n },
      { type: 'attr.set', dev: 'gic', group: 0, attr: 5n, value: (2n << 52n) | 0x080a_0000n },
      { type: 'device.create', kind: 'vgic-its' },
      { type: 'attr.set', dev: 'its', group: 4, attr: 0n, value: null },
      { type: 'attr.set', dev: 'its', group: 0, attr: 4n, value: 0x0808_0000n },
    ]);
  });
  it('its=off and sdei=off', () => {
    const ev = events('board virt vcpus=1 its=off sdei=off');
    expect(ev[0]).toEqual({ type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: false });
    expect(ev.some((e) => e.type === 'device.create' && e.kind === 'vgic-its')).toBe(false);
    expect(ev).toHaveLength(7);
  });
});

describe('names that depend on the machine', () => {
  it('vcpu=K fills the MPIDR field with vCPU K affinity', () => {
    const ev = events('vm\ncreate_vcpu 0\ncreate_vcpu 17\nget_attr gic REDIST_REGS GICR_CTLR vcpu=17');
    // vCPU 17: Aff0 = 1, Aff1 = 1.
    expect(ev[3]).toEqual({ type: 'attr.get', dev: 'gic', group: 5, attr: 0x0101n << 32n, preset: null });
  });
  it('mpidr=M goes in raw', () => {
    const ev = events('vm\nhas_attr gic CPU_SYSREGS ICC_PMR_EL1 mpidr=0x10203');
    expect(ev[1]).toEqual({ type: 'attr.has', dev: 'gic', group: 6, attr: (0x10203n << 32n) | 0xc230n });
  });
  it('GICR_ names resolve to the accessing vCPU, or @K', () => {
    const ev = events('board virt vcpus=3\nvcpu 1 read GICR_TYPER size=8\nvcpu 0 read GICR_ISENABLER0@2');
    expect(ev.at(-2)).toMatchObject({
      type: 'guest.read',
      vcpu: 1,
      addr: 0x080a_0000n + 0x2_0000n + 8n,
      size: 8,
    });
    expect(ev.at(-1)).toMatchObject({
      type: 'guest.read',
      vcpu: 0,
      addr: 0x080a_0000n + 0x4_0000n + 0x1_0100n,
    });
  });
  it('GICD_ names with +N', () => {
    const ev = events('board virt vcpus=1\nvcpu 0 read GICD_IROUTER40+4');
    expect(ev.at(-1)).toMatchObject({ addr: 0x0800_0000n + 0x6000n + 40n * 8n + 4n });
  });
});

describe('guest gic_init', () => {
  it('expands into the loads and stores of a Linux-like guest', () => {
    const ev = events('board virt vcpus=2 its=off\nguest gic_init').slice(8);
    const text = ev.map((e) => `${e.type} ${'vcpu' in e ? e.vcpu : ''}`);
    expect(text).toEqual([
      'guest.write 0',
      ...[0, 1].flatMap((v) => [
        `guest.msr ${v}`,
        `guest.msr ${v}`,
        `guest.msr ${v}`,
        `guest.mrs ${v}`,
        `guest.msr ${v}`,
        `guest.msr ${v}`,
      ]),
    ]);
    expect(ev[0]).toEqual({ type: 'guest.write', vcpu: 0, addr: 0x0800_0000n, value: 0x12n, size: 4 });
  });
});

describe('hvc', () => {
  it('sets up x0–x5, unset arguments zero, negative arguments as two’s complement', () => {
    const ev = events('vm\ncreate_vcpu 0\nvcpu 0 hvc SDEI_EVENT_REGISTER 0 0x40001000 -1');
    expect(ev[2]).toEqual({
      type: 'guest.hvc',
      vcpu: 0,
      args: [0xc4000021n, 0n, 0x40001000n, (1n << 64n) - 1n, 0n, 0n],
    });
  });
});
