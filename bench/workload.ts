// A seeded, realistic-shaped event stream for the benchmarks: a 4-vCPU GIC guest with an ITS
// and SDEI. The VMM builds the VM as `board virt vcpus=4` does (scenario/expand.ts expandBoard),
// the guest brings the vGICv3 up as Linux's irq-gic-v3.c does (distributor, each redistributor,
// each CPU interface), then the ITS as `guest its_init` does, maps 8 MSI devices of 4 events
// each (MAPD, MAPC per vCPU, MAPTI, property bytes, INVALL) and registers SDEI event 0 on every
// vCPU; the vCPUs run, and then the mix: interrupt storms (SPI edge and level pulses through
// KVM_IRQ_LINE, each acknowledged with ICC_IAR1_EL1 and completed with ICC_EOIR1_EL1 on the vCPU
// the SPI is routed to), MSI storms (KVM_SIGNAL_MSI, then IAR/EOI of the LPI on its target), ITS
// commands through the command queue (INT, MOVI, INV after a property change, SYNC), SDEI
// signal → dispatch → COMPLETE loops, IPIs (ICC_SGI1R_EL1, then IAR/EOI on the target), RAM
// traffic, hypercalls, and now and then a VMM stop with register and GIC/ITS state reads, then
// `cont`. The stream is executed as it is generated (statements that need the machine's state,
// such as ITS commands at CWRITER, are expanded against it, and the guest acknowledges what IAR
// returned). Deterministic: the same seed gives the same events.

import { ADDR_ATTRS, ATTR_GROUPS, CTRL_ATTRS, registerByName } from '../devices/names.js';
import { CORE_REG_PC, coreRegX } from '../engine/core.js';
import type { AccessSize, EngineEvent } from '../engine/events.js';
import { defaultAffinity } from '../engine/state.js';
import { WorkingCopy } from '../engine/working-copy.js';
import { defaultRegistry } from '../replay/machine.js';
import { createRecorder, memorySink } from '../replay/recorder.js';
import { GICR_STRIDE, VIRT_GICD_BASE, VIRT_GICR_BASE, VIRT_GITS_BASE } from '../scenario/board.js';
import { expandStatement } from '../scenario/expand.js';
import { mulberry32 } from '../scenario/gen/prng.js';
import { parseScenario } from '../scenario/parser.js';

/** The events so far, executed as they are added, so that later statements can depend on state. */
class Stream {
  readonly list: EngineEvent[] = [];
  readonly machine = new WorkingCopy(defaultRegistry());

  get length(): number {
    return this.list.length;
  }

  push(...events: EngineEvent[]): void {
    for (const event of events) this.step(event);
  }

  /** Adds one event and returns its output value (what a guest load or IAR read returned). */
  step(event: EngineEvent): bigint {
    this.list.push(event);
    return this.machine.step(event).output.value ?? 0n;
  }

  /** One scenario statement, expanded against the current state (ITS commands, SDEI calls). */
  statement(line: string): void {
    const stmt = parseScenario(`vm\n${line}\n`, 'workload').statements[1]!;
    const gen = expandStatement(stmt, { state: () => this.machine.state, registry: this.machine.registry });
    let next = gen.next();
    while (!next.done) {
      this.list.push(next.value);
      next = gen.next(this.machine.step(next.value));
    }
  }
}

/** mulberry32, the generator's seeded PRNG (no Math.random anywhere near the engine). */
export const prng = mulberry32;

const VCPUS = 4;
const NR_IRQS = 128;
/** SPIs the guest's drivers use: INTIDs 32..(32 + DEVICE_SPIS - 1), each routed to one vCPU. */
const DEVICE_SPIS = 48;
/** GICD_INT_DEF_PRI_X4 (Linux include/linux/irqchip/arm-gic-common.h). */
const DEF_PRI_X4 = 0xa0a0_a0a0n;
const ALL_ONES = 0xffff_ffffn;

