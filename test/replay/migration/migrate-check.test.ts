// migrate-check (replay/migration/check.ts) and the ordering rules (devices/migration-order.ts):
// a lost line level is found at the cut and at the first statement that observes it, with the
// save/restore step named; each ordering rule fires on the VMM quirk that breaks it and not
// otherwise; KVM's own save/restore differences are reported as known, not as divergences; the
// run state and the first failing step of `migrate` behave as the spec says; the CLI's exit
// codes and JSON.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../../replay/machine.js';
import { migrateCheck, migrateOnce } from '../../../replay/migration/check.js';
import { cli } from '../../helpers/cli.js';
import { framesOf, markPosition } from '../../helpers/migration.js';

/** SPI 40 level-sensitive (ICFGR2 bit 17 clear), enabled, its line held high; nothing latched. */
const LEVEL_HIGH = `board virt vcpus=1 nr_irqs=64 its=off
guest gic_init
vcpu 0 write GICD_ICFGR2 0x0
vcpu 0 write GICD_ISENABLER1 0x100
run 0
irq_line spi 40 1
mark cut
vcpu 0 mrs ICC_IAR1_EL1 expect 40
`;

function check(text: string, quirks: string[] = [], vmm = 'qemu') {
  const { frames, result } = framesOf(text);
  expect(result.failures).toEqual([]);
  return migrateCheck(frames, defaultRegistry(), { vmm, quirks, at: [markPosition(frames, 'cut')] });
}

describe('migrate-check', () => {
  it('migrates a held line level exactly with every profile', () => {
    for (const vmm of ['qemu', 'qemu-9', 'cloud-hypervisor', 'firecracker', 'gem5'])
      expect(check(LEVEL_HIGH, [], vmm).diverged).toEqual([]);
  });

  it('finds the lost line level (no-level-info), where it shows, and the step responsible', () => {
    const report = check(LEVEL_HIGH, ['no-level-info']);
    expect(report.diverged).toHaveLength(1);
    const cut = report.diverged[0]!;
    expect(cut.diff.map((d) => d.path)).toContain('devices.gic.spis[8].lineLevel');
    expect(cut.divergence).toMatchObject({
      statement: 'vcpu 0 mrs ICC_IAR1_EL1',
      expected: 'value=0x28',
      got: 'value=0x3ff',
    });
    expect(cut.responsible.join('\n')).toMatch(
      /spis\[8\]\.lineLevel \(LEVEL_INFO 32\): never read on the source; never written by the restore/,
    );
  });

  it('cuts everywhere, skipping positions before machine init is over', () => {
    const { frames } = framesOf(LEVEL_HIGH);
    const report = migrateCheck(frames, defaultRegistry(), {
      vmm: 'qemu',
      quirks: ['no-level-info'],
      at: 'all',
    });
    expect(report.cuts).toBe(frames.length);
    expect(report.skipped).toBeGreaterThan(0);
    // Only the cuts with the line high diverge: the one at `irq_line`, the mark, and the read.
    expect(report.diverged.map((c) => c.cut)).toEqual([frames.length - 2, frames.length - 1, frames.length]);
  });
});

/** An ITS with a mapped, pending LPI and executed commands (CREADR ≠ 0). */
const ITS_BUSY = `board virt vcpus=2 nr_irqs=64
guest gic_init
guest its_init
run 0
vcpu 0 its MAPD dev=1 size=4 itt=0x50100000
vcpu 0 its MAPC icid=0 rdbase=0
vcpu 0 its MAPTI dev=1 event=0 lpi=8192 icid=0
guest lpi_config 8192 0xa1
vcpu 0 its INV dev=1 event=0
signal_msi 1 0 expect 1
mark cut
`;

