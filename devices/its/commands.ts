// ITS commands: the 32-byte command encoding of Arm IHI 0069 §6.3 (GICv3 ITS command
// format), decoded exactly as mainline KVM does (arch/arm64/kvm/vgic/vgic-its.c,
// `its_cmd_mask_field` and the `its_cmd_get_*` macros; ../shared/reference/vits.md §3.2) and
// encoded as a Linux-style guest driver writes it (drivers/irqchip/irq-gic-v3-its.c
// `its_encode_*`, copied into tools/testing/selftests/kvm/lib/arm64/gic_v3_its.c and
// kvm-unit-tests lib/arm64/gic-v3-its-cmd.c). Opcodes and E_ITS_* numbers are those of
// include/linux/irqchip/arm-gic-v3.h. Pure codecs: no state, nothing here throws.
//
// Scenario field names (`vcpu K its CMD field=value …`, scenario-language.md) are the keys:
// dev, event, lpi, size, itt, icid, rdbase, rdbase1, rdbase2, valid.
// - `size` is the raw Size field (EventID bits − 1), as in the DTE; KVM adds 1.
// - `itt` is the ITT address; the command carries address >> 8 (256-byte aligned).
// - `rdbase`/`rdbase1`/`rdbase2` are the RDbase field value, i.e. the PE number (GITS_TYPER.PTA
//   = 0), what the selftest's `procnum_to_rdbase(vcpu) >> 16` puts there.
//
// Change rule: the field table is the single description of the layout; a new field or
// command is a new row, never a new shift elsewhere.

import { type BitField, extract, field, insert, readLe64, writeLe64 } from './fields.js';

/** Size in bytes of one ITS command (GITS_CBASER queue slot). */
export const ITS_CMD_SIZE = 32;

// GITS_CMD_* opcodes (include/linux/irqchip/arm-gic-v3.h).
export const GITS_CMD_MOVI = 0x01;
export const GITS_CMD_INT = 0x03;
export const GITS_CMD_CLEAR = 0x04;
export const GITS_CMD_SYNC = 0x05;
export const GITS_CMD_MAPD = 0x08;
export const GITS_CMD_MAPC = 0x09;
export const GITS_CMD_MAPTI = 0x0a;
export const GITS_CMD_MAPI = 0x0b;
export const GITS_CMD_INV = 0x0c;
export const GITS_CMD_INVALL = 0x0d;
export const GITS_CMD_MOVALL = 0x0e;
export const GITS_CMD_DISCARD = 0x0f;
// GICv4 commands (GITS_CMD_GICv4(x) = x | 0x20): KVM's vITS does not handle them; its
// dispatcher falls through to -ENODEV and the queue moves on (vits.md §3.1).
export const GITS_CMD_VMOVI = 0x21;
export const GITS_CMD_VMOVP = 0x22;
export const GITS_CMD_VSGI = 0x23;
export const GITS_CMD_VSYNC = 0x25;
export const GITS_CMD_VMAPP = 0x29;
export const GITS_CMD_VMAPTI = 0x2a;
export const GITS_CMD_VMAPI = 0x2b;
export const GITS_CMD_VINVALL = 0x2d;
export const GITS_CMD_INVDB = 0x2e;

// ITS error numbers (include/linux/irqchip/arm-gic-v3.h; vits.md §3.3). KVM returns them from
// the command handlers and then discards them; the emulator records them as effects.
export const E_ITS_MOVI_UNMAPPED_INTERRUPT = 0x010107;
export const E_ITS_MOVI_UNMAPPED_COLLECTION = 0x010109;
export const E_ITS_INT_UNMAPPED_INTERRUPT = 0x010307;
export const E_ITS_CLEAR_UNMAPPED_INTERRUPT = 0x010507;
export const E_ITS_MAPD_DEVICE_OOR = 0x010801;
export const E_ITS_MAPD_ITTSIZE_OOR = 0x010802;
export const E_ITS_MAPC_PROCNUM_OOR = 0x010902;
export const E_ITS_MAPC_COLLECTION_OOR = 0x010903;
export const E_ITS_MAPTI_UNMAPPED_DEVICE = 0x010a04;
export const E_ITS_MAPTI_ID_OOR = 0x010a05;
export const E_ITS_MAPTI_PHYSICALID_OOR = 0x010a06;
export const E_ITS_INV_UNMAPPED_INTERRUPT = 0x010c07;
export const E_ITS_INVALL_UNMAPPED_COLLECTION = 0x010d09;
export const E_ITS_MOVALL_PROCNUM_OOR = 0x010e01;
export const E_ITS_DISCARD_UNMAPPED_INTERRUPT = 0x010f07;

