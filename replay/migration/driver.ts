// Checkpoint migration as a VMM performs it (qemu-client.md §1): the destination's machine init
// and reset, the source's stop handlers (table flushes), the RAM transfer, the source's register
// reads (cpu_synchronize_all_states, kvm_arm_gicv3_get, kvm_arm_its_pre_save) and the
// destination's writes (kvm_arm_gicv3_put, kvm_arm_its_post_load, the vCPU registers), then the
// vCPUs resume on the destination. Every step is a primitive event, yielded to whoever executes
// it (the scenario runner, migrate-check); the values read on the source come back as outcomes
// and are what the destination is given.

import { SDEI_ONE_REGS } from '../../devices/names.js';
import { CORE_REG_PC, CORE_REG_PSTATE, coreRegX } from '../../engine/core.js';
import type { Effect, EngineEvent, HostKind, Output } from '../../engine/events.js';
import type { MachineState, VcpuState, VmState } from '../../engine/state.js';
import { ALL_ONES_32, CTRL, G, get, levelAttr, off, set, withMpidr } from './attrs.js';
import {
  type ClearWrite,
  effectiveProfile,
  type RestoreItem,
  VMM_PROFILES,
  type VmmProfileSpec,
} from './profiles.js';

export interface StepOutcome {
  output: Output;
  effects: Effect[];
}

/** Yields events, receives their outcomes, returns the `migrate_end` output. */
export type MigrationSteps = Generator<EngineEvent, Output, StepOutcome>;

export interface MigrateOptions {
  vmm: string;
  quirks: readonly string[];
  /** The destination host (`migrate host=`); the source's by default. */
  host?: HostKind;
  /** MSIs in flight when the VM stops (`migrate msi=D:E,…`): sent before the flushes, or after them under msi-after-flush. */
  inflightMsis?: readonly { devid: number; eventid: number }[];
}

/** What the source board looks like, so that the destination is built the same way. */
interface Board {
  vm: VmState;
  vcpus: VcpuState[];
  gic: boolean;
  its: boolean;
}

const GICR_TYPER_PLPIS = 1n;
const PENDBASER_PTZ_HI = 1n << 30n;
const ICC_CTLR_PRIBITS_SHIFT = 8n;
const GICR_CTLR_ENABLE_LPIS = 1n;
/** QEMU's reset GICR_WAKER: ProcessorSleep | ChildrenAsleep (arm_gicv3_common.c reset_hold). */
const RESET_WAKER = 0x6n;
/** ICC_SRE_EL1 as QEMU keeps it for KVM (SRE, DFB, DIB). */
const RESET_SRE = 0x7n;