function warningsOf(text: string, quirks: string[], inflightMsis?: { devid: number; eventid: number }[]) {
  const { frames } = framesOf(text);
  const pos = markPosition(frames, 'cut');
  const report = migrateCheck(frames.slice(0, pos), defaultRegistry(), { vmm: 'qemu', quirks, at: [pos] });
  const cut = report.diverged[0] ?? report.warned[0];
  if (inflightMsis) {
    // migrate-check has no in-flight MSIs of its own: run the migration directly.
    const state = framesOf(text).result.state;
    return migrateOnce(state, defaultRegistry(), { vmm: 'qemu', quirks, inflightMsis }).warnings.map(
      (w) => w.rule,
    );
  }
  return (cut?.warnings ?? []).map((w) => w.rule);
}

describe('ordering rules (qemu-client.md §3)', () => {
  it('stay silent for a correct qemu migration', () => {
    expect(warningsOf(ITS_BUSY, [])).toEqual([]);
  });

  it.each([
    ['lpis-enabled-before-base', 'lpis-enabled-before-base'],
    ['creadr-before-cbaser', 'creadr-before-cbaser'],
    ['its-ctlr-before-tables', 'its-ctlr-before-tables'],
    ['its-before-gic', 'its-before-gic'],
    ['ram-before-flush', 'ram-before-flush'],
    ['zero-clear', 'zero-clear'],
    ['no-sdei-state', 'no-sdei-state'],
    ['no-save-pending-tables', 'no-save-pending-tables'],
    ['no-its-save-tables', 'no-its-save-tables'],
  ])('%s breaks %s', (quirk, rule) => {
    const rules = warningsOf(ITS_BUSY, [quirk]);
    expect(rules).toContain(rule);
    // Each mistake is named once, by itself: no other rule fires with it.
    expect([...new Set(rules)]).toEqual([rule]);
  });

  it('flag pending written before the configuration and routing (pending-before-config)', () => {
    const latched =
      'board virt vcpus=1 nr_irqs=64 its=off\nguest gic_init\nvcpu 0 write GICD_ISPENDR1 0x100\nmark cut\n';
    expect(warningsOf(latched, ['pending-before-config'])).toContain('pending-before-config');
    expect(warningsOf(latched, [])).toEqual([]);
  });

  it('flag an MSI sent after the flush (msi-after-flush), not one sent before it', () => {
    expect(warningsOf(ITS_BUSY, ['msi-after-flush'], [{ devid: 1, eventid: 0 }])).toContain(
      'msi-after-flush',
    );
    expect(warningsOf(ITS_BUSY, [], [{ devid: 1, eventid: 0 }])).not.toContain('msi-after-flush');
  });

  it('flag PTZ forced on a redistributor with LPIs disabled (force-ptz)', () => {
    const idle = 'board virt vcpus=1 nr_irqs=64\nguest gic_init\nmark cut\n';
    expect(warningsOf(idle, ['force-ptz'])).toContain('force-ptz');
    expect(warningsOf(idle, [])).toEqual([]);
  });

  it('find the pending LPI lost when the pending tables are not flushed', () => {
    const report = check(`${ITS_BUSY}vcpu 0 mrs ICC_IAR1_EL1 expect 8192\n`, ['no-save-pending-tables']);
    expect(report.diverged[0]?.diff.map((d) => d.path)).toContain('devices.lpis.irqs[8192].pendingLatch');
    expect(report.diverged[0]?.divergence).toMatchObject({ expected: 'value=0x2000', got: 'value=0x3ff' });
  });
});

describe('what KVM itself changes on every save/restore', () => {
  it('reports ITEs orphaned by MAPC V=0 as known, not as a divergence', () => {
    const text = `${ITS_BUSY.replace('mark cut\n', '')}vcpu 0 its MAPC icid=0 rdbase=0 valid=0\nmark cut\n`;
    const report = check(text);
    expect(report.diverged).toEqual([]);
    expect(report.warned[0]?.cut).toBeGreaterThan(0);
  });
});

