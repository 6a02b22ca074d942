// The `board virt` layout (scenario-language.md "The board"), as QEMU's virt machine places
// the GIC: distributor, one redistributor region, ITS. Guest RAM is fixed by the engine.

export const VIRT_GICD_BASE = 0x0800_0000;
export const VIRT_GITS_BASE = 0x0808_0000;
export const VIRT_GICR_BASE = 0x080a_0000;
/** Each GICv3 redistributor is two 64 KiB frames (RD_base, SGI_base). */
export const GICR_STRIDE = 0x2_0000;
