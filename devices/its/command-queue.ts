// The vITS command queue (Arm IHI 0069 §6.3 "ITS commands"; Linux arch/arm64/kvm/vgic/
// vgic-its.c vgic_its_process_commands, vgic_its_handle_command and the
// vgic_its_cmd_handle_* functions, mainline; vits.md §3.1, §3.3–§3.5, §9). Commands are read
// from guest RAM at CBASER.PA + CREADR and executed synchronously inside the CWRITER / CTLR
// write that started processing, with KVM's checks in KVM's order.
//
// Error policy (written once, here; style-anchors §8.5). The architecture lets an ITS either
// stall on a command error (GITS_CREADR.Stalled) or ignore the command (IHI 0069 §6.3.2,
// IMPLEMENTATION DEFINED). KVM ignores: every handler result — an E_ITS_* number, a negative
// errno (-EFAULT from a guest access, -EBUSY from INT on a vCPU with LPIs disabled) or -ENODEV
// for an opcode it has no case for (GICv4 included) — is discarded and CREADR moves on. The
// model does the same (`ITS_ERROR_POLICY = 'continue'`) and records every non-zero result as an
// `its.error` effect the debugger shows; the guest sees nothing. A command whose 32 bytes cannot
// be read (outside guest RAM) is skipped the same way (vgic_its_process_commands) and recorded.
//
// Quirks (decisions.md): `its-stale-dte-after-unmap` (MAPD V=0 leaves the DTE in guest
// memory), `its-discard-unmapped-collection` (DISCARD only refuses orphaned ITEs, as before
// Linux 5.6), `movall-all-lpis` (MOVALL retargets every LPI of the VM, mainline since 2024; the
// default is the architecture: only LPIs targeting RDbase1).
//
// The translation cache is not modelled (semantically transparent, vits.md §3.6), so the
// invalidations KVM performs are absent. Pure reducers over the VM draft; nothing here throws.

import { EBUSY, EFAULT, ENODEV, ERRNO_NAMES } from '../../engine/errno.js';
import type { Effect, EffectValue } from '../../engine/events.js';
import { inRam, loadRam, type PageOwnership, storeRam } from '../../engine/ram.js';
import { type VmState, vcpuById } from '../../engine/state.js';
import { hasQuirk } from '../gicv3/regs-common.js';
import {
  type DecodedItsCommand,
  decodeItsCommand,
  E_ITS_CLEAR_UNMAPPED_INTERRUPT,
  E_ITS_DISCARD_UNMAPPED_INTERRUPT,
  E_ITS_INT_UNMAPPED_INTERRUPT,
  E_ITS_INV_UNMAPPED_INTERRUPT,
  E_ITS_INVALL_UNMAPPED_COLLECTION,
  E_ITS_MAPC_COLLECTION_OOR,
  E_ITS_MAPC_PROCNUM_OOR,
  E_ITS_MAPD_DEVICE_OOR,
  E_ITS_MAPD_ITTSIZE_OOR,
  E_ITS_MAPTI_ID_OOR,
  E_ITS_MAPTI_PHYSICALID_OOR,
  E_ITS_MAPTI_UNMAPPED_DEVICE,
  E_ITS_MOVALL_PROCNUM_OOR,
  E_ITS_MOVI_UNMAPPED_COLLECTION,
  E_ITS_MOVI_UNMAPPED_INTERRUPT,
  GITS_CMD_CLEAR,
  GITS_CMD_DISCARD,
  GITS_CMD_INT,
  GITS_CMD_INV,
  GITS_CMD_INVALL,
  GITS_CMD_MAPC,
  GITS_CMD_MAPD,
  GITS_CMD_MAPI,
  GITS_CMD_MAPTI,
  GITS_CMD_MOVALL,
  GITS_CMD_MOVI,
  GITS_CMD_SYNC,
  ITS_CMD_SIZE,
  itsCommandField,
  itsCommandLpi,
  itsErrorName,
} from './commands.js';
import { writeLe64 } from './fields.js';
import { addLpi, maxLpisPropbaser, refreshLpiConfig, refreshLpiConfigForVcpu, vmPropbaser } from './lpis.js';
import { type ItsRegHooks, NO_ITS_HOOKS } from './registers.js';
import { freeCollection, freeDevice, releaseLpi } from './reset.js';
import {
  ABI_0_ESZ,
  COLLECTION_NOT_MAPPED,
  GIC_LPI_OFFSET,
  type ItsCollection,
  type ItsDevice,
  type ItsIte,
  type ItsState,
  itsCmdBufferSize,
  VITS_TYPER_IDBITS,
} from './state.js';
import { checkId, type GuestRead64, type GuestVisible, iteAddress } from './tables.js';

