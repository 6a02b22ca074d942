// `vgicrr gen`: seeded, realistic guest workloads written as traces (docs/gen.md). A workload is
// a stream of scenario statements chosen by a seeded PRNG and executed as they are chosen
// (driver.ts), so the guest reacts to what the machine answers: it completes the INTID an
// acknowledge returned, lowers the line of the level interrupt it is handling, runs the body of
// an SDEI handler when the vCPU's pc says one was dispatched. The trace holds only the primitive
// events, as for any scenario.
//
// Shape of every workload: `board virt` (vCPUs, host and kernel quirks chosen per profile and
// seed); a Linux-like bring-up (distributor configuration as irq-gic-v3.c's gic_dist_init, each
// redistributor and CPU interface, nASSGIreq on a GICv4.1 host, the ITS with its tables, a
// collection per online CPU, devices with their event-to-LPI maps); secondary CPUs brought online;
// then the profile's mix of actions until about `events` events were executed.
//
// Determinism: the only source of choice is the PRNG seeded with `seed`; every collection the
// generator iterates is an array in index order. The same options give the same statements, the
// same frames and (through the trace writer) the same bytes.

import type { Output } from '../../engine/events.js';
import type { Registry } from '../../engine/registry.js';
import type { WorkingCopy } from '../../engine/working-copy.js';
import type { Frame } from '../../replay/frame.js';
import type { TraceHeaderInput } from '../../replay/trace-writer.js';
import { type LoggedStatement, StatementDriver } from './driver.js';
import { createRng, type Rng } from './prng.js';

export const PROFILES = ['linux-boot', 'irq-storm', 'msi-storm', 'sdei', 'migration-mix'] as const;
export type Profile = (typeof PROFILES)[number];

export interface GenOptions {
  seed: number;
  /** About this many events: no new action starts once they were executed. */
  events: number;
  profile: Profile;
  registry: Registry;
  /** Kernel quirks written on the `board` line. */
  kernelQuirks?: readonly string[];
  /** VMM quirks written on every generated `migrate` statement (migration-mix). */
  migrateQuirks?: readonly string[];
  /** `gicv3` or `gicv4.1`; by default the profile and the seed choose. */
  host?: 'gicv3' | 'gicv4.1';
  producer?: string;
  onFrame?: (frame: Frame, machine: WorkingCopy) => void;
  /** Keep the frames in memory (GenResult.frames). */
  keepFrames?: boolean;
  /** Keep the statement log (GenResult.log; default true). */
  keepLog?: boolean;
}

export interface GenResult {
  header: TraceHeaderInput;
  /** The generated scenario, one statement per line (what `--vgs` writes). */
  statements: string[];
  /** Every statement with its output and effects, for the differential oracle (if kept). */
  log: LoggedStatement[];
  /** The frames, when `keepFrames` was set. */
  frames: Frame[];
  events: number;
}

/** Action names; a profile weighs them. */
type Action =
  | 'spiEdge'
  | 'spiLevelRaise'
  | 'spiLevelDrop'
  | 'timer'
  | 'ipi'
  | 'msi'
  | 'service'
  | 'pmr'
  | 'itsInt'
  | 'movi'
  | 'retarget'
  | 'vmmStop'
  | 'migrate'
  | 'unplug'
  | 'plug'
  | 'lpiReinit'
  | 'movall'
  | 'discard'
  | 'baser'
  | 'cpuOnline'
  | 'spiFree'
  | 'spiPendLatch'
  | 'sdei'
  | 'sdeiReset';

interface ProfileConfig {
  vcpus: [number, number];
  /** Probability of a GICv4.1 host (direct vSGI injection). */
  v41: number;
  devices: [number, number];
  spis: [number, number];
  sdeiGuest: boolean;
  weights: Partial<Record<Action, number>>;
}

