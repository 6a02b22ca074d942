// Trace format v1, the schema half (traces/FORMAT.md is the prose; this is the authority): the
// version numbers, the byte-layout constants, the ONE place msgpackr and deflate options are
// pinned, the event/output/effect schema (type codes, field lists, field kinds), the header
// types, and the header validator. The frame codec (trace-codec.ts), the writer and the reader
// all take their constants from here.
//
// Change rules (traces/FORMAT.md "Change rules"; rr: "update TRACE_VERSION when you update this"):
// - Any change to EVENT_SCHEMA, OUTPUT_SCHEMA, EFFECT_SCHEMA, FIELD_KINDS, LIMITS, LAYOUT or
//   MSGPACKR_OPTIONS bumps FORMAT_VERSION and updates test/replay/trace-schema.snapshot.json
//   (the snapshot test fails until both are done).
// - A backward-compatible addition (a new event type with a new code) keeps MIN_READER_VERSION;
//   anything an older reader would decode wrongly (a changed field list or kind, a reused code, a
//   layout or option change) sets MIN_READER_VERSION = FORMAT_VERSION.
// - Codes are never reused or renumbered; a retired event type keeps its code reserved.

import { createHash } from 'node:crypto';
import { Packr, Unpackr } from 'msgpackr';
import { QUIRKS } from '../devices/quirks.js';
import type { EventOf, EventType, HostKind } from '../engine/events.js';
import { TraceError } from './trace-error.js';

/** The format this build writes. */
export const FORMAT_VERSION = 2;
/** The oldest reader that can read what this build writes. */
export const MIN_READER_VERSION = 1;
/** The newest format version whose files this build's reader understands fully. */
export const READER_VERSION = 2;

/**
 * Byte layout (all integers little-endian). Offsets are relative to the start of each block.
 * Every byte of a file is covered by a magic or a CRC-32 (zlib `crc32`, the ISO-HDLC CRC).
 */
export const LAYOUT = {
  byteOrder: 'little-endian',
  crc: 'crc32 (ISO-HDLC, as zlib/node:zlib crc32)',
  /** 8 bytes: 0x89 'V' 'G' 'T' CR LF 0x1A LF (PNG-style: catches 7-bit and newline mangling). */
  magic: '895647540d0a1a0a',
  /** magic[8] formatVersion:u16 minReader:u16 headerLength:u32 | body[headerLength] | crc:u32 */
  prefixBytes: 16,
  headerCrc: 'crc32 of bytes 8 .. 16+headerLength (versions, length and body)',
  chunkTag: 'VGCK',
  /**
   * tag[4] first:u32 count:u32 storedLength:u32 rawLength:u32 hashLength:u16 reserved:u16(0)
   * bodyCrc:u32 frameCrc:u32 | hash[hashLength] (ASCII hex) | payload[storedLength]
   */
  chunkFrameBytes: 32,
  chunkFrameCrc: 'crc32 of frame bytes 0..28 (tag, positions, lengths, bodyCrc)',
  chunkBodyCrc: 'crc32 of hash bytes + stored payload',
  indexTag: 'VGIX',
  /** tag[4] bodyLength:u32 | body[bodyLength] (msgpack map) | crc:u32 over tag, length and body */
  indexFrameBytes: 8,
  trailerTag: 'VGTR',
  /** tag[4] indexOffset:u64 indexLength:u32 crc:u32 over bytes 0..16; always the last 20 bytes */
  trailerBytes: 20,
} as const;

const ascii = (tag: string): Uint8Array => Uint8Array.from(tag, (ch) => ch.charCodeAt(0));
/** The block tags as bytes. */
export const CHUNK_TAG: Uint8Array = ascii(LAYOUT.chunkTag);
export const INDEX_TAG: Uint8Array = ascii(LAYOUT.indexTag);
export const TRAILER_TAG: Uint8Array = ascii(LAYOUT.trailerTag);

