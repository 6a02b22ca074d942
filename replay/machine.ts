// The composition root: the registry every run, replay and player uses. Device models plug in
// here (vGICv3, ITS, SDEI) as their issues land; until then the engine runs the KVM core alone.

import { emptyRegistry, type Registry } from '../engine/registry.js';

let registry: Registry | undefined;

/** The registry with every device model of this build (built once, immutable). */
export function defaultRegistry(): Registry {
  registry ??= emptyRegistry();
  return registry;
}
