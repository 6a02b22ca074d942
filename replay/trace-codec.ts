// Trace format v1, the frame codec's reference half: frames ↔ the msgpack tuples of a chunk payload
// (one array per frame), driven by the schema in trace-schema.ts (FRAME_LAYOUT), with msgpackr
// doing the bytes. This is the definition of the payload: trace-payload.ts encodes and decodes
// the same bytes directly (without tuples, many times faster), is tested against this file byte
// for byte and value for value, and falls back to `decodeTuples` for any chunk its fast reader
// does not take (anything but the forms the writer produces, and every invalid record), so the
// errors, and what is accepted, are defined here.
//
// Encoders and decoders are compiled per event type from the schema. Encoding checks every field
// against the same rules decoding enforces, so the writer never produces a record the reader would
// reject. Decoding treats its input as untrusted: every value is type- and range-checked, objects
// are built with known keys only, and any problem is a TraceError INVALID_RECORD naming the chunk
// offset and the event position.

import type { Effect, EffectValue, EngineEvent, Output } from '../engine/events.js';
import type { Frame } from './frame.js';
import { TraceError } from './trace-error.js';
import {
  EFFECT_SCHEMA,
  EVENT_SCHEMA,
  type FieldKind,
  isKernelQuirk,
  LIMITS,
  newPackr,
  newUnpackr,
  OUTPUT_SCHEMA,
} from './trace-schema.js';

export const MIN_B64 = -(1n << 63n);
export const MAX_U64 = (1n << 64n) - 1n;
export const MAX_B2048 = (1n << 2048n) - 1n;

/** A record problem before it is placed (chunk offset, position) by the caller. */
export class BadRecord extends Error {}

export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(EFFECT_SCHEMA.forbiddenKeys);

/** The values of the enumerated field kinds (FIELD_KINDS), in the order the messages list them. */
export const ENUM_VALUES = {
  bool: [false, true],
  size: [1, 2, 4, 8],
  host: ['gicv3', 'gicv4.1'],
  dev: ['gic', 'its'],
  'irq-kind': ['spi', 'ppi'],
} as const satisfies Partial<Record<FieldKind, readonly unknown[]>>;

// ---- encoding --------------------------------------------------------------------------------

type Put = (value: unknown, out: unknown[], what: string) => void;

function putB64(v: unknown, out: unknown[], what: string): void {
  if (typeof v === 'bigint') {
    // Number() is exact below 2^53, so this picks out the int32/uint32 range cheaply.
    const n = Number(v);
    if (n >= -0x8000_0000 && n <= 0xffff_ffff) {
      out.push(n);
      return;
    }
    if (v >= MIN_B64 && v <= MAX_U64) {
      out.push(v);
      return;
    }
  }
  throw new BadRecord(`${what}: expected a 64-bit bigint, got ${show(v)}`);
}

function putB2048(v: unknown, out: unknown[], what: string): void {
  if (typeof v === 'bigint' && v > MAX_U64 && v <= MAX_B2048) {
    let hex = v.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    out.push(Uint8Array.from(Buffer.from(hex, 'hex')));
    return;
  }
  if (typeof v !== 'bigint' || v < MIN_B64) {
    throw new BadRecord(`${what}: expected a bigint of at most 2048 bits, got ${show(v)}`);
  }
  putB64(v, out, what);
}

/** A list of exactly `count` b64 values (hvc x0–x5, x0–x3 of its output). */
function putList(count: number): Put {
  return (v, out, what) => {
    if (!Array.isArray(v) || v.length !== count)
      throw new BadRecord(`${what}: expected an array of ${count} bigints`);
    out.push(v.length);
    for (const item of v) putB64(item, out, what);
  };
}

function putInt(min: number, max: number): Put {
  return (v, out, what) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new BadRecord(`${what}: expected an integer ${min}..${max}, got ${show(v)}`);
    }
    out.push(v);
  };
}

function putOneOf(values: readonly unknown[]): Put {
  return (v, out, what) => {
    if (!values.includes(v))
      throw new BadRecord(`${what}: expected one of ${values.join(' ')}, got ${show(v)}`);
    out.push(v);
  };
}

