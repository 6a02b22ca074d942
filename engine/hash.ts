// Canonical state hashing: SHA-256 over a serialization with sorted object keys, tagged
// primitive types and the SHA-256 of each RAM page, so two paths to the same state (immer or
// in-place, any key insertion order) hash equal, and any observable difference hashes
// differently.

import { createHash } from 'node:crypto';
import type { MachineState } from './state.js';

function computeDigest(page: Uint8Array): string {
  return createHash('sha256').update(page).digest('hex');
}

// Digests are cached per page object. A page is immutable once anyone else may hold it; the one
// exception, a page its working copy writes in place, is forgotten here right before each such
// write (PageOwnership.mayWrite), so a cached digest is always the page's current one.
const pageDigests = new WeakMap<Uint8Array, string>();

/** Called before `page` is written in place. */
export function forgetPageDigest(page: Uint8Array): void {
  pageDigests.delete(page);
}

function pageDigest(page: Uint8Array): string {
  let digest = pageDigests.get(page);
  if (digest === undefined) {
    digest = computeDigest(page);
    pageDigests.set(page, digest);
  }
  return digest;
}

function feed(out: string[], value: unknown): void {
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
    out.push(`b${pageDigest(value)}`);
  } else if (Array.isArray(value)) {
    out.push(`[${value.length}`);
    for (const item of value) feed(out, item);
    out.push(']');
  } else {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    out.push(`{${keys.length}`);
    for (const key of keys) {
      out.push(`k${key.length}:${key}`);
      feed(out, obj[key]);
    }
    out.push('}');
  }
}

/** Hex SHA-256 of the canonical form of `state` (first 16 hex digits are plenty to display). */
export function stateHash(state: MachineState): string {
  // One update of the whole canonical text: node:crypto calls cost far more than joining.
  const out: string[] = [];
  feed(out, state);
  return createHash('sha256').update(out.join('')).digest('hex');
}
