export { createTcp } from './tcp.js';
export type { TcpDependencies, TcpLayer } from './tcp.js';
export { resolveTcpConfig } from './config.js';
export type { TcpConfig, ResolvedTcpConfig, CongestionControlChoice } from './config.js';
export {
  TcpSegment,
  TcpField,
  TcpFlag,
  TcpOptionKind,
  TCP_HEADER_LENGTH,
  TCP_MAX_HEADER_LENGTH,
  TCP_MAX_OPTIONS_LENGTH,
  TCP_PROTOCOL,
  MAX_WINDOW_SCALE,
  parseTcp,
  emitTcp,
  emitTcpHeader,
  tcpLength,
  tcpOptionsLength,
  tcpChecksumSum,
  fillTcpChecksum,
  sackBlocksThatFit,
  parseTcpFlags,
  formatTcpFlags,
} from './wire.js';
export type { TcpRepr, SackBlock, TcpChecksumContext, TcpOptionsRepr } from './wire.js';
export { transition, isSynchronized, segmentAcceptable, classifyReset, classifyAck, resetFor, segmentLength } from './state.js';
export type { TcpEvent, RstVerdict, AckVerdict, ResetSegment } from './state.js';
export { sipHash24 } from './siphash.js';
export type { SipKey, SipResult } from './siphash.js';
export { createNewReno } from './congestion/newreno.js';
export { createCubic } from './congestion/cubic.js';
export type { CongestionControl, CongestionControlFactory, CongestionControlOptions, AckSample } from './congestion/types.js';
export { RttEstimator } from './rtt.js';
