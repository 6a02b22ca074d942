// State paths: how the player, the diff, the change index and the TUI name a place in a
// MachineState. One format everywhere:
//
//   vms[0].vcpus[1].x[3]            array indexes and integer-like keys in brackets
//   vms[0].devices.gic.ctlr         identifier keys after a dot
//   vms[0].devices["odd key"]       any other key as a JSON string in brackets
//   vms[0].ram[0][3][24]            a guest RAM word: 2 MiB block, page in it, byte offset
//
// Integer-like keys are numbers in parsed paths, whether they index an array or a record
// (`ram` blocks and pages are keyed "3"; JS treats both the same), so `ram[3]` and
// `ram["3"]` are one path. Parsing also accepts hexadecimal indexes (`ram[0x1f]`);
// formatting always prints decimal, so a formatted path is canonical and comparable as a string.
//
// Below a byte array (a RAM page) a segment is a byte offset that must be a multiple of 8: the
// value there is the little-endian u64 at that offset. The diff and the change index work at
// that granularity, so "when did this word change" has an exact answer.

import { PAGES_PER_BLOCK } from '../engine/ram.js';
import { PAGE_SIZE, RAM_BASE } from '../engine/state.js';

/** One step of a path: an array index / integer-like key, or a property name. */
export type PathSegment = string | number;

/** Width of the RAM words that paths below a page name. */
export const WORD_BYTES = 8;

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const INTEGER_KEY = /^(?:0|[1-9][0-9]*)$/;

/** Thrown by `parsePath` with the offending column. */
export class PathSyntaxError extends Error {
  constructor(
    readonly path: string,
    readonly column: number,
    message: string,
  ) {
    super(`bad state path '${path}' at column ${column + 1}: ${message}`);
    this.name = 'PathSyntaxError';
  }
}

/** Integer-like string keys become numbers (they are the same JS property). */
export function normalizeSegment(segment: PathSegment): PathSegment {
  if (typeof segment === 'string' && INTEGER_KEY.test(segment) && segment.length <= 15)
    return Number(segment);
  return segment;
}

/** The canonical text of `segments` (`''` for the root). */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const raw of segments) {
    const segment = normalizeSegment(raw);
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENT.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Parses the format above; throws `PathSyntaxError`. `''` is the root. */
export function parsePath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let i = 0;
  while (i < path.length) {
    const ch = path[i];
    if (ch === '[') {
      const close = findClose(path, i);
      const inner = path.slice(i + 1, close);
      if (inner.startsWith('"')) {
        let key: unknown;
        try {
          key = JSON.parse(inner);
        } catch {
          throw new PathSyntaxError(path, i + 1, 'bad quoted key');
        }
        if (typeof key !== 'string') throw new PathSyntaxError(path, i + 1, 'bad quoted key');
        segments.push(normalizeSegment(key));
      } else if (/^0x[0-9a-fA-F]+$/.test(inner) || /^[0-9]+$/.test(inner)) {
        const n = Number(inner);
        if (!Number.isSafeInteger(n)) throw new PathSyntaxError(path, i + 1, 'index too large');
        segments.push(n);
      } else {
        throw new PathSyntaxError(path, i + 1, 'expected an index or a quoted key');
      }
      i = close + 1;
    } else {
      if (ch === '.') {
        if (segments.length === 0) throw new PathSyntaxError(path, i, 'path starts with a dot');
        i++;
      } else if (segments.length > 0) {
        throw new PathSyntaxError(path, i, "expected '.' or '['");
      }
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(path.slice(i));
      if (!m) throw new PathSyntaxError(path, i, 'expected a property name');
      segments.push(m[0]);
      i += m[0].length;
    }
  }
  return segments;
}

function findClose(path: string, open: number): number {
  let inString = false;
  for (let j = open + 1; j < path.length; j++) {
    const c = path[j];
    if (inString) {
      if (c === '\\') j++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === ']') {
      return j;
    }
  }
  throw new PathSyntaxError(path, open, "unclosed '['");
}

/** `path` as segments, parsing a string and normalizing an array. */
export function toSegments(path: string | readonly PathSegment[]): PathSegment[] {
  return typeof path === 'string' ? parsePath(path) : path.map(normalizeSegment);
}

/** The little-endian u64 (or shorter tail) at `offset` of `bytes`. */
export function readWord(bytes: Uint8Array, offset: number): bigint {
  let value = 0n;
  const end = Math.min(offset + WORD_BYTES, bytes.length);
  for (let i = end - 1; i >= offset; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}

/**
 * The value at `path` in `root`, or undefined when the path leads nowhere. Only own
 * enumerable properties and in-range array indexes are followed; below a byte array the
 * segment must be a word-aligned offset and the result is that word (`readWord`).
 */
export function valueAt(root: unknown, path: string | readonly PathSegment[]): unknown {
  const segments = typeof path === 'string' ? parsePath(path) : path;
  let value = root;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null) return undefined;
    if (value instanceof Uint8Array) {
      const offset = typeof segment === 'number' ? segment : Number.NaN;
      if (!Number.isInteger(offset) || offset % WORD_BYTES !== 0 || offset < 0 || offset >= value.length)
        return undefined;
      value = readWord(value, offset);
      continue;
    }
    if (Array.isArray(value)) {
      const index = typeof segment === 'number' ? segment : Number.NaN;
      if (!Number.isInteger(index) || index < 0 || index >= value.length) return undefined;
      value = value[index];
      continue;
    }
    const key = String(segment);
    if (!Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Orders segments: numbers numerically before strings, strings by code unit. */
export function compareSegments(a: PathSegment, b: PathSegment): number {
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Lexicographic order of paths by `compareSegments` (an ancestor sorts before its descendants). */
export function comparePaths(a: readonly PathSegment[], b: readonly PathSegment[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareSegments(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** True when `prefix` is `path` or one of its ancestors (segments already normalized). */
export function isPathPrefix(prefix: readonly PathSegment[], path: readonly PathSegment[]): boolean {
  if (prefix.length > path.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== path[i]) return false;
  return true;
}

/**
 * The guest-physical address a RAM path names (engine/ram.ts: block, page, byte offset, all
 * from RAM_BASE): `vms[i].ram[B]` the block's first byte, `vms[i].ram[B][P]` the page's,
 * `vms[i].ram[B][P][OFFSET]` that word's. Undefined for any other path.
 */
export function ramAddress(path: string | readonly PathSegment[]): bigint | undefined {
  const s = toSegments(path);
  if (s.length < 4 || s.length > 6 || s[0] !== 'vms' || typeof s[1] !== 'number' || s[2] !== 'ram')
    return undefined;
  const [block, page = 0, offset = 0] = s.slice(3);
  if (typeof block !== 'number' || typeof page !== 'number' || typeof offset !== 'number') return undefined;
  if (page < 0 || page >= PAGES_PER_BLOCK || offset < 0 || offset >= PAGE_SIZE) return undefined;
  return BigInt(RAM_BASE) + BigInt(block * PAGES_PER_BLOCK + page) * BigInt(PAGE_SIZE) + BigInt(offset);
}