describe('divergences that known KVM behaviour explains', () => {
  // KVM neither saves nor restores ICC_BPR1_EL1 while CBPR=1 (get/set_gic_bpr1): a guest that
  // clears CBPR after the migration reads another BPR1.
  const hiddenBpr1 = `board virt vcpus=1 nr_irqs=64 its=off
guest gic_init
vcpu 0 msr ICC_BPR1_EL1 0x5
vcpu 0 msr ICC_CTLR_EL1 0x1
mark cut
vcpu 0 msr ICC_CTLR_EL1 0x0
vcpu 0 mrs ICC_BPR1_EL1 expect 0x5
`;

  it('are listed apart, with the first thing a guest sees, and fail only with strict', () => {
    const { frames } = framesOf(hiddenBpr1);
    const at = [markPosition(frames, 'cut')];
    const report = migrateCheck(frames, defaultRegistry(), { vmm: 'qemu', quirks: [], at });
    expect(report.diverged).toEqual([]);
    expect(report.explained).toHaveLength(1);
    expect(report.explained[0]!.known.join('\n')).toMatch(
      /ICC_BPR1_EL1 is not accessible while ICC_CTLR_EL1\.CBPR=1/,
    );
    expect(report.explained[0]!.divergence).toMatchObject({
      statement: 'vcpu 0 mrs ICC_BPR1_EL1',
      expected: 'value=0x5',
    });
    const strict = migrateCheck(frames, defaultRegistry(), { vmm: 'qemu', quirks: [], at, strict: true });
    expect(strict.diverged.map((c) => c.cut)).toEqual(at);
  });
});

describe('the migrate statement', () => {
  it('keeps a paused VM paused, resuming at the next cont', () => {
    const { result } = framesOf(`board virt vcpus=1 nr_irqs=64 its=off
run 0
stop
migrate expect 0
get_reg 0 pc expect 0
cont
get_reg 0 pc expect -EBUSY
`);
    expect(result.failures).toEqual([]);
  });

  it('yields the first failing step and records it as an effect', () => {
    const { frames, result } = framesOf(
      `${ITS_BUSY}migrate quirks=creadr-before-cbaser,its-ctlr-before-tables expect -EEXIST\n`,
    );
    expect(result.failures).toEqual([]);
    const end = frames.find((f) => f.event.type === 'migrate.end')!;
    expect(end.effects).toContainEqual(
      expect.objectContaining({ type: 'migrate.step-failed', event: 'attr.set', rc: -17 }),
    );
  });
});

describe('vgicrr migrate-check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vgicrr-mc-'));
  const file = join(dir, 'level.vgs');
  writeFileSync(file, LEVEL_HIGH);

  it('exits 0 when every cut migrates exactly, 1 when one diverges', async () => {
    const ok = await cli('migrate-check', file, '--at', 'cut');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/every cut migrated exactly/);
    const bad = await cli('migrate-check', file, '--at', 'cut', '--quirks', 'no-level-info');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/first divergence at #\d+: vcpu 0 mrs ICC_IAR1_EL1/);
    expect(bad.stdout).toMatch(/LEVEL_INFO 32\): never read on the source; never written by the restore/);
  });

  it('prints JSON for machines', async () => {
    const r = await cli('migrate-check', file, '--quirks', 'no-level-info', '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; diverged: { cut: number }[] };
    expect(report.ok).toBe(false);
    expect(report.diverged.length).toBe(3);
  });

  it('records the first diverging cut as a trace for the debugger (--record)', async () => {
    const out = join(dir, 'cut.vgt');
    const r = await cli('migrate-check', file, '--quirks', 'no-level-info', '--record', out);
    expect(r.code).toBe(1);
    const replay = await cli('replay', out);
    expect(replay.code).toBe(0);
    const info = await cli('info', out);
    expect(info.stdout).toMatch(/migrate-check-cut #\d+, migrated #\d+, .*first-divergence #\d+/);
    const dump = await cli('dump', out, '--from', 'first-divergence', '--to', 'first-divergence');
    expect(dump.stdout).toMatch(/mark first-divergence/);
  });

  it('rejects unknown VMMs and kernel quirks (exit 2)', async () => {
    expect((await cli('migrate-check', file, '--vmm', 'xen')).code).toBe(2);
    expect((await cli('migrate-check', file, '--quirks', 'movall-all-lpis')).code).toBe(2);
    expect((await cli('migrate-check', file, '--at', '#999')).code).toBe(2);
  });
});