export function* checkpointMigrate(state: () => MachineState, options: MigrateOptions): MigrationSteps {
  const base = VMM_PROFILES[options.vmm];
  if (!base) throw new Error(`unknown VMM profile ${options.vmm}`);
  const quirks = options.quirks;
  const q = (name: string) => quirks.includes(name);
  const profile = effectiveProfile(base, quirks);
  yield { type: 'migrate.begin', vmm: options.vmm, quirks: quirks.join(',') };

  const machine = state();
  const source = machine.current;
  const srcVm = machine.vms[source]!;
  const board: Board = {
    vm: srcVm,
    vcpus: srcVm.vcpus,
    gic: srcVm.devices.gic !== undefined,
    its: srcVm.devices.its !== undefined,
  };
  // Running vCPUs resume on the destination; paused ones stay paused (migrate_end keeps them
  // ready for `cont`), as QEMU migrates the runstate.
  const resume = srcVm.vcpus.filter((v) => v.inRun).map((v) => v.id);

  // The destination QEMU starts first (-incoming): machine init and system reset (§1.7).
  yield note(profile, 'destination machine init');
  yield* createDestination(board, options.host ?? srcVm.host);
  const dest = state().current;
  if (board.gic) {
    yield note(profile, 'destination system reset: kvm_arm_gicv3_put with reset values');
    const reset = yield* resetImage(board);
    yield* putGic(board, reset, profile);
  }
  if (board.its) {
    yield note(profile, 'destination system reset: ITS reset');
    yield set('its', G.CTRL, BigInt(CTRL.ITS_CTRL_RESET), null);
  }

  yield { type: 'vm.select', vm: source };
  yield note(profile, 'source: vm_stop_force_state');
  yield { type: 'vm.stop' };
  const msis = options.inflightMsis ?? [];
  if (!q('msi-after-flush')) yield* sendMsis(msis);
  if (q('ram-before-flush')) yield ramTransfer(source, dest);
  yield note(profile, 'source: change-state handlers (table flushes)');
  for (const flush of profile.flushOrder) {
    if (flush === 'its' && board.its && !q('no-its-save-tables'))
      yield set('its', G.CTRL, BigInt(CTRL.ITS_SAVE_TABLES), null);
    if (flush === 'pending' && board.gic && !q('no-save-pending-tables'))
      yield set('gic', G.CTRL, BigInt(CTRL.SAVE_PENDING_TABLES), null);
  }
  if (q('msi-after-flush')) yield* sendMsis(msis);
  if (!q('ram-before-flush')) yield ramTransfer(source, dest);

  yield note(profile, 'source: cpu_synchronize_all_states');
  const cpus = yield* saveVcpus(board, q('no-sdei-state'));
  let gic: GicImage | undefined;
  if (board.gic) {
    yield note(profile, 'source: kvm_arm_gicv3_get');
    gic = yield* getGic(board, q('no-level-info'));
  }
  let its: ItsImage | undefined;
  if (board.its) {
    yield note(profile, 'source: kvm_arm_its_pre_save');
    its = yield* getIts();
  }

  yield { type: 'vm.select', vm: dest };
  let gicNoted = false;
  for (const part of profile.restoreParts) {
    if (part === 'its') {
      if (!its) continue;
      yield note(profile, 'destination: kvm_arm_its_post_load');
      yield* putIts(its, quirks);
    } else if (gic) {
      if (!gicNoted) yield note(profile, 'destination: kvm_arm_gicv3_put');
      gicNoted = true;
      yield* putGicPart(board, gic, profile, quirks, part);
    }
  }
  yield note(profile, 'destination: cpu_synchronize_all_post_init');
  yield* putVcpus(cpus);
  yield note(profile, 'destination: vm_start');
  for (const id of resume) yield { type: 'vcpu.run', vcpu: id };
  return (yield { type: 'migrate.end' }).output;
}

function note(profile: VmmProfileSpec, text: string): EngineEvent {
  return { type: 'trace.note', text: `${profile.name}: ${text}` };
}

function ramTransfer(from: number, to: number): EngineEvent {
  return { type: 'ram.transfer', from, to };
}

function* sendMsis(msis: readonly { devid: number; eventid: number }[]): MigrationSteps {
  for (const m of msis) yield { type: 'msi.signal', devid: m.devid, eventid: m.eventid };
  return {};
}

/** QEMU virt's machine init on the destination: the same order as `board` (expandBoard). */
function* createDestination(board: Board, host: HostKind): MigrationSteps {
  const vm = board.vm;
  yield { type: 'vm.create', host, quirks: [...vm.quirks], ipaBits: vm.ipaBits, sdei: vm.sdei };
  for (const vcpu of board.vcpus) yield { type: 'vcpu.create', vcpu: vcpu.id };
  const gic = vm.devices.gic;
  if (gic) {
    yield { type: 'device.create', kind: 'vgic-v3' };
    yield set('gic', G.NR_IRQS, 0n, BigInt(gic.nrSpis + 32));
    yield set('gic', G.CTRL, BigInt(CTRL.INIT), null);
    if (gic.distBase !== null) yield set('gic', G.ADDR, 2n, BigInt(gic.distBase));
    for (const region of gic.regions) {
      if (region.count === 0) yield set('gic', G.ADDR, 3n, BigInt(region.base));
      else
        yield set(
          'gic',
          G.ADDR,
          5n,
          (BigInt(region.count) << 52n) | BigInt(region.base) | BigInt(region.index),
        );
    }
  }
  const its = vm.devices.its;
  if (its) {
    yield { type: 'device.create', kind: 'vgic-its' };
    yield set('its', G.CTRL, BigInt(CTRL.INIT), null);
    if (its.base !== null) yield set('its', G.ADDR, 4n, BigInt(its.base));
  }
  return {};
}

