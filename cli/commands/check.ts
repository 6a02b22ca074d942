// `vgicrr check PATH…`: the CI entry point. Runs every `.vgs` (its expectations) and replays every
// `.vgt` (every output verified) under the given files and folders, optionally migrate-checks
// each, on N worker threads; reports in path order whatever order the workers finish in.

import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { VMM_PROFILES } from '../../replay/migration/profiles.js';
import { parse } from '../args.js';
import type { CheckResult } from '../check/check-file.js';
import { collectFiles, parseShard, type Shard, shardFiles } from '../check/corpus.js';
import { junitXml } from '../check/junit.js';
import { runChecks, workersAvailable } from '../check/pool.js';
import { type Io, paint } from '../io.js';
import { InputError, UsageError } from '../usage-error.js';

export const help = `Usage: vgicrr check PATH… [-j N] [--migrate] [--vmm NAME] [--shard i/n]
                    [--junit FILE] [--json]

Checks a corpus: every scenario (.vgs) under the given files and folders is run and each of
its \`expect\` clauses checked; every trace (.vgt) is replayed with each recorded output,
effect and state hash verified. Folders are searched recursively; files are checked and
reported in sorted path order.

Options:
  -j, --jobs N    worker threads (default: the number of cores)
  --migrate       also migrate-check each file at every cut (as \`vgicrr migrate-check\`)
  --vmm NAME      the VMM profile for --migrate (default qemu)
  --shard i/n     check only shard i of n: of the sorted file list, the files at 0-based
                  positions k with k mod n = i − 1 (same split on every machine)
  --junit FILE    write a JUnit XML report: one test case per file, a failure carrying the
                  failed expectations or the divergence report
  --json          print the results as one JSON object instead of text

On a terminal a progress bar shows on stderr and only failures are printed; otherwise one
line per file. Exit status: 0 every file passed, 1 one or more failed, 2 usage or input error.`;

export async function checkCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('check', argv, {
    jobs: { type: 'string', short: 'j' },
    migrate: { type: 'boolean' },
    vmm: { type: 'string' },
    shard: { type: 'string' },
    junit: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length === 0) throw new UsageError('check takes one or more files or folders');
  const jobs = values.jobs === undefined ? availableParallelism() : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError('-j takes a positive number of jobs');
  const vmm = (values.vmm as string | undefined) ?? 'qemu';
  if (!VMM_PROFILES[vmm])
    throw new UsageError(`unknown VMM \`${vmm}\` (${Object.keys(VMM_PROFILES).join(', ')})`);
  const shard: Shard | undefined = values.shard === undefined ? undefined : parseShard(String(values.shard));
  const all = collectFiles(positionals);
  const files = shard ? shardFiles(all, shard) : all;
  if (all.length === 0) throw new InputError(`no .vgs or .vgt files under ${positionals.join(', ')}`);

  const bar = !values.json && Boolean(process.stderr.isTTY);
  const started = performance.now();
  const results: (CheckResult | undefined)[] = new Array(files.length);
  let reported = 0;
  let done = 0;
  let failed = 0;
  const report = (r: CheckResult) => {
    if (values.json) return;
    if (r.warnings.length) io.progressDone();
    for (const w of r.warnings) io.err(paint(io, 'yellow', w));
    if (r.ok) {
      if (!bar) io.out(`${paint(io, 'green', 'ok')}    ${r.file}  ${summary(r)}`);
      return;
    }
    io.progressDone();
    io.out(`${paint(io, 'red', 'FAIL')}  ${r.file}: ${r.message}`);
    for (const line of r.report.split('\n').slice(1)) io.out(`      ${line}`);
    io.flush();
  };
  const effectiveJobs = workersAvailable() ? Math.min(jobs, Math.max(files.length, 1)) : 1;
  await runChecks(files, { migrate: Boolean(values.migrate), vmm }, jobs, (index, result) => {
    results[index] = result;
    done++;
    if (!result.ok) failed++;
    // Report in path order: everything finished up to the first file still running.
    while (reported < files.length && results[reported]) report(results[reported++]!);
    if (bar) io.progress(progressBar(done, files.length, failed));
  });
  io.progressDone();
  const seconds = (performance.now() - started) / 1000;
  const finished = results as CheckResult[];
  if (typeof values.junit === 'string') {
    try {
      writeFileSync(values.junit, junitXml(finished, 'vgicrr check', seconds));
    } catch (error) {
      throw new InputError(`cannot write ${values.junit}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
  }
  const shardText = shard ? ` (shard ${shard.index}/${shard.count} of ${all.length})` : '';
  if (values.json) {
    io.out(
      JSON.stringify({
        ok: failed === 0,
        files: files.length,
        passed: files.length - failed,
        failed,
        jobs: effectiveJobs,
        shard: shard ?? null,
        seconds,
        results: finished,
      }),
    );
  } else {
    const verdict =
      failed === 0
        ? paint(io, 'green', `${files.length} passed`)
        : `${paint(io, 'red', `${failed} failed`)}, ${files.length - failed} passed`;
    io.out(
      `${files.length} file(s)${shardText}: ${verdict} in ${seconds.toFixed(2)} s (-j ${effectiveJobs})`,
    );
  }
  return failed === 0 ? 0 : 1;
}

function summary(r: CheckResult): string {
  const parts =
    r.kind === 'scenario'
      ? [`${r.expectations} expectations`, `${r.events} events`]
      : [`${r.events} events replayed`];
  if (r.cuts) parts.push(`${r.cuts} cuts migrated`);
  return `(${parts.join(', ')}, ${Math.round(r.ms)} ms)`;
}

function progressBar(done: number, total: number, failed: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} checked${failed ? `, ${failed} failed` : ''}`;
}
