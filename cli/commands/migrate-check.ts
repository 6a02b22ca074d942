// `vgicrr migrate-check TRACE|SCENARIO`: checkpoint-migrate at each cut and report where the
// destination diverges from the source (replay/migration/check.ts). Exit 1 when any cut differs.

import { quirkByName } from '../../devices/quirks.js';
import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';
import { type CutReport, migrateCheck } from '../../replay/migration/check.js';
import { VMM_PROFILES } from '../../replay/migration/profiles.js';
import { recordCut } from '../../replay/migration/record-cut.js';
import { createRecorder, fileSink } from '../../replay/recorder.js';
import { parse, parsePosition } from '../args.js';
import { type Io, paint } from '../io.js';
import { loadTraceOrScenario } from '../trace-input.js';
import { UsageError } from '../usage-error.js';
import { version } from '../version.js';

export const help = `Usage: vgicrr migrate-check TRACE|FILE.vgs [--at all|#N,…] [--vmm NAME] [--quirks A,B]
                      [--horizon N] [--json]

At each cut (the state after event #N) performs a checkpoint migration of the current VM the
way the VMM does it (save through the KVM userspace API, table flushes, RAM transfer, restore
into a new VM on the same board) and compares the destination with the source on everything a
guest or VMM can observe. Where they differ, the rest of the trace runs on the destination and
the first event whose output differs from the source's recorded one is reported, with the
state paths that differ and the save/restore steps that handled them. Ordering rules the VMM
broke (qemu-client.md §3) are listed as warnings.

Options:
  --at all|#N,…   cut positions (default all); marks may be named
  --vmm NAME      qemu (default), qemu-9, cloud-hypervisor, firecracker, gem5
  --quirks A,B    VMM quirks to reproduce (see \`vgicrr quirks\`)
  --horizon N     events replayed after a differing cut (default 10000)
  --strict        also fail on divergences that known KVM/VMM behaviour explains (listed
                  otherwise as "explained": the hidden ICC_BPR1_EL1 under CBPR, PENDBASER
                  without an ITS, LPI state after MOVALL without MAPC, stale LPI configuration)
  --record FILE   write the first diverging cut as a trace for \`vgicrr tui\`: the trace up to
                  the cut, the migration's steps, the rest on the destination up to the first
                  divergence, with marks migrate-check-cut, migrated and first-divergence (\`v\` in the UI compares
                  the source and destination VMs)
  --json          print the report as one JSON object

Exit status: 0 every cut migrated exactly, 1 a cut diverged, 2 usage or input error.`;

