// replay/minimize.ts and replay/keep-predicate.ts: delta debugging over events keeps every
// candidate well-formed (VM closure and renumbering, regenerated `use_vm`, migrations whole),
// respects the evaluation budget, and the `--keep` language parses and evaluates as documented
// (docs/minimize.md).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../engine/events.js';
import { WorkingCopy } from '../../engine/working-copy.js';
import type { Frame } from '../../replay/frame.js';
import {
  KeepSyntaxError,
  keepPredicate,
  keepText,
  parseKeep,
  recordEvents,
  wholeCandidate,
} from '../../replay/keep-predicate.js';
import { defaultRegistry } from '../../replay/machine.js';
import { migrateCheck } from '../../replay/migration/check.js';
import { type Candidate, minimize, NotFailingError } from '../../replay/minimize.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';

const registry = defaultRegistry();

function eventsOf(text: string): EngineEvent[] {
  const events: EngineEvent[] = [];
  runScenario(parseScenario(text, 't.vgs'), { registry, onFrame: (f) => events.push(f.event) });
  return events;
}

/** Re-executes a candidate, failing on any `engine.*` effect (a statement that did nothing). */
function runsCleanly(c: Candidate): boolean {
  return recordEvents(c.events, registry).every((f) => f.effects.every((e) => !e.type.startsWith('engine.')));
}

const TWO_VMS = `
board virt vcpus=1 nr_irqs=64
guest gic_init
board virt vcpus=2 nr_irqs=64
guest gic_init
use_vm 0
irq_line spi 40 1
use_vm 1
irq_line spi 41 1
vcpu 1 mrs ICC_IAR1_EL1
use_vm 0
irq_line spi 40 0
mark end
`;

describe('minimize', () => {
  it('drops the other VM, renumbers, regenerates use_vm, and reaches a 1-minimal run', () => {
    const events = eventsOf(TWO_VMS);
    // Fails while some VM has SPI 41 latched (an edge: `board` leaves SPIs edge-triggered).
    const test = (c: Candidate) => {
      const m = new WorkingCopy(registry);
      for (const e of c.events) m.step(e);
      return { fails: m.state.vms.some((vm) => vm.devices.gic?.spis[9]?.pendingLatch === true) };
    };
    const result = minimize(events, test, registry);
    const small = result.candidate.events;
    expect(small.filter((e) => e.type === 'vm.create')).toHaveLength(1);
    expect(small.some((e) => e.type === 'vm.select')).toBe(false);
    expect(small.at(-1)).toEqual({ type: 'irq.line', kind: 'spi', vcpu: 0, intid: 41, level: 1 });
    expect(test(result.candidate).fails).toBe(true);
    expect(result.exhausted).toBe(false);
    // 1-minimal: removing any single event makes it pass (or the candidate is structurally empty).
    for (let k = 0; k < small.length; k++) {
      const fewer = { events: small.filter((_e, i) => i !== k), origin: [] };
      expect(test(fewer).fails, `without #${k + 1}`).toBe(false);
    }
  });

  it('keeps use_vm where the kept events switch VMs, numbered for the VMs left', () => {
    const events = eventsOf(TWO_VMS);
    const spi40 = events.findIndex((e) => e.type === 'irq.line' && e.intid === 40 && e.level === 1);
    const spi41 = events.findIndex((e) => e.type === 'irq.line' && e.intid === 41);
    // Fails while both raises survive (by identity), whatever else goes.
    const test = (c: Candidate) => ({
      fails: c.origin.includes(spi40) && c.origin.includes(spi41) && runsCleanly(c),
    });
    const small = minimize(events, test, registry).candidate;
    expect(small.events.map((e) => e.type)).toEqual([
      'vm.create',
      'vm.create',
      'vm.select',
      'irq.line',
      'vm.select',
      'irq.line',
    ]);
    expect(small.events[2]).toEqual({ type: 'vm.select', vm: 0 });
    expect(small.events[4]).toEqual({ type: 'vm.select', vm: 1 });
    expect(small.origin[2]).toBe(-1); // regenerated, not an original event
  });

  it('removes a migration inside the trace whole or keeps it whole', () => {
    const events = eventsOf(`
board virt vcpus=1 nr_irqs=64
guest gic_init
irq_line spi 40 1
migrate
vcpu 0 mrs ICC_IAR1_EL1
`);
    const begin = events.findIndex((e) => e.type === 'migrate.begin');
    const end = events.findIndex((e) => e.type === 'migrate.end');
    expect(end - begin).toBeGreaterThan(10);
    // Fails while the migration's end is there and everything runs without an engine.* effect.
    const test = (c: Candidate) => ({ fails: c.origin.includes(end) && runsCleanly(c) });
    const small = minimize(events, test, registry).candidate;
    const kept = small.origin.filter((o) => o >= begin && o <= end);
    expect(kept).toEqual(Array.from({ length: end - begin + 1 }, (_x, i) => begin + i));
  });

  it('stops at the evaluation budget with a failing candidate', () => {
    const events = eventsOf(TWO_VMS);
    const result = minimize(events, () => ({ fails: true }), registry, { maxEvaluations: 3 });
    expect(result.exhausted).toBe(true);
    expect(result.evaluations).toBe(3);
    expect(result.verdict.fails).toBe(true);
  });

  it('throws NotFailingError when the input does not fail', () => {
    expect(() => minimize(eventsOf(TWO_VMS), () => ({ fails: false }), registry)).toThrow(NotFailingError);
  });

  it('never removes required events', () => {
    const events = eventsOf(TWO_VMS);
    const mark = events.findIndex((e) => e.type === 'trace.mark');
    const small = minimize(events, () => ({ fails: true }), registry, { required: [mark] }).candidate;
    expect(small.events).toEqual([{ type: 'trace.mark', name: 'end' }]);
  });
});

