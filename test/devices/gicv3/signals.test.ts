// The cpu.irq / cpu.fiq lines recorded after each event (kvm-device-signals.ts) must always
// equal what the CPU interface presents, although the hook re-checks only the vCPUs an event
// can affect: after every event of a GIC-heavy stream, every vCPU's last signalled lines are
// compared with a full recomputation.

import { describe, expect, it } from 'vitest';
import { workload } from '../../../bench/workload.js';
import { interruptSignals } from '../../../devices/gicv3/cpuif-derive.js';
import { WorkingCopy } from '../../../engine/working-copy.js';
import { defaultRegistry } from '../../../replay/machine.js';

describe('signalled lines', () => {
  it.each([1, 2, 3])('match a full recomputation after every event (workload seed %i)', (seed) => {
    const machine = new WorkingCopy(defaultRegistry());
    let checked = 0;
    let raised = 0;
    for (const event of workload(seed, 20_000)) {
      const { effects } = machine.step(event);
      raised += effects.filter((e) => e.type === 'cpu.irq' && e.level === true).length;
      const vm = machine.state.vms[machine.state.current]!;
      if (!vm.devices.gic) continue;
      for (const vcpu of vm.vcpus) {
        const now = interruptSignals(vm, vcpu);
        expect({
          irq: vcpu.devices.gicLines?.irq ?? false,
          fiq: vcpu.devices.gicLines?.fiq ?? false,
        }).toEqual(now);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50_000);
    expect(raised).toBeGreaterThan(100);
  });
});