const CONFIGS: Record<Profile, ProfileConfig> = {
  'linux-boot': {
    vcpus: [2, 4],
    v41: 0.5,
    devices: [2, 4],
    spis: [4, 8],
    sdeiGuest: true,
    weights: {
      spiEdge: 6,
      spiLevelRaise: 4,
      spiLevelDrop: 1,
      timer: 6,
      ipi: 6,
      msi: 6,
      service: 14,
      pmr: 3,
      itsInt: 1,
      movi: 1,
      retarget: 1,
      vmmStop: 1,
      unplug: 1,
      plug: 1,
      lpiReinit: 1,
      movall: 1,
      discard: 1,
      baser: 0.5,
      cpuOnline: 1,
      spiFree: 0.5,
      spiPendLatch: 0.5,
      sdei: 2,
      sdeiReset: 0.3,
    },
  },
  'irq-storm': {
    vcpus: [2, 4],
    v41: 1,
    devices: [1, 2],
    spis: [8, 16],
    sdeiGuest: false,
    weights: {
      spiEdge: 12,
      spiLevelRaise: 10,
      spiLevelDrop: 3,
      timer: 6,
      ipi: 12,
      msi: 2,
      service: 24,
      pmr: 6,
      retarget: 2,
      vmmStop: 1,
      spiFree: 1,
      spiPendLatch: 1,
    },
  },
  'msi-storm': {
    vcpus: [2, 4],
    v41: 0.3,
    devices: [4, 8],
    spis: [2, 4],
    sdeiGuest: false,
    weights: {
      msi: 20,
      service: 18,
      pmr: 6,
      itsInt: 2,
      movi: 3,
      ipi: 2,
      timer: 2,
      vmmStop: 1.5,
      unplug: 1.5,
      plug: 1.5,
      lpiReinit: 1,
      movall: 1,
      discard: 1.5,
      baser: 0.5,
      cpuOnline: 1,
    },
  },
  sdei: {
    vcpus: [1, 3],
    v41: 0,
    devices: [1, 2],
    spis: [2, 4],
    sdeiGuest: true,
    weights: { sdei: 30, sdeiReset: 2, vmmStop: 2, timer: 3, ipi: 2, service: 6, msi: 2 },
  },
  'migration-mix': {
    vcpus: [2, 4],
    v41: 0.5,
    devices: [2, 4],
    spis: [4, 8],
    sdeiGuest: true,
    weights: {
      spiEdge: 5,
      spiLevelRaise: 4,
      spiLevelDrop: 1,
      timer: 4,
      ipi: 5,
      msi: 8,
      service: 14,
      pmr: 4,
      itsInt: 1,
      movi: 1,
      vmmStop: 2,
      migrate: 0.4,
      unplug: 0.5,
      plug: 0.5,
      sdei: 3,
      cpuOnline: 1,
    },
  },
};

const NR_IRQS = 128;
const TIMER_PPI = 27;
/** Where re-initialized redistributors get their new pending tables (64 KiB each). */
const FRESH_PENDING_TABLES = 0x5800_0000;
const ITT_BASE = 0x5010_0000;
/** Where a re-initialized ITS driver puts its new device tables (one fresh 64 KiB page each time). */
const NEW_DEVICE_TABLE = 0x5020_0000;
const EVENTS_PER_DEVICE = 16;
const LPI_BASE = 8192;
const SDEI_HANDLER = [0x4000_1000, 0x4000_2000];
const PTZ = 1n << 62n;
const PA_MASK = 0x0000_ffff_ffff_f000n;
const SDEI_REGS = [
  'KVM_REG_ARM_SDEI_EVENT_REGISTERED',
  'KVM_REG_ARM_SDEI_EVENT_ENABLED',
  'KVM_REG_ARM_SDEI_EVENT_RUNNING',
  'KVM_REG_ARM_SDEI_PE_STATE',
];

const hex = (v: number | bigint) => `0x${v.toString(16)}`;

interface Spi {
  intid: number;
  level: boolean;
  target: number;
  enabled: boolean;
  high: boolean;
}

interface Device {
  id: number;
  mapped: boolean;
  itt: number;
  /** The collection each event is mapped to, or -1 when the event is not mapped. */
  icid: number[];
}

interface Vcpu {
  id: number;
  online: boolean;
  masked: boolean;
  lpisOff: boolean;
  timerHigh: boolean;
  sdeiRegistered: boolean[];
  sdeiEnabled: boolean[];
  sdeiUnmasked: boolean;
}

class Workload {
  private readonly rng: Rng;
  private readonly config: ProfileConfig;
  private readonly d: StatementDriver;
  private readonly opts: GenOptions;
  readonly statements: string[] = [];
  private vcpus: Vcpu[] = [];
  private spis: Spi[] = [];
  private devices: Device[] = [];
  /** The redistributor each collection is mapped to (-1: not mapped yet). */
  private collections: number[] = [];
  private icfgr: number[] = [];
  private host: 'gicv3' | 'gicv4.1' = 'gicv3';
  private baserRewrites = 0;
  private itts = 0;
  private pendingTables = 0;
  /** In-flight MSIs on in-trace migrations (see docs/gen.md "Known limits"). */
  private readonly inflight = true;

  constructor(opts: GenOptions, driver: StatementDriver) {
    this.opts = opts;
    this.rng = createRng(opts.seed, PROFILES.indexOf(opts.profile));
    this.config = CONFIGS[opts.profile];
    this.d = driver;
  }

  private run(text: string): Output {
    this.statements.push(text);
    return this.d.exec(text);
  }

  private get done(): boolean {
    return this.d.events >= this.opts.events;
  }

  private online(): Vcpu[] {
    return this.vcpus.filter((v) => v.online);
  }

