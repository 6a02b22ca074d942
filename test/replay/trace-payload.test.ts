// The fast payload codec (replay/trace-payload.ts) against the reference (replay/trace-codec.ts):
// the encoder writes exactly `packTuples(frames.map(encodeFrame))` and refuses exactly what the
// reference refuses (same messages); the fast reader returns exactly what the reference decodes
// (values, types, key order, prototypes) or gives up, and gives up on everything the reference
// rejects; `decodeFrames` is the reference's result or error for any payload.

import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { QUIRKS } from '../../devices/quirks.js';
import type { Effect, EngineEvent, Output } from '../../engine/events.js';
import type { Frame } from '../../replay/frame.js';
import { decodeTuples, encodeFrame, packTuples } from '../../replay/trace-codec.js';
import { TraceError } from '../../replay/trace-error.js';
import { decodeFrames, PayloadEncoder, readFramesFast } from '../../replay/trace-payload.js';
import { EVENT_SCHEMA, type FieldKind, LIMITS, MSGPACKR_OPTIONS } from '../../replay/trace-schema.js';

const packr = new Packr({ ...MSGPACKR_OPTIONS });
const KERNEL_QUIRKS = QUIRKS.filter((q) => q.side === 'kernel').map((q) => q.name);
const MIN_B64 = -(1n << 63n);
const MAX_U64 = (1n << 64n) - 1n;

// ---- arbitraries -------------------------------------------------------------------------------

/** UTF-16 units of every sort: ASCII, 2- and 3-byte BMP, astral pairs, lone surrogates, BOM. */
const unit = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), weight: 8 },
  fc.integer({ min: 0x80, max: 0x7ff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x800, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
  fc.constantFrom('\ufeff', '\ud800', '\udfff', '\u2028'),
);
const text = (maxLength: number, minLength = 0): fc.Arbitrary<string> =>
  fc.oneof(
    {
      arbitrary: fc.string({ unit: 'grapheme-ascii', minLength, maxLength: Math.min(maxLength, 12) }),
      weight: 4,
    },
    fc.string({ unit, minLength, maxLength: Math.min(maxLength, 80) }),
    // Long runs (past the 32-unit and 64-unit string paths), cut anywhere (even inside a pair).
    fc
      .tuple(fc.integer({ min: minLength, max: maxLength }), fc.constantFrom('a', 'é', '✓', '😀'))
      .map(([n, ch]) => ch.repeat(n).slice(0, n)),
  );

const u64Edges = [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x100n, 0xffffn, 0x1_0000n, 0x7fff_ffffn, 0x8000_0000n];
const b64 = fc.oneof(
  fc.constantFrom(
    ...u64Edges,
    ...u64Edges.map((v) => -v),
    0xffff_ffffn,
    0x1_0000_0000n,
    -(1n << 31n),
    -(1n << 31n) - 1n,
    (1n << 63n) - 1n,
    1n << 63n,
    MAX_U64,
    MIN_B64,
  ),
  fc.bigInt({ min: 0n, max: 0xffff_ffffn }),
  fc.bigInt({ min: MIN_B64, max: MAX_U64 }),
);
const b2048 = fc.oneof(b64, fc.bigInt({ min: 1n << 64n, max: (1n << 2048n) - 1n }));
const int = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ min, max }),
    fc.constantFrom(min, max, ...(min <= 0 && max >= 0x80 ? [0x7f, 0x80] : [])),
  );

const FIELD: Record<FieldKind, fc.Arbitrary<unknown>> = {
  u8: int(0, 0xff),
  u16: int(0, 0xffff),
  u32: int(0, 0xffff_ffff),
  i32: int(-0x8000_0000, 0x7fff_ffff),
  bool: fc.boolean(),
  size: fc.constantFrom(1, 2, 4, 8),
  host: fc.constantFrom('gicv3', 'gicv4.1'),
  dev: fc.constantFrom('gic', 'its'),
  'irq-kind': fc.constantFrom('spi', 'ppi'),
  str: text(LIMITS.string),
  'kernel-quirks': fc.subarray(KERNEL_QUIRKS),
  b64,
  'b64?': fc.oneof(fc.constant(null), b64),
  b2048,
  'b64-list6': fc.array(b64, { minLength: 6, maxLength: 6 }),
  'b64-list4': fc.array(b64, { minLength: 4, maxLength: 4 }),
};

