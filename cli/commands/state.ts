// `vgicrr state TRACE|SCENARIO [--at #N|MARK]`: the machine state at one position of a trace,
// through the state view (replay/state-view.ts) the terminal UI shares. A scenario is run in
// memory first, recorded and read back, so both inputs go through the same player.

import { Player } from '../../replay/player.js';
import { stateText } from '../../replay/state-text.js';
import { stateView, viewJsonReplacer } from '../../replay/state-view.js';
import { statementText } from '../../replay/statement-text.js';
import { parse, parsePosition } from '../args.js';
import { type Io, paint } from '../io.js';
import { loadTraceOrScenario } from '../trace-input.js';
import { UsageError } from '../usage-error.js';

export const help = `Usage: vgicrr state TRACE|FILE.vgs [--at #N|MARK] [--all] [--vcpu K] [--width N] [--json]

Prints the machine state after an event: per VM its host and quirks, each vCPU (MPIDR, run
state, pc, pstate, non-zero x registers), the guest RAM in use and, with a vGICv3, the
distributor, an interrupt table and each vCPU's redistributor and CPU interface; with an ITS,
its registers and queue pointers, devices (ITT address and size) with their ITEs, and
collections with their targets, and every LPI as a row of the interrupt table. A .vgs file
is run in memory first (a failed expectation is a warning here, not an error).

Interrupt table flags (as Linux vgic-debug.c): P pending, L line level, A active, E enabled,
H hw (GICv4.1 vSGI), C level-sensitive (else edge), G group 1 (else 0); then the priority,
the vCPU the interrupt targets and, for SPIs, the GICD_IROUTER affinity Aff2.Aff1.Aff0.

Options:
  --at #N|MARK  the state after event #N or after a mark (default: the end; #0 is before
                the first event)
  --all         list every interrupt, not only those whose state differs from reset
  --vcpu K      only vCPU K (its registers, redistributor and banked interrupts; SPIs stay)
  --width N     fill lines up to N columns (default 80)
  --json        print the view as one JSON object (64-bit values as hex strings)

Exit status: 0 shown, 2 usage error, unreadable trace or scenario that cannot run.`;

function positiveInt(value: string | boolean | undefined, name: string, min: number): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw new UsageError(`state: ${name} takes a whole number ≥ ${min}, not \`${value}\``);
  return Number(value);
}

export function stateCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('state', argv, {
    at: { type: 'string' },
    all: { type: 'boolean' },
    vcpu: { type: 'string' },
    width: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1)
    throw new UsageError('state takes one trace or scenario: vgicrr state TRACE|FILE.vgs');
  const vcpu = positiveInt(values.vcpu, '--vcpu', 0);
  const width = positiveInt(values.width, '--width', 40) ?? 80;
  const path = positionals[0]!;
  const trace = loadTraceOrScenario(path, io);
  const position = typeof values.at === 'string' ? parsePosition(values.at, trace.marks) : trace.length;
  if (position > trace.length)
    throw new UsageError(`state: #${position} is outside the trace (#0–#${trace.length})`);
  const player = Player.open(trace);
  player.seek(position);
  const all = Boolean(values.all);
  const view = stateView(player.state, { all, vcpu });
  const statement = position > 0 ? statementText(trace.frame(position).event) : null;
  const marks = trace.marks.filter((m) => m.position === position).map((m) => m.name);
  if (values.json) {
    io.out(
      JSON.stringify(
        { source: path, position, length: trace.length, statement, marks, view },
        viewJsonReplacer,
      ),
    );
    return 0;
  }
  const after = statement === null ? 'before the first event' : `after \`${statement}\``;
  io.out(paint(io, 'bold', `${path} at #${position} of ${trace.length}, ${after}`));
  for (const line of stateText(view, { width, all })) io.out(line);
  return 0;
}
