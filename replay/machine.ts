// The composition root: the registry every run, replay and player uses. Device models plug in
// here as their issues land: the vGICv3 now; the ITS (through `VgicV3Extensions`) and SDEI later.

import { withVgicV3 } from '../devices/gicv3/index.js';
import { emptyRegistry, type Registry } from '../engine/registry.js';

let registry: Registry | undefined;

/** The registry with every device model of this build (built once, immutable). */
export function defaultRegistry(): Registry {
  registry ??= withVgicV3(emptyRegistry());
  return registry;
}
