// A minimal IP layer for testing UDP on its own: records what UDP writes, delivers what the
// test injects, and can be joined to another one to carry datagrams between two UDP layers.
import {
  type Counters,
  type Fill,
  type Icmp,
  type IcmpErrorInfo,
  type IpHandler,
  type IpReceiveInfo,
  type IpRoute,
  type IpWriteOptions,
  type Ipv4,
  type Ipv4Address,
  type Ipv4Config,
  type Ipv4Prefix,
  type PingResult,
  IPV4_BROADCAST,
  IpProtocol,
  parseIpv4,
} from '@morgana/core';

/** One datagram UDP handed to the IP layer. */
export interface Written {
  readonly destination: Ipv4Address;
  readonly protocol: number;
  readonly source: Ipv4Address;
  /** The transport datagram (UDP header and payload). */
  readonly bytes: Uint8Array;
}

export class FakeIp implements Ipv4 {
  readonly written: Written[] = [];
  readonly txChecksumOffload = false;
  handler: IpHandler | undefined;
  errorHandler: ((error: IcmpErrorInfo) => void) | undefined;
  /** When set, every write is delivered to this IP layer too. */
  peer: FakeIp | undefined;
  /** When false, writes fail (queue full, no route). */
  accept = true;
  /** Keep written datagrams (turn off in long runs). */
  record = true;
  private current: Ipv4Config;

  constructor(address: string, prefixLength = 24) {
    this.current = { address: { address: parseIpv4(address), length: prefixLength } };
  }

  address(): Ipv4Address {
    return this.current.address.address;
  }
  register(protocol: number, handler: IpHandler): void {
    if (protocol === IpProtocol.udp) this.handler = handler;
  }
  onIcmpError(protocol: number, handler: (error: IcmpErrorInfo) => void): void {
    if (protocol === IpProtocol.udp) this.errorHandler = handler;
  }
  write(destination: Ipv4Address, protocol: number, size: number, fill: Fill, options?: IpWriteOptions): boolean {
    if (!this.accept) return false;
    const buffer = new Uint8Array(size);
    const used = fill(buffer);
    const bytes = buffer.subarray(0, used);
    const source = options?.source ?? this.address();
    if (this.record) this.written.push({ destination, protocol, source, bytes });
    this.peer?.inject(bytes, { source, destination, broadcast: destination === IPV4_BROADCAST });
    return true;
  }
  mtu(): number {
    return 1480;
  }
  sourceFor(): Ipv4Address {
    return this.address();
  }
  stats(): Counters {
    return {};
  }
  config(): Ipv4Config {
    return this.current;
  }
  configure(config: Ipv4Config): void {
    this.current = config;
  }
  addRoute(_route: IpRoute): void {}
  removeRoute(_destination: Ipv4Prefix): void {}
  routes(): IpRoute[] {
    return [];
  }

  /** Delivers a transport datagram to UDP as if it had arrived. */
  inject(payload: Uint8Array, info: Partial<IpReceiveInfo> & { source: Ipv4Address; destination: Ipv4Address }): void {
    this.handler?.(payload, {
      protocol: IpProtocol.udp,
      ttl: 64,
      tos: 0,
      broadcast: false,
      datagram: payload,
      checksumVerified: false,
      ...info,
    });
  }
}

/** Records port-unreachable requests. */
export class FakeIcmp implements Icmp {
  readonly unreachable: { code: number; about: IpReceiveInfo }[] = [];
  ping(): Promise<PingResult> {
    return Promise.reject(new Error('not used'));
  }
  destinationUnreachable(code: number, about: IpReceiveInfo): void {
    this.unreachable.push({ code, about });
  }
  stats(): Counters {
    return {};
  }
}
