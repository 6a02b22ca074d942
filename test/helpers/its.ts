// The guest-RAM layout the ITS unit tests share: where the command queue, the device and
// collection tables, the LPI property and pending tables and each device's ITT live.

import type { ItsCommandName } from '../../devices/its/commands.js';

export const VALID = 1n << 63n;
export const QUEUE = 0x4001_0000;
/** CBASER: Valid, inner RaWb, InnerShareable, one 4 KiB page (128 commands). */
export const CBASER = VALID | (3n << 59n) | BigInt(QUEUE) | (1n << 10n);
export const DEVICE_TABLE = 0x4010_0000;
export const COLLECTION_TABLE = 0x4020_0000;
export const PROP_TABLE = 0x4030_0000;
export const PEND_TABLE = (vcpu: number): number => 0x4040_0000 + vcpu * 0x1_0000;
export const ITT = (dev: number): number => 0x4100_0000 + dev * 0x1000;
/** Outside guest RAM (RAM is 0x4000_0000..0x8000_0000). */
export const NOT_RAM = 0x1000_0000;

/** A command and its fields, as a test writes it into the queue. */
export type CmdSpec = readonly [ItsCommandName, Record<string, bigint | undefined>];
