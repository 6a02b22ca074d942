// GICv4.1 direct vSGIs (devices/gicv3/vsgi.ts and the nASSGIreq rules of GICD_CTLR in
// dist-registers.ts): latching, moving SGIs to and from the vPE pending store, no active state,
// userspace pending reads of the hardware state and the `vsgi-pending-latch-only` quirk that
// loses them on save. vgic-v3.md §2.3.1, §5.

import { describe, expect, it } from 'vitest';
import { distUaccessWrite, GICD_REGISTERS } from '../../../devices/gicv3/dist-registers.js';
import {
  GICR_REGISTERS,
  redistUaccessRead,
  redistUaccessWrite,
} from '../../../devices/gicv3/redist-registers.js';
import { NO_EFFECTS } from '../../../devices/gicv3/regs-common.js';
import { configureVsgis, disableVsgis, enableVsgis } from '../../../devices/gicv3/vsgi.js';
import type { HostKind } from '../../../engine/events.js';
import type { VmState } from '../../../engine/state.js';
import { cpuOf, frameAccess, gicVm } from '../../helpers/gic.js';

/** Two vCPUs on a GICv4.1 host by default, past INIT and first run. */
const makeVm = (host: HostKind = 'gicv4.1', quirks: string[] = []): VmState =>
  gicVm({ host, quirks, ready: true });

const SGI = 0x1_0000;
const fx = NO_EFFECTS;
const gicd = frameAccess(GICD_REGISTERS, fx);
const gicr = frameAccess(GICR_REGISTERS, fx);

function hwSgis(vm: VmState, k = 0): boolean[] {
  return cpuOf(vm, k)
    .irqs.slice(0, 16)
    .map((irq) => irq.hw);
}

describe('GICD_CTLR.nASSGIreq latching (guest)', () => {
  it.each([
    // [what, host, initial CTLR (userspace), guest write, CTLR after, SGIs hw]
    ['set while disabled', 'gicv4.1', 0x0n, 0x100n, 0x150n, true],
    ['set together with the enable', 'gicv4.1', 0x0n, 0x102n, 0x152n, true],
    ['set while staying enabled: read-only', 'gicv4.1', 0x2n, 0x102n, 0x52n, false],
    ['clear while staying enabled: read-only', 'gicv4.1', 0x102n, 0x2n, 0x152n, true],
    ['clear while disabling', 'gicv4.1', 0x102n, 0x0n, 0x50n, false],
    ['set while disabling', 'gicv4.1', 0x2n, 0x100n, 0x150n, true],
    ['no vSGIs on a GICv3 host', 'gicv3', 0x0n, 0x102n, 0x52n, false],
  ] as const)('%s', (_what, host, initial, value, after, hw) => {
    const vm = makeVm(host);
    expect(distUaccessWrite(vm, vm.vcpus[0]!, 0, initial, fx)).toBe(0);
    // userspace stores without moving SGIs; first run applies it
    configureVsgis(vm, vm.devices.gic!);
    gicd.write(vm, 0, value);
    expect(gicd.read(vm, 0)).toBe(after);
    expect(hwSgis(vm, 0).every((h) => h === hw)).toBe(true);
    expect(hwSgis(vm, 1).every((h) => h === hw)).toBe(true);
  });

  it('nASSGIcap cleared by userspace before INIT masks nASSGIreq on a GICv4.1 host', () => {
    const vm = makeVm();
    vm.devices.gic!.nassgicap = false;
    gicd.write(vm, 0, 0x100n);
    expect(gicd.read(vm, 0)).toBe(0x50n);
    expect(distUaccessWrite(vm, vm.vcpus[0]!, 0, 0x100n, fx)).toBe(0);
    expect(gicd.read(vm, 0)).toBe(0x50n);
  });

  it('userspace GICD_CTLR stores nASSGIreq without moving SGIs (the switch happens at first run)', () => {
    const vm = makeVm();
    cpuOf(vm).irqs[3]!.pendingLatch = true;
    expect(distUaccessWrite(vm, vm.vcpus[0]!, 0, 0x102n, fx)).toBe(0);
    expect(vm.devices.gic!.nassgireq).toBe(true);
    expect(hwSgis(vm).some((h) => h)).toBe(false);
    configureVsgis(vm, vm.devices.gic!);
    expect(hwSgis(vm).every((h) => h)).toBe(true);
    expect(cpuOf(vm).vsgiPending[3]).toBe(true);
    expect(cpuOf(vm).irqs[3]!.pendingLatch).toBe(false);
  });
});