describe('--keep predicates', () => {
  it.each([
    ['migrate-check fails', 'migrate-check fails'],
    [
      '  migrate-check   fails --at cut --quirks no-level-info',
      'migrate-check fails --quirks no-level-info --at cut',
    ],
    [
      'migrate-check fails --vmm gem5 --at #12 --observable',
      'migrate-check fails --vmm gem5 --at #12 --observable',
    ],
    ['migrate-check fails --any', 'migrate-check fails --any'],
    ['replay diverges', 'replay diverges'],
    ['expect fails', 'expect fails'],
    ['expect fails --any', 'expect fails --any'],
    [`condition 'vms[0].vcpus[0].pc == 0x40'`, `condition 'vms[0].vcpus[0].pc == 0x40'`],
    ['condition event.type == "irq.line"', `condition 'event.type == "irq.line"'`],
  ])('%s', (text, canonical) => {
    expect(keepText(parseKeep(text))).toBe(canonical);
  });

  it.each([
    ['migrate-check passes', 1, /expected migrate-check fails/],
    ['migrate-check fails --vmm nope', 27, /unknown VMM `nope`/],
    ['migrate-check fails --quirks no-level-info,zzz', 30, /unknown quirk `zzz`/],
    ['migrate-check fails --quirks movall-all-lpis', 30, /kernel quirk/],
    ['migrate-check fails --at', 25, /--at needs a value/],
    ['replay diverges now', 17, /takes no options/],
    ["condition 'vms[0].pc = 1'", 22, /expected '=='/],
    ["migrate-check fails --at 'cut", 26, /unterminated ' quote/],
  ])('%s is an error at column %i', (text, column, message) => {
    try {
      parseKeep(text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(KeepSyntaxError);
      expect((error as KeepSyntaxError).column).toBe(column);
      expect((error as KeepSyntaxError).reason).toMatch(message);
    }
  });

  it('replay diverges: keeps the edited event and what makes it differ', () => {
    const frames: Frame[] = recordEvents(
      eventsOf(`
board virt vcpus=1 nr_irqs=64
guest gic_init
irq_line spi 40 1
vcpu 0 msr ICC_PMR_EL1 0x80
irq_line spi 41 1
vcpu 0 mrs ICC_PMR_EL1
`),
      registry,
    );
    // An edited trace: the PMR read is recorded as returning 0x90 (it returns 0x80).
    const k = frames.length - 1;
    expect(frames[k]!.output.value).toBe(0x80n);
    frames[k] = { ...frames[k]!, output: { value: 0x90n } };
    const predicate = keepPredicate(parseKeep('replay diverges'), { registry, frames });
    expect(predicate.test(wholeCandidate(frames)).fails).toBe(true);
    const result = minimize(
      frames.map((f) => f.event),
      predicate.test,
      registry,
    );
    expect(result.candidate.origin).toContain(k);
    expect(result.candidate.events.length).toBeLessThan(frames.length);
    expect(result.verdict.detail).toMatch(/recorded value=0x90, replayed value=0x/);
    expect(result.candidate.events.some((e) => e.type === 'irq.line')).toBe(false);
  });

  it('condition: the minimized trace still reaches the condition', () => {
    const frames = recordEvents(eventsOf(TWO_VMS), registry);
    const predicate = keepPredicate(
      parseKeep(`condition 'event.type == "irq.line" && event.intid == 41 && output.rc == 0'`),
      { registry, frames },
    );
    const result = minimize(
      frames.map((f) => f.event),
      predicate.test,
      registry,
    );
    expect(result.candidate.events.at(-1)).toMatchObject({ type: 'irq.line', intid: 41 });
    expect(result.candidate.events.length).toBeLessThan(frames.length / 2);
    expect(predicate.test(result.candidate).fails).toBe(true);
  });

  it('migrate-check fails --at all: cuts candidates where the original diverged, mapped', () => {
    const text = readFileSync(
      join(import.meta.dirname, '..', '..', 'traces', 'bugs', 'no-level-info.vgs'),
      'utf8',
    );
    const frames = recordEvents(eventsOf(text), registry);
    const predicate = keepPredicate(parseKeep('migrate-check fails --quirks no-level-info'), {
      registry,
      frames,
    });
    expect(predicate.required).toEqual([]);
    const result = minimize(
      frames.map((f) => f.event),
      predicate.test,
      registry,
    );
    expect(result.candidate.events.length).toBeLessThan(frames.length);
    // Checked again at every position of the result, not only at the mapped cuts.
    const report = migrateCheck(
      result.candidate.events.map((event) => ({ event, output: {}, effects: [] })),
      registry,
      { vmm: 'qemu', quirks: ['no-level-info'], at: 'all' },
    );
    expect(report.diverged.length).toBeGreaterThan(0);
  });
});
