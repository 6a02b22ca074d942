// ITS command codec (devices/its/commands.ts): the 32-byte layout of vits.md §3.2 as KVM
// decodes it and as Linux-style guest drivers encode it. Worked examples from vits.md §3.2
// (kvm-unit-tests values) and from tools/testing/selftests/kvm/lib/arm64/gic_v3_its.c.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeItsCommand,
  E_ITS_ERRORS,
  encodeItsCommand,
  ITS_CMD_SIZE,
  ITS_COMMAND_FIELDS,
  ITS_COMMANDS,
  ITS_V4_COMMANDS,
  type ItsCommandFields,
  type ItsCommandName,
  type ItsFieldName,
  itsCommandDwords,
  itsCommandLpi,
  itsCommandRow,
  itsErrorName,
} from '../../../devices/its/commands.js';

const dwords = (name: ItsCommandName, fields: ItsCommandFields) =>
  itsCommandDwords(encodeItsCommand(name, fields));
const ITT = 0x4005_0000n;

describe('ITS command encoding: worked examples', () => {
  it.each<[string, ItsCommandName, ItsCommandFields, [bigint, bigint, bigint, bigint]]>([
    // vits.md §3.2 (kvm-unit-tests its_send_* values)
    [
      'MAPD dev 2 size 7 V=1',
      'MAPD',
      { dev: 2n, size: 7n, itt: ITT, valid: 1n },
      [0x0000_0002_0000_0008n, 0x7n, 0x8000_0000_0000_0000n | ITT, 0n],
    ],
    [
      'MAPC ICID 3 → PE 3',
      'MAPC',
      { icid: 3n, rdbase: 3n, valid: 1n },
      [0x09n, 0n, 0x8000_0000_0003_0003n, 0n],
    ],
    [
      'MAPTI dev 2 ev 20 LPI 8195 ICID 3',
      'MAPTI',
      { dev: 2n, event: 20n, lpi: 8195n, icid: 3n },
      [0x0000_0002_0000_000an, 0x0000_2003_0000_0014n, 0x3n, 0n],
    ],
    ['INT dev 2 ev 20', 'INT', { dev: 2n, event: 20n }, [0x0000_0002_0000_0003n, 0x14n, 0n, 0n]],
    ['INVALL ICID 3', 'INVALL', { icid: 3n }, [0x0dn, 0n, 0x3n, 0n]],
    // selftest its_send_mapc_cmd(vcpu 1, collection 5): procnum_to_rdbase(1) >> 16 = 1
    [
      'MAPC selftest vcpu 1 coll 5',
      'MAPC',
      { icid: 5n, rdbase: 1n, valid: 1n },
      [0x09n, 0n, 0x8000_0000_0001_0005n, 0n],
    ],
    // selftest its_send_mapd_cmd(dev 7, itt 0x4010_0000, itt_size 256 → size ilog2(256)-1 = 7, valid 0)
    [
      'MAPD V=0',
      'MAPD',
      { dev: 7n, size: 7n, itt: 0x4010_0000n, valid: 0n },
      [0x0000_0007_0000_0008n, 0x7n, 0x4010_0000n, 0n],
    ],
    [
      'MAPI dev 1 ev 8200 ICID 2',
      'MAPI',
      { dev: 1n, event: 8200n, icid: 2n },
      [0x0000_0001_0000_000bn, 8200n, 0x2n, 0n],
    ],
    [
      'MOVI dev 1 ev 4 ICID 9',
      'MOVI',
      { dev: 1n, event: 4n, icid: 9n },
      [0x0000_0001_0000_0001n, 4n, 9n, 0n],
    ],
    ['CLEAR dev 3 ev 1', 'CLEAR', { dev: 3n, event: 1n }, [0x0000_0003_0000_0004n, 1n, 0n, 0n]],
    ['INV dev 3 ev 1', 'INV', { dev: 3n, event: 1n }, [0x0000_0003_0000_000cn, 1n, 0n, 0n]],
    ['DISCARD dev 3 ev 1', 'DISCARD', { dev: 3n, event: 1n }, [0x0000_0003_0000_000fn, 1n, 0n, 0n]],
    ['MOVALL 1 → 2', 'MOVALL', { rdbase1: 1n, rdbase2: 2n }, [0x0en, 0n, 0x1_0000n, 0x2_0000n]],
    ['SYNC PE 1', 'SYNC', { rdbase: 1n }, [0x05n, 0n, 0x1_0000n, 0n]],
  ])('%s', (_label, name, fields, expected) => {
    expect(dwords(name, fields)).toEqual(expected);
    const decoded = decodeItsCommand(encodeItsCommand(name, fields));
    expect(decoded.name).toBe(name);
    expect(decoded.handled).toBe(true);
    expect(decoded.fields).toEqual(fields);
  });

  it('writes little-endian doublewords (MAPTI bytes)', () => {
    const bytes = encodeItsCommand('MAPTI', { dev: 2n, event: 20n, lpi: 8195n, icid: 3n });
    expect(bytes.length).toBe(ITS_CMD_SIZE);
    expect(Array.from(bytes)).toEqual([
      0x0a,
      0,
      0,
      0,
      0x02,
      0,
      0,
      0, // DW0
      0x14,
      0,
      0,
      0,
      0x03,
      0x20,
      0,
      0, // DW1
      0x03,
      0,
      0,
      0,
      0,
      0,
      0,
      0, // DW2
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0, // DW3
    ]);
  });
});

