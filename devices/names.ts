// Register, attribute and function names that scenarios use (scenario-language.md "Register
// names"), with the offsets of Arm IHI 0069 (GICv3/v4) as named in Linux
// include/linux/irqchip/arm-gic-v3.h, the attr constants of arch/arm64/include/uapi/asm/kvm.h,
// and the SDEI function ids of Arm DEN 0054. Data only: the device models own behaviour.

/** Which frame a register name lives in. */
export type RegisterSpace = 'gicd' | 'gicr' | 'gits' | 'icc';

export interface RegisterName {
  name: string;
  space: RegisterSpace;
  /** Offset from the frame base (GICR SGI-frame registers include the 0x10000), or the ICC encoding. */
  offset: number;
  /** Access width in bytes the register is defined with. */
  bytes: 4 | 8;
}

const names: Record<string, RegisterName> = {};

function add(space: RegisterSpace, name: string, offset: number, bytes: 4 | 8 = 4): void {
  names[name] = { name, space, offset, bytes };
}

function banked(
  space: RegisterSpace,
  name: string,
  base: number,
  count: number,
  stride: number,
  bytes: 4 | 8 = 4,
) {
  for (let n = 0; n < count; n++) add(space, `${name}${n}`, base + n * stride, bytes);
}

// Distributor (64 KiB frame).
add('gicd', 'GICD_CTLR', 0x0000);
add('gicd', 'GICD_TYPER', 0x0004);
add('gicd', 'GICD_IIDR', 0x0008);
add('gicd', 'GICD_TYPER2', 0x000c);
add('gicd', 'GICD_STATUSR', 0x0010);
add('gicd', 'GICD_SETSPI_NSR', 0x0040);
add('gicd', 'GICD_CLRSPI_NSR', 0x0048);
add('gicd', 'GICD_SETSPI_SR', 0x0050);
add('gicd', 'GICD_CLRSPI_SR', 0x0058);
banked('gicd', 'GICD_IGROUPR', 0x0080, 32, 4);
banked('gicd', 'GICD_ISENABLER', 0x0100, 32, 4);
banked('gicd', 'GICD_ICENABLER', 0x0180, 32, 4);
banked('gicd', 'GICD_ISPENDR', 0x0200, 32, 4);
banked('gicd', 'GICD_ICPENDR', 0x0280, 32, 4);
banked('gicd', 'GICD_ISACTIVER', 0x0300, 32, 4);
banked('gicd', 'GICD_ICACTIVER', 0x0380, 32, 4);
banked('gicd', 'GICD_IPRIORITYR', 0x0400, 255, 4);
banked('gicd', 'GICD_ITARGETSR', 0x0800, 255, 4);
banked('gicd', 'GICD_ICFGR', 0x0c00, 64, 4);
banked('gicd', 'GICD_IGRPMODR', 0x0d00, 32, 4);
banked('gicd', 'GICD_NSACR', 0x0e00, 64, 4);
add('gicd', 'GICD_SGIR', 0x0f00);
banked('gicd', 'GICD_CPENDSGIR', 0x0f10, 4, 4);
banked('gicd', 'GICD_SPENDSGIR', 0x0f20, 4, 4);
// GICD_IROUTER<n>: n is the INTID (32–1019), one 64-bit register each.
for (let n = 32; n < 1020; n++) add('gicd', `GICD_IROUTER${n}`, 0x6000 + n * 8, 8);
/** The CoreSight ID block at 0xFFD0–0xFFFF of the distributor, RD_base and ITS frames. */
export const ID_REGISTERS: readonly (readonly [string, number])[] = [
  ['PIDR4', 0xffd0],
  ['PIDR5', 0xffd4],
  ['PIDR6', 0xffd8],
  ['PIDR7', 0xffdc],
  ['PIDR0', 0xffe0],
  ['PIDR1', 0xffe4],
  ['PIDR2', 0xffe8],
  ['PIDR3', 0xffec],
  ['CIDR0', 0xfff0],
  ['CIDR1', 0xfff4],
  ['CIDR2', 0xfff8],
  ['CIDR3', 0xfffc],
];
for (const [name, offset] of ID_REGISTERS) {
  add('gicd', `GICD_${name}`, offset);
  add('gicr', `GICR_${name}`, offset);
  add('gits', `GITS_${name}`, offset);
}

