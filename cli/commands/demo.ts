// `vgicrr demo` (what `npm start` runs): the bundled demo trace, traces/demo/migration.vgt (an
// IPI lost in a QEMU migration on a GICv4.1 host; recorded from migration.vgs, and checked to
// stay in step with it by test/cli/demo.test.ts). On a terminal it opens the time-travel UI on
// it (docs/tui.md); otherwise (stdout not a TTY, or CI set) it prints a one-screen summary: the
// trace, its marks, a checked replay, and what migrate-check finds at the migration.

import { join } from 'node:path';
import { defaultRegistry } from '../../replay/machine.js';
import { migrateCheck } from '../../replay/migration/check.js';
import { replayAndCheck } from '../../replay/replay-check.js';
import { effectText, outputText, statementText } from '../../replay/statement-text.js';
import { parse } from '../args.js';
import { type Io, paint } from '../io.js';
import { openTrace } from '../trace-input.js';
import { packageRoot } from '../version.js';
import { interactive, openTui } from './tui.js';

export const help = `Usage: vgicrr demo

Opens the bundled demo trace (traces/demo/migration.vgt: a two-vCPU guest on a GICv4.1 host
loses an IPI when QEMU migrates it, because of the kernel bug the vsgi-pending-latch-only quirk
reproduces) in the time-travel UI (see vgicrr tui --help). Without a terminal, replays it with
every output checked and prints a summary with what migrate-check finds at the migration.`;

const DEMO = 'traces/demo/migration.vgt';

export async function demoCommand(argv: string[], io: Io): Promise<number> {
  parse('demo', argv, {});
  const trace = openTrace(join(packageRoot(), DEMO), io, { strict: true });
  if (interactive()) return openTui(DEMO, trace, io);
  const registry = defaultRegistry();
  const replay = replayAndCheck(trace, registry);
  const frames = Array.from({ length: trace.length }, (_, i) => trace.frame(i + 1));
  const mark = (name: string) => trace.marks.find((m) => m.name === name)?.position ?? 0;
  const cut = mark('before-migration');
  const check = migrateCheck(frames, registry, { vmm: 'qemu', quirks: [], at: [cut] });

  io.out(paint(io, 'bold', `vgicrr demo: ${DEMO} — an IPI lost in a live migration`));
  io.out(
    `${trace.length} events; marks ${trace.marks.map((m) => `${m.name} #${m.position}`).join(', ')}; host ${trace.header.host}, kernel quirks ${trace.header.quirks.join(',') || 'none'}`,
  );
  io.out(
    replay.divergence
      ? paint(io, 'red', `replay diverged at #${replay.divergence.position}`)
      : paint(io, 'green', `replayed ${replay.events} events: every output, effect and state hash identical`),
  );
  io.out('');
  io.out(`After the migration (#${mark('after-migration')}):`);
  for (let p = mark('after-migration') + 1; p < mark('lost'); p++) {
    const frame = trace.frame(p);
    const out = [outputText(frame.output), ...frame.effects.map(effectText)].filter(Boolean).join(' | ');
    io.out(
      `  ${paint(io, 'dim', `#${p}`)}  ${statementText(frame.event).padEnd(36)} ${paint(io, 'dim', out)}`,
    );
  }
  io.out('');
  const diverged = check.diverged[0];
  if (diverged) {
    io.out(`migrate-check at #${cut} (before-migration) finds:`);
    for (const d of diverged.diff) io.out(`  ${d.path}: source ${d.expected}, destination ${d.got}`);
    for (const r of diverged.responsible) io.out(`  likely: ${r}`);
  } else {
    io.out(paint(io, 'red', `migrate-check at #${cut} found nothing: the demo no longer shows the bug`));
  }
  io.out('');
  io.out(
    'In a terminal, `npm start` opens this trace in the time-travel UI; the README tour walks through it.',
  );
  return !replay.divergence && diverged ? 0 : 1;
}
