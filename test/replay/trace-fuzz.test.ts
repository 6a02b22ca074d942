// Trace format v1 against hostile input (traces/FORMAT.md "Validation"): random bytes, mutated
// valid traces, and random records, headers and indexes wrapped in valid checksums must never
// make the reader throw anything but TraceError, and never yield a frame that was not written.

import { crc32, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { Effect, EngineEvent, Output } from '../../engine/events.js';
import type { Frame } from '../../replay/frame.js';
import { TraceError } from '../../replay/trace-error.js';
import { type LoadedTrace, readTrace } from '../../replay/trace-reader.js';
import { EVENT_SCHEMA, MSGPACKR_OPTIONS, type TraceHeaderInput } from '../../replay/trace-schema.js';
import { encodeTrace } from '../../replay/trace-writer.js';

const HEADER: TraceHeaderInput = { producer: 'fuzz', board: null, host: 'gicv3', quirks: [] };
const packr = new Packr({ ...MSGPACKR_OPTIONS });
const f = (event: EngineEvent, output: Output = {}, effects: Effect[] = []): Frame => ({
  event,
  output,
  effects,
});

const FRAMES: Frame[] = [
  f({ type: 'vm.create', host: 'gicv3', quirks: ['movall-all-lpis'], ipaBits: 40, sdei: true }, { rc: 0 }),
  f({ type: 'vcpu.create', vcpu: 0 }, { rc: 0 }),
  f({ type: 'guest.write', vcpu: 0, addr: 0x4000_1000n, value: 0xdead_beef_0000_0001n, size: 8 }),
  f({ type: 'guest.read', vcpu: 0, addr: 0x0800_0000n, size: 4 }, { value: 0n }, [
    { type: 'mmio.exit', vcpu: 0, addr: 0x0800_0000n, size: 4, write: false },
  ]),
  f({ type: 'guest.hvc', vcpu: 0, args: [0xc400_0020n, 0n, 0n, 0n, 0n, 0n] }, { x: [0n, 1n, 2n, 3n] }),
  f({ type: 'trace.mark', name: 'mid' }),
  f({ type: 'reg.set', vcpu: 0, reg: 0x6030_0000_0010_0040n, value: 1n << 100n }, { rc: 0 }),
  f({ type: 'attr.get', dev: 'gic', group: 1, attr: 4n, preset: null }, { rc: -22 }),
  f({ type: 'trace.note', text: 'end' }),
];
const VALID = encodeTrace(HEADER, FRAMES, { chunkEvents: 3, chunkHash: (p) => `${p}`.padStart(64, 'a') });
const DATA_START = readTrace(VALID).chunks[0]!.offset;

/** Reads and decodes everything; fails the test on anything but a TraceError. */
function readAll(bytes: Uint8Array): LoadedTrace | TraceError {
  try {
    const trace = readTrace(bytes);
    for (let c = 0; c < trace.chunks.length; c++) {
      try {
        trace.chunkFrames(c);
      } catch (e) {
        if (!(e instanceof TraceError)) throw e;
      }
    }
    for (const i of trace.issues) expect(i.message).toContain(`byte offset ${i.offset}`);
    return trace;
  } catch (e) {
    if (e instanceof TraceError) {
      expect(e.message).toContain(`byte offset ${e.offset}`);
      return e;
    }
    throw e;
  }
}

/** Every frame the trace yields is the frame written at that position. */
function expectTrueFrames(trace: LoadedTrace): void {
  for (let c = 0; c < trace.chunks.length; c++) {
    const chunk = trace.chunks[c]!;
    const decoded = trace.chunkFrames(c);
    for (let i = 0; i < decoded.length; i++) expect(decoded[i]).toEqual(FRAMES[chunk.first - 1 + i]);
  }
}

function block(tag: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length + 4);
  const dv = new DataView(out.buffer);
  out.set(Buffer.from(tag));
  dv.setUint32(4, body.length, true);
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc32(out.subarray(0, 8 + body.length)), true);
  return out;
}

/** header + data + an index holding `indexBody` + a trailer, all checksummed. */
function assemble(data: Uint8Array, indexBody: unknown): Uint8Array {
  const index = block('VGIX', Uint8Array.from(packr.pack(indexBody)));
  const trailer = new Uint8Array(20);
  const tv = new DataView(trailer.buffer);
  trailer.set(Buffer.from('VGTR'));
  tv.setBigUint64(4, BigInt(DATA_START + data.length), true);
  tv.setUint32(12, index.length, true);
  tv.setUint32(16, crc32(trailer.subarray(0, 16)), true);
  return Buffer.concat([VALID.subarray(0, DATA_START), data, index, trailer]);
}

/** A checksummed chunk frame around arbitrary tuples. */
function chunk(tuples: unknown[], first: number, count: number): Uint8Array {
  const raw = Buffer.concat(tuples.map((t) => packr.pack(t)));
  const stored = deflateRawSync(raw);
  const out = new Uint8Array(32 + stored.length);
  const dv = new DataView(out.buffer);
  out.set(Buffer.from('VGCK'));
  dv.setUint32(4, first, true);
  dv.setUint32(8, count, true);
  dv.setUint32(12, stored.length, true);
  dv.setUint32(16, raw.length, true);
  out.set(stored, 32);
  dv.setUint32(24, crc32(out.subarray(32)), true);
  dv.setUint32(28, crc32(out.subarray(0, 28)), true);
  return out;
}