// ---- vCPU registers ---------------------------------------------------------------------------

interface VcpuImage {
  vcpu: number;
  regs: { id: bigint; value: bigint }[];
}

const CORE_IDS: readonly bigint[] = [
  ...Array.from({ length: 31 }, (_, i) => coreRegX(i)),
  CORE_REG_PC,
  CORE_REG_PSTATE,
];

/** KVM_GET_REG_LIST order: the core registers, then the firmware registers (SDEI among them). */
function* saveVcpus(board: Board, skipSdei: boolean): Generator<EngineEvent, VcpuImage[], StepOutcome> {
  const ids = [...CORE_IDS];
  if (board.vm.sdei && !skipSdei) ids.push(...Object.values(SDEI_ONE_REGS));
  const out: VcpuImage[] = [];
  for (const vcpu of board.vcpus) {
    const regs: { id: bigint; value: bigint }[] = [];
    for (const id of ids) {
      const r = (yield { type: 'reg.get', vcpu: vcpu.id, reg: id }).output;
      if (r.rc === 0) regs.push({ id, value: r.value ?? 0n });
    }
    out.push({ vcpu: vcpu.id, regs });
  }
  return out;
}

function* putVcpus(cpus: VcpuImage[]): MigrationSteps {
  for (const cpu of cpus)
    for (const r of cpu.regs) yield { type: 'reg.set', vcpu: cpu.vcpu, reg: r.id, value: r.value };
  return {};
}

// ---- the GIC image (QEMU's arm_gicv3 / arm_gicv3_cpu vmstate, qemu-client.md §2) --------------

interface IccImage {
  sre: bigint;
  ctlr: bigint;
  igrpen0: bigint;
  igrpen1: bigint;
  pmr: bigint;
  bpr0: bigint;
  bpr1: bigint;
  ap0r: bigint[];
  ap1r: bigint[];
}

interface CpuImage {
  affinity: number;
  ctlr: bigint;
  statusr: bigint;
  waker: bigint;
  igroupr0: bigint;
  ienabler0: bigint;
  icfgr1: bigint;
  level: bigint;
  ipendr0: bigint;
  iactiver0: bigint;
  ipriority: bigint[];
  propbaser: [bigint, bigint];
  pendbaser: [bigint, bigint];
  icc: IccImage;
}

interface GicImage {
  /** 32-interrupt words, SGI/PPI word included (index 0 unused for the distributor). */
  words: number;
  plpis: boolean;
  gicdCtlr: bigint;
  gicdStatusr: bigint;
  group: bigint[];
  enabled: bigint[];
  level: bigint[];
  pending: bigint[];
  active: bigint[];
  /** Two ICFGR words per 32 interrupts. */
  icfgr: bigint[];
  /** One IPRIORITYR word per 4 interrupts. */
  priority: bigint[];
  /** IROUTER lo/hi per SPI, from INTID 32. */
  irouter: [bigint, bigint][];
  cpus: CpuImage[];
}

function value(o: StepOutcome): bigint {
  return o.output.rc === 0 ? (o.output.value ?? 0n) : 0n;
}

/** The number of interrupts as QEMU derives it from GICD_TYPER (ITLinesNumber), capped at 1020. */
function numIrqOf(typer: bigint): number {
  return Math.min(1020, (Number(typer & 0x1fn) + 1) * 32);
}

