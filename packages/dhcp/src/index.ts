export {
  createDhcpClient,
  DHCP_CLIENT_DEFAULTS,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  type DhcpClient,
  type DhcpClientConfig,
  type DhcpClientDeps,
  type DhcpClientEvents,
  type DhcpState,
} from './client.js';
export { INFINITE_LEASE, leaseFromAck, leasePrefix, type DhcpLease } from './lease.js';
export {
  DhcpMessageType,
  DhcpOptionCode,
  interpretOptions,
  optionsLength,
  readOptionRegion,
  writeOptions,
  type DhcpOptions,
  type DhcpRawOption,
  type RawOptions,
} from './options.js';
export {
  BOOTP_MIN_LENGTH,
  BootpOp,
  DHCP_MIN_LENGTH,
  DhcpPacket,
  HTYPE_ETHERNET,
  chaddrMac,
  dhcpLength,
  dhcpMessage,
  emitDhcp,
  emitDhcpInto,
  macBytes,
  parseDhcp,
  type DhcpMessage,
} from './wire.js';
