// Trace I/O errors (style-anchors.md §8.5): one class with a code union and the byte offset where
// the problem was found. The reader throws it only when nothing usable can be read; damage it can
// work around becomes a `TraceIssue` (the same code, offset and message) on the loaded trace.

export type TraceErrorCode =
  /** The file does not start with the trace magic. */
  | 'BAD_MAGIC'
  /** The file needs a newer reader (its minimum reader version is above ours). */
  | 'VERSION_TOO_NEW'
  /** The file ends before a structure it announces (a crash while recording). */
  | 'TRUNCATED'
  /** A checksum or a magic does not match: bytes changed after they were written. */
  | 'CORRUPT'
  /** The header's schema or msgpackr options are not the ones this reader decodes. */
  | 'SCHEMA_MISMATCH'
  /** Checksums hold but a record is not valid: unknown type, wrong field type or range. */
  | 'INVALID_RECORD';

/** Damage found while loading a trace that did not stop the load. */
export interface TraceIssue {
  code: TraceErrorCode;
  /** Byte offset in the file where the damage starts. */
  offset: number;
  /** One line naming the offset. */
  message: string;
}

/** Keeps a message on one line and bounded, whatever bytes produced it. */
function oneLine(text: string): string {
  let flat = '';
  for (const ch of text) flat += ch < ' ' || ch === '\u007f' ? ' ' : ch;
  flat = flat.replace(/ {2,}/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

/** A trace that cannot be read (or written), with the byte offset of the problem. */
export class TraceError extends Error {
  override readonly name = 'TraceError';
  readonly code: TraceErrorCode;
  readonly offset: number;

  /** `detail` says what is wrong; the message becomes `byte offset N: detail`. */
  constructor(code: TraceErrorCode, offset: number, detail: string) {
    super(`byte offset ${offset}: ${oneLine(detail)}`);
    this.code = code;
    this.offset = offset;
  }

  /** The same problem as a non-fatal issue. */
  toIssue(): TraceIssue {
    return { code: this.code, offset: this.offset, message: this.message };
  }

  /** An issue turned back into an error (for commands that must not run on a damaged trace). */
  static fromIssue(issue: TraceIssue): TraceError {
    const error = new TraceError(issue.code, issue.offset, '');
    error.message = issue.message;
    return error;
  }
}