/** How many APRs the saved PRIbits imply, in QEMU's descending read order. */
function aprIndexes(ctlr: bigint): number[] {
  const priBits = Number((ctlr >> ICC_CTLR_PRIBITS_SHIFT) & 7n) + 1;
  if (priBits === 7) return [3, 2, 1, 0];
  if (priBits === 6) return [1, 0];
  return [0];
}

/** kvm_arm_gicv3_get (qemu-client.md §1.2), in its exact order. */
function* getGic(board: Board, noLevel: boolean): Generator<EngineEvent, GicImage, StepOutcome> {
  const first = board.vcpus[0]?.affinity ?? 0;
  const typer = value(yield get('gic', G.DIST, BigInt(off('GICD_TYPER'))));
  const words = numIrqOf(typer) / 32;
  const typerLo = value(yield get('gic', G.REDIST, withMpidr(first, off('GICR_TYPER'))));
  yield get('gic', G.REDIST, withMpidr(first, off('GICR_TYPER') + 4));
  const plpis = board.vcpus.length > 0 && (typerLo & GICR_TYPER_PLPIS) !== 0n;
  const gicdCtlr = value(yield get('gic', G.DIST, BigInt(off('GICD_CTLR'))));
  const cpus: CpuImage[] = [];
  for (const vcpu of board.vcpus) {
    const a = vcpu.affinity;
    const r = function* (name: string) {
      return value(yield get('gic', G.REDIST, withMpidr(a, off(name))));
    };
    const cpu: CpuImage = {
      affinity: a,
      ctlr: yield* r('GICR_CTLR'),
      statusr: yield* r('GICR_STATUSR'),
      waker: yield* r('GICR_WAKER'),
      igroupr0: yield* r('GICR_IGROUPR0'),
      ienabler0: yield* r('GICR_ISENABLER0'),
      icfgr1: yield* r('GICR_ICFGR1'),
      level: noLevel ? 0n : value(yield get('gic', G.LEVEL, levelAttr(a, 0))),
      ipendr0: yield* r('GICR_ISPENDR0'),
      iactiver0: yield* r('GICR_ISACTIVER0'),
      ipriority: [],
      propbaser: [0n, 0n],
      pendbaser: [0n, 0n],
      icc: { sre: 0n, ctlr: 0n, igrpen0: 0n, igrpen1: 0n, pmr: 0n, bpr0: 0n, bpr1: 0n, ap0r: [], ap1r: [] },
    };
    for (let n = 0; n < 8; n++) cpu.ipriority.push(yield* r(`GICR_IPRIORITYR${n}`));
    cpus.push(cpu);
  }
  if (plpis) {
    for (const cpu of cpus) {
      const a = cpu.affinity;
      const r = function* (offset: number) {
        return value(yield get('gic', G.REDIST, withMpidr(a, offset)));
      };
      cpu.propbaser = [yield* r(off('GICR_PROPBASER')), yield* r(off('GICR_PROPBASER') + 4)];
      cpu.pendbaser = [yield* r(off('GICR_PENDBASER')), yield* r(off('GICR_PENDBASER') + 4)];
    }
  }
  const d = function* (offset: number) {
    return value(yield get('gic', G.DIST, BigInt(offset)));
  };
  const image: GicImage = {
    words,
    plpis,
    gicdCtlr,
    gicdStatusr: yield* d(off('GICD_STATUSR')),
    group: [0n],
    enabled: [0n],
    level: [0n],
    pending: [0n],
    active: [0n],
    icfgr: [0n, 0n],
    priority: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
    irouter: [],
    cpus,
  };
  for (let w = 1; w < words; w++) image.group.push(yield* d(off('GICD_IGROUPR0') + 4 * w));
  for (let w = 1; w < words; w++) image.enabled.push(yield* d(off('GICD_ISENABLER0') + 4 * w));
  for (let w = 1; w < words; w++)
    image.level.push(noLevel ? 0n : value(yield get('gic', G.LEVEL, levelAttr(first, 32 * w))));
  for (let w = 1; w < words; w++) image.pending.push(yield* d(off('GICD_ISPENDR0') + 4 * w));
  for (let w = 1; w < words; w++) image.active.push(yield* d(off('GICD_ISACTIVER0') + 4 * w));
  for (let n = 2; n < words * 2; n++) image.icfgr.push(yield* d(off('GICD_ICFGR0') + 4 * n));
  for (let n = 8; n < words * 8; n++) image.priority.push(yield* d(off('GICD_IPRIORITYR0') + 4 * n));
  for (let irq = 32; irq < words * 32; irq++) {
    const at = 0x6000 + irq * 8;
    image.irouter.push([yield* d(at), yield* d(at + 4)]);
  }
  for (const cpu of cpus) cpu.icc = yield* getIcc(cpu.affinity);
  return image;
}

