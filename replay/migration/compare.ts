// What a checkpoint migration must preserve (design.md "Migration"): the destination VM against
// the source VM once the source has saved (its RAM then holds the flushed tables), on everything
// a guest or VMM can observe. The VM's number differs by construction, the run state is compared
// as "will run" (the source is left stopped, the destination resumed), and the orders KVM keeps
// lists in but nobody can observe (ITS devices, ITEs, collections) are compared sorted.

import { stateHash } from '../../engine/hash.js';
import type { MachineState, VmState } from '../../engine/state.js';
import { type DiffEntry, diffStates } from '../state-diff.js';

interface Keyed {
  [key: string]: unknown;
}

/** The observable part of a VM, as plain data that compares equal across a faithful migration. */
export function observableVm(vm: VmState): unknown {
  const out: Keyed = { ...(vm as unknown as Keyed), id: 0 };
  out.vcpus = vm.vcpus.map((v) => ({ ...v, inRun: v.inRun || v.resumeOnCont, resumeOnCont: false }));
  const devices = { ...(vm.devices as Keyed) };
  const its = vm.devices.its;
  if (its) {
    devices.its = {
      ...its,
      devices: [...its.devices]
        .sort((a, b) => a.deviceId - b.deviceId)
        .map((d) => ({ ...d, ites: [...d.ites].sort((a, b) => a.eventId - b.eventId) })),
      collections: [...its.collections].sort((a, b) => a.icid - b.icid),
    };
  }
  out.devices = devices;
  return out;
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
  return { equal: false, diff: diffStates(observableVm(a), observableVm(b)) };
}
