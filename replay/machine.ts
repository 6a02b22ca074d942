// The composition root: the registry every run, replay and player uses. Device models plug in
// here as their issues land: the vGICv3 and the ITS (`withVgicIts` adds the vGICv3 with the
// ITS's `VgicV3Extensions`) and the SDEI hypercall service.

import { withVgicIts } from '../devices/its/index.js';
import { withSdei } from '../devices/sdei/index.js';
import { emptyRegistry, type Registry } from '../engine/registry.js';

let registry: Registry | undefined;

/** The registry with every device model of this build (built once, immutable). */
export function defaultRegistry(): Registry {
  registry ??= withSdei(withVgicIts(emptyRegistry()));
  return registry;
}
