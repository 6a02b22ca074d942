// The ordering constraints of a checkpoint migration (qemu-client.md §3 and §6), checked on every
// step between `migrate_begin` and `migrate_end`. A violation becomes a `migrate.order` effect
// naming the rule (the VMM quirk that produces it, where there is one), so the trace, the
// debugger and migrate-check's report all show it at the step that broke the rule. What the rules
// have seen lives in `MigrationState.seen` (plain data), reset at every VM switch: the
// destination's reset put, the source's save and the destination's restore are separate phases.

import type { EngineEvent, Output } from '../engine/events.js';
import type { StepContext } from '../engine/registry.js';
import type { MachineState, MigrationState } from '../engine/state.js';
import { ATTR_GROUPS, CTRL_ATTRS, registerAt, registerByName, SDEI_ONE_REGS } from './names.js';

const DIST = ATTR_GROUPS.DIST_REGS!;
const REDIST = ATTR_GROUPS.REDIST_REGS!;
const SYSREGS = ATTR_GROUPS.CPU_SYSREGS!;
const LEVEL = ATTR_GROUPS.LEVEL_INFO!;
const ITS_REGS = ATTR_GROUPS.ITS_REGS!;
const CTRL = ATTR_GROUPS.CTRL!;
/** Groups KVM guards with every vCPU's lock (-EBUSY while one runs). */
const LOCKED_GROUPS = [DIST, REDIST, SYSREGS, LEVEL, ITS_REGS, CTRL];

const o = (name: string): number => registerByName(name)!.offset;
const GICD_ISPENDR0 = o('GICD_ISPENDR0');
const GICD_ICFGR0 = o('GICD_ICFGR0');
const GICD_ICENABLER0 = o('GICD_ICENABLER0');
const GICD_ICACTIVER0 = o('GICD_ICACTIVER0');
const GICD_IROUTER = 0x6000;
const GICR_CTLR = o('GICR_CTLR');
const GICR_PROPBASER = o('GICR_PROPBASER');
const GICR_PENDBASER = o('GICR_PENDBASER');
const GICR_ISPENDR0 = o('GICR_ISPENDR0');
const GICR_ICFGR1 = o('GICR_ICFGR1');
const GICR_ICENABLER0 = o('GICR_ICENABLER0');
const GICR_ICACTIVER0 = o('GICR_ICACTIVER0');
const ICC_CTLR = o('ICC_CTLR_EL1');
const APRS = new Set([0, 1, 2, 3].flatMap((n) => [o(`ICC_AP0R${n}_EL1`), o(`ICC_AP1R${n}_EL1`)]));
const GITS_CTLR = o('GITS_CTLR');
const GITS_IIDR = o('GITS_IIDR');
const GITS_CBASER = o('GITS_CBASER');
const GITS_CREADR = o('GITS_CREADR');
const GITS_CWRITER = o('GITS_CWRITER');
const GITS_BASER0 = o('GITS_BASER0');
const SDEI_IDS = new Set(Object.values(SDEI_ONE_REGS));

function flag(ctx: StepContext, migration: MigrationState, rule: string, detail: string): void {
  ctx.emit({ type: 'migrate.order', rule, step: migration.steps, detail });
}

/** A table flush ran; after the RAM transfer it is too late for that transfer. */
function flushed(migration: MigrationState, which: 'its' | 'pending', ctx: StepContext): void {
  if (seen(migration, `ram:before:${which}`) && !seen(migration, `flush:${which}`))
    flag(
      ctx,
      migration,
      'ram-before-flush',
      `guest RAM was transferred before ${which === 'its' ? 'ITS_SAVE_TABLES' : 'SAVE_PENDING_TABLES'}`,
    );
  mark(migration, `flush:${which}`);
}

function seen(migration: MigrationState, key: string): boolean {
  return migration.seen[key] !== undefined;
}

function mark(migration: MigrationState, key: string): void {
  migration.seen[key] ??= migration.steps;
}

