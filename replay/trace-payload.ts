// Trace format v1, the frame codec's fast half: frames ↔ chunk payload bytes directly, with no
// intermediate tuples and no msgpackr in the common case. The payload is defined by the reference
// codec (trace-codec.ts: frames ↔ tuples, packed and unpacked by msgpackr with the pinned options);
// this file must agree with it exactly, and the tests check that it does.
//
// - `PayloadEncoder` writes the bytes `packTuples` would write for the tuples `encodeFrame` would
//   build (msgpackr's choice of forms: smallest int, float64, int64/uint64 for bigints, smallest
//   str/bin/array header, its UTF-8 encoding of strings), with the same validation and messages,
//   into one reusable buffer.
// - `decodeFrames` first tries `readFramesFast`: a reader of only the msgpack forms that valid
//   frames take, with every field checked as the reference checks it. It builds the frames straight
//   from the bytes and gives up ("bails") on anything else: another form of a value (a float for an
//   int, a str8 for a short string, invalid or BOM-led UTF-8), an invalid record, a short or long
//   payload. A chunk it gives up on is decoded again by the reference (`decodeTuples`), so what is
//   accepted, the values it yields and every error message are the reference's; the fast reader can
//   only make a valid chunk faster, never make an invalid one pass.
//
// Both halves keep their state in module variables (they are synchronous and not re-entrant).
// Code is compiled from the schema (an encoder per event type; one chunk reader with a case per
// event type, so an event of a type is built by one object literal with its keys in schema order)
// and, for effects, from checked keys read from the file (see "Effects of one type" below).

import { Buffer, isUtf8 } from 'node:buffer';
import type { Effect, EffectValue } from '../engine/events.js';
import type { Frame } from './frame.js';
import {
  BadRecord,
  decodeTuples,
  ENUM_VALUES,
  FORBIDDEN_KEYS,
  MAX_B2048,
  MAX_U64,
  MIN_B64,
  show,
} from './trace-codec.js';
import { TraceError } from './trace-error.js';
import { EVENT_SCHEMA, type FieldKind, isKernelQuirk, LIMITS, OUTPUT_SCHEMA } from './trace-schema.js';

/** How many tuple elements a field of each kind takes (a list is its count, then its items). */
const ELEMENTS: Record<FieldKind, number> = {
  u8: 1,
  u16: 1,
  u32: 1,
  i32: 1,
  bool: 1,
  size: 1,
  host: 1,
  dev: 1,
  'irq-kind': 1,
  str: 1,
  'kernel-quirks': 1,
  b64: 1,
  'b64?': 1,
  b2048: 1,
  'b64-list6': 7,
  'b64-list4': 5,
};

const OUTPUT_MASK = OUTPUT_SCHEMA.reduce((m, [bit]) => m | bit, 0);

/** Tuple elements of the output fields present in each mask. */
const OUTPUT_ELEMENTS: readonly number[] = Array.from({ length: OUTPUT_MASK + 1 }, (_, mask) =>
  OUTPUT_SCHEMA.reduce((n, [bit, , kind]) => (mask & bit ? n + ELEMENTS[kind] : n), 0),
);

/** Tuple elements of each event type: the code and its fields. */
const EVENT_ELEMENTS: readonly number[] = EVENT_SCHEMA.map((e) =>
  e.fields.reduce((n, [, kind]) => n + ELEMENTS[kind], 1),
);

// Both halves write the event code as one positive fixint byte.
if (EVENT_SCHEMA.length > 0x80) throw new Error('trace payload: event codes must stay below 128');

/** Compiles `function (h0, h1, …) { return <body> }` over the helpers and calls it. */
function compile<T>(helpers: readonly unknown[], body: string): T {
  const factory = new Function(...helpers.map((_h, k) => `h${k}`), `return ${body};`);
  return factory(...helpers) as T;
}

// ---- encoding --------------------------------------------------------------------------------
//
// The frame being written goes into `out` at `at`. `room` keeps at least MARGIN bytes free after
// every variable-length write (strings, byte strings) and at the start of each frame, effect and
// effect field, which covers every fixed-size write in between (at most about 120 bytes).

const MARGIN = 512;
let out: Buffer = Buffer.alloc(0);
let outView = new DataView(out.buffer, out.byteOffset, out.byteLength);
let at = 0;

function room(n: number): void {
  if (at + n + MARGIN > out.length) grow(at + n + MARGIN);
}

function grow(need: number): void {
  let size = Math.max(out.length * 2, 1 << 16);
  while (size < need) size *= 2;
  const next = Buffer.allocUnsafeSlow(size);
  next.set(out.subarray(0, at));
  out = next;
  outView = new DataView(next.buffer, next.byteOffset, next.byteLength);
}

/** A number as msgpackr packs it: the smallest int within int32/uint32, else float64. */
function writeNumber(v: number): void {
  // Small enough to be inlined for the common case, a positive fixint.
  if (v >>> 0 === v && v < 0x80) out[at++] = v;
  else writeOtherNumber(v);
}

function writeOtherNumber(v: number): void {
  if (v >>> 0 === v) {
    if (v < 0x80) out[at++] = v;
    else if (v < 0x100) {
      out[at++] = 0xcc;
      out[at++] = v;
    } else if (v < 0x10000) {
      out[at++] = 0xcd;
      out[at++] = v >> 8;
      out[at++] = v & 0xff;
    } else {
      out[at++] = 0xce;
      outView.setUint32(at, v);
      at += 4;
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) out[at++] = 0x100 + v;
    else if (v >= -0x80) {
      out[at++] = 0xd0;
      out[at++] = v + 0x100;
    } else if (v >= -0x8000) {
      out[at++] = 0xd1;
      outView.setInt16(at, v);
      at += 2;
    } else {
      out[at++] = 0xd2;
      outView.setInt32(at, v);
      at += 4;
    }
  } else {
    out[at++] = 0xcb;
    outView.setFloat64(at, v);
    at += 8;
  }
}

