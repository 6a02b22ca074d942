// "Which restore step is most likely responsible" for a state path that differs after a
// migration (issue: migrate-check reports): the state path names a register (or a table flush,
// or the RAM transfer); the migration's own steps say which source read saved it and which
// destination write restored it, so the report can point at the write, the missing write, or
// the read that already lost the value.

import { ATTR_GROUPS, registerByName } from '../../devices/names.js';
import { CORE_REG_PC, CORE_REG_PSTATE, coreRegX } from '../../engine/core.js';
import type { EngineEvent, Output } from '../../engine/events.js';
import type { VmState } from '../../engine/state.js';
import { hex, statementText } from '../statement-text.js';

export interface MigrationStep {
  /** 1-based step number from `migrate_begin`. */
  step: number;
  event: EngineEvent;
  output: Output;
  /** The VM the step addressed. */
  vm: number;
}

/** What restores a path: a register through a device-attr group, a ONE_REG, or a named action. */
type Target =
  | { kind: 'attr'; group: number; name: string; offset: number; wide?: boolean; vcpu?: number }
  | { kind: 'onereg'; name: string; id: bigint; vcpu: number }
  | { kind: 'action'; text: string };

const DIST = ATTR_GROUPS.DIST_REGS!;
const REDIST = ATTR_GROUPS.REDIST_REGS!;
const SYSREGS = ATTR_GROUPS.CPU_SYSREGS!;
const LEVEL = ATTR_GROUPS.LEVEL_INFO!;
const ITS = ATTR_GROUPS.ITS_REGS!;

const IRQ_FIELDS: Record<string, string> = {
  pendingLatch: 'ISPENDR',
  enabled: 'ISENABLER',
  active: 'ISACTIVER',
  group: 'IGROUPR',
};

function reg(group: number, name: string, vcpu?: number): Target {
  const r = registerByName(name);
  return {
    kind: 'attr',
    group,
    name,
    offset: r?.offset ?? 0,
    wide: r?.bytes === 8,
    ...(vcpu === undefined ? {} : { vcpu }),
  };
}

/** The register or action a VM-relative state path belongs to. */
export function targetOf(path: string): Target | undefined {
  let m = /^devices\.gic\.spis\[(\d+)\]\.(\w+)/.exec(path);
  if (m) {
    const intid = Number(m[1]) + 32;
    const field = m[2]!;
    if (IRQ_FIELDS[field]) return reg(DIST, `GICD_${IRQ_FIELDS[field]}${intid >> 5}`);
    if (field === 'priority') return reg(DIST, `GICD_IPRIORITYR${intid >> 2}`);
    if (field === 'level') return reg(DIST, `GICD_ICFGR${intid >> 4}`);
    if (field === 'mpidr') return reg(DIST, `GICD_IROUTER${intid}`);
    if (field === 'lineLevel')
      return {
        kind: 'attr',
        group: LEVEL,
        name: `LEVEL_INFO ${(intid >> 5) * 32}`,
        offset: (intid >> 5) * 32,
      };
    return undefined;
  }
  m = /^vcpus\[(\d+)\]\.devices\.gic\.(\w+)(?:\[(\d+)\])?(?:\.(\w+))?/.exec(path);
  if (m) {
    const vcpu = Number(m[1]);
    const what = m[2]!;
    const index = m[3] === undefined ? undefined : Number(m[3]);
    const field = m[4];
    if (what === 'irqs' && index !== undefined && field) {
      if (IRQ_FIELDS[field]) return reg(REDIST, `GICR_${IRQ_FIELDS[field]}0`, vcpu);
      if (field === 'priority') return reg(REDIST, `GICR_IPRIORITYR${index >> 2}`, vcpu);
      if (field === 'level') return reg(REDIST, 'GICR_ICFGR1', vcpu);
      if (field === 'lineLevel') return { kind: 'attr', group: LEVEL, name: 'LEVEL_INFO 0', offset: 0, vcpu };
    }
    if (what === 'vsgiPending') return reg(REDIST, 'GICR_ISPENDR0', vcpu);
    if (what === 'pendbaser') return reg(REDIST, 'GICR_PENDBASER', vcpu);
    if (what === 'enableLpis') return reg(REDIST, 'GICR_CTLR', vcpu);
    if (what === 'ap0r' || what === 'ap1r') return reg(SYSREGS, `ICC_AP${what[2]}R${index ?? 0}_EL1`, vcpu);
    if (what === 'vmcr') {
      const name =
        field === 'pmr'
          ? 'ICC_PMR_EL1'
          : field === 'eng0'
            ? 'ICC_IGRPEN0_EL1'
            : field === 'eng1'
              ? 'ICC_IGRPEN1_EL1'
              : field === 'bpr0'
                ? 'ICC_BPR0_EL1'
                : field === 'bpr1'
                  ? 'ICC_BPR1_EL1'
                  : 'ICC_CTLR_EL1';
      return reg(SYSREGS, name, vcpu);
    }
    return undefined;
  }
  if (/^devices\.gic\.propbaser/.test(path)) return reg(REDIST, 'GICR_PROPBASER', 0);
  if (/^devices\.gic\.(enabled|nassgireq)/.test(path)) return reg(DIST, 'GICD_CTLR');
  if (/^devices\.lpis\.irqs\[\d+\]\.pendingLatch/.test(path))
    return {
      kind: 'action',
      text: 'LPI pending state travels in the pending tables: SAVE_PENDING_TABLES on the source, then EnableLPIs or ITS_RESTORE_TABLES on the destination',
    };
  if (/^devices\.lpis/.test(path))
    return {
      kind: 'action',
      text: 'LPIs are rebuilt by ITS_RESTORE_TABLES from the tables ITS_SAVE_TABLES wrote',
    };
  m = /^devices\.its\.(\w+)/.exec(path);
  if (m) {
    const names: Record<string, string> = {
      cbaser: 'GITS_CBASER',
      creadr: 'GITS_CREADR',
      cwriter: 'GITS_CWRITER',
      enabled: 'GITS_CTLR',
      abiRev: 'GITS_IIDR',
      baserDevice: 'GITS_BASER0',
      baserCollection: 'GITS_BASER1',
    };
    const name = names[m[1]!];
    if (name) return reg(ITS, name);
    return {
      kind: 'action',
      text: 'ITS devices and collections travel in the tables: ITS_SAVE_TABLES, then ITS_RESTORE_TABLES',
    };
  }
  m = /^vcpus\[(\d+)\]\.(x\[(\d+)\]|pc|pstate)/.exec(path);
  if (m) {
    const vcpu = Number(m[1]);
    const id = m[3] !== undefined ? coreRegX(Number(m[3])) : m[2] === 'pc' ? CORE_REG_PC : CORE_REG_PSTATE;
    return { kind: 'onereg', name: m[3] !== undefined ? `x${m[3]}` : m[2]!, id, vcpu };
  }
  m = /^vcpus\[(\d+)\]\.devices\.sdei/.exec(path);
  if (m) return { kind: 'action', text: 'SDEI state travels in the KVM_REG_ARM_SDEI_* firmware registers' };
  if (/^ram/.test(path))
    return { kind: 'action', text: 'guest RAM travels in the RAM transfer (ram_transfer)' };
  return undefined;
}

