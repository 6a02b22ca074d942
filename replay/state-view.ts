// The state view (`vgicrr state`, and the terminal UI of issue 7): a machine state turned into a
// structured, display-ready object: per VM its host and quirks, vCPUs and their core registers,
// a guest RAM summary and, with a vGICv3, the distributor, an interrupt table in the manner of
// Linux arch/arm64/kvm/vgic/vgic-debug.c, and each vCPU's redistributor and CPU interface.
//
// Pure: reads a (frozen) MachineState, allocates a fresh view, never prints. Ordering is
// explicit and deterministic: VMs by index, vCPUs by creation index, INTIDs ascending, private
// interrupts grouped by vCPU in creation order.
//
// Extending it: add an optional field to `VmView` or `VcpuView` built by its own function below,
// and a section renderer in state-text.ts, as the ITS did (`its?`, and its LPIs as `kind: 'LPI'`
// rows of `GicView.irqs`, always listed, INTID ascending, after the SPIs) and SDEI did
// (`VcpuView.sdei?`, rendered under each vCPU). Fields are only ever added, so a `--json`
// consumer keeps working.

import { cpuifSummary, isDirectVsgi, type PendingIrq } from '../devices/gicv3/cpuif-derive.js';
import { isPending, spiTarget } from '../devices/gicv3/derive.js';
import {
  GICD_CTLR_ARE_NS,
  GICD_CTLR_DS,
  GICD_CTLR_ENABLE_SS_G1,
  GICD_CTLR_nASSGIreq,
} from '../devices/gicv3/dist-registers.js';
import { gicrTyper, redistFrameBase } from '../devices/gicv3/redist-registers.js';
import {
  type GicCpuState,
  type GicState,
  type IrqState,
  newIrq,
  VGIC_NR_PRIVATE_IRQS,
  VGIC_NR_SGIS,
} from '../devices/gicv3/state.js';
import {
  ABI_0_ESZ,
  COLLECTION_NOT_MAPPED,
  GITS_CBASER_VALID,
  type ItsState,
  itsCmdBufferSize,
  type LpiIrq,
  type LpiState,
} from '../devices/its/state.js';
import { eventStatus, SDEI_NR_EVENTS, type SdeiVcpuState, stateName } from '../devices/sdei/state.js';
import type { HostKind } from '../engine/events.js';
import { ramPages } from '../engine/ram.js';
import { type MachineState, mpidrEl1, PAGE_SIZE, type VcpuState, type VmState } from '../engine/state.js';

export interface StateViewOptions {
  /** List every interrupt, not only those whose state differs from reset (default false). */
  all?: boolean;
  /** Only this vCPU (KVM id): its vCPU entry, redistributor and banked interrupts; SPIs stay. */
  vcpu?: number;
}

/** The whole machine. */
export interface StateView {
  /** Index of the VM statements address (`MachineState.current`); -1 before the first `vm`. */
  current: number;
  vms: VmView[];
}

export interface VmView {
  id: number;
  host: HostKind;
  quirks: string[];
  /** kvm_vm_dead(): every later ioctl fails with -EIO. */
  dead: boolean;
  ipaBits: number;
  sdei: boolean;
  vcpus: VcpuView[];
  ram: RamView;
  /** Present when the VM has a vGICv3 device. */
  gic?: GicView;
  /** Present when the VM has a vgic-its device. */
  its?: ItsView;
}

/** The ITS (struct vgic_its): registers, devices with their ITEs, collections. */
export interface ItsView {
  /** Guest-physical base of the ITS frames; null while undefined (VGIC_ADDR_UNDEF). */
  base: number | null;
  /** GITS_CTLR.Enabled. */
  enabled: boolean;
  /** Table ABI revision (GITS_IIDR.Revision). */
  abiRev: number;
  /** GITS_CBASER as stored (sanitised). */
  cbaser: bigint;
  /** CBASER.Valid. */
  cbaserValid: boolean;
  /** Command queue size in bytes: (CBASER.Size + 1) × 4 KiB. */
  queueSize: number;
  /** GITS_CREADR / GITS_CWRITER: byte offsets into the queue. */
  creadr: number;
  cwriter: number;
  /** GITS_BASER0 (device table) and GITS_BASER1 (collection table), as stored. */
  baser0: bigint;
  baser1: bigint;
  /** Mapped devices, DeviceID ascending. */
  devices: ItsDeviceView[];
  /** Collections, ICID ascending. */
  collections: ItsCollectionView[];
}

