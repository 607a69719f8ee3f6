/// <reference types="node" />
// rxtether/node: Node stream adapters with backpressure. Re-exports only.
export { createBackpressure } from './backpressure.js';
export type { Backpressure, BackpressureConfig, BackpressureOverflow } from './backpressure.js';
export { BackpressureOverflowError, isBackpressureOverflowError } from './errors.js';
