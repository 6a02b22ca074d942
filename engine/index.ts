// Public surface of the engine.
export * from './errno.js';
export * from './events.js';
export * from './state.js';
export * from './registry.js';
export * from './step.js';
export * from './clone.js';
export * from './hash.js';
export { coreRegIndex, coreRegX, CORE_REG_PC, CORE_REG_PSTATE, readCoreReg } from './core.js';
export { inRam, loadRam, storeRam, storeRamBytes } from './ram.js';
