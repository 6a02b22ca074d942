// The state view as text (`vgicrr state`): fixed sections per VM, the interrupt table in the
// manner of Linux arch/arm64/kvm/vgic/vgic-debug.c (one flag column per letter of a legend,
// then priority and target). Pure: view in, lines out; colour, if any, is the caller's.
//
// `width` only decides how many `name value` fields share a line; the interrupt table has
// fixed columns (≈ 50 characters). A new device section (the ITS and LPIs, SDEI) is one more
// function in VM_SECTIONS (per-vCPU parts go in the vCPU loop of their section).

import type {
  GicCpuView,
  IrqRow,
  ItsDeviceView,
  RamView,
  SdeiVcpuView,
  StateView,
  VcpuView,
  VmView,
} from './state-view.js';

export interface StateTextOptions {
  /** Columns to fill (default 80). */
  width?: number;
  /** Whether the view lists every interrupt (changes only the table's caption). */
  all?: boolean;
}

/** Flag letters of the interrupt table, in column order (vgic-debug.c "PLAEHCG"). */
export const IRQ_LEGEND: readonly { letter: string; meaning: string }[] = [
  { letter: 'P', meaning: 'pending' },
  { letter: 'L', meaning: 'line level' },
  { letter: 'A', meaning: 'active' },
  { letter: 'E', meaning: 'enabled' },
  { letter: 'H', meaning: 'hw (vSGI)' },
  { letter: 'C', meaning: 'level-sensitive (else edge)' },
  { letter: 'G', meaning: 'group 1 (else 0)' },
];

type Section<T> = (item: T, ctx: Ctx) => string[];

interface Ctx {
  width: number;
  all: boolean;
}

const VM_SECTIONS: readonly Section<VmView>[] = [
  vcpusSection,
  ramSection,
  distSection,
  irqSection,
  redistSection,
  itsSection,
];

/** Renders `view` as lines (no trailing newlines). Pure. */
export function stateText(view: StateView, options: StateTextOptions = {}): string[] {
  const ctx: Ctx = { width: options.width ?? 80, all: options.all ?? false };
  if (view.vms.length === 0) return ['no VM (nothing has run yet)'];
  const lines: string[] = [];
  for (const vm of view.vms) {
    if (lines.length) lines.push('');
    const current = view.vms.length > 1 && vm.id === view.current ? ' (current)' : '';
    lines.push(
      ...fields(
        '',
        [
          `VM ${vm.id}${current}${vm.dead ? ' DEAD' : ''}`,
          `host ${vm.host}`,
          `IPA ${vm.ipaBits} bits`,
          `SDEI ${vm.sdei ? 'on' : 'off'}`,
          `quirks ${vm.quirks.length ? vm.quirks.join(',') : 'none'}`,
        ],
        ctx,
      ),
    );
    for (const section of VM_SECTIONS) lines.push(...section(vm, ctx));
  }
  return lines;
}

/** `name value` fields packed onto lines of at most `width` (a field longer than that stands alone). */
function fields(indent: string, items: readonly string[], ctx: Ctx): string[] {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    if (line && indent.length + line.length + 2 + item.length > ctx.width) {
      lines.push(indent + line);
      line = '';
    }
    line = line ? `${line}  ${item}` : item;
  }
  if (line) lines.push(indent + line);
  return lines;
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

function hex2(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}

