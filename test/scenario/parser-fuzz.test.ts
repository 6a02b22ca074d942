// Property tests: whatever the input, parseScenario returns a Scenario or throws a ScenarioError
// whose position lies inside the input, and never anything else.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScenarioError } from '../../scenario/ast.js';
import { parseScenario } from '../../scenario/parser.js';

/** Parses, and checks that a failure is a well-formed ScenarioError pointing into `src`. */
function parsesOrFailsCleanly(src: string): void {
  try {
    parseScenario(src, 'f.vgs');
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    const lines = (src.startsWith('\uFEFF') ? src.slice(1) : src).split('\n');
    expect(e.loc.file).toBe('f.vgs');
    expect(e.loc.line).toBeGreaterThanOrEqual(1);
    expect(e.loc.line).toBeLessThanOrEqual(lines.length);
    const line = (lines[e.loc.line - 1] ?? '').replace(/\r$/, '');
    expect(e.loc.col).toBeGreaterThanOrEqual(1);
    expect(e.loc.col).toBeLessThanOrEqual(Array.from(line).length + 1);
    expect(e.message).toBe(`f.vgs:${e.loc.line}:${e.loc.col}: ${e.detail}`);
    expect(e.detail.length).toBeGreaterThan(0);
  }
}

/** A valid scenario touching every statement form. */
const VALID = `# every statement
board virt vcpus=4 nr_irqs=128 its=on sdei=on host=gicv4.1 quirks=movall-all-lpis ipa_bits=44
vm host=gicv3 quirks=sdei-stale-pending ipa_bits=40 sdei=off
create_vcpu 4 expect -EINVAL
create_device vgic-its expect -EEXIST
set_attr gic DIST_REGS GICD_IROUTER40+4 0x1 expect 0
set_attr gic REDIST_REGS GICR_ISENABLER0 0xffff vcpu=1 expect rc=0
set_attr gic ADDR V3_REDIST_REGION count=2 base=0x080A0000 index=0 flags=0 expect -EEXIST
set_attr gic CPU_SYSREGS ICC_PMR_EL1 0xf0 mpidr=0x1
set_attr gic CTRL INIT
get_attr gic ADDR V3_REDIST_REGION index=0 expect value=0x20000080a0000 mask=0xffff rc=0
get_attr its ITS_REGS GITS_BASER0 expect 0x0
has_attr gic LEVEL_INFO 32 vcpu=0 expect 0
irq_line spi 40 1 expect 0
irq_line ppi 1 27 0
signal_msi 0x10 0x2 expect 0
get_reg 0 KVM_REG_ARM_SDEI_EVENT_HANDLER_0 expect value=0
set_reg 0 pc 0x1000 expect 0
run 0 expect 0
reset_vcpu 1
sdei_inject 0 0 expect -ENOENT
stop
cont
vcpu 0 read GICR_CTLR@1+4 size=4 expect 0 mask=0x1
vcpu 0 write GICD_CTLR 0x12
vcpu 0 mrs ICC_IAR1_EL1 expect 1023
vcpu 0 msr S3_0_C12_C12_5 7
vcpu 0 hvc SDEI_EVENT_REGISTER 0 0x1000 0 0 0 expect SDEI_SUCCESS x1=0
vcpu 0 reg x30 expect 0
vcpu 0 its MAPD dev=1 size=4 itt=0x50020000 valid=1
vcpu 0 its MAPTI dev=1 event=0 lpi=8192 icid=0
mem read 0x40000000 size=8 expect value=0
mem write 0x40000000 0xab size=1 expect 0
guest gic_init
guest its_init base=0x50000000 idbits=13
guest lpi_config 8192 0xa2
migrate vmm=qemu quirks=zero-clear host=gicv3 expect 0
mark after \\
  # a continuation
note free text, with = and expect and -EINVAL # comment
`;

const VALID_LINES = VALID.split('\n');