export interface ItsDeviceView {
  deviceId: number;
  /** ITT guest-physical address. */
  ittAddr: number;
  /** MAPD Size + 1: EventIDs below 2^eventIdBits. */
  eventIdBits: number;
  /** ITT size in bytes: 2^eventIdBits entries of 8 bytes (ABI revision 0). */
  ittSize: number;
  /** Interrupt translation entries, EventID ascending. */
  ites: ItsIteView[];
}

export interface ItsIteView {
  eventId: number;
  /** The LPI the event translates to. */
  intid: number;
  /** ICID of its collection; null once that collection was freed (an orphaned ITE). */
  icid: number | null;
  orphaned: boolean;
}

export interface ItsCollectionView {
  icid: number;
  /** Target vCPU id; null when unmapped (COLLECTION_NOT_MAPPED). */
  target: number | null;
}

/** Where a vCPU is with respect to KVM_RUN. */
export type RunState = 'running' | 'stopped' | 'exited' | 'not-run';

export interface VcpuView {
  /** KVM vCPU id. */
  id: number;
  /** Creation index (vcpu_idx). */
  index: number;
  /** MPIDR_EL1 as the guest reads it. */
  mpidr: bigint;
  /**
   * running: inside KVM_RUN; stopped: taken out by the VMM's `stop` and resumed by `cont`;
   * exited: has run, not inside KVM_RUN now; not-run: never entered KVM_RUN.
   */
  run: RunState;
  pc: bigint;
  pstate: bigint;
  /** x0–x30 that are not zero, by register number. */
  x: { n: number; value: bigint }[];
  /** Redistributor and CPU interface, when the VM has a vGICv3. */
  gic?: GicCpuView;
  /** The SDEI service's per-vCPU state, when the VM has SDEI (devices/sdei). */
  sdei?: SdeiVcpuView;
}

/** SDEI state of one vCPU (sdei.md §3: bitmaps, handlers, one saved context). */
export interface SdeiVcpuView {
  /** PE masked (KVM_ARM64_SDEI_MASKED). */
  masked: boolean;
  /** Every event the VM defines (0 software-signalled, 1 hypervisor), ascending. */
  events: SdeiEventView[];
  /** The event whose handler runs, or null (lowest running bit). */
  running: number | null;
  /** The interrupted context while a handler runs, else null. */
  context: SdeiContextView | null;
}

export interface SdeiEventView {
  event: number;
  /** EVENT_STATUS: bit0 registered, bit1 enabled, bit2 running. */
  status: number;
  /** State name of sdei.md §2.1 (`unregistered`, `registered`, `enabled`, `registered-running`, `enabled-running`, `unregister-pending`), or `illegal(N)`. */
  state: string;
  /** Handler entry address and argument as registered (kept after UNREGISTER, as KVM does). */
  entry: bigint;
  arg: bigint;
  pending: boolean;
}

export interface SdeiContextView {
  pc: bigint;
  pstate: bigint;
  /** Saved x0–x17, every one, by register number. */
  x: bigint[];
}

export interface RamView {
  /** 4 KiB pages written so far. */
  pages: number;
  bytes: number;
  /** Runs of consecutive pages in use, ascending: [first address, last address] inclusive. */
  ranges: { start: number; end: number }[];
}

/** A redistributor region as the device API created it. */
export interface RegionView {
  index: number;
  base: number;
  /** Frames; 0 for the legacy V3_REDIST region. */
  count: number;
  /** Frames placed so far. */
  used: number;
}

export interface GicView {
  initialized: boolean;
  ready: boolean;
  nrSpis: number;
  /** GICD_CTLR as the guest reads it. */
  ctlr: number;
  /** GICD_CTLR.EnableGrp1A. */
  enabled: boolean;
  /** GICD_IIDR.Revision. */
  iidrRevision: number;
  nassgicap: boolean;
  nassgireq: boolean;
  /** Distributor base, or null while undefined (VGIC_ADDR_UNDEF). */
  distBase: number | null;
  regions: RegionView[];
  hasIts: boolean;
  propbaser: bigint;
  /** Interrupts: every one with `all`, else those whose state differs from reset. */
  irqs: IrqRow[];
  /** Interrupts in the table's scope, listed or not. */
  irqsTotal: number;
}

export type IrqKind = 'SGI' | 'PPI' | 'SPI' | 'LPI';