/** The migration step hook: checks `event` against the rules, then records what it did. */
export function checkMigrationStep(
  machine: MachineState,
  migration: MigrationState,
  event: EngineEvent,
  output: Output,
  ctx: StepContext,
): void {
  if (event.type === 'vm.select' || event.type === 'vm.create') {
    // A new phase: register writes start over; the flushes and the RAM transfer are the whole
    // migration's.
    const kept: Record<string, number> = {};
    for (const [key, step] of Object.entries(migration.seen))
      if (key.startsWith('flush:') || key.startsWith('ram')) kept[key] = step;
    migration.seen = kept;
    return;
  }
  const onSource = machine.current === migration.source;
  const vm = machine.vms[machine.current];
  if (!vm) return;
  const running = vm.vcpus.some((v) => v.inRun);
  switch (event.type) {
    case 'attr.set':
    case 'attr.get':
      if (running && LOCKED_GROUPS.includes(event.group))
        flag(ctx, migration, 'access-while-running', `${event.type} while a vCPU is inside KVM_RUN`);
      if (event.type === 'attr.set') checkWrite(migration, event, output.rc ?? 0, onSource, ctx);
      return;
    case 'reg.get':
    case 'reg.set':
      if (vm.vcpus.find((v) => v.id === event.vcpu)?.inRun)
        flag(ctx, migration, 'access-while-running', `${event.type} on vCPU ${event.vcpu} inside KVM_RUN`);
      if (event.type === 'reg.set' && SDEI_IDS.has(event.reg)) mark(migration, 'sdei');
      return;
    case 'msi.signal':
      if (onSource && (seen(migration, 'flush:its') || seen(migration, 'flush:pending')))
        flag(
          ctx,
          migration,
          'msi-after-flush',
          `MSI ${event.devid}:${event.eventid} after the table flush: its pending state is not in the saved tables`,
        );
      return;
    case 'ram.transfer': {
      // Which flushes the source needs is known here; whether a missing one comes later (too
      // late) or never is known at migrate_end.
      const src = machine.vms[event.from];
      if (src?.devices.its && !seen(migration, 'flush:its')) mark(migration, 'ram:before:its');
      if (src?.devices.gic && !seen(migration, 'flush:pending')) mark(migration, 'ram:before:pending');
      mark(migration, 'ram');
      return;
    }
    case 'migrate.end':
      if (seen(migration, 'ram:before:its') && !seen(migration, 'flush:its'))
        flag(
          ctx,
          migration,
          'no-its-save-tables',
          'ITS_SAVE_TABLES never ran: the ITS tables in RAM are stale',
        );
      if (seen(migration, 'ram:before:pending') && !seen(migration, 'flush:pending'))
        flag(
          ctx,
          migration,
          'no-save-pending-tables',
          'SAVE_PENDING_TABLES never ran: pending LPIs are not in the pending tables',
        );
      if (vm.sdei && !seen(migration, 'sdei') && machine.current !== migration.source)
        flag(ctx, migration, 'no-sdei-state', 'the SDEI firmware registers were not restored');
      return;
    default:
      return;
  }
}

/** A device-attr write: the flushes and RESTORE_TABLES count when attempted, registers when written. */
function checkWrite(
  migration: MigrationState,
  event: Extract<EngineEvent, { type: 'attr.set' }>,
  rc: number,
  onSource: boolean,
  ctx: StepContext,
): void {
  const low = Number(event.attr & 0xffff_ffffn);
  const mpidr = (event.attr >> 32n).toString(16);
  const value = event.value ?? 0n;
  if (event.group === CTRL) {
    if (event.dev === 'its' && low === CTRL_ATTRS.ITS_SAVE_TABLES) flushed(migration, 'its', ctx);
    if (event.dev === 'gic' && low === CTRL_ATTRS.SAVE_PENDING_TABLES) flushed(migration, 'pending', ctx);
    if (event.dev === 'its' && low === CTRL_ATTRS.ITS_RESTORE_TABLES && !onSource) {
      if (!seen(migration, 'its:iidr'))
        flag(
          ctx,
          migration,
          'iidr-before-restore-tables',
          'ITS_RESTORE_TABLES before GITS_IIDR was restored',
        );
      if (!seen(migration, 'its:baser'))
        flag(
          ctx,
          migration,
          'baser-before-restore-tables',
          'ITS_RESTORE_TABLES before the GITS_BASERs were restored',
        );
      if (!seen(migration, 'gicr:bases'))
        flag(ctx, migration, 'its-before-gic', 'ITS_RESTORE_TABLES before the redistributors were restored');
      mark(migration, 'its:restored');
    }
    return;
  }
  if (onSource || rc !== 0) return;
  if (event.group === REDIST) checkRedistWrite(migration, mpidr, low, value, ctx);
  else if (event.group === DIST) checkDistWrite(migration, low, value, ctx);
  else if (event.group === LEVEL) mark(migration, `level:${mpidr}:${low & 0x3ff}`);
  else if (event.group === SYSREGS) {
    if (low === ICC_CTLR) mark(migration, `icc:ctlr:${mpidr}`);
    else if (APRS.has(low) && !seen(migration, `icc:ctlr:${mpidr}`))
      flag(
        ctx,
        migration,
        'apr-before-icc-ctlr',
        `${registerAt('icc', low)} before ICC_CTLR_EL1 (mpidr 0x${mpidr})`,
      );
  } else if (event.group === ITS_REGS) checkItsWrite(migration, low, value, ctx);
}