/** What command processing needs from the step: the effect sink and, if any, the owned pages. */
export interface ItsCommandContext {
  emit(effect: Effect): void;
  /** StepContext.ownedPages: passed to every RAM store. */
  readonly ownedPages?: PageOwnership;
}

/** KVM's policy on a failing command: ignore it and move on (see the header). */
export const ITS_ERROR_POLICY = 'continue' as const;

/** GITS_CBASER_ADDRESS: bits 51:12. */
export const CBASER_ADDRESS_MASK = ((1n << 52n) - 1n) & ~0xfffn;

/** Result of one handler, as KVM's: 0, an E_ITS_* number (> 0) or a negative errno. */
export type ItsCommandResult = number;

// ---- guest memory (kvm_read_guest / kvm_write_guest / kvm_is_visible_gfn) --------------------

function guestRead64(vm: VmState): GuestRead64 {
  return (addr) => (inRam(addr, 8) ? loadRam(vm.ram, addr, 8) : undefined);
}

const guestVisible: GuestVisible = (addr) => inRam(addr, 1);

/** vgic_its_write_entry_lock(its, gpa, 0, …): a zero u64 at `addr`; -EFAULT outside RAM. */
function zeroEntry(vm: VmState, addr: bigint, owned: PageOwnership | undefined): number {
  if (!inRam(addr, ABI_0_ESZ)) return -EFAULT;
  storeRam(vm.ram, addr, ABI_0_ESZ, 0n, owned);
  return 0;
}

// ---- lookups (find_its_device, find_ite, find_collection, its_is_collection_mapped) ---------

function findDevice(its: ItsState, deviceId: number): ItsDevice | undefined {
  return its.devices.find((d) => d.deviceId === deviceId);
}

function findIte(
  its: ItsState,
  deviceId: number,
  eventId: number,
): { device: ItsDevice; ite: ItsIte } | undefined {
  const device = findDevice(its, deviceId);
  const ite = device?.ites.find((e) => e.eventId === eventId);
  return device && ite ? { device, ite } : undefined;
}

function findCollection(its: ItsState, icid: number | null): ItsCollection | undefined {
  return icid === null ? undefined : its.collections.find((c) => c.icid === icid);
}

function isMapped(c: ItsCollection | undefined): c is ItsCollection {
  return c !== undefined && c.target !== COLLECTION_NOT_MAPPED;
}

/** collection_to_vcpu: the vCPU id of a mapped collection's target, if that vCPU exists. */
function collectionVcpu(vm: VmState, c: ItsCollection): number | null {
  return vcpuById(vm, c.target) ? c.target : null;
}

/** update_affinity: the LPI follows its new target (pending state travels with it). */
function retarget(vm: VmState, intid: number, vcpu: number | null): void {
  const irq = vm.devices.lpis?.irqs[intid];
  if (irq) irq.targetVcpu = vcpu;
}

// ---- command handlers -----------------------------------------------------------------------

interface Cmd {
  readonly vm: VmState;
  readonly its: ItsState;
  readonly dw: readonly bigint[];
  readonly cmd: DecodedItsCommand;
  readonly owned: PageOwnership | undefined;
}

const num = (c: Cmd, name: Parameters<typeof itsCommandField>[1]): number =>
  Number(itsCommandField(c.dw, name));

/** vgic_its_cmd_handle_mapd. */
function handleMapd(c: Cmd): ItsCommandResult {
  const { vm, its } = c;
  const deviceId = num(c, 'dev');
  const valid = num(c, 'valid') === 1;
  const eventIdBits = num(c, 'size') + 1; // its_cmd_get_size
  const ittAddr = num(c, 'itt');
  const gpa = checkId(its.baserDevice, deviceId, guestRead64(vm), guestVisible);
  if (gpa === undefined) return E_ITS_MAPD_DEVICE_OOR;
  if (valid && eventIdBits > VITS_TYPER_IDBITS) return E_ITS_MAPD_ITTSIZE_OOR;
  const existing = findDevice(its, deviceId);
  if (existing) freeDevice(vm, its, existing);
  if (!valid) {
    // Linux 6.13 "Clear DTE when MAPD unmaps a device"; before it the DTE stayed.
    return hasQuirk(vm, 'its-stale-dte-after-unmap') ? 0 : zeroEntry(vm, gpa, c.owned);
  }
  its.devices.push({ deviceId, ittAddr, numEventIdBits: eventIdBits, ites: [] });
  return 0;
}

