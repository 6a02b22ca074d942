// Trace format v1, the writer (traces/FORMAT.md): a streaming, crash-safe encoder. The header is
// written at construction; each chunk's frames are encoded as they come (trace-payload.ts: the
// bytes a fresh msgpackr packer would give, into one reused buffer), deflated, framed and
// written whole by one `sink.write` when it fills, so a process killed mid-record leaves a file
// whose complete chunks all read back; `finish` writes the last chunk, the index and the
// trailer. Output depends only on the header and the frames (no clocks, no host order).

import { crc32, deflateRawSync } from 'node:zlib';
import type { Frame } from './frame.js';
import { TraceError } from './trace-error.js';
import { PayloadEncoder } from './trace-payload.js';
import {
  CHUNK_TAG,
  DEFAULT_CHUNK_EVENTS,
  DEFLATE_OPTIONS,
  FORMAT_VERSION,
  headerBody,
  INDEX_TAG,
  isChunkHash,
  LAYOUT,
  LIMITS,
  MAGIC,
  MIN_READER_VERSION,
  newPackr,
  TRAILER_TAG,
  type TraceHeaderInput,
} from './trace-schema.js';

export type { TraceBoard, TraceHeaderInput } from './trace-schema.js';

/** Where the bytes go; every call is one whole structure (header, chunk, index + trailer). */
export interface TraceSink {
  write(bytes: Uint8Array): void;
}

export interface TraceWriterOptions {
  /** Events per chunk (default 4096; 1..2^20). */
  chunkEvents?: number;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Packs with the pinned options and copies out of msgpackr's shared buffer. */
function packCopy(value: unknown): Uint8Array {
  return Uint8Array.from(newPackr().pack(value));
}

/** Encodes frames into a trace, chunk by chunk, onto `sink`. */
export class TraceWriter {
  private readonly sink: TraceSink;
  private readonly chunkEvents: number;
  private chunkHash: (() => string) | undefined;
  /** The payload of the chunk being filled (trace-payload.ts). */
  private readonly payload = new PayloadEncoder();
  private events = 0;
  private offset = 0;
  private finished = false;
  private readonly chunks: [offset: number, first: number, count: number, hash: string | null][] = [];
  private readonly marks: [name: string, position: number][] = [];

  /** Validates the header and writes it; throws TraceError INVALID_RECORD on a bad header. */
  constructor(sink: TraceSink, header: TraceHeaderInput, options: TraceWriterOptions = {}) {
    const chunkEvents = options.chunkEvents ?? DEFAULT_CHUNK_EVENTS;
    if (!Number.isInteger(chunkEvents) || chunkEvents < 1 || chunkEvents > LIMITS.chunkEvents) {
      throw new RangeError(`chunkEvents must be an integer 1..${LIMITS.chunkEvents}, got ${chunkEvents}`);
    }
    this.sink = sink;
    this.chunkEvents = chunkEvents;
    const body = packCopy(headerBody(header, chunkEvents));
    if (body.length > LIMITS.headerBytes) {
      throw new TraceError(
        'INVALID_RECORD',
        0,
        `header of ${body.length} bytes exceeds ${LIMITS.headerBytes}`,
      );
    }
    const bytes = new Uint8Array(LAYOUT.prefixBytes + body.length + 4);
    const dv = view(bytes);
    bytes.set(MAGIC, 0);
    dv.setUint16(8, FORMAT_VERSION, true);
    dv.setUint16(10, MIN_READER_VERSION, true);
    dv.setUint32(12, body.length, true);
    bytes.set(body, LAYOUT.prefixBytes);
    dv.setUint32(
      LAYOUT.prefixBytes + body.length,
      crc32(bytes.subarray(8, LAYOUT.prefixBytes + body.length)),
      true,
    );
    this.emit(bytes);
  }

  /**
   * Supplies the canonical state hash (hex) at each chunk end: called once per chunk, right
   * after the chunk's last frame is appended (so the state it hashes is the state after that
   * event). An empty string means no hash for that chunk.
   */
  setChunkHash(fn: (() => string) | undefined): void {
    this.chunkHash = fn;
  }

  /** Events appended so far. */
  get length(): number {
    return this.events;
  }

  /** Bytes handed to the sink so far. */
  get bytesWritten(): number {
    return this.offset;
  }