const PUT: Record<FieldKind, Put> = {
  u8: putInt(0, 0xff),
  u16: putInt(0, 0xffff),
  u32: putInt(0, 0xffff_ffff),
  i32: putInt(-0x8000_0000, 0x7fff_ffff),
  bool: putOneOf(ENUM_VALUES.bool),
  size: putOneOf(ENUM_VALUES.size),
  host: putOneOf(ENUM_VALUES.host),
  dev: putOneOf(ENUM_VALUES.dev),
  'irq-kind': putOneOf(ENUM_VALUES['irq-kind']),
  str: (v, out, what) => {
    if (typeof v !== 'string' || v.length > LIMITS.string) {
      throw new BadRecord(`${what}: expected a string of at most ${LIMITS.string} characters`);
    }
    out.push(v);
  },
  'kernel-quirks': (v, out, what) => {
    if (!Array.isArray(v) || v.length > LIMITS.quirks || !v.every(isKernelQuirk)) {
      throw new BadRecord(`${what}: expected a list of kernel quirk names`);
    }
    out.push([...v]);
  },
  b64: putB64,
  'b64?': (v, out, what) => {
    if (v === null) out.push(null);
    else putB64(v, out, what);
  },
  b2048: putB2048,
  'b64-list6': putList(6),
  'b64-list4': putList(4),
};

type EventEncoder = (event: Record<string, unknown>, out: unknown[]) => void;

/** `function (e, out) { out.push(code); p0(e.name0, out, 'type.name0'); … }`, from the schema. */
function compileEventEncoder(
  code: number,
  type: string,
  fields: readonly (readonly [string, FieldKind])[],
): EventEncoder {
  const lines = fields.map(
    ([name], k) => `p${k}(e[${JSON.stringify(name)}], out, ${JSON.stringify(`${type}.${name}`)});`,
  );
  const body = `return function (e, out) { out.push(${code}); ${lines.join(' ')} };`;
  const factory = new Function(...fields.map((_f, k) => `p${k}`), body) as (...puts: Put[]) => EventEncoder;
  return factory(...fields.map(([, kind]) => PUT[kind]));
}

const ENCODERS: ReadonlyMap<string, EventEncoder> = new Map(
  EVENT_SCHEMA.map((e) => [e.type, compileEventEncoder(e.code, e.type, e.fields)]),
);

function putEffectValue(v: unknown, out: unknown[], what: string): void {
  switch (typeof v) {
    case 'string':
      if (v.length > LIMITS.string) throw new BadRecord(`${what}: string too long`);
      break;
    case 'boolean':
      break;
    case 'number':
      if (!Number.isFinite(v)) throw new BadRecord(`${what}: number ${v} is not finite`);
      break;
    case 'bigint':
      // Always int64/uint64 on the wire, so it decodes as a bigint again.
      if (v < MIN_B64 || v > MAX_U64) throw new BadRecord(`${what}: bigint wider than 64 bits`);
      break;
    default:
      throw new BadRecord(`${what}: field of type ${typeof v}`);
  }
  out.push(v);
}

function putEffect(effect: Effect, out: unknown[]): void {
  if (typeof effect !== 'object' || effect === null) throw new BadRecord('effect is not an object');
  const type = effect.type;
  if (typeof type !== 'string' || type.length === 0 || type.length > LIMITS.effectType) {
    throw new BadRecord(`effect type must be a string of 1..${LIMITS.effectType} characters`);
  }
  out.push(type);
  const countAt = out.length;
  out.push(0);
  let count = 0;
  for (const key in effect) {
    if (key === 'type' || !Object.hasOwn(effect, key)) continue;
    const value = effect[key];
    if (value === undefined) continue;
    if (FORBIDDEN_KEYS.has(key) || key.length === 0 || key.length > LIMITS.effectKey) {
      throw new BadRecord(`effect ${type}: field name ${show(key)} not allowed`);
    }
    if (++count > LIMITS.effectFields)
      throw new BadRecord(`effect ${type}: more than ${LIMITS.effectFields} fields`);
    out.push(key);
    putEffectValue(value, out, `effect ${type}.${key}`);
  }
  out[countAt] = count;
}

