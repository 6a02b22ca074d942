// The vGICv3 distributor frame (devices/gicv3/dist-registers.ts) register by register:
// reset values, guest write/read-back, userspace (DIST_REGS) differences, the RAZ/WI slice of
// INTIDs 0–31, bad widths and misalignment, INTIDs beyond nr_spis, has_attr. Values follow
// vgic-v3.md §2.3 (Linux vgic-mmio-v3.c vgic_v3_dist_registers[]); the GICD_TYPER examples are
// those of the reference, the IIDR/TYPER2 errors those of vgic_init.c / vgic_group_iidr.c.

import { describe, expect, it } from 'vitest';
import {
  distHasRegister,
  distMmioHandler,
  distUaccessRead,
  distUaccessWrite,
  GICD_REGISTERS,
} from '../../../devices/gicv3/dist-registers.js';
import { EBUSY, EINVAL, ENXIO } from '../../../engine/errno.js';
import type { VmState } from '../../../engine/state.js';
import { effectSink, frameAccess, type GicVmOptions, gicOf, gicVm } from '../../helpers/gic.js';

const fx = effectSink();
const { read, write } = frameAccess(GICD_REGISTERS, fx);

// Userspace DIST_REGS accesses (KVM routes them through vCPU 0).
function uget(vm: VmState, offset: number): bigint {
  const r = distUaccessRead(vm, vm.vcpus[0]!, offset, fx);
  expect(r.rc).toBe(0);
  return r.value;
}
function uset(vm: VmState, offset: number, value: bigint): number {
  return distUaccessWrite(vm, vm.vcpus[0]!, offset, value, fx);
}
function spi(vm: VmState, intid: number) {
  return gicOf(vm).spis[intid - 32]!;
}

describe('reset values (guest and userspace read alike)', () => {
  it.each([
    ['GICD_CTLR', 0x0000, {}, 0x50n],
    ['GICD_TYPER 256 IRQs', 0x0004, {}, 0x0048_0007n],
    ['GICD_TYPER 64 IRQs', 0x0004, { nrIrqs: 64 }, 0x0048_0001n],
    ['GICD_TYPER 1024 IRQs', 0x0004, { nrIrqs: 1024 }, 0x0048_001fn],
    ['GICD_TYPER 256 IRQs with an ITS', 0x0004, { its: true }, 0x007a_0007n],
    ['GICD_IIDR', 0x0008, {}, 0x4b00_343bn],
    ['GICD_TYPER2 on gicv3', 0x000c, {}, 0n],
    ['GICD_TYPER2 on gicv4.1', 0x000c, { host: 'gicv4.1' as const }, 0x100n],
    ['GICD_STATUSR', 0x0010, {}, 0xffff_ffffn],
    ['GICD_SETSPI_NSR (hole)', 0x0040, {}, 0n],
    ['GICD_IGROUPR0 (private slice)', 0x0080, {}, 0n],
    ['GICD_IGROUPR1', 0x0084, {}, 0xffff_ffffn],
    ['GICD_IGROUPR7', 0x009c, {}, 0xffff_ffffn],
    ['GICD_ISENABLER1', 0x0104, {}, 0n],
    ['GICD_ICENABLER1', 0x0184, {}, 0n],
    ['GICD_ISPENDR1', 0x0204, {}, 0n],
    ['GICD_ICPENDR1', 0x0284, {}, 0n],
    ['GICD_ISACTIVER1', 0x0304, {}, 0n],
    ['GICD_ICACTIVER1', 0x0384, {}, 0n],
    ['GICD_IPRIORITYR8', 0x0420, {}, 0n],
    ['GICD_ITARGETSR8', 0x0820, {}, 0n],
    ['GICD_ICFGR0 (private slice)', 0x0c00, {}, 0n],
    ['GICD_ICFGR1 (private slice)', 0x0c04, {}, 0n],
    ['GICD_ICFGR2', 0x0c08, {}, 0xaaaa_aaaan],
    ['GICD_IGRPMODR1', 0x0d04, {}, 0n],
    ['GICD_NSACR2 (hole)', 0x0e08, {}, 0n],
    ['GICD_SGIR (hole)', 0x0f00, {}, 0n],
    ['GICD_IROUTER32', 0x6100, {}, 0n],
    ['GICD_PIDR2', 0xffe8, {}, 0x3bn],
    ['GICD_PIDR0', 0xffe0, {}, 0n],
    ['GICD_CIDR1', 0xfff4, {}, 0n],
  ])('%s', (_name, offset, opts: GicVmOptions, expected) => {
    const vm = gicVm(opts);
    expect(read(vm, offset)).toBe(expected);
    expect(uget(vm, offset)).toBe(expected);
  });

  it('GICD_TYPER before NR_IRQS/INIT reports one line of 32', () => {
    expect(read(gicVm({ init: false }), 0x0004)).toBe(0x0048_0000n);
  });
});