function* getIcc(a: number): Generator<EngineEvent, IccImage, StepOutcome> {
  const s = function* (name: string) {
    return value(yield get('gic', G.SYSREGS, withMpidr(a, off(name))));
  };
  const icc: IccImage = {
    sre: yield* s('ICC_SRE_EL1'),
    ctlr: yield* s('ICC_CTLR_EL1'),
    igrpen0: yield* s('ICC_IGRPEN0_EL1'),
    igrpen1: yield* s('ICC_IGRPEN1_EL1'),
    pmr: yield* s('ICC_PMR_EL1'),
    bpr0: yield* s('ICC_BPR0_EL1'),
    bpr1: yield* s('ICC_BPR1_EL1'),
    ap0r: [0n, 0n, 0n, 0n],
    ap1r: [0n, 0n, 0n, 0n],
  };
  for (const n of aprIndexes(icc.ctlr)) icc.ap0r[n] = yield* s(`ICC_AP0R${n}_EL1`);
  for (const n of aprIndexes(icc.ctlr)) icc.ap1r[n] = yield* s(`ICC_AP1R${n}_EL1`);
  return icc;
}

/**
 * What QEMU's system reset puts (arm_gicv3_common.c reset_hold; kvm_arm_gicv3_reset_hold):
 * everything 0 but GICR_WAKER and ICC_SRE_EL1, with ICC_CTLR_EL1 read back from KVM first
 * (arm_gicv3_icc_reset) so that the put passes KVM's PRIbits check. Interrupts reset to group 0
 * (irq_reset_nonsecure is a TCG boot-time setting).
 */
function* resetImage(board: Board): Generator<EngineEvent, GicImage, StepOutcome> {
  const gic = board.vm.devices.gic!;
  const words = Math.min(1020, gic.nrSpis + 32) / 32;
  const zeros = (n: number) => Array.from({ length: n }, () => 0n);
  const cpus: CpuImage[] = [];
  for (const vcpu of board.vcpus) {
    const ctlr = value(yield get('gic', G.SYSREGS, withMpidr(vcpu.affinity, off('ICC_CTLR_EL1'))));
    cpus.push({
      affinity: vcpu.affinity,
      ctlr: 0n,
      statusr: 0n,
      waker: RESET_WAKER,
      igroupr0: 0n,
      ienabler0: 0n,
      icfgr1: 0n,
      level: 0n,
      ipendr0: 0n,
      iactiver0: 0n,
      ipriority: zeros(8),
      propbaser: [0n, 0n],
      pendbaser: [0n, 0n],
      icc: {
        sre: RESET_SRE,
        ctlr,
        igrpen0: 0n,
        igrpen1: 0n,
        pmr: 0n,
        bpr0: 0n,
        bpr1: 0n,
        ap0r: zeros(4),
        ap1r: zeros(4),
      },
    });
  }
  return {
    words,
    plpis: gic.hasIts,
    gicdCtlr: 0n,
    gicdStatusr: 0n,
    group: zeros(words),
    enabled: zeros(words),
    level: zeros(words),
    pending: zeros(words),
    active: zeros(words),
    icfgr: zeros(words * 2),
    priority: zeros(words * 8),
    irouter: Array.from({ length: words * 32 - 32 }, (): [bigint, bigint] => [0n, 0n]),
    cpus,
  };
}

