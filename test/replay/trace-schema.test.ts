// Trace format change rules (traces/FORMAT.md "Change rules"): the format description (layout,
// limits, msgpackr options, event/output/effect schema) is snapshotted with its hash in
// trace-schema.snapshot.json, and this test fails when it changes without a FORMAT_VERSION bump.
// A golden v1 trace (trace-golden-v1.json) must stay readable by every later build, and this
// build must still encode its frames to the same header and payload bytes.
//
// After a deliberate format change: bump FORMAT_VERSION (and MIN_READER_VERSION when older
// readers would misread the new files) in replay/trace-schema.ts, then rewrite the snapshot with
//   UPDATE_TRACE_SCHEMA=1 npx vitest run test/replay/trace-schema.test.ts
// The golden file is never rewritten; a new format adds a new golden file next to it.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Effect, EngineEvent, Output } from '../../engine/events.js';
import type { Frame } from '../../replay/frame.js';
import { readTrace } from '../../replay/trace-reader.js';
import {
  canonicalJson,
  EVENT_SCHEMA,
  FORMAT_DESCRIPTION,
  FORMAT_VERSION,
  LAYOUT,
  MAGIC,
  MIN_READER_VERSION,
  SCHEMA_HASH,
  TRACE_SCHEMA,
  type TraceHeaderInput,
} from '../../replay/trace-schema.js';
import { encodeTrace } from '../../replay/trace-writer.js';

const SNAPSHOT = new URL('./trace-schema.snapshot.json', import.meta.url);
const GOLDEN = new URL('./trace-golden-v1.json', import.meta.url);

interface Snapshot {
  formatVersion: number;
  minReader: number;
  hash: string;
  description: unknown;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Writes a fixture (update mode only) in the layout `biome check` expects. */
function writeFixture(url: URL, value: unknown): void {
  const path = fileURLToPath(url);
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  execFileSync('npx', ['biome', 'format', '--write', path], { stdio: 'ignore' });
}

describe('schema snapshot', () => {
  const json = canonicalJson(FORMAT_DESCRIPTION);
  const current: Snapshot = {
    formatVersion: FORMAT_VERSION,
    minReader: MIN_READER_VERSION,
    hash: sha256(json),
    description: JSON.parse(json),
  };
  if (process.env.UPDATE_TRACE_SCHEMA === '1') writeFixture(SNAPSHOT, current);
  const committed = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Snapshot;

  it('changes only together with the format version', () => {
    if (current.hash !== committed.hash) {
      expect.fail(
        current.formatVersion === committed.formatVersion
          ? `the trace format changed (hash ${current.hash.slice(0, 16)}, snapshot ${committed.hash.slice(0, 16)}) ` +
              `but FORMAT_VERSION is still ${FORMAT_VERSION}: bump it (and MIN_READER_VERSION if older readers ` +
              'would misread the new files) in replay/trace-schema.ts, then run UPDATE_TRACE_SCHEMA=1 npx vitest run ' +
              'test/replay/trace-schema.test.ts and add a golden trace for the new version'
          : `FORMAT_VERSION is ${FORMAT_VERSION} but the snapshot is for ${committed.formatVersion}: ` +
              'run UPDATE_TRACE_SCHEMA=1 npx vitest run test/replay/trace-schema.test.ts',
      );
    }
    expect(current).toEqual(committed);
  });

  it('only moves versions forward, and minReader never passes the format', () => {
    expect(FORMAT_VERSION).toBeGreaterThanOrEqual(committed.formatVersion);
    expect(MIN_READER_VERSION).toBeLessThanOrEqual(FORMAT_VERSION);
    expect(MIN_READER_VERSION).toBeGreaterThanOrEqual(committed.minReader);
  });

  it('hashes the schema the header carries', () => {
    expect(SCHEMA_HASH).toBe(sha256(canonicalJson(TRACE_SCHEMA)));
    const trace = readTrace(encodeTrace({ producer: 't', board: null, host: 'gicv3', quirks: [] }, []));
    expect(trace.header.schemaHash).toBe(SCHEMA_HASH);
    expect(canonicalJson(trace.header.schema)).toBe(canonicalJson(TRACE_SCHEMA));
  });

  it('describes the magic it writes', () => {
    expect(Buffer.from(MAGIC).toString('hex')).toBe(LAYOUT.magic);
  });

  it('numbers event types densely with unique names', () => {
    expect(EVENT_SCHEMA.map((e) => e.code)).toEqual(EVENT_SCHEMA.map((_e, i) => i));
    expect(new Set(EVENT_SCHEMA.map((e) => e.type)).size).toBe(EVENT_SCHEMA.length);
  });
});

// ---- golden v1 trace -------------------------------------------------------------------------

/** JSON with bigints and byte arrays tagged, so expected frames can live in a fixture. */
const toTagged = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v), 1);
const fromTagged = (text: string): unknown =>
  JSON.parse(text, (_k, v) =>
    v !== null && typeof v === 'object' && typeof (v as { $bigint?: unknown }).$bigint === 'string'
      ? BigInt((v as { $bigint: string }).$bigint)
      : v,
  );

