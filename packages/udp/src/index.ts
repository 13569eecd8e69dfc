export {
  createUdp,
  UDP_DEFAULTS,
  type UdpConfig,
  type UdpDeps,
  type UdpLayer,
  type UdpLayerSocket,
  type UdpSocketError,
} from './udp.js';
export {
  UdpPacket,
  parseUdp,
  emitUdp,
  emitUdpHeader,
  writeUdpHeader,
  udpLengthProblem,
  UDP_HEADER_LENGTH,
  UDP_MAX_LENGTH,
  UDP_MAX_PAYLOAD_IPV4,
  type UdpRepr,
  type UdpParseOptions,
  type ParsedUdp,
} from './wire.js';
export { pickEphemeralPort, type EphemeralRange } from './ports.js';
