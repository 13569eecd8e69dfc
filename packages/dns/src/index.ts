export * from './name.js';
export * from './types.js';
export * from './wire.js';
export * from './text.js';
export * from './presentation.js';
export * from './zone.js';
