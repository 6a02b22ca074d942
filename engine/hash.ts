// Canonical state hashing: SHA-256 over a serialization with sorted object keys, tagged
// primitive types and the SHA-256 of each RAM page, so two paths to the same state (immer or
// in-place, any key insertion order) hash equal, and any observable difference hashes
// differently.

import { createHash } from 'node:crypto';
import type { MachineState } from './state.js';

function computeDigest(page: Uint8Array): string {
  return createHash('sha256').update(page).digest('hex');
}

// Digests are cached per page object: correct because a page is immutable once anyone else may
// hold it. Pages a WorkingCopy still owns (and may write in place) are passed as `mutable` and
// digested afresh each time.
const pageDigests = new WeakMap<Uint8Array, string>();

function pageDigest(page: Uint8Array, mutable: WeakSet<Uint8Array> | undefined): string {
  if (mutable?.has(page)) return computeDigest(page);
  let digest = pageDigests.get(page);
  if (digest === undefined) {
    digest = computeDigest(page);
    pageDigests.set(page, digest);
  }
  return digest;
}

function feed(out: string[], value: unknown, mutable: WeakSet<Uint8Array> | undefined): void {
  switch (typeof value) {
    case 'bigint':
      out.push(`n${value.toString(16)};`);
      return;
    case 'number':
      out.push(`d${value};`);
      return;
    case 'string':
      out.push(`s${value.length}:${value}`);
      return;
    case 'boolean':
      out.push(value ? 'T' : 'F');
      return;
    case 'undefined':
      out.push('u');
      return;
    default:
      break;
  }
  if (value === null) {
    out.push('z');
  } else if (value instanceof Uint8Array) {
    out.push(`b${pageDigest(value, mutable)}`);
  } else if (Array.isArray(value)) {
    out.push(`[${value.length}`);
    for (const item of value) feed(out, item, mutable);
    out.push(']');
  } else {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    out.push(`{${keys.length}`);
    for (const key of keys) {
      out.push(`k${key.length}:${key}`);
      feed(out, obj[key], mutable);
    }
    out.push('}');
  }
}

/**
 * Hex SHA-256 of the canonical form of `state` (first 16 hex digits are plenty to display).
 * `mutable`: pages that may still change in place (WorkingCopy's own), never cached.
 */
export function stateHash(state: MachineState, mutable?: WeakSet<Uint8Array>): string {
  // One update of the whole canonical text: node:crypto calls cost far more than joining.
  const out: string[] = [];
  feed(out, state, mutable);
  return createHash('sha256').update(out.join('')).digest('hex');
}