describe('moving SGIs to and from the vPE', () => {
  it('enable moves latches into the store, disable moves them back; PPIs untouched', () => {
    const vm = makeVm();
    const c = cpuOf(vm);
    c.irqs[1]!.pendingLatch = true;
    c.irqs[20]!.pendingLatch = true;
    enableVsgis(c);
    expect(c.vsgiPending[1]).toBe(true);
    expect(c.irqs[1]!.pendingLatch).toBe(false);
    expect(c.irqs[20]!.hw).toBe(false);
    expect(c.irqs[20]!.pendingLatch).toBe(true);
    c.vsgiPending[5] = true;
    enableVsgis(c); // already hw: nothing moves
    expect(c.vsgiPending[5]).toBe(true);
    disableVsgis(c);
    expect(c.irqs.slice(0, 16).map((i) => i.pendingLatch)).toEqual(
      Array.from({ length: 16 }, (_, i) => i === 1 || i === 5),
    );
    expect(c.vsgiPending.every((p) => !p)).toBe(true);
  });

  it('guest pending and active accesses to hw SGIs', () => {
    const vm = makeVm();
    gicd.write(vm, 0, 0x102n);
    gicr.write(vm, SGI + 0x0200, 0x0001_0009n); // SGIs 0, 3 and PPI 16
    expect(cpuOf(vm).vsgiPending.slice(0, 4)).toEqual([true, false, false, true]);
    expect(cpuOf(vm).irqs[0]!.pendingLatch).toBe(false);
    expect(cpuOf(vm).irqs[16]!.pendingLatch).toBe(true);
    expect(gicr.read(vm, SGI + 0x0200)).toBe(0x0001_0009n);
    gicr.write(vm, SGI + 0x0280, 0x1n);
    expect(gicr.read(vm, SGI + 0x0200)).toBe(0x0001_0008n);
    gicr.write(vm, SGI + 0x0300, 0x0001_0001n);
    expect(gicr.read(vm, SGI + 0x0300)).toBe(0x0001_0000n);
    gicr.write(vm, SGI + 0x0400, 0xffn); // priority and enable stay on the IRQ
    expect(cpuOf(vm).irqs[0]!.priority).toBe(0xf8);
  });

  it('disabling via GICD_CTLR brings HW pending back into the latch', () => {
    const vm = makeVm();
    gicd.write(vm, 0, 0x100n);
    gicr.write(vm, SGI + 0x0200, 0x4n, 4, 1);
    gicd.write(vm, 0, 0n);
    expect(cpuOf(vm, 1).irqs[2]!.pendingLatch).toBe(true);
    expect(cpuOf(vm, 1).irqs[2]!.hw).toBe(false);
    expect(gicr.read(vm, SGI + 0x0200, 4, 1)).toBe(0x4n);
  });
});

describe('userspace pending state of hw SGIs (save/restore)', () => {
  it('get returns the vPE pending state; set goes to the vPE and leaves the latch 0', () => {
    const vm = makeVm();
    gicd.write(vm, 0, 0x100n);
    gicr.write(vm, SGI + 0x0200, 0x2n);
    expect(redistUaccessRead(vm, vm.vcpus[0]!, SGI + 0x0200, fx)).toEqual({ rc: 0, value: 0x2n });
    expect(redistUaccessWrite(vm, vm.vcpus[0]!, SGI + 0x0200, 0x0001_0004n, fx)).toBe(0);
    expect(cpuOf(vm).vsgiPending.slice(0, 3)).toEqual([false, false, true]);
    expect(cpuOf(vm).irqs[2]!.pendingLatch).toBe(false);
    expect(cpuOf(vm).irqs[16]!.pendingLatch).toBe(true);
  });

  it('quirk vsgi-pending-latch-only: the same get loses the pending vSGI', () => {
    const vm = makeVm('gicv4.1', ['vsgi-pending-latch-only']);
    gicd.write(vm, 0, 0x100n);
    gicr.write(vm, SGI + 0x0200, 0x2n);
    expect(gicr.read(vm, SGI + 0x0200)).toBe(0x2n);
    expect(redistUaccessRead(vm, vm.vcpus[0]!, SGI + 0x0200, fx)).toEqual({ rc: 0, value: 0n });
  });
});
