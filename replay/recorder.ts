// Recording: frames from a run go to a trace writer as they happen, with the canonical state
// hash at every chunk boundary so a replay can check state, not only outputs. The header names
// the board, host and kernel quirks of the first VM, taken from the scenario before it runs.

import { closeSync, openSync, writeSync } from 'node:fs';
import type { WorkingCopy } from '../engine/working-copy.js';
import type { Frame } from './frame.js';
import { type TraceHeaderInput, TraceWriter, type TraceWriterOptions } from './trace-writer.js';

export interface Recorder {
  onFrame(frame: Frame, machine: WorkingCopy): void;
  /** Writes the last chunk, the index and the trailer. */
  finish(): void;
  readonly events: number;
}

export interface ByteSink {
  write(bytes: Uint8Array): void;
}

export function createRecorder(
  sink: ByteSink,
  header: TraceHeaderInput,
  options?: TraceWriterOptions,
): Recorder {
  const writer = new TraceWriter(sink, header, options);
  let latest: WorkingCopy | undefined;
  let events = 0;
  writer.setChunkHash(() => latest?.hash() ?? '');
  return {
    onFrame(frame, machine) {
      latest = machine;
      events++;
      writer.append(frame);
    },
    finish() {
      writer.finish();
    },
    get events() {
      return events;
    },
  };
}

/** A sink appending to a file, each chunk written whole so a killed process leaves whole chunks. */
export function fileSink(path: string): ByteSink & { close(): void } {
  const fd = openSync(path, 'w');
  return {
    write(bytes) {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    },
    close() {
      closeSync(fd);
    },
  };
}

/** A sink collecting bytes in memory. */
export function memorySink(): ByteSink & { bytes(): Uint8Array } {
  const parts: Uint8Array[] = [];
  return {
    write(bytes) {
      parts.push(bytes.slice());
    },
    bytes() {
      return Buffer.concat(parts);
    },
  };
}