// Redistributor RD_base frame.
add('gicr', 'GICR_CTLR', 0x0000);
add('gicr', 'GICR_IIDR', 0x0004);
add('gicr', 'GICR_TYPER', 0x0008, 8);
add('gicr', 'GICR_STATUSR', 0x0010);
add('gicr', 'GICR_WAKER', 0x0014);
add('gicr', 'GICR_SETLPIR', 0x0040, 8);
add('gicr', 'GICR_CLRLPIR', 0x0048, 8);
add('gicr', 'GICR_PROPBASER', 0x0070, 8);
add('gicr', 'GICR_PENDBASER', 0x0078, 8);
add('gicr', 'GICR_INVLPIR', 0x00a0, 8);
add('gicr', 'GICR_INVALLR', 0x00b0, 8);
add('gicr', 'GICR_SYNCR', 0x00c0);
// Redistributor SGI_base frame: RD_base + 0x10000.
export const GICR_SGI_FRAME = 0x1_0000;
add('gicr', 'GICR_IGROUPR0', GICR_SGI_FRAME + 0x0080);
add('gicr', 'GICR_ISENABLER0', GICR_SGI_FRAME + 0x0100);
add('gicr', 'GICR_ICENABLER0', GICR_SGI_FRAME + 0x0180);
add('gicr', 'GICR_ISPENDR0', GICR_SGI_FRAME + 0x0200);
add('gicr', 'GICR_ICPENDR0', GICR_SGI_FRAME + 0x0280);
add('gicr', 'GICR_ISACTIVER0', GICR_SGI_FRAME + 0x0300);
add('gicr', 'GICR_ICACTIVER0', GICR_SGI_FRAME + 0x0380);
banked('gicr', 'GICR_IPRIORITYR', GICR_SGI_FRAME + 0x0400, 8, 4);
add('gicr', 'GICR_ICFGR0', GICR_SGI_FRAME + 0x0c00);
add('gicr', 'GICR_ICFGR1', GICR_SGI_FRAME + 0x0c04);
add('gicr', 'GICR_IGRPMODR0', GICR_SGI_FRAME + 0x0d00);
add('gicr', 'GICR_NSACR', GICR_SGI_FRAME + 0x0e00);

// ITS control frame, and GITS_TRANSLATER in the translation frame (ITS base + 0x10000).
add('gits', 'GITS_CTLR', 0x0000);
add('gits', 'GITS_IIDR', 0x0004);
add('gits', 'GITS_TYPER', 0x0008, 8);
add('gits', 'GITS_CBASER', 0x0080, 8);
add('gits', 'GITS_CWRITER', 0x0088, 8);
add('gits', 'GITS_CREADR', 0x0090, 8);
banked('gits', 'GITS_BASER', 0x0100, 8, 8, 8);
add('gits', 'GITS_TRANSLATER', 0x1_0040);

