export { createNodeSshCrypto } from './provider.js';
export { poly1305 } from './poly1305.js';