const [RC_BIT, VALUE_BIT, X_BIT] = OUTPUT_SCHEMA.map(([bit]) => bit) as [number, number, number];
const OUTPUT_PUTS = OUTPUT_SCHEMA.map(([bit, name, kind]) => ({
  bit,
  name,
  put: PUT[kind],
  what: `output.${name}`,
}));

/**
 * The tuple of `frame` (FRAME_LAYOUT); throws TraceError INVALID_RECORD (at `offset`, naming
 * `position`) if the frame does not fit the schema. The reference for trace-payload.ts
 * `PayloadEncoder`, which writes `packTuples` of these tuples without building them.
 */
export function encodeFrame(frame: Frame, position: number, offset: number): unknown[] {
  const out: unknown[] = [];
  try {
    const event = frame.event as unknown as Record<string, unknown>;
    const encode = ENCODERS.get(event.type as string);
    if (!encode) throw new BadRecord(`unknown event type ${show(event.type)}`);
    encode(event, out);
    const output = frame.output as Record<string, unknown>;
    const mask =
      (output.rc !== undefined ? RC_BIT : 0) |
      (output.value !== undefined ? VALUE_BIT : 0) |
      (output.x !== undefined ? X_BIT : 0);
    out.push(mask);
    if (mask !== 0) for (const o of OUTPUT_PUTS) if (mask & o.bit) o.put(output[o.name], out, o.what);
    const effects = frame.effects;
    if (!Array.isArray(effects) || effects.length > LIMITS.effects) {
      throw new BadRecord(`effects must be an array of at most ${LIMITS.effects}`);
    }
    out.push(effects.length);
    for (const effect of effects) putEffect(effect, out);
  } catch (e) {
    if (e instanceof BadRecord)
      throw new TraceError('INVALID_RECORD', offset, `cannot record event #${position}: ${e.message}`);
    throw e;
  }
  return out;
}

/**
 * A chunk payload: the frame tuples as consecutive msgpack arrays (no enclosing array), packed
 * with a fresh packer. Packing them as one array and dropping its header gives exactly that.
 */
export function packTuples(tuples: readonly unknown[][]): Uint8Array {
  const all = newPackr().pack(tuples);
  const tag = all[0]!;
  const header = tag === 0xdc ? 3 : tag === 0xdd ? 5 : 1;
  return Uint8Array.from(all.subarray(header));
}

// ---- decoding --------------------------------------------------------------------------------
//
// The reading state is module-level (decoding is synchronous and not re-entrant), and each
// event type gets a decoder compiled from the schema, so every event of a type is built by one
// object literal with its keys in schema order: one hidden class per type, no keyed stores.
// Reading past the end of the list yields `undefined`, which every field check rejects.

let src: unknown[] = [];
let at = 0;

type Get = (what: string) => unknown;

function fail(what: string, detail: string, v: unknown): never {
  throw new BadRecord(`${what}: ${detail}, got ${show(v)}`);
}

function getInt(min: number, max: number): Get {
  return (what) => {
    const v = src[at++];
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    return fail(what, `expected an integer ${min}..${max}`, v);
  };
}

function getOneOf(values: readonly unknown[]): Get {
  // Unused slots repeat the first value, so `undefined` never matches by accident.
  const [a, b = a, c = a, d = a] = values;
  const text = `expected one of ${values.join(' ')}`;
  return (what) => {
    const v = src[at++];
    if (v === a || v === b || v === c || v === d) return v;
    return fail(what, text, v);
  };
}

/** A b64 from an int (number) or int64/uint64 (bigint, always in range). */
function b64From(v: unknown, what: string): bigint {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return BigInt(v);
  } else if (typeof v === 'bigint' && v >= MIN_B64 && v <= MAX_U64) {
    return v;
  }
  return fail(what, 'expected a 64-bit integer', v);
}

const getB64: Get = (what) => b64From(src[at++], what);

const getB2048: Get = (what) => {
  const v = src[at++];
  if (v instanceof Uint8Array) {
    if (v.length < 9 || v.length > LIMITS.bigBytes || v[0] === 0) {
      fail(what, `expected a big value of 9..${LIMITS.bigBytes} bytes without a leading zero`, v);
    }
    return BigInt(`0x${Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex')}`);
  }
  return b64From(v, what);
};