describe('guest write then read-back', () => {
  it.each([
    ['GICD_CTLR EnableGrp1A', 0x0000, 4, 0x2n, 0x0000, 4, 0x52n],
    ['GICD_CTLR nASSGIreq masked without vSGIs', 0x0000, 4, 0xffff_ffffn, 0x0000, 4, 0x52n],
    ['GICD_TYPER is read-only', 0x0004, 4, 0n, 0x0004, 4, 0x0048_0007n],
    ['GICD_IIDR is read-only for the guest', 0x0008, 4, 0x4b00_243bn, 0x0008, 4, 0x4b00_343bn],
    ['GICD_TYPER2 is read-only for the guest', 0x000c, 4, 0x100n, 0x000c, 4, 0n],
    ['GICD_STATUSR is RAO/WI', 0x0010, 4, 0n, 0x0010, 4, 0xffff_ffffn],
    ['GICD_IGROUPR1', 0x0084, 4, 0x0000_ff00n, 0x0084, 4, 0x0000_ff00n],
    ['GICD_ISENABLER1', 0x0104, 4, 0x8000_0001n, 0x0104, 4, 0x8000_0001n],
    ['GICD_ISENABLER1 seen through ICENABLER1', 0x0104, 4, 0x10n, 0x0184, 4, 0x10n],
    ['GICD_ISPENDR2', 0x0208, 4, 0x3n, 0x0208, 4, 0x3n],
    ['GICD_ISPENDR2 seen through ICPENDR2', 0x0208, 4, 0x3n, 0x0288, 4, 0x3n],
    ['GICD_ISACTIVER1', 0x0304, 4, 0x4n, 0x0384, 4, 0x4n],
    ['GICD_IPRIORITYR8 word, low bits dropped', 0x0420, 4, 0x1234_5678n, 0x0420, 4, 0x1030_5078n],
    ['GICD_IPRIORITYR byte', 0x0421, 1, 0xffn, 0x0420, 4, 0x0000_f800n],
    ['GICD_IPRIORITYR byte read', 0x0420, 4, 0x1020_3040n, 0x0422, 1, 0x20n],
    ['GICD_ITARGETSR is RAZ/WI', 0x0820, 4, 0x0101_0101n, 0x0820, 4, 0n],
    ['GICD_ICFGR2 level', 0x0c08, 4, 0n, 0x0c08, 4, 0n],
    ['GICD_ICFGR2 only the odd bits count', 0x0c08, 4, 0x5555_5556n, 0x0c08, 4, 0x2n],
    ['GICD_IGRPMODR1 is RAZ/WI', 0x0d04, 4, 0xffff_ffffn, 0x0d04, 4, 0n],
    ['GICD_IROUTER40 64-bit, IRM and Aff3 dropped', 0x6140, 8, 0xff_8012_3456n, 0x6140, 8, 0x12_3456n],
    ['GICD_IROUTER40 low word', 0x6140, 4, 0x0000_0102n, 0x6140, 4, 0x102n],
    ['GICD_IROUTER40 high word is WI', 0x6144, 4, 0x5n, 0x6140, 8, 0n],
    ['GICD_IROUTER40 high word is RAZ', 0x6140, 8, 0x0001_0203n, 0x6144, 4, 0n],
    ['GICD_PIDR2 is read-only', 0xffe8, 4, 0n, 0xffe8, 4, 0x3bn],
  ])('%s', (_name, wOff, wSize, value, rOff, rSize, expected) => {
    const vm = gicVm();
    write(vm, wOff, value, wSize);
    expect(read(vm, rOff, rSize)).toBe(expected);
  });

  it('set/clear pairs: ICENABLER, ICPENDR, ICACTIVER clear only the written bits', () => {
    const vm = gicVm();
    for (const [set, clear] of [
      [0x0104, 0x0184],
      [0x0204, 0x0284],
      [0x0304, 0x0384],
    ] as const) {
      write(vm, set, 0xffn);
      write(vm, clear, 0x0fn);
      expect(read(vm, set)).toBe(0xf0n);
      write(vm, set, 0n);
      expect(read(vm, set)).toBe(0xf0n);
    }
  });

  it('pending reads are is_pending: a level SPI with its line high reads pending, ICPENDR leaves the line', () => {
    const vm = gicVm();
    write(vm, 0x0c10, 0n); // INTIDs 64.. level
    spi(vm, 64).lineLevel = true;
    expect(read(vm, 0x0208)).toBe(1n);
    write(vm, 0x0288, 1n);
    expect(read(vm, 0x0208)).toBe(1n);
    expect(spi(vm, 64).lineLevel).toBe(true);
    // an edge SPI ignores its line
    spi(vm, 33).lineLevel = true;
    expect(read(vm, 0x0204) & 2n).toBe(0n);
  });

  it('GICD_IROUTER keeps an affinity no vCPU has (no target), and state holds Aff2.Aff1.Aff0', () => {
    const vm = gicVm();
    write(vm, 0x6100, 0x00ff_0001n, 8);
    expect(spi(vm, 32).mpidr).toBe(0xff_0001);
    write(vm, 0x6100, 1n, 8);
    expect(spi(vm, 32).mpidr).toBe(1);
  });

  it('GICD_CTLR: disable clears EnableGrp1A; EnableGrp0 and RWP stay 0', () => {
    const vm = gicVm();
    write(vm, 0, 0x8000_0003n);
    expect(read(vm, 0)).toBe(0x52n);
    write(vm, 0, 0n);
    expect(read(vm, 0)).toBe(0x50n);
    expect(gicOf(vm).enabled).toBe(false);
  });

  it('IIDR revision 2 keeps IGROUPR writable (groups configurable since revision 2)', () => {
    const vm = gicVm();
    expect(uset(vm, 0x0008, 0x4b00_243bn)).toBe(0);
    write(vm, 0x0084, 0n);
    expect(read(vm, 0x0084)).toBe(0n);
  });

  it('no handler emits an effect (KVM logs nothing on these paths)', () => {
    const vm = gicVm();
    fx.effects.length = 0;
    for (let off = 0; off < 0x1000; off += 4) write(vm, off, 0xffff_ffffn);
    expect(fx.effects).toEqual([]);
  });
});