/** Every E_ITS_* error by name, for messages and the debugger. */
export const E_ITS_ERRORS: Readonly<Record<string, number>> = {
  E_ITS_MOVI_UNMAPPED_INTERRUPT,
  E_ITS_MOVI_UNMAPPED_COLLECTION,
  E_ITS_INT_UNMAPPED_INTERRUPT,
  E_ITS_CLEAR_UNMAPPED_INTERRUPT,
  E_ITS_MAPD_DEVICE_OOR,
  E_ITS_MAPD_ITTSIZE_OOR,
  E_ITS_MAPC_PROCNUM_OOR,
  E_ITS_MAPC_COLLECTION_OOR,
  E_ITS_MAPTI_UNMAPPED_DEVICE,
  E_ITS_MAPTI_ID_OOR,
  E_ITS_MAPTI_PHYSICALID_OOR,
  E_ITS_INV_UNMAPPED_INTERRUPT,
  E_ITS_INVALL_UNMAPPED_COLLECTION,
  E_ITS_MOVALL_PROCNUM_OOR,
  E_ITS_DISCARD_UNMAPPED_INTERRUPT,
};

const E_ITS_BY_VALUE: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(E_ITS_ERRORS).map(([name, value]) => [value, name]),
);

/** The E_ITS_* name of an error number, or undefined for anything else. */
export function itsErrorName(code: number): string | undefined {
  return E_ITS_BY_VALUE[code];
}

/** Field names of `vcpu K its CMD field=value …`. */
export type ItsFieldName =
  | 'dev'
  | 'event'
  | 'lpi'
  | 'size'
  | 'itt'
  | 'icid'
  | 'rdbase'
  | 'rdbase1'
  | 'rdbase2'
  | 'valid';

/** Where a command field lives: doubleword `dw`, bits [shift + width − 1 : shift]. */
export interface ItsCommandField extends BitField {
  readonly name: ItsFieldName;
  readonly dw: 0 | 1 | 2 | 3;
  /** The field holds value >> unitShift (ITT address: 8). */
  readonly unitShift: number;
  /** Bits KVM extracts, when fewer than the architected width the encoder writes. */
  readonly kvmWidth: number;
}

function cmdField(
  name: ItsFieldName,
  dw: 0 | 1 | 2 | 3,
  shift: number,
  width: number,
  opts: { unitShift?: number; kvmWidth?: number } = {},
): ItsCommandField {
  return { name, shift, width, dw, unitShift: opts.unitShift ?? 0, kvmWidth: opts.kvmWidth ?? width };
}

/** Opcode: DW0[7:0] (`its_cmd_get_command`). */
export const ITS_OPCODE_FIELD: BitField = field('opcode', 0, 8);

/**
 * The command fields, each declared once (vits.md §3.2). Left: what the guest driver's
 * `its_encode_*` writes; `kvmWidth`: what KVM's `its_cmd_get_*` reads back.
 */
export const ITS_COMMAND_FIELDS: Readonly<Record<ItsFieldName, ItsCommandField>> = {
  dev: cmdField('dev', 0, 32, 32), // its_cmd_get_deviceid / its_encode_devid
  event: cmdField('event', 1, 0, 32), // its_cmd_get_id / its_encode_event_id
  lpi: cmdField('lpi', 1, 32, 32), // its_cmd_get_physical_id / its_encode_phys_id
  size: cmdField('size', 1, 0, 5), // its_cmd_get_size (− 1) / its_encode_size
  itt: cmdField('itt', 2, 8, 44, { unitShift: 8 }), // its_cmd_get_ittaddr / its_encode_itt
  icid: cmdField('icid', 2, 0, 16), // its_cmd_get_collection / its_encode_collection
  // RDbase is DW2[51:16] architecturally (its_encode_target); KVM reads DW2[47:16] only.
  rdbase: cmdField('rdbase', 2, 16, 36, { kvmWidth: 32 }), // its_cmd_get_target_addr
  rdbase1: cmdField('rdbase1', 2, 16, 36, { kvmWidth: 32 }), // MOVALL RDbase1, as rdbase
  rdbase2: cmdField('rdbase2', 3, 16, 36, { kvmWidth: 32 }), // its_cmd_mask_field(cmd, 3, 16, 32)
  valid: cmdField('valid', 2, 63, 1), // its_cmd_get_validbit / its_encode_valid
};

