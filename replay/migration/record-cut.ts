// One migrate-check cut as a trace of its own, for the debugger (`migrate-check --record`): the
// trace up to the cut, `mark migrate-check-cut`, the checkpoint migration's steps, `mark migrated`, then the
// rest of the trace on the destination up to the first event whose outputs differ from the
// source's (the reference migrate-check compares with), and `mark first-divergence` after it. Opened
// in the terminal UI, the marks lead to the cut and the divergence, and `v` compares the source
// and destination VMs at any position after the cut.

import type { EngineEvent } from '../../engine/events.js';
import type { Registry } from '../../engine/registry.js';
import { WorkingCopy } from '../../engine/working-copy.js';
import { sameEffects, sameOutput } from '../divergence.js';
import type { Frame } from '../frame.js';
import { reenterSource, VM_NUMBERING } from './check.js';
import { checkpointMigrate, type MigrateOptions } from './driver.js';

/** Hands each frame of the cut's trace to `onFrame` (a recorder's), with the machine after it. */
export function recordCut(
  frames: readonly Frame[],
  registry: Registry,
  options: MigrateOptions,
  cut: number,
  onFrame: (frame: Frame, machine: WorkingCopy) => void,
  horizon = 10_000,
): void {
  const machine = new WorkingCopy(registry);
  const step = (event: EngineEvent) => {
    const { output, effects } = machine.step(event);
    onFrame({ event, output, effects }, machine);
    return { output, effects };
  };
  for (let p = 1; p <= cut && p <= frames.length; p++) step(frames[p - 1]!.event);
  step({ type: 'trace.mark', name: 'migrate-check-cut' });
  const source = machine.state.current;
  const running = (machine.state.vms[source]?.vcpus ?? []).filter((v) => v.inRun).map((v) => v.id);
  const gen = checkpointMigrate(() => machine.state, options);
  let next = gen.next();
  while (!next.done) next = gen.next(step(next.value));
  step({ type: 'trace.mark', name: 'migrated' });
  const reference = new WorkingCopy(registry, machine.snapshot());
  reenterSource(reference, source, running);
  const end = Math.min(frames.length, cut + horizon);
  for (let p = cut + 1; p <= end; p++) {
    const event = frames[p - 1]!.event;
    if (VM_NUMBERING.has(event.type)) break;
    const expected = reference.step(event);
    const got = step(event);
    if (!sameOutput(expected.output, got.output) || !sameEffects(expected.effects, got.effects)) {
      step({ type: 'trace.mark', name: 'first-divergence' });
      break;
    }
  }
}
