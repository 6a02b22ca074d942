// Trace format v1 (traces/FORMAT.md): round trips for every event type, byte-for-byte
// determinism, crash safety of the streaming writer, recovery from truncation at every byte and
// detection of every flipped byte, version and schema checks, record validation, lazy decoding,
// and the size target (≤ 0.15× JSON lines) on a realistic synthetic mix.

import { createHash } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/workload.js';
import type { AccessSize, Effect, EngineEvent, Output } from '../../engine/events.js';
import type { Frame } from '../../replay/frame.js';
import { TraceError } from '../../replay/trace-error.js';
import { assertIntact, type LoadedTrace, readTrace } from '../../replay/trace-reader.js';
import {
  EVENT_SCHEMA,
  FORMAT_VERSION,
  MSGPACKR_OPTIONS,
  READER_VERSION,
  type TraceHeaderInput,
} from '../../replay/trace-schema.js';
import { encodeTrace, TraceWriter } from '../../replay/trace-writer.js';

const HEADER: TraceHeaderInput = {
  producer: 'vgicrr test',
  board: { machine: 'virt', vcpus: 4, nrIrqs: 256, its: true, sdei: true, ipaBits: 40 },
  host: 'gicv3',
  quirks: ['movall-all-lpis'],
  seed: 1234,
};

const U64_MAX = (1n << 64n) - 1n;
const f = (event: EngineEvent, output: Output = {}, effects: Effect[] = []): Frame => ({
  event,
  output,
  effects,
});

/** One frame of every event type, with representative outputs and effects. */
export const EVERY_TYPE: Frame[] = [
  f(
    {
      type: 'vm.create',
      host: 'gicv4.1',
      quirks: ['vsgi-pending-latch-only', 'sdei-stale-pending'],
      ipaBits: 48,
      sdei: true,
    },
    { rc: 0 },
  ),
  f({ type: 'vcpu.create', vcpu: 0 }, { rc: 0 }),
  f({ type: 'vcpu.create', vcpu: 0xffff_ffff }, { rc: -22 }, [{ type: 'engine.no-vm' }]),
  f({ type: 'device.create', kind: 'vgic-its' }, { rc: 0 }),
  f(
    { type: 'attr.set', dev: 'gic', group: 1, attr: 0x0000_0001_0000_0100n, value: 0xffff_ffff_0000_0000n },
    { rc: -6 },
  ),
  f({ type: 'attr.set', dev: 'its', group: 4, attr: 3n, value: null }, { rc: 0 }),
  f(
    { type: 'attr.get', dev: 'gic', group: 5, attr: 0xff00_0000_0000_c660n, preset: 2n },
    { rc: 0, value: U64_MAX },
  ),
  f({ type: 'attr.get', dev: 'its', group: 1, attr: 0n, preset: null }, { rc: 0, value: 0n }),
  f({ type: 'attr.has', dev: 'gic', group: 9, attr: 1n }, { rc: -6 }),
  f({ type: 'irq.line', kind: 'spi', vcpu: 0, intid: 40, level: 1 }, { rc: 0 }, [
    { type: 'cpu.irq.set', vcpu: 1, level: true },
  ]),
  f({ type: 'irq.line', kind: 'ppi', vcpu: 3, intid: 27, level: 0 }, { rc: 0 }),
  f({ type: 'msi.signal', devid: 0xffff_ffff, eventid: 0 }, { rc: -19 }),
  f({ type: 'reg.get', vcpu: 1, reg: 0x6030_0000_0010_0040n }, { rc: 0, value: 0x8000_0000_0000_0000n }),
  f({ type: 'reg.set', vcpu: 1, reg: 0x6030_0000_0010_0042n, value: 0x3c5n }, { rc: -16 }),
  f({ type: 'reg.set', vcpu: 2, reg: 0x6080_0000_0015_0000n, value: (1n << 2048n) - 1n }, { rc: 0 }),
  f({ type: 'reg.set', vcpu: 2, reg: 0x6080_0000_0015_0001n, value: 1n << 64n }, { rc: 0 }),
  f({ type: 'reg.get', vcpu: 2, reg: 0x6080_0000_0015_0000n }, { rc: 0, value: (1n << 2047n) + 5n }),
  f({ type: 'vcpu.run', vcpu: 2 }, { rc: 0 }, [{ type: 'vm.dead', vcpu: 2, rc: -5 }]),
  f({ type: 'vcpu.reset', vcpu: 2 }, { rc: 0 }),
  f({ type: 'sdei.inject', vcpu: 0, event: 0x4000_0000n }, { rc: 0 }, [
    { type: 'sdei.dispatch', vcpu: 0, event: 0x4000_0000n, handler: 0xffff_8000_1000_0000n },
  ]),
  f({ type: 'vm.stop' }, { rc: 0 }),
  f({ type: 'vm.cont' }, { rc: 0 }),
  f({ type: 'guest.read', vcpu: 0, addr: 0x0800_0004n, size: 4 }, { value: 0x43b_0000n }),
  f({ type: 'guest.read', vcpu: 0, addr: U64_MAX - 7n, size: 8 }, { value: 0n }, [
    { type: 'mmio.exit', vcpu: 0, addr: U64_MAX - 7n, size: 8, write: false },
  ]),
  f({ type: 'guest.write', vcpu: 3, addr: 0x4000_1000n, value: U64_MAX, size: 8 }),
  f({ type: 'guest.write', vcpu: 3, addr: -1n, value: -(1n << 63n), size: 1 }),
  f({ type: 'guest.mrs', vcpu: 1, sysreg: 0xc660 }, { value: 1023n }),
  f({ type: 'guest.msr', vcpu: 1, sysreg: 0xffff, value: 42n }, {}, [
    { type: 'guest.undef', vcpu: 1, sysreg: 0xffff, write: true },
  ]),
  f(
    { type: 'guest.hvc', vcpu: 0, args: [0xc400_0020n, 1n, 0x4000_2000n, 0n, 0n, U64_MAX] },
    { x: [0xffff_ffff_ffff_fffen, 0n, 0n, 1n << 40n] },
  ),
  f({ type: 'guest.hvc', vcpu: 0, args: [0x8000_0000n, 0n, 0n, 0n, 0n, 0n] }, { x: [0x1_0001n, 0n, 0n, 0n] }),
  f({ type: 'guest.reg', vcpu: 0, reg: 32 }, { value: 0x3c5n }),
  f({ type: 'mem.read', addr: 0x4000_0000n, size: 2 }, { value: 0xbeefn }),
  f({ type: 'mem.write', addr: 0x7fff_fff8n, value: 1n, size: 8 }, { rc: 0 }),
  f({ type: 'trace.mark', name: 'boot' }),
  f({ type: 'trace.note', text: 'ünïcödé ✓ and "quotes"\nnewline' }),
  f({ type: 'trace.note', text: 'x'.repeat(4096) }),
  f({ type: 'vm.stop' }, { rc: 0, value: 7n, x: [1n, 2n, 3n, 4n] }, [
    {
      type: 'effect.kinds',
      str: 'text',
      empty: '',
      yes: true,
      no: false,
      small: 7,
      negative: -70000,
      large: 2 ** 40,
      fraction: 0.5,
      big: 5n,
      bigNegative: -(1n << 63n),
      bigMax: U64_MAX,
    },
    { type: 'second' },
  ]),
];

