// The `vgicrr` command: subcommand dispatch, --help and --version everywhere, and the exit
// status contract: 0 ok, 1 a check failed, 2 usage or input error (70 for an internal error).

import { TraceError } from '../replay/trace-error.js';
import { ScenarioError } from '../scenario/ast.js';
import { bisectCommand, help as bisectHelp } from './commands/bisect.js';
import { checkCommand, help as checkHelp } from './commands/check.js';
import { demoCommand, help as demoHelp } from './commands/demo.js';
import { dumpCommand, help as dumpHelp } from './commands/dump.js';
import { fuzzCommand, help as fuzzHelp } from './commands/fuzz.js';
import { genCommand, help as genHelp } from './commands/gen.js';
import { infoCommand, help as infoHelp } from './commands/info.js';
import { migrateCheckCommand, help as migrateCheckHelp } from './commands/migrate-check.js';
import { minimizeCommand, help as minimizeHelp } from './commands/minimize.js';
import { quirksCommand, help as quirksHelp } from './commands/quirks.js';
import { replayCommand, help as replayHelp } from './commands/replay.js';
import { runCommand, help as runHelp } from './commands/run.js';
import { stateCommand, help as stateHelp } from './commands/state.js';
import { tuiCommand, help as tuiHelp } from './commands/tui.js';
import { type Io, processIo } from './io.js';
import { InputError, UsageError } from './usage-error.js';
import { version } from './version.js';

interface Command {
  summary: string;
  help: string;
  run(argv: string[], io: Io): number | Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  run: {
    summary: 'run a .vgs scenario, check its expectations, optionally record a trace',
    help: runHelp,
    run: runCommand,
  },
  replay: {
    summary: 're-execute a trace and check every recorded output',
    help: replayHelp,
    run: replayCommand,
  },
  info: { summary: 'header, event counts, marks and size of a trace', help: infoHelp, run: infoCommand },
  dump: { summary: 'print a trace as scenario statements or JSON lines', help: dumpHelp, run: dumpCommand },
  state: {
    summary: 'machine state (vCPUs, vGIC, interrupt table) at any position of a trace or scenario',
    help: stateHelp,
    run: stateCommand,
  },
  tui: {
    summary: 'time-travel debugger in the terminal on a trace or scenario (a summary without a terminal)',
    help: tuiHelp,
    run: tuiCommand,
  },
  'migrate-check': {
    summary: 'checkpoint-migrate a trace at every cut and report where the destination diverges',
    help: migrateCheckHelp,
    run: migrateCheckCommand,
  },
  check: {
    summary: 'check a corpus: run every .vgs and replay every .vgt under the given paths, in parallel',
    help: checkHelp,
    run: checkCommand,
  },
  gen: {
    summary: 'generate a seeded, realistic guest workload as a trace (same seed, same bytes)',
    help: genHelp,
    run: genCommand,
  },
  fuzz: {
    summary: 'chaos runs: generate seeded workloads, migrate-check them, keep each failing case',
    help: fuzzHelp,
    run: fuzzCommand,
  },
  bisect: {
    summary: 'the first position where a condition over the state holds',
    help: bisectHelp,
    run: bisectCommand,
  },
  minimize: {
    summary: 'shrink a failing trace to a small one that still fails (delta debugging)',
    help: minimizeHelp,
    run: minimizeCommand,
  },
  quirks: {
    summary: 'list the kernel and VMM quirks scenarios can switch on',
    help: quirksHelp,
    run: quirksCommand,
  },
  demo: {
    summary: 'the bundled demo in the terminal UI, or its summary without a terminal (`npm start`)',
    help: demoHelp,
    run: demoCommand,
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `vgicrr ${version()}: deterministic record/replay of arm64 KVM interrupt virtualization

Usage: vgicrr COMMAND [options]

Commands:
${lines.join('\n')}

Options:
  -h, --help     show help (also: vgicrr COMMAND --help)
  -V, --version  print the version

Positions are event numbers written #N (#1 is the first event); a mark name works too.
Exit status: 0 ok, 1 a check failed (expectation, divergence), 2 usage or input error.
NO_COLOR disables colour.`;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  try {
    return await dispatch(argv, io);
  } finally {
    io.flush();
  }
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
      const topic = name === 'help' ? rest[0] : undefined;
      io.out(topic && COMMANDS[topic] ? COMMANDS[topic].help : usage());
      return 0;
    }
    if (name === '-V' || name === '--version') {
      io.out(`vgicrr ${version()}`);
      return 0;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command \`${name}\``);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(command.help);
      return 0;
    }
    if (rest.includes('--version') || rest.includes('-V')) {
      io.out(`vgicrr ${version()}`);
      return 0;
    }
    return await command.run(rest, io);
  } catch (error) {
    io.progressDone();
    io.flush();
    if (error instanceof UsageError) {
      io.err(`vgicrr: ${error.message}\nTry 'vgicrr --help'.`);
      return 2;
    }
    if (error instanceof ScenarioError) {
      io.err(error.message);
      return 2;
    }
    if (error instanceof InputError || error instanceof TraceError) {
      io.err(`vgicrr: ${error.message}`);
      return 2;
    }
    io.err(
      `vgicrr: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return 70;
  }
}
