// Argument parsing for every subcommand, on node:util parseArgs, turning its errors into usage
// errors (exit 2) and positions (`#N`, `N` or a mark name) into numbers.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parse(command: string, argv: string[], options: Options): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed['values'], positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    throw new UsageError(`${command}: ${message.replace(/\. To specify.*$/, '')}`);
  }
}

/**
 * A position as users write it: `#1234`, `1234`, or a mark name (resolved by `marks`).
 * Returns the 1-based event position.
 */
export function parsePosition(text: string, marks: readonly { name: string; position: number }[]): number {
  const m = /^#?(\d+)$/.exec(text);
  if (m) return Number(m[1]);
  const mark = marks.find((k) => k.name === text);
  if (!mark) throw new UsageError(`no position or mark \`${text}\` (positions are written #N)`);
  return mark.position;
}
