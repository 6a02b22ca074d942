// The vGICv3 redistributor frames (devices/gicv3/redist-registers.ts): RD_base and SGI_base
// register by register, GICR_TYPER and its Last bit for several region layouts (the layouts of
// vgic_init.c test_v3_typer_accesses / test_v3_last_bit_*), PROPBASER/PENDBASER sanitising and
// PTZ, the LPI hooks, bad widths, and which vCPU a frame addresses. vgic-v3.md §2.4, §2.5.

import { describe, expect, it } from 'vitest';
import {
  GICR_REGISTERS,
  isLastRedistributor,
  makeRedistMmioHandler,
  redistFrameBase,
  redistHasRegister,
  redistUaccessRead,
  redistUaccessWrite,
  redistVcpuAt,
  sanitisePendbaser,
  sanitisePropbaser,
} from '../../../devices/gicv3/redist-registers.js';
import type { LpiHooks } from '../../../devices/gicv3/regs-common.js';
import { ENXIO } from '../../../engine/errno.js';
import type { VmState } from '../../../engine/state.js';
import { cpuOf, effectSink, frameAccess, gicOf, gicVm } from '../../helpers/gic.js';

const fx = effectSink();
// What the redistributor asked the (absent) ITS to do, in order.
const calls: string[] = [];
const hooks: LpiHooks = {
  enableLpis: (_vm, vcpu) => calls.push(`enable ${vcpu.id}`),
  disableLpis: (_vm, vcpu) => calls.push(`disable ${vcpu.id}`),
  invalidateLpi: (_vm, vcpu, intid) => calls.push(`inv ${vcpu.id} ${intid}`),
  invalidateAll: (_vm, vcpu) => calls.push(`invall ${vcpu.id}`),
};

const { read, write } = frameAccess(GICR_REGISTERS, fx, hooks);

function uget(vm: VmState, offset: number, k = 0): bigint {
  const r = redistUaccessRead(vm, vm.vcpus[k]!, offset, fx, hooks);
  expect(r.rc).toBe(0);
  return r.value;
}
function uset(vm: VmState, offset: number, value: bigint, k = 0): number {
  return redistUaccessWrite(vm, vm.vcpus[k]!, offset, value, fx, hooks);
}
const SGI = 0x1_0000;

describe('reset values (guest and userspace read alike)', () => {
  it.each([
    ['GICR_CTLR (revision 3: IR|CES)', 0x0000, 4, 0x6n],
    ['GICR_IIDR', 0x0004, 4, 0x4b00_043bn],
    ['GICR_TYPER of vCPU 0, not last', 0x0008, 8, 0x0000_0000_0000_0000n],
    ['GICR_STATUSR', 0x0010, 4, 0n],
    ['GICR_WAKER', 0x0014, 4, 0n],
    ['GICR_SETLPIR (hole)', 0x0040, 4, 0n],
    ['GICR_PROPBASER', 0x0070, 8, 0n],
    ['GICR_PENDBASER', 0x0078, 8, 0x580n],
    ['GICR_INVLPIR', 0x00a0, 8, 0n],
    ['GICR_INVALLR', 0x00b0, 8, 0n],
    ['GICR_SYNCR', 0x00c0, 4, 0n],
    ['GICR_PIDR2', 0xffe8, 4, 0x3bn],
    ['GICR_PIDR4', 0xffd0, 4, 0n],
    ['GICR_IGROUPR0', SGI + 0x0080, 4, 0xffff_ffffn],
    ['GICR_ISENABLER0', SGI + 0x0100, 4, 0x0000_ffffn],
    ['GICR_ICENABLER0', SGI + 0x0180, 4, 0x0000_ffffn],
    ['GICR_ISPENDR0', SGI + 0x0200, 4, 0n],
    ['GICR_ICPENDR0', SGI + 0x0280, 4, 0n],
    ['GICR_ISACTIVER0', SGI + 0x0300, 4, 0n],
    ['GICR_ICACTIVER0', SGI + 0x0380, 4, 0n],
    ['GICR_IPRIORITYR0', SGI + 0x0400, 4, 0n],
    ['GICR_IPRIORITYR7', SGI + 0x041c, 4, 0n],
    ['GICR_ICFGR0', SGI + 0x0c00, 4, 0xaaaa_aaaan],
    ['GICR_ICFGR1', SGI + 0x0c04, 4, 0n],
    ['GICR_IGRPMODR0', SGI + 0x0d00, 4, 0n],
    ['GICR_NSACR', SGI + 0x0e00, 4, 0n],
    ['SGI-frame hole (GICR_IGROUPR1 position)', SGI + 0x0084, 4, 0n],
    ['SGI-frame PIDR2 position (hole)', SGI + 0xffe8, 4, 0n],
  ])('%s', (_name, offset, size, expected) => {
    const vm = gicVm();
    expect(read(vm, offset, size)).toBe(expected);
    if (size === 4) expect(uget(vm, offset)).toBe(expected);
    else {
      expect(uget(vm, offset)).toBe(expected & 0xffff_ffffn);
      expect(uget(vm, offset + 4)).toBe(expected >> 32n);
    }
  });

  it('GICR_CTLR reads 0 with IIDR revision 2', () => {
    const vm = gicVm();
    gicOf(vm).implementationRev = 2;
    expect(read(vm, 0)).toBe(0n);
  });
});