// Bigint constants (a negative literal would be negated at every use).
const MIN_I32_BIG = -(1n << 31n);
const MAX_U32_BIG = (1n << 32n) - 1n;
const MAX_I64_BIG = (1n << 63n) - 1n;
// Local copies: comparing with an imported (live-bound) bigint is a slow call.
const MIN_B64_BIG = MIN_B64;
const MAX_U64_BIG = MAX_U64;

/** Scratch words: a bigint stored as 64 bits, read back as two u32 (or i32) words. */
const PAIR = new Uint32Array(2);
const PAIR_I32 = new Int32Array(PAIR.buffer);
const PAIR_U64 = new BigUint64Array(PAIR.buffer);
const PAIR_I64 = new BigInt64Array(PAIR.buffer);
const LOW_WORD = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1 ? 0 : 1;
const HIGH_WORD = 1 - LOW_WORD;

/** A bigint of −2^63 … 2^64−1 as msgpackr packs it: int64 if it fits, else uint64. */
function writeBigint(v: bigint): void {
  out[at] = v <= MAX_I64_BIG ? 0xd3 : 0xcf;
  // Both are the value's low 64 bits, big-endian (DataView's setBigInt64 is a slow call).
  PAIR_U64[0] = v;
  const hi = PAIR[HIGH_WORD]!;
  const lo = PAIR[LOW_WORD]!;
  const o = out;
  o[at + 1] = hi >>> 24;
  o[at + 2] = hi >>> 16;
  o[at + 3] = hi >>> 8;
  o[at + 4] = hi;
  o[at + 5] = lo >>> 24;
  o[at + 6] = lo >>> 16;
  o[at + 7] = lo >>> 8;
  o[at + 8] = lo;
  at += 9;
}

/**
 * A string as msgpackr packs it: UTF-8 (its own encoder below 64 UTF-16 units, which writes a lone
 * surrogate as three bytes; Buffer's above, which writes U+FFFD), the smallest str header.
 */
function writeString(s: string): void {
  const units = s.length;
  if (units < 0x20) {
    // Short ASCII (keys, types, enum values): fixstr, one byte per unit.
    if (at + units + 1 + MARGIN > out.length) grow(at + units + 1 + MARGIN);
    const o = out;
    let p = at + 1;
    let i = 0;
    for (; i < units; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      o[p++] = c;
    }
    if (i === units) {
      o[at] = 0xa0 | units;
      at = p;
      return;
    }
  }
  writeAnyString(s);
}

function writeAnyString(s: string): void {
  const units = s.length;
  room(units * 3 + 5);
  const guess = units < 0x20 ? 1 : units < 0x100 ? 2 : units < 0x10000 ? 3 : 5;
  let p = at + guess;
  if (units < 0x40) {
    for (let i = 0; i < units; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) out[p++] = c;
      else if (c < 0x800) {
        out[p++] = (c >> 6) | 0xc0;
        out[p++] = (c & 0x3f) | 0x80;
      } else {
        const d = s.charCodeAt(i + 1);
        if ((c & 0xfc00) === 0xd800 && (d & 0xfc00) === 0xdc00) {
          c = 0x10000 + ((c & 0x3ff) << 10) + (d & 0x3ff);
          i++;
          out[p++] = (c >> 18) | 0xf0;
          out[p++] = ((c >> 12) & 0x3f) | 0x80;
          out[p++] = ((c >> 6) & 0x3f) | 0x80;
          out[p++] = (c & 0x3f) | 0x80;
        } else {
          out[p++] = (c >> 12) | 0xe0;
          out[p++] = ((c >> 6) & 0x3f) | 0x80;
          out[p++] = (c & 0x3f) | 0x80;
        }
      }
    }
  } else {
    p += out.write(s, p, 'utf8');
  }
  const length = p - at - guess;
  const header = length < 0x20 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
  if (header !== guess) out.copyWithin(at + header, at + guess, p);
  if (header === 1) out[at] = 0xa0 | length;
  else if (header === 2) {
    out[at] = 0xd9;
    out[at + 1] = length;
  } else if (header === 3) {
    out[at] = 0xda;
    out[at + 1] = length >> 8;
    out[at + 2] = length & 0xff;
  } else {
    out[at] = 0xdb;
    outView.setUint32(at + 1, length);
  }
  at += header + length;
}

function writeArrayHeader(n: number): void {
  if (n < 0x10) out[at++] = 0x90 | n;
  else if (n < 0x10000) {
    out[at++] = 0xdc;
    out[at++] = n >> 8;
    out[at++] = n & 0xff;
  } else {
    out[at++] = 0xdd;
    outView.setUint32(at, n);
    at += 4;
  }
}

type Write = (v: unknown, what: string) => void;

function writeInt(min: number, max: number): Write {
  return (v, what) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new BadRecord(`${what}: expected an integer ${min}..${max}, got ${show(v)}`);
    }
    writeNumber(v);
  };
}

function writeOneOf(values: readonly (string | number | boolean)[]): Write {
  // `===` is `includes` here: no value is 0 or NaN, where SameValueZero differs.
  if (values.some((v) => v === 0 || Number.isNaN(v))) throw new Error('trace payload: enum of 0 or NaN');
  return (v, what) => {
    let k = 0;
    while (k < values.length && values[k] !== v) k++;
    if (k === values.length)
      throw new BadRecord(`${what}: expected one of ${values.join(' ')}, got ${show(v)}`);
    if (typeof v === 'string') writeString(v);
    else if (typeof v === 'number') writeNumber(v);
    else out[at++] = v ? 0xc3 : 0xc2;
  };
}

