// What `vgicrr tui` prints instead of opening the terminal UI when there is no terminal (stdout
// not a TTY, or CI set): one screen about the trace: header, length, marks, whether a checked
// replay diverges, and the last few events. Pure: trace in, lines out.

import type { ReplayReport } from '../replay/replay-check.js';
import { effectText, outputText, statementText } from '../replay/statement-text.js';
import type { LoadedTrace } from '../replay/trace-reader.js';

export function summaryLines(source: string, trace: LoadedTrace, replay: ReplayReport): string[] {
  const h = trace.header;
  const board = h.board
    ? `virt vcpus=${h.board.vcpus} nr_irqs=${h.board.nrIrqs} its=${h.board.its ? 'on' : 'off'} sdei=${h.board.sdei ? 'on' : 'off'}`
    : 'none (bare vm)';
  const lines = [
    `vgicrr tui: ${source} (no terminal: summary only; run in a terminal for the interactive UI)`,
    `  events      ${trace.length} in ${trace.chunks.length} chunk(s), format v${h.format}, produced by ${h.producer}`,
    `  board       ${board}`,
    `  host        ${h.host}${h.quirks.length ? `, quirks ${h.quirks.join(',')}` : ''}`,
    `  marks       ${trace.marks.length ? trace.marks.map((m) => `${m.name} #${m.position}`).join(', ') : 'none'}`,
    `  damage      ${trace.issues.length ? trace.issues.map((i) => i.message).join('; ') : 'none'}`,
    replay.divergence
      ? `  divergence  #${replay.divergence.position} (${replay.divergence.kind}) \`${replay.divergence.statement}\`: recorded ${replay.divergence.recorded}, replayed ${replay.divergence.replayed}`
      : `  divergence  none (${replay.events} events replayed, every output, effect and state hash identical)`,
  ];
  const tail = Math.min(trace.length, 8);
  if (tail > 0) {
    lines.push(`  last ${tail} events`);
    const width = String(trace.length).length + 1;
    for (let p = trace.length - tail + 1; p <= trace.length; p++) {
      const frame = trace.frame(p);
      const out = [outputText(frame.output), ...frame.effects.map(effectText)].filter(Boolean).join(' | ');
      lines.push(`    ${`#${p}`.padStart(width)}  ${statementText(frame.event)}${out ? `  → ${out}` : ''}`);
    }
  }
  return lines;
}