describe('GICR_TYPER', () => {
  it('Affinity, ProcessorNumber, PLPIS, and 32-bit halves', () => {
    const vm = gicVm({ vcpus: 20, its: true });
    const typer = (0x0000_0103n << 32n) | (19n << 8n) | 0x10n | 0x1n; // vCPU 19: Aff1 1, Aff0 3, last
    expect(read(vm, 0x0008, 8, 19)).toBe(typer);
    expect(read(vm, 0x0008, 4, 19)).toBe(typer & 0xffff_ffffn);
    expect(read(vm, 0x000c, 4, 19)).toBe(typer >> 32n);
    expect(uget(vm, 0x000c, 19)).toBe(0x103n);
  });

  it('Aff3 is not reported', () => {
    const vm = gicVm({ vcpus: 1 });
    vm.vcpus[0]!.affinity = 0x0102_0304;
    expect(read(vm, 0x000c)).toBe(0x02_0304n);
  });

  it('writes are ignored, userspace rc 0', () => {
    const vm = gicVm();
    write(vm, 0x0008, 0xffff_ffff_ffff_ffffn, 8);
    expect(uset(vm, 0x0008, 0xffff_ffffn)).toBe(0);
    expect(read(vm, 0x0008, 8, 1)).toBe((1n << 32n) | (1n << 8n) | 0x10n);
  });

  const B = 0x0100_0000;
  const R = 0x2_0000;
  it.each([
    [
      'legacy region, 3 vCPUs',
      3,
      [{ index: 0, base: B, count: 0, freeIndex: 3 }],
      undefined,
      [false, false, true],
    ],
    [
      'counted region, partly filled',
      2,
      [{ index: 0, base: B, count: 4, freeIndex: 2 }],
      undefined,
      [false, true],
    ],
    [
      'two contiguous regions, both used',
      3,
      [
        { index: 0, base: B, count: 2, freeIndex: 2 },
        { index: 1, base: B + 2 * R, count: 2, freeIndex: 1 },
      ],
      [
        [0, 0],
        [0, 1],
        [1, 0],
      ],
      [false, false, true],
    ],
    [
      'two regions with a gap',
      3,
      [
        { index: 0, base: B, count: 2, freeIndex: 2 },
        { index: 1, base: B + 3 * R, count: 2, freeIndex: 1 },
      ],
      [
        [0, 0],
        [0, 1],
        [1, 0],
      ],
      [false, true, true],
    ],
    [
      'contiguous region after, still empty',
      2,
      [
        { index: 0, base: B, count: 2, freeIndex: 2 },
        { index: 1, base: B + 2 * R, count: 2, freeIndex: 0 },
      ],
      [
        [0, 0],
        [0, 1],
      ],
      [false, true],
    ],
    [
      'region 1 placed below region 0',
      3,
      [
        { index: 0, base: B + 2 * R, count: 1, freeIndex: 1 },
        { index: 1, base: B, count: 2, freeIndex: 2 },
      ],
      [
        [0, 0],
        [1, 0],
        [1, 1],
      ],
      [true, false, false],
    ],
    ['an unplaced vCPU', 2, [{ index: 0, base: B, count: 0, freeIndex: 1 }], [[0, 0], null], [true, false]],
  ] as const)('Last: %s', (_what, n, regions, placement, last) => {
    const vm = gicVm({
      vcpus: n,
      regions: regions.map((r) => ({ ...r })),
      ...(placement ? { placement: placement.map((p) => (p ? [p[0], p[1]] : null)) } : {}),
    });
    const got = vm.vcpus.map((_, k) => (read(vm, 0x0008, 4, k) & 0x10n) !== 0n);
    expect(got).toEqual(last);
    expect(vm.vcpus.map((v) => isLastRedistributor(gicOf(vm), v.devices.gic!))).toEqual(last);
  });
});