describe('RAZ/WI private slice of shared per-IRQ registers', () => {
  it.each([
    ['GICD_IGROUPR0', 0x0080, 4],
    ['GICD_ISENABLER0', 0x0100, 4],
    ['GICD_ICENABLER0', 0x0180, 4],
    ['GICD_ISPENDR0', 0x0200, 4],
    ['GICD_ICPENDR0', 0x0280, 4],
    ['GICD_ISACTIVER0', 0x0300, 4],
    ['GICD_ICACTIVER0', 0x0380, 4],
    ['GICD_IPRIORITYR0', 0x0400, 4],
    ['GICD_IPRIORITYR7', 0x041c, 4],
    ['GICD_IPRIORITYR byte 31', 0x041f, 1],
    ['GICD_ICFGR1', 0x0c04, 4],
    ['GICD_IGRPMODR0', 0x0d00, 4],
    ['GICD_IROUTER31', 0x60f8, 8],
  ])('%s reads 0 and ignores writes from guest and userspace', (_name, offset, size) => {
    const vm = gicVm();
    const before = structuredClone(vm);
    expect(read(vm, offset, size)).toBe(0n);
    write(vm, offset, 0xffff_ffff_ffff_ffffn, size);
    expect(vm).toEqual(before);
    if (size === 4) {
      expect(uget(vm, offset)).toBe(0n);
      expect(uset(vm, offset, 0xffff_ffffn)).toBe(0);
      expect(vm).toEqual(before);
    }
  });
});