describe('ITS command encoding: rules', () => {
  it('defaults valid to 1 and other missing fields to 0', () => {
    expect(dwords('MAPD', { dev: 1n })).toEqual([0x0000_0001_0000_0008n, 0n, 1n << 63n, 0n]);
    expect(dwords('MAPC', {})[2]).toBe(1n << 63n);
  });

  it('drops bits that do not fit, as its_mask_encode does', () => {
    const [dw0, dw1, dw2] = dwords('MAPTI', {
      dev: (1n << 32n) | 5n,
      event: (1n << 40n) | 6n,
      lpi: 0x1_0000_2000n,
      icid: 0x1_0003n,
    });
    expect(dw0).toBe(0x0000_0005_0000_000an);
    expect(dw1).toBe(0x0000_2000_0000_0006n);
    expect(dw2).toBe(3n);
    // the ITT address keeps bits 51:8
    expect(dwords('MAPD', { itt: 0xfff0_1234_5678_9affn })[2]).toBe((1n << 63n) | 0x0000_1234_5678_9a00n);
  });

  it('ignores keys that are not fields of the command', () => {
    expect(dwords('INT', { dev: 1n, event: 2n, icid: 7n, lpi: 9000n })).toEqual(
      dwords('INT', { dev: 1n, event: 2n }),
    );
  });

  it('MAPI leaves DW1[63:32] zero; KVM maps the EventID as the LPI', () => {
    const [, dw1] = dwords('MAPI', { dev: 1n, event: 8200n, icid: 0n });
    expect(dw1 >> 32n).toBe(0n);
    const cmd = decodeItsCommand(encodeItsCommand('MAPI', { dev: 1n, event: 8200n, icid: 0n }));
    expect(itsCommandLpi(cmd)).toBe(8200n);
    expect(
      itsCommandLpi(decodeItsCommand(encodeItsCommand('MAPTI', { dev: 1n, event: 5n, lpi: 8300n }))),
    ).toBe(8300n);
    expect(itsCommandLpi(decodeItsCommand(encodeItsCommand('INT', { dev: 1n, event: 5n })))).toBeUndefined();
  });

  it('RDbase: the driver writes 36 bits, KVM reads DW2[47:16]', () => {
    const bytes = encodeItsCommand('MAPC', { icid: 1n, rdbase: 0x1_0000_0003n, valid: 1n });
    expect(itsCommandDwords(bytes)[2]).toBe((1n << 63n) | (1n << 48n) | (3n << 16n) | 1n);
    expect(decodeItsCommand(bytes).fields.rdbase).toBe(3n);
    const movall = decodeItsCommand(
      encodeItsCommand('MOVALL', { rdbase1: 0xf_0000_0001n, rdbase2: 0xf_0000_0002n }),
    );
    expect(movall.fields).toEqual({ rdbase1: 1n, rdbase2: 2n });
  });

  it('an unknown command name encodes as 32 zero bytes', () => {
    expect(Array.from(encodeItsCommand('BOGUS' as ItsCommandName, {}))).toEqual(new Array(32).fill(0));
  });
});

