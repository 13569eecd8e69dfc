// A small DHCP server for tests (RFC 2131 §4.3): a pool of addresses, bindings per client
// hardware address, OFFER/ACK/NAK, DECLINE and RELEASE. It works on messages, so a test can
// put it behind a fake UDP or a real socket of a simulated stack.
import { IPV4_ANY, IPV4_BROADCAST, type Ipv4Address, prefixMask, toHex } from '@morgana/core';
import { BootpOp, type DhcpMessage, DhcpMessageType, type DhcpOptions, dhcpMessage } from '../src/index.js';

export interface TestServerConfig {
  readonly address: Ipv4Address;
  readonly pool: readonly Ipv4Address[];
  readonly prefixLength?: number;
  readonly router?: Ipv4Address;
  readonly dnsServers?: readonly Ipv4Address[];
  /** Seconds. */
  readonly leaseTime?: number;
  readonly renewalTime?: number;
  readonly rebindingTime?: number;
}

/** A reply and where it goes. */
export interface Reply {
  readonly message: DhcpMessage;
  readonly destination: Ipv4Address;
}

export class TestDhcpServer {
  /** Client hardware address (hex) → address. */
  readonly bindings = new Map<string, Ipv4Address>();
  readonly declined = new Set<Ipv4Address>();
  readonly received: DhcpMessage[] = [];
  readonly released: Ipv4Address[] = [];
  /** NAK the next this-many REQUESTs. */
  nakRequests = 0;
  /** Ignore every message (a server that went away). */
  silent = false;
  leaseTime: number;

  constructor(readonly config: TestServerConfig) {
    this.leaseTime = config.leaseTime ?? 3600;
  }

  handle(request: DhcpMessage): Reply | undefined {
    this.received.push(request);
    if (this.silent || request.op !== BootpOp.request) return undefined;
    const client = toHex(request.chaddr);
    const options = request.options;
    switch (options.messageType) {
      case DhcpMessageType.discover: {
        const address = this.choose(client, options.requestedAddress);
        if (address === undefined) return undefined;
        this.bindings.set(client, address);
        return this.reply(request, DhcpMessageType.offer, address);
      }
      case DhcpMessageType.request: {
        if (options.serverId !== undefined && options.serverId !== this.config.address) {
          // The client chose another server (RFC 2131 4.3.2): forget our offer.
          this.bindings.delete(client);
          return undefined;
        }
        const wanted = options.requestedAddress ?? request.ciaddr;
        const bound = this.bindings.get(client);
        if (this.nakRequests > 0 || bound === undefined || bound !== wanted) {
          if (this.nakRequests > 0) this.nakRequests--;
          this.bindings.delete(client);
          return this.reply(request, DhcpMessageType.nak, IPV4_ANY);
        }
        return this.reply(request, DhcpMessageType.ack, bound);
      }
      case DhcpMessageType.decline:
        if (options.requestedAddress !== undefined) this.declined.add(options.requestedAddress);
        this.bindings.delete(client);
        return undefined;
      case DhcpMessageType.release:
        this.released.push(request.ciaddr);
        this.bindings.delete(client);
        return undefined;
      default:
        return undefined;
    }
  }

  private choose(client: string, requested: Ipv4Address | undefined): Ipv4Address | undefined {
    const existing = this.bindings.get(client);
    if (existing !== undefined) return existing;
    const inUse = new Set(this.bindings.values());
    const free = (address: Ipv4Address): boolean => !inUse.has(address) && !this.declined.has(address);
    if (requested !== undefined && this.config.pool.includes(requested) && free(requested)) return requested;
    return this.config.pool.find(free);
  }

  private reply(request: DhcpMessage, type: number, yiaddr: Ipv4Address): Reply {
    const options: DhcpOptions =
      type === DhcpMessageType.nak
        ? { messageType: type, serverId: this.config.address, message: 'address not available' }
        : {
            messageType: type,
            serverId: this.config.address,
            leaseTime: this.leaseTime,
            subnetMask: prefixMask(this.config.prefixLength ?? 24),
            ...(this.config.router !== undefined ? { routers: [this.config.router] } : {}),
            ...(this.config.dnsServers !== undefined ? { dnsServers: this.config.dnsServers } : {}),
            ...(this.config.renewalTime !== undefined ? { renewalTime: this.config.renewalTime } : {}),
            ...(this.config.rebindingTime !== undefined ? { rebindingTime: this.config.rebindingTime } : {}),
          };
    const message = dhcpMessage({
      op: BootpOp.reply,
      xid: request.xid,
      chaddr: request.chaddr,
      broadcast: request.broadcast,
      yiaddr,
      giaddr: request.giaddr,
      options,
    });
    // RFC 2131 4.1: broadcast when the client asked for it or has no address yet; a NAK is
    // always broadcast; otherwise unicast to ciaddr.
    const destination =
      type === DhcpMessageType.nak || request.broadcast || request.ciaddr === IPV4_ANY ? IPV4_BROADCAST : request.ciaddr;
    return { message, destination };
  }
}