/** One row of the interrupt table (vgic-debug.c print_irq_state). */
export interface IrqRow {
  kind: IrqKind;
  intid: number;
  /** The vCPU (KVM id) a banked SGI/PPI belongs to; null for SPIs. */
  vcpu: number | null;
  /** P: pending latch (for a GICv4.1 direct vSGI, the vPE's pending bit). */
  pending: boolean;
  /** L: line level. */
  line: boolean;
  /** A: active. */
  active: boolean;
  /** E: enabled. */
  enabled: boolean;
  /** H: hardware-backed (a GICv4.1 direct vSGI). */
  hw: boolean;
  /** C: level-sensitive (else edge). */
  level: boolean;
  /** G: group (0 or 1). */
  group: number;
  priority: number;
  /** Routing affinity Aff2.Aff1.Aff0 (GICD_IROUTER for SPIs). */
  mpidr: number;
  /** The vCPU (KVM id) the interrupt targets: owner of a banked one, IROUTER's for an SPI; null if none. */
  target: number | null;
  /** Pending in the sense of is_pending (latch, or line for level), the P column's meaning for KVM. */
  isPending: boolean;
}

export interface GicCpuView {
  /** Redistributor region index and slot; null until placed. */
  region: number | null;
  slot: number;
  /** RD_base, once placed. */
  rdBase: number | null;
  gicrTyper: bigint;
  /** GICR_PENDBASER as stored (PTZ included). */
  pendbaser: bigint;
  enableLpis: boolean;
  /** ICC_CTLR_EL1.PRIbits + 1 and IDbits. */
  priBits: number;
  idBits: number;
  pmr: number;
  bpr0: number;
  bpr1: number;
  cbpr: boolean;
  eoiMode: boolean;
  igrpen0: boolean;
  igrpen1: boolean;
  runningPriority: number;
  ap0r: number[];
  ap1r: number[];
  /** What HPPIR would name (priority mask and running priority ignored); null when none. */
  highestPending: PendingIrq | null;
  /** SGIs pending in the GICv4.1 vPE (direct vSGIs), ascending. */
  vsgiPending: number[];
}

/** The view of `state`. Pure. */
export function stateView(state: MachineState, options: StateViewOptions = {}): StateView {
  return { current: state.current, vms: state.vms.map((vm) => vmView(vm, options)) };
}

function vmView(vm: VmState, options: StateViewOptions): VmView {
  const vcpus = selectedVcpus(vm, options);
  const view: VmView = {
    id: vm.id,
    host: vm.host,
    quirks: [...vm.quirks],
    dead: vm.dead,
    ipaBits: vm.ipaBits,
    sdei: vm.sdei,
    vcpus: vcpus.map((vcpu) => vcpuView(vm, vcpu)),
    ram: ramView(vm),
  };
  const gic = vm.devices.gic;
  if (gic) view.gic = gicView(vm, gic, vcpus, options);
  const its = vm.devices.its;
  if (its) view.its = itsView(its);
  return view;
}

function selectedVcpus(vm: VmState, options: StateViewOptions): VcpuState[] {
  return options.vcpu === undefined ? vm.vcpus : vm.vcpus.filter((v) => v.id === options.vcpu);
}

function runState(vcpu: VcpuState): RunState {
  if (vcpu.inRun) return 'running';
  if (vcpu.resumeOnCont) return 'stopped';
  return vcpu.ran ? 'exited' : 'not-run';
}

function vcpuView(vm: VmState, vcpu: VcpuState): VcpuView {
  const view: VcpuView = {
    id: vcpu.id,
    index: vm.vcpus.indexOf(vcpu),
    mpidr: mpidrEl1(vcpu.affinity),
    run: runState(vcpu),
    pc: vcpu.pc,
    pstate: vcpu.pstate,
    x: vcpu.x.flatMap((value, n) => (value === 0n ? [] : [{ n, value }])),
  };
  const gic = vm.devices.gic;
  const cpu = vcpu.devices.gic;
  if (gic && cpu) view.gic = gicCpuView(vm, gic, vcpu, cpu);
  const sdei = vcpu.devices.sdei;
  if (vm.sdei && sdei) view.sdei = sdeiView(sdei);
  return view;
}

function sdeiView(s: SdeiVcpuState): SdeiVcpuView {
  const events: SdeiEventView[] = [];
  let running: number | null = null;
  for (let n = 0; n < SDEI_NR_EVENTS; n++) {
    const status = eventStatus(s, n);
    if (running === null && s.running & (1 << n)) running = n;
    const handler = s.handlers[n];
    events.push({
      event: n,
      status,
      state: stateName(status),
      entry: handler?.addr ?? 0n,
      arg: handler?.arg ?? 0n,
      pending: (s.pending & (1 << n)) !== 0,
    });
  }
  const context = running === null ? null : { pc: s.ctx.pc, pstate: s.ctx.pstate, x: [...s.ctx.regs] };
  return { masked: s.masked, events, running, context };
}

