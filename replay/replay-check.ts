// Replay with verification: re-execute every event of a trace from the initial state on a
// private working copy and compare each output and effect list with the recorded one, and the
// state hash at each chunk end with the recorded hash. Stops at the first divergence.

import type { Registry } from '../engine/registry.js';
import { WorkingCopy } from '../engine/working-copy.js';
import { compareFrame, type Divergence } from './divergence.js';
import type { Frame } from './frame.js';
import { effectText, outputText, statementText } from './statement-text.js';

/** The part of a loaded trace a replay needs: its chunks in order. */
export interface ChunkedFrames {
  readonly chunks: readonly { first: number; count: number; hash?: string }[];
  chunkFrames(index: number): Frame[];
}

export interface ReplayReport {
  /** Events re-executed (up to and including a divergent one). */
  events: number;
  divergence?: Divergence & { statement: string };
}

const describe = {
  output: (o: Frame['output']) => outputText(o) || '(no output)',
  effects: (e: readonly Frame['effects'][number][]) =>
    e.length ? e.map(effectText).join('; ') : '(no effects)',
};

export function replayAndCheck(
  trace: ChunkedFrames,
  registry: Registry,
  onProgress?: (done: number) => void,
): ReplayReport {
  const machine = new WorkingCopy(registry);
  let events = 0;
  for (let c = 0; c < trace.chunks.length; c++) {
    const chunk = trace.chunks[c]!;
    const frames = trace.chunkFrames(c);
    for (let i = 0; i < frames.length; i++) {
      const recorded = frames[i]!;
      const position = chunk.first + i;
      const replayed = machine.step(recorded.event);
      events++;
      const divergence = compareFrame(position, recorded, replayed, describe);
      if (divergence)
        return { events, divergence: { ...divergence, statement: statementText(recorded.event) } };
    }
    if (chunk.hash) {
      const hash = machine.hash();
      if (hash !== chunk.hash) {
        const last = chunk.first + chunk.count - 1;
        const lastFrame = frames[frames.length - 1];
        return {
          events,
          divergence: {
            position: last,
            kind: 'state',
            recorded: `state hash ${chunk.hash.slice(0, 16)} after #${last}`,
            replayed: `state hash ${hash.slice(0, 16)} (outputs of #${chunk.first}–#${last} all matched)`,
            statement: lastFrame ? statementText(lastFrame.event) : '',
          },
        };
      }
    }
    onProgress?.(events);
  }
  return { events };
}