export function migrateCheckCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('migrate-check', argv, {
    at: { type: 'string' },
    vmm: { type: 'string' },
    quirks: { type: 'string' },
    horizon: { type: 'string' },
    strict: { type: 'boolean' },
    record: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1)
    throw new UsageError('migrate-check takes one trace or scenario: vgicrr migrate-check TRACE');
  const vmm = (values.vmm as string | undefined) ?? 'qemu';
  if (!VMM_PROFILES[vmm])
    throw new UsageError(`unknown VMM \`${vmm}\` (${Object.keys(VMM_PROFILES).join(', ')})`);
  const quirks = parseQuirks(values.quirks as string | undefined);
  const horizon = values.horizon === undefined ? undefined : Number(values.horizon);
  if (horizon !== undefined && (!Number.isInteger(horizon) || horizon < 0))
    throw new UsageError('--horizon takes a non-negative number of events');
  const path = positionals[0]!;
  const trace = loadTraceOrScenario(path, io);
  const frames: Frame[] = [];
  for (let c = 0; c < trace.chunks.length; c++) frames.push(...trace.chunkFrames(c));
  const atText = (values.at as string | undefined) ?? 'all';
  const at = atText === 'all' ? 'all' : atText.split(',').map((t) => parsePosition(t.trim(), trace.marks));
  if (at !== 'all')
    for (const p of at)
      if (p < 1 || p > frames.length) throw new UsageError(`--at: no position #${p} (1–${frames.length})`);
  const report = migrateCheck(frames, defaultRegistry(), {
    vmm,
    quirks,
    at,
    strict: Boolean(values.strict),
    ...(horizon === undefined ? {} : { horizon }),
    onProgress: (done, total) => io.progress(`migrate-check ${path}: ${done}/${total}`),
  });
  io.progressDone();
  const failed = report.diverged.length > 0;
  const record = values.record as string | undefined;
  if (record && failed) {
    const h = trace.header;
    const sink = fileSink(record);
    const recorder = createRecorder(sink, {
      producer: `vgicrr ${version()}`,
      board: h.board,
      host: h.host,
      quirks: h.quirks,
      seed: h.seed ?? null,
    });
    try {
      recordCut(
        frames,
        defaultRegistry(),
        { vmm, quirks },
        report.diverged[0]!.cut,
        recorder.onFrame,
        horizon,
      );
    } finally {
      recorder.finish();
      sink.close();
    }
    io.err(
      `recorded cut #${report.diverged[0]!.cut} to ${record} (marks migrate-check-cut, migrated, first-divergence)`,
    );
  }
  if (values.json) {
    io.out(JSON.stringify({ trace: path, ok: !failed, ...report }));
    return failed ? 1 : 0;
  }
  const head = `${path}: ${report.cuts} cut(s) with vmm=${vmm}${quirks.length ? ` quirks=${quirks.join(',')}` : ''}, ${report.migrations} migration(s)`;
  for (const cut of report.explained.slice(0, 4)) {
    const title = `cut #${cut.cut}: explained by known KVM/VMM behaviour (--strict fails on it):`;
    printCut(io, cut, paint(io, 'yellow', title));
    for (const k of cut.known) io.out(`  known: ${k}`);
  }
  if (report.explained.length > 4) io.out(`… ${report.explained.length - 4} more explained cut(s)`);
  if (!failed) {
    io.out(`${head}: ${paint(io, 'green', 'every cut migrated exactly')}`);
    for (const w of report.warned) {
      if (w.failedStep) io.out(paint(io, 'yellow', `  cut #${w.cut}: a step failed: ${w.failedStep}`));
      printWarnings(io, w.cut, w.warnings);
    }
    return 0;
  }
  io.out(`${head}: ${paint(io, 'red', `${report.diverged.length} cut(s) diverged`)}`);
  for (const cut of report.diverged) printCut(io, cut);
  return 1;
}

function parseQuirks(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  for (const name of text.split(',')) {
    const quirk = quirkByName(name);
    if (!quirk) throw new UsageError(`unknown quirk \`${name}\` (see \`vgicrr quirks\`)`);
    if (quirk.side !== 'vmm') throw new UsageError(`\`${name}\` is a kernel quirk: give it to board or vm`);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/** One line per rule: how often it fired and where first. */
function printWarnings(io: Io, cut: number, warnings: CutReport['warnings']): void {
  const byRule = new Map<string, CutReport['warnings']>();
  for (const w of warnings) byRule.set(w.rule, [...(byRule.get(w.rule) ?? []), w]);
  for (const [rule, list] of byRule) {
    const first = list[0]!;
    const times = list.length > 1 ? ` (×${list.length}, first` : ' (';
    io.out(
      paint(
        io,
        'yellow',
        `  cut #${cut}: warning ${rule}${times} at migration step ${first.step}): ${first.detail}`,
      ),
    );
  }
}

function printCut(io: Io, cut: CutReport, title = paint(io, 'red', `cut #${cut.cut}:`)): void {
  io.out(title);
  if (cut.rc !== 0)
    io.out(`  migrate failed with rc ${cut.rc}${cut.failedStep ? ` (${cut.failedStep})` : ''}`);
  const d = cut.divergence;
  if (d) {
    io.out(`  first divergence at #${d.position}: ${d.statement}`);
    io.out(`    expected: ${d.expected}`);
    io.out(`    got:      ${d.got}`);
  } else if (cut.replayed > 0 || cut.stoppedAt !== undefined) {
    const until =
      cut.stoppedAt === undefined ? '' : ` (up to the trace's own VM change at #${cut.stoppedAt})`;
    io.out(`  no output differs in the ${cut.replayed} event(s) after the cut${until}; the state does:`);
  }
  for (const p of cut.diff.slice(0, 12)) io.out(`  ${p.path}: source ${p.expected}, destination ${p.got}`);
  if (cut.diff.length > 12) io.out(`  … ${cut.diff.length - 12} more path(s)`);
  for (const r of cut.responsible.slice(0, 8)) io.out(`  likely: ${r}`);
  printWarnings(io, cut.cut, cut.warnings);
}