const effectValue = fc.oneof(
  text(LIMITS.string),
  fc.boolean(),
  fc.integer(),
  fc.constantFrom(
    0,
    -0,
    0x7f,
    0x80,
    0xffff_ffff,
    -0x8000_0000,
    2 ** 32,
    2 ** 53,
    -1.5,
    0.1,
    Number.MAX_VALUE,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  b64,
);
const FORBIDDEN = new Set(['type', '__proto__', 'constructor', 'prototype']);
const effectKey = fc.oneof(
  {
    arbitrary: fc.constantFrom('vcpu', 'addr', 'size', 'write', 'value', 'level', '0', '7', 'toString'),
    weight: 4,
  },
  text(LIMITS.effectKey, 1),
);
const effect: fc.Arbitrary<Effect> = fc
  .tuple(
    fc.oneof(fc.constantFrom('mmio.exit', 'cpu.irq.set', 'guest.undef'), text(LIMITS.effectType, 1)),
    fc.uniqueArray(fc.tuple(effectKey, effectValue), { selector: ([k]) => k, maxLength: 7 }),
  )
  .map(([type, fields]) => {
    const e: Effect = { type };
    for (const [k, v] of fields) if (!FORBIDDEN.has(k)) e[k] = v;
    return e;
  });

const output: fc.Arbitrary<Output> = fc
  .record(
    { rc: FIELD.i32 as fc.Arbitrary<number>, value: b2048, x: FIELD['b64-list4'] as fc.Arbitrary<bigint[]> },
    { requiredKeys: [] },
  )
  .map((o) => ({ ...o }));

/** Valid frames of every event type (strings, numbers and bigints at their edges). */
const frame: fc.Arbitrary<Frame> = fc.constantFrom(...EVENT_SCHEMA).chain((entry) =>
  fc
    .tuple(
      fc.tuple(...entry.fields.map(([, kind]) => FIELD[kind])),
      output,
      fc.oneof({ arbitrary: fc.constant<Effect[]>([]), weight: 2 }, fc.array(effect, { maxLength: 3 })),
    )
    .map(([values, out, effects]) => {
      const event: Record<string, unknown> = { type: entry.type };
      entry.fields.forEach(([name], k) => {
        event[name] = values[k];
      });
      return { event: event as unknown as EngineEvent, output: out, effects };
    }),
);

/** Values that break a field: wrong types, out of range, holes, oversize. */
const hostile = fc.oneof(
  fc.constantFrom(
    undefined,
    null,
    -1,
    0.5,
    2 ** 32,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    'x',
    'n'.repeat(4097),
    1n << 64n,
    MIN_B64 - 1n,
    1n << 2048n,
    true,
    [],
    [1n, 2n],
    // biome-ignore lint/suspicious/noSparseArray: a hole is a case the encoder must refuse
    [, 1n, 2n, 3n],
    {},
    new Date(0),
    Symbol('s'),
  ),
  fc.integer(),
  fc.bigInt(),
  fc.string({ maxLength: 3 }),
);

// ---- helpers -----------------------------------------------------------------------------------

function encodeFast(frames: readonly Frame[]): Uint8Array {
  const encoder = new PayloadEncoder();
  frames.forEach((f, i) => {
    encoder.append(f, i + 1, 0);
  });
  return Uint8Array.from(encoder.payload());
}

function encodeReference(frames: readonly Frame[]): Uint8Array {
  return packTuples(frames.map((f, i) => encodeFrame(f, i + 1, 0)));
}

function outcome(run: () => unknown): { value: unknown } | { error: string } {
  try {
    return { value: run() };
  } catch (e) {
    if (e instanceof TraceError) return { error: `${e.code} ${e.message}` };
    return { error: `${(e as Error).constructor.name}` };
  }
}

/** Key order of every object, recursively (toStrictEqual does not compare it). */
function keyOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(keyOrder);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array))
    return Object.entries(value).map(([k, v]) => [k, keyOrder(v)]);
  return null;
}

function expectSameFrames(actual: Frame[] | undefined, expected: Frame[]): void {
  expect(actual).toBeDefined();
  expect(actual).toStrictEqual(expected);
  expect(keyOrder(actual)).toEqual(keyOrder(expected));
  for (const f of actual!) {
    expect(Object.getPrototypeOf(f.event)).toBe(Object.prototype);
    for (const e of f.effects) expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
  }
}