/**
 * kvm_arm_gicv3_put at system reset (qemu-client.md §1.3, §1.7): the same put, so the profile's
 * order and clear writes (zero-clear included) apply; the quirks about saved values have
 * nothing to act on and are left out.
 */
function* putGic(board: Board, image: GicImage, profile: VmmProfileSpec): MigrationSteps {
  for (const part of profile.restoreParts)
    if (part !== 'its') yield* putGicPart(board, image, profile, [], part);
  return {};
}

function* putGicPart(
  board: Board,
  image: GicImage,
  profile: VmmProfileSpec,
  quirks: readonly string[],
  part: string,
): MigrationSteps {
  const q = (name: string) => quirks.includes(name);
  const lpisFirst = q('lpis-enabled-before-base');
  switch (part) {
    case 'gicd_ctlr': {
      const first = board.vcpus[0]?.affinity ?? 0;
      yield get('gic', G.DIST, BigInt(off('GICD_TYPER')));
      yield get('gic', G.REDIST, withMpidr(first, off('GICR_TYPER')));
      yield get('gic', G.REDIST, withMpidr(first, off('GICR_TYPER') + 4));
      yield set('gic', G.DIST, BigInt(off('GICD_CTLR')), image.gicdCtlr);
      return {};
    }
    case 'lpi_bases':
      if (image.plpis && !profile.basesInRedistLoop && !lpisFirst)
        for (const cpu of image.cpus) yield* putBases(cpu, q('force-ptz'));
      return {};
    case 'redist':
      for (const cpu of image.cpus) {
        if (profile.basesInRedistLoop && image.plpis && !lpisFirst) {
          yield* redistWrite(cpu, 'GICR_STATUSR', cpu.statusr);
          yield* redistWrite(cpu, 'GICR_WAKER', cpu.waker);
          yield* putBases(cpu, q('force-ptz'));
        }
        yield* redistWrite(cpu, 'GICR_CTLR', cpu.ctlr);
        if (image.plpis && lpisFirst) yield* putBases(cpu, q('force-ptz'));
        for (const item of profile.redistOrder) {
          if (
            profile.basesInRedistLoop &&
            image.plpis &&
            !lpisFirst &&
            (item === 'statusr' || item === 'waker')
          )
            continue;
          yield* putRedistItem(cpu, item, profile, q('no-level-info'));
        }
      }
      return {};
    case 'dist':
      for (const item of profile.distOrder)
        yield* putDistItem(board, image, item, profile, q('no-level-info'));
      return {};
    case 'icc':
      for (const cpu of image.cpus) yield* putIcc(cpu.affinity, cpu.icc);
      return {};
    default:
      return {};
  }
}

function* redistWrite(cpu: CpuImage, name: string, v: bigint, delta = 0): MigrationSteps {
  yield set('gic', G.REDIST, withMpidr(cpu.affinity, off(name) + delta), v);
  return {};
}

function* putBases(cpu: CpuImage, forcePtz: boolean): MigrationSteps {
  let pendHi = cpu.pendbaser[1];
  // Old QEMU: PTZ set whenever LPIs were disabled (fixed by "Stop wrongly programming
  // GICR_PENDBASER.PTZ bit", 2020).
  if (forcePtz && (cpu.ctlr & GICR_CTLR_ENABLE_LPIS) === 0n) pendHi |= PENDBASER_PTZ_HI;
  yield* redistWrite(cpu, 'GICR_PROPBASER', cpu.propbaser[0]);
  yield* redistWrite(cpu, 'GICR_PROPBASER', cpu.propbaser[1], 4);
  yield* redistWrite(cpu, 'GICR_PENDBASER', cpu.pendbaser[0]);
  yield* redistWrite(cpu, 'GICR_PENDBASER', pendHi, 4);
  return {};
}