function writeB64(v: unknown, what: string): void {
  if (typeof v === 'bigint') {
    if (v >= MIN_I32_BIG && v <= MAX_U32_BIG) {
      // The number of an int32/uint32-range bigint, from its low word (Number(v) is slower).
      PAIR_U64[0] = v;
      writeNumber(v >= 0n ? PAIR[LOW_WORD]! : PAIR_I32[LOW_WORD]!);
      return;
    }
    if (v >= MIN_B64_BIG && v <= MAX_U64_BIG) {
      writeBigint(v);
      return;
    }
  }
  throw new BadRecord(`${what}: expected a 64-bit bigint, got ${show(v)}`);
}

function writeB2048(v: unknown, what: string): void {
  if (typeof v === 'bigint' && v > MAX_U64_BIG && v <= MAX_B2048) {
    let hex = v.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    const length = hex.length / 2;
    room(length + 3);
    if (length < 0x100) {
      out[at++] = 0xc4;
      out[at++] = length;
    } else {
      out[at++] = 0xc5;
      out[at++] = length >> 8;
      out[at++] = length & 0xff;
    }
    at += out.write(hex, at, 'hex');
    return;
  }
  if (typeof v !== 'bigint' || v < MIN_B64_BIG) {
    throw new BadRecord(`${what}: expected a bigint of at most 2048 bits, got ${show(v)}`);
  }
  writeB64(v, what);
}

function writeList(count: number): Write {
  return (v, what) => {
    if (!Array.isArray(v) || v.length !== count)
      throw new BadRecord(`${what}: expected an array of ${count} bigints`);
    out[at++] = count;
    for (let k = 0; k < count; k++) writeB64(v[k], what);
  };
}

const WRITE: Record<FieldKind, Write> = {
  u8: writeInt(0, 0xff),
  u16: writeInt(0, 0xffff),
  u32: writeInt(0, 0xffff_ffff),
  i32: writeInt(-0x8000_0000, 0x7fff_ffff),
  bool: writeOneOf(ENUM_VALUES.bool),
  size: writeOneOf(ENUM_VALUES.size),
  host: writeOneOf(ENUM_VALUES.host),
  dev: writeOneOf(ENUM_VALUES.dev),
  'irq-kind': writeOneOf(ENUM_VALUES['irq-kind']),
  str: (v, what) => {
    if (typeof v !== 'string' || v.length > LIMITS.string) {
      throw new BadRecord(`${what}: expected a string of at most ${LIMITS.string} characters`);
    }
    writeString(v);
  },
  'kernel-quirks': (v, what) => {
    // Every index is checked (a hole is not a quirk name), so nothing unreadable is written.
    let ok = Array.isArray(v) && v.length <= LIMITS.quirks;
    for (let k = 0; ok && k < (v as unknown[]).length; k++) ok = isKernelQuirk((v as unknown[])[k]);
    if (!ok) throw new BadRecord(`${what}: expected a list of kernel quirk names`);
    const names = v as string[];
    writeArrayHeader(names.length);
    for (let k = 0; k < names.length; k++) writeString(names[k]!);
  },
  b64: writeB64,
  'b64?': (v, what) => {
    if (v === null) out[at++] = 0xc0;
    else writeB64(v, what);
  },
  b2048: writeB2048,
  'b64-list6': writeList(6),
  'b64-list4': writeList(4),
};

interface EventWriter {
  type: string;
  code: number;
  elements: number;
  write: (event: Record<string, unknown>) => void;
}

/** `function (e) { h0(e.name0, 'type.name0'); … }`, from the schema (names JSON-quoted). */
const EVENT_WRITERS: ReadonlyMap<string, EventWriter> = new Map(
  EVENT_SCHEMA.map((e) => {
    const lines = e.fields.map(
      ([name], k) => `h${k}(e[${JSON.stringify(name)}], ${JSON.stringify(`${e.type}.${name}`)});`,
    );
    const write = compile<EventWriter['write']>(
      e.fields.map(([, kind]) => WRITE[kind]),
      `function (e) { ${lines.join(' ')} }`,
    );
    return [e.type, { type: e.type, code: e.code, elements: EVENT_ELEMENTS[e.code]!, write }];
  }),
);
let lastWriter: EventWriter = EVENT_WRITERS.values().next().value!;

const [RC_BIT, VALUE_BIT, X_BIT] = OUTPUT_SCHEMA.map(([bit]) => bit) as [number, number, number];

/** The present output fields in schema order (compiled the same way). */
const writeOutput = compile<(output: Record<string, unknown>, mask: number) => void>(
  OUTPUT_SCHEMA.map(([, , kind]) => WRITE[kind]),
  `function (o, mask) { ${OUTPUT_SCHEMA.map(
    ([bit, name], k) =>
      `if (mask & ${bit}) h${k}(o[${JSON.stringify(name)}], ${JSON.stringify(`output.${name}`)});`,
  ).join(' ')} }`,
);

function writeEffectValue(v: unknown, type: string, key: string): void {
  // An if-chain on typeof (which V8 folds into type checks; a switch calls the typeof builtin).
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new BadRecord(`effect ${type}.${key}: number ${v} is not finite`);
    writeNumber(v);
  } else if (typeof v === 'bigint') {
    // Always int64/uint64 on the wire, so it decodes as a bigint again.
    if (v < MIN_B64_BIG || v > MAX_U64_BIG)
      throw new BadRecord(`effect ${type}.${key}: bigint wider than 64 bits`);
    writeBigint(v);
  } else if (typeof v === 'boolean') {
    out[at++] = v ? 0xc3 : 0xc2;
  } else if (typeof v === 'string') {
    if (v.length > LIMITS.string) throw new BadRecord(`effect ${type}.${key}: string too long`);
    writeString(v);
  } else {
    throw new BadRecord(`effect ${type}.${key}: field of type ${typeof v}`);
  }
}

const hasOwn = Object.prototype.hasOwnProperty;
const FORBIDDEN: readonly string[] = [...FORBIDDEN_KEYS];

/** `FORBIDDEN_KEYS.has(key)`, by comparison (cheaper for four names than hashing the key). */
function isForbiddenKey(key: string): boolean {
  for (let i = 0; i < FORBIDDEN.length; i++) if (key === FORBIDDEN[i]) return true;
  return false;
}

