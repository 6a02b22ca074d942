// `vgicrr info TRACE`: the header, event counts by type, marks, size, and any damage found.

import { statSync } from 'node:fs';
import { parse } from '../args.js';
import { type Io, paint } from '../io.js';
import { openTrace } from '../trace-input.js';
import { UsageError } from '../usage-error.js';

export const help = `Usage: vgicrr info TRACE [--json]

Prints a trace's header (format, producer, board, host, quirks), its size, event counts by
type, marks, and any damage (truncation, checksum failures) with byte offsets.`;

export function infoCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('info', argv, { json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('info takes one trace: vgicrr info TRACE');
  const path = positionals[0]!;
  const trace = openTrace(path, io, { strict: false });
  const counts: Record<string, number> = {};
  for (let c = 0; c < trace.chunks.length; c++) {
    for (const frame of trace.chunkFrames(c)) counts[frame.event.type] = (counts[frame.event.type] ?? 0) + 1;
  }
  const size = statSync(path).size;
  const h = trace.header;
  if (values.json) {
    io.out(
      JSON.stringify({
        trace: path,
        size,
        header: h,
        events: trace.length,
        chunks: trace.chunks.length,
        counts,
        marks: trace.marks,
        issues: trace.issues,
      }),
    );
    return 0;
  }
  io.out(paint(io, 'bold', path));
  io.out(`  format      v${h.format} (readers ≥ v${h.minReader}), produced by ${h.producer}`);
  const board = h.board
    ? `virt vcpus=${h.board.vcpus} nr_irqs=${h.board.nrIrqs} its=${h.board.its ? 'on' : 'off'} sdei=${h.board.sdei ? 'on' : 'off'} ipa_bits=${h.board.ipaBits}`
    : 'none (bare vm)';
  io.out(`  board       ${board}`);
  io.out(`  host        ${h.host}${h.quirks.length ? `, quirks ${h.quirks.join(',')}` : ''}`);
  io.out(
    `  size        ${size} bytes, ${trace.chunks.length} chunks, ${trace.length} events${trace.length ? ` (${(size / trace.length).toFixed(1)} bytes/event)` : ''}`,
  );
  io.out('  events by type');
  for (const [type, n] of Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    io.out(`    ${type.padEnd(14)} ${n}`);
  }
  io.out(
    `  marks       ${trace.marks.length ? trace.marks.map((m) => `${m.name} #${m.position}`).join(', ') : 'none'}`,
  );
  io.out(`  damage      ${trace.issues.length ? trace.issues.map((i) => i.message).join('; ') : 'none'}`);
  return 0;
}