/** op0:op1:CRn:CRm:op2 packed as KVM_DEV_ARM_VGIC_SYSREG does (bits 15:14, 13:11, 10:7, 6:3, 2:0). */
export function sysregEncoding(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

function icc(name: string, op0: number, op1: number, crn: number, crm: number, op2: number): void {
  add('icc', name, sysregEncoding(op0, op1, crn, crm, op2), 8);
}

icc('ICC_PMR_EL1', 3, 0, 4, 6, 0);
icc('ICC_IAR0_EL1', 3, 0, 12, 8, 0);
icc('ICC_EOIR0_EL1', 3, 0, 12, 8, 1);
icc('ICC_HPPIR0_EL1', 3, 0, 12, 8, 2);
icc('ICC_BPR0_EL1', 3, 0, 12, 8, 3);
for (let n = 0; n < 4; n++) icc(`ICC_AP0R${n}_EL1`, 3, 0, 12, 8, 4 + n);
for (let n = 0; n < 4; n++) icc(`ICC_AP1R${n}_EL1`, 3, 0, 12, 9, n);
icc('ICC_DIR_EL1', 3, 0, 12, 11, 1);
icc('ICC_RPR_EL1', 3, 0, 12, 11, 3);
icc('ICC_SGI1R_EL1', 3, 0, 12, 11, 5);
icc('ICC_ASGI1R_EL1', 3, 0, 12, 11, 6);
icc('ICC_SGI0R_EL1', 3, 0, 12, 11, 7);
icc('ICC_IAR1_EL1', 3, 0, 12, 12, 0);
icc('ICC_EOIR1_EL1', 3, 0, 12, 12, 1);
icc('ICC_HPPIR1_EL1', 3, 0, 12, 12, 2);
icc('ICC_BPR1_EL1', 3, 0, 12, 12, 3);
icc('ICC_CTLR_EL1', 3, 0, 12, 12, 4);
icc('ICC_SRE_EL1', 3, 0, 12, 12, 5);
icc('ICC_IGRPEN0_EL1', 3, 0, 12, 12, 6);
icc('ICC_IGRPEN1_EL1', 3, 0, 12, 12, 7);

export const REGISTER_NAMES: Readonly<Record<string, RegisterName>> = names;

/** The register a name stands for, or undefined. */
export function registerByName(name: string): RegisterName | undefined {
  return Object.hasOwn(names, name) ? names[name] : undefined;
}

const byOffset: Record<RegisterSpace, Record<number, string>> = { gicd: {}, gicr: {}, gits: {}, icc: {} };
for (const r of Object.values(names)) byOffset[r.space][r.offset] ??= r.name;

/** The name of the register at `offset` in `space` (for printing), or undefined. */
export function registerAt(space: RegisterSpace, offset: number): string | undefined {
  return byOffset[space][offset];
}

// KVM device-attr constants (arch/arm64/include/uapi/asm/kvm.h).
export const ATTR_GROUPS: Readonly<Record<string, number>> = {
  ADDR: 0,
  DIST_REGS: 1,
  NR_IRQS: 3,
  CTRL: 4,
  REDIST_REGS: 5,
  CPU_SYSREGS: 6,
  LEVEL_INFO: 7,
  ITS_REGS: 8,
};
/** Groups whose attr carries a vCPU's MPIDR in bits 63:32 (vgic-v3.md §4.1). */
export const MPIDR_ATTR_GROUPS: readonly number[] = [
  ATTR_GROUPS.DIST_REGS!,
  ATTR_GROUPS.REDIST_REGS!,
  ATTR_GROUPS.CPU_SYSREGS!,
  ATTR_GROUPS.LEVEL_INFO!,
];
export const ADDR_ATTRS: Readonly<Record<string, number>> = {
  V3_DIST: 2,
  V3_REDIST: 3,
  ITS: 4,
  V3_REDIST_REGION: 5,
};
export const CTRL_ATTRS: Readonly<Record<string, number>> = {
  INIT: 0,
  ITS_SAVE_TABLES: 1,
  ITS_RESTORE_TABLES: 2,
  SAVE_PENDING_TABLES: 3,
  ITS_CTRL_RESET: 4,
};

/** The name of a constant in `table` with `value`, for printing. */
export function nameOf(table: Readonly<Record<string, number>>, value: number): string | undefined {
  for (const [name, v] of Object.entries(table)) if (v === value) return name;
  return undefined;
}

// SDEI (Arm DEN 0054, SMC64 fast calls).
export const SDEI_FUNCTIONS: Readonly<Record<string, number>> = {
  SDEI_VERSION: 0xc400_0020,
  SDEI_EVENT_REGISTER: 0xc400_0021,
  SDEI_EVENT_ENABLE: 0xc400_0022,
  SDEI_EVENT_DISABLE: 0xc400_0023,
  SDEI_EVENT_CONTEXT: 0xc400_0024,
  SDEI_EVENT_COMPLETE: 0xc400_0025,
  SDEI_EVENT_COMPLETE_AND_RESUME: 0xc400_0026,
  SDEI_EVENT_UNREGISTER: 0xc400_0027,
  SDEI_EVENT_STATUS: 0xc400_0028,
  SDEI_EVENT_GET_INFO: 0xc400_0029,
  SDEI_EVENT_ROUTING_SET: 0xc400_002a,
  SDEI_PE_MASK: 0xc400_002b,
  SDEI_PE_UNMASK: 0xc400_002c,
  SDEI_INTERRUPT_BIND: 0xc400_002d,
  SDEI_INTERRUPT_RELEASE: 0xc400_002e,
  SDEI_EVENT_SIGNAL: 0xc400_002f,
  SDEI_FEATURES: 0xc400_0030,
  SDEI_PRIVATE_RESET: 0xc400_0031,
  SDEI_SHARED_RESET: 0xc400_0032,
};
export const SDEI_RETURN_CODES: Readonly<Record<string, number>> = {
  SDEI_SUCCESS: 0,
  SDEI_NOT_SUPPORTED: -1,
  SDEI_INVALID_PARAMETERS: -2,
  SDEI_DENIED: -3,
  SDEI_PENDING: -5,
  SDEI_OUT_OF_RESOURCE: -10,
};

/** KVM_REG_ARM_SDEI_* pseudo-firmware registers (sdei.md §4). */
export const SDEI_ONE_REGS: Readonly<Record<string, bigint>> = {
  KVM_REG_ARM_SDEI_EVENT_HANDLER_0: 0x6040_0000_0014_0004n,
  KVM_REG_ARM_SDEI_EVENT_HANDLER_1: 0x6040_0000_0014_0005n,
  KVM_REG_ARM_SDEI_EVENT_HANDLER_2: 0x6040_0000_0014_0006n,
  KVM_REG_ARM_SDEI_EVENT_HANDLER_3: 0x6040_0000_0014_0007n,
  KVM_REG_ARM_SDEI_EVENT_REGISTERED: 0x6030_0000_0014_0008n,
  KVM_REG_ARM_SDEI_EVENT_ENABLED: 0x6030_0000_0014_0009n,
  KVM_REG_ARM_SDEI_EVENT_RUNNING: 0x6030_0000_0014_000an,
  KVM_REG_ARM_SDEI_EVENT_PENDING: 0x6030_0000_0014_000bn,
  KVM_REG_ARM_SDEI_EVENT_CONTEXT: 0x6080_0000_0014_000cn,
  KVM_REG_ARM_SDEI_PE_STATE: 0x6030_0000_0014_000dn,
};

/** Size in bits of a KVM ONE_REG register, from the size field of its id (bits 55:52). */
export function oneRegBits(id: bigint): number {
  return 8 << Number((id >> 52n) & 0xfn);
}