/** One effect; returns its field count. */
function writeEffect(effect: Effect): number {
  if (typeof effect !== 'object' || effect === null) throw new BadRecord('effect is not an object');
  const type = effect.type;
  if (typeof type !== 'string' || type.length === 0 || type.length > LIMITS.effectType) {
    throw new BadRecord(`effect type must be a string of 1..${LIMITS.effectType} characters`);
  }
  writeString(type);
  // At most 32 fields: the count is always one fixint byte.
  const countAt = at++;
  let count = 0;
  for (const key in effect) {
    // The reference's `Object.hasOwn(effect, key)`, in the form V8 optimizes inside for-in.
    if (key === 'type' || !hasOwn.call(effect, key)) continue;
    const value = effect[key];
    if (value === undefined) continue;
    if (isForbiddenKey(key) || key.length === 0 || key.length > LIMITS.effectKey) {
      throw new BadRecord(`effect ${type}: field name ${show(key)} not allowed`);
    }
    if (++count > LIMITS.effectFields)
      throw new BadRecord(`effect ${type}: more than ${LIMITS.effectFields} fields`);
    writeString(key);
    writeEffectValue(value, type, key);
  }
  out[countAt] = count;
  return count;
}

function outputMask(output: Record<string, unknown>): number {
  return (
    (output.rc !== undefined ? RC_BIT : 0) |
    (output.value !== undefined ? VALUE_BIT : 0) |
    (output.x !== undefined ? X_BIT : 0)
  );
}

/** The tuple elements `writeEffect` will write for `effect` (a prediction: it does not check). */
function effectElementsOf(effect: unknown): number {
  let fields = 0;
  if (typeof effect === 'object' && effect !== null) {
    for (const key in effect) {
      if (key === 'type' || !hasOwn.call(effect, key)) continue;
      if ((effect as Record<string, unknown>)[key] !== undefined) fields++;
    }
  }
  return 2 + 2 * fields;
}

/** The tuple of `frame` at `at`, exactly as msgpackr packs `encodeFrame(frame)`. */
function writeFrame(frame: Frame): void {
  const start = at;
  room(0);
  const event = frame.event as unknown as Record<string, unknown>;
  const type = event.type;
  // Runs of one event type are common: the last writer is tried before the map.
  let writer = lastWriter;
  if (type !== writer.type) {
    const found = EVENT_WRITERS.get(type as string);
    if (!found) throw new BadRecord(`unknown event type ${show(type)}`);
    writer = lastWriter = found;
  }
  const output = frame.output as Record<string, unknown>;
  const effects = frame.effects;
  // The element count decides the array header's size (1 byte below 16, else 3): predicted first
  // so the tuple is written in place, and checked at the end.
  let predicted = writer.elements + 2;
  // Read once here (a null output fails below, when the reference's does).
  const objectOutput = typeof output === 'object' && output !== null;
  const mask = objectOutput ? outputMask(output) : 0;
  predicted += OUTPUT_ELEMENTS[mask]!;
  if (Array.isArray(effects) && effects.length <= LIMITS.effects) {
    for (let k = 0; k < effects.length; k++) predicted += effectElementsOf(effects[k]);
  }
  const reserved = predicted < 0x10 ? 1 : 3;
  at += reserved;
  out[at++] = writer.code;
  writer.write(event);
  if (!objectOutput) outputMask(output);
  out[at++] = mask;
  if (mask !== 0) writeOutput(output, mask);
  if (!Array.isArray(effects) || effects.length > LIMITS.effects) {
    throw new BadRecord(`effects must be an array of at most ${LIMITS.effects}`);
  }
  let elements = writer.elements + 2 + OUTPUT_ELEMENTS[mask]!;
  writeNumber(effects.length);
  for (let k = 0; k < effects.length; k++) {
    room(0);
    elements += 2 + 2 * writeEffect(effects[k]!);
  }
  // At most 1 + 8 + 1 + 6 + 1 + 256 × 66 elements: never an array32 header.
  const header = elements < 0x10 ? 1 : 3;
  if (header !== reserved) {
    // Mispredicted (effects whose fields changed while being read): move the tuple.
    out.copyWithin(start + header, start + reserved, at);
    at += header - reserved;
  }
  if (header === 1) out[start] = 0x90 | elements;
  else {
    out[start] = 0xdc;
    out[start + 1] = elements >> 8;
    out[start + 2] = elements & 0xff;
  }
}

/**
 * A chunk payload being filled: frames are appended as bytes to one buffer that is reused from
 * chunk to chunk. The bytes are exactly `packTuples(frames.map(encodeFrame))`.
 */
export class PayloadEncoder {
  private buffer: Buffer = Buffer.allocUnsafeSlow(1 << 16);
  private view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  private length = 0;
  private count = 0;

  /** Frames in the payload. */
  get frames(): number {
    return this.count;
  }

  /** Bytes in the payload. */
  get byteLength(): number {
    return this.length;
  }

  /**
   * Appends the frame at `position`. Throws TraceError INVALID_RECORD (at `offset`, naming
   * `position`) if it does not fit the schema, and then leaves the payload unchanged.
   */
  append(frame: Frame, position: number, offset: number): void {
    if (out !== this.buffer) {
      out = this.buffer;
      outView = this.view;
    }
    at = this.length;
    try {
      writeFrame(frame);
    } catch (e) {
      if (e instanceof BadRecord)
        throw new TraceError('INVALID_RECORD', offset, `cannot record event #${position}: ${e.message}`);
      throw e;
    } finally {
      // Keep a grown buffer. (The module keeps pointing at it until `release` or another encoder.)
      if (out !== this.buffer) {
        this.buffer = out;
        this.view = outView;
      }
    }
    this.length = at;
    this.count++;
  }

