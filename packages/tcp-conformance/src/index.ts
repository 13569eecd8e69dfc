export { catalogue, closeCases, congestionCases, dataCases, handshakeCases, optionCases, resetCases, timerCases } from './cases/index.js';
export {
  Difference,
  Skip,
  flagsOf,
  flagsText,
  describeSegment,
  describeMatch,
  mismatch,
  pattern,
  patternByte,
  PROMPT_MS,
  QUIET_MS,
  ACK_DELAY_LIMIT_MS,
} from './case.js';
export type { CaseContext, CaseNeeds, ConformanceCase, OpenOptions, Peer, SegmentMatch, SegmentSpec } from './case.js';
export type { ConnectionError, ConnectionId, ReadResult, TcpControl } from './control.js';
export { createLineControl, LINUX_CONTROL_PROGRAM } from './line-control.js';
export type { LineChannel, LineControl } from './line-control.js';
export { modelState, INITIAL_RTO_MS, MIN_RTO_MS, MSL_MS, DEFAULT_SEND_MSS, MAX_WINDOW_SHIFT, KEEPALIVE_IDLE_MIN_MS } from './model.js';
export { createFlowControl, createMorganaTarget } from './morgana.js';
export type { MorganaTarget, MorganaTargetOptions } from './morgana.js';
export { formatMarkdown, summarize } from './report.js';
export type { CaseOutcome, CaseResult, ConformanceReport } from './report.js';
export { runConformance, createCaseContext, DEFAULT_CASE_TIMEOUT_MS, DEFAULT_TARGET_PORT_BASE, DEFAULT_TESTER_PORT_BASE } from './runner.js';
export type { RunOptions } from './runner.js';
export type { ConformanceTarget } from './target.js';
export { Tester, DEFAULT_ARP_ATTEMPTS, DEFAULT_ARP_WAIT_MS, DEFAULT_QUEUE_LIMIT } from './tester.js';
export type { ObservedSegment, TesterOptions } from './tester.js';
export { createRealTimeline, createVirtualTimeline, DEFAULT_POLL_MS } from './timeline.js';
export type { Timeline } from './timeline.js';
export { arpRequest, buildArpFrame, buildSegmentFrame, emitSegment, parseFrame, segmentLength, EtherType, MAX_RAW_OPTIONS, TESTER_TTL } from './wire.js';
export type { CraftedSegment, FrameAddressing, ReceivedFrame } from './wire.js';
