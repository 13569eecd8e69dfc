// A client under test, with a fake UDP that carries its datagrams to a TestDhcpServer after a
// millisecond of virtual time (or loses them), a fake IPv4 that records configurations, and a
// fake ARP whose probe finds chosen addresses taken.
import {
  AddressInUse,
  type Arp,
  type ArpEntry,
  type Counters,
  type Fill,
  IPV4_ANY,
  type IcmpErrorInfo,
  type IpHandler,
  type IpRoute,
  type Ipv4,
  type Ipv4Address,
  type Ipv4Config,
  type Ipv4Prefix,
  type MacAddress,
  type Udp,
  type UdpBindOptions,
  type UdpDatagram,
  type UdpSocket,
  parseIpv4,
  parseMac,
} from '@morgana/core';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import { type DhcpClientConfig, type DhcpMessage, createDhcpClient, emitDhcp, parseDhcp } from '../src/index.js';
import { TestDhcpServer, type TestServerConfig } from './server.js';

export const SERVER = parseIpv4('10.0.0.1');
export const MAC = parseMac('02:00:00:00:00:07');

/** One datagram the client sent, as the network saw it. */
export interface Sent {
  readonly at: number;
  readonly destination: Ipv4Address;
  readonly port: number;
  readonly message: DhcpMessage;
}

class FakeSocket implements UdpSocket {
  readonly localAddress = IPV4_ANY;
  handler: ((datagram: UdpDatagram) => void) | undefined;
  closed = false;
  constructor(
    readonly localPort: number,
    private readonly network: FakeNetwork,
  ) {}
  send(data: Uint8Array, address: Ipv4Address, port: number): boolean {
    return this.network.fromClient(data.slice(), address, port);
  }
  sendWith(size: number, fill: Fill, address: Ipv4Address, port: number): boolean {
    const buffer = new Uint8Array(size);
    return this.send(buffer.subarray(0, fill(buffer)), address, port);
  }
  onMessage(handler: (datagram: UdpDatagram) => void): void {
    this.handler = handler;
  }
  receive(): Promise<UdpDatagram> {
    return Promise.reject(new Error('not used'));
  }
  close(): void {
    this.closed = true;
    this.network.socket = undefined;
  }
  stats(): Counters {
    return {};
  }
}

export class FakeNetwork implements Udp {
  socket: FakeSocket | undefined;
  readonly sent: Sent[] = [];
  /** Return false to lose a datagram from the client. */
  loseToServer: (sent: Sent) => boolean = () => false;
  /** Return false to lose a reply. */
  loseToClient: (reply: DhcpMessage) => boolean = () => false;

  constructor(
    readonly clock: VirtualClock,
    readonly server: TestDhcpServer,
  ) {}

  bind(options?: UdpBindOptions): UdpSocket {
    if (this.socket !== undefined) throw new AddressInUse('port 68 already bound');
    this.socket = new FakeSocket(options?.port ?? 0, this);
    return this.socket;
  }
  stats(): Counters {
    return {};
  }

  fromClient(data: Uint8Array, destination: Ipv4Address, port: number): boolean {
    const sent: Sent = { at: this.clock.now(), destination, port, message: parseDhcp(data) };
    this.sent.push(sent);
    if (this.loseToServer(sent)) return true;
    this.clock.setTimer(1, () => {
      const reply = this.server.handle(sent.message);
      if (reply === undefined || this.loseToClient(reply.message)) return;
      this.clock.setTimer(1, () => this.deliver(emitDhcp(reply.message), SERVER, 67, reply.destination));
    });
    return true;
  }

  /** Hands a datagram to the client's socket. */
  deliver(data: Uint8Array, from: Ipv4Address, port: number, to: Ipv4Address): void {
    this.socket?.handler?.({ data, address: from, port, localAddress: to });
  }

  /** Messages of one DHCP type the client sent. */
  sentOfType(type: number): Sent[] {
    return this.sent.filter((sent) => sent.message.options.messageType === type);
  }
}

export class FakeIpv4 implements Ipv4 {
  readonly txChecksumOffload = false;
  readonly configured: Ipv4Config[] = [];
  private current: Ipv4Config = { address: { address: IPV4_ANY, length: 0 } };
  address(): Ipv4Address {
    return this.current.address.address;
  }
  register(_protocol: number, _handler: IpHandler): void {}
  onIcmpError(_protocol: number, _handler: (error: IcmpErrorInfo) => void): void {}
  write(): boolean {
    return false;
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
    this.configured.push(config);
  }
  addRoute(_route: IpRoute): void {}
  removeRoute(_destination: Ipv4Prefix): void {}
  routes(): IpRoute[] {
    return [];
  }
}

export class FakeArp implements Arp {
  readonly taken = new Set<Ipv4Address>();
  readonly probed: Ipv4Address[] = [];
  /** Virtual milliseconds a probe takes (RFC 5227 probing takes seconds). */
  probeMs = 1000;
  constructor(private readonly clock: VirtualClock) {}
  setAddresses(): void {}
  addresses(): readonly Ipv4Address[] {
    return [];
  }
  lookup(): MacAddress | undefined {
    return undefined;
  }
  query(): Promise<MacAddress> {
    return Promise.reject(new Error('not used'));
  }
  output(): boolean {
    return false;
  }
  onUnreachable(): void {}
  probe(address: Ipv4Address): Promise<boolean> {
    this.probed.push(address);
    return new Promise((resolve) => this.clock.setTimer(this.probeMs, () => resolve(this.taken.has(address))));
  }
  addStatic(): void {}
  remove(): void {}
  entries(): ArpEntry[] {
    return [];
  }
  stats(): Counters {
    return {};
  }
}

export const POOL = ['10.0.0.100', '10.0.0.101', '10.0.0.102'].map(parseIpv4);

export function setup(config: DhcpClientConfig = {}, server: Partial<TestServerConfig> = {}, seed = 1) {
  const clock = new VirtualClock();
  const dhcpServer = new TestDhcpServer({ address: SERVER, pool: POOL, router: SERVER, dnsServers: [SERVER], ...server });
  const network = new FakeNetwork(clock, dhcpServer);
  const ipv4 = new FakeIpv4();
  const arp = new FakeArp(clock);
  const client = createDhcpClient({ udp: network, ipv4, arp, clock, random: createSeededRandom(seed), mac: MAC }, config);
  return { clock, server: dhcpServer, network, ipv4, arp, client };
}