function clearValue(mode: ClearWrite, saved: bigint): bigint | undefined {
  if (mode === 'ones') return ALL_ONES_32;
  if (mode === 'zero') return 0n;
  if (mode === 'saved') return saved;
  return undefined;
}

/** ICFGR as QEMU writes it back: only the odd (edge) bits survive its edge_trigger bitmap. */
const EDGE_BITS = 0xaaaa_aaaan;

function* putRedistItem(
  cpu: CpuImage,
  item: RestoreItem,
  profile: VmmProfileSpec,
  noLevel: boolean,
): MigrationSteps {
  const w = (name: string, v: bigint) => redistWrite(cpu, name, v);
  switch (item) {
    case 'statusr':
      return yield* w('GICR_STATUSR', cpu.statusr);
    case 'waker':
      return yield* w('GICR_WAKER', cpu.waker);
    case 'group':
      return yield* w('GICR_IGROUPR0', cpu.igroupr0);
    case 'enable': {
      const clear = clearValue(profile.enableClear, cpu.ienabler0);
      if (clear !== undefined) yield* w('GICR_ICENABLER0', clear);
      return yield* w('GICR_ISENABLER0', cpu.ienabler0);
    }
    case 'config':
      return yield* w('GICR_ICFGR1', cpu.icfgr1 & EDGE_BITS);
    case 'level':
      if (!noLevel) yield set('gic', G.LEVEL, levelAttr(cpu.affinity, 0), cpu.level);
      return {};
    case 'pending': {
      const clear = clearValue(profile.pendingClear, cpu.ipendr0);
      if (clear !== undefined)
        yield* w('GICR_ICPENDR0', profile.pendingClear === 'zero' ? ALL_ONES_32 : clear);
      return yield* w('GICR_ISPENDR0', cpu.ipendr0);
    }
    case 'active': {
      const clear = clearValue(profile.activeClear, cpu.iactiver0);
      if (clear !== undefined) yield* w('GICR_ICACTIVER0', clear);
      return yield* w('GICR_ISACTIVER0', cpu.iactiver0);
    }
    case 'priority':
      for (let n = 0; n < 8; n++) yield* w(`GICR_IPRIORITYR${n}`, cpu.ipriority[n] ?? 0n);
      return {};
    case 'route':
      return {};
  }
}

function* putDistItem(
  board: Board,
  image: GicImage,
  item: RestoreItem,
  profile: VmmProfileSpec,
  noLevel: boolean,
): MigrationSteps {
  const d = (offset: number, v: bigint) => set('gic', G.DIST, BigInt(offset), v);
  const words = image.words;
  switch (item) {
    case 'statusr':
      yield d(off('GICD_STATUSR'), image.gicdStatusr);
      return {};
    case 'waker':
      return {};
    case 'enable':
      for (let w = 1; w < words; w++) {
        const clear = clearValue(profile.enableClear, image.enabled[w]!);
        if (clear !== undefined) yield d(off('GICD_ICENABLER0') + 4 * w, clear);
        yield d(off('GICD_ISENABLER0') + 4 * w, image.enabled[w]!);
      }
      return {};
    case 'group':
      for (let w = 1; w < words; w++) yield d(off('GICD_IGROUPR0') + 4 * w, image.group[w]!);
      return {};
    case 'route':
      for (let irq = 32; irq < words * 32; irq++) {
        const [lo, hi] = image.irouter[irq - 32]!;
        yield d(0x6000 + irq * 8, lo);
        yield d(0x6000 + irq * 8 + 4, hi);
      }
      return {};
    case 'config':
      for (let n = 2; n < words * 2; n++) yield d(off('GICD_ICFGR0') + 4 * n, image.icfgr[n]! & EDGE_BITS);
      return {};
    case 'level':
      if (!noLevel) {
        const first = board.vcpus[0]?.affinity ?? 0;
        for (let w = 1; w < words; w++) yield set('gic', G.LEVEL, levelAttr(first, 32 * w), image.level[w]!);
      }
      return {};
    case 'pending':
      for (let w = 1; w < words; w++) {
        const clear = clearValue(profile.pendingClear, image.pending[w]!);
        if (clear !== undefined) yield d(off('GICD_ICPENDR0') + 4 * w, clear);
        yield d(off('GICD_ISPENDR0') + 4 * w, image.pending[w]!);
      }
      return {};
    case 'active':
      for (let w = 1; w < words; w++) {
        const clear = clearValue(profile.activeClear, image.active[w]!);
        if (clear !== undefined) yield d(off('GICD_ICACTIVER0') + 4 * w, clear);
        yield d(off('GICD_ISACTIVER0') + 4 * w, image.active[w]!);
      }
      return {};
    case 'priority':
      for (let n = 8; n < words * 8; n++) yield d(off('GICD_IPRIORITYR0') + 4 * n, image.priority[n]!);
      return {};
  }
}

