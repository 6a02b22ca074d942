// The `qemu` profile's steps, as `vgicrr dump` prints them, against qemu-client.md §1 line by
// line: the source's stop handlers and RAM pass (§1.1, §1.4, §1.5.1), kvm_arm_gicv3_get (§1.2),
// kvm_arm_its_pre_save (§1.5.2), the destination's machine init and reset put (§1.7),
// kvm_arm_gicv3_put (§1.3) and kvm_arm_its_post_load (§1.6). The whole printed sequence is also
// pinned in qemu-steps.golden.vgs (rewrite with UPDATE_MIGRATION_GOLDEN=1 after a deliberate
// change, and check the diff against the reference).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { statementText } from '../../../replay/statement-text.js';
import { framesOf } from '../../helpers/migration.js';

const GOLDEN = new URL('./qemu-steps.golden.vgs', import.meta.url);

const SCENARIO = `board virt vcpus=2 nr_irqs=64
guest gic_init
guest its_init
run 0
run 1
migrate expect 0
`;

function migrationLines(vmm = 'qemu', quirks = ''): string[] {
  const text = SCENARIO.replace('migrate', `migrate vmm=${vmm}${quirks ? ` quirks=${quirks}` : ''}`);
  const { frames, result } = framesOf(text);
  expect(result.failures).toEqual([]);
  const begin = frames.findIndex((f) => f.event.type === 'migrate.begin');
  const end = frames.findIndex((f) => f.event.type === 'migrate.end');
  return frames.slice(begin, end + 1).map((f) => statementText(f.event));
}

/** A statement reduced to its verb and register (values and MPIDRs dropped). */
function shape(line: string): string {
  const m = /^(get|set)_attr (gic|its) (\w+) (\S+)/.exec(line);
  if (!m) return line.split(' ')[0]!;
  const [, verb, , group, name] = m;
  if (group === 'LEVEL_INFO') return `${verb} LEVEL_INFO ${Number(name)}`;
  return `${verb} ${name}`;
}

/** The shapes between the n-th occurrence of `from` (a note's text) and the next note. */
function phase(lines: string[], note: string): string[] {
  const start = lines.indexOf(`note qemu: ${note}`);
  expect(start, note).toBeGreaterThanOrEqual(0);
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('note ')) break;
    out.push(shape(line));
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** §1.3 step 4 for one vCPU (current QEMU: clear registers written with all ones). */
const REDIST_PUT = [
  'set GICR_CTLR',
  'set GICR_STATUSR',
  'set GICR_WAKER',
  'set GICR_IGROUPR0',
  'set GICR_ICENABLER0',
  'set GICR_ISENABLER0',
  'set GICR_ICFGR1',
  'set LEVEL_INFO 0',
  'set GICR_ISPENDR0',
  'set GICR_ICACTIVER0',
  'set GICR_ISACTIVER0',
  ...range(0, 7).map((n) => `set GICR_IPRIORITYR${n}`),
];

/** §1.3 step 6 for one vCPU: ICC_CTLR_EL1 before the APRs (5 PRIbits → AP0R0 and AP1R0 only). */
const ICC_PUT = [
  'set ICC_SRE_EL1',
  'set ICC_CTLR_EL1',
  'set ICC_IGRPEN0_EL1',
  'set ICC_IGRPEN1_EL1',
  'set ICC_PMR_EL1',
  'set ICC_BPR0_EL1',
  'set ICC_BPR1_EL1',
  'set ICC_AP0R0_EL1',
  'set ICC_AP1R0_EL1',
];

const LPI_BASES = [
  'set GICR_PROPBASER',
  'set GICR_PROPBASER+4',
  'set GICR_PENDBASER',
  'set GICR_PENDBASER+4',
];

