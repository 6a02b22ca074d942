// Runs the CLI in-process with captured output, as a user would see it (no colour, no TTY).

import type { Io } from '../../cli/io.js';
import { main } from '../../cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    out: (t) => {
      stdout += t.endsWith('\n') ? t : `${t}\n`;
    },
    err: (t) => {
      stderr += t.endsWith('\n') ? t : `${t}\n`;
    },
    color: false,
    progress: () => {},
    progressDone: () => {},
    flush: () => {},
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