  /** The payload: a view of the buffer, valid until the next `append` or `clear`. */
  payload(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  /** Empties the payload (keeping the buffer). */
  clear(): void {
    this.length = 0;
    this.count = 0;
  }

  /** Empties the payload and lets go of the buffer (the encoder stays usable). */
  release(): void {
    this.clear();
    if (out === this.buffer) {
      out = EMPTY;
      outView = EMPTY_VIEW;
    }
    this.buffer = EMPTY;
    this.view = EMPTY_VIEW;
  }
}

const EMPTY: Buffer = Buffer.alloc(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer, EMPTY.byteOffset, 0);

// ---- decoding --------------------------------------------------------------------------------
//
// The payload is read from `src` at `pos`; `end` is its length. Reading a byte at or past the end
// gives `undefined`, which every test below rejects; multi-byte reads check the end first. A
// reader either returns a value the reference would return for the same bytes, or bails.

let src: Buffer = EMPTY;
let view = EMPTY_VIEW;
let pos = 0;
let end = 0;
/** Tuple elements taken by the effects of the frame being read. */
let effectElements = 0;

/** Thrown to give the chunk up to the reference decoder. */
const BAIL: unique symbol = Symbol('bail');

function bail(): never {
  throw BAIL;
}

function need(n: number): void {
  if (pos + n > end) bail();
}

/** An unsigned int of up to `max` from a uint8/16/32 form (the fixint case is the caller's). */
function readUintForm(b: number, max: number): number {
  let v: number;
  if (b === 0xcc) {
    need(2);
    v = src[pos + 1]!;
    pos += 2;
  } else if (b === 0xcd) {
    need(3);
    v = (src[pos + 1]! << 8) | src[pos + 2]!;
    pos += 3;
  } else if (b === 0xce) {
    need(5);
    v = view.getUint32(pos + 1);
    pos += 5;
  } else return bail();
  if (v > max) bail();
  return v;
}

/** A signed int from an int8/16/32 form. */
function readIntForm(b: number): number {
  let v: number;
  if (b === 0xd0) {
    need(2);
    v = view.getInt8(pos + 1);
    pos += 2;
  } else if (b === 0xd1) {
    need(3);
    v = view.getInt16(pos + 1);
    pos += 3;
  } else if (b === 0xd2) {
    need(5);
    v = view.getInt32(pos + 1);
    pos += 5;
  } else return bail();
  return v;
}

function readUint(max: number): () => number {
  return () => {
    const b = src[pos]!;
    if (b < 0x80) {
      pos++;
      if (b > max) bail();
      return b;
    }
    return readUintForm(b, max);
  };
}

function readI32(): number {
  const b = src[pos]!;
  if (b < 0x80) {
    pos++;
    return b;
  }
  if (b >= 0xe0) {
    pos++;
    return b - 0x100;
  }
  return b < 0xd0 ? readUintForm(b, 0x7fff_ffff) : readIntForm(b);
}

function readBool(): boolean {
  const b = src[pos];
  if (b === 0xc2 || b === 0xc3) {
    pos++;
    return b === 0xc3;
  }
  return bail();
}

function readSize(): number {
  const b = src[pos]!;
  if (b === 1 || b === 2 || b === 4 || b === 8) {
    pos++;
    return b;
  }
  return bail();
}

/** One of a few short ASCII strings, as fixstr bytes; the constant itself is returned. */
function readOneOf(values: readonly string[]): () => string {
  const encoded = values.map((v) => {
    if (!/^[\x20-\x7e]{1,31}$/.test(v)) throw new Error(`trace payload: enum value ${v} is not short ASCII`);
    return Uint8Array.from([0xa0 | v.length, ...Buffer.from(v, 'latin1')]);
  });
  return () => {
    for (let k = 0; k < encoded.length; k++) {
      const e = encoded[k]!;
      if (pos + e.length > end) continue;
      let i = 0;
      while (i < e.length && src[pos + i] === e[i]) i++;
      if (i === e.length) {
        pos += e.length;
        return values[k]!;
      }
    }
    return bail();
  };
}

// Short ASCII strings (effect types and keys, mostly) come from a small cache, keyed by their bytes:
// a slot holds the length + 1 and up to 31 bytes, the string, and whether it is a forbidden effect
// key. The slot is picked by the length and three of the bytes; a hit compares every byte (cached
// bytes are all ASCII, so a hit is too). Equal strings always land in the same slot, so keys in
// different slots differ.
const CACHE_SLOTS = 1024;
const cacheBytes = new Uint8Array(CACHE_SLOTS * 32);
const cacheStrings: string[] = new Array<string>(CACHE_SLOTS).fill('');
const cacheForbidden = new Uint8Array(CACHE_SLOTS);
/** The cache slot of the string `readString` returned last, or -1 if it did not come from the cache. */
let stringSlot = -1;

function shortString(s: number, length: number): string {
  const last = s + length - 1;
  const slot =
    (length * 0x9e + src[s]! * 0x3b + src[last]! * 0x1d + src[s + (length >> 1)]! * 7) & (CACHE_SLOTS - 1);
  const o = slot << 5;
  if (cacheBytes[o] === length + 1) {
    let i = 0;
    while (i < length && cacheBytes[o + 1 + i] === src[s + i]) i++;
    if (i === length) {
      stringSlot = slot;
      return cacheStrings[slot]!;
    }
  }
  let high = 0;
  for (let i = s; i <= last; i++) high |= src[i]!;
  if (high & 0x80) return anyString(s, last + 1);
  const text = src.toString('latin1', s, last + 1);
  cacheBytes[o] = length + 1;
  cacheBytes.set(src.subarray(s, last + 1), o + 1);
  cacheStrings[slot] = text;
  cacheForbidden[slot] = isForbiddenKey(text) ? 1 : 0;
  stringSlot = slot;
  return text;
}

/**
 * ASCII, or valid UTF-8 not starting with a byte-order mark (msgpackr's TextDecoder would drop
 * it); anything else bails, since msgpackr's decoders differ from Buffer's on invalid bytes.
 */
function anyString(s: number, e: number): string {
  let high = 0;
  for (let i = s; i < e; i++) high |= src[i]!;
  if ((high & 0x80) === 0) return src.toString('latin1', s, e);
  if (src[s] === 0xef && src[s + 1] === 0xbb && src[s + 2] === 0xbf) bail();
  if (!isUtf8(src.subarray(s, e))) bail();
  return src.toString('utf8', s, e);
}

/** A string of `min` … `max` UTF-16 units. */
function readString(min: number, max: number): string {
  const b = src[pos]!;
  let length: number;
  let s: number;
  if (b >= 0xa0 && b <= 0xbf) {
    length = b - 0xa0;
    s = pos + 1;
  } else if (b === 0xd9) {
    need(2);
    length = src[pos + 1]!;
    s = pos + 2;
  } else if (b === 0xda) {
    need(3);
    length = (src[pos + 1]! << 8) | src[pos + 2]!;
    s = pos + 3;
  } else if (b === 0xdb) {
    need(5);
    length = view.getUint32(pos + 1);
    s = pos + 5;
  } else return bail();
  const e = s + length;
  if (e > end) bail();
  pos = e;
  stringSlot = -1;
  const text = length === 0 ? '' : length < 0x20 ? shortString(s, length) : anyString(s, e);
  if (text.length < min || text.length > max) bail();
  return text;
}

function readStr(): string {
  return readString(0, LIMITS.string);
}

function readQuirks(): string[] {
  const b = src[pos]!;
  let n: number;
  if (b >= 0x90 && b <= 0x9f) {
    n = b - 0x90;
    pos++;
  } else if (b === 0xdc) {
    need(3);
    n = (src[pos + 1]! << 8) | src[pos + 2]!;
    pos += 3;
  } else return bail();
  if (n > LIMITS.quirks) bail();
  const names: string[] = [];
  for (let k = 0; k < n; k++) {
    const q = readString(0, LIMITS.string);
    if (!isKernelQuirk(q)) bail();
    names.push(q);
  }
  return names;
}

const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 0x80 }, (_, i) => BigInt(i));