describe('bad widths and misalignment are RAZ/WI, never a throw', () => {
  it.each([
    ['GICD_CTLR byte', 0x0000, 1],
    ['GICD_CTLR halfword', 0x0000, 2],
    ['GICD_CTLR doubleword', 0x0000, 8],
    ['GICD_TYPER misaligned byte', 0x0005, 1],
    ['GICD_ISENABLER1 doubleword', 0x0104, 8],
    ['GICD_ISENABLER1 byte', 0x0104, 1],
    ['GICD_ISENABLER1 misaligned word', 0x0106, 4],
    ['GICD_IPRIORITYR halfword', 0x0420, 2],
    ['GICD_IPRIORITYR misaligned word', 0x0421, 4],
    ['GICD_IPRIORITYR doubleword', 0x0420, 8],
    ['GICD_ICFGR2 byte', 0x0c08, 1],
    ['GICD_IROUTER32 misaligned doubleword', 0x6104, 8],
    ['GICD_IROUTER32 byte', 0x6100, 1],
    ['size 3', 0x0104, 3],
    ['size 16', 0x0100, 16],
    ['past the frame', 0x1_0000, 4],
    ['straddling the frame end', 0xfffc, 8],
  ])('%s', (_name, offset, size) => {
    const vm = gicVm();
    write(vm, 0x0104, 0xffff_ffffn); // something non-zero to read back
    write(vm, 0x0420, 0xf8f8_f8f8n);
    write(vm, 0x6100, 1n, 8);
    const before = structuredClone(vm);
    expect(read(vm, offset, size)).toBe(0n);
    write(vm, offset, 0n, size);
    write(vm, offset, 0xffff_ffff_ffff_ffffn, size);
    expect(vm).toEqual(before);
  });

  it('userspace offsets that are misaligned read 0 and ignore writes, rc 0', () => {
    const vm = gicVm();
    write(vm, 0x0104, 0xffff_ffffn);
    expect(uget(vm, 0x0105)).toBe(0n);
    expect(uset(vm, 0x0106, 0n)).toBe(0);
    expect(read(vm, 0x0104)).toBe(0xffff_ffffn);
  });
});

describe('INTIDs beyond nr_spis', () => {
  it.each([
    ['GICD_IGROUPR2', 0x0088, 4],
    ['GICD_ISENABLER2', 0x0108, 4],
    ['GICD_ISPENDR31', 0x027c, 4],
    ['GICD_IPRIORITYR16', 0x0440, 4],
    ['GICD_IPRIORITYR byte 64', 0x0440, 1],
    ['GICD_ICFGR4', 0x0c10, 4],
    ['GICD_IROUTER64', 0x6200, 8],
    ['GICD_IROUTER1019 high', 0x7fdc, 4],
  ])('%s is RAZ/WI with 64 IRQs and has_attr says -ENXIO', (_name, offset, size) => {
    const vm = gicVm({ nrIrqs: 64 });
    const before = structuredClone(vm);
    write(vm, offset, 0xffff_ffff_ffff_ffffn, size);
    expect(read(vm, offset, size)).toBe(0n);
    expect(vm).toEqual(before);
    expect(distHasRegister(vm, vm.vcpus[0]!, offset & ~3)).toBe(-ENXIO);
  });

  it('the last SPI word still works (INTID 63)', () => {
    const vm = gicVm({ nrIrqs: 64 });
    write(vm, 0x0104, 0x8000_0000n);
    expect(spi(vm, 63).enabled).toBe(true);
    write(vm, 0x61f8, 0x3n, 8);
    expect(read(vm, 0x61f8, 8)).toBe(3n);
  });

  it('before INIT (nr_spis 0) every SPI register is a hole', () => {
    const vm = gicVm({ init: false });
    expect(distHasRegister(vm, vm.vcpus[0]!, 0x0104)).toBe(-ENXIO);
    expect(read(vm, 0x0c08)).toBe(0n);
    expect(distHasRegister(vm, vm.vcpus[0]!, 0x0008)).toBe(0);
  });
});

