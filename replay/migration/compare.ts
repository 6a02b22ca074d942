// What a checkpoint migration must preserve (design.md "Migration"): the destination VM against
// the source VM once the source has saved (its RAM then holds the flushed tables), on everything
// a guest or VMM can observe. The VM's number differs by construction, the run state is compared
// as "will run" (the source is left stopped, the destination resumed), and the orders KVM keeps
// lists in but nobody can observe (ITS devices, ITEs, collections) are compared sorted. Left out:
// what KVM derives again at the destination's first guest entry (kvm_arch_vcpu_run_pid_change:
// the vCPU's `ran`, the vGIC's `ready`, the MMIO regions map_resources installs), since they
// follow from state that is compared. GITS_CBASER compares as a userspace write of it leaves it
// (vgic_sanitise_its_cbaser): KVM's never-written 0 cannot be written back by any VMM, so that
// difference is not a migration bug. Also left out: each redistributor's pending table in RAM
// (KVM writes it on save and clears the bits it consumes on restore; the pending state itself is
// compared as the LPIs' pending latches), and the interrupt lines the
// vGIC last signalled (recomputed after every event). An LPI whose cached configuration is stale
// on the source (a property-table write not yet followed by INV) may come back with either the
// cached or the table's configuration: the architecture lets an implementation re-read the table.

import {
  decodeLpiProperty,
  lpiPendingByteAddress,
  lpiPropertyAddress,
  maxLpisPropbaser,
} from '../../devices/its/lpis.js';
import { sanitiseItsCbaser } from '../../devices/its/registers.js';
import { inRam, loadRam, PAGES_PER_BLOCK, type RamPages } from '../../engine/ram.js';
import { PAGE_SIZE, RAM_BASE, type VmState } from '../../engine/state.js';

const PENDBASER_PTZ = 1n << 62n;
/** GICR_PENDBASER bits 51:16, the pending table's address. */
const PENDBASER_PA = ((1n << 52n) - 1n) & ~0xffffn;

import { type DiffEntry, deepEqual, diffStates } from '../state-diff.js';

interface Keyed {
  [key: string]: unknown;
}

/** The observable part of a VM, as plain data that compares equal across a faithful migration. */
/**
 * LPIs whose target is not their first ITE's collection's vCPU (MOVALL without a matching MAPC):
 * restore cannot bring back their target or pending state (see `observableVm`).
 */
function retargetedLpis(vm: VmState): Set<number> {
  const out = new Set<number>();
  const its = vm.devices.its;
  const lpis = vm.devices.lpis;
  if (!its || !lpis) return out;
  const targetOf = new Map(its.collections.map((c) => [c.icid, c.target]));
  const seen = new Set<number>();
  const devices = [...its.devices].sort((a, b) => a.deviceId - b.deviceId);
  for (const d of devices) {
    for (const ite of [...d.ites].sort((a, b) => a.eventId - b.eventId)) {
      if (ite.icid === null || seen.has(ite.intid)) continue;
      seen.add(ite.intid);
      const t = targetOf.get(ite.icid);
      const target = t === undefined || t === 0xffff_ffff ? null : t;
      if (lpis.irqs[ite.intid] && lpis.irqs[ite.intid]!.targetVcpu !== target) out.add(ite.intid);
    }
  }
  return out;
}

