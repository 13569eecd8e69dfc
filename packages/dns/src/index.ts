export * from './name.js';
export * from './types.js';
export * from './wire.js';