function matches(
  step: MigrationStep,
  target: Extract<Target, { kind: 'attr' }>,
  mpidr: bigint | undefined,
): boolean {
  const e = step.event;
  if (e.type !== 'attr.set' && e.type !== 'attr.get') return false;
  if (e.group !== target.group) return false;
  const low = Number(e.attr & 0xffff_ffffn);
  // 64-bit GIC registers travel as two 32-bit halves.
  const hit =
    target.group === LEVEL
      ? (low & 0x3ff) === target.offset
      : low === target.offset || low === target.offset + 4;
  if (!hit) return false;
  return mpidr === undefined || e.attr >> 32n === mpidr;
}

/** One line per distinct target of `paths`: the step that restored it, or the missing write. */
export function responsibleSteps(
  paths: readonly string[],
  steps: readonly MigrationStep[],
  source: VmState,
  dest: number,
): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  // The restore is what follows the last switch to the destination.
  let restoreFrom = 0;
  steps.forEach((s, i) => {
    if (s.event.type === 'vm.select' && s.event.vm === dest) restoreFrom = i;
  });
  for (const path of paths) {
    const target = targetOf(path);
    if (!target) continue;
    const key =
      target.kind === 'action' ? target.text : `${target.name}@${'vcpu' in target ? target.vcpu : ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (target.kind === 'action') {
      out.push(`${path}: ${target.text}`);
      continue;
    }
    if (target.kind === 'onereg') {
      const w = findLast(
        steps,
        restoreFrom,
        (s) => s.event.type === 'reg.set' && s.event.reg === target.id && s.event.vcpu === target.vcpu,
      );
      out.push(
        w
          ? `${path}: restored by step ${describe(w)}`
          : `${path}: no set_reg ${target.vcpu} ${target.name} in the restore`,
      );
      continue;
    }
    const vcpu = target.vcpu === undefined ? undefined : source.vcpus[target.vcpu];
    const mpidr = target.group === DIST || target.group === ITS ? undefined : BigInt(vcpu?.affinity ?? 0);
    const write = findLast(
      steps,
      restoreFrom,
      (s) => s.vm === dest && s.event.type === 'attr.set' && matches(s, target, mpidr),
    );
    const read = findLast(
      steps,
      0,
      (s) => s.vm !== dest && s.event.type === 'attr.get' && matches(s, target, mpidr),
    );
    const parts = [`${path} (${target.name}${vcpu ? ` of vCPU ${vcpu.id}` : ''}):`];
    parts.push(read ? `saved by step ${describe(read)};` : 'never read on the source;');
    parts.push(write ? `restored by step ${describe(write)}` : 'never written by the restore');
    out.push(parts.join(' '));
  }
  return out;
}

function findLast(
  steps: readonly MigrationStep[],
  from: number,
  pred: (s: MigrationStep) => boolean,
): MigrationStep | undefined {
  for (let i = steps.length - 1; i >= from; i--) if (pred(steps[i]!)) return steps[i];
  return undefined;
}

function describe(s: MigrationStep): string {
  const value = s.output.value === undefined ? '' : ` → ${hex(s.output.value)}`;
  const rc = s.output.rc !== undefined && s.output.rc < 0 ? ` → rc ${s.output.rc}` : '';
  return `${s.step} (${statementText(s.event)}${value}${rc})`;
}