export function observableVm(vm: VmState, notes: string[] = [], source: VmState = vm): unknown {
  const moved = retargetedLpis(source);
  const out: Keyed = { ...(vm as unknown as Keyed), id: 0, mmio: undefined };
  const hasIts = vm.devices.its !== undefined;
  out.vcpus = vm.vcpus.map((v) => {
    const cpu = v.devices.gic;
    let gicView: Keyed | undefined;
    if (cpu) {
      // A PTZ the source holds cannot come back (PENDBASER never reads it); a PTZ only the
      // destination has was forced by the VMM and is a divergence.
      const sourcePtz = source.vcpus.find((s) => s.id === v.id)?.devices.gic?.pendbaser ?? 0n;
      const maskPtz = (sourcePtz & PENDBASER_PTZ) !== 0n;
      gicView = { ...cpu, pendbaser: maskPtz ? cpu.pendbaser & ~PENDBASER_PTZ : cpu.pendbaser };
      if (maskPtz && vm === source)
        notes.push(
          `vCPU ${v.id}: GICR_PENDBASER.PTZ is a write-only hint (never read back), so it does not migrate`,
        );
      if (!hasIts) gicView.pendbaser = undefined;
      // A GICv4.1 vSGI's pending state moves between the latch and the vPE at the first run
      // (vgic_v4_configure_vsgis), so an SGI is compared as pending in either, and the `hw`
      // flag as what nASSGIreq (compared) makes of it.
      gicView.irqs = cpu.irqs.map((irq, i) =>
        i < 16
          ? { ...irq, hw: undefined, pendingLatch: irq.pendingLatch || cpu.vsgiPending[i] === true }
          : irq,
      );
      gicView.vsgiPending = undefined;
      if (cpu.vmcr.cbpr) {
        gicView.vmcr = { ...cpu.vmcr, bpr1: undefined };
        notes.push(
          `vCPU ${v.id}: ICC_BPR1_EL1 is not accessible while ICC_CTLR_EL1.CBPR=1 (vgic-sys-reg-v3.c get/set_gic_bpr1), so its hidden value does not migrate`,
        );
      }
    }
    return {
      ...v,
      inRun: v.inRun || v.resumeOnCont,
      resumeOnCont: false,
      ran: undefined,
      devices: { ...v.devices, gicLines: undefined, ...(gicView ? { gic: gicView } : {}) },
    };
  });
  out.ram = withoutPendingTables(vm);
  const devices = { ...(vm.devices as Keyed) };
  const gic = vm.devices.gic;
  if (gic) {
    devices.gic = { ...gic, ready: undefined, ...(hasIts ? {} : { propbaser: undefined }) };
    if (!hasIts)
      notes.push(
        'without an ITS GICR_TYPER.PLPIS is 0: QEMU saves neither GICR_PROPBASER nor GICR_PENDBASER',
      );
  }
  const its = vm.devices.its;
  if (its) {
    const lpis = vm.devices.lpis;
    const collections = [...its.collections].sort((a, b) => a.icid - b.icid);
    const targetOf = new Map(collections.map((c) => [c.icid, c.target]));
    // ITEs whose collection MAPC V=0 freed are skipped by vgic_its_save_itt.
    let orphans = 0;
    const refs = new Map<number, number>();
    const firstTarget = new Map<number, number | null>();
    const itsDevices = [...its.devices]
      .sort((a, b) => a.deviceId - b.deviceId)
      .map((d) => {
        const ites = [...d.ites]
          .sort((a, b) => a.eventId - b.eventId)
          .filter((ite) => {
            if (ite.icid !== null) {
              refs.set(ite.intid, (refs.get(ite.intid) ?? 0) + 1);
              if (!firstTarget.has(ite.intid)) {
                const t = targetOf.get(ite.icid);
                firstTarget.set(ite.intid, t === undefined || t === 0xffff_ffff ? null : t);
              }
              return true;
            }
            orphans++;
            return false;
          });
        return { ...d, ites };
      });
    if (orphans > 0)
      notes.push(
        `${orphans} ITE(s) orphaned by MAPC V=0 are not saved (vgic_its_save_itt skips ITEs without a collection), nor are LPIs only they mapped`,
      );
    devices.its = { ...its, cbaser: sanitiseItsCbaser(its.cbaser), devices: itsDevices, collections };
    if (lpis) {
      const irqs: Record<number, unknown> = {};
      let retargeted = 0;
      for (const [key, irq] of Object.entries(lpis.irqs)) {
        const intid = Number(key);
        const n = refs.get(intid);
        if (n === undefined) continue;
        // Restore recreates each LPI from its first ITE, with that collection's target.
        const target = firstTarget.get(intid) ?? null;
        if (moved.has(intid)) {
          // Its pending bit is saved in the table of the vCPU it targets and looked for in the
          // table of its collection's vCPU: it comes back pending only by chance.
          if (vm === source) retargeted++;
          irqs[intid] = { ...irq, refcount: n, targetVcpu: target, pendingLatch: undefined };
        } else {
          irqs[intid] = { ...irq, refcount: n, targetVcpu: target };
        }
      }
      if (retargeted > 0)
        notes.push(
          `${retargeted} LPI(s) target another vCPU than their ITE's collection (MOVALL without a matching MAPC): restore takes the collection's target (vgic_its_restore_ite → vgic_add_lpi) and reads the pending bit from that vCPU's table, not the one it was saved to`,
        );
      devices.lpis = { ...lpis, irqs };
    }
  }
  out.devices = devices;
  return out;
}

