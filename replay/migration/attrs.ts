// The device-attr events a VMM issues during save and restore (qemu-client.md §0): attr encodings
// with the vCPU's MPIDR in bits 63:32, LEVEL_INFO's info field, and the 32-bit halves QEMU uses
// for 64-bit GIC registers.

import { ATTR_GROUPS, CTRL_ATTRS, registerByName } from '../../devices/names.js';
import type { EngineEvent } from '../../engine/events.js';

export const G = {
  DIST: ATTR_GROUPS.DIST_REGS!,
  REDIST: ATTR_GROUPS.REDIST_REGS!,
  SYSREGS: ATTR_GROUPS.CPU_SYSREGS!,
  LEVEL: ATTR_GROUPS.LEVEL_INFO!,
  ITS: ATTR_GROUPS.ITS_REGS!,
  CTRL: ATTR_GROUPS.CTRL!,
  ADDR: ATTR_GROUPS.ADDR!,
  NR_IRQS: ATTR_GROUPS.NR_IRQS!,
} as const;

export const CTRL = CTRL_ATTRS as Readonly<
  Record<'INIT' | 'ITS_SAVE_TABLES' | 'ITS_RESTORE_TABLES' | 'SAVE_PENDING_TABLES' | 'ITS_CTRL_RESET', number>
>;

/** The offset (or ICC encoding) of a register by its spec name. */
export function off(name: string): number {
  const reg = registerByName(name);
  if (!reg) throw new Error(`migration: unknown register ${name}`);
  return reg.offset;
}

/** attr with a vCPU's MPIDR field (KVM_DEV_ARM_VGIC_V3_MPIDR). */
export function withMpidr(affinity: number, low: number): bigint {
  return (BigInt(affinity >>> 0) << 32n) | BigInt(low);
}

/** KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO attr: MPIDR, info LINE_LEVEL (0) in bits 15:10, vINTID. */
export function levelAttr(affinity: number, intid: number): bigint {
  return withMpidr(affinity, intid & 0x3ff);
}

export function get(dev: 'gic' | 'its', group: number, attr: bigint): EngineEvent {
  return { type: 'attr.get', dev, group, attr, preset: null };
}

export function set(dev: 'gic' | 'its', group: number, attr: bigint, value: bigint | null): EngineEvent {
  return { type: 'attr.set', dev, group, attr, value };
}

export const ALL_ONES_32 = 0xffff_ffffn;