/** vgic_its_cmd_handle_mapc (mainline: V=0 has no target check). */
function handleMapc(c: Cmd): ItsCommandResult {
  const { vm, its } = c;
  const target = num(c, 'rdbase');
  const icid = num(c, 'icid');
  if (num(c, 'valid') === 0) {
    freeCollection(its, icid);
    return 0;
  }
  if (!vcpuById(vm, target)) return E_ITS_MAPC_PROCNUM_OOR;
  const collection = findCollection(its, icid);
  if (!collection) {
    if (checkId(its.baserCollection, icid, guestRead64(vm), guestVisible) === undefined) {
      return E_ITS_MAPC_COLLECTION_OOR;
    }
    its.collections.push({ icid, target });
    return 0;
  }
  collection.target = target;
  // update_affinity_collection: every ITE of this ITS on that collection object. Orphaned ITEs
  // (icid null) are not on it, whatever ICID they once had.
  for (const device of its.devices) {
    for (const ite of device.ites) if (ite.icid === icid) retarget(vm, ite.intid, target);
  }
  return 0;
}

/** vgic_its_cmd_handle_mapi (MAPTI and MAPI). */
function handleMapi(c: Cmd): ItsCommandResult {
  const { vm, its } = c;
  const deviceId = num(c, 'dev');
  const eventId = num(c, 'event');
  const icid = num(c, 'icid');
  const device = findDevice(its, deviceId);
  if (!device) return E_ITS_MAPTI_UNMAPPED_DEVICE;
  // vgic_its_check_event_id: EventID range, then the ITT slot must be memslot-backed.
  if (eventId >= 2 ** device.numEventIdBits || !guestVisible(iteAddress(BigInt(device.ittAddr), eventId))) {
    return E_ITS_MAPTI_ID_OOR;
  }
  const lpi = Number(itsCommandLpi(c.cmd) ?? 0n);
  if (lpi < GIC_LPI_OFFSET || lpi >= maxLpisPropbaser(vmPropbaser(vm))) return E_ITS_MAPTI_PHYSICALID_OOR;
  // "If there is an existing mapping, behavior is UNPREDICTABLE": KVM keeps the old one.
  if (device.ites.some((e) => e.eventId === eventId)) return 0;
  let collection = findCollection(its, icid);
  let newCollection = false;
  if (!collection) {
    if (checkId(its.baserCollection, icid, guestRead64(vm), guestVisible) === undefined) {
      return E_ITS_MAPC_COLLECTION_OOR; // KVM returns the MAPC code here
    }
    collection = { icid, target: COLLECTION_NOT_MAPPED };
    its.collections.push(collection);
    newCollection = true;
  }
  const target = isMapped(collection) ? collectionVcpu(vm, collection) : null;
  const rc = addLpi(vm, lpi, target, c.owned);
  if (rc !== 0) {
    // vgic_add_lpi failed: the ITE and a collection created for it are undone.
    if (newCollection) freeCollection(its, icid);
    return rc;
  }
  device.ites.push({ eventId, intid: lpi, icid });
  return 0;
}

/** vgic_its_cmd_handle_movi. */
function handleMovi(c: Cmd): ItsCommandResult {
  const { vm, its } = c;
  const found = findIte(its, num(c, 'dev'), num(c, 'event'));
  if (!found) return E_ITS_MOVI_UNMAPPED_INTERRUPT;
  if (!isMapped(findCollection(its, found.ite.icid))) return E_ITS_MOVI_UNMAPPED_COLLECTION;
  const collection = findCollection(its, num(c, 'icid'));
  if (!isMapped(collection)) return E_ITS_MOVI_UNMAPPED_COLLECTION;
  found.ite.icid = collection.icid;
  retarget(vm, found.ite.intid, collectionVcpu(vm, collection));
  return 0;
}

/** vgic_its_cmd_handle_int → vgic_its_trigger_msi → vgic_its_resolve_lpi. */
function handleInt(c: Cmd): ItsCommandResult {
  return triggerLpi(c.vm, c.its, num(c, 'dev'), num(c, 'event'));
}