function ramView(vm: VmState): RamView {
  const pages = ramPages(vm.ram)
    .map((p) => p.addr)
    .sort((a, b) => a - b);
  const ranges: RamView['ranges'] = [];
  for (const addr of pages) {
    const last = ranges[ranges.length - 1];
    if (last && last.end + 1 === addr) last.end = addr + PAGE_SIZE - 1;
    else ranges.push({ start: addr, end: addr + PAGE_SIZE - 1 });
  }
  return { pages: pages.length, bytes: pages.length * PAGE_SIZE, ranges };
}

/** GICD_CTLR as the guest reads it (vgic_mmio_read_v3_misc): ARE_NS and DS always set. */
function gicdCtlr(gic: GicState): number {
  let value = GICD_CTLR_ARE_NS | GICD_CTLR_DS;
  if (gic.enabled) value |= GICD_CTLR_ENABLE_SS_G1;
  if (gic.nassgireq) value |= GICD_CTLR_nASSGIreq;
  return value;
}

function gicView(
  vm: VmState,
  gic: GicState,
  vcpus: readonly VcpuState[],
  options: StateViewOptions,
): GicView {
  const rows: IrqRow[] = [];
  let total = 0;
  const consider = (row: IrqRow, reset: IrqState, irq: IrqState): void => {
    total++;
    if (options.all || differsFromReset(row, irq, reset)) rows.push(row);
  };
  for (const vcpu of vcpus) {
    const cpu = vcpu.devices.gic;
    if (!cpu) continue;
    for (let intid = 0; intid < VGIC_NR_PRIVATE_IRQS; intid++) {
      const irq = cpu.irqs[intid];
      if (!irq) continue;
      consider(privateRow(vcpu, cpu, intid, irq), privateReset(gic, vcpu, intid), irq);
    }
  }
  const spiReset = newIrq({ group: 1 });
  for (let i = 0; i < gic.spis.length; i++) {
    const irq = gic.spis[i]!;
    consider(spiRow(vm, VGIC_NR_PRIVATE_IRQS + i, irq), spiReset, irq);
  }
  // LPIs exist only while an ITE maps them, so every one is listed (VM-global, as SPIs).
  for (const lpi of lpiList(vm.devices.lpis)) {
    total++;
    rows.push(lpiRow(lpi));
  }
  return {
    initialized: gic.initialized,
    ready: gic.ready,
    nrSpis: gic.nrSpis,
    ctlr: gicdCtlr(gic),
    enabled: gic.enabled,
    iidrRevision: gic.implementationRev,
    nassgicap: gic.nassgicap,
    nassgireq: gic.nassgireq,
    distBase: gic.distBase,
    regions: [...gic.regions]
      .sort((a, b) => a.index - b.index)
      .map((r) => ({ index: r.index, base: r.base, count: r.count, used: r.freeIndex })),
    hasIts: gic.hasIts,
    propbaser: gic.propbaser,
    irqs: rows,
    irqsTotal: total,
  };
}

/**
 * A private interrupt at reset: as vgic_allocate_private_irqs_locked creates it (SGIs enabled and
 * edge, PPIs level), plus what INIT sets once the vGIC is initialized (group 1, the vCPU's
 * affinity); see devices/gicv3/reset.ts.
 */
function privateReset(gic: GicState, vcpu: VcpuState, intid: number): IrqState {
  const irq = intid < VGIC_NR_SGIS ? newIrq({ enabled: true }) : newIrq({ level: true });
  if (gic.initialized) {
    irq.group = 1;
    irq.mpidr = vcpu.affinity & 0xff_ffff;
  }
  return irq;
}

/**
 * Whether a row is worth listing without `--all`. The `hw` flag of SGIs is not compared: it
 * follows GICD_CTLR.nASSGIreq for all sixteen SGIs of every vCPU at once, which the distributor
 * section already shows; their pending bit in the vPE is (it is the row's P).
 */
function differsFromReset(row: IrqRow, irq: IrqState, reset: IrqState): boolean {
  return (
    row.pending ||
    irq.lineLevel !== reset.lineLevel ||
    irq.enabled !== reset.enabled ||
    irq.active !== reset.active ||
    (irq.hw !== reset.hw && row.kind !== 'SGI') ||
    irq.priority !== reset.priority ||
    irq.group !== reset.group ||
    irq.level !== reset.level ||
    irq.mpidr !== reset.mpidr
  );
}

