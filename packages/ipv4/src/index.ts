export {
  Ipv4Field,
  Ipv4Packet,
  IPV4_HEADER_LENGTH,
  IPV4_MAX_HEADER_LENGTH,
  IPV4_MAX_LENGTH,
  IPV4_MAX_PAYLOAD,
  FRAGMENT_UNIT,
  parseIpv4,
  emitIpv4,
  ipv4HeaderLength,
  writeIpv4Header,
  fragmentWord,
} from './wire.js';
export type { Ipv4Repr, ParsedIpv4, Ipv4Problem } from './wire.js';
export {
  IcmpField,
  IcmpPacket,
  IcmpType,
  TimeExceededCode,
  ICMP_HEADER_LENGTH,
  isIcmpQueryType,
  parseIcmp,
  emitIcmp,
  icmpLength,
} from './icmp-wire.js';
export type {
  IcmpRepr,
  IcmpEchoRepr,
  IcmpUnreachableRepr,
  IcmpTimeExceededRepr,
  IcmpParameterProblemRepr,
  IcmpOtherRepr,
  IcmpProblem,
} from './icmp-wire.js';
export { createIpv4, IPV4_DEFAULTS, multicastMac } from './ipv4.js';
export type { Ipv4Layer, Ipv4LayerConfig, Ipv4Deps, ReassemblyUsage } from './ipv4.js';
export { createIcmp, ICMP_DEFAULTS } from './icmp.js';
export type { IcmpConfig, IcmpDeps } from './icmp.js';
export { REASSEMBLY_DEFAULTS, FRAGMENT_OVERHEAD } from './reassembly.js';
export type { ReassemblyConfig } from './reassembly.js';
