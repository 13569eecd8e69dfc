export { createSocketStack, type SocketStack } from './stack.js';
export { type SocketStackOptions, SOCKET_STACK_DEFAULTS } from './config.js';
export { UDP_MAX_PAYLOAD } from './udp.js';
export { flowToDuplex, duplexToFlow } from './duplex.js';
export { toMorganaError } from './errors.js';
export type { FlowReceiver, PushModeFlow } from './tcp-flow.js';
