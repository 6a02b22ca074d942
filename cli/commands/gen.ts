// `vgicrr gen --seed S --events N [--profile P] [--out FILE] [--vgs FILE]`: a seeded, realistic
// guest workload (scenario/gen/workload.ts) recorded as a trace. The same seed and options give
// the same bytes (docs/gen.md).

import { writeFileSync } from 'node:fs';
import { defaultRegistry } from '../../replay/machine.js';
import { createRecorder, fileSink } from '../../replay/recorder.js';
import { generateWorkload, PROFILES, type Profile, planBoard } from '../../scenario/gen/workload.js';
import { parse } from '../args.js';
import type { Io } from '../io.js';
import { UsageError } from '../usage-error.js';
import { version } from '../version.js';

export const help = `Usage: vgicrr gen --seed S --events N [--profile PROFILE] [--host gicv3|gicv4.1]
                 [--out FILE.vgt] [--vgs FILE.vgs] [--json]

Generates a seeded guest workload and records it as a trace: a Linux-like bring-up of the
vGICv3 (distributor, redistributors, CPU interfaces, nASSGIreq on a GICv4.1 host) and of the
ITS (tables, a collection per online CPU, devices with their event-to-LPI maps), secondary CPUs
coming online, then the profile's mix until about N events ran. The guest reacts to what the
machine answers (it completes the INTID an acknowledge returned, quiesces the level line it
handles, runs an SDEI handler's body when one was dispatched). The seed is stored in the trace
header; the same seed and options always give the same bytes.

Profiles:
  linux-boot     (default) a bit of everything: device SPIs, timer PPIs, IPIs, MSIs, ITS
                 remaps, device unplug/replug, LPI re-init with PTZ, MOVALL, DISCARD, an ITS
                 re-init, late CPUs, SDEI, VMM stops
  irq-storm      SPI edge/level storms, IPIs (direct vSGIs on a GICv4.1 host), priority masking
  msi-storm      MSIs from many devices, MOVI/MOVALL/DISCARD, unplug/replug, snapshots
  sdei           SDEI registration, signals (self and cross-CPU), handlers, resets
  migration-mix  the mix with in-trace \`migrate\` statements (several VMMs, in-flight MSIs)

Options:
  --seed S        the seed (a 32-bit unsigned integer; required)
  --events N      about N events (required): no new action starts after N
  --profile P     one of the profiles above (default linux-boot)
  --host H        force the host (default: the profile and seed choose)
  --out FILE      the trace (default gen-PROFILE-SEED.vgt)
  --vgs FILE      also write the generated scenario statements (before expansion)
  --json          print a summary as one JSON object

Exit status: 0 written, 2 usage error.`;

export function parseSeed(text: string | undefined, option: string): number {
  if (text === undefined) throw new UsageError(`gen: ${option} is required`);
  const n = Number(text);
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text) || !Number.isSafeInteger(n) || n < 0 || n > 0xffff_ffff)
    throw new UsageError(`${option} takes an unsigned 32-bit integer, not \`${text}\``);
  return n;
}

export function parseProfile(text: string | undefined): Profile {
  const p = text ?? 'linux-boot';
  if (!(PROFILES as readonly string[]).includes(p))
    throw new UsageError(`unknown profile \`${p}\` (${PROFILES.join(', ')})`);
  return p as Profile;
}

export function genCommand(argv: string[], io: Io): number {
  const { values, positionals } = parse('gen', argv, {
    seed: { type: 'string' },
    events: { type: 'string' },
    profile: { type: 'string' },
    host: { type: 'string' },
    out: { type: 'string' },
    vgs: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError('gen takes no positional arguments');
  const seed = parseSeed(values.seed as string | undefined, '--seed');
  const eventsText = values.events as string | undefined;
  if (eventsText === undefined) throw new UsageError('gen: --events is required');
  const events = Number(eventsText);
  if (!/^\d+$/.test(eventsText) || !Number.isSafeInteger(events) || events < 1)
    throw new UsageError('--events takes a positive number of events');
  const profile = parseProfile(values.profile as string | undefined);
  const hostText = values.host as string | undefined;
  if (hostText !== undefined && hostText !== 'gicv3' && hostText !== 'gicv4.1')
    throw new UsageError('--host takes gicv3 or gicv4.1');
  const host = hostText as 'gicv3' | 'gicv4.1' | undefined;
  const out = (values.out as string | undefined) ?? `gen-${profile}-${seed}.vgt`;
  const base = { seed, events, profile, producer: `vgicrr ${version()}`, ...(host ? { host } : {}) };
  const sink = fileSink(out);
  const recorder = createRecorder(sink, planBoard(base).header);
  let result: ReturnType<typeof generateWorkload>;
  try {
    result = generateWorkload({
      ...base,
      registry: defaultRegistry(),
      onFrame: recorder.onFrame,
      keepLog: false,
    });
  } finally {
    recorder.finish();
    sink.close();
  }
  const vgs = values.vgs as string | undefined;
  if (vgs)
    writeFileSync(
      vgs,
      `# vgicrr gen --seed ${seed} --events ${events} --profile ${profile}${host ? ` --host ${host}` : ''}\n${result.statements.join('\n')}\n`,
    );
  if (values.json) {
    io.out(
      JSON.stringify({
        seed,
        profile,
        host: result.header.host,
        vcpus: result.header.board?.vcpus ?? null,
        events: result.events,
        statements: result.statements.length,
        trace: out,
        vgs: vgs ?? null,
      }),
    );
    return 0;
  }
  io.out(
    `generated ${result.events} events (${result.statements.length} statements, profile ${profile}, seed ${seed}, host ${result.header.host}) to ${out}`,
  );
  return 0;
}
