// Which files `vgicrr check` and the vitest helper check: every `.vgs` and `.vgt` under the given
// files and folders (folders walked recursively, in sorted order), and the deterministic CI
// split `--shard i/n`: the sorted list, file k (0-based) going to shard (k mod n) + 1.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from '../usage-error.js';
import { isCheckable } from './check-file.js';

/** Every checkable file under `paths`, sorted by path (code-unit order) and without duplicates. */
export function collectFiles(paths: readonly string[]): string[] {
  const found = new Set<string>();
  for (const path of paths) {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
    } catch {
      throw new InputError(`cannot read ${path}: no such file or folder`);
    }
    if (stat.isDirectory()) walk(path, found);
    else if (isCheckable(path)) found.add(path);
    else throw new InputError(`${path}: not a scenario (.vgs) or trace (.vgt)`);
  }
  return [...found].sort(byPath);
}

function walk(dir: string, found: Set<string>): void {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => byPath(a.name, b.name));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, found);
    else if (entry.isFile() && isCheckable(entry.name)) found.add(path);
  }
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface Shard {
  index: number;
  count: number;
}

/** `i/n` with 1 ≤ i ≤ n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count)
    throw new UsageError(`--shard takes i/n with 1 ≤ i ≤ n (e.g. 2/4), not \`${text}\``);
  return { index, count };
}

/** The files of shard `i/n` of a sorted list: positions k with k mod n = i − 1. */
export function shardFiles(files: readonly string[], shard: Shard): string[] {
  return files.filter((_f, k) => k % shard.count === shard.index - 1);
}