/** Words and characters that make the parser go down its interesting paths. */
const WORDS = [
  'board',
  'vm',
  'virt',
  'vcpu',
  'mem',
  'guest',
  'expect',
  'mask=',
  'rc=',
  'value=',
  'x0=',
  'x4=',
  'size=',
  'vcpus=',
  'quirks=',
  'GICD_CTLR',
  'GICR_CTLR@',
  'GITS_CWRITER+',
  'ICC_PMR_EL1',
  'S3_0_C12_C12_5',
  'V3_REDIST_REGION',
  'count=',
  'KVM_REG_ARM_SDEI_PE_STATE',
  '-EINVAL',
  'EINVAL',
  'SDEI_DENIED',
  '0x',
  '0b',
  '_',
  '-',
  '+',
  '@',
  '=',
  ',',
  '#',
  '\\',
  '\\\n',
  '\n',
  '\r',
  '\t',
  ' ',
  '0',
  '1',
  '0xffff_ffff_ffff_ffff',
  '0x1_0000_0000_0000_0000',
  '-0x8000_0000_0000_0001',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  '😀',
  'é',
  '\uFEFF',
  '\u0000',
  '\uD800',
];

const word = fc.constantFrom(...WORDS);

/** A valid scenario with a few edits: a word or character inserted, deleted or replaced. */
const mutated = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom('insert', 'delete', 'replace', 'swap-lines', 'drop-line'),
        word,
        fc.nat(),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([edits]) => {
    let text = VALID;
    for (const [pos, op, w, other] of edits) {
      const i = pos % (text.length + 1);
      if (op === 'insert') text = text.slice(0, i) + w + text.slice(i);
      else if (op === 'delete') text = text.slice(0, i) + text.slice(i + 1 + (other % 4));
      else if (op === 'replace') text = text.slice(0, i) + w + text.slice(i + w.length);
      else {
        const lines = text.split('\n');
        const a = pos % lines.length;
        const b = other % lines.length;
        if (op === 'drop-line') lines.splice(a, 1);
        else [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
        text = lines.join('\n');
      }
    }
    return text;
  });

/** `vm` then lines made of statement keywords and interesting words. */
const wordSoup = fc
  .array(fc.array(word, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 })
  .map((lines) => `vm\n${lines.map((ws) => ws.join(' ')).join('\n')}`);

/** A line of a valid scenario with one of its words replaced. */
const oneWordOff = fc
  .tuple(fc.constantFrom(...VALID_LINES.filter((l) => l.trim() !== '' && !l.startsWith('#'))), fc.nat(), word)
  .map(([line, i, w]) => {
    const ws = line.split(' ');
    ws[i % ws.length] = w;
    return `board virt vcpus=2\n${ws.join(' ')}`;
  });

describe('parseScenario never throws anything but ScenarioError', () => {
  it('parses the valid corpus', () => {
    const { statements } = parseScenario(VALID, 'f.vgs');
    expect(statements).toHaveLength(38);
  });

  it('arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), parsesOrFailsCleanly), {
      numRuns: 2000,
    });
  });

  it('arbitrary ASCII with many line breaks', () => {
    const ascii = fc.string({
      unit: fc.constantFrom(...'abcxEGIRSTV_0123456789=+-@#,\\ \t\n'.split('')),
      maxLength: 200,
    });
    fc.assert(fc.property(ascii, parsesOrFailsCleanly), { numRuns: 2000 });
  });

  it('mutated valid scenarios', () => {
    fc.assert(fc.property(mutated, parsesOrFailsCleanly), { numRuns: 3000 });
  });

  it('word soup', () => {
    fc.assert(fc.property(wordSoup, parsesOrFailsCleanly), { numRuns: 3000 });
  });

  it('valid lines with one word replaced', () => {
    fc.assert(fc.property(oneWordOff, parsesOrFailsCleanly), { numRuns: 3000 });
  });
});