/** The benchmarks' seeded PRNG (no Math.random in tests). */
const seeded = prng;

/**
 * A realistic mix of frames as a Linux-like guest and a VMM produce them: RAM traffic (ITS
 * command queue, LPI tables, stacks), GIC MMIO with occasional exits and interrupt effects,
 * SDEI hypercalls with four outputs, ICC system registers, ONE_REG and device-attr calls.
 */
export function realisticFrames(seed: number, count: number): Frame[] {
  const rnd = seeded(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const u32 = () => BigInt(int(0x1_0000_0000));
  const u64 = () => (u32() << 32n) | u32();
  const vcpu = () => int(4);
  const sizes: readonly AccessSize[] = [1, 2, 4, 8];
  const ramAddr = () => BigInt(0x4010_0000 + int(64) * 0x1000 + int(512) * 8);
  const ramValue = () => {
    const r = int(10);
    if (r < 5) return BigInt(int(0x1_0000));
    if (r < 8) return (BigInt(int(0x1_0000)) << 32n) | BigInt(int(16) + 1); // ITS command words
    return u64();
  };
  const out: Frame[] = [
    f({ type: 'vm.create', host: 'gicv3', quirks: [], ipaBits: 40, sdei: true }, { rc: 0 }),
  ];
  for (let id = 0; id < 4; id++) out.push(f({ type: 'vcpu.create', vcpu: id }, { rc: 0 }));
  let marks = 0;
  while (out.length < count) {
    if (out.length % 10_000 === 0) {
      out.push(f({ type: 'trace.mark', name: `m${marks++}` }));
      continue;
    }
    const r = int(1000);
    const v = vcpu();
    if (r < 280) {
      out.push(f({ type: 'guest.write', vcpu: v, addr: ramAddr(), value: ramValue(), size: 8 }));
    } else if (r < 500) {
      out.push(
        f({ type: 'guest.read', vcpu: v, addr: ramAddr(), size: sizes[int(4)]! }, { value: ramValue() }),
      );
    } else if (r < 620) {
      const redist = 0x080a_0000 + v * 0x2_0000;
      const addr = BigInt(int(2) ? 0x0800_0000 + int(0x400) * 4 : redist + int(0x100) * 4);
      const effects: Effect[] = [];
      if (int(10) === 0) effects.push({ type: 'mmio.exit', vcpu: v, addr, size: 4, write: r < 560 });
      if (int(8) === 0) effects.push({ type: 'cpu.irq.set', vcpu: int(4), level: true });
      out.push(
        r < 560
          ? f({ type: 'guest.write', vcpu: v, addr, value: BigInt(int(0x100)), size: 4 }, {}, effects)
          : f({ type: 'guest.read', vcpu: v, addr, size: 4 }, { value: BigInt(int(0x1_0000)) }, effects),
      );
    } else if (r < 700) {
      const fn = 0xc400_0020n + BigInt(int(21));
      const ok = int(4) !== 0;
      out.push(
        f(
          { type: 'guest.hvc', vcpu: v, args: [fn, BigInt(int(4)), ramAddr(), 0n, 0n, 0n] },
          { x: [ok ? 0n : U64_MAX - BigInt(int(4)), ok ? BigInt(int(16)) : 0n, 0n, 0n] },
          int(10) === 0 ? [{ type: 'sdei.dispatch', vcpu: v, event: BigInt(int(2)) }] : [],
        ),
      );
    } else if (r < 780) {
      if (r < 740)
        out.push(
          f({ type: 'guest.mrs', vcpu: v, sysreg: 0xc660 }, { value: BigInt(int(2) ? 1023 : 32 + int(64)) }),
        );
      else
        out.push(
          f(
            { type: 'guest.msr', vcpu: v, sysreg: 0xc661, value: BigInt(32 + int(64)) },
            {},
            int(6) ? [] : [{ type: 'cpu.irq.clear', vcpu: v }],
          ),
        );
    } else if (r < 840) {
      const reg = 0x6030_0000_0010_0000n + BigInt(int(34) * 2);
      out.push(
        r < 810
          ? f({ type: 'reg.get', vcpu: v, reg }, { rc: 0, value: int(2) ? u64() : BigInt(int(0x1000)) })
          : f({ type: 'reg.set', vcpu: v, reg, value: u64() }, { rc: int(5) ? 0 : -16 }),
      );
    } else if (r < 900) {
      const attr = (BigInt(v) << 32n) | BigInt(int(0x1_0000) * 4);
      const dev = int(3) ? ('gic' as const) : ('its' as const);
      const group = 1 + int(8);
      const k = int(3);
      if (k === 0)
        out.push(
          f({ type: 'attr.get', dev, group, attr, preset: null }, { rc: 0, value: BigInt(int(0x1_0000)) }),
        );
      else if (k === 1)
        out.push(
          f({ type: 'attr.set', dev, group, attr, value: BigInt(int(0x1_0000)) }, { rc: int(6) ? 0 : -22 }),
        );
      else out.push(f({ type: 'attr.has', dev, group, attr }, { rc: 0 }));
    } else if (r < 940) {
      out.push(
        int(2)
          ? f({ type: 'irq.line', kind: 'spi', vcpu: 0, intid: 32 + int(64), level: int(2) }, { rc: 0 })
          : f({ type: 'msi.signal', devid: int(8), eventid: int(32) }, { rc: 0 }, [
              { type: 'cpu.irq.set', vcpu: v, level: true },
            ]),
      );
    } else if (r < 980) {
      out.push(
        int(2)
          ? f({ type: 'mem.write', addr: ramAddr(), value: ramValue(), size: 8 }, { rc: 0 })
          : f({ type: 'mem.read', addr: ramAddr(), size: 8 }, { rc: 0, value: ramValue() }),
      );
    } else if (r < 995) {
      const k = int(3);
      out.push(
        f(k === 0 ? { type: 'vcpu.run', vcpu: v } : k === 1 ? { type: 'vm.stop' } : { type: 'vm.cont' }, {
          rc: 0,
        }),
      );
    } else {
      out.push(f({ type: 'trace.note', text: `checkpoint ${out.length}` }));
    }
  }
  return out;
}

/** JSON lines with bigints as bare decimal numbers: the most compact JSON of the same frames. */
export function jsonLines(frames: readonly Frame[]): number {
  let bytes = 0;
  for (const frame of frames) {
    const line = JSON.stringify(frame, (_k, v) => (typeof v === 'bigint' ? `\u0000${v}` : v)).replace(
      /"\\u0000(-?\d+)"/g,
      '$1',
    );
    bytes += Buffer.byteLength(line) + 1;
  }
  return bytes;
}

function allFrames(trace: LoadedTrace): Frame[] {
  const frames: Frame[] = [];
  for (let c = 0; c < trace.chunks.length; c++) frames.push(...trace.chunkFrames(c));
  return frames;
}

/** Expects `run()` to throw a TraceError with this code and a message naming its offset. */
function expectTraceError(run: () => unknown, code: TraceError['code']): TraceError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    const error = e as TraceError;
    expect(error.code).toBe(code);
    expect(error.message).toContain(`byte offset ${error.offset}`);
    expect(error.message).not.toContain('\n');
    return error;
  }
  throw new Error(`expected a TraceError ${code}`);
}