describe('ITS command decoding', () => {
  it('fields follow the scenario-language list for every command', () => {
    const spec: Record<ItsCommandName, ItsFieldName[]> = {
      MAPD: ['dev', 'size', 'itt', 'valid'],
      MAPC: ['icid', 'rdbase', 'valid'],
      MAPTI: ['dev', 'event', 'lpi', 'icid'],
      MAPI: ['dev', 'event', 'icid'],
      MOVI: ['dev', 'event', 'icid'],
      INT: ['dev', 'event'],
      CLEAR: ['dev', 'event'],
      INV: ['dev', 'event'],
      INVALL: ['icid'],
      MOVALL: ['rdbase1', 'rdbase2'],
      DISCARD: ['dev', 'event'],
      SYNC: ['rdbase'],
    };
    expect(Object.fromEntries(ITS_COMMANDS.map((r) => [r.name, [...r.fields]]))).toEqual(spec);
    expect(itsCommandRow('MAPTI')?.opcode).toBe(0x0a);
    expect(itsCommandRow('VMAPP')).toBeUndefined();
  });

  it('opcodes are those of arm-gic-v3.h', () => {
    expect(Object.fromEntries(ITS_COMMANDS.map((r) => [r.name, r.opcode]))).toEqual({
      MOVI: 0x01,
      INT: 0x03,
      CLEAR: 0x04,
      SYNC: 0x05,
      MAPD: 0x08,
      MAPC: 0x09,
      MAPTI: 0x0a,
      MAPI: 0x0b,
      INV: 0x0c,
      INVALL: 0x0d,
      MOVALL: 0x0e,
      DISCARD: 0x0f,
    });
    expect(Object.fromEntries(ITS_V4_COMMANDS.map((r) => [r.name, r.opcode]))).toEqual({
      VMOVI: 0x21,
      VMOVP: 0x22,
      VSGI: 0x23,
      VSYNC: 0x25,
      VMAPP: 0x29,
      VMAPTI: 0x2a,
      VMAPI: 0x2b,
      VINVALL: 0x2d,
      INVDB: 0x2e,
    });
  });

  it('GICv4 opcodes are named but not handled; unknown opcodes have no name', () => {
    const v = new Uint8Array(32);
    v[0] = 0x29;
    expect(decodeItsCommand(v)).toMatchObject({ opcode: 0x29, name: 'VMAPP', handled: false, fields: {} });
    v[0] = 0x00;
    const zero = decodeItsCommand(v);
    expect(zero.name).toBeUndefined();
    expect(zero.handled).toBe(false);
    v[0] = 0xff;
    expect(decodeItsCommand(v)).toMatchObject({ opcode: 0xff, handled: false });
  });

  it('MAPD Size is the raw field (KVM adds 1); ITT address is field << 8', () => {
    const bytes = new Uint8Array(32);
    bytes[0] = 0x08;
    bytes[8] = 0xff; // DW1[7:0]: Size = 0x1f, bits 7:5 are not Size
    bytes[16 + 1] = 0x34; // DW2[15:8]
    bytes[16 + 6] = 0x0f; // DW2[51:48]
    bytes[16 + 7] = 0x80; // V
    expect(decodeItsCommand(bytes).fields).toEqual({
      dev: 0n,
      size: 0x1fn,
      itt: 0x000f_0000_0000_3400n,
      valid: 1n,
    });
  });

  it('short or long inputs decode without throwing (missing bytes read as 0)', () => {
    expect(decodeItsCommand(new Uint8Array(0))).toMatchObject({ opcode: 0, handled: false });
    expect(decodeItsCommand(Uint8Array.of(0x03, 0, 0, 0, 9)).fields).toEqual({ dev: 9n, event: 0n });
    const long = new Uint8Array(40).fill(0xff);
    long[0] = 0x0d;
    expect(decodeItsCommand(long).fields).toEqual({ icid: 0xffffn });
  });
});