const SIZES: AccessSize[] = [1, 2, 4, 8];
/** Calls that leave the SDEI state alone: VERSION, STATUS, GET_INFO, FEATURES, SMCCC_VERSION, 0xC4000033. */
const HARMLESS_CALLS = [0xc400_0020, 0xc400_0028, 0xc400_0029, 0xc400_0030, 0x8000_0000, 0xc400_0033];
const reg = (name: string): number => registerByName(name)!.offset;
const ICC = {
  SRE: reg('ICC_SRE_EL1'),
  PMR: reg('ICC_PMR_EL1'),
  BPR1: reg('ICC_BPR1_EL1'),
  CTLR: reg('ICC_CTLR_EL1'),
  IGRPEN1: reg('ICC_IGRPEN1_EL1'),
  IAR1: reg('ICC_IAR1_EL1'),
  EOIR1: reg('ICC_EOIR1_EL1'),
  HPPIR1: reg('ICC_HPPIR1_EL1'),
  RPR: reg('ICC_RPR_EL1'),
  SGI1R: reg('ICC_SGI1R_EL1'),
};
/** CPU_SYSREGS the VMM saves (KVM_DEV_ARM_VGIC_SYSREG encodings). */
const SAVED_SYSREGS = [ICC.PMR, ICC.BPR1, ICC.CTLR, ICC.SRE, ICC.IGRPEN1, reg('ICC_AP1R0_EL1')];
/** Distributor and redistributor registers the VMM saves (as QEMU's arm_gicv3_kvm.c does). */
const SAVED_DIST = [
  'GICD_CTLR',
  'GICD_TYPER',
  'GICD_ISENABLER1',
  'GICD_ISPENDR1',
  'GICD_IPRIORITYR8',
  'GICD_ICFGR2',
];
const SAVED_REDIST = ['GICR_CTLR', 'GICR_WAKER', 'GICR_ISENABLER0', 'GICR_ISPENDR0', 'GICR_IPRIORITYR0'];

const gicd = (name: string): bigint => BigInt(VIRT_GICD_BASE + reg(name));
/** vCPU k's redistributor: the region of `board virt` holds them in creation order. */
const gicr = (vcpu: number, name: string): bigint => BigInt(VIRT_GICR_BASE + vcpu * GICR_STRIDE + reg(name));

function attrSet(group: string, attr: bigint, value: bigint | null, dev: 'gic' | 'its' = 'gic'): EngineEvent {
  return { type: 'attr.set', dev, group: ATTR_GROUPS[group]!, attr, value };
}

/** `board virt vcpus=4` (scenario/expand.ts expandBoard), with NR_IRQS 128 and the ITS. */
function board(events: Stream): void {
  events.push({ type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: true });
  for (let v = 0; v < VCPUS; v++) events.push({ type: 'vcpu.create', vcpu: v });
  events.push(
    { type: 'device.create', kind: 'vgic-v3' },
    attrSet('NR_IRQS', 0n, BigInt(NR_IRQS)),
    attrSet('CTRL', BigInt(CTRL_ATTRS.INIT!), null),
    attrSet('ADDR', BigInt(ADDR_ATTRS.V3_DIST!), BigInt(VIRT_GICD_BASE)),
    attrSet('ADDR', BigInt(ADDR_ATTRS.V3_REDIST_REGION!), (BigInt(VCPUS) << 52n) | BigInt(VIRT_GICR_BASE)),
    { type: 'device.create', kind: 'vgic-its' },
    attrSet('CTRL', BigInt(CTRL_ATTRS.INIT!), null, 'its'),
    attrSet('ADDR', BigInt(ADDR_ATTRS.ITS!), BigInt(VIRT_GITS_BASE), 'its'),
  );
}

const MSI_DEVICES = 8;
const MSI_EVENTS = 4;
/** LPI of device d, event e. */
const lpiOf = (d: number, e: number) => 8192 + d * 32 + e;
/** SDEI handler entry of vCPU v (any address in RAM: the handler is not executed). */
const sdeiEntry = (v: number) => 0x4010_0000 + v * 0x1000;

/**
 * The ITS as Linux's irq-gic-v3-its.c brings it up (here through `guest its_init`), one
 * collection per vCPU (MAPC), every device's ITT (MAPD), its events (MAPTI, spread over the
 * collections), their property bytes (priority 0xa0, enabled) and an INVALL per collection.
 * Returns each event's collection.
 */
