import { AddressInUse, ClosedError, IPV4_ANY, IPV4_BROADCAST, TimeoutError } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DhcpLease, DhcpMessageType, INFINITE_LEASE, emitDhcp, macBytes } from '../src/index.js';
import { createSeededRandom } from '@morgana/testing';
import { MAC, POOL, SERVER, setup } from './harness.js';

const SECOND = 1000;

/** Runs the client until it holds a lease. */
async function bound(env: ReturnType<typeof setup>): Promise<DhcpLease> {
  const started = env.client.start();
  await env.clock.runUntil(() => env.client.state() === 'bound');
  return started;
}

describe('DHCP client: acquiring a lease (RFC 2131 3.1)', () => {
  it('runs DISCOVER, OFFER, REQUEST, ACK and configures the address and gateway', async () => {
    const env = setup();
    const events: string[] = [];
    env.client.on('bound', (lease) => events.push(`bound ${lease.address}`));
    const lease = await bound(env);
    expect(lease).toMatchObject({ address: POOL[0], prefixLength: 24, gateway: SERVER, dnsServers: [SERVER], server: SERVER, leaseTime: 3600 });
    expect(lease.renewalTime).toBe(1800);
    expect(lease.rebindingTime).toBe(3150);
    expect(env.ipv4.configured).toEqual([{ address: { address: POOL[0], length: 24 }, gateway: SERVER }]);
    expect(events).toEqual([`bound ${POOL[0]}`]);
    expect(env.arp.probed).toEqual([POOL[0]]);

    const [discover, request] = env.network.sent.map((sent) => sent);
    expect(discover.destination).toBe(IPV4_BROADCAST);
    expect(discover.port).toBe(67);
    expect(discover.message).toMatchObject({ op: 1, broadcast: true, ciaddr: IPV4_ANY, chaddr: macBytes(MAC) });
    expect(discover.message.options.messageType).toBe(DhcpMessageType.discover);
    expect(discover.message.options.clientId).toEqual(Uint8Array.of(1, ...macBytes(MAC)));
    expect(discover.message.options.parameterRequestList).toEqual(expect.arrayContaining([1, 3, 6, 51, 58, 59]));
    // RFC 2131 4.3.2: the SELECTING request reuses the xid and names server and address.
    expect(request.message.xid).toBe(discover.message.xid);
    expect(request.message).toMatchObject({ broadcast: true, ciaddr: IPV4_ANY });
    expect(request.message.options).toMatchObject({ messageType: DhcpMessageType.request, serverId: SERVER, requestedAddress: POOL[0] });
  });

  it('retransmits DISCOVER after 4 s, doubling up to 64 s, each ±1 s (RFC 2131 4.1)', async () => {
    const env = setup({ startTimeoutMs: 0 });
    env.network.loseToServer = () => true;
    void env.client.start().catch(() => undefined);
    await env.clock.run(300 * SECOND);
    const times = env.network.sentOfType(DhcpMessageType.discover).map((sent) => sent.at);
    const gaps = times.slice(1).map((at, index) => at - times[index]);
    const bases = [4, 8, 16, 32, 64, 64].map((s) => s * SECOND);
    expect(gaps.length).toBeGreaterThanOrEqual(bases.length);
    bases.forEach((base, index) => {
      expect(gaps[index]).toBeGreaterThanOrEqual(base - SECOND);
      expect(gaps[index]).toBeLessThanOrEqual(base + SECOND);
    });
    // The jitter is random, not a constant offset.
    expect(new Set(gaps.map((gap, index) => gap - bases[Math.min(index, 5)])).size).toBeGreaterThan(1);
    // Same xid throughout one acquisition.
    expect(new Set(env.network.sent.map((sent) => sent.message.xid)).size).toBe(1);
  });

  it('recovers from lost DISCOVERs and lost ACKs by retransmitting', async () => {
    const env = setup();
    let discovers = 0;
    let acks = 0;
    env.network.loseToServer = (sent) => sent.message.options.messageType === DhcpMessageType.discover && ++discovers <= 2;
    env.network.loseToClient = (reply) => reply.options.messageType === DhcpMessageType.ack && ++acks <= 2;
    const lease = await bound(env);
    expect(lease.address).toBe(POOL[0]);
    expect(env.network.sentOfType(DhcpMessageType.discover)).toHaveLength(3);
    expect(env.network.sentOfType(DhcpMessageType.request)).toHaveLength(3);
    expect(env.client.stats().retransmits).toBe(4);
  });

  it('starts over from INIT with a new xid when REQUEST retransmissions run out (RFC 2131 3.1.5)', async () => {
    const env = setup({ requestRetries: 2 });
    let requests = 0;
    env.network.loseToServer = (sent) => sent.message.options.messageType === DhcpMessageType.request && ++requests <= 3;
    await bound(env);
    const discovers = env.network.sentOfType(DhcpMessageType.discover);
    expect(discovers).toHaveLength(2);
    expect(discovers[1].message.xid).not.toBe(discovers[0].message.xid);
    expect(env.client.stats()['request-timeouts']).toBe(1);
  });

  it('restarts at once on DHCPNAK and gets a lease on the next round (RFC 2131 3.1.4)', async () => {
    const env = setup();
    env.server.nakRequests = 1;
    const naks: number[] = [];
    env.client.on('nak', (server) => naks.push(server));
    await bound(env);
    expect(naks).toEqual([SERVER]);
    const discovers = env.network.sentOfType(DhcpMessageType.discover);
    expect(discovers).toHaveLength(2);
    // The second DISCOVER follows the NAK within the network's round trip, without a backoff.
    expect(discovers[1].at - env.network.sentOfType(DhcpMessageType.request)[0].at).toBeLessThan(10);
  });

  it('backs off between restarts when a server keeps refusing', async () => {
    const env = setup({ startTimeoutMs: 0 });
    env.server.nakRequests = Number.POSITIVE_INFINITY;
    void env.client.start().catch(() => undefined);
    await env.clock.run(60 * SECOND);
    // Immediate, then 4, 8, 16, 32 s apart: a handful of rounds a minute, not thousands.
    const rounds = env.network.sentOfType(DhcpMessageType.discover).length;
    expect(rounds).toBeGreaterThanOrEqual(4);
    expect(rounds).toBeLessThanOrEqual(6);
    env.client.stop();
  });

  it('declines an address ARP finds in use, waits 10 s, and takes another (RFC 2131 3.1.5)', async () => {
    const env = setup();
    env.arp.taken.add(POOL[0]);
    const declined: number[] = [];
    env.client.on('declined', (address) => declined.push(address));
    const lease = await bound(env);
    expect(lease.address).toBe(POOL[1]);
    expect(declined).toEqual([POOL[0]]);
    const [decline] = env.network.sentOfType(DhcpMessageType.decline);
    expect(decline.destination).toBe(IPV4_BROADCAST);
    expect(decline.message.ciaddr).toBe(IPV4_ANY);
    expect(decline.message.options).toMatchObject({ requestedAddress: POOL[0], serverId: SERVER });
    const nextDiscover = env.network.sentOfType(DhcpMessageType.discover)[1];
    expect(nextDiscover.at - decline.at).toBe(10 * SECOND);
    expect(env.server.declined.has(POOL[0])).toBe(true);
    expect(env.ipv4.configured.map((config) => config.address.address)).toEqual([POOL[1]]);
  });

  it('skips the ARP check when probe is off', async () => {
    const env = setup({ probe: false });
    env.arp.taken.add(POOL[0]);
    expect((await bound(env)).address).toBe(POOL[0]);
    expect(env.arp.probed).toEqual([]);
  });

  it('rejects start() with TimeoutError when no server answers in startTimeoutMs, and stops', async () => {
    const env = setup({ startTimeoutMs: 30 * SECOND });
    env.server.silent = true;
    const started = env.client.start();
    const outcome = expect(started).rejects.toBeInstanceOf(TimeoutError);
    await env.clock.run(31 * SECOND);
    await outcome;
    expect(env.client.state()).toBe('stopped');
    expect(env.network.socket).toBeUndefined();
    expect(env.clock.pendingTimers()).toBe(0);
  });

  it('rejects start() with AddressInUse when port 68 is taken, starting nothing', async () => {
    const env = setup();
    env.network.bind({ port: 68 });
    await expect(env.client.start()).rejects.toBeInstanceOf(AddressInUse);
    expect(env.client.state()).toBe('stopped');
    expect(env.clock.pendingTimers()).toBe(0);
  });

  it('rejects a pending start() with ClosedError on stop()', async () => {
    const env = setup();
    env.server.silent = true;
    const started = env.client.start();
    env.client.stop();
    await expect(started).rejects.toBeInstanceOf(ClosedError);
  });

  it('waits up to initialDelayMaxMs before the first DISCOVER (RFC 2131 4.4.1)', async () => {
    const env = setup({ initialDelayMaxMs: 10 * SECOND });
    await bound(env);
    const first = env.network.sent[0].at;
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThanOrEqual(10 * SECOND);
  });
});

