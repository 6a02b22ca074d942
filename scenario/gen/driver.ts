// The generator's executor: each generated statement is parsed (scenario/parser.ts), expanded
// (scenario/expand.ts) and executed on one working copy, as the scenario runner does, so that the
// generator can react to what the machine answered (the INTID an acknowledge returned, whether an
// SDEI handler is running). Every executed event goes to `onFrame` (the recorder) in order.

import type { Output } from '../../engine/events.js';
import type { Registry } from '../../engine/registry.js';
import { WorkingCopy } from '../../engine/working-copy.js';
import type { Frame } from '../../replay/frame.js';
import { effectText, outputText } from '../../replay/statement-text.js';
import type { Statement } from '../ast.js';
import { expandStatement, type Outcome } from '../expand.js';
import { parseScenario } from '../parser.js';

export interface DriverOptions {
  registry: Registry;
  onFrame?: (frame: Frame, machine: WorkingCopy) => void;
  /** Keep every frame in `frames` (the fuzzer's in-memory trace). */
  keepFrames: boolean;
  /** Keep the statement log (the differential oracle's input; off for plain `gen`). */
  keepLog: boolean;
}

/** One executed statement: its text and what it did, as the differential oracle compares them. */
export interface LoggedStatement {
  text: string;
  /** The statement's output, as text. */
  output: string;
  /** The effects of all its events, as text. */
  effects: string;
  /** Events executed so far, this statement's included (the position of its last event). */
  events: number;
}

export class StatementDriver {
  readonly machine: WorkingCopy;
  readonly frames: Frame[] = [];
  readonly log: LoggedStatement[] = [];
  events = 0;
  private readonly options: DriverOptions;

  constructor(options: DriverOptions) {
    this.options = options;
    this.machine = new WorkingCopy(options.registry);
  }

  /** Parses and runs one statement line; returns its output (empty when it has none). */
  exec(text: string): Output {
    // A statement other than `board`/`vm` only parses after one: a `vm` line is put before it
    // and dropped.
    const first = text.startsWith('board ') || text.startsWith('vm ');
    const parsed = parseScenario(first ? text : `vm\n${text}`, '<gen>').statements;
    const stmt: Statement = parsed[parsed.length - 1]!;
    const expansion = expandStatement(stmt, {
      state: () => this.machine.state,
      registry: this.options.registry,
    });
    let outcome: Outcome | undefined;
    let output: Output | undefined;
    const effects: string[] = [];
    for (;;) {
      const next = outcome === undefined ? expansion.next() : expansion.next(outcome);
      if (next.done) {
        output = next.value;
        break;
      }
      const event = next.value;
      const result = this.machine.step(event);
      this.events++;
      const frame: Frame = { event, output: result.output, effects: result.effects };
      if (this.options.keepFrames) this.frames.push(frame);
      this.options.onFrame?.(frame, this.machine);
      if (this.options.keepLog) for (const e of result.effects) effects.push(effectText(e));
      outcome = result;
    }
    const out = output ?? {};
    if (this.options.keepLog)
      this.log.push({ text, output: outputText(out), effects: effects.join('; '), events: this.events });
    return out;
  }
}