describe('GICR_CTLR and the LPI hooks', () => {
  it('ignored without an ITS', () => {
    const vm = gicVm();
    calls.length = 0;
    write(vm, 0, 1n);
    expect(read(vm, 0)).toBe(0x6n);
    expect(calls).toEqual([]);
  });

  it('EnableLPIs moves 0→1→0 with an ITS, calling the hooks once each; CES/IR/RWP are read-only', () => {
    const vm = gicVm({ its: true });
    calls.length = 0;
    write(vm, 0, 0xfn, 4, 1);
    expect(read(vm, 0, 4, 1)).toBe(0x7n);
    write(vm, 0, 0x1n, 4, 1);
    expect(uset(vm, 0, 0n, 1)).toBe(0);
    expect(read(vm, 0, 4, 1)).toBe(0x6n);
    write(vm, 0, 0n, 4, 1);
    expect(calls).toEqual(['enable 1', 'disable 1']);
    expect(cpuOf(vm, 0).enableLpis).toBe(false);
  });

  it('INVLPIR/INVALLR reach the hooks only with LPIs on, low word, LPI INTIDs', () => {
    const vm = gicVm({ its: true });
    calls.length = 0;
    write(vm, 0x00a0, 8192n, 8);
    write(vm, 0x00b0, 0n, 8);
    write(vm, 0, 1n);
    write(vm, 0x00a0, 8191n, 8);
    write(vm, 0x00a4, 8192n, 4);
    write(vm, 0x00a0, (5n << 32n) | 8200n, 8);
    write(vm, 0x00a0, 9000n, 4);
    write(vm, 0x00b4, 0n, 4);
    write(vm, 0x00b0, 0n, 4);
    expect(calls).toEqual(['enable 0', 'inv 0 8200', 'inv 0 9000', 'invall 0']);
    expect(read(vm, 0x00a0, 8)).toBe(0n);
    expect(read(vm, 0x00c0)).toBe(0n);
  });
});