/** The RAM with every LPI-enabled redistributor's pending table zeroed (copies of those pages only). */
function withoutPendingTables(vm: VmState): RamPages {
  const gic = vm.devices.gic;
  if (!gic) return vm.ram;
  const ranges: [number, number][] = [];
  const tableBytes = maxLpisPropbaser(gic.propbaser) / 8;
  for (const vcpu of vm.vcpus) {
    const cpu = vcpu.devices.gic;
    // KVM writes (SAVE_PENDING_TABLES) and consumes (restore) a vCPU's pending table whenever
    // an LPI targets it, LPIs on or off.
    if (!cpu || !(cpu.enableLpis || (vm.devices.its && (cpu.pendbaser & PENDBASER_PA) !== 0n))) continue;
    const start = Number(lpiPendingByteAddress(cpu.pendbaser, 0));
    ranges.push([start, start + tableBytes]);
  }
  if (ranges.length === 0) return vm.ram;
  const ram: RamPages = { ...vm.ram };
  for (const [start, end] of ranges) {
    for (let addr = start - (start % PAGE_SIZE); addr < end; addr += PAGE_SIZE) {
      if (addr < RAM_BASE) continue;
      const index = (addr - RAM_BASE) / PAGE_SIZE;
      const blockKey = Math.floor(index / PAGES_PER_BLOCK);
      const pageKey = index % PAGES_PER_BLOCK;
      const page = ram[blockKey]?.[pageKey];
      if (!page) continue;
      const copy = page.slice();
      copy.fill(0, Math.max(0, start - addr), Math.min(PAGE_SIZE, end - addr));
      ram[blockKey] = { ...ram[blockKey], [pageKey]: copy };
    }
  }
  return ram;
}

export interface VmComparison {
  equal: boolean;
  /** The differing paths, relative to the VM (`vcpus[0].pc`, `devices.gic.spis[4].pendingLatch`). */
  diff: DiffEntry[];
  /**
   * Differences KVM itself makes on every save/restore, left out of the comparison (one line
   * each, only when the raw states differed).
   */
  known: string[];
}

/** The source VM (after its save) against the destination VM: equal, or the paths that differ. */
export function compareVms(a: VmState, b: VmState): VmComparison {
  if (deepEqual({ ...a, id: 0, mmio: [] }, { ...b, id: 0, mmio: [] }))
    return { equal: true, diff: [], known: [] };
  const notes: string[] = [];
  const viewA = observableVm(a, notes);
  const viewB = observableVm(b, [], a);
  if (deepEqual(viewA, viewB)) return { equal: true, diff: [], known: unique(notes) };
  let stale = 0;
  const diff = diffStates(viewA, viewB).filter((d) => {
    const explained = staleLpiConfig(a, d);
    if (explained) stale++;
    return !explained;
  });
  if (stale > 0)
    notes.push(
      'LPI configuration cached before a property-table write not yet followed by INV comes back as the table says (restore re-reads it; the architecture allows either)',
    );
  return { equal: diff.length === 0, diff, known: unique(notes) };
}

function unique(lines: string[]): string[] {
  return [...new Set(lines)];
}

/** A cached LPI priority/enable that differs because the source's cache was stale (see header). */
function staleLpiConfig(source: VmState, d: DiffEntry): boolean {
  const m = /^devices\.lpis\.irqs\[(\d+)\]\.(priority|enabled)$/.exec(d.path);
  const gic = source.devices.gic;
  if (!m || !gic) return false;
  const addr = lpiPropertyAddress(gic.propbaser, Number(m[1]));
  if (!inRam(addr, 1)) return false;
  const table = decodeLpiProperty(Number(loadRam(source.ram, addr, 1)));
  return m[2] === 'priority' ? d.after === table.priority : d.after === table.enabled;
}