  generate(): void {
    this.boot();
    const actions = Object.keys(this.config.weights) as Action[];
    const weights = actions.map((a) => this.config.weights[a]!);
    while (!this.done) {
      const action = actions[this.rng.weighted(weights)]!;
      this.act(action);
    }
  }

  // --- bring-up -------------------------------------------------------------------------------

  private boot(): void {
    const r = this.rng;
    const c = this.config;
    const plan = planBoard(this.opts);
    const n = plan.vcpus;
    this.host = plan.host;
    this.run(plan.line);
    for (let i = 0; i < n; i++)
      this.vcpus.push({
        id: i,
        online: i === 0,
        masked: false,
        lpisOff: false,
        timerHigh: false,
        sdeiRegistered: [false, false],
        sdeiEnabled: [false, false],
        sdeiUnmasked: false,
      });
    this.collections = this.vcpus.map(() => -1);
    this.run('run 0');
    this.distInit();
    this.run('guest gic_init');
    for (const v of this.vcpus) this.redistInit(v.id);
    this.run('guest its_init');
    // Secondary CPUs: all but (sometimes) the last come online now; the last may come later
    // (cpuOnline), after devices were already mapped to its collection.
    const late = n > 1 && r.chance(0.5) ? n - 1 : -1;
    this.mapCollection(0);
    for (let i = 1; i < n; i++) if (i !== late) this.cpuUp(i);
    const spiCount = r.range(c.spis[0], c.spis[1]);
    for (let i = 0; i < spiCount; i++) this.requestSpi(32 + i);
    const devCount = r.range(c.devices[0], c.devices[1]);
    for (let i = 0; i < devCount; i++) {
      this.devices.push({ id: i + 1, mapped: false, itt: 0, icid: Array(EVENTS_PER_DEVICE).fill(-1) });
      this.plugDevice(this.devices[i]!);
    }
    if (c.sdeiGuest) this.sdeiSetup(this.vcpus[0]!);
  }

  /** gic_dist_init: distributor off, SPIs level, default priority, group 1, routed to CPU 0. */
  private distInit(): void {
    this.run('vcpu 0 read GICD_TYPER');
    this.run('vcpu 0 read GICD_PIDR2');
    this.run('vcpu 0 write GICD_CTLR 0x0');
    this.run('vcpu 0 read GICD_CTLR');
    for (let i = 32; i < NR_IRQS; i += 32) {
      this.run(`vcpu 0 write GICD_ICACTIVER${i / 32} 0xffffffff`);
      this.run(`vcpu 0 write GICD_ICENABLER${i / 32} 0xffffffff`);
      this.run(`vcpu 0 write GICD_IGROUPR${i / 32} 0xffffffff`);
    }
    for (let i = 32; i < NR_IRQS; i += 16) {
      this.run(`vcpu 0 write GICD_ICFGR${i / 16} 0x0`);
      this.icfgr[i / 16] = 0;
    }
    for (let i = 32; i < NR_IRQS; i += 4) this.run(`vcpu 0 write GICD_IPRIORITYR${i / 4} 0xa0a0a0a0`);
    for (let i = 32; i < NR_IRQS; i++) this.run(`vcpu 0 write GICD_IROUTER${i} 0x0 size=8`);
  }

  /** gic_cpu_init on vCPU k: wake the redistributor, SGIs/PPIs group 1, default priority. */
  private redistInit(k: number): void {
    this.run(`vcpu ${k} read GICR_TYPER size=8`);
    this.run(`vcpu ${k} write GICR_WAKER 0x0`);
    this.run(`vcpu ${k} write GICR_IGROUPR0 0xffffffff`);
    // gic_cpu_config: every private interrupt deactivated and disabled (KVM creates the vCPU
    // with its SGIs enabled), then the IPIs (SGIs 0-7) and the timer PPI enabled.
    this.run(`vcpu ${k} write GICR_ICACTIVER0 0xffffffff`);
    this.run(`vcpu ${k} write GICR_ICENABLER0 0xffffffff`);
    for (let i = 0; i < 8; i++) this.run(`vcpu ${k} write GICR_IPRIORITYR${i} 0xa0a0a0a0`);
    this.run(`vcpu ${k} write GICR_ISENABLER0 ${hex(0xff | (1 << TIMER_PPI))}`);
    if (k === 0 && this.host === 'gicv4.1') {
      // A Linux guest asks for direct vSGIs when GICD_TYPER2.nASSGIcap says it can.
      const typer2 = this.run('vcpu 0 read GICD_TYPER2').value ?? 0n;
      if ((typer2 >> 8n) & 1n) {
        this.run('vcpu 0 write GICD_CTLR 0x50');
        this.run('vcpu 0 write GICD_CTLR 0x152');
      }
    }
  }

