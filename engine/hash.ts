// Canonical state hashing: SHA-256 over a serialization with sorted object keys, tagged
// primitive types and RAM bytes, so two paths to the same state (immer or in-place, any key
// insertion order) hash equal, and any observable difference hashes differently.

import { createHash, type Hash } from 'node:crypto';
import type { MachineState } from './state.js';

// Digests are cached per page object: correct because pages are immutable once shared. A
// WorkingCopy writes pages it owns in place, so hash its state only through WorkingCopy.hash().
const pageDigests = new WeakMap<Uint8Array, string>();

function pageDigest(page: Uint8Array): string {
  let digest = pageDigests.get(page);
  if (digest === undefined) {
    digest = createHash('sha256').update(page).digest('hex');
    pageDigests.set(page, digest);
  }
  return digest;
}

function feed(hash: Hash, value: unknown): void {
  switch (typeof value) {
    case 'bigint':
      hash.update(`n${value.toString(16)};`);
      return;
    case 'number':
      hash.update(`d${value};`);
      return;
    case 'string':
      hash.update(`s${value.length}:${value}`);
      return;
    case 'boolean':
      hash.update(value ? 'T' : 'F');
      return;
    case 'undefined':
      hash.update('u');
      return;
    default:
      break;
  }
  if (value === null) {
    hash.update('z');
  } else if (value instanceof Uint8Array) {
    hash.update(`b${pageDigest(value)}`);
  } else if (Array.isArray(value)) {
    hash.update(`[${value.length}`);
    for (const item of value) feed(hash, item);
    hash.update(']');
  } else {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    hash.update(`{${keys.length}`);
    for (const key of keys) {
      hash.update(`k${key.length}:${key}`);
      feed(hash, obj[key]);
    }
    hash.update('}');
  }
}

/** Hex SHA-256 of the canonical form of `state` (first 16 hex digits are plenty to display). */
export function stateHash(state: MachineState): string {
  const hash = createHash('sha256');
  feed(hash, state);
  return hash.digest('hex');
}