function checkRedistWrite(
  migration: MigrationState,
  mpidr: string,
  low: number,
  value: bigint,
  ctx: StepContext,
) {
  if (low === GICR_PROPBASER || low === GICR_PROPBASER + 4) mark(migration, `gicr:prop:${mpidr}`);
  if (low === GICR_PENDBASER || low === GICR_PENDBASER + 4) {
    mark(migration, `gicr:pend:${mpidr}`);
    mark(migration, 'gicr:bases');
    if (low === GICR_PENDBASER + 4 && (value & (1n << 30n)) !== 0n)
      flag(ctx, migration, 'force-ptz', `GICR_PENDBASER written with PTZ set (mpidr 0x${mpidr})`);
  }
  if (low === GICR_CTLR && (value & 1n) !== 0n) {
    if (!seen(migration, `gicr:prop:${mpidr}`) || !seen(migration, `gicr:pend:${mpidr}`))
      flag(
        ctx,
        migration,
        'lpis-enabled-before-base',
        `GICR_CTLR.EnableLPIs set before PROPBASER/PENDBASER (mpidr 0x${mpidr}): the base writes will be dropped`,
      );
  }
  if (low === GICR_ICFGR1) mark(migration, `gicr:cfg:${mpidr}`);
  if (low === GICR_ISPENDR0 && value !== 0n) {
    if (!seen(migration, `gicr:cfg:${mpidr}`))
      flag(ctx, migration, 'pending-before-config', `GICR_ISPENDR0 before GICR_ICFGR1 (mpidr 0x${mpidr})`);
  }
  if ((low === GICR_ICENABLER0 || low === GICR_ICACTIVER0) && value === 0n)
    flag(ctx, migration, 'zero-clear', `${registerAt('gicr', low)} written with 0, which clears nothing`);
}

function checkDistWrite(migration: MigrationState, low: number, value: bigint, ctx: StepContext) {
  if (low >= GICD_ICFGR0 && low < GICD_ICFGR0 + 64 * 4)
    mark(migration, `gicd:cfg:${(low - GICD_ICFGR0) >> 3}`);
  if (low >= GICD_IROUTER && low < GICD_IROUTER + 1020 * 8)
    mark(migration, `gicd:route:${(low - GICD_IROUTER) >> 8}`);
  if (low >= GICD_ISPENDR0 + 4 && low < GICD_ISPENDR0 + 32 * 4 && value !== 0n) {
    const word = (low - GICD_ISPENDR0) >> 2;
    const missing = [
      seen(migration, `gicd:cfg:${word}`) ? '' : 'ICFGR',
      seen(migration, `gicd:route:${word}`) ? '' : 'IROUTER',
    ].filter((s) => s !== '');
    if (missing.length > 0)
      flag(
        ctx,
        migration,
        'pending-before-config',
        `GICD_ISPENDR${word} before the ${missing.join(' and ')} of INTIDs ${word * 32}–${word * 32 + 31}`,
      );
  }
  const clear =
    (low >= GICD_ICENABLER0 + 4 && low < GICD_ICENABLER0 + 128) ||
    (low >= GICD_ICACTIVER0 + 4 && low < GICD_ICACTIVER0 + 128);
  if (clear && value === 0n)
    flag(ctx, migration, 'zero-clear', `${registerAt('gicd', low)} written with 0, which clears nothing`);
}

function checkItsWrite(migration: MigrationState, low: number, value: bigint, ctx: StepContext) {
  if (low === GITS_IIDR) mark(migration, 'its:iidr');
  else if (low === GITS_CBASER) mark(migration, 'its:cbaser');
  else if (low === GITS_CREADR) {
    if (!seen(migration, 'its:cbaser'))
      flag(
        ctx,
        migration,
        'creadr-before-cbaser',
        'GITS_CREADR before GITS_CBASER: the CBASER write resets it',
      );
    mark(migration, 'its:creadr');
  } else if (low === GITS_CWRITER) mark(migration, 'its:cwriter');
  else if (low >= GITS_BASER0 && low < GITS_BASER0 + 64) mark(migration, 'its:baser');
  else if (low === GITS_CTLR && (value & 1n) !== 0n) {
    if (!seen(migration, 'its:restored'))
      flag(ctx, migration, 'its-ctlr-before-tables', 'GITS_CTLR enabled before ITS_RESTORE_TABLES');
    if (!seen(migration, 'its:creadr') || !seen(migration, 'its:cwriter'))
      flag(ctx, migration, 'its-ctlr-before-queue', 'GITS_CTLR enabled before GITS_CREADR/GITS_CWRITER');
  }
}