  private cpuUp(k: number): void {
    const v = this.vcpus[k]!;
    v.online = true;
    this.run(`run ${k}`);
    this.mapCollection(k);
    if (this.config.sdeiGuest) this.sdeiSetup(v);
  }

  private mapCollection(k: number): void {
    this.run(`vcpu 0 its MAPC icid=${k} rdbase=${k}`);
    this.run(`vcpu 0 its SYNC rdbase=${k}`);
    this.collections[k] = k;
  }

  /** request_irq for an SPI: trigger, route, enable (the driver's irq_set_type and affinity). */
  private requestSpi(intid: number): void {
    const r = this.rng;
    const level = r.chance(0.5);
    const target = r.pick(this.online()).id;
    const reg = Math.floor(intid / 16);
    const bit = 2 * (intid % 16) + 1;
    const cur = this.icfgr[reg] ?? 0;
    const next = level ? cur & ~(1 << bit) : cur | (1 << bit);
    this.icfgr[reg] = next >>> 0;
    this.run(`vcpu 0 write GICD_ICFGR${reg} ${hex(next >>> 0)}`);
    this.run(`vcpu 0 write GICD_IROUTER${intid} ${hex(target)} size=8`);
    this.run(`vcpu 0 write GICD_ISENABLER${Math.floor(intid / 32)} ${hex((1 << (intid % 32)) >>> 0)}`);
    const existing = this.spis.find((s) => s.intid === intid);
    if (existing) Object.assign(existing, { level, target, enabled: true });
    else this.spis.push({ intid, level, target, enabled: true, high: false });
  }

  /** The device driver probes: MAPD, then each event mapped to an LPI on some online collection. */
  private plugDevice(dev: Device): void {
    const r = this.rng;
    // A fresh, zeroed ITT for every probe (Linux allocates one in its_create_device): never
    // one that an earlier ITS_SAVE_TABLES filled.
    dev.itt = ITT_BASE + (this.itts++ % 0x1000) * 0x100;
    this.run(`vcpu 0 its MAPD dev=${dev.id} size=3 itt=${hex(dev.itt)}`);
    dev.mapped = true;
    const used = r.range(2, EVENTS_PER_DEVICE);
    for (let e = 0; e < EVENTS_PER_DEVICE; e++) {
      if (e >= used) {
        dev.icid[e] = -1;
        continue;
      }
      const lpi = LPI_BASE + dev.id * EVENTS_PER_DEVICE + e;
      // Any CPU's collection, online or not yet (a late CPU's collection is unmapped until then).
      const icid = r.int(this.vcpus.length);
      this.run(`guest lpi_config ${lpi} 0xa1`);
      this.run(`vcpu 0 its MAPTI dev=${dev.id} event=${e} lpi=${lpi} icid=${icid}`);
      dev.icid[e] = icid;
    }
    this.run('vcpu 0 its SYNC rdbase=0');
  }

  // --- the mix --------------------------------------------------------------------------------

