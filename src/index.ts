// rxtether: the public entry. Re-exports only.
export * from './errors.js';
export * from './closeCodes.js';
export * from '../operators/index.js';
