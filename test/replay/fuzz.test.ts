// `vgicrr fuzz` (replay/fuzz.ts): within a bounded seed range it finds the bug of every kernel and
// VMM quirk, each with its documented oracle, and nothing without quirks; failing cases are
// minimized and still fail with the quirk and pass without it.

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUIRKS } from '../../devices/quirks.js';
import {
  caseScenario,
  caseTrace,
  cutsFor,
  type FuzzCase,
  fuzz,
  type WorkloadSource,
} from '../../replay/fuzz.js';
import { defaultRegistry } from '../../replay/machine.js';
import { migrateCheck } from '../../replay/migration/check.js';
import { readTrace } from '../../replay/trace-reader.js';
import { generateWorkload, type Profile } from '../../scenario/gen/workload.js';
import { cli } from '../helpers/cli.js';

const registry = defaultRegistry();
const source: WorkloadSource = (r) =>
  generateWorkload({
    seed: r.seed,
    events: r.events,
    profile: r.profile as Profile,
    registry,
    kernelQuirks: r.kernelQuirks,
    migrateQuirks: r.migrateQuirks,
    keepFrames: true,
  });

const SEEDS = { from: 1, to: 20 };
const EVENTS = 2000;
const CUTS = 16;

/** The oracle each quirk is expected to be found by (docs/fuzz.md, table). */
const ORACLE: Record<string, string> = {
  'pending-before-config': 'warning',
  'its-ctlr-before-tables': 'warning',
  'msi-after-flush': 'differential',
  'pendbaser-ptz-readable': 'differential',
  'its-discard-unmapped-collection': 'differential',
  'baser-drop-on-invalid-only': 'differential',
};
const oracleOf = (name: string) =>
  ORACLE[name] ?? (name.startsWith('sdei-') ? 'differential' : 'migrate-check');

describe('fuzz', () => {
  it('draws the same cuts for the same seed', () => {
    expect(cutsFor(5, 2000, 16)).toEqual(cutsFor(5, 2000, 16));
    expect(cutsFor(5, 2000, 16)).not.toEqual(cutsFor(6, 2000, 16));
    expect(cutsFor(5, 2000, 16).every((c) => c >= 1 && c <= 2000)).toBe(true);
  });

  it.each(QUIRKS.map((q) => q.name))('finds %s within seeds 1..20', (name) => {
    const report = fuzz({
      ...SEEDS,
      targets: [name],
      events: EVENTS,
      cuts: CUTS,
      firstOnly: true,
      source,
      registry,
    });
    const target = report.targets[0]!;
    expect(target.firstSeed, `${name} not found`).not.toBeNull();
    expect(target.oracle).toBe(oracleOf(name));
  });

  it('finds nothing without quirks in the same seeds', () => {
    const report = fuzz({ ...SEEDS, targets: [null], events: EVENTS, cuts: CUTS, source, registry });
    expect(report.findings).toEqual([]);
    expect(report.targets[0]!.seeds).toBe(20);
  });

  it('keeps a minimized case that fails with the quirk and migrates exactly without it', () => {
    const cases: FuzzCase[] = [];
    const report = fuzz({
      from: 1,
      to: 1,
      targets: ['no-level-info'],
      events: EVENTS,
      cuts: CUTS,
      minimize: true,
      source,
      registry,
      onCase: (c) => cases.push(c),
    });
    expect(report.findings).toHaveLength(1);
    const found = cases[0]!;
    expect(found.finding.minimized).toBe(true);
    expect(found.finding.caseEvents).toBeLessThan(100);
    const trace = readTrace(caseTrace(found, registry));
    const cut = trace.marks.find((m) => m.name === 'cut')!.position;
    const frames = Array.from({ length: trace.length }, (_v, i) => trace.frame(i + 1));
    expect(
      migrateCheck(frames, registry, { vmm: 'qemu', quirks: ['no-level-info'], at: [cut] }).diverged,
    ).toHaveLength(1);
    expect(migrateCheck(frames, registry, { vmm: 'qemu', quirks: [], at: [cut] }).diverged).toHaveLength(0);
    expect(caseScenario(found)).toContain('mark cut');
  });

  it('the CLI exits 1 and writes the case when it finds something, 0 when not, 2 on bad ranges', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgicrr-fuzz-'));
    const hit = await cli(
      'fuzz',
      '--seeds',
      '1..1',
      '--quirks',
      'no-level-info',
      '--no-minimize',
      '--out',
      dir,
    );
    expect(hit.code).toBe(1);
    expect(hit.stdout).toContain('found by migrate-check at seed 1');
    expect(existsSync(join(dir, '1-no-level-info.vgt'))).toBe(true);
    expect(existsSync(join(dir, '1-no-level-info.vgs'))).toBe(true);
    const none = await cli('fuzz', '--seeds', '1..1', '--quirks', 'none', '--out', dir);
    expect(none.code).toBe(0);
    expect((await cli('fuzz', '--seeds', '3..1')).code).toBe(2);
    expect((await cli('fuzz', '--seeds', '1..2', '--quirks', 'no-such-quirk')).code).toBe(2);
  });
});