  private act(action: Action): void {
    const r = this.rng;
    const online = this.online();
    const v = r.pick(online);
    switch (action) {
      case 'spiEdge': {
        const s = this.spis.filter((x) => !x.level);
        if (!s.length) {
          this.service(v);
          return;
        }
        const spi = r.pick(s);
        this.run(`irq_line spi ${spi.intid} 1`);
        this.run(`irq_line spi ${spi.intid} 0`);
        return;
      }
      case 'spiLevelRaise': {
        const s = this.spis.filter((x) => x.level && !x.high);
        if (!s.length) {
          this.service(v);
          return;
        }
        const spi = r.pick(s);
        spi.high = true;
        this.run(`irq_line spi ${spi.intid} 1`);
        return;
      }
      case 'spiLevelDrop': {
        // The device deasserts on its own (a polling driver already cleared its status).
        const s = this.spis.filter((x) => x.high);
        if (!s.length) {
          this.service(v);
          return;
        }
        const spi = r.pick(s);
        spi.high = false;
        this.run(`irq_line spi ${spi.intid} 0`);
        return;
      }
      case 'timer': {
        if (v.timerHigh) {
          this.service(v);
          return;
        }
        v.timerHigh = true;
        this.run(`irq_line ppi ${v.id} ${TIMER_PPI} 1`);
        return;
      }
      case 'ipi': {
        const target = r.pick(online).id;
        const sgi = r.int(8);
        this.run(`vcpu ${v.id} msr ICC_SGI1R_EL1 ${hex((BigInt(sgi) << 24n) | (1n << BigInt(target)))}`);
        return;
      }
      case 'msi': {
        if (!this.devices.length) {
          this.service(v);
          return;
        }
        const dev = r.pick(this.devices);
        // Mostly mapped events; now and then a freed vector or an unplugged device still fires.
        const mapped = dev.icid.map((c, e) => (c >= 0 ? e : -1)).filter((e) => e >= 0);
        const event = mapped.length && r.chance(0.9) ? r.pick(mapped) : r.int(EVENTS_PER_DEVICE);
        if (dev.mapped || r.chance(0.3)) this.run(`signal_msi ${dev.id} ${event}`);
        return;
      }
      case 'service':
        this.service(v);
        return;
      case 'pmr': {
        v.masked = !v.masked;
        this.run(`vcpu ${v.id} msr ICC_PMR_EL1 ${v.masked ? '0x80' : '0xf8'}`);
        if (!v.masked) this.service(v);
        return;
      }
      case 'itsInt': {
        const m = this.mappedEvent();
        if (m) this.run(`vcpu ${v.id} its INT dev=${m.dev.id} event=${m.event}`);
        return;
      }
      case 'movi': {
        const m = this.mappedEvent();
        if (!m) return;
        // An affinity change moves the LPI to a CPU whose redistributor takes LPIs.
        const targets = this.lpiTargets().map((x) => x.id);
        const icids = this.collections.map((t, i) => (targets.includes(t) ? i : -1)).filter((i) => i >= 0);
        if (!icids.length) return;
        const icid = r.pick(icids);
        m.dev.icid[m.event] = icid;
        this.run(`vcpu ${v.id} its MOVI dev=${m.dev.id} event=${m.event} icid=${icid}`);
        this.run(`vcpu ${v.id} its SYNC rdbase=${this.collections[icid]}`);
        return;
      }
      case 'retarget': {
        if (!this.spis.length) return;
        const spi = r.pick(this.spis);
        spi.target = r.pick(online).id;
        this.run(`vcpu ${v.id} write GICD_IROUTER${spi.intid} ${hex(spi.target)} size=8`);
        return;
      }
      case 'vmmStop':
        this.vmmStop();
        return;
      case 'migrate':
        this.migrate();
        return;
      case 'unplug': {
        const s = this.devices.filter((x) => x.mapped);
        if (s.length < 2) return;
        const dev = r.pick(s);
        dev.mapped = false;
        dev.icid.fill(-1);
        this.run(`vcpu 0 its MAPD dev=${dev.id} size=3 itt=${hex(dev.itt)} valid=0`);
        this.run('vcpu 0 its SYNC rdbase=0');
        return;
      }
      case 'plug': {
        const s = this.devices.filter((x) => !x.mapped);
        if (!s.length) return;
        this.plugDevice(r.pick(s));
        return;
      }
      case 'lpiReinit':
        this.lpiReinit(v);
        return;
      case 'movall': {
        // CPU offline: its collection and its LPIs move to another CPU.
        const targets = this.lpiTargets();
        if (online.length < 2 || targets.length < 1) return;
        const to = r.pick(targets).id;
        const from = r.pick(online.filter((x) => x.id !== to)).id;
        // The architecture leaves remapping the collections to software (MOVALL moves only the
        // pending state): the collection moves first, as a guest must do for a restore to agree.
        for (let icid = 0; icid < this.collections.length; icid++)
          if (this.collections[icid] === from) {
            this.collections[icid] = to;
            this.run(`vcpu 0 its MAPC icid=${icid} rdbase=${to}`);
          }
        this.run(`vcpu 0 its MOVALL rdbase1=${from} rdbase2=${to}`);
        this.run(`vcpu 0 its SYNC rdbase=${to}`);
        return;
      }
      case 'discard': {
        // A freed vector (free_irq on an MSI-X entry): DISCARD, the device may still fire it.
        const m = this.mappedEvent();
        if (!m) return;
        m.dev.icid[m.event] = -1;
        this.run(`vcpu 0 its DISCARD dev=${m.dev.id} event=${m.event}`);
        this.run('vcpu 0 its SYNC rdbase=0');
        return;
      }
      case 'baser':
        this.baserRewrite();
        return;
      case 'cpuOnline': {
        const off = this.vcpus.filter((x) => !x.online);
        if (!off.length) {
          this.service(v);
          return;
        }
        this.cpuUp(off[0]!.id);
        return;
      }
      case 'spiFree': {
        // free_irq: the driver disables an SPI; it is requested again later.
        const s = this.spis.filter((x) => x.enabled);
        if (!s.length) return;
        const spi = r.pick(s);
        if (spi.enabled && r.chance(0.5)) {
          spi.enabled = false;
          this.run(
            `vcpu 0 write GICD_ICENABLER${Math.floor(spi.intid / 32)} ${hex((1 << (spi.intid % 32)) >>> 0)}`,
          );
        } else {
          const d = this.spis.find((x) => !x.enabled);
          if (d) this.requestSpi(d.intid);
        }
        return;
      }
      case 'spiPendLatch': {
        // The guest sets an SPI pending itself (a driver's software retrigger).
        if (!this.spis.length) return;
        const spi = r.pick(this.spis);
        this.run(
          `vcpu ${v.id} write GICD_ISPENDR${Math.floor(spi.intid / 32)} ${hex((1 << (spi.intid % 32)) >>> 0)}`,
        );
        return;
      }
      case 'sdei':
        this.sdeiStep(v);
        return;
      case 'sdeiReset':
        this.vcpuReset(v);
        return;
    }
  }