const GOLDEN_HEADER: TraceHeaderInput = {
  producer: 'vgicrr golden v1',
  board: { machine: 'virt', vcpus: 2, nrIrqs: 128, its: true, sdei: true, ipaBits: 40 },
  host: 'gicv4.1',
  quirks: ['vsgi-pending-latch-only'],
  seed: 'c0ffee',
};

const f = (event: EngineEvent, output: Output = {}, effects: Effect[] = []): Frame => ({
  event,
  output,
  effects,
});

/** The frames of the golden trace (used only to create the fixture once). */
function goldenFrames(): Frame[] {
  const u64 = (1n << 64n) - 1n;
  return [
    f(
      { type: 'vm.create', host: 'gicv4.1', quirks: ['vsgi-pending-latch-only'], ipaBits: 40, sdei: true },
      { rc: 0 },
    ),
    f({ type: 'vcpu.create', vcpu: 0 }, { rc: 0 }),
    f({ type: 'vcpu.create', vcpu: 1 }, { rc: 0 }),
    f({ type: 'device.create', kind: 'vgic-v3' }, { rc: 0 }),
    f({ type: 'attr.set', dev: 'gic', group: 0, attr: 0n, value: 0x0800_0000n }, { rc: 0 }),
    f(
      { type: 'attr.get', dev: 'gic', group: 1, attr: 0x0000_0100_0000_0004n, preset: null },
      { rc: 0, value: 0x43bn },
    ),
    f({ type: 'attr.has', dev: 'its', group: 4, attr: 1n }, { rc: 0 }),
    f({ type: 'irq.line', kind: 'spi', vcpu: 0, intid: 40, level: 1 }, { rc: 0 }, [
      { type: 'cpu.irq.set', vcpu: 0, level: true },
    ]),
    f({ type: 'msi.signal', devid: 1, eventid: 2 }, { rc: 0 }),
    f({ type: 'reg.get', vcpu: 0, reg: 0x6030_0000_0010_0040n }, { rc: 0, value: 0x3c5n }),
    f({ type: 'reg.set', vcpu: 1, reg: 0x6080_0000_0015_0000n, value: (1n << 2047n) | 1n }, { rc: 0 }),
    f({ type: 'vcpu.run', vcpu: 0 }, { rc: 0 }),
    f({ type: 'vcpu.reset', vcpu: 1 }, { rc: -16 }),
    f({ type: 'sdei.inject', vcpu: 0, event: 0n }, { rc: 0 }, [
      { type: 'sdei.dispatch', vcpu: 0, event: 0n },
    ]),
    f({ type: 'trace.mark', name: 'cut' }),
    f({ type: 'vm.stop' }, { rc: 0 }),
    f({ type: 'vm.cont' }, { rc: 0 }),
    f({ type: 'guest.read', vcpu: 0, addr: 0x0800_0008n, size: 4 }, { value: 0x0300_043bn }),
    f({ type: 'guest.write', vcpu: 1, addr: 0x4000_0000n, value: u64, size: 8 }),
    f({ type: 'guest.mrs', vcpu: 0, sysreg: 0xc660 }, { value: 1023n }),
    f({ type: 'guest.msr', vcpu: 0, sysreg: 0xc661, value: 40n }, {}, [
      { type: 'mmio.exit', vcpu: 0, addr: 1n << 60n, size: 8, write: true, value: 0.5 },
    ]),
    f(
      { type: 'guest.hvc', vcpu: 0, args: [0xc400_0020n, 0n, 0x4000_2000n, 0n, 0n, 0n] },
      { x: [u64 - 1n, 0n, 0n, 0n] },
    ),
    f({ type: 'guest.reg', vcpu: 0, reg: 31 }, { value: 0x4000_2000n }),
    f({ type: 'mem.read', addr: 0x4000_0000n, size: 8 }, { rc: 0, value: u64 }),
    f({ type: 'mem.write', addr: 0x4000_0008n, value: -1n, size: 1 }, { rc: 0 }),
    f({ type: 'trace.note', text: 'golden v1 — end' }),
  ];
}