  /**
   * Adds the next frame (position `length + 1`). Throws TraceError INVALID_RECORD, leaving the
   * writer unchanged, if the frame does not fit the schema; writes the chunk when it fills.
   */
  append(frame: Frame): void {
    if (this.finished) throw new Error('TraceWriter.append after finish');
    const position = this.events + 1;
    if (position > LIMITS.events)
      throw new TraceError('INVALID_RECORD', this.offset, 'trace exceeds 2^32-1 events');
    this.payload.append(frame, position, this.offset);
    this.events = position;
    if (frame.event.type === 'trace.mark') this.marks.push([frame.event.name, position]);
    if (this.payload.frames >= this.chunkEvents) this.flushChunk();
  }

  /** Writes the last (partial) chunk, the index and the trailer. The writer is done after. */
  finish(): void {
    if (this.finished) throw new Error('TraceWriter.finish called twice');
    if (this.payload.frames > 0) this.flushChunk();
    this.payload.release();
    this.finished = true;
    const body = packCopy({ events: this.events, chunks: this.chunks, marks: this.marks });
    const index = new Uint8Array(LAYOUT.indexFrameBytes + body.length + 4);
    const dv = view(index);
    index.set(INDEX_TAG, 0);
    dv.setUint32(4, body.length, true);
    index.set(body, LAYOUT.indexFrameBytes);
    dv.setUint32(
      LAYOUT.indexFrameBytes + body.length,
      crc32(index.subarray(0, LAYOUT.indexFrameBytes + body.length)),
      true,
    );
    const trailer = new Uint8Array(LAYOUT.trailerBytes);
    const tv = view(trailer);
    trailer.set(TRAILER_TAG, 0);
    tv.setBigUint64(4, BigInt(this.offset), true);
    tv.setUint32(12, index.length, true);
    tv.setUint32(16, crc32(trailer.subarray(0, 16)), true);
    const tail = new Uint8Array(index.length + trailer.length);
    tail.set(index, 0);
    tail.set(trailer, index.length);
    this.emit(tail);
  }

  private flushChunk(): void {
    const count = this.payload.frames;
    const first = this.events - count + 1;
    const hash = this.chunkHash?.() ?? '';
    if (hash !== '' && !isChunkHash(hash)) {
      throw new TraceError(
        'INVALID_RECORD',
        this.offset,
        `chunk hash for #${first} is not 1..128 hex digits`,
      );
    }
    const raw = this.payload.payload();
    if (raw.length > LIMITS.chunkBytes) {
      throw new TraceError(
        'INVALID_RECORD',
        this.offset,
        `chunk of #${first} encodes to more than ${LIMITS.chunkBytes} bytes`,
      );
    }
    const stored = deflateRawSync(raw, DEFLATE_OPTIONS);
    const hashBytes = Buffer.from(hash, 'latin1');
    const bytes = new Uint8Array(LAYOUT.chunkFrameBytes + hashBytes.length + stored.length);
    const dv = view(bytes);
    bytes.set(CHUNK_TAG, 0);
    dv.setUint32(4, first, true);
    dv.setUint32(8, count, true);
    dv.setUint32(12, stored.length, true);
    dv.setUint32(16, raw.length, true);
    dv.setUint16(20, hashBytes.length, true);
    dv.setUint16(22, 0, true);
    bytes.set(hashBytes, LAYOUT.chunkFrameBytes);
    bytes.set(stored, LAYOUT.chunkFrameBytes + hashBytes.length);
    dv.setUint32(24, crc32(bytes.subarray(LAYOUT.chunkFrameBytes)), true);
    dv.setUint32(28, crc32(bytes.subarray(0, 28)), true);
    this.chunks.push([this.offset, first, count, hash === '' ? null : hash]);
    this.payload.clear();
    this.emit(bytes);
  }

  private emit(bytes: Uint8Array): void {
    this.sink.write(bytes);
    this.offset += bytes.length;
  }
}

/** The whole trace of `frames` as one byte array (tests and tools). */
export function encodeTrace(
  header: TraceHeaderInput,
  frames: Iterable<Frame>,
  options: TraceWriterOptions & { chunkHash?: (position: number) => string } = {},
): Uint8Array {
  const parts: Uint8Array[] = [];
  const writer = new TraceWriter({ write: (bytes) => void parts.push(bytes) }, header, options);
  const { chunkHash } = options;
  if (chunkHash) writer.setChunkHash(() => chunkHash(writer.length));
  for (const frame of frames) writer.append(frame);
  writer.finish();
  return Buffer.concat(parts);
}