function* putIcc(a: number, icc: IccImage): MigrationSteps {
  const s = (name: string, v: bigint) => set('gic', G.SYSREGS, withMpidr(a, off(name)), v);
  yield s('ICC_SRE_EL1', icc.sre);
  yield s('ICC_CTLR_EL1', icc.ctlr);
  yield s('ICC_IGRPEN0_EL1', icc.igrpen0);
  yield s('ICC_IGRPEN1_EL1', icc.igrpen1);
  yield s('ICC_PMR_EL1', icc.pmr);
  yield s('ICC_BPR0_EL1', icc.bpr0);
  yield s('ICC_BPR1_EL1', icc.bpr1);
  for (const n of aprIndexes(icc.ctlr)) yield s(`ICC_AP0R${n}_EL1`, icc.ap0r[n] ?? 0n);
  for (const n of aprIndexes(icc.ctlr)) yield s(`ICC_AP1R${n}_EL1`, icc.ap1r[n] ?? 0n);
  return {};
}

// ---- the ITS (qemu-client.md §1.5, §1.6) --------------------------------------------------------

interface ItsImage {
  baser: bigint[];
  ctlr: bigint;
  cbaser: bigint;
  creadr: bigint;
  cwriter: bigint;
  iidr: bigint;
}

function* getIts(): Generator<EngineEvent, ItsImage, StepOutcome> {
  const r = function* (name: string) {
    return value(yield get('its', G.ITS, BigInt(off(name))));
  };
  const baser: bigint[] = [];
  for (let n = 0; n < 8; n++) baser.push(yield* r(`GITS_BASER${n}`));
  return {
    baser,
    ctlr: yield* r('GITS_CTLR'),
    cbaser: yield* r('GITS_CBASER'),
    creadr: yield* r('GITS_CREADR'),
    cwriter: yield* r('GITS_CWRITER'),
    iidr: yield* r('GITS_IIDR'),
  };
}

function* putIts(its: ItsImage, quirks: readonly string[]): MigrationSteps {
  const w = (name: string, v: bigint) => set('its', G.ITS, BigInt(off(name)), v);
  const q = (name: string) => quirks.includes(name);
  yield w('GITS_IIDR', its.iidr);
  if (q('creadr-before-cbaser')) {
    yield w('GITS_CREADR', its.creadr);
    yield w('GITS_CBASER', its.cbaser);
  } else {
    yield w('GITS_CBASER', its.cbaser);
    yield w('GITS_CREADR', its.creadr);
  }
  yield w('GITS_CWRITER', its.cwriter);
  for (let n = 0; n < 8; n++) yield w(`GITS_BASER${n}`, its.baser[n] ?? 0n);
  if (q('its-ctlr-before-tables')) yield w('GITS_CTLR', its.ctlr);
  yield set('its', G.CTRL, BigInt(CTRL.ITS_RESTORE_TABLES), null);
  if (!q('its-ctlr-before-tables')) yield w('GITS_CTLR', its.ctlr);
  return {};
}
