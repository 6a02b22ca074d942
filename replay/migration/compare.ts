// What a checkpoint migration must preserve (design.md "Migration"): the destination VM against
// the source VM once the source has saved (its RAM then holds the flushed tables), on everything
// a guest or VMM can observe. The VM's number differs by construction, the run state is compared
// as "will run" (the source is left stopped, the destination resumed), and the orders KVM keeps
// lists in but nobody can observe (ITS devices, ITEs, collections) are compared sorted. Left out:
// what KVM derives again at the destination's first guest entry (kvm_arch_vcpu_run_pid_change:
// the vCPU's `ran`, the vGIC's `ready`, the MMIO regions map_resources installs), since they
// follow from state that is compared. GITS_CBASER compares as a userspace write of it leaves it
// (vgic_sanitise_its_cbaser): KVM's never-written 0 cannot be written back by any VMM, so that
// difference is not a migration bug. Also left out: each LPI-enabled redistributor's pending
// table in RAM (the redistributor owns it; KVM clears the bits it consumes on restore, and the
// pending state itself is compared as the LPIs' pending latches), and the interrupt lines the
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
import { stateHash } from '../../engine/hash.js';
import { inRam, loadRam, PAGES_PER_BLOCK, type RamPages } from '../../engine/ram.js';
import { type MachineState, PAGE_SIZE, RAM_BASE, type VmState } from '../../engine/state.js';
import { type DiffEntry, diffStates } from '../state-diff.js';

interface Keyed {
  [key: string]: unknown;
}

/** The observable part of a VM, as plain data that compares equal across a faithful migration. */
export function observableVm(vm: VmState): unknown {
  const out: Keyed = { ...(vm as unknown as Keyed), id: 0, mmio: undefined };
  out.vcpus = vm.vcpus.map((v) => ({
    ...v,
    inRun: v.inRun || v.resumeOnCont,
    resumeOnCont: false,
    ran: undefined,
    devices: { ...v.devices, gicLines: undefined },
  }));
  out.ram = withoutPendingTables(vm);
  const devices = { ...(vm.devices as Keyed) };
  const gic = vm.devices.gic;
  if (gic) devices.gic = { ...gic, ready: undefined };
  const its = vm.devices.its;
  if (its) {
    devices.its = {
      ...its,
      cbaser: sanitiseItsCbaser(its.cbaser),
      devices: [...its.devices]
        .sort((a, b) => a.deviceId - b.deviceId)
        .map((d) => ({ ...d, ites: [...d.ites].sort((a, b) => a.eventId - b.eventId) })),
      collections: [...its.collections].sort((a, b) => a.icid - b.icid),
    };
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
    if (!cpu?.enableLpis) continue;
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

/** A wrapper that makes `stateHash` usable on one VM's observable part. */
function vmHash(vm: VmState): string {
  return stateHash({ vms: [observableVm(vm) as VmState], current: 0 });
}

export interface VmComparison {
  equal: boolean;
  /** The differing paths, relative to the VM (`vcpus[0].pc`, `devices.gic.spis[4].pendingLatch`). */
  diff: DiffEntry[];
}

/** Source and destination VM of `machine`, by number: equal, or the paths that differ. */
export function compareVms(machine: MachineState, source: number, dest: number): VmComparison {
  const a = machine.vms[source];
  const b = machine.vms[dest];
  if (!a || !b) return { equal: false, diff: [{ path: 'vms', before: a, after: b }] };
  if (vmHash(a) === vmHash(b)) return { equal: true, diff: [] };
  const diff = diffStates(observableVm(a), observableVm(b)).filter((d) => !staleLpiConfig(a, d));
  return { equal: diff.length === 0, diff };
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
