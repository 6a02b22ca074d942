// Record → replay identity on random event streams: what the recorder writes, the reader gives
// back frame for frame, and a replay re-executes to identical outputs, effects and chunk state
// hashes; the in-place path (WorkingCopy, pages written in place) and the immer path end in the
// same state; every event prints as a statement that parses and expands back into itself.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { oneRegBits } from '../../devices/names.js';
import type { EngineEvent } from '../../engine/events.js';
import { stateHash } from '../../engine/hash.js';
import { initialState } from '../../engine/state.js';
import { step } from '../../engine/step.js';
import { WorkingCopy } from '../../engine/working-copy.js';
import type { Frame } from '../../replay/frame.js';
import { defaultRegistry } from '../../replay/machine.js';
import { createRecorder, memorySink } from '../../replay/recorder.js';
import { replayAndCheck } from '../../replay/replay-check.js';
import { statementText } from '../../replay/statement-text.js';
import { readTrace } from '../../replay/trace-reader.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';
import { eventsArb } from '../helpers/arbitrary-events.js';

/**
 * Events a scenario can produce (eventArb also makes ill-typed ones, and a hand-made trace may
 * hold a device kind the language does not name, or an attr-read preset outside ADDR
 * V3_REDIST_REGION, which `index=` alone sets, or a value wider than the register or store it goes to).
 */
function expressible(e: EngineEvent): boolean {
  if ('vcpu' in e && e.vcpu < 0) return false;
  if (e.type === 'device.create') return e.kind === 'vgic-v3' || e.kind === 'vgic-its';
  if (e.type === 'attr.get' && e.preset !== null) return e.group === 0 && (e.attr & 0xffff_ffffn) === 5n;
  if (e.type === 'guest.write' || e.type === 'mem.write') return e.value < 1n << BigInt(8 * e.size);
  // KVM_IRQ_LINE has a 12-bit vCPU field (PPIs) and none for SPIs.
  if (e.type === 'irq.line') return e.kind === 'spi' ? e.vcpu === 0 : e.vcpu < 4096;
  // DIST_REGS, NR_IRQS, REDIST_REGS and LEVEL_INFO values are u32 in the KVM API.
  if (e.type === 'attr.set' && [1, 3, 5, 7].includes(e.group) && e.value !== null) return e.value < 1n << 32n;
  // Note text as the parser leaves it: one line, trimmed, no comment, words one space apart.
  if (e.type === 'trace.note') return /^[^\s#\\]+( [^\s#\\]+)*$/u.test(e.text);
  if (e.type === 'trace.mark') return /^[^\s#]+$/u.test(e.name) && e.name !== 'expect';
  if (e.type === 'reg.set') return e.value < 1n << BigInt(oneRegBits(e.reg));
  return true;
}

const streams = eventsArb({ deviceCalls: true, maxLength: 80 }).map((events) => events.filter(expressible));

function record(events: EngineEvent[], chunkEvents: number) {
  const registry = defaultRegistry();
  const machine = new WorkingCopy(registry);
  const sink = memorySink();
  const recorder = createRecorder(
    sink,
    { producer: 'test', board: null, host: 'gicv3', quirks: [] },
    { chunkEvents },
  );
  const frames: Frame[] = [];
  for (const event of events) {
    const { output, effects } = machine.step(event);
    const frame = { event, output, effects };
    frames.push(frame);
    recorder.onFrame(frame, machine);
  }
  recorder.finish();
  return { bytes: sink.bytes(), frames, hash: machine.hash() };
}

describe('record → replay', () => {
  it('the trace gives back every frame and replays without divergence', () => {
    fc.assert(
      fc.property(streams, fc.integer({ min: 1, max: 7 }), (events, chunkEvents) => {
        const { bytes, frames } = record(events, chunkEvents);
        const trace = readTrace(bytes);
        expect(trace.issues).toEqual([]);
        expect(trace.length).toBe(frames.length);
        for (let p = 1; p <= frames.length; p++) expect(trace.frame(p)).toEqual(frames[p - 1]);
        expect(trace.chunks.every((c) => typeof c.hash === 'string' && c.hash.length === 64)).toBe(true);
        expect(replayAndCheck(trace, defaultRegistry())).toEqual({ events: frames.length });
      }),
      { numRuns: 150 },
    );
  });

  it('the in-place path and the immer path end in the same state', () => {
    fc.assert(
      // Small chunks: the working copy is hashed often while it keeps writing its pages in place.
      fc.property(streams, fc.integer({ min: 1, max: 5 }), (events, chunkEvents) => {
        const { hash } = record(events, chunkEvents);
        let state = initialState();
        for (const event of events) state = step(state, event, defaultRegistry()).state;
        expect(stateHash(state)).toBe(hash);
      }),
      { numRuns: 150 },
    );
  });

  it('recording the same stream twice gives the same bytes', () => {
    fc.assert(
      fc.property(streams, (events) => {
        expect(Buffer.from(record(events, 5).bytes).equals(Buffer.from(record(events, 5).bytes))).toBe(true);
      }),
      { numRuns: 50 },
    );
  });
});

describe('statement text', () => {
  it('every event prints as a statement that runs back into the same event', () => {
    fc.assert(
      fc.property(streams, (events) => {
        const text = events.map((e) => statementText(e)).join('\n');
        const again: EngineEvent[] = [];
        runScenario(parseScenario(`vm\n${text}`, 'dump.vgs'), {
          registry: defaultRegistry(),
          onFrame: (f) => again.push(f.event),
        });
        expect(again.slice(1)).toEqual(events);
      }),
      { numRuns: Number(process.env.ROUND_TRIP_RUNS ?? 200) },
    );
  });
});