/** The 8 magic bytes. */
export const MAGIC: Uint8Array = Uint8Array.from([0x89, 0x56, 0x47, 0x54, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Size limits the reader enforces on untrusted input (and the writer on what it writes). */
export const LIMITS = {
  headerBytes: 1 << 20,
  chunkBytes: 64 << 20,
  indexBytes: 64 << 20,
  chunkEvents: 1 << 20,
  /** Events in one file: positions are u32 in the chunk frame. */
  events: 0xffff_ffff,
  string: 4096,
  producer: 256,
  seedString: 256,
  hashChars: 128,
  quirks: 64,
  effects: 256,
  effectFields: 32,
  effectType: 128,
  effectKey: 64,
  bigBytes: 256,
} as const;

/** Default events per chunk (the writer's `chunkEvents`). */
export const DEFAULT_CHUNK_EVENTS = 4096;

/**
 * msgpackr options, pinned: written into every header and compared by the reader. No records,
 * no structures, no extensions, so every chunk decodes with fresh state and nothing but plain
 * msgpack. A bigint always packs as int64/uint64 and unpacks as a bigint; a number packs as the
 * smallest int (within int32/uint32) or float64 and unpacks as a number. The codec relies on
 * that to keep bigint and number apart in effects.
 */
export const MSGPACKR_OPTIONS = Object.freeze({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
  sequential: false,
  variableMapSize: false,
  useFloat32: 0,
  int64AsType: 'bigint',
  largeBigIntToFloat: false,
  largeBigIntToString: false,
  useBigIntExtension: false,
  encodeUndefinedAsNil: false,
  copyBuffers: false,
} as const);

export type PinnedMsgpackrOptions = typeof MSGPACKR_OPTIONS;

/**
 * Chunk payload compression (`zlib.deflateRawSync` options; readers only need raw inflate, so
 * these are not part of the format). memLevel 9 deflates trace payloads about 10% faster than 8,
 * and no bigger.
 */
export const DEFLATE_OPTIONS = Object.freeze({ level: 1, windowBits: 15, memLevel: 9, strategy: 0 });
export const COMPRESSION = 'deflate-raw';

/** A packer with the pinned options (fresh per chunk: no state crosses chunk boundaries). */
export function newPackr(): Packr {
  return new Packr({ ...MSGPACKR_OPTIONS });
}

/** An unpacker with the pinned options (fresh per chunk). */
export function newUnpackr(): Unpackr {
  return new Unpackr({ ...MSGPACKR_OPTIONS });
}

/**
 * How each field kind travels in msgpack. Range checks are the reader's validation rules; the
 * writer applies the same ones.
 */
export const FIELD_KINDS = {
  u8: 'uint 0..255',
  u16: 'uint 0..65535',
  u32: 'uint 0..2^32-1',
  i32: 'int -2^31..2^31-1',
  bool: 'bool',
  size: 'uint, one of 1 2 4 8',
  host: "str 'gicv3' | 'gicv4.1'",
  dev: "str 'gic' | 'its'",
  'irq-kind': "str 'spi' | 'ppi'",
  str: 'str of at most 4096 UTF-16 units',
  'kernel-quirks': 'array (at most 64) of kernel quirk names (devices/quirks.ts)',
  b64: 'bigint -2^63..2^64-1: int32/uint32 values as the smallest msgpack int, others as int64/uint64',
  'b64?': 'nil, or b64',
  b2048: 'b64, or a bigint 2^64..2^2048-1 as bin: big-endian, 9..256 bytes, no leading zero byte',
  'b64-list6': 'uint count 6, then 6 b64 values',
  'b64-list4': 'uint count 4, then 4 b64 values',
} as const;

export type FieldKind = keyof typeof FIELD_KINDS;

type FieldsOf<T extends EventType> = Exclude<keyof EventOf<T>, 'type'>;
type FieldList<T extends EventType> = readonly (readonly [FieldsOf<T>, FieldKind])[];

/**
 * The events: stable type code and the fields in the order they travel. Codes are never reused.
 * Adding a field to an event in engine/events.ts without adding it here is a compile error
 * (see `_everyFieldListed`).
 */
const EVENTS = {
  'vm.create': {
    code: 0,
    fields: [
      ['host', 'host'],
      ['quirks', 'kernel-quirks'],
      ['ipaBits', 'u8'],
      ['sdei', 'bool'],
    ],
  },
  'vcpu.create': { code: 1, fields: [['vcpu', 'u32']] },
  'device.create': { code: 2, fields: [['kind', 'str']] },
  'attr.set': {
    code: 3,
    fields: [
      ['dev', 'dev'],
      ['group', 'u32'],
      ['attr', 'b64'],
      ['value', 'b64?'],
    ],
  },
  'attr.get': {
    code: 4,
    fields: [
      ['dev', 'dev'],
      ['group', 'u32'],
      ['attr', 'b64'],
      ['preset', 'b64?'],
    ],
  },
  'attr.has': {
    code: 5,
    fields: [
      ['dev', 'dev'],
      ['group', 'u32'],
      ['attr', 'b64'],
    ],
  },
  'irq.line': {
    code: 6,
    fields: [
      ['kind', 'irq-kind'],
      ['vcpu', 'u32'],
      ['intid', 'u32'],
      ['level', 'u32'],
    ],
  },
  'msi.signal': {
    code: 7,
    fields: [
      ['devid', 'u32'],
      ['eventid', 'u32'],
    ],
  },
  'reg.get': {
    code: 8,
    fields: [
      ['vcpu', 'u32'],
      ['reg', 'b64'],
    ],
  },
  'reg.set': {
    code: 9,
    fields: [
      ['vcpu', 'u32'],
      ['reg', 'b64'],
      ['value', 'b2048'],
    ],
  },
  'vcpu.run': { code: 10, fields: [['vcpu', 'u32']] },
  'vcpu.reset': { code: 11, fields: [['vcpu', 'u32']] },
  'sdei.inject': {
    code: 12,
    fields: [
      ['vcpu', 'u32'],
      ['event', 'b64'],
    ],
  },
  'vm.stop': { code: 13, fields: [] },
  'vm.cont': { code: 14, fields: [] },
  'guest.read': {
    code: 15,
    fields: [
      ['vcpu', 'u32'],
      ['addr', 'b64'],
      ['size', 'size'],
    ],
  },
  'guest.write': {
    code: 16,
    fields: [
      ['vcpu', 'u32'],
      ['addr', 'b64'],
      ['value', 'b64'],
      ['size', 'size'],
    ],
  },
  'guest.mrs': {
    code: 17,
    fields: [
      ['vcpu', 'u32'],
      ['sysreg', 'u16'],
    ],
  },
  'guest.msr': {
    code: 18,
    fields: [
      ['vcpu', 'u32'],
      ['sysreg', 'u16'],
      ['value', 'b64'],
    ],
  },
  'guest.hvc': {
    code: 19,
    fields: [
      ['vcpu', 'u32'],
      ['args', 'b64-list6'],
    ],
  },
  'guest.reg': {
    code: 20,
    fields: [
      ['vcpu', 'u32'],
      ['reg', 'u8'],
    ],
  },
  'mem.read': {
    code: 21,
    fields: [
      ['addr', 'b64'],
      ['size', 'size'],
    ],
  },
  'mem.write': {
    code: 22,
    fields: [
      ['addr', 'b64'],
      ['value', 'b64'],
      ['size', 'size'],
    ],
  },
  'trace.mark': { code: 23, fields: [['name', 'str']] },
  'trace.note': { code: 24, fields: [['text', 'str']] },
  // Format 2: the primitive statements of a checkpoint migration.
  'vm.select': { code: 25, fields: [['vm', 'u32']] },
  'ram.transfer': {
    code: 26,
    fields: [
      ['from', 'u32'],
      ['to', 'u32'],
    ],
  },
  'migrate.begin': {
    code: 27,
    fields: [
      ['vmm', 'str'],
      ['quirks', 'str'],
    ],
  },
  'migrate.end': { code: 28, fields: [] },
} as const satisfies { [T in EventType]: { code: number; fields: FieldList<T> } };

// Compile-time completeness: every field of every event type is listed above.
type Listed<T extends EventType> = (typeof EVENTS)[T]['fields'][number][0];
type Unlisted = { [T in EventType]: Exclude<FieldsOf<T>, Listed<T>> }[EventType];
const _everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
void _everyFieldListed;

export interface EventSchemaEntry {
  code: number;
  type: EventType;
  fields: readonly (readonly [name: string, kind: FieldKind])[];
}

/** The event schema by code (index = code). */
export const EVENT_SCHEMA: readonly EventSchemaEntry[] = (() => {
  const entries = (Object.keys(EVENTS) as EventType[]).map(
    (type): EventSchemaEntry => ({ code: EVENTS[type].code, type, fields: EVENTS[type].fields }),
  );
  entries.sort((a, b) => a.code - b.code);
  entries.forEach((entry, i) => {
    if (entry.code !== i) throw new Error(`trace schema: event codes must be dense from 0 (${entry.type})`);
  });
  return Object.freeze(entries);
})();

/** Event type → schema entry. */
export const EVENT_BY_TYPE: ReadonlyMap<string, EventSchemaEntry> = new Map(
  EVENT_SCHEMA.map((e) => [e.type, e]),
);

/** Output fields: presence bit in the output mask, name, kind. Present fields follow the mask. */
export const OUTPUT_SCHEMA = [
  [1, 'rc', 'i32'],
  [2, 'value', 'b2048'],
  [4, 'x', 'b64-list4'],
] as const satisfies readonly (readonly [number, 'rc' | 'value' | 'x', FieldKind])[];

/** Effects: free-form typed records, validated by shape rather than by a per-type schema. */
export const EFFECT_SCHEMA = {
  encoding: 'str type, uint fieldCount, then fieldCount (str key, value) pairs in insertion order',
  values:
    'str (at most 4096 units) | bool | number (finite: int32/uint32 as int, else float64) | b64 as int64/uint64',
  maxEffects: LIMITS.effects,
  maxFields: LIMITS.effectFields,
  maxTypeLength: LIMITS.effectType,
  maxKeyLength: LIMITS.effectKey,
  forbiddenKeys: ['type', '__proto__', 'constructor', 'prototype'],
} as const;

/** What a chunk payload is, before compression. */
export const FRAME_LAYOUT =
  'one msgpack array per frame, concatenated in position order (no enclosing array): event code, ' +
  'event fields (schema order), output mask, present output fields (output schema order), ' +
  'effect count, effects (effect encoding)';

/** The schema as it is written into every header: plain data, deterministic key order. */
export const TRACE_SCHEMA = Object.freeze({
  frame: FRAME_LAYOUT,
  kinds: FIELD_KINDS,
  events: EVENT_SCHEMA.map((e) => [e.code, e.type, e.fields.map(([n, k]) => [n, k])]),
  output: OUTPUT_SCHEMA.map((o) => [...o]),
  effect: EFFECT_SCHEMA,
});

export type TraceSchema = typeof TRACE_SCHEMA;

/** Canonical JSON of plain data (sorted keys); throws TraceError on anything else. */
export function canonicalJson(value: unknown, offset = 0, depth = 0): string {
  if (depth > 16) throw new TraceError('INVALID_RECORD', offset, 'header value nested too deeply');
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new TraceError('INVALID_RECORD', offset, 'non-finite number in header');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, offset, depth + 1)).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k], offset, depth + 1)}`).join(',')}}`;
  }
  throw new TraceError('INVALID_RECORD', offset, `unexpected ${typeof value} in header`);
}

