/** A TCP under test as a conformance run sees it: a device to reach it, its user side, and time. */
import type { Ipv4Address, Netif } from '@morgana/core';
import type { TcpControl } from './control.js';
import type { Timeline } from './timeline.js';

/** Everything a run needs from the implementation under test. */
export interface ConformanceTarget {
  /** Names the implementation and its version in the report ("morgana 0.1.0", "Linux 6.1.0-18-amd64"). */
  readonly name: string;
  /** The tester's end of the link to the TCP under test. */
  readonly netif: Netif;
  readonly testerAddress: Ipv4Address;
  readonly targetAddress: Ipv4Address;
  readonly control: TcpControl;
  readonly timeline: Timeline;
  /**
   * The most time one case may spend waiting, ms: cases that need longer (TIME-WAIT's 2·MSL,
   * keepalive) are skipped with the reason. Undefined: no limit (simulated time is free).
   */
  readonly caseBudgetMs: number | undefined;
  /** Tears the implementation and its device down. */
  close(): Promise<void>;
}