/** Values a hostile tuple may hold: edge numbers, bigints, strings, containers, extension types. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, 1, 2, 4, 8, 3, -1, 255, 256, 65535, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 0.5, -0),
  fc.integer(),
  fc.double(),
  fc.bigInt(-(1n << 63n), (1n << 64n) - 1n),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    'gicv3',
    'gicv4.1',
    'gic',
    'its',
    'spi',
    'ppi',
    '__proto__',
    'constructor',
    'type',
    'x',
    '',
  ),
  fc.string({ maxLength: 12 }),
  fc.uint8Array({ maxLength: 20 }),
  fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.integer()), { maxLength: 3 }),
  fc.constantFrom(['movall-all-lpis'], ['nope'], {}, { a: 1 }, new Date(0)),
);

/** Valid values of each field kind (msgpack form), mixed with hostile ones now and then. */
const KIND_VALUES: Record<string, fc.Arbitrary<unknown[]>> = {
  u8: fc.integer({ min: 0, max: 255 }).map((v) => [v]),
  u16: fc.integer({ min: 0, max: 0xffff }).map((v) => [v]),
  u32: fc.integer({ min: 0, max: 0xffff_ffff }).map((v) => [v]),
  i32: fc.integer().map((v) => [v]),
  bool: fc.boolean().map((v) => [v]),
  size: fc.constantFrom(1, 2, 4, 8).map((v) => [v]),
  host: fc.constantFrom('gicv3', 'gicv4.1').map((v) => [v]),
  dev: fc.constantFrom('gic', 'its').map((v) => [v]),
  'irq-kind': fc.constantFrom('spi', 'ppi').map((v) => [v]),
  str: fc.string({ maxLength: 20 }).map((v) => [v]),
  'kernel-quirks': fc
    .constantFrom([], ['movall-all-lpis'], ['sdei-stale-pending', 'force-ptz'])
    .map((v) => [v]),
  b64: fc
    .oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.bigInt(-(1n << 63n), (1n << 64n) - 1n))
    .map((v) => [v]),
  'b64?': fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 2 ** 32 - 1 })).map((v) => [v]),
  b2048: fc
    .oneof(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.uint8Array({ minLength: 9, maxLength: 12 }).map((b) => b.fill(1, 0, 1)),
    )
    .map((v) => [v]),
  'b64-list6': fc
    .array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 6, maxLength: 6 })
    .map((l) => [l.length, ...l]),
  'b64-list4': fc
    .array(fc.bigInt(0n, (1n << 64n) - 1n), { minLength: 4, maxLength: 4 })
    .map((l) => [l.length, ...l]),
};

const maybeHostile = (arb: fc.Arbitrary<unknown[]>): fc.Arbitrary<unknown[]> =>
  fc.oneof({ arbitrary: arb, weight: 30 }, { arbitrary: hostileValue.map((v) => [v]), weight: 1 });

/** Tuples that follow the schema, with an occasional hostile value: reaches the accept path. */
const schemaTuple: fc.Arbitrary<unknown[]> = fc.constantFrom(...EVENT_SCHEMA).chain((entry) =>
  fc
    .tuple(
      fc.tuple(...entry.fields.map(([, kind]) => maybeHostile(KIND_VALUES[kind]!))),
      fc.integer({ min: 0, max: 7 }),
      maybeHostile(KIND_VALUES.i32!),
      maybeHostile(KIND_VALUES.b2048!),
      maybeHostile(KIND_VALUES['b64-list4']!),
      fc.array(
        fc
          .tuple(
            fc.constantFrom('mmio.exit', 'x', ''),
            fc.array(fc.tuple(fc.constantFrom('vcpu', 'addr', 'a', 'b', '__proto__'), hostileValue), {
              maxLength: 3,
            }),
          )
          .map(([type, fields]) => [type, fields.length, ...fields.flat()]),
        { maxLength: 2 },
      ),
    )
    .map(([fields, mask, rc, value, x, effects]) => [
      entry.code,
      ...fields.flat(),
      mask,
      ...(mask & 1 ? rc : []),
      ...(mask & 2 ? value : []),
      ...(mask & 4 ? x : []),
      effects.length,
      ...effects.flat(),
    ]),
);

const hostileTuple: fc.Arbitrary<unknown[]> = fc
  .tuple(
    fc.oneof(fc.integer({ min: 0, max: EVENT_SCHEMA.length + 1 }), hostileValue),
    fc.array(hostileValue, { maxLength: 14 }),
  )
  .map(([code, rest]) => [code, ...rest]);