/** SHA-256 (hex) of the canonical JSON of the schema; written into every header. */
export const SCHEMA_HASH: string = createHash('sha256').update(canonicalJson(TRACE_SCHEMA)).digest('hex');

/**
 * Everything whose change needs a version bump, as one value: the snapshot test compares it
 * with test/replay/trace-schema.snapshot.json.
 */
export const FORMAT_DESCRIPTION = Object.freeze({
  formatVersion: FORMAT_VERSION,
  minReader: MIN_READER_VERSION,
  layout: LAYOUT,
  limits: LIMITS,
  msgpackr: MSGPACKR_OPTIONS,
  compression: COMPRESSION,
  schema: TRACE_SCHEMA,
});

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// ---- header ----------------------------------------------------------------------------------

/** The `board` statement a trace was recorded from (null for a bare `vm`). */
export interface TraceBoard {
  machine: 'virt';
  vcpus: number;
  nrIrqs: number;
  its: boolean;
  sdei: boolean;
  ipaBits: number;
}

/** What a recorder knows before the first event. */
export interface TraceHeaderInput {
  /** Who wrote the trace, e.g. `vgicrr 0.1.0`. */
  producer: string;
  board: TraceBoard | null;
  host: HostKind;
  /** Kernel quirks (devices/quirks.ts, side `kernel`). */
  quirks: readonly string[];
  /** The seed of anything random in the run (chaos, fuzzing); absent or null when none. */
  seed?: number | string | null;
}