function itsBringUp(events: Stream): number[][] {
  events.statement('guest its_init');
  for (let v = 0; v < VCPUS; v++) events.statement(`vcpu 0 its MAPC icid=${v} rdbase=${v}`);
  const icid: number[][] = [];
  for (let d = 0; d < MSI_DEVICES; d++) {
    events.statement(`vcpu 0 its MAPD dev=${d} size=${MSI_EVENTS - 1} itt=${0x5020_0000 + d * 0x1000}`);
    icid.push([]);
    for (let e = 0; e < MSI_EVENTS; e++) {
      icid[d]!.push((d + e) % VCPUS);
      events.statement(`vcpu 0 its MAPTI dev=${d} event=${e} lpi=${lpiOf(d, e)} icid=${(d + e) % VCPUS}`);
      events.statement(`guest lpi_config ${lpiOf(d, e)} 0xa1`);
    }
  }
  for (let v = 0; v < VCPUS; v++) events.statement(`vcpu 0 its INVALL icid=${v}`);
  return icid;
}

/** SDEI as Linux's arm_sdei.c does at boot: event 0 registered and enabled, the PE unmasked. */
function sdeiBringUp(events: Stream): void {
  for (let v = 0; v < VCPUS; v++) {
    events.statement(`vcpu ${v} hvc SDEI_VERSION`);
    events.statement(`vcpu ${v} hvc SDEI_EVENT_REGISTER 0 ${sdeiEntry(v)} ${v} 0 0`);
    events.statement(`vcpu ${v} hvc SDEI_EVENT_ENABLE 0`);
    events.statement(`vcpu ${v} hvc SDEI_PE_UNMASK`);
  }
}

/**
 * Linux's bring-up (drivers/irqchip/irq-gic-v3.c): gic_dist_init on the boot vCPU (distributor
 * off, gic_dist_config: SPIs level, default priority, disabled and inactive; group 1; then ARE_NS
 * and Group 1 enabled; every SPI routed to the boot CPU), then on each vCPU gic_cpu_init (wake the
 * redistributor, SGIs/PPIs group 1, default priority, disabled) and gic_cpu_sys_reg_init (SRE,
 * PMR, BPR1, EOImode 0, Group 1 on, as `guest gic_init` does); finally request_irq for the device
 * SPIs: edge or level, enabled, routed to their vCPU. Returns each device SPI's target.
 */