/** A u32 as a bigint, fastest through the scratch words (BigInt(v) is slower). */
function bigintOfU32(v: number): bigint {
  PAIR[LOW_WORD] = v;
  PAIR[HIGH_WORD] = 0;
  return PAIR_U64[0]!;
}

/** A b64 (bigint) from any int form. */
function readB64(): bigint {
  const b = src[pos]!;
  if (b < 0x80) {
    pos++;
    return SMALL_BIGINTS[b]!;
  }
  if (b === 0xce) {
    need(5);
    const v = bigintOfU32(view.getUint32(pos + 1));
    pos += 5;
    return v;
  }
  return readB64Form(b);
}

function readB64Form(b: number): bigint {
  let v: bigint;
  if (b === 0xcf || b === 0xd3) {
    // Through the scratch words (DataView's getBigInt64 is a slow call).
    need(9);
    PAIR[HIGH_WORD] = view.getUint32(pos + 1);
    PAIR[LOW_WORD] = view.getUint32(pos + 5);
    v = b === 0xcf ? PAIR_U64[0]! : PAIR_I64[0]!;
    pos += 9;
  } else if (b === 0xcc || b === 0xcd) v = bigintOfU32(readUintForm(b, 0xffff));
  else if (b >= 0xe0) {
    pos++;
    v = BigInt(b - 0x100);
  } else v = BigInt(readIntForm(b));
  return v;
}

function readB64OrNull(): bigint | null {
  if (src[pos] === 0xc0) {
    pos++;
    return null;
  }
  return readB64();
}

function readB2048(): bigint {
  const b = src[pos]!;
  if (b !== 0xc4 && b !== 0xc5 && b !== 0xc6) return readB64();
  let length: number;
  let s: number;
  if (b === 0xc4) {
    need(2);
    length = src[pos + 1]!;
    s = pos + 2;
  } else if (b === 0xc5) {
    need(3);
    length = (src[pos + 1]! << 8) | src[pos + 2]!;
    s = pos + 3;
  } else {
    need(5);
    length = view.getUint32(pos + 1);
    s = pos + 5;
  }
  if (length < 9 || length > LIMITS.bigBytes || s + length > end || src[s] === 0) bail();
  pos = s + length;
  return BigInt(`0x${src.toString('hex', s, s + length)}`);
}

function readList(count: number): () => bigint[] {
  // Only the fixint count form; `count` is below 16.
  return () => {
    if (src[pos] !== count) bail();
    pos++;
    const list: bigint[] = new Array(count);
    for (let k = 0; k < count; k++) list[k] = readB64();
    return list;
  };
}

const READ: Record<FieldKind, () => unknown> = {
  u8: readUint(0xff),
  u16: readUint(0xffff),
  u32: readUint(0xffff_ffff),
  i32: readI32,
  bool: readBool,
  size: readSize,
  host: readOneOf(ENUM_VALUES.host),
  dev: readOneOf(ENUM_VALUES.dev),
  'irq-kind': readOneOf(ENUM_VALUES['irq-kind']),
  str: readStr,
  'kernel-quirks': readQuirks,
  b64: readB64,
  'b64?': readB64OrNull,
  b2048: readB2048,
  'b64-list6': readList(6),
  'b64-list4': readList(4),
};

function readEffectValue(): EffectValue {
  const b = src[pos]!;
  if (b < 0x80) {
    pos++;
    return b;
  }
  if (b >= 0xe0) {
    pos++;
    return b - 0x100;
  }
  if ((b >= 0xa0 && b <= 0xbf) || b === 0xd9 || b === 0xda || b === 0xdb) return readString(0, LIMITS.string);
  switch (b) {
    case 0xc2:
    case 0xc3:
      pos++;
      return b === 0xc3;
    case 0xcc:
    case 0xcd:
    case 0xce:
      return readUintForm(b, 0xffff_ffff);
    case 0xd0:
    case 0xd1:
    case 0xd2:
      return readIntForm(b);
    case 0xcb: {
      need(9);
      const v = view.getFloat64(pos + 1);
      if (!Number.isFinite(v)) bail();
      pos += 9;
      return v;
    }
    case 0xcf:
    case 0xd3:
      return readB64Form(b);
  }
  return bail();
}

