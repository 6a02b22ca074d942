// Scenario text → recorded frames, for the migration tests (migrate-check takes frames).

import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';
import { parseScenario } from '../../scenario/parser.js';
import { type RunResult, runScenario } from '../../scenario/runner.js';

export function framesOf(text: string, file = 'test.vgs'): { frames: Frame[]; result: RunResult } {
  const frames: Frame[] = [];
  const result = runScenario(parseScenario(text, file), {
    registry: defaultRegistry(),
    onFrame: (frame) => frames.push(frame),
  });
  return { frames, result };
}

/** 1-based position of the first `mark NAME` in `frames`. */
export function markPosition(frames: readonly Frame[], name: string): number {
  const i = frames.findIndex((f) => f.event.type === 'trace.mark' && f.event.name === name);
  if (i < 0) throw new Error(`no mark ${name}`);
  return i + 1;
}