/**
 * vgic_its_trigger_msi(kvm, its, devid, eventid): -EBUSY when the ITS is disabled;
 * E_ITS_INT_UNMAPPED_INTERRUPT when there is no ITE, its collection is orphaned or unmapped, or
 * the target vCPU does not exist; -EBUSY (event dropped, not latched) when that vCPU has
 * EnableLPIs = 0; else the LPI's pending latch is set. Shared with KVM_SIGNAL_MSI.
 */
export function triggerLpi(vm: VmState, its: ItsState, deviceId: number, eventId: number): ItsCommandResult {
  if (!its.enabled) return -EBUSY;
  const found = findIte(its, deviceId, eventId);
  const collection = found ? findCollection(its, found.ite.icid) : undefined;
  if (!found || !isMapped(collection)) return E_ITS_INT_UNMAPPED_INTERRUPT;
  const vcpu = vcpuById(vm, collection.target);
  if (!vcpu) return E_ITS_INT_UNMAPPED_INTERRUPT;
  if (!vcpu.devices.gic?.enableLpis) return -EBUSY;
  const irq = vm.devices.lpis?.irqs[found.ite.intid];
  if (irq) irq.pendingLatch = true;
  return 0;
}

/** vgic_its_cmd_handle_clear: no collection check. */
function handleClear(c: Cmd): ItsCommandResult {
  const found = findIte(c.its, num(c, 'dev'), num(c, 'event'));
  if (!found) return E_ITS_CLEAR_UNMAPPED_INTERRUPT;
  const irq = c.vm.devices.lpis?.irqs[found.ite.intid];
  if (irq) irq.pendingLatch = false;
  return 0;
}

/** vgic_its_cmd_handle_inv: re-read the property byte, whatever the collection state. */
function handleInv(c: Cmd): ItsCommandResult {
  const found = findIte(c.its, num(c, 'dev'), num(c, 'event'));
  if (!found) return E_ITS_INV_UNMAPPED_INTERRUPT;
  const irq = c.vm.devices.lpis?.irqs[found.ite.intid];
  return irq ? refreshLpiConfig(c.vm, irq) : 0;
}

/** vgic_its_cmd_handle_invall: every LPI of the VM targeting the collection's vCPU. */
function handleInvall(c: Cmd): ItsCommandResult {
  const collection = findCollection(c.its, num(c, 'icid'));
  if (!isMapped(collection)) return E_ITS_INVALL_UNMAPPED_COLLECTION;
  const vcpu = collectionVcpu(c.vm, collection);
  if (vcpu !== null) refreshLpiConfigForVcpu(c.vm, vcpu);
  return 0;
}

/** vgic_its_cmd_handle_movall: ITE→collection links are not changed. */
function handleMovall(c: Cmd): ItsCommandResult {
  const { vm } = c;
  const from = num(c, 'rdbase1');
  const to = num(c, 'rdbase2');
  if (!vcpuById(vm, from) || !vcpuById(vm, to)) return E_ITS_MOVALL_PROCNUM_OOR;
  if (from === to) return 0;
  const all = hasQuirk(vm, 'movall-all-lpis');
  for (const irq of Object.values(vm.devices.lpis?.irqs ?? {})) {
    if (all || irq.targetVcpu === from) irq.targetVcpu = to;
  }
  return 0;
}

/** vgic_its_cmd_handle_discard (zeroes the ITT slot since Linux 6.13). */
function handleDiscard(c: Cmd): ItsCommandResult {
  const { vm, its } = c;
  const found = findIte(its, num(c, 'dev'), num(c, 'event'));
  // Before Linux 5.6 only a NULL (orphaned) collection was refused.
  const ok = hasQuirk(vm, 'its-discard-unmapped-collection')
    ? found !== undefined && found.ite.icid !== null
    : found !== undefined && isMapped(findCollection(its, found.ite.icid));
  if (!found || !ok) return E_ITS_DISCARD_UNMAPPED_INTERRUPT;
  const { device, ite } = found;
  device.ites.splice(device.ites.indexOf(ite), 1);
  releaseLpi(vm, ite.intid);
  return zeroEntry(vm, iteAddress(BigInt(device.ittAddr), ite.eventId), c.owned);
}

