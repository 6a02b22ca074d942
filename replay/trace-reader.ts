// Trace format v1, the reader (traces/FORMAT.md "Recovery"): checks the header, finds the chunks
// through the trailer and index (or, when either is missing or damaged, by scanning the framed
// chunks), and verifies every checksum up front. Chunk payloads stay as raw bytes and are
// inflated, unpacked and validated on demand with a small LRU cache, so a million-event trace
// never holds a million frames. It throws TraceError only when the header cannot be used;
// every other problem becomes an issue naming its byte offset, and every intact chunk is kept.

import { crc32, inflateRawSync } from 'node:zlib';
import type { Frame, FrameSource } from './frame.js';
import { TraceError, type TraceIssue } from './trace-error.js';
import { decodeFrames } from './trace-payload.js';
import {
  CHUNK_TAG,
  checkHeaderBody,
  INDEX_TAG,
  isChunkHash,
  isPlainObject,
  LAYOUT,
  LIMITS,
  MAGIC,
  newUnpackr,
  READER_VERSION,
  TRAILER_TAG,
  type TraceHeader,
} from './trace-schema.js';

export type { TraceIssue } from './trace-error.js';
export type { TraceHeader } from './trace-schema.js';

/** An intact chunk: where it starts in the file and which events it holds. */
export interface TraceChunk {
  offset: number;
  /** Position (1-based) of its first event. */
  first: number;
  count: number;
  /** Canonical state hash after its last event, if the recorder supplied one. */
  hash?: string;
}

export interface TraceMark {
  name: string;
  position: number;
}

/** A trace as read: header, intact chunks (decoded on demand), marks and any damage found. */
export interface LoadedTrace extends FrameSource {
  readonly header: TraceHeader;
  /**
   * Events in the intact chunks that run without a gap from #1 (all of them when nothing is
   * damaged). Chunks after a damaged one are still listed in `chunks` and readable.
   */
  readonly length: number;
  readonly chunks: readonly TraceChunk[];
  readonly marks: readonly TraceMark[];
  /** Damage found while loading (warnings); empty for an intact trace. */
  readonly issues: readonly TraceIssue[];
  /**
   * The frame of event `position`. Throws TraceError if the position lies in a damaged chunk or
   * its chunk fails validation, RangeError if it is outside every chunk. Frames are shared with
   * the decode cache: treat them as read-only.
   */
  frame(position: number): Frame;
  /** The frames of `chunks[index]` (validated; read-only, shared with the cache). */
  chunkFrames(index: number): Frame[];
}

export interface ReadTraceOptions {
  /** Decoded chunks kept in memory (default 2: the current one and its predecessor, for stepping back). */
  cacheChunks?: number;
}

interface ChunkData extends TraceChunk {
  rawLength: number;
  payload: Uint8Array;
}

