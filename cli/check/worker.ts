// Worker-thread entry of `vgicrr check -j N` (started by cli/check/pool.ts from the compiled
// dist/cli/check/worker.js): checks one file per message and posts the result back.

import { parentPort } from 'node:worker_threads';
import { type CheckFileOptions, checkFile } from './check-file.js';

export interface WorkRequest {
  index: number;
  file: string;
  options: CheckFileOptions;
}

parentPort?.on('message', (request: WorkRequest) => {
  parentPort!.postMessage({ index: request.index, result: checkFile(request.file, request.options) });
});