describe('E_ITS_* errors', () => {
  it('carry the arm-gic-v3.h values', () => {
    expect(E_ITS_ERRORS).toEqual({
      E_ITS_MOVI_UNMAPPED_INTERRUPT: 0x010107,
      E_ITS_MOVI_UNMAPPED_COLLECTION: 0x010109,
      E_ITS_INT_UNMAPPED_INTERRUPT: 0x010307,
      E_ITS_CLEAR_UNMAPPED_INTERRUPT: 0x010507,
      E_ITS_MAPD_DEVICE_OOR: 0x010801,
      E_ITS_MAPD_ITTSIZE_OOR: 0x010802,
      E_ITS_MAPC_PROCNUM_OOR: 0x010902,
      E_ITS_MAPC_COLLECTION_OOR: 0x010903,
      E_ITS_MAPTI_UNMAPPED_DEVICE: 0x010a04,
      E_ITS_MAPTI_ID_OOR: 0x010a05,
      E_ITS_MAPTI_PHYSICALID_OOR: 0x010a06,
      E_ITS_INV_UNMAPPED_INTERRUPT: 0x010c07,
      E_ITS_INVALL_UNMAPPED_COLLECTION: 0x010d09,
      E_ITS_MOVALL_PROCNUM_OOR: 0x010e01,
      E_ITS_DISCARD_UNMAPPED_INTERRUPT: 0x010f07,
    });
    expect(itsErrorName(0x010a05)).toBe('E_ITS_MAPTI_ID_OOR');
    expect(itsErrorName(-22)).toBeUndefined();
  });
});

describe('ITS command properties', () => {
  /** A value KVM reads back unchanged: within kvmWidth, aligned to the field's unit. */
  const arbField = (name: ItsFieldName): fc.Arbitrary<bigint> => {
    const f = ITS_COMMAND_FIELDS[name];
    return fc.bigInt({ min: 0n, max: (1n << BigInt(f.kvmWidth)) - 1n }).map((v) => v << BigInt(f.unitShift));
  };
  const arbCommand = fc
    .constantFrom(...ITS_COMMANDS)
    .chain((row) =>
      fc
        .record(
          Object.fromEntries(row.fields.map((n) => [n, arbField(n)])) as Record<
            ItsFieldName,
            fc.Arbitrary<bigint>
          >,
        )
        .map((fields) => ({ name: row.name, fields: fields as ItsCommandFields })),
    );

  it('decode(encode(x)) == x for every command', () => {
    fc.assert(
      fc.property(arbCommand, ({ name, fields }) => {
        const d = decodeItsCommand(encodeItsCommand(name, fields));
        expect(d.name).toBe(name);
        expect(d.fields).toEqual(fields);
      }),
      { numRuns: 2000 },
    );
  });

  it('decoding arbitrary bytes never throws; re-encoding reproduces what KVM reads', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 48 }), (bytes) => {
        const d = decodeItsCommand(bytes);
        expect(d.opcode).toBe(bytes[0] ?? 0);
        if (d.handled && d.name) {
          const again = decodeItsCommand(encodeItsCommand(d.name as ItsCommandName, d.fields));
          expect(again.fields).toEqual(d.fields);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('decoding a handled opcode with random payload always names it', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ITS_COMMANDS),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (row, bytes) => {
          const b = Uint8Array.from(bytes);
          b[0] = row.opcode;
          const d = decodeItsCommand(b);
          expect(d.name).toBe(row.name);
          expect(Object.keys(d.fields)).toEqual([...row.fields]);
        },
      ),
    );
  });
});