interface Golden {
  note: string;
  trace: string;
  frames: string;
}

/** Header block bytes and each chunk's inflated payload: what the encoder decides (not zlib). */
function encodedParts(bytes: Uint8Array): Buffer[] {
  const trace = readTrace(bytes);
  const dataStart = trace.chunks[0]!.offset;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts = [Buffer.from(bytes.subarray(0, dataStart))];
  for (const c of trace.chunks) {
    const stored = dv.getUint32(c.offset + 12, true);
    const hashLength = dv.getUint16(c.offset + 20, true);
    const start = c.offset + 32 + hashLength;
    parts.push(
      Buffer.from(bytes.subarray(c.offset + 4, c.offset + 24)),
      inflateRawSync(bytes.subarray(start, start + stored)),
    );
  }
  return parts;
}

interface GoldenSpec {
  version: number;
  file: URL;
  frames: () => Frame[];
  /** Chunk-end positions (chunks of 8 events). */
  chunkEnds: number[];
}

/** v2 adds the migration statements (use_vm, ram_transfer, migrate_begin, migrate_end). */
function goldenFramesV2(): Frame[] {
  return [
    ...goldenFrames(),
    f({ type: 'migrate.begin', vmm: 'qemu', quirks: 'zero-clear,force-ptz' }, { rc: 0 }),
    f({ type: 'vm.select', vm: 1 }, { rc: -22 }),
    f({ type: 'ram.transfer', from: 0, to: 1 }, { rc: 0 }),
    f({ type: 'migrate.end' }, { rc: -16 }, [
      { type: 'migrate.step-failed', step: 2, event: 'vm.select', rc: -22 },
    ]),
  ];
}

const GOLDENS: GoldenSpec[] = [
  { version: 1, file: GOLDEN, frames: goldenFrames, chunkEnds: [8, 16, 24, 26] },
  {
    version: 2,
    file: new URL('./trace-golden-v2.json', import.meta.url),
    frames: goldenFramesV2,
    chunkEnds: [8, 16, 24, 30],
  },
];

describe.each(GOLDENS)('golden v$version trace', ({ version, file, frames: makeFrames, chunkEnds }) => {
  if (
    !existsSync(file) &&
    process.env.UPDATE_TRACE_GOLDEN === '1' &&
    version === (FORMAT_VERSION as number)
  ) {
    const frames = makeFrames();
    const bytes = encodeTrace(GOLDEN_HEADER, frames, {
      chunkEvents: 8,
      chunkHash: (p) => sha256(`state ${p}`),
    });
    const golden: Golden = {
      note: `format v${version} trace written by vgicrr ${version === 1 ? '0.1.0' : 'format 2'}; must stay readable by every later build (never rewrite)`,
      trace: Buffer.from(bytes).toString('base64'),
      frames: toTagged(frames),
    };
    writeFixture(file, golden);
  }
  const golden = JSON.parse(readFileSync(file, 'utf8')) as Golden;
  const bytes = Buffer.from(golden.trace, 'base64');
  const frames = fromTagged(golden.frames) as Frame[];

  it('stays readable', () => {
    const trace = readTrace(bytes);
    expect(trace.issues).toEqual([]);
    expect(trace.header).toMatchObject({ ...GOLDEN_HEADER, format: version, minReader: 1, chunkEvents: 8 });
    const read: Frame[] = [];
    for (let c = 0; c < trace.chunks.length; c++) read.push(...trace.chunkFrames(c));
    expect(read).toEqual(frames);
    expect(trace.marks).toEqual([{ name: 'cut', position: 15 }]);
    expect(trace.chunks.map((c) => c.hash)).toEqual(chunkEnds.map((p) => sha256(`state ${p}`)));
  });

  it.runIf((FORMAT_VERSION as number) === version)(
    'is what this build still writes for the same frames (header and payload bytes)',
    () => {
      const again = encodeTrace(GOLDEN_HEADER, frames, {
        chunkEvents: 8,
        chunkHash: (p) => sha256(`state ${p}`),
      });
      expect(encodedParts(again)).toEqual(encodedParts(bytes));
    },
  );
});