function gicBringUp(events: Stream, rand: () => number): { target: number[]; edge: boolean[] } {
  const write = (vcpu: number, addr: bigint, value: bigint, size: AccessSize = 4) =>
    events.push({ type: 'guest.write', vcpu, addr, value, size });
  const read = (vcpu: number, addr: bigint, size: AccessSize = 4) =>
    events.push({ type: 'guest.read', vcpu, addr, size });
  // gic_dist_init
  write(0, gicd('GICD_CTLR'), 0n);
  read(0, gicd('GICD_CTLR')); // gic_dist_wait_for_rwp
  read(0, gicd('GICD_TYPER'));
  for (let i = 32; i < NR_IRQS; i += 16) write(0, BigInt(VIRT_GICD_BASE + reg('GICD_ICFGR0') + i / 4), 0n);
  for (let i = 32; i < NR_IRQS; i += 4)
    write(0, BigInt(VIRT_GICD_BASE + reg('GICD_IPRIORITYR0') + i), DEF_PRI_X4);
  for (let i = 32; i < NR_IRQS; i += 32) {
    write(0, BigInt(VIRT_GICD_BASE + reg('GICD_ICACTIVER0') + i / 8), ALL_ONES);
    write(0, BigInt(VIRT_GICD_BASE + reg('GICD_ICENABLER0') + i / 8), ALL_ONES);
    write(0, BigInt(VIRT_GICD_BASE + reg('GICD_IGROUPR0') + i / 8), ALL_ONES);
  }
  read(0, gicd('GICD_CTLR'));
  write(0, gicd('GICD_CTLR'), (1n << 4n) | (1n << 1n) | 1n); // ARE_NS | EnableGrp1A | EnableGrp1
  read(0, gicd('GICD_CTLR'));
  const boot = BigInt(defaultAffinity(0));
  for (let i = 32; i < NR_IRQS; i++) write(0, gicd(`GICD_IROUTER${i}`), boot, 8);
  // gic_cpu_init and gic_cpu_sys_reg_init, on each vCPU
  for (let v = 0; v < VCPUS; v++) {
    read(v, gicr(v, 'GICR_TYPER'), 8);
    read(v, gicr(v, 'GICR_WAKER'));
    write(v, gicr(v, 'GICR_WAKER'), 0n);
    read(v, gicr(v, 'GICR_WAKER'));
    write(v, gicr(v, 'GICR_IGROUPR0'), ALL_ONES);
    write(v, gicr(v, 'GICR_ICACTIVER0'), ALL_ONES);
    write(v, gicr(v, 'GICR_ICENABLER0'), ALL_ONES);
    for (let n = 0; n < 8; n++) write(v, gicr(v, `GICR_IPRIORITYR${n}`), DEF_PRI_X4);
    read(v, gicr(v, 'GICR_CTLR')); // gic_redist_wait_for_rwp
    events.push(
      { type: 'guest.msr', vcpu: v, sysreg: ICC.SRE, value: 7n },
      { type: 'guest.msr', vcpu: v, sysreg: ICC.PMR, value: 0xf8n },
      { type: 'guest.msr', vcpu: v, sysreg: ICC.BPR1, value: 0n },
      { type: 'guest.mrs', vcpu: v, sysreg: ICC.CTLR },
      { type: 'guest.msr', vcpu: v, sysreg: ICC.CTLR, value: 0n },
      { type: 'guest.msr', vcpu: v, sysreg: ICC.IGRPEN1, value: 1n },
    );
    // SGIs 0–7 enabled for IPIs (gic_smp_init → request_percpu_irq)
    write(v, gicr(v, 'GICR_ISENABLER0'), 0xffn);
  }
  // request_irq + irq_set_affinity for the device SPIs
  const target: number[] = [];
  const edge: boolean[] = [];
  const icfgrValues: bigint[] = [];
  for (let n = 0; n < DEVICE_SPIS; n++) {
    const intid = 32 + n;
    const cpu = Math.floor(rand() * VCPUS);
    const isEdge = rand() < 0.5;
    target.push(cpu);
    edge.push(isEdge);
    const icfgr = BigInt(VIRT_GICD_BASE + reg('GICD_ICFGR0') + Math.floor(intid / 16) * 4);
    read(0, icfgr);
    const index = Math.floor(intid / 16);
    if (isEdge) {
      // gic_configure_irq: read-modify-write of the INTID's Int_config bit
      icfgrValues[index] = (icfgrValues[index] ?? 0n) | (2n << BigInt((intid % 16) * 2));
      write(0, icfgr, icfgrValues[index]!);
    }
    write(0, gicd(`GICD_IROUTER${intid}`), BigInt(defaultAffinity(cpu)), 8);
    write(
      0,
      BigInt(VIRT_GICD_BASE + reg('GICD_ISENABLER0') + Math.floor(intid / 32) * 4),
      1n << BigInt(intid % 32),
    );
  }
  return { target, edge };
}

