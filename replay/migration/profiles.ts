// VMM profiles for checkpoint migration (qemu-client.md §1 and §5): the order in which each VMM
// flushes the tables, reads the vGIC on the source and writes it on the destination. A profile
// is the VMM's order with its known mistakes factored out: each mistake is a VMM quirk
// (decisions.md "Quirks that must exist"), so every profile without quirks migrates exactly and
// a quirk switches one mistake on, whatever the profile.

/** One group of distributor or redistributor writes of a restore, in profile order. */
export type RestoreItem =
  | 'statusr'
  | 'waker'
  | 'group'
  | 'enable'
  | 'route'
  | 'config'
  | 'level'
  | 'pending'
  | 'active'
  | 'priority';

/** How a clear register (ICENABLER, ICACTIVER, ICPENDR) is written before its set register. */
export type ClearWrite = 'ones' | 'zero' | 'saved' | 'none';

/** The top-level pieces of the destination's restore. */
export type RestorePart = 'gicd_ctlr' | 'lpi_bases' | 'redist' | 'dist' | 'icc' | 'its';

export interface VmmProfileSpec {
  name: string;
  /** Where the order comes from (printed by `vgicrr migrate-check --json` and docs/migration.md). */
  source: string;
  /** Stop handlers: which table flush runs first. */
  flushOrder: readonly ('its' | 'pending')[];
  restoreParts: readonly RestorePart[];
  /** Per-vCPU redistributor writes; GICR_CTLR is written first unless `ctlrAfterBases`. */
  redistOrder: readonly RestoreItem[];
  /** Cloud Hypervisor writes PROPBASER/PENDBASER inside its redistributor loop, before GICR_CTLR. */
  basesInRedistLoop: boolean;
  distOrder: readonly RestoreItem[];
  enableClear: ClearWrite;
  activeClear: ClearWrite;
  pendingClear: ClearWrite;
}

const QEMU_REDIST: readonly RestoreItem[] = [
  'statusr',
  'waker',
  'group',
  'enable',
  'config',
  'level',
  'pending',
  'active',
  'priority',
];
const QEMU_DIST: readonly RestoreItem[] = [
  'statusr',
  'enable',
  'group',
  'route',
  'config',
  'level',
  'pending',
  'active',
  'priority',
];