/** The twelve commands KVM's vITS executes (vgic_its_handle_command). */
export type ItsCommandName =
  | 'MAPD'
  | 'MAPC'
  | 'MAPTI'
  | 'MAPI'
  | 'MOVI'
  | 'INT'
  | 'CLEAR'
  | 'INV'
  | 'INVALL'
  | 'MOVALL'
  | 'DISCARD'
  | 'SYNC';

/** GICv4 commands: recognised by name here, ignored by KVM's vITS (-ENODEV). */
export type ItsV4CommandName =
  | 'VMOVI'
  | 'VMOVP'
  | 'VSGI'
  | 'VSYNC'
  | 'VMAPP'
  | 'VMAPTI'
  | 'VMAPI'
  | 'VINVALL'
  | 'INVDB';

export interface ItsCommandRow {
  readonly name: ItsCommandName;
  readonly opcode: number;
  /** Fields in scenario-language order (also the encoder's order). */
  readonly fields: readonly ItsFieldName[];
}

/**
 * One row per command KVM handles (vits.md §3.2 table). MAPI carries no pINTID: KVM's
 * `vgic_its_cmd_handle_mapi` uses the EventID as the LPI for it, and DW1[63:32] is RES0.
 * SYNC's RDbase is encoded (as `its_build_sync_cmd` does) but KVM never reads it.
 */
export const ITS_COMMANDS: readonly ItsCommandRow[] = [
  { name: 'MOVI', opcode: GITS_CMD_MOVI, fields: ['dev', 'event', 'icid'] },
  { name: 'INT', opcode: GITS_CMD_INT, fields: ['dev', 'event'] },
  { name: 'CLEAR', opcode: GITS_CMD_CLEAR, fields: ['dev', 'event'] },
  { name: 'SYNC', opcode: GITS_CMD_SYNC, fields: ['rdbase'] },
  { name: 'MAPD', opcode: GITS_CMD_MAPD, fields: ['dev', 'size', 'itt', 'valid'] },
  { name: 'MAPC', opcode: GITS_CMD_MAPC, fields: ['icid', 'rdbase', 'valid'] },
  { name: 'MAPTI', opcode: GITS_CMD_MAPTI, fields: ['dev', 'event', 'lpi', 'icid'] },
  { name: 'MAPI', opcode: GITS_CMD_MAPI, fields: ['dev', 'event', 'icid'] },
  { name: 'INV', opcode: GITS_CMD_INV, fields: ['dev', 'event'] },
  { name: 'INVALL', opcode: GITS_CMD_INVALL, fields: ['icid'] },
  { name: 'MOVALL', opcode: GITS_CMD_MOVALL, fields: ['rdbase1', 'rdbase2'] },
  { name: 'DISCARD', opcode: GITS_CMD_DISCARD, fields: ['dev', 'event'] },
];

/** GICv4 opcodes and their names; KVM ignores every one of them. */
export const ITS_V4_COMMANDS: readonly { readonly name: ItsV4CommandName; readonly opcode: number }[] = [
  { name: 'VMOVI', opcode: GITS_CMD_VMOVI },
  { name: 'VMOVP', opcode: GITS_CMD_VMOVP },
  { name: 'VSGI', opcode: GITS_CMD_VSGI },
  { name: 'VSYNC', opcode: GITS_CMD_VSYNC },
  { name: 'VMAPP', opcode: GITS_CMD_VMAPP },
  { name: 'VMAPTI', opcode: GITS_CMD_VMAPTI },
  { name: 'VMAPI', opcode: GITS_CMD_VMAPI },
  { name: 'VINVALL', opcode: GITS_CMD_VINVALL },
  { name: 'INVDB', opcode: GITS_CMD_INVDB },
];

const ROW_BY_NAME: Readonly<Record<string, ItsCommandRow>> = Object.fromEntries(
  ITS_COMMANDS.map((r) => [r.name, r]),
);
const ROW_BY_OPCODE: Readonly<Record<number, ItsCommandRow>> = Object.fromEntries(
  ITS_COMMANDS.map((r) => [r.opcode, r]),
);
const V4_BY_OPCODE: Readonly<Record<number, ItsV4CommandName>> = Object.fromEntries(
  ITS_V4_COMMANDS.map((r) => [r.opcode, r.name]),
);