describe('GICR_PROPBASER / GICR_PENDBASER', () => {
  it.each([
    ['PROPBASER keeps PA and IDbits', sanitisePropbaser, 0x0000_0000_4001_2f1fn, 0x0000_0000_4001_2f1fn],
    ['PROPBASER outer shareable → inner', sanitisePropbaser, 0x0000_0000_4001_0b80n, 0x0000_0000_4001_0780n],
    ['PROPBASER inner nCnB → RaWb', sanitisePropbaser, 0x0000_0000_4001_0400n, 0x0000_0000_4001_0580n],
    ['PROPBASER inner nC → RaWb', sanitisePropbaser, 0x0000_0000_4001_0480n, 0x0000_0000_4001_0580n],
    ['PROPBASER outer RaWb → SameAsInner', sanitisePropbaser, 0x0300_0000_4001_0780n, 0x0000_0000_4001_0780n],
    ['PROPBASER outer nC kept', sanitisePropbaser, 0x0100_0000_4001_0780n, 0x0100_0000_4001_0780n],
    ['PROPBASER RES0 cleared', sanitisePropbaser, 0xf8f0_0000_4001_07e0n, 0x0000_0000_4001_0780n],
    ['PENDBASER RES0 cleared, PTZ kept', sanitisePendbaser, 0xfaf0_0000_4001_f7ffn, 0x4000_0000_4001_0780n],
    [
      'PENDBASER shareability 3 (reserved) kept',
      sanitisePendbaser,
      0x0000_0000_4001_0d80n,
      0x0000_0000_4001_0d80n,
    ],
  ])('%s', (_what, fn, value, expected) => {
    expect(fn(value)).toBe(expected);
  });

  it('PROPBASER is one value for the VM, written through any redistributor', () => {
    const vm = gicVm();
    write(vm, 0x0070, 0x4001_0f8fn, 8, 1);
    expect(read(vm, 0x0070, 8, 0)).toBe(0x4001_0f8fn);
    expect(gicOf(vm).propbaser).toBe(0x4001_0f8fn);
  });

  it('32-bit halves update only the addressed half, each sanitised', () => {
    const vm = gicVm();
    write(vm, 0x0070, 0x4001_0380n, 4);
    write(vm, 0x0074, 0x0000_0012n, 4);
    expect(read(vm, 0x0070, 8)).toBe(0x0000_0012_4001_0380n);
    expect(read(vm, 0x0074, 4)).toBe(0x12n);
    write(vm, 0x007c, 0x0000_0034n, 4);
    expect(read(vm, 0x0078, 8)).toBe(0x0000_0034_0000_0580n);
  });

  it('PROPBASER writes are ignored while THIS vCPU has EnableLPIs, not while another does', () => {
    const vm = gicVm({ its: true });
    write(vm, 0, 1n, 4, 0);
    write(vm, 0x0070, 0x4001_0780n, 8, 0);
    expect(gicOf(vm).propbaser).toBe(0n);
    write(vm, 0x0070, 0x4001_0780n, 8, 1);
    expect(gicOf(vm).propbaser).toBe(0x4001_0780n);
  });

  it('PENDBASER writes are ignored while EnableLPIs', () => {
    const vm = gicVm({ its: true });
    write(vm, 0x0078, 0x5000_0780n, 8);
    write(vm, 0, 1n);
    write(vm, 0x0078, 0x6000_0780n, 8);
    expect(uset(vm, 0x0078, 0x7000_0780n)).toBe(0);
    expect(read(vm, 0x0078, 8)).toBe(0x5000_0780n);
  });

  it('PENDBASER is per vCPU', () => {
    const vm = gicVm();
    write(vm, 0x0078, 0x5000_0780n, 8, 1);
    expect(read(vm, 0x0078, 8, 0)).toBe(0x580n);
    expect(read(vm, 0x0078, 8, 1)).toBe(0x5000_0780n);
  });

  it('PTZ is stored but reads 0, for guest and userspace', () => {
    const vm = gicVm();
    write(vm, 0x0078, (1n << 62n) | 0x5000_0780n, 8);
    expect(cpuOf(vm).pendbaser).toBe((1n << 62n) | 0x5000_0780n);
    expect(read(vm, 0x0078, 8)).toBe(0x5000_0780n);
    expect(uget(vm, 0x007c)).toBe(0n);
  });

  it('quirk pendbaser-ptz-readable: PTZ reads back as written', () => {
    const vm = gicVm({ quirks: ['pendbaser-ptz-readable'] });
    expect(uset(vm, 0x007c, 0x4000_0000n)).toBe(0);
    expect(read(vm, 0x0078, 8)).toBe((1n << 62n) | 0x580n);
    expect(uget(vm, 0x007c)).toBe(0x4000_0000n);
  });
});