describe('DHCP client: keeping a lease (RFC 2131 4.4.5)', () => {
  it('renews at T1 by unicast to the server, with ciaddr and without server id', async () => {
    const env = setup();
    const lease = await bound(env);
    const renewed: DhcpLease[] = [];
    env.client.on('renewed', (value) => renewed.push(value));
    const before = env.network.sent.length;
    await env.clock.run(lease.renewalTime * SECOND - env.clock.now() + 10);
    const renew = env.network.sent[before];
    expect(renew.at).toBe(lease.obtainedAt + 1800 * SECOND);
    expect(renew.destination).toBe(SERVER);
    expect(renew.message).toMatchObject({ broadcast: false, ciaddr: POOL[0] });
    expect(renew.message.options.messageType).toBe(DhcpMessageType.request);
    expect(renew.message.options.serverId).toBeUndefined();
    expect(renew.message.options.requestedAddress).toBeUndefined();
    expect(renewed).toHaveLength(1);
    expect(renewed[0].obtainedAt).toBe(renew.at);
    expect(env.client.state()).toBe('bound');
    // Same address: no reconfiguration.
    expect(env.ipv4.configured).toHaveLength(1);
  });

  it('retransmits a renewal after half the time left to T2, at least 60 s, then rebinds by broadcast at T2', async () => {
    const env = setup();
    const lease = await bound(env);
    env.network.loseToServer = (sent) => sent.destination === SERVER;
    const renewed: DhcpLease[] = [];
    env.client.on('renewed', (value) => renewed.push(value));
    await env.clock.runUntil(() => renewed.length === 1, 4000 * SECOND);
    const requests = env.network.sentOfType(DhcpMessageType.request).slice(1);
    const t1 = lease.obtainedAt + lease.renewalTime * SECOND;
    const t2 = lease.obtainedAt + lease.rebindingTime * SECOND;
    expect(requests[0].at).toBe(t1);
    // 1350 s from T1 to T2: retransmit after 675 s, then 337.5 s, then 168.75, 84.375, then 60 s floors.
    expect(requests[1].at - requests[0].at).toBe(675 * SECOND);
    expect(requests[2].at - requests[1].at).toBe(337.5 * SECOND);
    const unicast = requests.filter((sent) => sent.destination === SERVER);
    const broadcast = requests.filter((sent) => sent.destination === IPV4_BROADCAST);
    expect(unicast.every((sent) => sent.at < t2)).toBe(true);
    expect(broadcast[0].at).toBe(t2);
    expect(broadcast[0].message.ciaddr).toBe(POOL[0]);
    expect(renewed[0].address).toBe(POOL[0]);
    expect(env.client.state()).toBe('bound');
  });

  it('gives up the address at expiry, reports it, and starts over (RFC 2131 4.4.5)', async () => {
    const env = setup();
    const lease = await bound(env);
    env.server.silent = true;
    const expired: DhcpLease[] = [];
    env.client.on('expired', (value) => expired.push(value));
    await env.clock.run(lease.leaseTime * SECOND);
    expect(expired).toEqual([lease]);
    expect(env.ipv4.configured.at(-1)).toEqual({ address: { address: IPV4_ANY, length: 0 } });
    expect(env.client.lease()).toBeUndefined();
    const discovers = env.network.sentOfType(DhcpMessageType.discover);
    expect(discovers).toHaveLength(2);
    expect(discovers[1].at).toBe(lease.obtainedAt + lease.leaseTime * SECOND);
    // It asks for its old address back.
    expect(discovers[1].message.options.requestedAddress).toBe(POOL[0]);
    env.server.silent = false;
    await env.clock.runUntil(() => env.client.state() === 'bound');
    expect(env.client.lease()?.address).toBe(POOL[0]);
  });

  it('loses the lease at once on a NAK while renewing', async () => {
    const env = setup();
    const lease = await bound(env);
    env.server.nakRequests = 1;
    const expired: DhcpLease[] = [];
    env.client.on('expired', (value) => expired.push(value));
    await env.clock.run(lease.renewalTime * SECOND - env.clock.now() + 10);
    expect(expired).toHaveLength(1);
    expect(env.ipv4.configured[1]).toEqual({ address: { address: IPV4_ANY, length: 0 } });
    await env.clock.runUntil(() => env.client.state() === 'bound');
  });

  it('uses the T1 and T2 the server sends', async () => {
    const env = setup({}, { leaseTime: 1000, renewalTime: 100, rebindingTime: 200 });
    const lease = await bound(env);
    expect([lease.renewalTime, lease.rebindingTime]).toEqual([100, 200]);
    env.network.loseToServer = (sent) => sent.message.options.messageType === DhcpMessageType.request;
    const before = env.network.sent.length;
    await env.clock.run(lease.obtainedAt + 200 * SECOND - env.clock.now() + 1);
    const requests = env.network.sent.slice(before);
    expect(requests[0].at).toBe(lease.obtainedAt + 100 * SECOND);
    expect(requests.at(-1)?.destination).toBe(IPV4_BROADCAST);
  });

  it('fires timers of leases longer than a host timer can hold', async () => {
    const days = 40;
    const env = setup({}, { leaseTime: days * 86400 });
    const lease = await bound(env);
    const renewed: DhcpLease[] = [];
    env.client.on('renewed', (value) => renewed.push(value));
    env.clock.advance((days / 2) * 86400 * SECOND - env.clock.now() + lease.obtainedAt - 1);
    expect(env.network.sent).toHaveLength(2);
    await env.clock.run(10);
    expect(renewed).toHaveLength(1);
  });

  it('keeps no timer for an infinite lease', async () => {
    const env = setup({}, { leaseTime: INFINITE_LEASE });
    const lease = await bound(env);
    expect(lease.renewalTime).toBe(INFINITE_LEASE);
    expect(env.clock.pendingTimers()).toBe(0);
  });

  it('releases the lease: DHCPRELEASE by unicast, address removed, client stopped (RFC 2131 4.4.6)', async () => {
    const env = setup();
    await bound(env);
    env.client.release();
    await env.clock.run(10);
    const [release] = env.network.sentOfType(DhcpMessageType.release);
    expect(release.destination).toBe(SERVER);
    expect(release.message.ciaddr).toBe(POOL[0]);
    expect(release.message.options.serverId).toBe(SERVER);
    expect(env.server.released).toEqual([POOL[0]]);
    expect(env.ipv4.configured.at(-1)?.address.address).toBe(IPV4_ANY);
    expect(env.client.state()).toBe('stopped');
    expect(env.clock.pendingTimers()).toBe(0);
  });

  it('stop() keeps the address and leaves no timer behind', async () => {
    const env = setup();
    await bound(env);
    env.client.stop();
    expect(env.ipv4.configured).toHaveLength(1);
    expect(env.clock.pendingTimers()).toBe(0);
    expect(env.client.lease()?.address).toBe(POOL[0]);
  });
});