describe('qemu profile (qemu-client.md §1)', () => {
  const lines = migrationLines();

  it('is pinned line by line', () => {
    const text = `${lines.join('\n')}\n`;
    if (!existsSync(GOLDEN) || process.env.UPDATE_MIGRATION_GOLDEN === '1') writeFileSync(GOLDEN, text);
    expect(text).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('stops, runs the ITS handler before the GIC handler, then sends RAM (§1.1, §1.4)', () => {
    expect(phase(lines, 'source: vm_stop_force_state')).toEqual(['stop']);
    expect(phase(lines, 'source: change-state handlers (table flushes)')).toEqual([
      'set ITS_SAVE_TABLES',
      'set SAVE_PENDING_TABLES',
      'ram_transfer',
    ]);
  });

  it('reads the GIC in kvm_arm_gicv3_get order (§1.2)', () => {
    const redist = [
      'get GICR_CTLR',
      'get GICR_STATUSR',
      'get GICR_WAKER',
      'get GICR_IGROUPR0',
      'get GICR_ISENABLER0',
      'get GICR_ICFGR1',
      'get LEVEL_INFO 0',
      'get GICR_ISPENDR0',
      'get GICR_ISACTIVER0',
      ...range(0, 7).map((n) => `get GICR_IPRIORITYR${n}`),
    ];
    const bases = [
      'get GICR_PROPBASER',
      'get GICR_PROPBASER+4',
      'get GICR_PENDBASER',
      'get GICR_PENDBASER+4',
    ];
    const icc = ICC_PUT.map((s) => s.replace('set', 'get'));
    expect(phase(lines, 'source: kvm_arm_gicv3_get')).toEqual([
      'get GICD_TYPER',
      'get GICR_TYPER',
      'get GICR_TYPER+4',
      'get GICD_CTLR',
      ...redist,
      ...redist,
      ...bases,
      ...bases,
      'get GICD_STATUSR',
      'get GICD_IGROUPR1',
      'get GICD_ISENABLER1',
      'get LEVEL_INFO 32',
      'get GICD_ISPENDR1',
      'get GICD_ISACTIVER1',
      'get GICD_ICFGR2',
      'get GICD_ICFGR3',
      ...range(8, 15).map((n) => `get GICD_IPRIORITYR${n}`),
      ...range(32, 63).flatMap((n) => [`get GICD_IROUTER${n}`, `get GICD_IROUTER${n}+4`]),
      ...icc,
      ...icc,
    ]);
  });

  it('reads the ITS in kvm_arm_its_pre_save order (§1.5)', () => {
    expect(phase(lines, 'source: kvm_arm_its_pre_save')).toEqual([
      ...range(0, 7).map((n) => `get GITS_BASER${n}`),
      'get GITS_CTLR',
      'get GITS_CBASER',
      'get GITS_CREADR',
      'get GITS_CWRITER',
      'get GITS_IIDR',
      'use_vm',
    ]);
  });

  it('writes the GIC in kvm_arm_gicv3_put order (§1.3)', () => {
    expect(phase(lines, 'destination: kvm_arm_gicv3_put')).toEqual([
      'get GICD_TYPER',
      'get GICR_TYPER',
      'get GICR_TYPER+4',
      'set GICD_CTLR',
      ...LPI_BASES,
      ...LPI_BASES,
      ...REDIST_PUT,
      ...REDIST_PUT,
      'set GICD_STATUSR',
      'set GICD_ICENABLER1',
      'set GICD_ISENABLER1',
      'set GICD_IGROUPR1',
      ...range(32, 63).flatMap((n) => [`set GICD_IROUTER${n}`, `set GICD_IROUTER${n}+4`]),
      'set GICD_ICFGR2',
      'set GICD_ICFGR3',
      'set LEVEL_INFO 32',
      'set GICD_ISPENDR1',
      'set GICD_ICACTIVER1',
      'set GICD_ISACTIVER1',
      ...range(8, 15).map((n) => `set GICD_IPRIORITYR${n}`),
      ...ICC_PUT,
      ...ICC_PUT,
    ]);
  });

  it('restores the ITS in kvm_arm_its_post_load order (§1.6), then the vCPUs, then starts', () => {
    expect(phase(lines, 'destination: kvm_arm_its_post_load')).toEqual([
      'set GITS_IIDR',
      'set GITS_CBASER',
      'set GITS_CREADR',
      'set GITS_CWRITER',
      ...range(0, 7).map((n) => `set GITS_BASER${n}`),
      'set ITS_RESTORE_TABLES',
      'set GITS_CTLR',
    ]);
    expect(phase(lines, 'destination: vm_start')).toEqual(['run', 'run', 'migrate_end']);
  });

  it('builds the destination as virt does and puts reset values first (§1.7)', () => {
    expect(phase(lines, 'destination machine init')).toEqual([
      'vm',
      'create_vcpu',
      'create_vcpu',
      'create_device',
      'set 0x0',
      'set INIT',
      'set V3_DIST',
      'set V3_REDIST_REGION',
      'create_device',
      'set INIT',
      'set ITS',
    ]);
    const reset = phase(lines, 'destination system reset: kvm_arm_gicv3_put with reset values');
    // arm_gicv3_icc_reset reads ICC_CTLR_EL1 back from KVM before the put.
    expect(reset.slice(0, 2)).toEqual(['get ICC_CTLR_EL1', 'get ICC_CTLR_EL1']);
    expect(reset.slice(2, 6)).toEqual([
      'get GICD_TYPER',
      'get GICR_TYPER',
      'get GICR_TYPER+4',
      'set GICD_CTLR',
    ]);
    expect(phase(lines, 'destination system reset: ITS reset')).toEqual(['set ITS_CTRL_RESET', 'use_vm']);
  });

  it('qemu-9 writes 0 to the clear registers and ICPENDR before ISPENDR', () => {
    const old = migrationLines('qemu-9').map((l) => l.replace('note qemu-9:', 'note qemu:'));
    const put = phase(old, 'destination: kvm_arm_gicv3_put');
    const i = put.indexOf('set GICR_ISPENDR0');
    expect(put[i - 1]).toBe('set GICR_ICPENDR0');
    const dist = old.filter((l) => /GICD_IC(ENABLE|ACTIVE)R1 /.test(l));
    expect(dist.length).toBeGreaterThan(0);
    expect(dist.every((l) => / 0x0$/.test(l))).toBe(true);
  });
});
