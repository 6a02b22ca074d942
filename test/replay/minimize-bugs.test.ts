// Issue 6 item 6, Done-when: `minimize` shrinks each bug reproduction embedded in a large
// generated workload (≥ 10,000 events) to at most 50 events that still fail. Every
// `# check: migrate-check` file of traces/bugs/ is buried in a two-guest host trace
// (test/helpers/big-workload.ts), checked to fail there, minimized with the same predicate, and
// the result checked again with a fresh migrate-check (not the minimizer's own verdict). The
// predicate keeps the original's symptom (the default `same`), so the result is the buried
// reproduction and not another failure of the filler guest (its ITS shows some VMM quirks too).

import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { workload } from '../../bench/workload.js';
import { type KeepSpec, keepPredicate, parseKeep, wholeCandidate } from '../../replay/keep-predicate.js';
import { defaultRegistry } from '../../replay/machine.js';
import { migrateCheck } from '../../replay/migration/check.js';
import { minimize } from '../../replay/minimize.js';
import { statementText } from '../../replay/statement-text.js';
import { BUGS_DIR, embed, keepFor, readBug, reproEvents } from '../helpers/big-workload.js';

const bugs = readdirSync(BUGS_DIR)
  .filter((f) => f.endsWith('.vgs'))
  .sort()
  .map(readBug)
  .filter((b) => b.check === 'migrate-check');

/** Collected for the summary printed at the end (the report's table). */
const rows: string[] = [];

describe('minimize: bug reproductions in a 10,000-event workload', () => {
  it('covers every migrate-check reproduction', () => {
    expect(bugs.length).toBeGreaterThanOrEqual(10);
  });

  it('embeds a reproduction without reordering either guest', () => {
    const { events: repro } = reproEvents(bugs[0]!);
    const big = embed(repro, { filler: 10_000, seed: 3 });
    const own = new Set(repro);
    expect(big.filter((e) => own.has(e))).toEqual(repro);
    const filler = big.filter((e) => !own.has(e) && e.type !== 'vm.select').map(statementText);
    expect(filler).toEqual(workload(3, 10_000).map(statementText));
  });

  it.each(bugs.map((b) => [b.file, b] as const))('%s shrinks to ≤ 50 failing events', (_file, bug) => {
    const registry = defaultRegistry();
    const { events: repro } = reproEvents(bug);
    const big = embed(repro, { filler: 10_000, seed: bug.quirk.length });
    expect(big.length).toBeGreaterThanOrEqual(10_000);
    const spec = parseKeep(keepFor(bug)) as Extract<KeepSpec, { kind: 'migrate-check' }>;
    const frames = big.map((event) => ({ event, output: {}, effects: [] }));
    const predicate = keepPredicate(spec, { registry, frames });
    expect(predicate.test(wholeCandidate(frames)).fails, 'the big trace fails').toBe(true);

    const started = performance.now();
    const result = minimize(big, predicate.test, registry, { required: predicate.required });
    const ms = performance.now() - started;
    const small = result.candidate.events;
    rows.push(
      `| ${bug.quirk} | ${big.length} | ${repro.length} | ${small.length} | ${result.evaluations} | ${(ms / 1000).toFixed(1)} s |`,
    );
    expect(small.length).toBeLessThanOrEqual(50);
    // The reproduction's VM, not a failure found in the filler guest.
    expect(small.filter((e) => e.type === 'vm.create')).toEqual([repro[0]]);
    const cut = small.findIndex((e) => e.type === 'trace.mark' && e.name === 'cut') + 1;
    expect(cut).toBeGreaterThan(0);
    const report = migrateCheck(
      small.map((event) => ({ event, output: {}, effects: [] })),
      registry,
      { vmm: spec.vmm, quirks: spec.quirks, at: [cut] },
    );
    expect(report.diverged.length, 'the minimized trace still fails').toBe(1);
  });

  it('prints the results table', () => {
    console.log(['| repro | big | repro | minimized | evaluations | time |', ...rows].join('\n'));
  });
});