/** A decoded, validated header. */
export interface TraceHeader {
  format: number;
  minReader: number;
  producer: string;
  board: TraceBoard | null;
  host: HostKind;
  quirks: string[];
  seed: number | string | null;
  chunkEvents: number;
  compression: typeof COMPRESSION;
  msgpackr: PinnedMsgpackrOptions;
  schemaHash: string;
  /** The file's own schema (plain data); equal to TRACE_SCHEMA for a v1 file. */
  schema: unknown;
}

const KERNEL_QUIRKS: ReadonlySet<string> = new Set(
  QUIRKS.filter((q) => q.side === 'kernel').map((q) => q.name),
);

export function isKernelQuirk(name: unknown): name is string {
  return typeof name === 'string' && KERNEL_QUIRKS.has(name);
}

/** The msgpack map written as the header body (key order fixed, so bytes are deterministic). */
export function headerBody(input: TraceHeaderInput, chunkEvents: number): Record<string, unknown> {
  const checked = checkHeaderFields(input, 0);
  return {
    producer: checked.producer,
    board: checked.board,
    host: checked.host,
    quirks: checked.quirks,
    seed: checked.seed,
    chunkEvents,
    compression: COMPRESSION,
    msgpackr: MSGPACKR_OPTIONS,
    schemaHash: SCHEMA_HASH,
    schema: TRACE_SCHEMA,
  };
}

