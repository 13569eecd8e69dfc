export {
  createDirectStack,
  createDhcpStack,
  type ComposedStack,
  type DhcpStack,
  type DhcpStackOptions,
  type DirectStackOptions,
  type StackLayerOptions,
  type StaticIpv4Options,
} from './direct.js';