  /** Online CPUs whose redistributor has LPIs enabled: where a guest moves LPIs to. */
  private lpiTargets(): Vcpu[] {
    const t = this.online().filter((x) => !x.lpisOff);
    return t.length ? t : [this.vcpus[0]!];
  }

  private mappedEvent(): { dev: Device; event: number } | undefined {
    const all: { dev: Device; event: number }[] = [];
    for (const dev of this.devices)
      if (dev.mapped)
        for (let e = 0; e < EVENTS_PER_DEVICE; e++) if (dev.icid[e]! >= 0) all.push({ dev, event: e });
    return all.length ? this.rng.pick(all) : undefined;
  }

  /** The interrupt handler on vCPU v: acknowledge until 1023, quiesce the source, complete. */
  private service(v: Vcpu): void {
    if (v.masked) {
      // Leaves the critical section first.
      v.masked = false;
      this.run(`vcpu ${v.id} msr ICC_PMR_EL1 0xf8`);
    }
    for (let i = 0; i < 6; i++) {
      const id = Number((this.run(`vcpu ${v.id} mrs ICC_IAR1_EL1`).value ?? 1023n) & 0xff_ffffn);
      if (id >= 1020 && id <= 1023) return;
      if (id === TIMER_PPI && v.timerHigh) {
        v.timerHigh = false;
        this.run(`irq_line ppi ${v.id} ${TIMER_PPI} 0`);
      }
      const spi = this.spis.find((s) => s.intid === id);
      if (spi?.level && spi.high) {
        spi.high = false;
        this.run(`irq_line spi ${id} 0`);
      }
      this.run(`vcpu ${v.id} msr ICC_EOIR1_EL1 ${id}`);
    }
  }

  /** The VMM pauses the VM: state reads (as for a snapshot or a monitor command), then `cont`. */
  private vmmStop(): void {
    const r = this.rng;
    const k = r.pick(this.vcpus).id;
    this.run('stop');
    this.run('get_attr gic DIST_REGS GICD_ISPENDR1');
    this.run(`get_attr gic REDIST_REGS GICR_ISPENDR0 vcpu=${k}`);
    this.run(`get_attr gic CPU_SYSREGS ICC_PMR_EL1 vcpu=${k}`);
    this.run(`get_attr gic LEVEL_INFO 32 vcpu=0`);
    this.run(`get_reg ${k} pc`);
    if (this.config.sdeiGuest) {
      const reg = r.pick(SDEI_REGS);
      const value = this.run(`get_reg ${k} ${reg}`).value ?? 0n;
      // A VMM writes back what it read; a newer one sometimes sets bits this kernel lacks.
      if (r.chance(0.3)) this.run(`set_reg ${k} ${reg} ${hex(r.chance(0.3) ? value | 0x100n : value)}`);
    }
    if (r.chance(0.5)) {
      this.run('set_attr gic CTRL SAVE_PENDING_TABLES');
      this.run('set_attr its CTRL ITS_SAVE_TABLES');
    }
    this.run('cont');
  }

  private migrate(): void {
    const r = this.rng;
    // QEMU only: a VM restored by the cloud-hypervisor or firecracker profile is not always
    // migrated exactly by QEMU afterwards (docs/gen.md "Known limits"), and the fuzzer's
    // baseline must find nothing in a correct model.
    const vmm = r.pick(['qemu', 'qemu', 'qemu-9'] as const);
    let text = `migrate vmm=${vmm}`;
    const quirks = this.opts.migrateQuirks ?? [];
    if (quirks.length) text += ` quirks=${quirks.join(',')}`;
    const mapped = this.mappedEvent();
    if (mapped && r.chance(0.6) && this.inflight) text += ` msi=${mapped.dev.id}:${mapped.event}`;
    this.run(text);
  }

