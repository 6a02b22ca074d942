// The quirks of decisions.md: each switches one model to a known wrong or older behaviour so a
// bug can be reproduced from a trace and its fix shown. Names are stable (scenario contract).
// Kernel quirks are given on `board`/`vm`, VMM quirks on `migrate`.

export type QuirkSide = 'kernel' | 'vmm';

export interface Quirk {
  name: string;
  side: QuirkSide;
  /** Which model it belongs to. */
  area: 'vgic' | 'its' | 'sdei' | 'migration';
  description: string;
  /** Upstream commit, thread or reference note where the behaviour is described. */
  reference: string;
}

export const QUIRKS: readonly Quirk[] = [
  {
    name: 'vsgi-pending-latch-only',
    side: 'kernel',
    area: 'vgic',
    description:
      'GICv4.1 vSGIs: a userspace pending read returns the software latch, so pending vSGIs are lost on save',
    reference: 'vgic-v3.md §5; seed 000_5891e2c28afa5ecc',
  },
  {
    name: 'pendbaser-ptz-readable',
    side: 'kernel',
    area: 'vgic',
    description: 'GICR_PENDBASER.PTZ reads back as written',
    reference: 'vits.md §5.4; seed 003_a5e0a4c74cb1b40a',
  },
  {
    name: 'uaccess-ispendr-guest-view',
    side: 'kernel',
    area: 'vgic',
    description: 'userspace ISPENDR reads return latch OR line level, writes act as write-1-to-set',
    reference: 'decisions.md; RFC in seed 004_86d6696bed8d3ae3',
  },
  {
    name: 'its-restore-unmapped-collection',
    side: 'kernel',
    area: 'its',
    description: 'ITS_RESTORE_TABLES rejects a CTE whose target is 0xFFFFFFFF',
    reference: 'fixed by 8c58be34494b',
  },
  {
    name: 'its-discard-unmapped-collection',
    side: 'kernel',
    area: 'its',
    description: 'DISCARD of an ITE on an unmapped collection succeeds',
    reference: 'vits.md §3.5, §7',
  },
  {
    name: 'its-stale-dte-after-unmap',
    side: 'kernel',
    area: 'its',
    description: 'MAPD V=0 leaves the DTE in guest memory',
    reference: 'vits.md §7',
  },
  {
    name: 'movall-all-lpis',
    side: 'kernel',
    area: 'its',
    description: 'MOVALL moves every LPI, not only those targeting RDbase1 (mainline behaviour)',
    reference: 'vits.md §3.5',
  },
  {
    name: 'baser-drop-on-invalid-only',
    side: 'kernel',
    area: 'its',
    description: 'a GITS_BASER write drops the table state only when Valid goes 1->0 (pre-2026 rule)',
    reference: 'vits.md §2.2',
  },
  {
    name: 'sdei-signal-ignores-target',
    side: 'kernel',
    area: 'sdei',
    description: 'SDEI_EVENT_SIGNAL ignores the target PE in x2 and signals the caller',
    reference: 'sdei.md §6',
  },
  {
    name: 'sdei-no-redispatch-on-complete',
    side: 'kernel',
    area: 'sdei',
    description: 'COMPLETE / COMPLETE_AND_RESUME do not re-evaluate delivery until the next entry',
    reference: 'sdei.md §2.5, §6',
  },
  {
    name: 'sdei-complete-no-result',
    side: 'kernel',
    area: 'sdei',
    description: 'COMPLETE with no handler running leaves x0 unchanged instead of DENIED',
    reference: 'sdei.md §6',
  },
  {
    name: 'sdei-stale-pending',
    side: 'kernel',
    area: 'sdei',
    description: 'UNREGISTER and PRIVATE_RESET leave the pending bit set',
    reference: 'sdei.md §6',
  },
  {
    name: 'sdei-private-reset-while-running',
    side: 'kernel',
    area: 'sdei',
    description: 'PRIVATE_RESET while a handler runs succeeds and drops the running event',
    reference: 'sdei.md §6',
  },
  {
    name: 'sdei-pe-mask-returns-zero',
    side: 'kernel',
    area: 'sdei',
    description: 'SDEI_PE_MASK returns 0 even when it masked the PE',
    reference: 'sdei.md §6',
  },
  {
    name: 'sdei-survives-vcpu-reset',
    side: 'kernel',
    area: 'sdei',
    description: 'vCPU reset keeps the SDEI registrations and mask',
    reference: 'sdei.md §2.6, §6',
  },
  {
    name: 'sdei-fw-regs-mask-unknown-bits',
    side: 'kernel',
    area: 'sdei',
    description: 'SDEI pseudo-firmware register writes mask unknown bits instead of failing with -EINVAL',
    reference: 'sdei.md §4 (KVM7 patch 19)',
  },
  {
    name: 'no-level-info',
    side: 'vmm',
    area: 'migration',
    description: 'line levels are neither saved nor restored (Cloud Hypervisor)',
    reference: 'qemu-client.md §5',
  },
  {
    name: 'pending-before-config',
    side: 'vmm',
    area: 'migration',
    description: 'pending state written before ICFGR and IROUTER (gem5 order)',
    reference: 'qemu-client.md §5',
  },
  {
    name: 'lpis-enabled-before-base',
    side: 'vmm',
    area: 'migration',
    description: 'GICR_CTLR written before GICR_PROPBASER/GICR_PENDBASER',
    reference: 'qemu-client.md §3',
  },
  {
    name: 'force-ptz',
    side: 'vmm',
    area: 'migration',
    description: 'GICR_PENDBASER restored with PTZ set when LPIs are disabled (old QEMU)',
    reference: 'qemu-client.md §1.3',
  },
  {
    name: 'its-before-gic',
    side: 'vmm',
    area: 'migration',
    description: 'the ITS is restored before the redistributors',
    reference: 'qemu-client.md §3',
  },
  {
    name: 'its-ctlr-before-tables',
    side: 'vmm',
    area: 'migration',
    description: 'GITS_CTLR restored before ITS_RESTORE_TABLES',
    reference: 'qemu-client.md §1.6, §3',
  },
  {
    name: 'creadr-before-cbaser',
    side: 'vmm',
    area: 'migration',
    description: 'GITS_CREADR restored before GITS_CBASER',
    reference: 'qemu-client.md §1.6, §3',
  },
  {
    name: 'no-save-pending-tables',
    side: 'vmm',
    area: 'migration',
    description: 'the SAVE_PENDING_TABLES flush is skipped',
    reference: 'qemu-client.md §1.4',
  },
  {
    name: 'no-its-save-tables',
    side: 'vmm',
    area: 'migration',
    description: 'the ITS_SAVE_TABLES flush is skipped',
    reference: 'qemu-client.md §1.5',
  },
  {
    name: 'ram-before-flush',
    side: 'vmm',
    area: 'migration',
    description: 'guest RAM is transferred before the table flushes',
    reference: 'qemu-client.md §3',
  },
  {
    name: 'msi-after-flush',
    side: 'vmm',
    area: 'migration',
    description: 'a device keeps sending MSIs after the flushes (the trace supplies them)',
    reference: 'qemu-client.md §3',
  },
  {
    name: 'zero-clear',
    side: 'vmm',
    area: 'migration',
    description: 'clear registers written with 0 instead of all ones (QEMU before August 2025)',
    reference: 'qemu-client.md §1.3',
  },
  {
    name: 'saved-value-clear',
    side: 'vmm',
    area: 'migration',
    description:
      'clear registers written with the saved values instead of all ones (Cloud Hypervisor): what KVM enables at vCPU creation (every SGI) stays enabled',
    reference:
      'qemu-client.md §5 (Cloud Hypervisor dist_regs.rs/redist_regs.rs); vgic-init.c enables SGIs at vCPU init',
  },
  {
    name: 'no-sdei-state',
    side: 'vmm',
    area: 'migration',
    description: 'the SDEI pseudo-firmware registers are not migrated',
    reference: 'qemu-client.md §2.5',
  },
];

export function quirkByName(name: string): Quirk | undefined {
  return QUIRKS.find((q) => q.name === name);
}
