// Public surface of the engine.

export * from './clone.js';
export { CORE_REG_PC, CORE_REG_PSTATE, coreRegIndex, coreRegX, readCoreReg } from './core.js';
export * from './errno.js';
export * from './events.js';
export * from './hash.js';
export { inRam, loadRam, PAGES_PER_BLOCK, PageOwnership, ramPages, storeRam, storeRamBytes } from './ram.js';
export * from './registry.js';
export * from './state.js';
export * from './step.js';
export * from './working-copy.js';