  /** CPU hotplug of the LPI side: LPIs off, a fresh pending table written with PTZ, LPIs on. */
  private lpiReinit(v: Vcpu): void {
    if (v.lpisOff) {
      const old = this.run(`vcpu ${v.id} read GICR_PENDBASER size=8`).value ?? 0n;
      // A freshly allocated, zeroed pending table (so PTZ tells the truth): never one that holds
      // stale bits from an earlier SAVE_PENDING_TABLES.
      const base = BigInt(FRESH_PENDING_TABLES + (this.pendingTables++ % 0x700) * 0x1_0000);
      const next = (old & ~PA_MASK) | base | (this.rng.chance(0.5) ? PTZ : 0n);
      this.run(`vcpu ${v.id} write GICR_PENDBASER ${hex(next)} size=8`);
      this.run(`vcpu ${v.id} read GICR_PENDBASER size=8`);
      this.run(`vcpu ${v.id} write GICR_CTLR 0x1`);
      v.lpisOff = false;
      this.service(v);
      return;
    }
    if (v.id === 0) {
      this.service(v); // the boot CPU never goes offline
      return;
    }
    v.lpisOff = true;
    this.run(`vcpu ${v.id} write GICR_CTLR 0x0`);
    this.run(`vcpu ${v.id} read GICR_CTLR`);
  }

  /** The ITS driver re-initializes (kexec): ITS off, a new device table, ITS on, devices reprobe. */
  private baserRewrite(): void {
    this.run('vcpu 0 write GITS_CTLR 0x0');
    const old = this.run('vcpu 0 read GITS_BASER0 size=8').value ?? 0n;
    // Freshly allocated, zeroed memory each time, as a kexec'd kernel has: never a table an
    // earlier ITS_SAVE_TABLES wrote into.
    const next = NEW_DEVICE_TABLE + (this.baserRewrites++ % 0x7e0) * 0x1_0000;
    this.run(`vcpu 0 write GITS_BASER0 ${hex((old & ~PA_MASK) | BigInt(next))} size=8`);
    this.run('vcpu 0 write GITS_CTLR 0x1');
    // Every device must be probed again (plug); until then its MSIs are not translated.
    for (const dev of this.devices) {
      dev.mapped = false;
      dev.icid.fill(-1);
    }
  }

  // --- SDEI -----------------------------------------------------------------------------------

  private mpidr(k: number): string {
    return hex(0x8000_0000 + k);
  }

  private sdeiSetup(v: Vcpu): void {
    for (const ev of [0, 1]) {
      this.run(`vcpu ${v.id} hvc SDEI_EVENT_REGISTER ${ev} ${hex(SDEI_HANDLER[ev]!)} ${hex(0x100 + ev)} 0 0`);
      this.run(`vcpu ${v.id} hvc SDEI_EVENT_ENABLE ${ev}`);
      v.sdeiRegistered[ev] = true;
      v.sdeiEnabled[ev] = true;
    }
    this.run(`vcpu ${v.id} hvc SDEI_PE_UNMASK`);
    v.sdeiUnmasked = true;
  }

  /** Runs the handler body if vCPU v's pc says a handler was dispatched. */
  private sdeiHandler(v: Vcpu): void {
    for (let depth = 0; depth < 3; depth++) {
      const pc = Number(this.run(`vcpu ${v.id} reg pc`).value ?? 0n);
      const ev = SDEI_HANDLER.indexOf(pc);
      if (ev < 0) return;
      const r = this.rng;
      this.run(`vcpu ${v.id} hvc SDEI_EVENT_CONTEXT ${r.int(4)}`);
      const roll = r.int(10);
      if (roll === 0) this.run(`vcpu ${v.id} hvc SDEI_EVENT_SIGNAL 0 ${this.mpidr(v.id)}`);
      else if (roll === 1) this.run(`vcpu ${v.id} hvc SDEI_PRIVATE_RESET`);
      else if (roll === 2) this.run(`vcpu ${v.id} hvc SDEI_EVENT_STATUS ${ev}`);
      if (r.chance(0.2)) this.run(`vcpu ${v.id} hvc SDEI_EVENT_COMPLETE_AND_RESUME 0x40000800`);
      else this.run(`vcpu ${v.id} hvc SDEI_EVENT_COMPLETE 0`);
    }
  }

