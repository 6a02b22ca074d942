// The lexical layer: logical lines and token positions, the numeric literal grammar, strict UTF-8.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSource, lexScenario, looksNumeric, parseNumberLiteral } from '../../scenario/lexer.js';

const words = (src: string) =>
  lexScenario(src, 'l.vgs').map((l) => l.tokens.map((t) => `${t.text}@${t.loc.line}:${t.loc.col}`));

describe('lexScenario', () => {
  it('splits words on spaces and tabs, columns in code points', () => {
    expect(words('a  b\tc\n\t\td 😀 e')).toEqual([
      ['a@1:1', 'b@1:4', 'c@1:6'],
      ['d@2:3', '😀@2:5', 'e@2:7'],
    ]);
  });

  it('drops comments, blank lines and comment-only lines', () => {
    expect(words('# x\n\n  \na#b c\nd # e \\')).toEqual([['a@4:1'], ['d@5:1']]);
  });

  it('continues a line ending in a backslash, even one glued to a word or followed by a comment', () => {
    expect(words('a\\\n b \\ # c\n  c\nd')).toEqual([['a@1:1', 'b@2:2', 'c@3:3'], ['d@4:1']]);
    const [line] = lexScenario('note x \\\n y', 'l.vgs');
    expect(line?.segments.map((s) => [s.line, s.chars.join('')])).toEqual([
      [1, 'note x '],
      [2, ' y'],
    ]);
  });

  it('a word that is only a backslash in the middle of a line is a word', () => {
    expect(words('a \\ b')).toEqual([['a@1:1', '\\@1:3', 'b@1:5']]);
  });

  it('handles CRLF and a final line without newline', () => {
    expect(words('a\r\nb\r\nc')).toEqual([['a@1:1'], ['b@2:1'], ['c@3:1']]);
  });

  it('reports the token lengths in code points', () => {
    const [line] = lexScenario('ab 😀😀 c', 'l.vgs');
    expect(line?.tokens.map((t) => t.len)).toEqual([2, 2, 1]);
  });
});

describe('numeric literals', () => {
  it.each([
    ['0', 0n],
    ['42', 42n],
    ['-22', -22n],
    ['0x2a', 42n],
    ['0xDEAD_beef', 0xdead_beefn],
    ['-0x16', -22n],
    ['0b101', 5n],
    ['-0b1', -1n],
    ['1_2_3', 123n],
    ['0x1_0000_0000_0000_0000', 1n << 64n],
  ])('%s = %s', (text, value) => {
    expect(parseNumberLiteral(text)).toBe(value);
    expect(looksNumeric(text)).toBe(true);
  });

  it.each([
    '0x',
    '0b',
    '1__0',
    '12_',
    '_1',
    '0b2',
    '0xg',
    '0X1',
    '1.0',
    '+1',
    '-',
    '--1',
    '0x_1',
    '1 ',
    '',
    'x1',
  ])('%j is not a literal', (text) => {
    expect(parseNumberLiteral(text)).toBe(undefined);
  });

  it('round-trips every u64 in every form, with separators', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
        fc.constantFrom(2, 10, 16),
        fc.integer({ min: 1, max: 8 }),
        (value, radix, group) => {
          const digits = (value < 0n ? -value : value).toString(radix);
          const grouped = digits.replace(new RegExp(`\\B(?=(.{${group}})+$)`, 'g'), '_');
          const prefix = radix === 16 ? '0x' : radix === 2 ? '0b' : '';
          const text = `${value < 0n ? '-' : ''}${prefix}${grouped}`;
          expect(parseNumberLiteral(text)).toBe(value);
        },
      ),
    );
  });
});

describe('decodeSource', () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it('decodes UTF-8 and drops a leading BOM', () => {
    expect(decodeSource(enc('vm\nnote é 😀\n'), 'd.vgs')).toBe('vm\nnote é 😀\n');
    expect(decodeSource(new Uint8Array([0xef, 0xbb, 0xbf, ...enc('vm')]), 'd.vgs')).toBe('vm');
    expect(decodeSource(new Uint8Array([]), 'd.vgs')).toBe('');
  });

  // Mostly well-formed text with one byte replaced: errors deep inside multi-byte text.
  const mutatedUtf8 = fc
    .tuple(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(), fc.integer({ min: 0, max: 255 }))
    .map(([s, i, b]) => {
      const bytes = enc(s);
      if (bytes.length > 0) bytes[i % bytes.length] = b;
      return bytes;
    });

  it('agrees with a fatal TextDecoder on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutatedUtf8), (bytes) => {
        let expected: string | undefined;
        try {
          expected = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          expected = undefined;
        }
        let got: string | undefined;
        try {
          got = decodeSource(bytes, 'd.vgs');
        } catch (e) {
          expect((e as Error).name).toBe('ScenarioError');
          expect((e as Error).message).toMatch(/^d\.vgs:\d+:\d+: invalid UTF-8$/);
          got = undefined;
        }
        expect(got).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
