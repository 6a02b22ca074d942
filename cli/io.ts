// Terminal output for the CLI: stdout/stderr writers, colour only on a terminal and never with
// NO_COLOR (no-color.org), and progress lines on stderr only when stderr is a terminal.

export interface Io {
  /** A line (or lines) to stdout; buffered, flushed by `flush` and when the buffer is large. */
  out(text: string): void;
  err(text: string): void;
  /** Whether to colour stdout. */
  color: boolean;
  /** A progress line on stderr (overwritten in place); no-op when stderr is not a terminal. */
  progress(text: string): void;
  /** Clears the progress line, if any. */
  progressDone(): void;
  /** Writes what `out` buffered. */
  flush(): void;
}

export function processIo(): Io {
  const color = Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined;
  const tty = Boolean(process.stderr.isTTY);
  let shown = false;
  let buffered: string[] = [];
  let size = 0;
  const flush = () => {
    if (buffered.length) process.stdout.write(buffered.join(''));
    buffered = [];
    size = 0;
  };
  return {
    out(text) {
      const line = text.endsWith('\n') ? text : `${text}\n`;
      buffered.push(line);
      size += line.length;
      if (size > 1 << 16) flush();
    },
    flush,
    err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    color,
    progress(text) {
      if (!tty) return;
      process.stderr.write(`\r\x1b[2K${text}`);
      shown = true;
    },
    progressDone() {
      if (shown) process.stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}

export function paint(io: Io, code: 'red' | 'green' | 'yellow' | 'dim' | 'bold', text: string): string {
  if (!io.color) return text;
  const codes = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
  return `\x1b[${codes[code]}m${text}\x1b[0m`;
}