/** The fast reader agrees with the reference on this payload, or gives up where it may. */
function expectAgreement(payload: Uint8Array, count: number): void {
  const reference = outcome(() => decodeTuples(payload, count, 1, 0));
  const fast = outcome(() => readFramesFast(payload, count));
  expect('value' in fast).toBe(true);
  const fastFrames = (fast as { value: Frame[] | undefined }).value;
  if ('error' in reference) expect(fastFrames).toBeUndefined();
  else if (fastFrames !== undefined) expectSameFrames(fastFrames, reference.value as Frame[]);
  expect(outcome(() => decodeFrames(payload, count, 1, 0))).toStrictEqual(reference);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s) && !s.startsWith('\ufeff');
/** Strings the fast reader reads itself (the rest it leaves to the reference, which is allowed). */
function fastReadable(frames: readonly Frame[]): boolean {
  let ok = true;
  JSON.stringify(frames, (k, v) => {
    if (!wellFormed(k) || (typeof v === 'string' && !wellFormed(v))) ok = false;
    if (typeof v === 'bigint') return null;
    return v;
  });
  return ok;
}

// ---- encoder -----------------------------------------------------------------------------------

describe('payload encoder', () => {
  it('writes exactly the reference bytes for any valid frames', () => {
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 8 }), (frames) => {
        expect(Buffer.from(encodeFast(frames)).equals(Buffer.from(encodeReference(frames)))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses exactly what the reference refuses, with the same message, and stays unchanged', () => {
    const broken = fc
      .tuple(frame, fc.constantFrom('event', 'output', 'effect', 'frame'), fc.nat(), hostile, text(8, 1))
      .map(([f, where, n, bad, key]) => {
        const event = { ...(f.event as unknown as Record<string, unknown>) };
        const out = { ...f.output } as Record<string, unknown>;
        const effects: unknown[] = f.effects.map((e) => ({ ...e }));
        const fields = EVENT_SCHEMA.find((e) => e.type === event.type)!.fields;
        if (where === 'event') {
          if (fields.length === 0) event.type = bad;
          else event[fields[n % fields.length]![0]] = bad;
        } else if (where === 'output') out[['rc', 'value', 'x'][n % 3]!] = bad;
        else if (where === 'effect') {
          if (n % (effects.length + 1) === effects.length) effects.push({ type: 'e' });
          const e = effects[n % effects.length] as Record<string, unknown>;
          // The type, a forbidden key (as an own property), or any key.
          const name = n % 3 === 0 ? 'type' : n % 3 === 1 ? [...FORBIDDEN][n % 4]! : key;
          Object.defineProperty(e, name, {
            value: bad,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else return { event, output: out, effects: bad } as unknown as Frame;
        return { event, output: out, effects } as unknown as Frame;
      });
    fc.assert(
      fc.property(frame, broken, frame, (before, bad, after) => {
        const reference = outcome(() => encodeFrame(bad, 2, 7));
        const encoder = new PayloadEncoder();
        encoder.append(before, 1, 7);
        const fast = outcome(() => encoder.append(bad, 2, 7));
        if ('error' in reference) {
          expect(fast).toStrictEqual(reference);
          encoder.append(after, 2, 7);
          expect(Buffer.from(encoder.payload()).equals(Buffer.from(encodeReference([before, after])))).toBe(
            true,
          );
          expect(encoder.frames).toBe(2);
        } else {
          expect('error' in fast).toBe(false);
          expect(Buffer.from(encoder.payload()).equals(Buffer.from(encodeReference([before, bad])))).toBe(
            true,
          );
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('handles the largest tuples, long strings and buffer growth', () => {
    const fields: Effect = { type: 't'.repeat(LIMITS.effectType) };
    for (let k = 0; k < LIMITS.effectFields; k++) fields[`${'k'.repeat(40)}${k}`] = 's'.repeat(400);
    const frames: Frame[] = [
      {
        event: { type: 'trace.note', text: '✓'.repeat(LIMITS.string) },
        output: { rc: -1, value: (1n << 2048n) - 1n, x: [MAX_U64, MIN_B64, 0n, 1n] },
        effects: Array.from({ length: LIMITS.effects }, (_, i) => (i % 50 === 0 ? fields : { type: 'e', i })),
      },
      { event: { type: 'vm.stop' }, output: {}, effects: [] },
    ];
    const bytes = encodeFast(frames);
    expect(bytes.length).toBeGreaterThan(1 << 16);
    expect(Buffer.from(bytes).equals(Buffer.from(encodeReference(frames)))).toBe(true);
    expectSameFrames(readFramesFast(bytes, 2), decodeTuples(bytes, 2, 1, 0));
  });

  it('writes the right header when an effect changes while it is written', () => {
    let reads = 0;
    const shifty = { type: 'shifty' } as Effect;
    Object.defineProperty(shifty, 'a', { enumerable: true, get: () => (reads++ % 2 ? 1 : undefined) });
    const many = { type: 'many' } as Effect;
    for (let k = 0; k < 8; k++) many[`f${k}`] = k;
    let flips = 0;
    const shrinking = { type: 'shrinking' } as Effect;
    for (let k = 0; k < 8; k++)
      Object.defineProperty(shrinking, `f${k}`, {
        enumerable: true,
        get: () => (flips++ < 8 ? k : undefined),
      });
    for (const [effects, fields] of [
      [[shifty], { a: 1 }],
      [[many, shrinking], {}],
    ] as const) {
      const frames: Frame[] = [{ event: { type: 'vm.stop' }, output: {}, effects: [...effects] }];
      const [read] = decodeTuples(encodeFast(frames), 1, 1, 0);
      expect(read!.effects.at(-1)).toEqual({ type: effects.at(-1)!.type, ...fields });
    }
  });
});

// ---- reader ------------------------------------------------------------------------------------

/** A msgpack writer that picks any valid form, not only the smallest (what other packers may do). */
function looseBytes(value: unknown, pick: () => number): number[] {
  const out: number[] = [];
  /** A tag byte, then `v` big-endian in `n` bytes. */
  const head = (tag: number, v: bigint, n: number) => {
    out.push(tag);
    for (let k = n - 1; k >= 0; k--) out.push(Number((v >> BigInt(8 * k)) & 0xffn));
  };
  const one = (forms: (() => void)[]) => forms[pick() % forms.length]!();
  const put = (v: unknown): void => {
    if (typeof v === 'number' && Number.isInteger(v) && !Object.is(v, -0) && Math.abs(v) < 2 ** 32) {
      const b = BigInt(v);
      const float = Buffer.alloc(8);
      float.writeDoubleBE(v);
      const forms: (() => void)[] = [() => out.push(0xcb, ...float)];
      if (v >= 0 && v < 0x80) forms.push(() => out.push(v));
      if (v >= 0 && v < 0x100) forms.push(() => head(0xcc, b, 1));
      if (v >= 0 && v < 0x10000) forms.push(() => head(0xcd, b, 2));
      if (v >= 0) forms.push(() => head(0xce, b, 4));
      if (v >= -0x20 && v < 0) forms.push(() => out.push(0x100 + v));
      if (v >= -0x80 && v < 0x80) forms.push(() => head(0xd0, BigInt.asUintN(8, b), 1));
      if (v >= -0x8000 && v < 0x8000) forms.push(() => head(0xd1, BigInt.asUintN(16, b), 2));
      if (v >= -(2 ** 31) && v < 2 ** 31) forms.push(() => head(0xd2, BigInt.asUintN(32, b), 4));
      one(forms);
    } else if (typeof v === 'string') {
      const bytes = Buffer.from(v);
      const n = BigInt(bytes.length);
      const forms: (() => void)[] = [() => head(0xda, n, 2), () => head(0xdb, n, 4)];
      if (bytes.length < 0x20) forms.push(() => out.push(0xa0 | bytes.length));
      if (bytes.length < 0x100) forms.push(() => head(0xd9, n, 1));
      one(forms);
      out.push(...bytes);
    } else if (Array.isArray(v)) {
      const n = BigInt(v.length);
      const forms: (() => void)[] = [() => head(0xdc, n, 2), () => head(0xdd, n, 4)];
      if (v.length < 0x10) forms.push(() => out.push(0x90 | v.length));
      one(forms);
      for (const item of v) put(item);
    } else if (v instanceof Uint8Array) {
      const n = BigInt(v.length);
      const forms: (() => void)[] = [() => head(0xc5, n, 2), () => head(0xc6, n, 4)];
      if (v.length < 0x100) forms.push(() => head(0xc4, n, 1));
      one(forms);
      out.push(...v);
    } else out.push(...packr.pack(v));
  };
  put(value);
  return out;
}

describe('fast payload reader', () => {
  it('reads what the writer writes, exactly as the reference does', () => {
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 8 }), (frames) => {
        const payload = encodeReference(frames);
        const fast = readFramesFast(payload, frames.length);
        if (fastReadable(frames)) expectSameFrames(fast, decodeTuples(payload, frames.length, 1, 0));
        // Lone surrogates are written as msgpackr writes them (3 bytes each below 64 units) and read
        // back as U+FFFD, which may make a key or string too long: the reference's call, either way.
        expectAgreement(payload, frames.length);
        expectAgreement(payload, frames.length + 1);
        if (frames.length > 1) expectAgreement(payload, frames.length - 1);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with the reference on other encodings of the same values', () => {
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
        (frames, picks) => {
          let k = 0;
          const pick = () => picks[k++ % picks.length]!;
          const tuples = frames.map((f, i) => encodeFrame(f, i + 1, 0));
          // The writer's forms, then each value in any form (bins for big values included).
          const payload = Uint8Array.from(
            tuples.flatMap((t) =>
              looseBytes(
                t.map((v) => (typeof v === 'bigint' && v > 0xffff_ffffn && pick() % 3 === 0 ? Number(v) : v)),
                pick,
              ),
            ),
          );
          expectAgreement(payload, frames.length);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('agrees with the reference on mutated payloads and random bytes', () => {
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), {
          minLength: 1,
          maxLength: 4,
        }),
        (frames, edits) => {
          let bytes = [...encodeReference(frames)];
          for (const [at, byte, insert] of edits) {
            const i = at % (bytes.length + 1);
            if (insert) bytes.splice(i, 0, byte);
            else if (i < bytes.length) bytes[i] = byte;
            else bytes = bytes.slice(0, -1);
          }
          expectAgreement(Uint8Array.from(bytes), frames.length);
        },
      ),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 4 }), (bytes, count) => {
        expectAgreement(bytes, count);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with the reference on hostile tuples', () => {
    const value = fc.oneof(hostile, fc.constantFrom(...EVENT_SCHEMA.map((e) => e.code)), effectKey, b64);
    const tuple = fc.oneof(
      fc.array(value, { maxLength: 16 }),
      fc.tuple(frame, fc.nat(), value).map(([f, n, v]) => {
        const t = encodeFrame(f, 1, 0);
        t[n % t.length] = v;
        return t;
      }),
      fc.tuple(frame, fc.nat()).map(([f, n]) => {
        const t = encodeFrame(f, 1, 0);
        return n % 2 ? t.slice(0, n % t.length) : [...t, n];
      }),
    );
    fc.assert(
      fc.property(fc.array(tuple, { minLength: 1, maxLength: 3 }), (tuples) => {
        let payload: Uint8Array;
        try {
          payload = Buffer.concat(tuples.map((t) => packr.pack(t)));
        } catch {
          return; // msgpackr cannot pack this value
        }
        expectAgreement(payload, tuples.length);
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects forbidden and repeated effect keys, however the string cache collides', () => {
    const STOP = 13;
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i.toString(36)}`);
    // Many distinct keys through the cache, then effects mixing them with bad ones.
    const fine = [STOP, 0, 1, 'x', keys.length > 32 ? 32 : 0, ...keys.slice(0, 32).flatMap((k) => [k, 1])];
    expectAgreement(Uint8Array.from(packr.pack(fine)), 1);
    for (let i = 0; i + 2 < keys.length; i += 3) {
      const [a, b, c] = [keys[i]!, keys[i + 1]!, keys[i + 2]!];
      for (const tuple of [
        [STOP, 0, 1, 'x', 3, a, 1, b, 2, c, 3],
        [STOP, 0, 1, 'x', 3, a, 1, b, 2, a, 3],
        [STOP, 0, 1, 'x', 2, a, 1, '__proto__', 2],
      ]) {
        expectAgreement(Uint8Array.from(packr.pack(tuple)), 1);
      }
    }
    for (const bad of ['type', '__proto__', 'constructor', 'prototype']) {
      const payload = Uint8Array.from(packr.pack([STOP, 0, 1, 'x', 1, bad, 1]));
      expect(readFramesFast(payload, 1)).toBeUndefined();
      expect(() => decodeFrames(payload, 1, 1, 0)).toThrow(TraceError);
    }
    const long = 'L'.repeat(40);
    expect(readFramesFast(Uint8Array.from(packr.pack([STOP, 0, 1, 'x', 2, long, 1, long, 2])), 1)).toBe(
      undefined,
    );
  });
});
