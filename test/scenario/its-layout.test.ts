// The runner collects the layout each `guest its_init` expansion chose (RunResult.layouts),
// with the statement's location; statements that write nothing report nothing.

import { describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../replay/machine.js';
import { ITS_INIT_SLOT } from '../../scenario/expand.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';

function run(text: string) {
  return runScenario(parseScenario(text, 's.vgs'), { registry: defaultRegistry() });
}

describe('its_init layouts', () => {
  it('records the layout of each its_init, as the guest wrote it', () => {
    const result = run(
      'board virt vcpus=2 its=on\nguest gic_init\nguest its_init base=0x48000000 idbits=14\n',
    );
    expect(result.layouts).toHaveLength(1);
    const { loc, layout } = result.layouts[0]!;
    expect(loc).toMatchObject({ file: 's.vgs', line: 3, col: 1 });
    expect(layout).toEqual({
      base: 0x4800_0000n,
      idbits: 14,
      deviceTable: { addr: 0x4800_0000n, size: 0x1_0000 },
      collectionTable: { addr: 0x4801_0000n, size: 0x1_0000 },
      commandQueue: { addr: 0x4802_0000n, size: 0x1_0000 },
      propertyTable: { addr: 0x4803_0000n, size: 32768 - 8192, idbits: 14 },
      pendingTables: [
        { vcpu: 0, addr: 0x4804_0000n, size: 4096 },
        { vcpu: 1, addr: 0x4805_0000n, size: 4096 },
      ],
    });
    // the layout is the one the guest programmed
    const vm = result.state.vms[0]!;
    expect(vm.devices.its!.cbaser & 0xffff_ffff_f000n).toBe(layout.commandQueue.addr);
    expect(vm.devices.its!.baserDevice & 0xffff_ffff_f000n).toBe(layout.deviceTable.addr);
    expect(vm.devices.gic!.propbaser & 0xffff_ffff_f000n).toBe(layout.propertyTable.addr);
    expect(layout.pendingTables[1]!.addr - layout.pendingTables[0]!.addr).toBe(ITS_INIT_SLOT);
  });

  it('caps IDbits at 16, as KVM does', () => {
    const { layout } = run('board virt vcpus=1 its=on\nguest its_init idbits=31\n').layouts[0]!;
    expect(layout.propertyTable.size).toBe(65536 - 8192);
    expect(layout.pendingTables).toEqual([{ vcpu: 0, addr: 0x5004_0000n, size: 8192 }]);
  });

  it('records nothing without its_init or when the VM has no vCPU', () => {
    expect(run('board virt vcpus=1 its=on\nguest gic_init\n').layouts).toEqual([]);
    expect(run('vm\nguest its_init\n').layouts).toEqual([]);
  });
});