  private sdeiStep(v: Vcpu): void {
    const r = this.rng;
    const ev = r.chance(0.8) ? 0 : 1;
    switch (r.int(12)) {
      case 0:
      case 1:
      case 2: {
        // Signal (event 0): mostly self, sometimes another CPU, rarely a bad target.
        const online = this.online();
        const t = r.chance(0.7) ? v.id : r.pick(online).id;
        const x2 = r.chance(0.05) ? hex(0x4010_0000) : this.mpidr(t);
        this.run(`vcpu ${v.id} hvc SDEI_EVENT_SIGNAL 0 ${x2}`);
        this.sdeiHandler(v);
        if (t !== v.id) this.sdeiHandler(this.vcpus[t]!);
        return;
      }
      case 3:
        this.run(`sdei_inject ${v.id} 1`);
        this.sdeiHandler(v);
        return;
      case 4:
        v.sdeiUnmasked = !v.sdeiUnmasked;
        this.run(`vcpu ${v.id} hvc ${v.sdeiUnmasked ? 'SDEI_PE_UNMASK' : 'SDEI_PE_MASK'}`);
        this.sdeiHandler(v);
        return;
      case 5:
        if (v.sdeiRegistered[ev]) {
          v.sdeiRegistered[ev] = false;
          v.sdeiEnabled[ev] = false;
          this.run(`vcpu ${v.id} hvc SDEI_EVENT_UNREGISTER ${ev}`);
        } else {
          v.sdeiRegistered[ev] = true;
          this.run(
            `vcpu ${v.id} hvc SDEI_EVENT_REGISTER ${ev} ${hex(SDEI_HANDLER[ev]!)} ${hex(0x100 + ev)} 0 0`,
          );
        }
        this.sdeiHandler(v);
        return;
      case 6:
        v.sdeiEnabled[ev] = !v.sdeiEnabled[ev];
        this.run(`vcpu ${v.id} hvc ${v.sdeiEnabled[ev] ? 'SDEI_EVENT_ENABLE' : 'SDEI_EVENT_DISABLE'} ${ev}`);
        this.sdeiHandler(v);
        return;
      case 7:
        this.run(`vcpu ${v.id} hvc SDEI_EVENT_STATUS ${ev}`);
        return;
      case 8:
        // A stray COMPLETE (a handler that returns twice).
        this.run(`vcpu ${v.id} hvc SDEI_EVENT_COMPLETE 0`);
        this.sdeiHandler(v);
        return;
      case 9:
        this.run(`vcpu ${v.id} hvc SDEI_PRIVATE_RESET`);
        v.sdeiRegistered = [false, false];
        v.sdeiEnabled = [false, false];
        this.sdeiSetup(v);
        return;
      case 10:
        this.run(`vcpu ${v.id} hvc SDEI_EVENT_GET_INFO ${ev} 0`);
        return;
      default:
        this.run(`vcpu ${v.id} hvc SDEI_PE_MASK`);
        this.run(`vcpu ${v.id} hvc SDEI_EVENT_SIGNAL 0 ${this.mpidr(v.id)}`);
        this.run(`vcpu ${v.id} hvc SDEI_PE_UNMASK`);
        v.sdeiUnmasked = true;
        this.sdeiHandler(v);
        return;
    }
  }

  /** PSCI CPU_OFF/CPU_ON as the VMM sees it: stop, reset the vCPU, read it back, resume. */
  private vcpuReset(v: Vcpu): void {
    if (v.id === 0) return;
    this.run('stop');
    this.run(`reset_vcpu ${v.id}`);
    for (const reg of SDEI_REGS) this.run(`get_reg ${v.id} ${reg}`);
    this.run('cont');
    v.sdeiRegistered = [false, false];
    v.sdeiEnabled = [false, false];
    v.sdeiUnmasked = false;
    if (this.config.sdeiGuest) this.sdeiSetup(v);
  }
}

/** The board a workload runs on (its own PRNG stream, so a recorder can be opened first). */
export function planBoard(
  options: Pick<GenOptions, 'seed' | 'profile' | 'host' | 'kernelQuirks' | 'producer'>,
): {
  vcpus: number;
  host: 'gicv3' | 'gicv4.1';
  line: string;
  header: TraceHeaderInput;
} {
  const c = CONFIGS[options.profile];
  const r = createRng(options.seed, 100 + PROFILES.indexOf(options.profile));
  const vcpus = r.range(c.vcpus[0], c.vcpus[1]);
  const host = options.host ?? (r.chance(c.v41) ? 'gicv4.1' : 'gicv3');
  const quirks = options.kernelQuirks ?? [];
  const line =
    `board virt vcpus=${vcpus} nr_irqs=${NR_IRQS} its=on sdei=on host=${host}` +
    (quirks.length ? ` quirks=${quirks.join(',')}` : '');
  return {
    vcpus,
    host,
    line,
    header: {
      producer: options.producer ?? 'vgicrr',
      board: { machine: 'virt', vcpus, nrIrqs: NR_IRQS, its: true, sdei: true, ipaBits: 40 },
      host,
      quirks: [...quirks],
      seed: options.seed,
    },
  };
}

/** Generates one workload. Pure apart from `onFrame`: the same options give the same result. */
export function generateWorkload(options: GenOptions): GenResult {
  const driver = new StatementDriver({
    registry: options.registry,
    keepFrames: options.keepFrames ?? false,
    keepLog: options.keepLog ?? true,
    ...(options.onFrame ? { onFrame: options.onFrame } : {}),
  });
  const w = new Workload(options, driver);
  w.generate();
  return {
    header: planBoard(options).header,
    statements: w.statements,
    log: driver.log,
    frames: driver.frames,
    events: driver.events,
  };
}