if (!FORBIDDEN.includes('type')) throw new Error('trace payload: effect key type must be forbidden');
/** The keys of the effect being read so far, and their cache slots. */
const effectKeys: string[] = new Array<string>(LIMITS.effectFields).fill('');
const effectKeySlots = new Int32Array(LIMITS.effectFields);

/**
 * Bails if `key` (the j-th of its effect, `slot` its cache slot or -1) is forbidden or repeats an
 * earlier key: the reference's `FORBIDDEN_KEYS.has(key) || Object.hasOwn(effect, key)`, since
 * `type` is forbidden. Equal cached keys share a slot, so only keys of the same slot are compared.
 */
function checkEffectKey(key: string, slot: number, j: number): void {
  if (slot >= 0) {
    if (cacheForbidden[slot]) bail();
    for (let i = 0; i < j; i++) if (effectKeySlots[i] === slot && effectKeys[i] === key) bail();
  } else {
    // Not cached: longer than 31 bytes or not ASCII, so it can only repeat another uncached key.
    if (isForbiddenKey(key)) bail();
    for (let i = 0; i < j; i++) if (effectKeySlots[i]! < 0 && effectKeys[i] === key) bail();
  }
  effectKeys[j] = key;
  effectKeySlots[j] = slot;
}

// Effects of one type mostly repeat their keys, so the keys an effect had are remembered as its
// shape, by the type's cache slot and the field count. The next effect of that type and count is
// read against the shape: each key's bytes are compared with the remembered ones (equal bytes,
// equal key, already checked), and only from the first difference on are keys read and checked
// one by one; the effect's keys then become the shape.
// Nothing is ever compiled from bytes of the file: effects are built key by key from checked keys.
interface EffectShape {
  type: string;
  fields: number;
  keys: string[];
  keySlots: number[];
  /** Each key's msgpack bytes (header included), as they were read. */
  keyBytes: Uint8Array[];
}

const SHAPE_SLOTS = 256;
const shapes: (EffectShape | undefined)[] = new Array<EffectShape | undefined>(SHAPE_SLOTS).fill(undefined);
const effectValues: EffectValue[] = new Array<EffectValue>(LIMITS.effectFields).fill(0);
/** Where each key of the effect being read starts and ends (to remember its bytes). */
const keyStarts = new Int32Array(LIMITS.effectFields);
const keyEnds = new Int32Array(LIMITS.effectFields);

/** The bytes at `pos` start with `bytes`. */
function bytesAt(bytes: Uint8Array): boolean {
  const n = bytes.length;
  if (pos + n > end) return false;
  for (let i = 0; i < n; i++) if (src[pos + i] !== bytes[i]) return false;
  return true;
}

/** The fields of an effect of `type` (cache slot `typeSlot`, or -1). */
function readEffectFields(type: string, typeSlot: number, fields: number): Effect {
  const si = typeSlot < 0 ? -1 : (typeSlot * 33 + fields) & (SHAPE_SLOTS - 1);
  const shape = si < 0 ? undefined : shapes[si];
  let j = 0;
  if (shape !== undefined && shape.fields === fields && shape.type === type) {
    for (; j < fields; j++) {
      const bytes = shape.keyBytes[j]!;
      if (!bytesAt(bytes)) break;
      pos += bytes.length;
      effectValues[j] = readEffectValue();
    }
    if (j === fields) {
      const effect: Effect = { type };
      for (let i = 0; i < fields; i++) effect[shape.keys[i]!] = effectValues[i]!;
      return effect;
    }
    for (let i = 0; i < j; i++) {
      effectKeys[i] = shape.keys[i]!;
      effectKeySlots[i] = shape.keySlots[i]!;
    }
  }
  const known = j;
  for (; j < fields; j++) {
    keyStarts[j] = pos;
    const key = readString(1, LIMITS.effectKey);
    keyEnds[j] = pos;
    checkEffectKey(key, stringSlot, j);
    effectValues[j] = readEffectValue();
  }
  const effect: Effect = { type };
  for (let i = 0; i < fields; i++) effect[effectKeys[i]!] = effectValues[i]!;
  if (si >= 0) {
    // Copies: a view would keep the whole payload alive.
    const keyBytes: Uint8Array[] = [];
    for (let i = 0; i < fields; i++)
      keyBytes.push(
        i < known ? shape!.keyBytes[i]! : Uint8Array.from(src.subarray(keyStarts[i]!, keyEnds[i]!)),
      );
    shapes[si] = {
      type,
      fields,
      keys: effectKeys.slice(0, fields),
      keySlots: Array.from(effectKeySlots.subarray(0, fields)),
      keyBytes,
    };
  }
  return effect;
}

/** The effects of a frame, count included; adds their tuple elements to `effectElements`. */
function readEffects(): Effect[] {
  let n = src[pos]!;
  if (n < 0x80) pos++;
  else n = readUintForm(n, LIMITS.effects);
  if (n > LIMITS.effects) bail();
  const effects: Effect[] = new Array(n);
  for (let k = 0; k < n; k++) {
    const type = readString(1, LIMITS.effectType);
    const typeSlot = stringSlot;
    const fields = src[pos]!;
    if (!(fields <= LIMITS.effectFields)) bail();
    pos++;
    effectElements += 2 + 2 * fields;
    effects[k] = readEffectFields(type, typeSlot, fields);
  }
  return effects;
}