describe('round trip', () => {
  it('gives back every event type with its outputs and effects', () => {
    const bytes = encodeTrace(HEADER, EVERY_TYPE, { chunkEvents: 5 });
    const trace = readTrace(bytes);
    expect(trace.issues).toEqual([]);
    expect(trace.length).toBe(EVERY_TYPE.length);
    expect(allFrames(trace)).toEqual(EVERY_TYPE);
    for (let p = 1; p <= trace.length; p++) expect(trace.frame(p)).toEqual(EVERY_TYPE[p - 1]);
    // Bigint fields come back as bigints even when they travelled as small msgpack ints.
    expect(typeof (trace.frame(5).event as { value: unknown }).value).toBe('bigint');
    const kinds = trace.frame(EVERY_TYPE.length).effects[0]!;
    expect(typeof kinds.small).toBe('number');
    expect(typeof kinds.big).toBe('bigint');
    expect(trace.marks).toEqual([{ name: 'boot', position: 34 }]);
  });

  it('covers every event type of the engine', () => {
    const types = new Set(EVERY_TYPE.map((fr) => fr.event.type));
    expect(types.size).toBe(25);
  });

  it('keeps the header', () => {
    const trace = readTrace(encodeTrace(HEADER, []));
    expect(trace.header).toMatchObject({
      ...HEADER,
      format: FORMAT_VERSION,
      minReader: 1,
      chunkEvents: 4096,
    });
    expect(trace.header.msgpackr).toEqual(MSGPACKR_OPTIONS);
    expect(trace.length).toBe(0);
    expect(trace.chunks).toEqual([]);
    const bare = readTrace(encodeTrace({ producer: 'p', board: null, host: 'gicv4.1', quirks: [] }, []));
    expect(bare.header).toMatchObject({ board: null, seed: null, host: 'gicv4.1' });
  });

  it('records chunk ranges and state hashes', () => {
    const frames = realisticFrames(7, 50);
    const bytes = encodeTrace(HEADER, frames, {
      chunkEvents: 16,
      chunkHash: (p) => p.toString(16).padStart(64, '0'),
    });
    const trace = readTrace(bytes);
    expect(trace.chunks.map(({ first, count, hash }) => ({ first, count, hash }))).toEqual([
      { first: 1, count: 16, hash: (16).toString(16).padStart(64, '0') },
      { first: 17, count: 16, hash: (32).toString(16).padStart(64, '0') },
      { first: 33, count: 16, hash: (48).toString(16).padStart(64, '0') },
      { first: 49, count: 2, hash: (50).toString(16).padStart(64, '0') },
    ]);
    expect(allFrames(trace)).toEqual(frames);
  });

  it('round-trips realistic mixes for any seed and chunk size', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const frames = realisticFrames(seed, 40 + seed * 7);
      const trace = readTrace(encodeTrace(HEADER, frames, { chunkEvents: 1 + (seed % 9) }));
      expect(trace.issues).toEqual([]);
      expect(allFrames(trace)).toEqual(frames);
    }
  });
});

