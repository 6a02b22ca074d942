// `vgicrr fuzz --seeds A..B [--quirks …]`: chaos runs (replay/fuzz.ts, docs/fuzz.md). Each seed's
// workload comes from scenario/gen; each failing case is written under fuzz-out/ (a trace and
// its scenario text), named by seed and quirk. Exit 1 when anything was found: it is a bug hunt.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QUIRKS, quirkByName } from '../../devices/quirks.js';
import {
  BASELINE_PROFILES,
  caseScenario,
  caseTrace,
  type FuzzCase,
  fuzz,
  QUIRK_PROFILES,
} from '../../replay/fuzz.js';
import { defaultRegistry } from '../../replay/machine.js';
import { generateWorkload, type Profile } from '../../scenario/gen/workload.js';
import { parse } from '../args.js';
import { type Io, paint } from '../io.js';
import { UsageError } from '../usage-error.js';
import { version } from '../version.js';
import { parseProfile } from './gen.js';

export const help = `Usage: vgicrr fuzz --seeds A..B [--quirks all|none|A,B,…] [--events N] [--cuts K]
                  [--profile P] [--out DIR] [--first] [--no-minimize] [--json]

Chaos runs: for every seed of A..B (inclusive) and every quirk asked for, generates the seeded
workload (\`vgicrr gen\`, the quirk's profile), hunts the quirk's bug with its oracle, and keeps
each failing case, minimized, as DIR/SEED-QUIRK.vgt and DIR/SEED-QUIRK.vgs (the .vgs header says
what was found and how to check it). Minimization is replay/minimize.ts with the oracle as the
predicate; a VMM differential case (msi-after-flush) is kept as the generated statements up to
the finding, not minimized. \`baseline\` stands for the run with no quirk.

Oracles (docs/fuzz.md):
  migrate-check  a checkpoint migration (qemu) at one of K seeded random cuts differs from the
                 source; a VMM quirk is passed to migrate-check, a kernel quirk is on the
                 board. Only cuts that migrate exactly without the quirk count.
  warning        (VMM quirks) the migration raised the ordering warning named after the quirk;
                 pending-before-config and its-ctlr-before-tables have no other symptom here.
  differential   the same seed generated with and without the quirk (on the board for a kernel
                 quirk, on the workload's own \`migrate\` statements for a VMM quirk): the first
                 statement whose output or effects differ. For kernel quirks whose wrong
                 behaviour runs on both sides of a migration (the SDEI ones, MOVALL, DISCARD,
                 BASER, PTZ read-back), and msi-after-flush (in-flight MSIs exist only inside
                 a \`migrate\` statement).
  baseline       no quirk: a cut whose destination later answers differently (an observable
                 divergence), or a warning named after a quirk, is a bug of the model.

Options:
  --seeds A..B     the seed range (required; a single seed S is S..S)
  --quirks LIST    all (default: every quirk and the baseline), none (the baseline only), or
                   quirk names; \`baseline\` may be listed too
  --events N       events per workload (default 2000)
  --cuts K         random cuts per workload (default 16)
  --profile P      one profile for every quirk (default: each quirk's own, see docs/fuzz.md)
  --out DIR        where failing cases go (default fuzz-out)
  --first          stop hunting a quirk once it was found
  --no-minimize    keep failing cases unminimized (truncated after the failure)
  --json           print the report as one JSON object

Exit status: 1 something was found, 0 nothing was, 2 usage error.`;

function parseSeeds(text: string | undefined): [number, number] {
  if (text === undefined) throw new UsageError('fuzz: --seeds A..B is required');
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`--seeds takes A..B (inclusive), not \`${text}\``);
  const from = Number(m[1]);
  const to = Number(m[2] ?? m[1]);
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to > 0xffff_ffff || from > to)
    throw new UsageError(`--seeds: ${text} is not a range of 32-bit seeds with A ≤ B`);
  return [from, to];
}

