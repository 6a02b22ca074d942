// Running checks on N threads: the main thread and N − 1 worker threads take files from one
// queue (largest file first, so a long migration story does not start last), each worker
// holding up to two requests so it never waits for the main thread between files. Results are
// handed back as they complete, tagged with the file's index in the input list, so the caller
// can report in path order. One job runs everything in-process.
//
// The worker is the compiled cli/check/worker.js next to this module (import.meta.url); run
// from TypeScript sources (vitest) there is none, and every job runs in-process.

import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type CheckFileOptions, type CheckResult, checkFile } from './check-file.js';
import type { WorkRequest } from './worker.js';

const WORKER = new URL('./worker.js', import.meta.url);
/** Requests a worker holds at once: one running, one waiting. */
const IN_FLIGHT = 2;

/** Whether worker threads are available (the compiled CLI), or checks must run in-process. */
export function workersAvailable(): boolean {
  return WORKER.protocol === 'file:' && existsSync(fileURLToPath(WORKER));
}

/** Indexes of `files`, largest file first (ties by index): a deterministic dispatch order. */
function largestFirst(files: readonly string[]): number[] {
  const size = files.map((f) => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  });
  return files.map((_f, i) => i).sort((a, b) => size[b]! - size[a]! || a - b);
}

const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runChecks(
  files: readonly string[],
  options: CheckFileOptions,
  jobs: number,
  onResult: (index: number, result: CheckResult) => void,
): Promise<void> {
  const workerCount = workersAvailable() ? Math.min(jobs, files.length) - 1 : 0;
  const queue = workerCount > 0 ? largestFirst(files) : files.map((_f, i) => i);
  let next = 0;
  const workers: Worker[] = [];
  let failure: unknown;
  let outstanding = 0;
  let wake: (() => void) | undefined;
  const settle = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const feed = (worker: Worker) => {
    if (next >= queue.length) return;
    const index = queue[next++]!;
    const request: WorkRequest = { index, file: files[index]!, options };
    outstanding++;
    worker.postMessage(request);
  };
  for (let w = 0; w < workerCount; w++) {
    const worker = new Worker(WORKER);
    workers.push(worker);
    worker.on('message', (message: { index: number; result: CheckResult }) => {
      outstanding--;
      onResult(message.index, message.result);
      feed(worker);
      settle();
    });
    worker.on('error', (error) => {
      failure ??= error;
      settle();
    });
    for (let k = 0; k < IN_FLIGHT; k++) feed(worker);
  }
  try {
    // The main thread works the same queue, yielding between files so worker results (and a
    // progress bar) are handled and workers are fed.
    while (next < queue.length && failure === undefined) {
      const index = queue[next++]!;
      onResult(index, checkFile(files[index]!, options));
      await yieldToEvents();
    }
    while (outstanding > 0 && failure === undefined) await new Promise<void>((resolve) => (wake = resolve));
    if (failure !== undefined) throw failure;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