export function workload(seed: number, count: number): EngineEvent[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const events = new Stream();
  board(events);
  for (let v = 0; v < VCPUS; v++) events.push({ type: 'vcpu.run', vcpu: v });
  const { target, edge } = gicBringUp(events, rand);
  const icid = itsBringUp(events);
  sdeiBringUp(events);
  let stopped = false;
  /** Acknowledge whatever is pending on `vcpu` and complete it (skipping a spurious 1023). */
  const ackWhatever = (vcpu: number) => {
    const intid = events.step({ type: 'guest.mrs', vcpu, sysreg: ICC.IAR1 });
    if (intid !== 1023n) events.push({ type: 'guest.msr', vcpu, sysreg: ICC.EOIR1, value: intid });
  };
  const sdeiRunning = (vcpu: number) =>
    (events.machine.state.vms[0]?.vcpus[vcpu]?.devices.sdei?.running ?? 0) !== 0;
  // A working set of a few hundred pages, as a guest kernel's hot data would be.
  const ramAddr = () => BigInt(0x4000_0000 + Math.floor(rand() * 256) * 4096 + Math.floor(rand() * 4096 - 8));
  /** The handler's entry and exit on `vcpu`: acknowledge, then EOI (EOImode 0: drop and deactivate). */
  const ackEoi = (vcpu: number, intid: number) =>
    events.push(
      { type: 'guest.mrs', vcpu, sysreg: ICC.IAR1 },
      { type: 'guest.msr', vcpu, sysreg: ICC.EOIR1, value: BigInt(intid) },
    );
  while (events.length < count) {
    const vcpu = Math.floor(rand() * VCPUS);
    const r = rand();
    if (stopped) {
      const s = rand();
      if (s < 0.25)
        events.push({
          type: 'reg.get',
          vcpu,
          reg: s < 0.1 ? CORE_REG_PC : coreRegX(Math.floor(rand() * 31)),
        });
      else if (s < 0.35)
        events.push({
          type: 'reg.set',
          vcpu,
          reg: coreRegX(Math.floor(rand() * 31)),
          value: BigInt(Math.floor(rand() * 2 ** 32)),
        });
      else if (s < 0.75) {
        // Userspace GIC reads, as a VMM saving state does (MPIDR field = the vCPU's affinity).
        const mpidr = BigInt(defaultAffinity(vcpu)) << 32n;
        const g = rand();
        const [group, attr] =
          g < 0.35
            ? ['DIST_REGS', BigInt(reg(pick(SAVED_DIST)))]
            : g < 0.7
              ? ['REDIST_REGS', mpidr | BigInt(reg(pick(SAVED_REDIST)))]
              : ['CPU_SYSREGS', mpidr | BigInt(pick(SAVED_SYSREGS))];
        events.push({
          type: 'attr.get',
          dev: 'gic',
          group: ATTR_GROUPS[group as string]!,
          attr,
          preset: null,
        });
      } else if (s < 0.8) events.push({ type: 'mem.read', addr: ramAddr(), size: 8 });
      else if (s < 0.85)
        events.push({
          type: 'attr.get',
          dev: 'its',
          group: ATTR_GROUPS.ITS_REGS!,
          attr: BigInt(reg(pick(['GITS_CTLR', 'GITS_CBASER', 'GITS_CREADR', 'GITS_CWRITER', 'GITS_BASER0']))),
          preset: null,
        });
      else {
        events.push({ type: 'vm.cont' });
        stopped = false;
      }
    } else if (r < 0.36) {
      const size = pick(SIZES);
      events.push({
        type: 'guest.write',
        vcpu,
        addr: ramAddr(),
        value: BigInt(Math.floor(rand() * 2 ** Math.min(32, size * 8))),
        size,
      });
    } else if (r < 0.62) {
      events.push({ type: 'guest.read', vcpu, addr: ramAddr(), size: pick(SIZES) });
    } else if (r < 0.68) {
      // An MSI storm: devices write their doorbells; each LPI lands on its collection's vCPU.
      const burst = 1 + Math.floor(rand() * 4);
      for (let b = 0; b < burst; b++) {
        const d = Math.floor(rand() * MSI_DEVICES);
        const e = Math.floor(rand() * MSI_EVENTS);
        events.push({ type: 'msi.signal', devid: d, eventid: e });
        ackWhatever(icid[d]![e]!);
      }
    } else if (r < 0.69) {
      // The ITS driver at work: an INT for a device, a MOVI (irq_set_affinity), a property
      // change with its INV, or a SYNC, each through the command queue.
      const d = Math.floor(rand() * MSI_DEVICES);
      const e = Math.floor(rand() * MSI_EVENTS);
      const c = rand();
      if (c < 0.4) {
        events.statement(`vcpu ${vcpu} its INT dev=${d} event=${e}`);
        ackWhatever(icid[d]![e]!);
      } else if (c < 0.7) {
        const to = Math.floor(rand() * VCPUS);
        events.statement(`vcpu ${vcpu} its MOVI dev=${d} event=${e} icid=${to}`);
        icid[d]![e] = to;
      } else if (c < 0.9) {
        events.statement(`guest lpi_config ${lpiOf(d, e)} ${rand() < 0.5 ? '0xa1' : '0x91'}`);
        events.statement(`vcpu ${vcpu} its INV dev=${d} event=${e}`);
      } else {
        events.statement(`vcpu ${vcpu} its SYNC rdbase=${vcpu}`);
      }
    } else if (r < 0.72) {
      // SDEI: signal event 0 to this vCPU (dispatched on the way back into the guest), and the
      // handler completes; a vCPU already in its handler completes first.
      if (sdeiRunning(vcpu)) events.statement(`vcpu ${vcpu} hvc SDEI_EVENT_COMPLETE 0`);
      else {
        events.statement(
          `vcpu ${vcpu} hvc SDEI_EVENT_SIGNAL 0 ${(defaultAffinity(vcpu) | 0x8000_0000) >>> 0}`,
        );
        if (sdeiRunning(vcpu)) events.statement(`vcpu ${vcpu} hvc SDEI_EVENT_CONTEXT 0`);
        events.statement(`vcpu ${vcpu} hvc SDEI_EVENT_COMPLETE 0`);
      }
    } else if (r < 0.76) {
      // An interrupt storm: a device raises a burst of SPIs; each lands on its routed vCPU,
      // which acknowledges and completes it (a level line drops once the handler quiets the device).
      const burst = 1 + Math.floor(rand() * 4);
      for (let b = 0; b < burst; b++) {
        const n = Math.floor(rand() * DEVICE_SPIS);
        const intid = 32 + n;
        const cpu = target[n]!;
        events.push({ type: 'irq.line', kind: 'spi', vcpu: 0, intid, level: 1 });
        if (edge[n]) events.push({ type: 'irq.line', kind: 'spi', vcpu: 0, intid, level: 0 });
        events.push({ type: 'guest.mrs', vcpu: cpu, sysreg: ICC.IAR1 });
        if (!edge[n]) events.push({ type: 'irq.line', kind: 'spi', vcpu: 0, intid, level: 0 });
        events.push({ type: 'guest.msr', vcpu: cpu, sysreg: ICC.EOIR1, value: BigInt(intid) });
      }
      if (rand() < 0.1) events.push({ type: 'guest.mrs', vcpu, sysreg: ICC.IAR1 }); // likely 1023 (spurious)
    } else if (r < 0.8) {
      // An IPI (gic_ipi_send_mask): SGI 0–7 to one vCPU's Aff0 in the target list, then its handler.
      const to = Math.floor(rand() * VCPUS);
      const sgi = Math.floor(rand() * 8);
      const value = (BigInt(sgi) << 24n) | (1n << BigInt(defaultAffinity(to) & 0xf));
      events.push({ type: 'guest.msr', vcpu, sysreg: ICC.SGI1R, value });
      ackEoi(to, sgi);
    } else if (r < 0.86) {
      // A driver polling its interrupt state, or the idle loop peeking.
      const p = rand();
      if (p < 0.4) events.push({ type: 'guest.mrs', vcpu, sysreg: pick([ICC.HPPIR1, ICC.RPR, ICC.PMR]) });
      else if (p < 0.7) events.push({ type: 'guest.read', vcpu, addr: gicd(pick(SAVED_DIST)), size: 4 });
      else events.push({ type: 'guest.read', vcpu, addr: gicr(vcpu, pick(SAVED_REDIST)), size: 4 });
    } else if (r < 0.99) {
      // Status queries and calls nobody serves (SMCCC discovery, unallocated SDEI ids).
      events.push({
        type: 'guest.hvc',
        vcpu,
        args: [BigInt(pick(HARMLESS_CALLS)), BigInt(Math.floor(rand() * 2)), 0n, 0n, 0n, 0n],
      });
    } else if (r < 0.997) {
      events.push({ type: 'guest.reg', vcpu, reg: Math.floor(rand() * 33) });
    } else {
      events.push({ type: 'vm.stop' });
      stopped = true;
    }
  }
  return events.list.slice(0, count);
}

/** `events` executed and recorded in memory, as `vgicrr run --record` would write them. */
export function recordWorkload(events: Iterable<EngineEvent>): Uint8Array {
  const machine = new WorkingCopy(defaultRegistry());
  const sink = memorySink();
  const recorder = createRecorder(sink, {
    producer: 'vgicrr bench',
    board: null,
    host: 'gicv3',
    quirks: [],
    seed: 1,
  });
  for (const event of events) {
    const { output, effects } = machine.step(event);
    recorder.onFrame({ event, output, effects }, machine);
  }
  recorder.finish();
  return sink.bytes();
}
