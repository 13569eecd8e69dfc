export * from './clock.js';
export * from './random.js';
export * from './link.js';
export * from './simulated-netif.js';
export * from './network.js';
export * from './pcap.js';
export * from './wiretap.js';