// The chunk reader is one function compiled from the schema, so the read position stays in a local
// (`p`) and the common forms of the common kinds are read inline; everything else goes through the
// readers above (`at(p)` hands them the position, `p = pos` takes it back). Per frame:
//
//   array header (n) · code → switch: fields into v0…, event = { type, name0: v0, … }
//   · mask → switch: fields into o0…, output = { rc: o0, … } · effects · n must match.
//
// Field names and type strings are JSON-quoted schema constants; nothing from the input is compiled.

/** Inline code reading a field of `kind` into the variable `v` (falls back to READ[kind]). */
function inlineRead(kind: FieldKind, v: string): string {
  const slow = `{ at(p); ${v} = READ[${JSON.stringify(kind)}](); p = pos(); }`;
  switch (kind) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 'i32':
      return `b = buf[p]; if (b < 0x80) { ${v} = b; p++; } else ${slow}`;
    case 'size':
      return `b = buf[p]; if (b === 1 || b === 2 || b === 4 || b === 8) { ${v} = b; p++; } else bail();`;
    case 'bool':
      return `b = buf[p]; if (b === 0xc3) { ${v} = true; p++; } else if (b === 0xc2) { ${v} = false; p++; } else bail();`;
    case 'b64':
    case 'b2048':
      return (
        `b = buf[p]; if (b < 0x80) { ${v} = SMALL_BIGINTS[b]; p++; } ` +
        `else if (b === 0xce && p + 5 <= end) { ${v} = u64(view.getUint32(p + 1)); p += 5; } ` +
        `else if (b === 0xcd && p + 3 <= end) { ${v} = u64((buf[p + 1] << 8) | buf[p + 2]); p += 3; } ` +
        `else if (b === 0xcc && p + 2 <= end) { ${v} = u64(buf[p + 1]); p += 2; } ` +
        `else ${slow}`
      );
    default:
      return slow;
  }
}

const chunkReaderSource = (): string => {
  const events = EVENT_SCHEMA.map((e) => {
    const vars = e.fields.map((_f, k) => `v${k}`);
    const reads = e.fields.map(([, kind], k) => inlineRead(kind, `v${k}`)).join('\n');
    const props = e.fields.map(([name], k) => `, ${JSON.stringify(name)}: v${k}`).join('');
    return `case ${e.code}: {${vars.length ? ` let ${vars.join(', ')};` : ''}
${reads}
event = { type: ${JSON.stringify(e.type)}${props} };
elements = ${EVENT_ELEMENTS[e.code]! + 2};
break; }`;
  });
  const outputs = OUTPUT_ELEMENTS.map((extra, mask) => {
    if ((mask & ~OUTPUT_MASK) !== 0) return '';
    const present = OUTPUT_SCHEMA.filter(([bit]) => mask & bit);
    const vars = present.map((_o, k) => `o${k}`);
    const reads = present.map(([, , kind], k) => inlineRead(kind, `o${k}`)).join('\n');
    const props = present.map(([, name], k) => `${JSON.stringify(name)}: o${k}`).join(', ');
    return `case ${mask}: {${vars.length ? ` let ${vars.join(', ')};` : ''}
${reads}
output = { ${props} };
elements += ${extra};
break; }`;
  });
  return `function (buf, view, end, p, count, frames) {
let b, n, event, output, effects, elements;
for (let i = 0; i < count; i++) {
b = buf[p];
if (b >= 0x90 && b <= 0x9f) { n = b - 0x90; p++; }
else if (b === 0xdc && p + 3 <= end) { n = (buf[p + 1] << 8) | buf[p + 2]; p += 3; }
else bail();
switch (buf[p++]) {
${events.join('\n')}
default: bail();
}
switch (buf[p++]) {
${outputs.join('\n')}
default: bail();
}
if (buf[p] === 0) { effects = []; p++; }
else { at(p); effects = readFrameEffects(); p = pos(); elements += effectElementCount(); }
if (elements !== n) bail();
frames[i] = { event, output, effects };
}
return p;
}`;
};

type ChunkReader = (
  buf: Buffer,
  view: DataView,
  end: number,
  p: number,
  count: number,
  frames: Frame[],
) => number;

const readChunk: ChunkReader = (() => {
  const helpers = {
    bail,
    at: (p: number) => {
      pos = p;
    },
    pos: () => pos,
    READ,
    readFrameEffects: () => {
      effectElements = 0;
      return readEffects();
    },
    effectElementCount: () => effectElements,
    SMALL_BIGINTS,
    u64: bigintOfU32,
  };
  const names = Object.keys(helpers);
  const factory = new Function(...names, `return ${chunkReaderSource()};`);
  return factory(...Object.values(helpers)) as ChunkReader;
})();

/** The smallest frame: array header, code, output mask, effect count. */
const MIN_FRAME_BYTES = 4;

/**
 * The `count` frames of a payload if it holds exactly that many valid frames in the forms the
 * writer produces; undefined otherwise (the reference then decodes it, or says what is wrong).
 */
export function readFramesFast(payload: Uint8Array, count: number): Frame[] | undefined {
  if (!(count >= 1 && count * MIN_FRAME_BYTES <= payload.length)) return undefined;
  src = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  end = payload.length;
  // Filled in order, every slot (a payload that ends early bails before the array is used).
  const frames: Frame[] = new Array(count);
  try {
    return readChunk(src, view, end, 0, count, frames) === end ? frames : undefined;
  } catch {
    // A bail, or anything unforeseen: the reference decodes the chunk or reports the problem.
    return undefined;
  } finally {
    src = EMPTY;
    view = EMPTY_VIEW;
  }
}

/**
 * The frames of one chunk from its inflated payload (`count` frames). Validates every record;
 * throws TraceError INVALID_RECORD at `offset` (the chunk) naming the event position.
 */
export function decodeFrames(payload: Uint8Array, count: number, first: number, offset: number): Frame[] {
  return readFramesFast(payload, count) ?? decodeTuples(payload, count, first, offset);
}
