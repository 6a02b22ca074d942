// Running scenarios: expectation semantics (which output a bare value compares with, masks,
// signed x0, errno names) and the exact failure report, and that every statement still runs.

import { describe, expect, it } from 'vitest';
import { emptyRegistry, type Registry } from '../../engine/registry.js';
import { defaultRegistry } from '../../replay/machine.js';
import { parseScenario } from '../../scenario/parser.js';
import { runScenario } from '../../scenario/runner.js';

function run(text: string) {
  return runScenario(parseScenario(text, 's.vgs'), { registry: defaultRegistry() });
}

const PRELUDE = 'vm\ncreate_vcpu 0\n';

describe('expect', () => {
  it.each([
    ['a held rc', 'create_vcpu 0 expect -EEXIST'],
    ['rc=0 for a VMM write', 'mem write 0x40000000 5 expect 0'],
    ['a read value with rc=0', 'mem write 0x40000000 5\nmem read 0x40000000 expect 5'],
    ['a named rc and value', 'mem write 0x40000000 5\nmem read 0x40000000 expect rc=0 value=5'],
    ['a masked value', 'mem write 0x40000000 0x1234\nmem read 0x40000000 expect 0x34 mask=0xff'],
    ['a guest read', 'vcpu 0 write 0x40000010 0xabcd size=2\nvcpu 0 read 0x40000010 size=2 expect 0xabcd'],
    ['hvc x0 signed', 'vcpu 0 hvc 0xc6000000 expect -1'],
    ['hvc SDEI code name', 'vcpu 0 hvc SDEI_INTERRUPT_BIND 40 expect SDEI_NOT_SUPPORTED'],
    ['hvc x1..x3', 'vcpu 0 hvc 0xc6000000 1 2 3 expect x0=-1 x1=0 x2=0 x3=0'],
    ['a negative value compares rc', 'get_reg 0 x0 expect 0\nrun 0\nget_reg 0 x0 expect -EBUSY'],
    ['vcpu reg', 'set_reg 0 x5 0x77\nvcpu 0 reg x5 expect 0x77'],
  ])('%s', (_name, body) => {
    const result = run(PRELUDE + body);
    expect(result.failures).toEqual([]);
    expect(result.expectations).toBeGreaterThan(0);
  });

  it.each([
    [
      'rc mismatch with errno names',
      'create_vcpu 1 expect -EEXIST',
      's.vgs:3: expected -EEXIST (-17), got 0',
    ],
    ['value wanted, rc failed', 'mem read 0x80000000 expect 0', 's.vgs:3: expected 0x0, got -EFAULT (-14)'],
    ['value mismatch in hex', 'mem read 0x40000000 expect 0x10', 's.vgs:3: expected 0x10, got 0x0'],
    [
      'masked mismatch',
      'mem read 0x40000000 expect value=0x10 mask=0xf0',
      's.vgs:3: expected value=0x10 (mask 0xf0), got 0x0',
    ],
    [
      'x0 with an SDEI name',
      'vcpu 0 hvc SDEI_INTERRUPT_BIND 40 expect SDEI_DENIED',
      's.vgs:3: expected SDEI_DENIED (-3), got SDEI_NOT_SUPPORTED (-1)',
    ],
    ['named x1', 'vcpu 0 hvc 1 expect x1=5', 's.vgs:3: expected x1=0x5, got 0x0'],
    ['rc= on success', 'get_reg 0 pc expect rc=-EINVAL', 's.vgs:3: expected rc=-EINVAL (-22), got 0'],
  ])('%s', (_name, body, message) => {
    const result = run(PRELUDE + body);
    expect(result.failures.map((f) => f.message)).toEqual([message]);
  });

  it('reports every failure and still runs every statement', () => {
    const result = run(
      `${PRELUDE}create_vcpu 0 expect 0\nmem write 0x40000000 9\nmem read 0x40000000 expect 1\nmark end`,
    );
    expect(result.failures.map((f) => f.loc.line)).toEqual([3, 5]);
    expect(result.events).toBe(6);
  });
});

describe('run-time scenario errors', () => {
  it('a guest statement on a vCPU the VM lacks does nothing, with a warning at its position', () => {
    const result = run(`${PRELUDE}vcpu 3 read 0x40000000 expect 0\nmark after`);
    expect(result.warnings).toEqual([
      { loc: { file: 's.vgs', line: 3, col: 1 }, message: 'no vCPU 3 in this VM: the statement did nothing' },
    ]);
    expect(result.failures).toEqual([]);
    expect(result.events).toBe(4);
  });
  it('a KVM call the model does not cover yet warns instead of passing silently', () => {
    // A device that owns a hypercall it does not model, as a model under construction would.
    const registry: Registry = {
      ...emptyRegistry(),
      hypercalls: [
        {
          name: 'unmodelled',
          first: 0xc600_0000,
          last: 0xc600_0000,
          call: (_vm, vcpu, _id, ctx) => {
            vcpu.x[0] = 0n;
            ctx.emit({ type: 'engine.unmodelled', what: 'VENDOR_CALL' });
          },
        },
      ],
    };
    const result = runScenario(parseScenario('vm\ncreate_vcpu 0\nvcpu 0 hvc 0xc6000000 expect 0', 's.vgs'), {
      registry,
    });
    expect(result.warnings).toEqual([
      {
        loc: { file: 's.vgs', line: 3, col: 1 },
        message: 'VENDOR_CALL is not modelled yet: it returned 0 and did nothing',
      },
    ]);
    expect(result.failures).toEqual([]);
  });
  it('vcpu=K needs vCPU K', () => {
    expect(() => run(`${PRELUDE}get_attr gic DIST_REGS GICD_CTLR vcpu=2`)).toThrow(/no vCPU 2 in this VM/);
  });
});