describe('fuzz', () => {
  it('random bytes never throw anything but TraceError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        readAll(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes after a valid header never throw anything but TraceError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (tail, tagged) => {
        const prefix = tagged ? Buffer.from('VGCK') : new Uint8Array();
        readAll(Buffer.concat([VALID.subarray(0, DATA_START), prefix, tail]));
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid traces never throw anything but TraceError, and never yield a wrong frame', () => {
    const mutation = fc.oneof(
      fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({
        op: fc.constant('insert' as const),
        at: fc.nat(),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
      }),
      fc.record({
        op: fc.constant('delete' as const),
        at: fc.nat(),
        length: fc.integer({ min: 1, max: 60 }),
      }),
      fc.record({
        op: fc.constant('copy' as const),
        from: fc.nat(),
        at: fc.nat(),
        length: fc.integer({ min: 1, max: 200 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let bytes = Buffer.from(VALID);
        for (const m of mutations) {
          const at = m.at % (bytes.length + 1);
          if (m.op === 'set') {
            if (at < bytes.length) bytes[at] = m.byte;
          } else if (m.op === 'insert') {
            bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
          } else if (m.op === 'delete') {
            bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
          } else {
            const from = m.from % bytes.length;
            bytes = Buffer.concat([
              bytes.subarray(0, at),
              bytes.subarray(from, from + m.length),
              bytes.subarray(at),
            ]);
          }
        }
        const result = readAll(bytes);
        if (!(result instanceof TraceError)) {
          // Every byte is covered by a checksum or a magic: any change is noticed.
          if (Buffer.compare(bytes, VALID) !== 0) expect(result.issues.length).toBeGreaterThan(0);
          expectTrueFrames(result);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('random records in valid chunks are rejected with TraceError or are valid frames the writer accepts', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(hostileTuple, schemaTuple), { minLength: 1, maxLength: 3 }), (tuples) => {
        const data = chunk(tuples, 1, tuples.length);
        const trace = readTrace(
          assemble(data, {
            events: tuples.length,
            chunks: [[DATA_START, 1, tuples.length, null]],
            marks: [],
          }),
        );
        expect(trace.issues).toEqual([]);
        let frames: Frame[];
        try {
          frames = trace.chunkFrames(0);
        } catch (e) {
          expect(e).toBeInstanceOf(TraceError);
          expect((e as TraceError).code).toBe('INVALID_RECORD');
          expect((e as TraceError).offset).toBe(DATA_START);
          return;
        }
        // Whatever the reader accepts, the writer accepts too, and it round-trips.
        const again = readTrace(encodeTrace(HEADER, frames));
        expect(again.chunkFrames(0)).toEqual(frames);
      }),
      { numRuns: 3000 },
    );
  });

  it('schema-shaped tuples mostly decode (the generator reaches the accept path)', () => {
    let valid = 0;
    fc.assert(
      fc.property(fc.array(schemaTuple, { minLength: 1, maxLength: 1 }), (tuples) => {
        const trace = readTrace(
          assemble(chunk(tuples, 1, 1), { events: 1, chunks: [[DATA_START, 1, 1, null]], marks: [] }),
        );
        try {
          trace.chunkFrames(0);
          valid++;
        } catch (e) {
          expect(e).toBeInstanceOf(TraceError);
        }
      }),
      { numRuns: 1000, seed: 42 },
    );
    expect(valid).toBeGreaterThan(300);
  });

  it('random index bodies never throw, and the chunks are still found', () => {
    const data = VALID.subarray(DATA_START, readTrace(VALID).chunks[2]!.offset);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything({ maxDepth: 3 }),
          fc.record({
            events: hostileValue,
            chunks: fc.array(fc.array(hostileValue, { maxLength: 5 }), { maxLength: 4 }),
            marks: fc.array(fc.tuple(hostileValue, hostileValue), { maxLength: 3 }),
          }),
        ),
        (indexBody) => {
          let bytes: Uint8Array;
          try {
            bytes = assemble(data, indexBody);
          } catch {
            return; // msgpackr cannot pack this value
          }
          const result = readAll(bytes);
          expect(result).not.toBeInstanceOf(TraceError);
          const trace = result as LoadedTrace;
          expect(trace.chunks.length).toBeGreaterThanOrEqual(1);
          expectTrueFrames(trace);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('random header bodies never throw anything but TraceError', () => {
    const base = packr.unpack(VALID.subarray(16, DATA_START - 4)) as Record<string, unknown>;
    const keys = Object.keys(base);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything({ maxDepth: 3 }),
          fc
            .tuple(fc.constantFrom(...keys), fc.oneof(hostileValue, fc.anything({ maxDepth: 2 })))
            .map(([k, v]) => ({ ...base, [k]: v })),
        ),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        (body, format, minReader) => {
          let packed: Uint8Array;
          try {
            packed = Uint8Array.from(packr.pack(body));
          } catch {
            return;
          }
          const header = new Uint8Array(16 + packed.length + 4);
          const dv = new DataView(header.buffer);
          header.set(VALID.subarray(0, 8));
          dv.setUint16(8, format, true);
          dv.setUint16(10, minReader, true);
          dv.setUint32(12, packed.length, true);
          header.set(packed, 16);
          dv.setUint32(16 + packed.length, crc32(header.subarray(8, 16 + packed.length)), true);
          readAll(Buffer.concat([header, VALID.subarray(DATA_START)]));
        },
      ),
      { numRuns: 1000 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