describe('DHCP client: what it ignores', () => {
  it('ignores replies with another xid, another chaddr, or from a port other than 67', async () => {
    const env = setup({ probe: false });
    env.server.silent = true;
    void env.client.start().catch(() => undefined);
    await env.clock.run(10);
    const xid = env.network.sent[0].message.xid;
    const offer = (fields: { xid?: number; chaddr?: Uint8Array }) =>
      emitDhcp({
        op: 2,
        htype: 1,
        hops: 0,
        xid: fields.xid ?? xid,
        secs: 0,
        broadcast: true,
        ciaddr: IPV4_ANY,
        yiaddr: POOL[2],
        siaddr: IPV4_ANY,
        giaddr: IPV4_ANY,
        chaddr: fields.chaddr ?? macBytes(MAC),
        sname: '',
        file: '',
        options: { messageType: DhcpMessageType.offer, serverId: SERVER, leaseTime: 60 },
      });
    env.network.deliver(offer({ xid: xid ^ 1 }), SERVER, 67, IPV4_BROADCAST);
    env.network.deliver(offer({ chaddr: Uint8Array.of(2, 0, 0, 0, 0, 8) }), SERVER, 67, IPV4_BROADCAST);
    env.network.deliver(offer({}), SERVER, 6767, IPV4_BROADCAST);
    expect(env.client.state()).toBe('selecting');
    expect(env.client.stats()).toMatchObject({ 'not-ours': 2, 'bad-source-port': 1 });
    env.network.deliver(offer({}), SERVER, 67, IPV4_BROADCAST);
    expect(env.client.state()).toBe('requesting');
    env.client.stop();
  });

  it('never throws on arbitrary bytes from the server port, and counts them', async () => {
    const env = setup();
    env.server.silent = true;
    void env.client.start().catch(() => undefined);
    await env.clock.run(10);
    const xid = env.network.sent[0].message.xid;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.boolean(), (bytes, plausible) => {
        if (plausible && bytes.length >= 240) {
          // A real header with our xid and cookie, garbage options: reaches the option parser.
          bytes.set([2, 1, 6, 0], 0);
          bytes.set([xid >>> 24, (xid >>> 16) & 255, (xid >>> 8) & 255, xid & 255], 4);
          bytes.set([99, 130, 83, 99], 236);
        }
        env.network.deliver(bytes, SERVER, 67, IPV4_BROADCAST);
      }),
      { numRuns: 500 },
    );
    expect(env.client.stats()['rx-messages']).toBe(500);
    env.client.stop();
  });

  it('counts an ACK without a lease time and keeps waiting', async () => {
    const env = setup({ probe: false });
    env.server.silent = true;
    void env.client.start().catch(() => undefined);
    await env.clock.run(10);
    const xid = env.network.sent[0].message.xid;
    const reply = (type: number, leaseTime?: number) =>
      emitDhcp({
        op: 2, htype: 1, hops: 0, xid, secs: 0, broadcast: true, ciaddr: IPV4_ANY, yiaddr: POOL[2], siaddr: IPV4_ANY, giaddr: IPV4_ANY,
        chaddr: macBytes(MAC), sname: '', file: '',
        options: { messageType: type, serverId: SERVER, ...(leaseTime === undefined ? {} : { leaseTime }) },
      });
    env.network.deliver(reply(DhcpMessageType.offer, 60), SERVER, 67, IPV4_BROADCAST);
    env.network.deliver(reply(DhcpMessageType.ack), SERVER, 67, IPV4_BROADCAST);
    expect(env.client.stats()['no-lease-time']).toBe(1);
    expect(env.client.state()).toBe('requesting');
    env.network.deliver(reply(DhcpMessageType.ack, 60), SERVER, 67, IPV4_BROADCAST);
    expect(env.client.state()).toBe('bound');
    env.client.stop();
  });
});


describe('DHCP client: under loss', () => {
  it('gets a lease and keeps its configuration consistent through any loss pattern, leaving no timer after stop', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.double({ min: 0, max: 0.5, noNaN: true }), async (seed, loss) => {
        const env = setup({ startTimeoutMs: 0 }, { leaseTime: 300 }, seed);
        const coin = createSeededRandom(seed ^ 0x5a5a5a5a);
        env.network.loseToServer = () => coin.float() < loss;
        env.network.loseToClient = () => coin.float() < loss;
        void env.client.start();
        await env.clock.runUntil(() => env.client.state() === 'bound', 3_600_000);
        // Two hours of renewals, rebinds and perhaps expiries under the same loss.
        for (let step = 0; step < 120; step++) {
          await env.clock.run(60 * SECOND);
          const lease = env.client.lease();
          const configured = env.ipv4.config().address;
          // While a lease is held (bound, renewing, rebinding) it is what the interface has;
          // without one the interface has no address.
          if (lease !== undefined) {
            expect(configured).toEqual({ address: lease.address, length: 24 });
            expect(POOL).toContain(lease.address);
          } else {
            expect(configured.address).toBe(IPV4_ANY);
          }
        }
        env.client.stop();
        expect(env.clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 25 },
    );
  });
});
