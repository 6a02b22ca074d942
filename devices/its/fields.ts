// Bitfield and little-endian helpers shared by the ITS command and table codecs
// (devices/its/commands.ts, devices/its/tables.ts). Fields are declared once as data, as
// style-anchors §8.3 asks (QEMU `FIELD()`); extraction mirrors KVM's `its_cmd_mask_field`
// and insertion mirrors the guest driver's `its_mask_encode` (value shifted, then masked).
// Pure; nothing here throws.

const U64 = (1n << 64n) - 1n;

/** One bitfield of a 64-bit word: `width` bits starting at bit `shift`. */
export interface BitField {
  readonly name: string;
  readonly shift: number;
  readonly width: number;
}

/** Declares a bitfield. */
export function field(name: string, shift: number, width: number): BitField {
  return { name, shift, width };
}

/** All-ones value of `width` bits. */
export function ones(width: number): bigint {
  return (1n << BigInt(width)) - 1n;
}

/** The field's mask in place (`GENMASK_ULL(shift + width - 1, shift)`). */
export function fieldMask(f: BitField): bigint {
  return ones(f.width) << BigInt(f.shift);
}

/** `(word >> shift) & (2^width - 1)`, as KVM's `its_cmd_mask_field`. */
export function extract(word: bigint, f: BitField): bigint {
  return ((word & U64) >> BigInt(f.shift)) & ones(f.width);
}

/**
 * `word` with the field replaced by `value`, as Linux's `its_mask_encode`: bits of `value`
 * above the field width are dropped, never carried into neighbouring fields.
 */
export function insert(word: bigint, f: BitField, value: bigint): bigint {
  const mask = fieldMask(f);
  return ((word & ~mask) | ((value << BigInt(f.shift)) & mask)) & U64;
}

/** Reads a little-endian u64 at `offset`; bytes past the end of `bytes` read as 0. */
export function readLe64(bytes: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
  return v;
}

/** Writes `value` (truncated to 64 bits) as a little-endian u64 at `offset`. */
export function writeLe64(bytes: Uint8Array, offset: number, value: bigint): void {
  let v = value & U64;
  for (let i = 0; i < 8; i++) {
    if (offset + i < bytes.length) bytes[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** The 8 little-endian bytes of a u64 (an ITS table entry as it sits in guest RAM). */
export function le64Bytes(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  writeLe64(out, 0, value);
  return out;
}