/** The row of a command name, or undefined for a name KVM does not execute. */
export function itsCommandRow(name: string): ItsCommandRow | undefined {
  return ROW_BY_NAME[name];
}

/** Field values keyed by scenario field name. */
export type ItsCommandFields = Partial<Record<ItsFieldName, bigint>>;

/**
 * The 32 bytes a guest driver writes for `name` with `fields` (little-endian DW0..DW3, as
 * `its_fixup_cmd` stores them). Each field goes through `its_mask_encode`: bits that do not
 * fit are dropped. A missing field is 0, except `valid`, which defaults to 1 as the scenario
 * language says. Keys that are not fields of this command are ignored; an unknown name gives
 * 32 zero bytes. Pure.
 */
export function encodeItsCommand(
  name: ItsCommandName,
  fields: Readonly<Record<string, bigint | undefined>>,
): Uint8Array {
  const out = new Uint8Array(ITS_CMD_SIZE);
  const row = ROW_BY_NAME[name];
  if (!row) return out;
  const dw = [insert(0n, ITS_OPCODE_FIELD, BigInt(row.opcode)), 0n, 0n, 0n];
  for (const fname of row.fields) {
    const f = ITS_COMMAND_FIELDS[fname];
    const value = fields[fname] ?? (fname === 'valid' ? 1n : 0n);
    dw[f.dw] = insert(dw[f.dw] ?? 0n, f, value >> BigInt(f.unitShift));
  }
  dw.forEach((w, i) => {
    writeLe64(out, i * 8, w);
  });
  return out;
}

export interface DecodedItsCommand {
  /** DW0[7:0]. */
  readonly opcode: number;
  /** Command name: one KVM executes, a GICv4 one it ignores, or undefined for an unknown opcode. */
  readonly name?: ItsCommandName | ItsV4CommandName;
  /** True when KVM's vgic_its_handle_command has a case for this opcode. */
  readonly handled: boolean;
  /** The four little-endian doublewords. */
  readonly dw: readonly [bigint, bigint, bigint, bigint];
  /** The row's fields as KVM extracts them (`size` raw; `itt` as an address). */
  readonly fields: ItsCommandFields;
}

/** The four little-endian doublewords of a command; missing bytes read as 0. Pure. */
export function itsCommandDwords(bytes: Uint8Array): [bigint, bigint, bigint, bigint] {
  return [readLe64(bytes, 0), readLe64(bytes, 8), readLe64(bytes, 16), readLe64(bytes, 24)];
}

/** One field as KVM's `its_cmd_get_*` reads it, whatever the command. Pure. */
export function itsCommandField(dw: readonly bigint[], name: ItsFieldName): bigint {
  const f = ITS_COMMAND_FIELDS[name];
  return extract(dw[f.dw] ?? 0n, { name: f.name, shift: f.shift, width: f.kvmWidth }) << BigInt(f.unitShift);
}

/**
 * Decodes 32 command bytes the way KVM does: opcode from DW0[7:0], then the fields of that
 * command's row. Arbitrary input (any length, any bits) never throws; unknown opcodes come back
 * with `handled: false` and no fields. Pure.
 */
export function decodeItsCommand(bytes: Uint8Array): DecodedItsCommand {
  const dw = itsCommandDwords(bytes);
  const opcode = Number(extract(dw[0], ITS_OPCODE_FIELD));
  const row = ROW_BY_OPCODE[opcode];
  if (!row) {
    const v4 = V4_BY_OPCODE[opcode];
    return v4
      ? { opcode, name: v4, handled: false, dw, fields: {} }
      : { opcode, handled: false, dw, fields: {} };
  }
  const fields: ItsCommandFields = {};
  for (const fname of row.fields) fields[fname] = itsCommandField(dw, fname);
  return { opcode, name: row.name, handled: true, dw, fields };
}

/**
 * The LPI a MAPTI or MAPI maps (`vgic_its_cmd_handle_mapi`: pINTID for MAPTI, the EventID for
 * MAPI); undefined for other commands. Pure.
 */
export function itsCommandLpi(cmd: DecodedItsCommand): bigint | undefined {
  if (cmd.opcode === GITS_CMD_MAPTI) return itsCommandField(cmd.dw, 'lpi');
  if (cmd.opcode === GITS_CMD_MAPI) return itsCommandField(cmd.dw, 'event');
  return undefined;
}
