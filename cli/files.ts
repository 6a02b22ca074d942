// Reading inputs for the CLI: scenario sources and trace files, with read errors turned into
// input errors (exit 2) that name the file.

import { readFileSync } from 'node:fs';
import { InputError } from './usage-error.js';

export function readInput(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? 'unreadable');
    throw new InputError(`cannot read ${path}: ${why}`);
  }
}
