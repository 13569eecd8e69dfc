export * from './constants.js';
export * from './match.js';
export * from './actions.js';
export * from './wire.js';
export * from './framer.js';
export * from './controller.js';
export * from './learning-switch.js';
