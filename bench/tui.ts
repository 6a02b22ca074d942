// The terminal UI benchmarks (issue 7): on the 1,000,000-event benchmark trace, the time to the
// first frame (read the trace, open the player lazily, build the controller, render with Ink)
// and the time from a key press to the re-rendered frame. Rendering goes through Ink itself
// (ink-testing-library's in-memory terminal, 100×30, no colour), with the controller as the
// program runs it (background first pass while no key comes). Keys are timed twice: right
// after the first frame, while the first pass is unfinished (steps, ±100, tabs, rows), and once
// the pass is done (the same plus long `g #N` jumps).
//
// Not run by `npm run bench` on its own: bench/run.ts calls `tuiRows(bytes)` with the trace it
// recorded and appends the rows to its table. Alone: `node dist/bench/tui.js [EVENTS]`
// (TUI_BENCH_VERBOSE=1 prints every key's time on stderr).

import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { defaultRegistry } from '../replay/machine.js';
import { Player } from '../replay/player.js';
import { readTrace } from '../replay/trace-reader.js';
import { App } from '../tui/App.js';
import { Controller } from '../tui/controller.js';
import { recordWorkload, workload } from './workload.js';

/** A row of bench/run.ts's table. */
export interface TuiBenchRow {
  name: string;
  value: number;
  unit: string;
  target: string;
  ok: boolean;
  reference?: string;
}

export interface KeyTimes {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  keys: number;
}

export interface TuiBenchResult {
  events: number;
  firstFrameMs: number;
  /** Where the lazy scan had got when the first frame was up. */
  scannedAtFirstFrame: number;
  /** Key press → new frame while the first pass has not finished (steps, ±100, tabs, rows). */
  duringPass: KeyTimes;
  /** Milliseconds from the first frame until the background pass was done. */
  passDoneMs: number;
  /** Key press → new frame afterwards (the same keys plus long jumps with `g`). */
  afterPass: KeyTimes;
}

/** The benchmark trace: `workload(1, count)` recorded in memory (as bench/run.ts records it). */
export function tuiBenchTrace(count = 1_000_000): Uint8Array {
  return recordWorkload(workload(1, count));
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Stepping (l, h, arrows), ±100 jumps, tab switches and row moves. */
function localKeys(): string[] {
  const keys: string[] = [];
  for (let round = 0; round < 3; round++) {
    keys.push('l', 'l', 'l', 'l', 'l', '\u001B[C', 'h', 'h', '\u001B[D', 'L', 'L', 'H', '\t', 'j', 'j', 'k');
  }
  return keys;
}

/** The local keys plus long jumps (`g #N` Enter) across the trace, each followed by steps. */
function allKeys(length: number): string[] {
  const keys: string[] = [...localKeys()];
  for (let round = 0; round < 4; round++) {
    keys.push('g', ...`${Math.floor(((round + 1) * length) / 5)}`, '\r');
    for (let i = 0; i < 10; i++) keys.push(i % 3 === 2 ? 'h' : 'l');
  }
  return keys;
}

function summarize(times: readonly number[]): KeyTimes {
  return {
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: Math.max(...times),
    keys: times.length,
  };
}

/** Measures the first frame and key latency on the trace `bytes` (default: a fresh 1M-event one). */
export async function tuiBenchmark(bytes: Uint8Array = tuiBenchTrace()): Promise<TuiBenchResult> {
  const start = performance.now();
  const trace = readTrace(bytes);
  const player = Player.open(trace, { lazy: true, registry: defaultRegistry() });
  const controller = new Controller(player, trace.marks);
  controller.warmUp(100, 30);
  const app = render(createElement(App, { controller, width: 100, height: 30, color: false }));
  const first = app.lastFrame() ?? '';
  const firstFrameMs = performance.now() - start;
  if (!first.includes(`#0/${trace.length}`)) throw new Error(`unexpected first frame:\n${first}`);
  const scannedAtFirstFrame = player.checkpointInfo().scanned;
  controller.startBackgroundScan();

  const press = async (keys: readonly string[]): Promise<number[]> => {
    const times: number[] = [];
    for (const key of keys) {
      const before = app.lastFrame();
      const t0 = performance.now();
      app.stdin.write(key);
      // Ink reads the input and renders on a later turn of the event loop. Prompt keys ('g',
      // digits) change only the prompt line: still a new frame.
      for (let i = 0; i < 1000 && app.lastFrame() === before; i++) await turn();
      times.push(performance.now() - t0);
      if (process.env.TUI_BENCH_VERBOSE)
        process.stderr.write(`${JSON.stringify(key)} ${times.at(-1)!.toFixed(1)}\n`);
    }
    return times;
  };

  try {
    const during = await press(localKeys());
    const passStart = performance.now();
    while (player.checkpointInfo().scanned < trace.length)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const passDoneMs = performance.now() - passStart + (passStart - start - firstFrameMs);
    const after = await press(allKeys(trace.length));
    return {
      events: trace.length,
      firstFrameMs,
      scannedAtFirstFrame,
      duringPass: summarize(during),
      passDoneMs,
      afterPass: summarize(after),
    };
  } finally {
    controller.dispose();
    app.unmount();
  }
}

/** The rows bench/run.ts adds to its table. */
export async function tuiRows(bytes?: Uint8Array): Promise<TuiBenchRow[]> {
  const r = await tuiBenchmark(bytes);
  const keys = (k: KeyTimes) =>
    `p50 ${k.p50Ms.toFixed(1)} ms, max ${k.maxMs.toFixed(1)} ms over ${k.keys} keys`;
  return [
    {
      name: 'TUI: first frame (read, lazy open, render)',
      value: r.firstFrameMs,
      unit: 'ms',
      target: '≤ 1,500 ms',
      ok: r.firstFrameMs <= 1500,
      reference: `${r.events.toLocaleString('en')} events; the first pass then finishes in the background in ${(r.passDoneMs / 1000).toFixed(1)} s`,
    },
    {
      name: 'TUI: key press → re-rendered frame, p99',
      value: r.afterPass.p99Ms,
      unit: 'ms',
      target: '≤ 50 ms',
      ok: r.afterPass.p99Ms <= 50,
      reference: `${keys(r.afterPass)} (steps, ±100, tabs, rows, go to #N); during the first pass: p99 ${r.duringPass.p99Ms.toFixed(1)} ms, ${keys(r.duringPass)}`,
    },
  ];
}

// `node dist/bench/tui.js [EVENTS]`: runs it alone and prints the result.
if (process.argv[1]?.endsWith('/bench/tui.js')) {
  const count = Number(process.argv[2] ?? 1_000_000);
  const bytes = tuiBenchTrace(count);
  tuiRows(bytes).then(
    (rows) => {
      for (const row of rows)
        process.stdout.write(
          `${row.name}: ${row.value.toFixed(1)} ${row.unit} (target ${row.target}) ${row.reference ?? ''}\n`,
        );
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
