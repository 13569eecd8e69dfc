export * from './ring.js';
export * from './netif-wire.js';
export * from './xs-wire.js';
export * from './xenbus-state.js';
