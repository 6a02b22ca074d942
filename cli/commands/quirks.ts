// `vgicrr quirks`: every quirk a scenario can name, by side, with its description and reference.

import { QUIRKS } from '../../devices/quirks.js';
import { parse } from '../args.js';
import { type Io, paint } from '../io.js';

export const help = `Usage: vgicrr quirks [--json]

Lists the quirks: known wrong or older behaviours a scenario can switch on to reproduce a bug.
Kernel quirks are given on \`board\`/\`vm\` (quirks=a,b), VMM quirks on \`migrate\`.

Options:
  --json    one JSON array of {name, side, area, description, reference}`;

export function quirksCommand(argv: string[], io: Io): number {
  const { values } = parse('quirks', argv, { json: { type: 'boolean' } });
  if (values.json) {
    io.out(JSON.stringify(QUIRKS, null, 2));
    return 0;
  }
  for (const side of ['kernel', 'vmm'] as const) {
    io.out(
      paint(
        io,
        'bold',
        side === 'kernel' ? 'Kernel quirks (board/vm quirks=…)' : 'VMM quirks (migrate quirks=…)',
      ),
    );
    const width = Math.max(...QUIRKS.map((q) => q.name.length));
    for (const q of QUIRKS.filter((x) => x.side === side)) {
      io.out(`  ${q.name.padEnd(width)}  ${q.description}`);
      io.out(`  ${' '.repeat(width)}  ${paint(io, 'dim', q.reference)}`);
    }
  }
  return 0;
}