describe('has_attr (DIST_REGS)', () => {
  it.each([
    [0x0000, 0],
    [0x0002, -ENXIO],
    [0x0010, 0],
    [0x0014, -ENXIO],
    [0x0040, -ENXIO],
    [0x0080, 0],
    [0x0100, 0],
    [0x0104, 0],
    [0x0420, 0],
    [0x0e00, -ENXIO],
    [0x6100, 0],
    [0x6104, 0],
    [0xffe8, 0],
    [0xffcc, -ENXIO],
  ])('offset 0x%s → %d', (offset, rc) => {
    const vm = gicVm();
    expect(distHasRegister(vm, vm.vcpus[0]!, offset)).toBe(rc);
  });
});

describe('userspace (DIST_REGS) semantics', () => {
  it.each([
    ['revision 2', 0x4b00_243bn, 0, 2],
    ['revision 3', 0x4b00_343bn, 0, 3],
    ['revision 1', 0x4b00_143bn, -EINVAL, 3],
    ['revision 4', 0x4b00_443bn, -EINVAL, 3],
    ['another implementer', 0x4b00_343cn, -EINVAL, 3],
    ['another product', 0x4a00_343bn, -EINVAL, 3],
    ['a variant', 0x4b01_343bn, -EINVAL, 3],
  ])('GICD_IIDR set to %s', (_what, value, rc, rev) => {
    const vm = gicVm();
    expect(uset(vm, 0x0008, value)).toBe(rc);
    expect(gicOf(vm).implementationRev).toBe(rev);
    expect(uget(vm, 0x0008)).toBe(BigInt((0x4b00_043b | (rev << 12)) >>> 0));
  });

  it.each([
    ['gicv3, unchanged', 'gicv3', false, 0n, 0, false],
    ['gicv3, set nASSGIcap', 'gicv3', false, 0x100n, -EINVAL, false],
    ['gicv4.1 before INIT, clear', 'gicv4.1', false, 0n, 0, false],
    ['gicv4.1 before INIT, unchanged', 'gicv4.1', false, 0x100n, 0, true],
    ['gicv4.1 before INIT, other bits', 'gicv4.1', false, 0x101n, -EINVAL, true],
    ['gicv4.1 after INIT, clear', 'gicv4.1', true, 0n, -EBUSY, true],
    ['gicv4.1 after INIT, unchanged', 'gicv4.1', true, 0x100n, 0, true],
    ['gicv3 after INIT, other bits', 'gicv3', true, 0x1n, -EBUSY, false],
  ] as const)('GICD_TYPER2 (6.17+): %s', (_what, host, init, value, rc, cap) => {
    const vm = gicVm({ host, init });
    expect(uset(vm, 0x000c, value)).toBe(rc);
    expect(gicOf(vm).nassgicap).toBe(cap);
  });

  it('GICD_TYPER2: nASSGIcap can be given back before INIT on a GICv4.1 host', () => {
    const vm = gicVm({ host: 'gicv4.1', init: false });
    expect(uset(vm, 0x000c, 0n)).toBe(0);
    expect(uset(vm, 0x000c, 0x100n)).toBe(0);
    expect(gicOf(vm).nassgicap).toBe(true);
  });

  it('GICD_CTLR: a plain store, nASSGIreq masked without vSGI support', () => {
    const vm = gicVm();
    expect(uset(vm, 0, 0x102n)).toBe(0);
    expect(uget(vm, 0)).toBe(0x52n);
    expect(uset(vm, 0, 0n)).toBe(0);
    expect(uget(vm, 0)).toBe(0x50n);
  });

  it.each([
    ['GICD_TYPER', 0x0004, 0n, 0x0048_0007n],
    ['GICD_STATUSR', 0x0010, 0n, 0xffff_ffffn],
    ['GICD_PIDR2', 0xffe8, 0n, 0x3bn],
  ])('%s ignores userspace writes with rc 0', (_name, offset, value, after) => {
    const vm = gicVm();
    expect(uset(vm, offset, value)).toBe(0);
    expect(uget(vm, offset)).toBe(after);
  });

  it('ISPENDR get returns the latch only: a level SPI with its line high reads 0', () => {
    const vm = gicVm();
    write(vm, 0x0c10, 0n);
    spi(vm, 64).lineLevel = true;
    expect(read(vm, 0x0208) & 1n).toBe(1n);
    expect(uget(vm, 0x0208) & 1n).toBe(0n);
    spi(vm, 65).pendingLatch = true;
    expect(uget(vm, 0x0208)).toBe(2n);
  });

  it('ISPENDR set assigns the latch (0s clear) whatever the config', () => {
    const vm = gicVm();
    write(vm, 0x0c10, 0n); // level
    expect(uset(vm, 0x0208, 0x5n)).toBe(0);
    expect(spi(vm, 64).pendingLatch).toBe(true);
    expect(spi(vm, 66).pendingLatch).toBe(true);
    expect(uset(vm, 0x0208, 0x4n)).toBe(0);
    expect(spi(vm, 64).pendingLatch).toBe(false);
    expect(spi(vm, 66).pendingLatch).toBe(true);
  });

  it('ICPENDR is RAZ/WI for userspace', () => {
    const vm = gicVm();
    write(vm, 0x0204, 0xffn);
    expect(uget(vm, 0x0284)).toBe(0n);
    expect(uset(vm, 0x0284, 0xffff_ffffn)).toBe(0);
    expect(read(vm, 0x0204)).toBe(0xffn);
  });

  it.each([
    ['GICD_ISENABLER1', 0x0104, 0x0184, 0x3n],
    ['GICD_ISACTIVER1', 0x0304, 0x0384, 0x3n],
    ['GICD_IGROUPR1', 0x0084, 0x0084, 0x3n],
    ['GICD_IPRIORITYR8', 0x0420, 0x0420, 0xf8n],
    ['GICD_ICFGR2', 0x0c08, 0x0c08, 0x8n],
    ['GICD_IROUTER32 low', 0x6100, 0x6100, 0x1n],
  ])('%s: userspace writes as the guest does', (_name, wOff, rOff, value) => {
    const vm = gicVm();
    expect(uset(vm, wOff, value)).toBe(0);
    expect(uget(vm, rOff)).toBe(value);
    expect(read(vm, rOff)).toBe(value);
  });

  it('ICACTIVER set from userspace clears', () => {
    const vm = gicVm();
    write(vm, 0x0304, 0x3n);
    expect(uset(vm, 0x0384, 0x1n)).toBe(0);
    expect(uget(vm, 0x0304)).toBe(0x2n);
  });
});