function bit(value: boolean): string {
  return value ? '1' : '0';
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/** Aff2.Aff1.Aff0 of a 24-bit affinity. */
function affinity(mpidr: number): string {
  return `${(mpidr >> 16) & 0xff}.${(mpidr >> 8) & 0xff}.${mpidr & 0xff}`;
}

function vcpusSection(vm: VmView, ctx: Ctx): string[] {
  if (vm.vcpus.length === 0) return ['  vCPUs: none'];
  const lines = ['  vCPUs'];
  for (const v of vm.vcpus) lines.push(...vcpuLines(v, ctx));
  return lines;
}

function vcpuLines(v: VcpuView, ctx: Ctx): string[] {
  const lines = fields(
    '    ',
    [`vCPU ${v.id}`, `MPIDR ${hex(v.mpidr)}`, v.run, `pc ${hex(v.pc)}`, `pstate ${hex(v.pstate)}`],
    ctx,
  );
  lines.push(
    ...fields('      ', v.x.length ? v.x.map((r) => `x${r.n} ${hex(r.value)}`) : ['x0–x30 zero'], ctx),
  );
  if (v.sdei) lines.push(...sdeiLines(v.sdei, ctx));
  return lines;
}

/** A vCPU's SDEI state, under its registers (absent on VMs without SDEI). */
function sdeiLines(s: SdeiVcpuView, ctx: Ctx): string[] {
  const running = s.running === null ? 'none' : `event ${s.running}`;
  const lines = fields(
    '      ',
    [`SDEI PE ${s.masked ? 'masked' : 'unmasked'}`, `handler running ${running}`],
    ctx,
  );
  for (const e of s.events) {
    lines.push(
      ...fields(
        '        ',
        [
          `event ${e.event} ${e.state} (status ${e.status})`,
          `entry ${hex(e.entry)} arg ${hex(e.arg)}`,
          `pending ${yesNo(e.pending)}`,
        ],
        ctx,
      ),
    );
  }
  if (s.context) {
    const regs = s.context.x.flatMap((value, n) => (value === 0n ? [] : [`x${n} ${hex(value)}`]));
    lines.push(
      ...fields(
        '        ',
        [
          `interrupted pc ${hex(s.context.pc)}`,
          `pstate ${hex(s.context.pstate)}`,
          ...(regs.length ? regs : ['x0–x17 zero']),
        ],
        ctx,
      ),
    );
  }
  return lines;
}

function ramSection(vm: VmView, ctx: Ctx): string[] {
  const ram: RamView = vm.ram;
  if (ram.pages === 0) return ['  RAM: no page written'];
  const head = `RAM: ${ram.pages} page${ram.pages === 1 ? '' : 's'} (${ram.bytes / 1024} KiB) in use`;
  return fields('  ', [head, ...ram.ranges.map((r) => `${hex(r.start)}–${hex(r.end)}`)], ctx);
}

function distSection(vm: VmView, ctx: Ctx): string[] {
  const g = vm.gic;
  if (!g) return ['  vGIC: none'];
  const ctlrBits = [g.enabled ? 'EnableGrp1A' : '', 'ARE_NS', 'DS', g.nassgireq ? 'nASSGIreq' : '']
    .filter(Boolean)
    .join('|');
  const lines = ['  Distributor (vgic-v3)'];
  const groups = [
    [
      `initialized ${yesNo(g.initialized)}`,
      `ready ${yesNo(g.ready)}`,
      `nr_spis ${g.nrSpis}`,
      `IIDR revision ${g.iidrRevision}`,
      `ITS ${g.hasIts ? 'yes' : 'no'}`,
    ],
    [
      `GICD_CTLR ${hex(g.ctlr)} (${ctlrBits})`,
      `nASSGIcap ${bit(g.nassgicap)}`,
      `nASSGIreq ${bit(g.nassgireq)}`,
    ],
    [`GICD base ${g.distBase === null ? 'undef' : hex(g.distBase)}`, `GICR_PROPBASER ${hex(g.propbaser)}`],
  ];
  for (const group of groups) lines.push(...fields('    ', group, ctx));
  const regions = g.regions.map(
    (r) =>
      `#${r.index} ${hex(r.base)} ${r.count ? `${r.used}/${r.count} frames` : `legacy, ${r.used} frames`}`,
  );
  lines.push(
    ...fields('    ', [`redistributor regions ${regions.length ? '' : 'none'}`.trimEnd(), ...regions], ctx),
  );
  return lines;
}

function irqSection(vm: VmView, ctx: Ctx): string[] {
  const g = vm.gic;
  if (!g) return [];
  const caption = ctx.all
    ? [`Interrupts: all ${g.irqsTotal}`]
    : [`Interrupts: ${g.irqs.length} of ${g.irqsTotal} differ from reset`, '(--all lists every one)'];
  const lines = fields('  ', caption, ctx);
  lines.push(
    ...fields(
      '    ',
      IRQ_LEGEND.map((l) => `${l.letter} ${l.meaning}`),
      ctx,
    ),
  );
  if (g.irqs.length === 0) return lines;
  lines.push(
    `    ${'TYPE'} ${'INTID'.padStart(5)} ${'VCPU'.padStart(4)} PLAEHCG  PRI ${'TARGET'.padStart(6)}  MPIDR`,
  );
  for (const row of g.irqs) lines.push(`    ${irqLine(row)}`);
  return lines;
}

function irqLine(row: IrqRow): string {
  const flags = [row.pending, row.line, row.active, row.enabled, row.hw, row.level, row.group === 1]
    .map((on, i) => (on ? IRQ_LEGEND[i]!.letter : '.'))
    .join('');
  const vcpu = row.vcpu === null ? '-' : String(row.vcpu);
  const target = row.target === null ? 'none' : `vCPU ${row.target}`;
  const mpidr = row.kind === 'SPI' ? affinity(row.mpidr) : '-';
  return `${row.kind.padEnd(4)} ${String(row.intid).padStart(5)} ${vcpu.padStart(4)} ${flags} ${hex2(row.priority)} ${target.padStart(6)}  ${mpidr}`;
}

function redistSection(vm: VmView, ctx: Ctx): string[] {
  const lines: string[] = [];
  for (const v of vm.vcpus) {
    if (!v.gic) continue;
    lines.push(`  Redistributor and CPU interface, vCPU ${v.id}`);
    lines.push(...cpuLines(v.gic, ctx));
  }
  return lines;
}

function cpuLines(c: GicCpuView, ctx: Ctx): string[] {
  const placed = c.rdBase === null ? 'not placed' : `${hex(c.rdBase)} (region ${c.region} slot ${c.slot})`;
  const hppi = c.highestPending
    ? `${c.highestPending.intid} (priority ${hex2(c.highestPending.priority)}, group ${c.highestPending.group})`
    : 'none';
  const running = c.runningPriority === 0xff ? '0xff (idle)' : hex2(c.runningPriority);
  const aprs = [...c.ap0r.map((v, i) => `AP0R${i} ${hex(v)}`), ...c.ap1r.map((v, i) => `AP1R${i} ${hex(v)}`)];
  const groups = [
    [`RD_base ${placed}`, `GICR_TYPER ${hex(c.gicrTyper)}`],
    [`GICR_PENDBASER ${hex(c.pendbaser)}`, `EnableLPIs ${bit(c.enableLpis)}`, `PRIbits ${c.priBits}`],
    [
      `PMR ${hex2(c.pmr)}`,
      `BPR0 ${c.bpr0}`,
      `BPR1 ${c.bpr1}`,
      `CBPR ${bit(c.cbpr)}`,
      `EOImode ${bit(c.eoiMode)}`,
      `IGRPEN0 ${bit(c.igrpen0)}`,
      `IGRPEN1 ${bit(c.igrpen1)}`,
    ],
    [`running priority ${running}`, ...aprs],
    [`highest pending ${hppi}`, `vSGI pending ${c.vsgiPending.length ? c.vsgiPending.join(',') : 'none'}`],
  ];
  return groups.flatMap((group) => fields('    ', group, ctx));
}

/** Bytes as B, KiB or MiB when they divide evenly. */
function size(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** The ITS (absent without a vgic-its device, so ITS-less output is unchanged). */
function itsSection(vm: VmView, ctx: Ctx): string[] {
  const its = vm.its;
  if (!its) return [];
  const lines = ['  ITS (vgic-its)'];
  const groups = [
    [
      `base ${its.base === null ? 'undef' : hex(its.base)}`,
      `enabled ${yesNo(its.enabled)}`,
      `ABI revision ${its.abiRev}`,
    ],
    [
      `GITS_CBASER ${hex(its.cbaser)} (${its.cbaserValid ? 'valid' : 'invalid'}, queue ${size(its.queueSize)})`,
      `GITS_CREADR ${hex(its.creadr)}`,
      `GITS_CWRITER ${hex(its.cwriter)}`,
    ],
    [`GITS_BASER0 ${hex(its.baser0)}`, `GITS_BASER1 ${hex(its.baser1)}`],
  ];
  for (const group of groups) lines.push(...fields('    ', group, ctx));
  lines.push(`    devices: ${its.devices.length ? its.devices.length : 'none'}`);
  for (const d of its.devices) lines.push(...itsDeviceLines(d, ctx));
  lines.push(`    collections: ${its.collections.length ? its.collections.length : 'none'}`);
  lines.push(
    ...fields(
      '      ',
      its.collections.map((c) => `ICID ${c.icid} ${c.target === null ? 'unmapped' : `→ vCPU ${c.target}`}`),
      ctx,
    ),
  );
  return lines;
}

function itsDeviceLines(d: ItsDeviceView, ctx: Ctx): string[] {
  const lines = fields(
    '      ',
    [
      `DeviceID ${d.deviceId}`,
      `ITT ${hex(d.ittAddr)} (${size(d.ittSize)})`,
      `EventID bits ${d.eventIdBits}`,
      `ITEs ${d.ites.length || 'none'}`,
    ],
    ctx,
  );
  const ites = d.ites.map(
    (e) =>
      `event ${e.eventId} → LPI ${e.intid}, ${e.icid === null ? 'orphaned (collection freed)' : `ICID ${e.icid}`}`,
  );
  lines.push(...fields('        ', ites, ctx));
  return lines;
}