const HEADER_KEYS = [
  'producer',
  'board',
  'host',
  'quirks',
  'seed',
  'chunkEvents',
  'compression',
  'msgpackr',
  'schemaHash',
  'schema',
] as const;
const BOARD_KEYS = ['machine', 'vcpus', 'nrIrqs', 'its', 'sdei', 'ipaBits'] as const;

function invalid(offset: number, detail: string): TraceError {
  return new TraceError('INVALID_RECORD', offset, `header: ${detail}`);
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

function checkBoard(value: unknown, offset: number): TraceBoard | null {
  if (value === null) return null;
  if (!isPlainObject(value)) throw invalid(offset, 'board must be an object or null');
  for (const key of Object.keys(value)) {
    if (!(BOARD_KEYS as readonly string[]).includes(key))
      throw invalid(offset, `unknown board field ${JSON.stringify(key)}`);
  }
  const { machine, vcpus, nrIrqs, its, sdei, ipaBits } = value;
  if (machine !== 'virt') throw invalid(offset, 'board.machine must be virt');
  if (!isU32(vcpus) || !isU32(nrIrqs) || !isU32(ipaBits) || ipaBits > 255) {
    throw invalid(offset, 'board.vcpus, nrIrqs and ipaBits must be unsigned integers');
  }
  if (typeof its !== 'boolean' || typeof sdei !== 'boolean')
    throw invalid(offset, 'board.its and sdei must be booleans');
  return { machine, vcpus, nrIrqs, its, sdei, ipaBits };
}

/** Validates the caller-supplied part of a header (writer input or decoded body). */
function checkHeaderFields(
  value: Record<string, unknown> | TraceHeaderInput,
  offset: number,
): Pick<TraceHeader, 'producer' | 'board' | 'host' | 'quirks' | 'seed'> {
  const v = value as Record<string, unknown>;
  const producer = v.producer;
  if (typeof producer !== 'string' || producer.length > LIMITS.producer) {
    throw invalid(offset, `producer must be a string of at most ${LIMITS.producer} characters`);
  }
  const board = checkBoard(v.board, offset);
  const host = v.host;
  if (host !== 'gicv3' && host !== 'gicv4.1') throw invalid(offset, 'host must be gicv3 or gicv4.1');
  const quirks = v.quirks;
  if (!Array.isArray(quirks) || quirks.length > LIMITS.quirks)
    throw invalid(offset, 'quirks must be an array');
  const names: string[] = [];
  for (const q of quirks) {
    if (!isKernelQuirk(q))
      throw invalid(offset, `unknown kernel quirk ${JSON.stringify(String(q)).slice(0, 80)}`);
    names.push(q);
  }
  const seed = v.seed ?? null;
  if (
    seed !== null &&
    !(typeof seed === 'number' && Number.isSafeInteger(seed)) &&
    !(typeof seed === 'string' && seed.length <= LIMITS.seedString)
  ) {
    throw invalid(offset, 'seed must be a safe integer, a short string or null');
  }
  return { producer, board, host, quirks: names, seed: seed as number | string | null };
}

/**
 * Validates a decoded header body of a file with format `format` (minReader already checked).
 * A v1 file must carry exactly our schema and options; a newer compatible file may add event
 * types, but every code we know must mean the same thing.
 */
export function checkHeaderBody(
  body: unknown,
  format: number,
  minReader: number,
  offset: number,
): TraceHeader {
  if (!isPlainObject(body)) throw invalid(offset, 'body must be a map');
  if (format <= READER_VERSION) {
    for (const key of Object.keys(body)) {
      if (!(HEADER_KEYS as readonly string[]).includes(key))
        throw invalid(offset, `unknown field ${JSON.stringify(key)}`);
    }
  }
  for (const key of HEADER_KEYS) {
    if (!Object.hasOwn(body, key)) throw invalid(offset, `missing field ${key}`);
  }
  const fields = checkHeaderFields(body, offset);
  const chunkEvents = body.chunkEvents;
  if (!isU32(chunkEvents) || chunkEvents < 1 || chunkEvents > LIMITS.chunkEvents) {
    throw invalid(offset, `chunkEvents must be 1..${LIMITS.chunkEvents}`);
  }
  if (body.compression !== COMPRESSION) {
    throw new TraceError(
      'SCHEMA_MISMATCH',
      offset,
      `header: compression ${String(body.compression)} is not ${COMPRESSION}`,
    );
  }
  if (canonicalJson(body.msgpackr, offset) !== canonicalJson(MSGPACKR_OPTIONS)) {
    throw new TraceError(
      'SCHEMA_MISMATCH',
      offset,
      'header: msgpackr options differ from the ones this reader pins',
    );
  }
  const schemaHash = body.schemaHash;
  if (typeof schemaHash !== 'string' || !/^[0-9a-f]{64}$/.test(schemaHash)) {
    throw invalid(offset, 'schemaHash must be 64 hex digits');
  }
  const schemaJson = canonicalJson(body.schema, offset);
  if (createHash('sha256').update(schemaJson).digest('hex') !== schemaHash) {
    throw new TraceError('CORRUPT', offset, 'header: schema does not match its schemaHash');
  }
  let schema: unknown = TRACE_SCHEMA;
  if (format === FORMAT_VERSION && minReader === MIN_READER_VERSION) {
    if (schemaHash !== SCHEMA_HASH) {
      throw new TraceError(
        'SCHEMA_MISMATCH',
        offset,
        `header: format ${format} schema ${schemaHash.slice(0, 16)} is not this reader's ${SCHEMA_HASH.slice(0, 16)}`,
      );
    }
  } else {
    checkCompatibleSchema(body.schema, offset);
    schema = JSON.parse(schemaJson);
  }
  return {
    format,
    minReader,
    ...fields,
    chunkEvents,
    compression: COMPRESSION,
    msgpackr: MSGPACKR_OPTIONS,
    schemaHash,
    schema,
  };
}

/**
 * A file of another format version that this reader may read (minReader ≤ READER_VERSION): every
 * event code both schemas know must mean the same type and fields, and output, effects and field
 * kinds must be identical. Codes only the file knows decode as INVALID_RECORD if used.
 */
function checkCompatibleSchema(schema: unknown, offset: number): void {
  const mismatch = (what: string) =>
    new TraceError(
      'SCHEMA_MISMATCH',
      offset,
      `header: ${what} differs from this reader's (format ${READER_VERSION})`,
    );
  if (!isPlainObject(schema) || !Array.isArray(schema.events)) throw mismatch('schema');
  const ours = new Map(TRACE_SCHEMA.events.map((e) => [e[0], canonicalJson(e)]));
  for (const entry of schema.events) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'number') throw mismatch('event list');
    const mine = ours.get(entry[0]);
    if (mine !== undefined && canonicalJson(entry, offset) !== mine) throw mismatch(`event code ${entry[0]}`);
  }
  if (canonicalJson(schema.output, offset) !== canonicalJson(TRACE_SCHEMA.output))
    throw mismatch('output schema');
  if (canonicalJson(schema.effect, offset) !== canonicalJson(TRACE_SCHEMA.effect))
    throw mismatch('effect schema');
  if (canonicalJson(schema.kinds, offset) !== canonicalJson(TRACE_SCHEMA.kinds))
    throw mismatch('field kinds');
}

/** Chunk hashes: lower- or upper-case hex, 1..128 digits. */
export function isChunkHash(value: unknown): value is string {
  return typeof value === 'string' && value.length <= LIMITS.hashChars && /^[0-9a-fA-F]+$/.test(value);
}