interface IndexData {
  events: number;
  chunks: { offset: number; first: number; count: number; hash: string | null }[];
  marks: TraceMark[];
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hasAt(bytes: Uint8Array, pos: number, tag: Uint8Array): boolean {
  if (pos < 0 || pos + tag.length > bytes.length) return false;
  for (let k = 0; k < tag.length; k++) if (bytes[pos + k] !== tag[k]) return false;
  return true;
}

/** The bytes from `pos` to the end are a proper prefix of `tag`. */
function isTagPrefix(bytes: Uint8Array, pos: number, tag: Uint8Array): boolean {
  const n = bytes.length - pos;
  if (n <= 0 || n >= tag.length) return false;
  for (let k = 0; k < n; k++) if (bytes[pos + k] !== tag[k]) return false;
  return true;
}

// ---- header ----------------------------------------------------------------------------------

function readHeader(bytes: Uint8Array): { header: TraceHeader; end: number } {
  const n = bytes.length;
  for (let k = 0; k < MAGIC.length; k++) {
    if (k >= n) throw new TraceError('TRUNCATED', n, `file ends at byte ${n}, inside the trace magic`);
    if (bytes[k] !== MAGIC[k])
      throw new TraceError('BAD_MAGIC', k, 'not a vgicrr trace (magic does not match)');
  }
  const dv = view(bytes);
  if (n < LAYOUT.prefixBytes)
    throw new TraceError('TRUNCATED', n, `file ends at byte ${n}, inside the header`);
  const format = dv.getUint16(8, true);
  const minReader = dv.getUint16(10, true);
  const length = dv.getUint32(12, true);
  const tooNew = () =>
    new TraceError(
      'VERSION_TOO_NEW',
      8,
      `trace format ${format} needs a reader for format ${minReader} or newer; this vgicrr reads format ${READER_VERSION} (upgrade vgicrr)`,
    );
  if (length > LIMITS.headerBytes) {
    // A newer format may allow a bigger header; otherwise the length is damaged.
    if (minReader > READER_VERSION) throw tooNew();
    throw new TraceError('CORRUPT', 12, `header length ${length} exceeds ${LIMITS.headerBytes} bytes`);
  }
  const end = LAYOUT.prefixBytes + length + 4;
  if (end > n) throw new TraceError('TRUNCATED', n, `file ends at byte ${n}, inside the ${end}-byte header`);
  const crc = dv.getUint32(LAYOUT.prefixBytes + length, true);
  if (crc32(bytes.subarray(8, LAYOUT.prefixBytes + length)) !== crc) {
    throw new TraceError('CORRUPT', 8, 'header checksum mismatch');
  }
  // Checked after the checksum, so a damaged version field reads as damage, not as "upgrade".
  if (minReader > READER_VERSION) throw tooNew();
  if (format < 1 || minReader < 1 || minReader > format) {
    throw new TraceError(
      'INVALID_RECORD',
      8,
      `header: impossible versions (format ${format}, minReader ${minReader})`,
    );
  }
  let body: unknown;
  try {
    body = newUnpackr().unpack(bytes.subarray(LAYOUT.prefixBytes, LAYOUT.prefixBytes + length));
  } catch (e) {
    throw new TraceError(
      'INVALID_RECORD',
      LAYOUT.prefixBytes,
      `header body does not decode: ${errorText(e)}`,
    );
  }
  try {
    return { header: checkHeaderBody(body, format, minReader, LAYOUT.prefixBytes), end };
  } catch (e) {
    if (e instanceof TraceError) throw e;
    throw new TraceError('INVALID_RECORD', LAYOUT.prefixBytes, `header body: ${errorText(e)}`);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---- chunks ----------------------------------------------------------------------------------

type ChunkResult =
  | { kind: 'ok'; chunk: ChunkData; end: number }
  /** The frame checksum fails: its lengths cannot be trusted. */
  | { kind: 'bad-frame'; issue: TraceIssue }
  /** The frame is intact but the chunk is not usable; `end` is where the next structure starts. */
  | { kind: 'bad-chunk'; issue: TraceIssue; end: number }
  | { kind: 'truncated'; issue: TraceIssue };

function issue(code: TraceIssue['code'], offset: number, detail: string): TraceIssue {
  return new TraceError(code, offset, detail).toIssue();
}

/** The chunk framed at `pos` (whose tag has been seen); `chunkEvents` bounds its count. */
function readChunk(bytes: Uint8Array, pos: number, chunkEvents: number): ChunkResult {
  const n = bytes.length;
  if (pos + LAYOUT.chunkFrameBytes > n) {
    return {
      kind: 'truncated',
      issue: issue('TRUNCATED', pos, `file ends at byte ${n}, inside the frame of a chunk`),
    };
  }
  const dv = view(bytes);
  if (crc32(bytes.subarray(pos, pos + 28)) !== dv.getUint32(pos + 28, true)) {
    return { kind: 'bad-frame', issue: issue('CORRUPT', pos, 'chunk frame checksum mismatch') };
  }
  const first = dv.getUint32(pos + 4, true);
  const count = dv.getUint32(pos + 8, true);
  const stored = dv.getUint32(pos + 12, true);
  const rawLength = dv.getUint32(pos + 16, true);
  const hashLength = dv.getUint16(pos + 20, true);
  const reserved = dv.getUint16(pos + 22, true);
  const end = pos + LAYOUT.chunkFrameBytes + hashLength + stored;
  const last = first + count - 1;
  if (
    first < 1 ||
    count < 1 ||
    count > chunkEvents ||
    last > LIMITS.events ||
    stored > LIMITS.chunkBytes ||
    rawLength > LIMITS.chunkBytes ||
    hashLength > LIMITS.hashChars ||
    reserved !== 0
  ) {
    const detail = `chunk frame out of range (first ${first}, count ${count}, ${stored}/${rawLength} bytes)`;
    return stored <= LIMITS.chunkBytes && hashLength <= LIMITS.hashChars && end <= n
      ? { kind: 'bad-chunk', issue: issue('INVALID_RECORD', pos, detail), end }
      : { kind: 'bad-frame', issue: issue('INVALID_RECORD', pos, detail) };
  }
  if (end > n) {
    return {
      kind: 'truncated',
      issue: issue(
        'TRUNCATED',
        pos,
        `chunk of #${first}–#${last} is cut short: it needs ${end - n} more bytes`,
      ),
    };
  }
  const body = bytes.subarray(pos + LAYOUT.chunkFrameBytes, end);
  if (crc32(body) !== dv.getUint32(pos + 24, true)) {
    return {
      kind: 'bad-chunk',
      issue: issue('CORRUPT', pos, `chunk of #${first}–#${last}: checksum mismatch`),
      end,
    };
  }
  const hash = hashLength
    ? Buffer.from(body.buffer, body.byteOffset, hashLength).toString('latin1')
    : undefined;
  if (hash !== undefined && !isChunkHash(hash)) {
    return {
      kind: 'bad-chunk',
      issue: issue('INVALID_RECORD', pos, `chunk of #${first}: hash is not hex`),
      end,
    };
  }
  const chunk: ChunkData = { offset: pos, first, count, rawLength, payload: body.subarray(hashLength) };
  if (hash !== undefined) chunk.hash = hash;
  return { kind: 'ok', chunk, end };
}

// ---- index and trailer -----------------------------------------------------------------------

function asIndexBody(value: unknown, offset: number, dataStart: number, indexOffset: number): IndexData {
  const bad = (detail: string) => new TraceError('INVALID_RECORD', offset, `index: ${detail}`);
  if (!isPlainObject(value)) throw bad('not a map');
  const keys = Object.keys(value);
  if (
    keys.length !== 3 ||
    !Object.hasOwn(value, 'events') ||
    !Object.hasOwn(value, 'chunks') ||
    !Object.hasOwn(value, 'marks')
  ) {
    throw bad('fields must be events, chunks, marks');
  }
  const { events, chunks, marks } = value;
  if (typeof events !== 'number' || !Number.isInteger(events) || events < 0 || events > LIMITS.events) {
    throw bad('bad event count');
  }
  if (!Array.isArray(chunks) || chunks.length > (indexOffset - dataStart) / LAYOUT.chunkFrameBytes) {
    throw bad('bad chunk list');
  }
  const list: IndexData['chunks'] = [];
  let nextFirst = 1;
  let minOffset = dataStart;
  for (const entry of chunks) {
    if (!Array.isArray(entry) || entry.length !== 4)
      throw bad('chunk entry is not [offset, first, count, hash]');
    const [off, first, count, hash] = entry as unknown[];
    if (
      typeof off !== 'number' ||
      !Number.isInteger(off) ||
      off < minOffset ||
      off + LAYOUT.chunkFrameBytes > indexOffset
    ) {
      throw bad(`chunk offset ${String(off)} out of order or range`);
    }
    if (first !== nextFirst || typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
      throw bad(`chunk at ${off}: event range does not continue at #${nextFirst}`);
    }
    if (hash !== null && !isChunkHash(hash)) throw bad(`chunk at ${off}: bad hash`);
    list.push({ offset: off, first, count, hash });
    nextFirst = first + count;
    minOffset = off + LAYOUT.chunkFrameBytes;
  }
  if (nextFirst - 1 !== events) throw bad(`chunks hold ${nextFirst - 1} events, index says ${events}`);
  if (!Array.isArray(marks) || marks.length > events) throw bad('bad mark list');
  const markList: TraceMark[] = [];
  for (const m of marks) {
    if (!Array.isArray(m) || m.length !== 2) throw bad('mark is not [name, position]');
    const [name, position] = m as unknown[];
    if (typeof name !== 'string' || name.length > LIMITS.string) throw bad('bad mark name');
    if (typeof position !== 'number' || !Number.isInteger(position) || position < 1 || position > events) {
      throw bad(`mark ${JSON.stringify(name.slice(0, 40))}: bad position`);
    }
    markList.push({ name, position });
  }
  return { events, chunks: list, marks: markList };
}

/** The index block at `pos`, or a TraceError saying why it cannot be used. */
function readIndex(bytes: Uint8Array, pos: number, dataStart: number): { index: IndexData; end: number } {
  const n = bytes.length;
  if (!hasAt(bytes, pos, INDEX_TAG)) throw new TraceError('CORRUPT', pos, 'no index here');
  if (pos + LAYOUT.indexFrameBytes > n)
    throw new TraceError('TRUNCATED', pos, `file ends at byte ${n}, inside the index`);
  const dv = view(bytes);
  const length = dv.getUint32(pos + 4, true);
  if (length > LIMITS.indexBytes)
    throw new TraceError('CORRUPT', pos, `index length ${length} exceeds the limit`);
  const end = pos + LAYOUT.indexFrameBytes + length + 4;
  if (end > n)
    throw new TraceError('TRUNCATED', pos, `file ends at byte ${n}, inside the ${end - pos}-byte index`);
  if (crc32(bytes.subarray(pos, end - 4)) !== dv.getUint32(end - 4, true)) {
    throw new TraceError('CORRUPT', pos, 'index checksum mismatch');
  }
  let body: unknown;
  try {
    body = newUnpackr().unpack(bytes.subarray(pos + LAYOUT.indexFrameBytes, end - 4));
  } catch (e) {
    throw new TraceError('INVALID_RECORD', pos, `index does not decode: ${errorText(e)}`);
  }
  return { index: asIndexBody(body, pos, dataStart, pos), end };
}

/** The index the trailer points to, or the issue that prevents using it. */
function readTrailer(
  bytes: Uint8Array,
  dataStart: number,
): { index: IndexData; indexOffset: number } | TraceIssue {
  const n = bytes.length;
  const at = n - LAYOUT.trailerBytes;
  if (at < dataStart || !hasAt(bytes, at, TRAILER_TAG)) {
    return issue(
      'TRUNCATED',
      n,
      `no trailer at the end of the file (byte ${n}): cut short while recording, or damaged`,
    );
  }
  const dv = view(bytes);
  if (crc32(bytes.subarray(at, at + 16)) !== dv.getUint32(at + 16, true)) {
    return issue('CORRUPT', at, 'trailer checksum mismatch');
  }
  const indexOffset = Number(dv.getBigUint64(at + 4, true));
  const indexLength = dv.getUint32(at + 12, true);
  if (indexOffset < dataStart || indexOffset + indexLength !== at) {
    return issue(
      'CORRUPT',
      at,
      `trailer points to an index at ${indexOffset} of ${indexLength} bytes, not ending at ${at}`,
    );
  }
  try {
    const { index, end } = readIndex(bytes, indexOffset, dataStart);
    if (end !== at) return issue('CORRUPT', indexOffset, 'index length disagrees with the trailer');
    return { index, indexOffset };
  } catch (e) {
    if (e instanceof TraceError) return e.toIssue();
    return issue('INVALID_RECORD', indexOffset, `index: ${errorText(e)}`);
  }
}

// ---- locating chunks -------------------------------------------------------------------------

interface Found {
  chunks: ChunkData[];
  marks: TraceMark[] | undefined;
  issues: TraceIssue[];
  /** The index agrees with the chunks it lists (damaged chunks aside); false: do not trust it. */
  consistent?: boolean;
}

/** Chunks listed by an intact index; each is verified and must tile the data area exactly. */
function chunksFromIndex(
  bytes: Uint8Array,
  index: IndexData,
  dataStart: number,
  indexOffset: number,
  chunkEvents: number,
): Found {
  const chunks: ChunkData[] = [];
  const issues: TraceIssue[] = [];
  let consistent = true;
  let expected = dataStart;
  index.chunks.forEach((entry, k) => {
    const limit = index.chunks[k + 1]?.offset ?? indexOffset;
    if (entry.offset !== expected) {
      consistent = false;
      issues.push(
        issue(
          'CORRUPT',
          expected,
          `${entry.offset - expected} bytes before the chunk at ${entry.offset} belong to no chunk`,
        ),
      );
    }
    expected = limit;
    if (!hasAt(bytes, entry.offset, CHUNK_TAG)) {
      issues.push(
        issue('CORRUPT', entry.offset, `no chunk tag where the index puts the chunk of #${entry.first}`),
      );
      return;
    }
    const r = readChunk(bytes.subarray(0, limit), entry.offset, chunkEvents);
    if (r.kind === 'truncated') {
      consistent = false;
      issues.push(
        issue('CORRUPT', entry.offset, `chunk of #${entry.first} overruns the next structure at ${limit}`),
      );
      return;
    }
    if (r.kind !== 'ok') {
      issues.push(r.issue);
      return;
    }
    if (r.end !== limit) {
      consistent = false;
      issues.push(
        issue(
          'CORRUPT',
          r.end,
          `${limit - r.end} bytes after the chunk at ${entry.offset} belong to no chunk`,
        ),
      );
    }
    const c = r.chunk;
    if (c.first !== entry.first || c.count !== entry.count || (c.hash ?? null) !== entry.hash) {
      consistent = false;
      issues.push(
        issue('CORRUPT', entry.offset, `chunk of #${c.first} disagrees with the index (#${entry.first})`),
      );
      return;
    }
    chunks.push(c);
  });
  if (index.chunks.length === 0 && indexOffset !== dataStart) {
    consistent = false;
    issues.push(
      issue('CORRUPT', dataStart, `${indexOffset - dataStart} bytes before the index belong to no chunk`),
    );
  }
  return { chunks, marks: index.marks, issues, consistent };
}

/**
 * The next offset after `from` where a chunk frame or an index block with a valid checksum
 * starts. An index is only looked for where it would end at the trailer (the last 20 bytes, or
 * the end of a file cut inside the trailer), and the bytes checksummed for index candidates are
 * capped, so a hostile file cannot make the scan quadratic.
 */
function resync(
  bytes: Uint8Array,
  from: number,
  dataStart: number,
  budget: { bytes: number },
): number | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dv = view(bytes);
  const n = bytes.length;
  let pos = from;
  for (;;) {
    const c = buf.indexOf(CHUNK_TAG, pos);
    const x = budget.bytes > 0 ? buf.indexOf(INDEX_TAG, pos) : -1;
    const at = c < 0 ? x : x < 0 ? c : Math.min(c, x);
    if (at < 0) return undefined;
    if (at === c) {
      if (
        at + LAYOUT.chunkFrameBytes <= n &&
        crc32(bytes.subarray(at, at + 28)) === dv.getUint32(at + 28, true)
      ) {
        return at;
      }
    } else if (at + LAYOUT.indexFrameBytes <= n) {
      const end = at + LAYOUT.indexFrameBytes + dv.getUint32(at + 4, true) + 4;
      if (end >= n - LAYOUT.trailerBytes && end <= n) {
        budget.bytes -= end - at;
        try {
          readIndex(bytes, at, dataStart);
          return at;
        } catch {
          // not an intact index: keep looking
        }
      }
    }
    pos = at + 1;
  }
}

/** Walks the framed chunks from the header on: used when the trailer or index is unusable. */
function chunksByScan(bytes: Uint8Array, dataStart: number, chunkEvents: number, trustIndex = true): Found {
  const chunks: ChunkData[] = [];
  const issues: TraceIssue[] = [];
  let marks: TraceMark[] | undefined;
  let pos = dataStart;
  let nextFirst = 1;
  let damaged = false;
  const n = bytes.length;
  const budget = { bytes: 2 * n };
  while (pos < n) {
    if (hasAt(bytes, pos, CHUNK_TAG)) {
      const r = readChunk(bytes, pos, chunkEvents);
      if (r.kind === 'truncated') {
        issues.push(r.issue);
        return { chunks, marks, issues };
      }
      if (r.kind === 'ok') {
        const c = r.chunk;
        if (c.first < nextFirst) {
          issues.push(
            issue('INVALID_RECORD', pos, `chunk repeats events from #${c.first} (expected #${nextFirst})`),
          );
        } else {
          if (c.first > nextFirst && !damaged) {
            issues.push(
              issue('CORRUPT', pos, `events #${nextFirst}–#${c.first - 1} are missing before this chunk`),
            );
          }
          chunks.push(c);
          nextFirst = c.first + c.count;
          damaged = false;
        }
        pos = r.end;
        continue;
      }
      issues.push(r.issue);
      damaged = true;
      if (r.kind === 'bad-chunk') {
        pos = r.end;
        continue;
      }
    } else if (hasAt(bytes, pos, INDEX_TAG)) {
      try {
        const { index } = readIndex(bytes, pos, dataStart);
        if (trustIndex) marks = index.marks;
        if (index.events !== nextFirst - 1 && !damaged) {
          issues.push(
            issue('CORRUPT', pos, `index lists ${index.events} events, the chunks hold ${nextFirst - 1}`),
          );
        }
      } catch (e) {
        issues.push(e instanceof TraceError ? e.toIssue() : issue('INVALID_RECORD', pos, errorText(e)));
      }
      return { chunks, marks, issues };
    } else if (isTagPrefix(bytes, pos, CHUNK_TAG) || isTagPrefix(bytes, pos, INDEX_TAG)) {
      issues.push(issue('TRUNCATED', pos, `file ends at byte ${n}, inside a chunk or index tag`));
      return { chunks, marks, issues };
    } else {
      issues.push(issue('CORRUPT', pos, 'expected a chunk or the index here'));
      damaged = true;
    }
    const next = resync(bytes, pos + 1, dataStart, budget);
    if (next === undefined) return { chunks, marks, issues };
    pos = next;
  }
  issues.push(
    issue('TRUNCATED', n, `no index: the file ends at byte ${n} after ${chunks.length} complete chunks`),
  );
  return { chunks, marks, issues };
}

/** Marks recovered from the events themselves (no intact index). */
function marksFromChunks(trace: TraceImpl, issues: TraceIssue[]): TraceMark[] {
  const marks: TraceMark[] = [];
  for (let k = 0; k < trace.chunks.length; k++) {
    try {
      const chunk = trace.chunks[k]!;
      trace.chunkFrames(k).forEach((frame, i) => {
        if (frame.event.type === 'trace.mark')
          marks.push({ name: frame.event.name, position: chunk.first + i });
      });
    } catch (e) {
      if (!(e instanceof TraceError)) throw e;
      issues.push(e.toIssue());
    }
  }
  return marks;
}

// ---- the loaded trace ------------------------------------------------------------------------

class TraceImpl implements LoadedTrace {
  readonly header: TraceHeader;
  readonly length: number;
  readonly chunks: readonly TraceChunk[];
  marks: readonly TraceMark[] = [];
  readonly issues: TraceIssue[];
  private readonly data: readonly ChunkData[];
  private readonly cache = new Map<number, Frame[]>();
  private readonly cacheSize: number;
  private hot = -1;
  private hotFrames: Frame[] | undefined;
  private hotFramesChunk = -1;

  constructor(header: TraceHeader, data: ChunkData[], issues: TraceIssue[], cacheSize: number) {
    this.header = header;
    this.data = data;
    this.chunks = data.map((c) =>
      c.hash === undefined
        ? { offset: c.offset, first: c.first, count: c.count }
        : { offset: c.offset, first: c.first, count: c.count, hash: c.hash },
    );
    this.issues = issues;
    this.cacheSize = Math.max(1, cacheSize);
    let length = 0;
    for (const c of data) {
      if (c.first !== length + 1) break;
      length += c.count;
    }
    this.length = length;
  }

  frame(position: number): Frame {
    const k = this.chunkOf(position);
    const chunk = this.data[k]!;
    // Sequential reads stay in one chunk: skip the LRU bookkeeping for it.
    if (this.hotFrames === undefined || this.hotFramesChunk !== k) {
      this.hotFrames = this.chunkFrames(k);
      this.hotFramesChunk = k;
    }
    return this.hotFrames[position - chunk.first]!;
  }

  chunkFrames(index: number): Frame[] {
    const cached = this.cache.get(index);
    if (cached) {
      if (this.cache.size > 1) {
        this.cache.delete(index);
        this.cache.set(index, cached);
      }
      return cached;
    }
    const chunk = this.data[index];
    if (!chunk) throw new RangeError(`chunk ${index} does not exist (${this.data.length} chunks)`);
    const frames = decodeChunk(chunk);
    this.cache.set(index, frames);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return frames;
  }

  private chunkOf(position: number): number {
    if (!Number.isInteger(position) || position < 1) {
      throw new RangeError(`position #${position} is not an event`);
    }
    const hot = this.data[this.hot];
    if (hot && position >= hot.first && position < hot.first + hot.count) return this.hot;
    let lo = 0;
    let hi = this.data.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.data[mid]!;
      if (position < c.first) hi = mid - 1;
      else if (position >= c.first + c.count) lo = mid + 1;
      else {
        this.hot = mid;
        return mid;
      }
    }
    const after = this.data[lo];
    if (after) {
      throw new TraceError(
        'CORRUPT',
        after.offset,
        `event #${position} was in a damaged chunk before the chunk at this offset`,
      );
    }
    throw new RangeError(`position #${position} is beyond the trace (#1–#${this.length})`);
  }
}

const INFLATE_CHUNK_MAX = 4 << 20;

function decodeChunk(chunk: ChunkData): Frame[] {
  let raw: Uint8Array;
  try {
    // One output buffer of the announced size (capped: the length is not yet proven) saves zlib's
    // 16 KiB pieces and their concatenation.
    raw = inflateRawSync(chunk.payload, {
      maxOutputLength: Math.max(1, chunk.rawLength),
      chunkSize: Math.max(64, Math.min(chunk.rawLength + 1, INFLATE_CHUNK_MAX)),
    });
  } catch (e) {
    throw new TraceError(
      'CORRUPT',
      chunk.offset,
      `chunk of #${chunk.first}: payload does not inflate (${errorText(e)})`,
    );
  }
  if (raw.length !== chunk.rawLength) {
    throw new TraceError(
      'CORRUPT',
      chunk.offset,
      `chunk of #${chunk.first}: inflates to ${raw.length} bytes, frame says ${chunk.rawLength}`,
    );
  }
  return decodeFrames(raw, chunk.count, chunk.first, chunk.offset);
}

/**
 * Reads a trace. Throws TraceError only when the header is missing, damaged or too new; any
 * other damage becomes an issue and every intact chunk stays readable.
 */
export function readTrace(bytes: Uint8Array, options: ReadTraceOptions = {}): LoadedTrace {
  if (!(bytes instanceof Uint8Array)) throw new TraceError('BAD_MAGIC', 0, 'not a byte array');
  const { header, end: dataStart } = readHeader(bytes);
  const located = readTrailer(bytes, dataStart);
  let found: Found;
  if ('index' in located) {
    found = chunksFromIndex(bytes, located.index, dataStart, located.indexOffset, header.chunkEvents);
    if (!found.consistent) {
      // The index checksums but disagrees with the chunks: believe the chunks.
      const scanned = chunksByScan(bytes, dataStart, header.chunkEvents, false);
      scanned.issues.push(
        issue(
          'CORRUPT',
          located.indexOffset,
          'the index disagrees with the chunks; chunks found by scanning',
        ),
        ...found.issues,
      );
      found = scanned;
    }
  } else {
    found = chunksByScan(bytes, dataStart, header.chunkEvents);
    // Without an index the scan's own issues say why; with one, only the trailer was lost.
    if (found.marks !== undefined || located.code !== 'TRUNCATED') found.issues.push(located);
  }
  // One issue per problem (the trailer and the scan may both report a damaged index), by offset.
  const messages = new Set<string>();
  found.issues = found.issues.filter((i) => {
    if (messages.has(i.message)) return false;
    messages.add(i.message);
    return true;
  });
  found.issues.sort((a, b) => a.offset - b.offset);
  const trace = new TraceImpl(header, found.chunks, found.issues, options.cacheChunks ?? 2);
  trace.marks = found.marks ?? marksFromChunks(trace, trace.issues);
  return trace;
}

/** Throws the first issue of `trace` as a TraceError (for commands that need an intact trace). */
export function assertIntact(trace: LoadedTrace): void {
  const first = trace.issues[0];
  if (first) throw TraceError.fromIssue(first);
}