function parseTargets(text: string | undefined): (string | null)[] {
  if (text === undefined || text === 'all') return [null, ...QUIRKS.map((q) => q.name)];
  if (text === 'none' || text === 'baseline') return [null];
  const targets: (string | null)[] = [];
  for (const name of text.split(',').map((t) => t.trim())) {
    if (name === 'baseline') targets.push(null);
    else if (quirkByName(name)) targets.push(name);
    else throw new UsageError(`unknown quirk \`${name}\` (see \`vgicrr quirks\`)`);
  }
  return targets;
}

function positive(text: string | undefined, option: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${option} takes a positive number`);
  return n;
}

export function fuzzCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('fuzz', argv, {
    seeds: { type: 'string' },
    quirks: { type: 'string' },
    events: { type: 'string' },
    cuts: { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string' },
    first: { type: 'boolean' },
    'no-minimize': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError('fuzz takes no positional arguments');
  const [from, to] = parseSeeds(values.seeds as string | undefined);
  const targets = parseTargets(values.quirks as string | undefined);
  const events = positive(values.events as string | undefined, '--events', 2000);
  const cuts = positive(values.cuts as string | undefined, '--cuts', 16);
  const profile = values.profile === undefined ? undefined : parseProfile(values.profile as string);
  const dir = (values.out as string | undefined) ?? 'fuzz-out';
  const registry = defaultRegistry();
  const producer = `vgicrr ${version()}`;
  const written: string[] = [];
  const report = fuzz({
    from,
    to,
    targets,
    events,
    cuts,
    ...(profile ? { profile } : {}),
    firstOnly: Boolean(values.first),
    minimize: !values['no-minimize'],
    registry,
    source: (r) =>
      generateWorkload({
        seed: r.seed,
        events: r.events,
        profile: r.profile as Profile,
        registry,
        kernelQuirks: r.kernelQuirks,
        migrateQuirks: r.migrateQuirks,
        producer,
        keepFrames: true,
      }),
    onProgress: (seed, target, done, total) =>
      io.progress(
        `fuzz seed ${seed} ${target ?? 'baseline'} (${done}/${total}), ${written.length / 2} found`,
      ),
    onCase: (found: FuzzCase) => {
      mkdirSync(dir, { recursive: true });
      const name = `${found.finding.seed}-${found.finding.quirk ?? 'baseline'}`;
      const vgt = join(dir, `${name}.vgt`);
      const vgs = join(dir, `${name}.vgs`);
      writeFileSync(vgt, caseTrace(found, registry));
      writeFileSync(vgs, caseScenario(found));
      written.push(vgt, vgs);
    },
  });
  io.progressDone();
  const found = report.findings.length > 0;
  if (values.json) {
    io.out(JSON.stringify({ ok: !found, ...report, files: written }));
    return found ? 1 : 0;
  }
  io.out(
    `fuzz seeds ${from}..${to}, ${events} events and ${cuts} cuts per workload, ${targets.length} target(s): ${
      found ? paint(io, 'red', `${report.findings.length} finding(s)`) : paint(io, 'green', 'nothing found')
    }`,
  );
  for (const t of report.targets) {
    const name = (t.quirk ?? 'baseline').padEnd(34);
    const where = t.quirk
      ? (profile ?? QUIRK_PROFILES[t.quirk] ?? 'linux-boot')
      : (profile ?? BASELINE_PROFILES.join('/'));
    const verdict =
      t.firstSeed === null
        ? paint(io, t.quirk ? 'yellow' : 'green', `not found in ${t.seeds} seed(s)`)
        : paint(
            io,
            t.quirk ? 'bold' : 'red',
            `found by ${t.oracle} at seed ${t.firstSeed} (${t.findings} finding(s))`,
          );
    io.out(`  ${name} ${where.padEnd(14)} ${verdict}`);
  }
  for (const f of report.findings)
    io.out(
      `  seed ${f.seed} ${f.quirk ?? 'baseline'} [${f.oracle}]: ${f.detail} (${f.caseEvents} events${f.minimized ? ', minimized' : ''})`,
    );
  if (written.length) io.out(`cases written under ${dir}/ (${written.length / 2})`);
  return found ? 1 : 0;
}