describe('SGI_base frame: guest write then read-back', () => {
  it.each([
    ['GICR_IGROUPR0', SGI + 0x0080, 4, 0x0000_00ffn, SGI + 0x0080, 0x0000_00ffn],
    ['GICR_ISENABLER0 (PPIs)', SGI + 0x0100, 4, 0x8000_0000n, SGI + 0x0100, 0x8000_ffffn],
    ['GICR_ICENABLER0', SGI + 0x0180, 4, 0x0000_0003n, SGI + 0x0100, 0x0000_fffcn],
    ['GICR_ISPENDR0', SGI + 0x0200, 4, 0x0001_0002n, SGI + 0x0280, 0x0001_0002n],
    ['GICR_ISACTIVER0', SGI + 0x0300, 4, 0x0000_0100n, SGI + 0x0380, 0x0000_0100n],
    ['GICR_IPRIORITYR0 word', SGI + 0x0400, 4, 0xffee_ddccn, SGI + 0x0400, 0xf8e8_d8c8n],
    ['GICR_IPRIORITYR byte 27', SGI + 0x041b, 1, 0xa5n, SGI + 0x0418, 0xa0_0000_00n],
    ['GICR_ICFGR0 is read-only', SGI + 0x0c00, 4, 0n, SGI + 0x0c00, 0xaaaa_aaaan],
    ['GICR_ICFGR1 is read-only', SGI + 0x0c04, 4, 0xaaaa_aaaan, SGI + 0x0c04, 0n],
    ['GICR_IGRPMODR0 is RAZ/WI', SGI + 0x0d00, 4, 0xffff_ffffn, SGI + 0x0d00, 0n],
    ['GICR_NSACR is RAZ/WI', SGI + 0x0e00, 4, 0xffff_ffffn, SGI + 0x0e00, 0n],
    ['GICR_STATUSR is RAZ/WI', 0x0010, 4, 0xffff_ffffn, 0x0010, 0n],
    ['GICR_WAKER is RAZ/WI', 0x0014, 4, 0x2n, 0x0014, 0n],
    ['GICR_IIDR is read-only', 0x0004, 4, 0n, 0x0004, 0x4b00_043bn],
  ])('%s', (_name, wOff, wSize, value, rOff, expected) => {
    const vm = gicVm();
    write(vm, wOff, value, wSize);
    expect(read(vm, rOff)).toBe(expected);
  });

  it('a frame addresses its own vCPU only', () => {
    const vm = gicVm({ vcpus: 3 });
    write(vm, SGI + 0x0200, 0x1n, 4, 2);
    expect(cpuOf(vm, 2).irqs[0]!.pendingLatch).toBe(true);
    expect(cpuOf(vm, 0).irqs[0]!.pendingLatch).toBe(false);
    expect(read(vm, SGI + 0x0200, 4, 1)).toBe(0n);
  });

  it('userspace ISPENDR0 is the latch, ICPENDR0 RAZ/WI', () => {
    const vm = gicVm();
    cpuOf(vm).irqs[20]!.lineLevel = true; // a PPI (level) with its line high
    expect(read(vm, SGI + 0x0200)).toBe(1n << 20n);
    expect(uget(vm, SGI + 0x0200)).toBe(0n);
    expect(uset(vm, SGI + 0x0200, 0x3n)).toBe(0);
    expect(uget(vm, SGI + 0x0280)).toBe(0n);
    expect(uset(vm, SGI + 0x0280, 0xffff_ffffn)).toBe(0);
    expect(uget(vm, SGI + 0x0200)).toBe(0x3n);
    expect(uset(vm, SGI + 0x0200, 0x2n)).toBe(0);
    expect(cpuOf(vm).irqs[0]!.pendingLatch).toBe(false);
  });
});