export const VMM_PROFILES: Readonly<Record<string, VmmProfileSpec>> = {
  qemu: {
    name: 'qemu',
    source:
      'QEMU after August 2025: hw/intc/arm_gicv3_kvm.c kvm_arm_gicv3_get/put, arm_gicv3_its_kvm.c (qemu-client.md §1)',
    flushOrder: ['its', 'pending'],
    restoreParts: ['gicd_ctlr', 'lpi_bases', 'redist', 'dist', 'icc', 'its'],
    redistOrder: QEMU_REDIST,
    basesInRedistLoop: false,
    distOrder: QEMU_DIST,
    enableClear: 'ones',
    activeClear: 'ones',
    pendingClear: 'none',
  },
  'qemu-9': {
    name: 'qemu-9',
    source:
      'QEMU before "Remove writes to ICPENDR registers" and "Write all 1\'s to clear enable/active" (PULL 2025-08-01): clear registers written with 0, ICPENDR written before ISPENDR',
    flushOrder: ['its', 'pending'],
    restoreParts: ['gicd_ctlr', 'lpi_bases', 'redist', 'dist', 'icc', 'its'],
    redistOrder: QEMU_REDIST,
    basesInRedistLoop: false,
    distOrder: QEMU_DIST,
    enableClear: 'zero',
    activeClear: 'zero',
    pendingClear: 'zero',
  },
  'cloud-hypervisor': {
    name: 'cloud-hypervisor',
    source:
      'Cloud Hypervisor hypervisor/src/kvm/aarch64/gic/{mod,dist_regs,redist_regs,icc_regs}.rs: pending tables flushed before the ITS tables; distributor, then redistributors (PROPBASER/PENDBASER before GICR_CTLR), then CPU interfaces; ITS as QEMU. Its clear registers take the saved values: that mistake is the saved-value-clear quirk',
    flushOrder: ['pending', 'its'],
    restoreParts: ['gicd_ctlr', 'dist', 'redist', 'icc', 'its'],
    redistOrder: ['statusr', 'waker', 'group', 'enable', 'config', 'level', 'pending', 'active', 'priority'],
    basesInRedistLoop: true,
    distOrder: ['statusr', 'enable', 'group', 'route', 'config', 'level', 'pending', 'active', 'priority'],
    enableClear: 'ones',
    activeClear: 'ones',
    pendingClear: 'none',
  },
  firecracker: {
    name: 'firecracker',
    source:
      'Firecracker src/vmm/src/arch/aarch64/gic/gicv3/regs/{dist_regs,redist_regs,icc_regs,its_regs}.rs: a snapshot restored into a fresh VM, distributor then redistributors then CPU interfaces; ITS order identical to QEMU',
    flushOrder: ['its', 'pending'],
    restoreParts: ['gicd_ctlr', 'dist', 'lpi_bases', 'redist', 'icc', 'its'],
    redistOrder: ['statusr', 'waker', 'group', 'enable', 'config', 'level', 'pending', 'active', 'priority'],
    basesInRedistLoop: false,
    distOrder: ['statusr', 'group', 'enable', 'route', 'config', 'level', 'pending', 'active', 'priority'],
    enableClear: 'ones',
    activeClear: 'ones',
    pendingClear: 'none',
  },
  gem5: {
    name: 'gem5',
    source:
      "gem5 src/dev/arm/gic_v3.cc copyGicState and src/arch/arm/kvm/gic.cc (KvmKernelGicV3): distributor, each redistributor, each CPU interface; the distributor copy order CTLR, clears, IGROUPR, ISENABLER, ISACTIVER, IPRIORITYR, ICFGR, IROUTER with pending moved after them (the pending-before-config quirk restores gem5's own order); ITS as QEMU (gem5 has no KVM ITS client)",
    flushOrder: ['its', 'pending'],
    restoreParts: ['gicd_ctlr', 'dist', 'lpi_bases', 'redist', 'icc', 'its'],
    redistOrder: ['group', 'enable', 'active', 'priority', 'config', 'level', 'pending', 'statusr', 'waker'],
    basesInRedistLoop: false,
    distOrder: ['enable', 'group', 'active', 'priority', 'config', 'route', 'level', 'pending', 'statusr'],
    enableClear: 'ones',
    activeClear: 'ones',
    pendingClear: 'none',
  },
};

export type VmmName = keyof typeof VMM_PROFILES;

/** The profile's restore order with the ordering quirks applied. */
export function effectiveProfile(profile: VmmProfileSpec, quirks: readonly string[]): VmmProfileSpec {
  const on = (q: string) => quirks.includes(q);
  let distOrder = profile.distOrder;
  let redistOrder = profile.redistOrder;
  if (on('pending-before-config')) {
    // gem5's Gicv3Distributor::copy: pending right after the enables, before config and routing.
    distOrder = movedBefore(distOrder, 'pending', ['config', 'route', 'level']);
    redistOrder = movedBefore(redistOrder, 'pending', ['config', 'level']);
  }
  let restoreParts = profile.restoreParts;
  if (on('its-before-gic')) restoreParts = ['its', ...restoreParts.filter((p) => p !== 'its')];
  const clear: ClearWrite | undefined = on('zero-clear')
    ? 'zero'
    : on('saved-value-clear')
      ? 'saved'
      : undefined;
  return {
    ...profile,
    distOrder,
    redistOrder,
    restoreParts,
    flushOrder: profile.flushOrder,
    enableClear: clear ?? profile.enableClear,
    activeClear: clear ?? profile.activeClear,
    pendingClear: clear === 'saved' ? 'saved' : profile.pendingClear,
  };
}

/** `order` with `item` moved to just before the first of `before` (unchanged if none is there). */
function movedBefore(
  order: readonly RestoreItem[],
  item: RestoreItem,
  before: readonly RestoreItem[],
): readonly RestoreItem[] {
  const rest = order.filter((i) => i !== item);
  const at = rest.findIndex((i) => before.includes(i));
  if (at < 0 || !order.includes(item)) return order;
  return [...rest.slice(0, at), item, ...rest.slice(at)];
}