function privateRow(vcpu: VcpuState, cpu: GicCpuState, intid: number, irq: IrqState): IrqRow {
  const direct = isDirectVsgi(intid, irq);
  const pending = direct ? cpu.vsgiPending[intid] === true : irq.pendingLatch;
  return {
    kind: intid < VGIC_NR_SGIS ? 'SGI' : 'PPI',
    intid,
    vcpu: vcpu.id,
    ...flags(irq),
    pending,
    target: vcpu.id,
    isPending: direct ? pending : isPending(irq),
  };
}

function spiRow(vm: VmState, intid: number, irq: IrqState): IrqRow {
  return {
    kind: 'SPI',
    intid,
    vcpu: null,
    ...flags(irq),
    target: spiTarget(vm, irq)?.id ?? null,
    isPending: isPending(irq),
  };
}

/** The VM's LPIs, INTID ascending (explicitly sorted, whatever the record's key order). */
function lpiList(lpis: LpiState | undefined): LpiIrq[] {
  if (!lpis) return [];
  return Object.values(lpis.irqs).sort((a, b) => a.intid - b.intid);
}

/** An LPI: edge-triggered, Group 1, no active state or line; routed by its collection. */
function lpiRow(lpi: LpiIrq): IrqRow {
  return {
    kind: 'LPI',
    intid: lpi.intid,
    vcpu: null,
    pending: lpi.pendingLatch,
    line: false,
    active: false,
    enabled: lpi.enabled,
    hw: false,
    level: false,
    group: 1,
    priority: lpi.priority,
    mpidr: 0,
    target: lpi.targetVcpu,
    isPending: lpi.pendingLatch,
  };
}

function itsView(its: ItsState): ItsView {
  return {
    base: its.base,
    enabled: its.enabled,
    abiRev: its.abiRev,
    cbaser: its.cbaser,
    cbaserValid: (its.cbaser & GITS_CBASER_VALID) !== 0n,
    queueSize: itsCmdBufferSize(its.cbaser),
    creadr: its.creadr,
    cwriter: its.cwriter,
    baser0: its.baserDevice,
    baser1: its.baserCollection,
    devices: [...its.devices]
      .sort((a, b) => a.deviceId - b.deviceId)
      .map((d) => ({
        deviceId: d.deviceId,
        ittAddr: d.ittAddr,
        eventIdBits: d.numEventIdBits,
        ittSize: 2 ** d.numEventIdBits * ABI_0_ESZ,
        ites: [...d.ites]
          .sort((a, b) => a.eventId - b.eventId)
          .map((ite) => ({
            eventId: ite.eventId,
            intid: ite.intid,
            icid: ite.icid,
            orphaned: ite.icid === null,
          })),
      })),
    collections: [...its.collections]
      .sort((a, b) => a.icid - b.icid)
      .map((c) => ({ icid: c.icid, target: c.target === COLLECTION_NOT_MAPPED ? null : c.target })),
  };
}

function flags(irq: IrqState): Omit<IrqRow, 'kind' | 'intid' | 'vcpu' | 'target' | 'isPending'> {
  return {
    pending: irq.pendingLatch,
    line: irq.lineLevel,
    active: irq.active,
    enabled: irq.enabled,
    hw: irq.hw,
    level: irq.level,
    group: irq.group,
    priority: irq.priority,
    mpidr: irq.mpidr,
  };
}

function gicCpuView(vm: VmState, gic: GicState, vcpu: VcpuState, cpu: GicCpuState): GicCpuView {
  const s = cpuifSummary(vm, vcpu)!;
  const vsgiPending: number[] = [];
  for (let i = 0; i < VGIC_NR_SGIS; i++) if (cpu.vsgiPending[i]) vsgiPending.push(i);
  return {
    region: cpu.region,
    slot: cpu.slot,
    rdBase: redistFrameBase(gic, cpu) ?? null,
    gicrTyper: gicrTyper(gic, vcpu),
    pendbaser: cpu.pendbaser,
    enableLpis: cpu.enableLpis,
    priBits: cpu.numPriBits,
    idBits: cpu.numIdBits,
    pmr: s.pmr,
    bpr0: s.bpr0,
    bpr1: s.bpr1,
    cbpr: s.cbpr,
    eoiMode: s.eoiMode,
    igrpen0: s.igrpen0,
    igrpen1: s.igrpen1,
    runningPriority: s.runningPriority,
    ap0r: s.ap0r,
    ap1r: s.ap1r,
    highestPending: s.highestPending ?? null,
    vsgiPending,
  };
}

/** JSON.stringify replacer for a view: bigints as 0x-prefixed hex strings. */
export function viewJsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `0x${value.toString(16)}` : value;
}
