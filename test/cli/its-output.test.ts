// `vgicrr run --json` with the table layout each `guest its_init` chose (`layouts`, addresses as
// hex strings and sizes in bytes, with the statement's line), and `vgicrr state` printing the ITS
// section and LPI rows, in text and --json.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vgicrr-its-'));
const defaults = join(dir, 'defaults.vgs');
const custom = join(dir, 'custom.vgs');
const none = join(dir, 'none.vgs');

const DEFAULTS = `board virt vcpus=2 nr_irqs=64 its=on
guest gic_init
guest its_init
run 0
run 1
guest lpi_config 8192 0xa3
vcpu 0 its MAPD dev=2 size=4 itt=0x50100000
vcpu 0 its MAPC icid=0 rdbase=1
vcpu 0 its MAPTI dev=2 event=0 lpi=8192 icid=0
vcpu 0 its INT dev=2 event=0
`;

const CUSTOM = `board virt vcpus=3 its=on
guest gic_init
# a second its_init: each statement's layout is reported
guest its_init base=0x60000000 idbits=15
guest its_init base=0x70000000 idbits=9
`;

beforeAll(() => {
  writeFileSync(defaults, DEFAULTS);
  writeFileSync(custom, CUSTOM);
  writeFileSync(none, 'board virt vcpus=1 its=off\nguest gic_init\n');
});

describe('vgicrr run --json: its_init layouts', () => {
  it('reports the default layout with the statement line', async () => {
    const r = await cli('run', defaults, '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.ok).toBe(true);
    expect(json.layouts).toEqual([
      {
        line: 3,
        col: 1,
        statement: 'its_init',
        base: '0x50000000',
        idbits: 13,
        deviceTable: { addr: '0x50000000', size: 0x10000 },
        collectionTable: { addr: '0x50010000', size: 0x10000 },
        commandQueue: { addr: '0x50020000', size: 0x10000 },
        propertyTable: { addr: '0x50030000', size: 8192, idbits: 13 },
        pendingTables: [
          { vcpu: 0, addr: '0x50040000', size: 2048 },
          { vcpu: 1, addr: '0x50050000', size: 2048 },
        ],
      },
    ]);
  });

  it('reports base= and idbits= and one pending table per vCPU, for every its_init', async () => {
    const r = await cli('run', custom, '--json');
    expect(r.code).toBe(0);
    const [first, second] = JSON.parse(r.stdout).layouts;
    expect(first).toMatchObject({
      line: 4,
      base: '0x60000000',
      idbits: 15,
      deviceTable: { addr: '0x60000000' },
      commandQueue: { addr: '0x60020000', size: 0x10000 },
      // 2^16 INTIDs: 65536 − 8192 property bytes, 65536 / 8 pending bytes
      propertyTable: { addr: '0x60030000', size: 57344, idbits: 15 },
      pendingTables: [
        { vcpu: 0, addr: '0x60040000', size: 8192 },
        { vcpu: 1, addr: '0x60050000', size: 8192 },
        { vcpu: 2, addr: '0x60060000', size: 8192 },
      ],
    });
    // IDbits below 13 leaves no LPI: an empty property table
    expect(second).toMatchObject({ line: 5, base: '0x70000000', propertyTable: { size: 0, idbits: 9 } });
  });

  it('has an empty list without its_init, and the plain output is unchanged', async () => {
    expect(JSON.parse((await cli('run', none, '--json')).stdout).layouts).toEqual([]);
    const plain = await cli('run', defaults);
    expect(plain.stdout).toBe(
      `${defaults}: 10 statements, ${plain.stdout.match(/(\d+) events/)![1]} events, 0 expectations held\n`,
    );
  });

  it('documents the layouts in --help', async () => {
    expect((await cli('run', '--help')).stdout).toContain('each `guest its_init` chose');
  });
});

describe('vgicrr state: ITS and LPIs', () => {
  it('prints the ITS section and the LPI rows', async () => {
    const r = await cli('state', defaults);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain('    LPI   8192    - P..E..G 0xa0 vCPU 1  -');
    const at = lines.indexOf('  ITS (vgic-its)');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at, at + 10).join('\n')).toBe(
      [
        '  ITS (vgic-its)',
        '    base 0x8080000  enabled yes  ABI revision 0',
        '    GITS_CBASER 0x980000005002040f (valid, queue 64 KiB)  GITS_CREADR 0x80',
        '    GITS_CWRITER 0x80',
        '    GITS_BASER0 0x9907000050000600  GITS_BASER1 0x9c07000050010600',
        '    devices: 1',
        '      DeviceID 2  ITT 0x50100000 (256 B)  EventID bits 5  ITEs 1',
        '        event 0 → LPI 8192, ICID 0',
        '    collections: 1',
        '      ICID 0 → vCPU 1',
      ].join('\n'),
    );
  });

  it('includes the ITS and LPIs in --json', async () => {
    const r = await cli('state', defaults, '--json');
    expect(r.code).toBe(0);
    const vm = JSON.parse(r.stdout).view.vms[0];
    expect(vm.its).toMatchObject({
      base: 0x808_0000,
      enabled: true,
      creadr: 0x80,
      cwriter: 0x80,
      queueSize: 0x10000,
      devices: [
        {
          deviceId: 2,
          ittAddr: 0x5010_0000,
          eventIdBits: 5,
          ittSize: 256,
          ites: [{ eventId: 0, intid: 8192, icid: 0, orphaned: false }],
        },
      ],
      collections: [{ icid: 0, target: 1 }],
    });
    expect(vm.its.baser0).toBe('0x9907000050000600');
    expect(vm.gic.irqs.filter((i: { kind: string }) => i.kind === 'LPI')).toEqual([
      expect.objectContaining({ intid: 8192, priority: 0xa0, enabled: true, pending: true, target: 1 }),
    ]);
  });

  it('prints no ITS section without an ITS', async () => {
    const r = await cli('state', none);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('ITS (');
    expect(JSON.parse((await cli('state', none, '--json')).stdout).view.vms[0].its).toBeUndefined();
  });
});
