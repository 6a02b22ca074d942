// Running a scenario: every statement is expanded and its primitive events executed in order on
// one working copy of the machine (the in-place path: running needs no patches); each executed
// event becomes a frame handed to `onFrame` (the recorder), and `expect` clauses are checked
// against the statement's output. All statements run even after a failed expectation.

import type { Output } from '../engine/events.js';
import type { Registry } from '../engine/registry.js';
import type { MachineState } from '../engine/state.js';
import { WorkingCopy } from '../engine/working-copy.js';
import type { Frame } from '../replay/frame.js';
import type { Loc, Scenario } from './ast.js';
import { expandStatement, type ItsInitLayout, type Outcome } from './expand.js';
import { checkExpectation, type ExpectFailure } from './expectations.js';

export interface RunOptions {
  registry: Registry;
  /** Called with every executed event, in order (position = call count). */
  onFrame?: (frame: Frame, machine: WorkingCopy) => void;
}

export interface RunResult {
  state: MachineState;
  events: number;
  statements: number;
  expectations: number;
  failures: ExpectFailure[];
  /**
   * Statements that could not do anything (a guest statement on a vCPU the VM does not have, a
   * KVM call this build does not model yet): the engine records them as `engine.*` effects and
   * goes on, so a dumped trace always runs.
   */
  warnings: { loc: Loc; message: string }[];
  /** The table layout each `guest its_init` chose, in statement order (docs/its.md). */
  layouts: { loc: Loc; layout: ItsInitLayout }[];
}

/**
 * Runs `scenario`. Throws ScenarioError when a statement cannot be expanded (a name that
 * means nothing in this machine); expectation failures are results, not errors.
 */
export function runScenario(scenario: Scenario, options: RunOptions): RunResult {
  const { registry, onFrame } = options;
  const machine = new WorkingCopy(registry);
  let events = 0;
  let expectations = 0;
  const failures: ExpectFailure[] = [];
  const warnings: RunResult['warnings'] = [];
  const layouts: RunResult['layouts'] = [];
  for (const stmt of scenario.statements) {
    const expansion = expandStatement(stmt, {
      state: () => machine.state,
      registry,
      onItsLayout: (layout) => layouts.push({ loc: stmt.loc, layout }),
    });
    let outcome: Outcome | undefined;
    let output: Output | undefined;
    for (;;) {
      const next = outcome === undefined ? expansion.next() : expansion.next(outcome);
      if (next.done) {
        output = next.value;
        break;
      }
      const event = next.value;
      const result = machine.step(event);
      events++;
      const frame: Frame = { event, output: result.output, effects: result.effects };
      onFrame?.(frame, machine);
      for (const effect of result.effects) {
        if (effect.type === 'engine.no-vcpu') {
          warnings.push({
            loc: stmt.loc,
            message: `no vCPU ${String(effect.vcpu)} in this VM: the statement did nothing`,
          });
        } else if (effect.type === 'engine.unmodelled') {
          warnings.push({
            loc: stmt.loc,
            message: `${String(effect.what)} is not modelled yet: it returned 0 and did nothing`,
          });
        }
      }
      outcome = result;
    }
    if (stmt.expect) {
      expectations += stmt.expect.items.length;
      failures.push(...checkExpectation(stmt.expect, output ?? {}));
    }
  }
  machine.publish();
  return {
    state: machine.state,
    events,
    statements: scenario.statements.length,
    expectations,
    failures,
    warnings,
    layouts,
  };
}