describe('kernel quirk uaccess-ispendr-guest-view', () => {
  it('get returns latch OR line; set is write-1-to-set', () => {
    const vm = gicVm({ quirks: ['uaccess-ispendr-guest-view'] });
    write(vm, 0x0c10, 0n);
    spi(vm, 64).lineLevel = true;
    expect(uget(vm, 0x0208) & 1n).toBe(1n);
    write(vm, 0x0208, 0x2n);
    expect(uset(vm, 0x0208, 0x4n)).toBe(0);
    expect(spi(vm, 65).pendingLatch).toBe(true);
    expect(spi(vm, 66).pendingLatch).toBe(true);
  });

  it('without the quirk the same writes lose the latch of INTID 65', () => {
    const vm = gicVm();
    write(vm, 0x0208, 0x2n);
    expect(uset(vm, 0x0208, 0x4n)).toBe(0);
    expect(spi(vm, 65).pendingLatch).toBe(false);
  });
});

describe('the registry MMIO handler', () => {
  it('reads and writes through an MmioAccess', () => {
    const vm = gicVm();
    const region = { base: 0x0800_0000, size: 0x1_0000, handler: 'gicd', index: 0 };
    const ctx = { ...fx } as never;
    distMmioHandler.write({ vm, vcpu: vm.vcpus[1]!, region, offset: 0x0104, size: 4 }, 0x1n, ctx);
    expect(distMmioHandler.read({ vm, vcpu: vm.vcpus[1]!, region, offset: 0x0104, size: 4 }, ctx)).toBe(1n);
    expect(spi(vm, 32).enabled).toBe(true);
  });

  it('reads 0 for a VM without a vGIC', () => {
    const vm = gicVm();
    delete vm.devices.gic;
    const region = { base: 0x0800_0000, size: 0x1_0000, handler: 'gicd', index: 0 };
    expect(distMmioHandler.read({ vm, vcpu: vm.vcpus[0]!, region, offset: 0, size: 4 }, fx as never)).toBe(
      0n,
    );
  });
});