describe('bad widths and misalignment are RAZ/WI', () => {
  it.each([
    ['GICR_CTLR byte', 0x0000, 1],
    ['GICR_CTLR doubleword', 0x0000, 8],
    ['GICR_TYPER halfword', 0x0008, 2],
    ['GICR_TYPER byte', 0x0008, 1],
    ['GICR_PROPBASER misaligned doubleword', 0x0074, 8],
    ['GICR_PENDBASER byte', 0x0078, 1],
    ['GICR_ISENABLER0 byte', SGI + 0x0100, 1],
    ['GICR_ISENABLER0 doubleword', SGI + 0x0100, 8],
    ['GICR_IPRIORITYR halfword', SGI + 0x0400, 2],
    ['GICR_IPRIORITYR misaligned word', SGI + 0x0402, 4],
    ['GICR_ICFGR0 doubleword', SGI + 0x0c00, 8],
    ['past the frames', 0x2_0000, 4],
  ])('%s', (_name, offset, size) => {
    const vm = gicVm({ its: true });
    write(vm, 0x0078, 0x5000_0780n, 8);
    const before = structuredClone(vm);
    expect(read(vm, offset, size)).toBe(0n);
    write(vm, offset, 0xffff_ffff_ffff_ffffn, size);
    expect(vm).toEqual(before);
  });

  it.each([
    [0x0000, 0],
    [0x0001, -ENXIO],
    [0x0008, 0],
    [0x000c, 0],
    [0x0018, -ENXIO],
    [0x0040, -ENXIO],
    [0x00c0, 0],
    [0xffe8, 0],
    [SGI + 0x0080, 0],
    [SGI + 0x0084, -ENXIO],
    [SGI + 0x041c, 0],
    [SGI + 0x0c04, 0],
    [SGI + 0x0c08, -ENXIO],
    [SGI + 0x0e00, 0],
  ])('has_attr at %d → %d', (offset, rc) => {
    const vm = gicVm();
    expect(redistHasRegister(vm, vm.vcpus[0]!, offset)).toBe(rc);
  });
});

describe('frames and placement helpers', () => {
  it('redistVcpuAt and redistFrameBase follow region/slot', () => {
    const vm = gicVm({
      vcpus: 3,
      regions: [
        { index: 0, base: 0x0100_0000, count: 1, freeIndex: 1 },
        { index: 1, base: 0x0200_0000, count: 2, freeIndex: 2 },
      ],
      placement: [
        [0, 0],
        [1, 0],
        [1, 1],
      ],
    });
    expect(redistVcpuAt(vm, 1, 1)?.id).toBe(2);
    expect(redistVcpuAt(vm, 0, 1)).toBeUndefined();
    expect(redistFrameBase(gicOf(vm), cpuOf(vm, 2))).toBe(0x0202_0000);
  });

  it('the registry handler picks the vCPU from region.index, not from the accessor', () => {
    const vm = gicVm({ vcpus: 2 });
    const handler = makeRedistMmioHandler(hooks);
    const region = { base: 0x080c_0000, size: 0x2_0000, handler: 'gicr', index: 1 };
    handler.write({ vm, vcpu: vm.vcpus[0]!, region, offset: SGI + 0x0200, size: 4 }, 0x4n, fx as never);
    expect(cpuOf(vm, 1).irqs[2]!.pendingLatch).toBe(true);
    expect(cpuOf(vm, 0).irqs[2]!.pendingLatch).toBe(false);
    expect(handler.read({ vm, vcpu: vm.vcpus[0]!, region, offset: 0x000c, size: 4 }, fx as never)).toBe(1n);
    const stray = { ...region, index: 7 };
    expect(
      handler.read({ vm, vcpu: vm.vcpus[0]!, region: stray, offset: 0x0004, size: 4 }, fx as never),
    ).toBe(0n);
  });
});