describe('determinism', () => {
  it('gives identical bytes for the same frames', () => {
    const a = encodeTrace(HEADER, realisticFrames(3, 3000), { chunkEvents: 512 });
    const b = encodeTrace(HEADER, structuredClone(realisticFrames(3, 3000)), { chunkEvents: 512 });
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it('streams the same bytes as encodeTrace, one whole chunk per write', () => {
    const frames = realisticFrames(4, 100);
    const writes: Uint8Array[] = [];
    const writer = new TraceWriter({ write: (b) => void writes.push(b.slice()) }, HEADER, {
      chunkEvents: 10,
    });
    for (const fr of frames) writer.append(fr);
    expect(writes.length).toBe(1 + 10);
    writer.finish();
    expect(writes.length).toBe(1 + 10 + 1);
    expect(Buffer.compare(Buffer.concat(writes), encodeTrace(HEADER, frames, { chunkEvents: 10 }))).toBe(0);
  });
});

describe('crash safety', () => {
  it('recovers every complete chunk of a writer that never finished', () => {
    const frames = realisticFrames(5, 95);
    const writes: Uint8Array[] = [];
    const writer = new TraceWriter({ write: (b) => void writes.push(b.slice()) }, HEADER, {
      chunkEvents: 10,
    });
    for (const fr of frames) writer.append(fr);
    const trace = readTrace(Buffer.concat(writes));
    expect(trace.length).toBe(90);
    expect(allFrames(trace)).toEqual(frames.slice(0, 90));
    expect(trace.issues).toHaveLength(1);
    expect(trace.issues[0]).toMatchObject({ code: 'TRUNCATED', offset: writer.bytesWritten });
    expect(trace.issues[0]!.message).toContain(`byte offset ${writer.bytesWritten}`);
    expect(trace.marks).toEqual([]);
    expect(() => assertIntact(trace)).toThrow(TraceError);
  });

  it('finds marks by decoding when the index is lost', () => {
    const frames = realisticFrames(5, 30);
    frames[12] = f({ type: 'trace.mark', name: 'here' });
    const bytes = encodeTrace(HEADER, frames, { chunkEvents: 8 });
    const trace = readTrace(bytes.subarray(0, bytes.length - 30));
    expect(trace.marks).toEqual([{ name: 'here', position: 13 }]);
  });
});

describe('damage', () => {
  const frames = realisticFrames(11, 10);
  const bytes = encodeTrace(HEADER, frames, { chunkEvents: 3, chunkHash: (p) => `${p}`.padStart(8, '0') });
  const intact = readTrace(bytes);
  const indexOffset = Number(
    new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(bytes.length - 16, true),
  );
  /** Where each chunk ends (the next chunk, or the index). */
  const ends = intact.chunks.map((_c, k) => intact.chunks[k + 1]?.offset ?? indexOffset);

  it('is a small trace of several chunks', () => {
    expect(intact.chunks.length).toBe(4);
    expect(intact.issues).toEqual([]);
  });

  /** Every frame a damaged trace gives is the original frame at that position. */
  function expectOnlyTrueFrames(trace: LoadedTrace): void {
    for (let c = 0; c < trace.chunks.length; c++) {
      const chunk = trace.chunks[c]!;
      const decoded = trace.chunkFrames(c);
      for (let i = 0; i < decoded.length; i++) expect(decoded[i]).toEqual(frames[chunk.first - 1 + i]);
    }
  }

  it('truncated at every byte: an error naming an offset, or every complete chunk and a warning', () => {
    const dataStart = intact.chunks[0]!.offset;
    for (let cut = 0; cut < bytes.length; cut++) {
      const prefix = bytes.subarray(0, cut);
      let trace: LoadedTrace;
      try {
        trace = readTrace(prefix);
      } catch (e) {
        expect(e).toBeInstanceOf(TraceError);
        expect((e as TraceError).message).toMatch(/byte offset \d+/);
        expect(cut).toBeLessThan(dataStart);
        continue;
      }
      expect(cut).toBeGreaterThanOrEqual(dataStart);
      const complete = intact.chunks.filter((_c, k) => ends[k]! <= cut);
      expect(trace.chunks, `cut at ${cut}`).toEqual(complete);
      expect(trace.length).toBe(complete.reduce((n, c) => n + c.count, 0));
      expect(trace.issues.length, `cut at ${cut}`).toBeGreaterThan(0);
      for (const i of trace.issues) expect(i.message).toContain(`byte offset ${i.offset}`);
      expectOnlyTrueFrames(trace);
    }
  });

  it('detects every flipped byte (xor 0xff and xor 0x01)', () => {
    for (const mask of [0xff, 0x01]) {
      for (let at = 0; at < bytes.length; at++) {
        const copy = Uint8Array.from(bytes);
        copy[at]! ^= mask;
        let trace: LoadedTrace;
        try {
          trace = readTrace(copy);
        } catch (e) {
          expect(e).toBeInstanceOf(TraceError);
          continue;
        }
        expect(trace.issues.length, `flip ${mask} at ${at}`).toBeGreaterThan(0);
        expectOnlyTrueFrames(trace);
      }
    }
  });

  it('keeps the chunks after a damaged one (through the index)', () => {
    const copy = Uint8Array.from(bytes);
    const victim = intact.chunks[1]!;
    copy[victim.offset + 40]! ^= 0x10;
    const trace = readTrace(copy);
    expect(trace.chunks.map((c) => c.first)).toEqual([1, 7, 10]);
    expect(trace.issues).toEqual([expect.objectContaining({ code: 'CORRUPT', offset: victim.offset })]);
    expect(trace.length).toBe(3);
    expect(trace.frame(7)).toEqual(frames[6]);
    expectTraceError(() => trace.frame(5), 'CORRUPT');
    expect(() => trace.frame(11)).toThrow(RangeError);
    expectTraceError(() => assertIntact(trace), 'CORRUPT');
  });

  it('does not believe an index that checksums but disagrees with the chunks', () => {
    const data = bytes.subarray(intact.chunks[0]!.offset, indexOffset);
    const lying = assemble(bytes.subarray(0, intact.chunks[0]!.offset), data, {
      events: 3,
      chunks: [[intact.chunks[0]!.offset, 1, 3, null]],
      marks: [['fake', 2]],
    });
    const trace = readTrace(lying);
    expect(trace.chunks).toEqual(intact.chunks);
    expect(trace.marks).toEqual([]);
    expect(trace.issues.map((i) => i.code)).toContain('CORRUPT');
    expectOnlyTrueFrames(trace);
  });

  it('keeps the chunks after a damaged one (by scanning, without an index)', () => {
    const copy = Uint8Array.from(bytes.subarray(0, intact.chunks[3]!.offset + 5));
    const victim = intact.chunks[1]!;
    copy[victim.offset + 6]! ^= 0x01; // inside the frame: its lengths cannot be trusted
    const trace = readTrace(copy);
    expect(trace.chunks.map((c) => c.first)).toEqual([1, 7]);
    expect(trace.issues.map((i) => [i.code, i.offset])).toEqual([
      ['CORRUPT', victim.offset],
      ['TRUNCATED', intact.chunks[3]!.offset],
    ]);
    expectOnlyTrueFrames(trace);
  });
});

/** Rebuilds `bytes` with a different header prefix/body, shifting the index offsets to match. */
function withHeader(
  bytes: Uint8Array,
  edit: (h: { format: number; minReader: number; body: Record<string, unknown> }) => void,
): Uint8Array {
  const packr = new Packr({ ...MSGPACKR_OPTIONS });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const oldLength = dv.getUint32(12, true);
  const h = {
    format: dv.getUint16(8, true),
    minReader: dv.getUint16(10, true),
    body: packr.unpack(bytes.subarray(16, 16 + oldLength)) as Record<string, unknown>,
  };
  edit(h);
  const body = Uint8Array.from(packr.pack(h.body));
  const header = new Uint8Array(16 + body.length + 4);
  const hv = new DataView(header.buffer);
  header.set(bytes.subarray(0, 8));
  hv.setUint16(8, h.format, true);
  hv.setUint16(10, h.minReader, true);
  hv.setUint32(12, body.length, true);
  header.set(body, 16);
  hv.setUint32(16 + body.length, crc32(header.subarray(8, 16 + body.length)), true);
  const delta = header.length - (16 + oldLength + 4);
  const indexOffset = Number(dv.getBigUint64(bytes.length - 16, true));
  const oldIndex = packr.unpack(bytes.subarray(indexOffset + 8, bytes.length - 24)) as {
    chunks: [number, number, number, string | null][];
  };
  oldIndex.chunks = oldIndex.chunks.map(([o, ...rest]) => [o + delta, ...rest]);
  return assemble(header, bytes.subarray(16 + oldLength + 4, indexOffset), oldIndex);
}

/** header bytes + data bytes + an index with `indexBody` + a trailer. */
function assemble(header: Uint8Array, data: Uint8Array, indexBody: unknown): Uint8Array {
  const packr = new Packr({ ...MSGPACKR_OPTIONS });
  const body = Uint8Array.from(packr.pack(indexBody));
  const index = new Uint8Array(8 + body.length + 4);
  const iv = new DataView(index.buffer);
  index.set(Buffer.from('VGIX'));
  iv.setUint32(4, body.length, true);
  index.set(body, 8);
  iv.setUint32(8 + body.length, crc32(index.subarray(0, 8 + body.length)), true);
  const trailer = new Uint8Array(20);
  const tv = new DataView(trailer.buffer);
  trailer.set(Buffer.from('VGTR'));
  tv.setBigUint64(4, BigInt(header.length + data.length), true);
  tv.setUint32(12, index.length, true);
  tv.setUint32(16, crc32(trailer.subarray(0, 16)), true);
  return Buffer.concat([header, data, index, trailer]);
}

describe('versions and schema', () => {
  const frames = realisticFrames(2, 20);
  const bytes = encodeTrace(HEADER, frames, { chunkEvents: 6 });

  it('rewrites headers faithfully (test helper check)', () => {
    const same = withHeader(bytes, () => {});
    expect(Buffer.compare(same, bytes)).toBe(0);
  });

  /** A format newer than this build reads. */
  const NEXT = READER_VERSION + 1;

  it('rejects a file that needs a newer reader', () => {
    const error = expectTraceError(
      () =>
        readTrace(
          withHeader(bytes, (h) => {
            h.format = NEXT;
            h.minReader = NEXT;
          }),
        ),
      'VERSION_TOO_NEW',
    );
    expect(error.message).toContain(
      `format ${NEXT} needs a reader for format ${NEXT} or newer; this vgicrr reads format ${READER_VERSION}`,
    );
    expectTraceError(
      () =>
        readTrace(
          withHeader(bytes, (h) => {
            h.format = 7;
            h.minReader = 5;
          }),
        ),
      'VERSION_TOO_NEW',
    );
  });

  it('reads a newer format that still accepts this reader, adding event types', () => {
    const newer = withHeader(bytes, (h) => {
      h.format = NEXT;
      h.body.future = 'ignored';
      const schema = h.body.schema as { events: unknown[] };
      schema.events.push([EVENT_SCHEMA.length, 'future.event', [['x', 'u32']]]);
      h.body.schemaHash = schemaHash(schema);
    });
    const trace = readTrace(newer);
    expect(trace.issues).toEqual([]);
    expect(trace.header.format).toBe(NEXT);
    expect(allFrames(trace)).toEqual(frames);
  });

  it('rejects a current-format file whose schema differs from this reader', () => {
    const changed = withHeader(bytes, (h) => {
      const schema = h.body.schema as { events: [number, string, [string, string][]][] };
      schema.events[1]![2] = [['vcpu', 'u16']];
      h.body.schemaHash = schemaHash(schema);
    });
    expectTraceError(() => readTrace(changed), 'SCHEMA_MISMATCH');
  });

  it('rejects a newer file that changes a known event', () => {
    const changed = withHeader(bytes, (h) => {
      h.format = NEXT;
      const schema = h.body.schema as { events: [number, string, [string, string][]][] };
      schema.events[1]![2] = [['vcpu', 'u16']];
      h.body.schemaHash = schemaHash(schema);
    });
    expectTraceError(() => readTrace(changed), 'SCHEMA_MISMATCH');
  });

  it('rejects different msgpackr options, and a schema that does not match its hash', () => {
    expectTraceError(
      () =>
        readTrace(
          withHeader(bytes, (h) => {
            h.body.msgpackr = { ...MSGPACKR_OPTIONS, useRecords: true };
          }),
        ),
      'SCHEMA_MISMATCH',
    );
    expectTraceError(
      () =>
        readTrace(
          withHeader(bytes, (h) => {
            (h.body.schema as { frame: string }).frame = 'other';
          }),
        ),
      'CORRUPT',
    );
  });

  it('rejects bad magic, and damaged or invalid headers', () => {
    expectTraceError(() => readTrace(Buffer.from('{"event":1}\n')), 'BAD_MAGIC');
    expectTraceError(() => readTrace(new Uint8Array()), 'TRUNCATED');
    expectTraceError(() => readTrace(bytes.subarray(0, 30)), 'TRUNCATED');
    const flipped = Uint8Array.from(bytes);
    flipped[20]! ^= 1;
    expectTraceError(() => readTrace(flipped), 'CORRUPT');
    const edits: Record<string, unknown>[] = [
      { host: 'gicv2' },
      { quirks: ['no-such-quirk'] },
      { quirks: ['zero-clear'] }, // a VMM quirk
      { producer: 'p'.repeat(300) },
      { board: { machine: 'virt', vcpus: 'four' } },
      { chunkEvents: 0 },
      { extra: 1 },
      JSON.parse('{"__proto__": {"polluted": true}}'),
      { seed: undefined },
    ];
    for (const changes of edits) {
      const edit = (h: { body: Record<string, unknown> }) => {
        for (const [key, value] of Object.entries(changes)) {
          if (value === undefined) delete h.body[key];
          else
            Object.defineProperty(h.body, key, {
              value,
              enumerable: true,
              writable: true,
              configurable: true,
            });
        }
      };
      expectTraceError(() => readTrace(withHeader(bytes, edit)), 'INVALID_RECORD');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

function schemaHash(schema: unknown): string {
  // Same canonical form as trace-schema.ts (sorted keys), computed independently.
  const canon = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(canon).join(',')}]`
      : v !== null && typeof v === 'object'
        ? `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`)
            .join(',')}}`
        : JSON.stringify(v);
  return createHash('sha256').update(canon(schema)).digest('hex');
}

describe('validation of untrusted records', () => {
  const empty = encodeTrace(HEADER, []);
  const dataStart =
    empty.length -
    20 -
    Number(new DataView(empty.buffer, empty.byteOffset).getUint32(empty.length - 8, true));

  /** A trace whose only chunk holds these tuples (or raw payload bytes), framed and checksummed as the writer would. */
  function craft(tuples: unknown[] | Uint8Array, count: number): LoadedTrace {
    const packr = new Packr({ ...MSGPACKR_OPTIONS });
    const raw = tuples instanceof Uint8Array ? tuples : Buffer.concat(tuples.map((t) => packr.pack(t)));
    const stored = deflateRawSync(raw);
    const chunk = new Uint8Array(32 + stored.length);
    const dv = new DataView(chunk.buffer);
    chunk.set(Buffer.from('VGCK'));
    dv.setUint32(4, 1, true);
    dv.setUint32(8, count, true);
    dv.setUint32(12, stored.length, true);
    dv.setUint32(16, raw.length, true);
    chunk.set(stored, 32);
    dv.setUint32(24, crc32(chunk.subarray(32)), true);
    dv.setUint32(28, crc32(chunk.subarray(0, 28)), true);
    const trace = readTrace(
      assemble(empty.subarray(0, dataStart), chunk, {
        events: count,
        chunks: [[dataStart, 1, count, null]],
        marks: [],
      }),
    );
    expect(trace.issues).toEqual([]);
    return trace;
  }

  const STOP = 13; // vm.stop: no fields
  const ok = [STOP, 0, 0];

  it('accepts a crafted valid chunk (helper check)', () => {
    expect(craft([ok, [1, 7, 1, -22, 0]], 2).chunkFrames(0)).toEqual([
      f({ type: 'vm.stop' }),
      f({ type: 'vcpu.create', vcpu: 7 }, { rc: -22 }),
    ]);
  });

  const cases: [string, unknown[], RegExp][] = [
    ['unknown event type', [ok, [99, 0, 0]], /event #2 .*unknown event type code 99/],
    ['a non-integer code', [[1.5, 0, 0]], /event #1 .*unknown event type code 1.5/],
    [
      'a __proto__ effect key',
      [[STOP, 0, 1, 'x.y', 1, '__proto__', 1]],
      /field name "__proto__" not allowed/,
    ],
    ['a constructor effect key', [[STOP, 0, 1, 'x.y', 1, 'constructor', 1]], /"constructor" not allowed/],
    ['a type effect key', [[STOP, 0, 1, 'x.y', 1, 'type', 'z']], /"type" not allowed/],
    ['a duplicate effect key', [[STOP, 0, 1, 'x.y', 2, 'a', 1, 'a', 2]], /"a" not allowed/],
    [
      'an oversize string',
      [[23, 'n'.repeat(4097), 0, 0]],
      /trace.mark.name: expected a string of at most 4096/,
    ],
    ['an oversize effect string', [[STOP, 0, 1, 'x.y', 1, 'a', 's'.repeat(4097)]], /string too long/],
    ['a string vcpu', [[1, '0', 0, 0]], /vcpu.create.vcpu: expected an integer 0..4294967295, got "0"/],
    ['a negative vcpu', [[1, -1, 0, 0]], /vcpu.create.vcpu/],
    ['a vcpu above u32', [[1, 2 ** 32, 0, 0]], /vcpu.create.vcpu/],
    ['a bad access size', [[15, 0, 0x4000_0000, 3, 0, 0]], /guest.read.size: expected one of 1 2 4 8, got 3/],
    ['a bad host', [[0, 'gicv2', [], 40, true, 0, 0]], /vm.create.host/],
    [
      'an unknown quirk',
      [[0, 'gicv3', ['nope'], 40, true, 0, 0]],
      /vm.create.quirks: unknown kernel quirk, got "nope"/,
    ],
    ['a VMM quirk in vm.create', [[0, 'gicv3', ['zero-clear'], 40, true, 0, 0]], /unknown kernel quirk/],
    ['a bad device', [[5, 'pci', 1, 0, 0, 0]], /attr.has.dev/],
    ['a bad irq kind', [[6, 'lpi', 0, 32, 1, 0, 0]], /irq.line.kind/],
    ['a number for a boolean', [[0, 'gicv3', [], 40, 1, 0, 0]], /vm.create.sdei/],
    ['a float for a bigint', [[8, 0, 1.5, 0, 0]], /reg.get.reg: expected a 64-bit integer, got 1.5/],
    ['a string for a bigint', [[8, 0, '1', 0, 0]], /reg.get.reg/],
    ['bytes for a 64-bit field', [[8, 0, new Uint8Array(9).fill(1), 0, 0]], /reg.get.reg/],
    [
      'a big value with a leading zero',
      [[9, 0, 1, Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]), 0, 0]],
      /reg.set.value/,
    ],
    ['a big value over 2048 bits', [[9, 0, 1, new Uint8Array(257).fill(1), 0, 0]], /reg.set.value/],
    [
      'seven hvc args',
      [[19, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
      /guest.hvc.args: expected a list length of 6/,
    ],
    ['an unknown output bit', [[STOP, 8, 0]], /bad output mask 8/],
    ['five x outputs', [[STOP, 4, 5, 0, 0, 0, 0, 0, 0]], /output.x/],
    ['a string rc', [[STOP, 1, '0', 0]], /output.rc/],
    ['too many effects', [[STOP, 0, 257]], /bad effect count 257/],
    ['too many effect fields', [[STOP, 0, 1, 'x', 33]], /bad effect field count 33/],
    ['an empty effect type', [[STOP, 0, 1, '', 0]], /bad effect type/],
    ['a null effect value', [[STOP, 0, 1, 'x', 1, 'a', null]], /field of type null/],
    ['an array effect value', [[STOP, 0, 1, 'x', 1, 'a', [1]]], /field of type object/],
    ['a map effect value', [[STOP, 0, 1, 'x', 1, 'a', { b: 1 }]], /field of type object/],
    ['a date effect value', [[STOP, 0, 1, 'x', 1, 'a', new Date(0)]], /field of type object/],
    ['values after the frame', [[...ok, 0]], /1 values after the frame/],
    ['a tuple ending inside the frame', [[STOP, 0]], /event #1 .*tuple ends inside the frame/],
    ['a frame that is not a tuple', [ok, { a: 1 }], /event #2 .*frame is an object, not a tuple/],
    ['a string for a frame', [ok, 'text'], /event #2 .*not a tuple/],
    ['more frames than announced', [ok, ok, ok], /event #3 .*more than the 2 frames/],
  ];

  it.each(cases)(
    'rejects %s as INVALID_RECORD naming the chunk offset and position',
    (_name, tuples, message) => {
      const count = Math.min(tuples.length, 2);
      const trace = craft(tuples, count);
      const error = expectTraceError(() => trace.chunkFrames(0), 'INVALID_RECORD');
      expect(error.offset).toBe(dataStart);
      expect(error.message).toMatch(message);
      expectTraceError(() => trace.frame(count), 'INVALID_RECORD');
    },
  );

  it('rejects fewer frames than announced, and a payload that does not unpack', () => {
    expect(expectTraceError(() => craft([ok], 2).chunkFrames(0), 'INVALID_RECORD').message).toMatch(
      /holds 1 frames, not 2/,
    );
    const error = expectTraceError(
      () => craft(Uint8Array.from([0x93, 0x01]), 1).chunkFrames(0),
      'INVALID_RECORD',
    );
    expect(error.message).toMatch(/event #1 .*payload does not unpack/);
  });

  it('builds records from known keys only', () => {
    const [frame] = craft([[STOP, 0, 1, 'x.y', 2, 'toString', 'a', 'hasOwnProperty', 1]], 1).chunkFrames(0);
    expect(Object.getPrototypeOf(frame!.effects[0])).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });

  it('refuses to write what it would refuse to read, and stays usable', () => {
    const writes: Uint8Array[] = [];
    const writer = new TraceWriter({ write: (b) => void writes.push(b) }, HEADER, { chunkEvents: 2 });
    const bad: Frame[] = [
      f({ type: 'vcpu.create', vcpu: -1 }),
      f({ type: 'guest.read', vcpu: 0, addr: 1n, size: 3 as AccessSize }),
      f({ type: 'guest.write', vcpu: 0, addr: 1n << 64n, value: 0n, size: 8 }),
      f({ type: 'guest.hvc', vcpu: 0, args: [0n, 0n, 0n, 0n, 0n, 0n, 0n] }),
      f({ type: 'reg.set', vcpu: 0, reg: 1n, value: 1n << 2048n }),
      f({ type: 'trace.note', text: 'n'.repeat(4097) }),
      f({ type: 'no.such' } as unknown as EngineEvent),
      f({ type: 'vm.stop' }, { rc: 2 ** 31 }),
      f({ type: 'vm.stop' }, { x: [0n, 0n, 0n, 0n, 0n] }),
      f({ type: 'vm.stop' }, {}, [{ type: 'e', bad: Number.NaN }]),
      f({ type: 'vm.stop' }, {}, [{ type: 'e', bad: 1n << 64n }]),
      f({ type: 'vm.stop' }, {}, [{ type: '' }]),
      f({ type: 'vm.stop' }, {}, [JSON.parse('{"type":"e","__proto__":1}')]),
    ];
    writer.append(EVERY_TYPE[1]!);
    for (const frame of bad) expectTraceError(() => writer.append(frame), 'INVALID_RECORD');
    writer.append(EVERY_TYPE[2]!);
    writer.append(EVERY_TYPE[3]!);
    writer.finish();
    const trace = readTrace(Buffer.concat(writes));
    expect(allFrames(trace)).toEqual(EVERY_TYPE.slice(1, 4));
    expect(() => new TraceWriter({ write: () => {} }, { ...HEADER, quirks: ['zero-clear'] })).toThrow(
      TraceError,
    );
    expect(() => new TraceWriter({ write: () => {} }, { ...HEADER, host: 'gicv2' as 'gicv3' })).toThrow(
      TraceError,
    );
  });
});

describe('lazy decoding', () => {
  it('serves random positions from a small cache', () => {
    const frames = realisticFrames(9, 2000);
    const trace = readTrace(encodeTrace(HEADER, frames, { chunkEvents: 64 }), { cacheChunks: 2 });
    const rnd = seeded(99);
    for (let k = 0; k < 500; k++) {
      const p = 1 + Math.floor(rnd() * frames.length);
      expect(trace.frame(p)).toBe(trace.frame(p));
      expect(trace.frame(p)).toEqual(frames[p - 1]);
    }
    for (let p = frames.length; p >= 1; p--) expect(trace.frame(p)).toEqual(frames[p - 1]);
    expect(() => trace.frame(0)).toThrow(RangeError);
    expect(() => trace.frame(frames.length + 1)).toThrow(RangeError);
    expect(() => trace.chunkFrames(trace.chunks.length)).toThrow(RangeError);
  });
});

describe('size', () => {
  it('is at most 0.15× the same frames as JSON lines on a realistic mix', () => {
    const frames = realisticFrames(2026, 25_000);
    const size = encodeTrace(HEADER, frames).length;
    const json = jsonLines(frames);
    const ratio = size / json;
    console.log(
      `trace size: ${frames.length} frames, ${size} bytes (${(size / frames.length).toFixed(2)} B/frame), ` +
        `JSON lines ${json} bytes (${(json / frames.length).toFixed(1)} B/frame), ratio ${ratio.toFixed(4)}`,
    );
    expect(ratio).toBeLessThanOrEqual(0.15);
  });
});