function getList(count: number): Get {
  return (what) => {
    const n = src[at++];
    if (n !== count) fail(what, `expected a list length of ${count}`, n);
    const list: bigint[] = new Array(n);
    for (let k = 0; k < n; k++) list[k] = b64From(src[at++], what);
    return list;
  };
}

function getString(max: number): Get {
  return (what) => {
    const v = src[at++];
    if (typeof v === 'string' && v.length <= max) return v;
    return fail(what, `expected a string of at most ${max} characters`, v);
  };
}

const GET: Record<FieldKind, Get> = {
  u8: getInt(0, 0xff),
  u16: getInt(0, 0xffff),
  u32: getInt(0, 0xffff_ffff),
  i32: getInt(-0x8000_0000, 0x7fff_ffff),
  bool: getOneOf(ENUM_VALUES.bool),
  size: getOneOf(ENUM_VALUES.size),
  host: getOneOf(ENUM_VALUES.host),
  dev: getOneOf(ENUM_VALUES.dev),
  'irq-kind': getOneOf(ENUM_VALUES['irq-kind']),
  str: getString(LIMITS.string),
  'kernel-quirks': (what) => {
    const v = src[at++];
    if (!Array.isArray(v) || v.length > LIMITS.quirks) fail(what, 'expected a list of kernel quirks', v);
    const names: string[] = [];
    for (const q of v as unknown[]) {
      if (!isKernelQuirk(q)) fail(what, 'unknown kernel quirk', q);
      names.push(q as string);
    }
    return names;
  },
  b64: getB64,
  'b64?': (what) => {
    const v = src[at++];
    return v === null ? null : b64From(v, what);
  },
  b2048: getB2048,
  'b64-list6': getList(6),
  'b64-list4': getList(4),
};

/**
 * `function (g0, g1, …) { return function () { return { type, name0: g0('type.name0'), … } } }`:
 * field names and type strings come from the schema constants (JSON-quoted), never from input.
 */
function compileEventDecoder(
  type: string,
  fields: readonly (readonly [string, FieldKind])[],
): () => EngineEvent {
  const props = fields.map(
    ([name], k) => `${JSON.stringify(name)}: g${k}(${JSON.stringify(`${type}.${name}`)})`,
  );
  const body = `return function () { return { type: ${JSON.stringify(type)}${props.map((p) => `, ${p}`).join('')} }; };`;
  const factory = new Function(...fields.map((_f, k) => `g${k}`), body) as (
    ...gets: Get[]
  ) => () => EngineEvent;
  return factory(...fields.map(([, kind]) => GET[kind]));
}

const DECODERS: readonly (() => EngineEvent)[] = EVENT_SCHEMA.map((e) =>
  compileEventDecoder(e.type, e.fields),
);

const OUTPUT_MASK = OUTPUT_SCHEMA.reduce((m, [bit]) => m | bit, 0);

/** The output decoder, compiled from OUTPUT_SCHEMA the same way (fields added in schema order). */
const decodeOutputFields: (mask: number) => Output = (() => {
  const lines = OUTPUT_SCHEMA.map(
    ([bit, name], k) =>
      `if (mask & ${bit}) o[${JSON.stringify(name)}] = g${k}(${JSON.stringify(`output.${name}`)});`,
  );
  const body = `return function (mask) { const o = {}; ${lines.join(' ')} return o; };`;
  const factory = new Function(...OUTPUT_SCHEMA.map((_o, k) => `g${k}`), body) as (
    ...gets: Get[]
  ) => (m: number) => Output;
  return factory(...OUTPUT_SCHEMA.map(([, , kind]) => GET[kind]));
})();

function decodeEvent(): EngineEvent {
  const code = src[at++];
  const decoder = typeof code === 'number' ? DECODERS[code] : undefined;
  if (!decoder) throw new BadRecord(`unknown event type code ${show(code)}`);
  return decoder();
}

function decodeOutput(): Output {
  const mask = src[at++];
  if (mask === 0) return {};
  if (typeof mask !== 'number' || !Number.isInteger(mask) || mask < 0 || (mask & ~OUTPUT_MASK) !== 0) {
    throw new BadRecord(`bad output mask ${show(mask)}`);
  }
  return decodeOutputFields(mask);
}

