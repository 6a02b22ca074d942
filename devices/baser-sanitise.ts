// The memory-attribute sanitising KVM applies to every table base register it accepts from a
// guest or VMM: GICR_PROPBASER/PENDBASER and GITS_BASER<n>/CBASER (vgic-mmio-v3.c
// vgic_sanitise_*; vgic-v3.md §2.4, vits.md §2.4). Only the field positions differ.

const GIC_BASER_InnerShareable = 1n;
const GIC_BASER_OuterShareable = 2n;
const GIC_BASER_CACHE_SameAsInner = 0n;
const GIC_BASER_CACHE_nCnB = 0n;
const GIC_BASER_CACHE_nC = 1n;
const GIC_BASER_CACHE_RaWb = 3n;

/** Where a register keeps its Shareability (2 bits) and inner/outer cacheability (3 bits each). */
export interface CacheFieldShifts {
  shareability: bigint;
  inner: bigint;
  outer: bigint;
}

/** vgic_sanitise_field. */
function sanitiseField(reg: bigint, shift: bigint, width: bigint, fn: (field: bigint) => bigint): bigint {
  const mask = ((1n << width) - 1n) << shift;
  return (reg & ~mask) | (fn((reg & mask) >> shift) << shift);
}

/** vgic_sanitise_shareability: outer shareable becomes inner. */
function sanitiseShareability(field: bigint): bigint {
  return field === GIC_BASER_OuterShareable ? GIC_BASER_InnerShareable : field;
}

/** vgic_sanitise_inner_cacheability: no inner non-cacheable mapping. */
function sanitiseInnerCacheability(field: bigint): bigint {
  return field === GIC_BASER_CACHE_nCnB || field === GIC_BASER_CACHE_nC ? GIC_BASER_CACHE_RaWb : field;
}

/** vgic_sanitise_outer_cacheability: only non-cacheable or same-as-inner. */
function sanitiseOuterCacheability(field: bigint): bigint {
  return field === GIC_BASER_CACHE_SameAsInner || field === GIC_BASER_CACHE_nC
    ? field
    : GIC_BASER_CACHE_SameAsInner;
}

/** The three field rules applied to `reg` at `shifts`. */
export function sanitiseCacheFields(reg: bigint, shifts: CacheFieldShifts): bigint {
  reg = sanitiseField(reg, shifts.shareability, 2n, sanitiseShareability);
  reg = sanitiseField(reg, shifts.inner, 3n, sanitiseInnerCacheability);
  return sanitiseField(reg, shifts.outer, 3n, sanitiseOuterCacheability);
}
