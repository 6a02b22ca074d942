import { describe, expect, it } from 'vitest';
import {
  type ConditionContext,
  ConditionSyntaxError,
  evaluateCondition,
  isStateOnly,
  parseCondition,
} from '../../replay/condition.js';

const state = {
  current: 0,
  vms: [
    {
      id: 0,
      sdei: true,
      host: 'gicv3',
      vcpus: [
        { id: 0, pc: 0x1000n, x: [0n, 5n, 0xffff_ffff_ffff_ffffn] },
        { id: 1, pc: 0n, x: [] },
      ],
      devices: { gic: { enabled: true, nrSpis: 224, spis: [{ active: false, priority: 0xa0 }] } },
      ram: { '0': { '1': new Uint8Array([0x28, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0]) } },
    },
  ],
};

function ctx(over: Partial<ConditionContext> = {}): ConditionContext {
  return {
    position: 7,
    state: () => state,
    event: { type: 'guest.hvc', vcpu: 1, args: [0xc4000020n] },
    output: { x: [0n, 1n] },
    changed: () => false,
    ...over,
  };
}

const holds = (source: string, over: Partial<ConditionContext> = {}) =>
  evaluateCondition(parseCondition(source), ctx(over));

describe('condition language: evaluation', () => {
  it.each([
    ['vms[0].vcpus[0].pc == 0x1000', true],
    ['vms.0.vcpus.0.pc == 4096', true],
    ['vms.0.vcpus.0.pc != 0x1000', false],
    ['vms[0].vcpus[1].pc < 1', true],
    ['vms[0].vcpus[0].pc >= 0x1001', false],
    ['vms[0].vcpus[0].x[2] == 0xffff_ffff_ffff_ffff', true],
    ['vms[0].vcpus[0].x[1] > 4 && vms[0].vcpus[0].x[1] <= 5', true],
    ['vms[0].devices.gic.enabled', true],
    ['vms[0].devices.gic.enabled == true', true],
    ['!vms[0].devices.gic.spis[0].active', true],
    ['vms[0].devices.gic.spis[0].priority == 0xa0', true],
    ['vms[0].devices.its', false],
    ['vms[0].devices.its == undefined', true],
    ['vms[0].host == "gicv3"', true],
    ["vms[0].host == 'gicv3'", true],
    ['vms[0].host < "gicv4"', true],
    ['vms[0].ram[0][1][0] == 0x28', true],
    ['vms[0].ram["0"]["1"][8] == 0xff', true],
    ['vms[9].vcpus[0].pc == 0', false],
    ['vms[9].vcpus[0].pc != 0', true],
    ['vms[9].vcpus[0].pc < 1', false],
    ['event.type == "guest.hvc"', true],
    ['event.vcpu == 1 && event.args[0] == 0xc4000020', true],
    ['output.x[1] == 1', true],
    ['position == 7', true],
    ['position > 7 || position < 7', false],
    ['(position == 1 || position == 7) && !(event.vcpu == 0)', true],
    ['true && !false', true],
    ['vms[0].host == 1', false],
    ['vms[0].devices.gic.enabled < true', false],
  ])('%s → %s', (source, expected) => {
    expect(holds(source)).toBe(expected);
  });

  it('reads event fields as undefined at position 0', () => {
    expect(holds('event.type == "guest.hvc"', { event: undefined, output: undefined, position: 0 })).toBe(
      false,
    );
    expect(holds('event == undefined', { event: undefined })).toBe(true);
  });

  it('asks changed() about the parsed path', () => {
    const asked: unknown[] = [];
    const changed = (segments: readonly unknown[]) => {
      asked.push(segments);
      return true;
    };
    expect(holds('changed(vms.0.vcpus[1].pc)', { changed })).toBe(true);
    expect(asked).toEqual([['vms', 0, 'vcpus', 1, 'pc']]);
  });

  it('does not read the state when the event decides', () => {
    let reads = 0;
    const s = () => {
      reads++;
      return state;
    };
    expect(holds('event.type == "vm.stop" && vms[0].vcpus[0].pc == 0x1000', { state: s })).toBe(false);
    expect(reads).toBe(0);
    expect(holds('vms[0].vcpus[0].pc == 0x1000 && vms[0].vcpus[1].pc == 0', { state: s })).toBe(true);
    expect(reads).toBe(1);
  });

  it('&& binds tighter than ||', () => {
    expect(holds('true || false && false')).toBe(true);
    expect(holds('(true || false) && false')).toBe(false);
  });
});

describe('condition language: what a condition depends on', () => {
  it('lists state paths once and classifies the condition', () => {
    const c = parseCondition('vms[0].vcpus[0].pc == 1 || vms.0.vcpus.0.pc == 2 || vms[0].current');
    expect(c.statePaths).toEqual([
      ['vms', 0, 'vcpus', 0, 'pc'],
      ['vms', 0, 'current'],
    ]);
    expect(isStateOnly(c)).toBe(true);
    expect(isStateOnly(parseCondition('event.vcpu == 1'))).toBe(false);
    expect(isStateOnly(parseCondition('changed(vms[0].vcpus[0].pc)'))).toBe(false);
    expect(isStateOnly(parseCondition('position == 3'))).toBe(false);
    expect(isStateOnly(parseCondition('true'))).toBe(false);
  });
});

describe('condition language: parse errors', () => {
  it.each([
    ['', 1, 'empty condition'],
    ['vms[0].pc = 1', 11, "expected '==' (comparison), not '='"],
    ['vms[0].pc == ', 14, 'unexpected end of condition: expected a value or a path'],
    ['(position == 1', 15, "expected ')'"],
    ['position == 1)', 14, "unmatched ')'"],
    ['position == 1 position', 15, "expected '&&', '||' or the end"],
    ['vms[x]', 5, "expected an index or a quoted key, then ']'"],
    ['vms.', 5, 'expected a property name or index after "."'],
    ['"open', 1, 'unterminated string'],
    ['a & b', 3, "expected '&&'"],
    ['0x', 1, 'expected hexadecimal digits after 0x'],
    ['12ab', 3, 'unexpected character in number'],
    ['a == #', 6, "unexpected character '#'"],
    ['changed(event.type)', 9, 'changed(…) takes a state path'],
    ['changed(1)', 9, 'expected a state path inside changed(…)'],
    ['position.x == 1', 1, '`position` has no fields'],
    ['== 1', 1, "unexpected '==': expected a value or a path"],
  ])('%j fails at column %i', (source, column, reason) => {
    let error: unknown;
    try {
      parseCondition(source);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConditionSyntaxError);
    const e = error as ConditionSyntaxError;
    expect({ column: e.column, reason: e.reason }).toEqual({ column, reason });
    expect(e.message).toBe(`column ${column}: ${reason}`);
    expect(e.caret().split('\n')[1]).toBe(`${' '.repeat(column - 1)}^ ${reason}`);
  });
});