function decodeEffects(): Effect[] {
  const n = src[at++];
  if (n === 0) return [];
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > LIMITS.effects) {
    throw new BadRecord(`bad effect count ${show(n)}`);
  }
  const effects: Effect[] = new Array(n);
  for (let k = 0; k < n; k++) {
    const type = src[at++];
    if (typeof type !== 'string' || type.length === 0 || type.length > LIMITS.effectType) {
      throw new BadRecord(`bad effect type ${show(type)}`);
    }
    const fields = src[at++];
    if (
      typeof fields !== 'number' ||
      !Number.isInteger(fields) ||
      fields < 0 ||
      fields > LIMITS.effectFields
    ) {
      throw new BadRecord(`bad effect field count ${show(fields)}`);
    }
    const effect: Effect = { type };
    for (let j = 0; j < fields; j++) {
      const key = src[at++];
      if (
        typeof key !== 'string' ||
        key.length === 0 ||
        key.length > LIMITS.effectKey ||
        FORBIDDEN_KEYS.has(key) ||
        Object.hasOwn(effect, key)
      ) {
        throw new BadRecord(`effect ${type}: field name ${show(key)} not allowed`);
      }
      effect[key] = effectValue(src[at++], type);
    }
    effects[k] = effect;
  }
  return effects;
}

function effectValue(v: unknown, type: string): EffectValue {
  switch (typeof v) {
    case 'string':
      if (v.length > LIMITS.string) throw new BadRecord(`effect ${type}: string too long`);
      return v;
    case 'boolean':
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw new BadRecord(`effect ${type}: number not finite`);
      return v;
    case 'bigint':
      if (v < MIN_B64 || v > MAX_U64) throw new BadRecord(`effect ${type}: bigint out of range`);
      return v;
    default:
      throw new BadRecord(`effect ${type}: field of type ${v === null ? 'null' : typeof v}`);
  }
}

/** Decodes one frame tuple (the reading state is set to it). */
function decodeTuple(tuple: unknown): Frame {
  if (!Array.isArray(tuple)) throw new BadRecord(`frame is ${show(tuple)}, not a tuple`);
  src = tuple;
  at = 0;
  let event: EngineEvent;
  let output: Output;
  let effects: Effect[];
  try {
    event = decodeEvent();
    output = decodeOutput();
    effects = decodeEffects();
  } catch (e) {
    // A field check failed on `undefined` because the tuple was too short: say so.
    if (e instanceof BadRecord && at > tuple.length) throw new BadRecord('tuple ends inside the frame');
    throw e;
  }
  if (at > tuple.length) throw new BadRecord('tuple ends inside the frame');
  if (at < tuple.length) throw new BadRecord(`${tuple.length - at} values after the frame`);
  return { event, output, effects };
}

/**
 * The frames of one chunk from its inflated payload (`count` tuples), unpacked by msgpackr.
 * Validates every record; throws TraceError INVALID_RECORD at `offset` (the chunk) naming the
 * event position. The reference for, and the fallback of, trace-payload.ts `decodeFrames`.
 */
export function decodeTuples(payload: Uint8Array, count: number, first: number, offset: number): Frame[] {
  const frames: Frame[] = [];
  try {
    newUnpackr().unpackMultiple(payload, (tuple: unknown) => {
      if (frames.length === count)
        throw new BadRecord(`more than the ${count} frames the chunk frame announces`);
      frames.push(decodeTuple(tuple));
    });
  } catch (e) {
    const where = `event #${first + frames.length} in the chunk at this offset`;
    if (e instanceof BadRecord) throw new TraceError('INVALID_RECORD', offset, `${where}: ${e.message}`);
    throw new TraceError('INVALID_RECORD', offset, `${where}: payload does not unpack (${errorText(e)})`);
  } finally {
    src = [];
  }
  if (frames.length !== count) {
    throw new TraceError(
      'INVALID_RECORD',
      offset,
      `chunk of #${first} holds ${frames.length} frames, not ${count}`,
    );
  }
  return frames;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}