/** vgic_its_handle_command's switch; anything else is -ENODEV. */
const HANDLERS: Readonly<Record<number, (c: Cmd) => ItsCommandResult>> = {
  [GITS_CMD_MAPD]: handleMapd,
  [GITS_CMD_MAPC]: handleMapc,
  [GITS_CMD_MAPI]: handleMapi,
  [GITS_CMD_MAPTI]: handleMapi,
  [GITS_CMD_MOVI]: handleMovi,
  [GITS_CMD_DISCARD]: handleDiscard,
  [GITS_CMD_CLEAR]: handleClear,
  [GITS_CMD_MOVALL]: handleMovall,
  [GITS_CMD_INT]: handleInt,
  [GITS_CMD_INV]: handleInv,
  [GITS_CMD_INVALL]: handleInvall,
  [GITS_CMD_SYNC]: () => 0,
};

/**
 * vgic_its_handle_command: executes the 32 command bytes against the draft and returns KVM's
 * result (0, E_ITS_* or a negative errno; -ENODEV for an opcode KVM does not handle).
 */
export function executeItsCommand(
  vm: VmState,
  its: ItsState,
  bytes: Uint8Array,
  owned?: PageOwnership,
): ItsCommandResult {
  return execute(vm, its, decodeItsCommand(bytes), owned);
}

function execute(
  vm: VmState,
  its: ItsState,
  cmd: DecodedItsCommand,
  owned: PageOwnership | undefined,
): number {
  const handler = HANDLERS[cmd.opcode];
  return handler ? handler({ vm, its, dw: cmd.dw, cmd, owned }) : -ENODEV;
}

/** The name of a result: `E_ITS_…`, `EFAULT`-style errno names, or the number. */
export function itsResultName(rc: ItsCommandResult): string {
  if (rc > 0) return itsErrorName(rc) ?? `0x${rc.toString(16)}`;
  const errno = Object.entries(ERRNO_NAMES).find(([, v]) => v === -rc);
  return errno ? errno[0] : String(rc);
}

/** The `its.error` effect for a failed command (see the error policy in the header). */
export function itsErrorEffect(
  opcode: number,
  name: string | undefined,
  rc: ItsCommandResult,
  creadr: number,
): Effect {
  const fields: Record<string, EffectValue> = {
    command: name ?? `0x${opcode.toString(16).padStart(2, '0')}`,
    code: itsResultName(rc),
    value: rc,
    creadr,
  };
  return { type: 'its.error', ...fields };
}

/**
 * vgic_its_process_commands: nothing while the ITS is disabled; else, while CREADR ≠ CWRITER,
 * reads the 32-byte command at CBASER.PA + CREADR (a read outside guest RAM skips it), executes
 * it, records a non-zero result as an `its.error` effect and continues (ITS_ERROR_POLICY), and
 * advances CREADR by 32, wrapping to 0 at the queue size. The register model keeps CREADR and
 * CWRITER below the queue size and 32-byte aligned; the loop is bounded by one pass over the
 * queue so an impossible pair cannot spin. Mutates the draft.
 */
export function processCommands(vm: VmState, its: ItsState, ctx: ItsCommandContext): void {
  if (!its.enabled) return;
  const base = its.cbaser & CBASER_ADDRESS_MASK;
  const size = itsCmdBufferSize(its.cbaser);
  for (let n = size / ITS_CMD_SIZE; n > 0 && its.cwriter !== its.creadr; n--) {
    const creadr = its.creadr;
    const addr = base + BigInt(creadr);
    if (inRam(addr, ITS_CMD_SIZE)) {
      const bytes = new Uint8Array(ITS_CMD_SIZE);
      for (let i = 0; i < ITS_CMD_SIZE; i += 8) writeLe64(bytes, i, loadRam(vm.ram, addr + BigInt(i), 8));
      const cmd = decodeItsCommand(bytes);
      const rc = execute(vm, its, cmd, ctx.ownedPages);
      if (rc !== 0) ctx.emit(itsErrorEffect(cmd.opcode, cmd.name, rc, creadr));
    } else {
      ctx.emit({ type: 'its.error', command: 'read', code: 'EFAULT', value: -EFAULT, creadr });
    }
    its.creadr = creadr + ITS_CMD_SIZE >= size ? 0 : creadr + ITS_CMD_SIZE;
  }
}

/**
 * The register hooks with command processing filled in (the TRANSLATER hook stays KVM's no-op).
 * `c.fx` is the step's context at run time, so its `ownedPages` reaches the RAM stores.
 */
export const COMMAND_QUEUE_HOOKS: ItsRegHooks = {
  ...NO_ITS_HOOKS,
  processCommands: (c) => processCommands(c.vm, c.its, c.fx),
};
