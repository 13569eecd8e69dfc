import { DecodeError, type Ipv4Address, parseIpv4 } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BOOTP_MIN_LENGTH,
  type DhcpMessage,
  DhcpMessageType,
  DhcpOptionCode,
  type DhcpOptions,
  emitDhcp,
  interpretOptions,
  leaseFromAck,
  parseDhcp,
  readOptionRegion,
} from '../src/index.js';

const KNOWN = new Set<number>(Object.values(DhcpOptionCode));

const address = fc.integer({ min: 0, max: 0xffff_ffff }).map((value) => value as Ipv4Address);
const addresses = fc.array(address, { minLength: 1, maxLength: 80 });
/** NVT ASCII-ish text: one byte per character, no NUL; long enough to need RFC 3396 splitting. */
const text = (maxLength: number, minLength = 1) =>
  fc.array(fc.integer({ min: 1, max: 255 }), { minLength, maxLength }).map((codes) => String.fromCharCode(...codes));
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

const options: fc.Arbitrary<DhcpOptions> = fc.record(
  {
    messageType: fc.integer({ min: 1, max: 8 }),
    subnetMask: address,
    routers: addresses,
    dnsServers: addresses,
    hostName: text(300),
    domainName: text(40),
    broadcastAddress: address,
    requestedAddress: address,
    leaseTime: u32,
    serverId: address,
    parameterRequestList: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 300 }),
    message: text(60),
    maxMessageSize: fc.integer({ min: 576, max: 0xffff }),
    renewalTime: u32,
    rebindingTime: u32,
    clientId: fc.uint8Array({ minLength: 2, maxLength: 20 }),
    other: fc
      .uniqueArray(
        fc.record({ code: fc.integer({ min: 1, max: 254 }).filter((code) => !KNOWN.has(code)), data: fc.uint8Array({ maxLength: 300 }) }),
        { selector: (option) => option.code, minLength: 1, maxLength: 5 },
      )
      .map((list) => [...list].sort((a, b) => a.code - b.code)),
  },
  { requiredKeys: [] },
);

const message: fc.Arbitrary<DhcpMessage> = fc.record({
  op: fc.constantFrom(1, 2),
  htype: fc.integer({ min: 0, max: 255 }),
  hops: fc.integer({ min: 0, max: 255 }),
  xid: u32,
  secs: fc.integer({ min: 0, max: 0xffff }),
  broadcast: fc.boolean(),
  ciaddr: address,
  yiaddr: address,
  siaddr: address,
  giaddr: address,
  chaddr: fc.uint8Array({ maxLength: 16 }),
  sname: text(63, 0),
  file: text(127, 0),
  options,
});

describe('DHCP message codec (RFC 2131 §2, RFC 2132)', () => {
  it('parse(emit(message)) gives the message back', () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = emitDhcp(m);
        expect(bytes.length).toBeGreaterThanOrEqual(BOOTP_MIN_LENGTH);
        expect(parseDhcp(bytes)).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          parseDhcp(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but DecodeError on a valid header followed by arbitrary options', () => {
    const header = emitDhcp({
      op: 2, htype: 1, hops: 0, xid: 1, secs: 0, broadcast: false, ciaddr: 0 as Ipv4Address, yiaddr: 0 as Ipv4Address,
      siaddr: 0 as Ipv4Address, giaddr: 0 as Ipv4Address, chaddr: new Uint8Array(6), sname: '', file: '', options: {},
    }).subarray(0, 240);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ minLength: 192, maxLength: 192 }), (tail, names) => {
        const bytes = new Uint8Array(240 + tail.length);
        bytes.set(header);
        // Random sname/file too, read as options when an overload option asks for it.
        bytes.set(names, 44);
        bytes.set(tail, 240);
        try {
          parseDhcp(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('splits values longer than 255 bytes and joins repeated options (RFC 3396)', () => {
    const name = 'x'.repeat(600);
    const bytes = emitDhcp({
      op: 1, htype: 1, hops: 0, xid: 7, secs: 0, broadcast: false, ciaddr: 0 as Ipv4Address, yiaddr: 0 as Ipv4Address,
      siaddr: 0 as Ipv4Address, giaddr: 0 as Ipv4Address, chaddr: new Uint8Array(6), sname: '', file: '', options: { hostName: name },
    });
    const codes: number[] = [];
    for (let offset = 240; bytes[offset] !== 255; offset += 2 + bytes[offset + 1]) codes.push(bytes[offset]);
    expect(codes).toEqual([12, 12, 12]);
    expect(parseDhcp(bytes).options.hostName).toBe(name);
  });

  it('reads options overloaded into file and sname, file first (RFC 2132 §9.3, RFC 3396 §5)', () => {
    const bytes = emitDhcp({
      op: 2, htype: 1, hops: 0, xid: 7, secs: 0, broadcast: false, ciaddr: 0 as Ipv4Address, yiaddr: 0 as Ipv4Address,
      siaddr: 0 as Ipv4Address, giaddr: 0 as Ipv4Address, chaddr: new Uint8Array(6), sname: '', file: '',
      options: { messageType: DhcpMessageType.ack, overload: 3, domainName: 'a' },
    });
    // file (offset 108): domain name continues "b", then the lease time; sname (offset 44): "c".
    bytes.set([15, 1, 0x62, 51, 4, 0, 0, 0x0e, 0x10, 255], 108);
    bytes.set([15, 1, 0x63, 255], 44);
    const parsed = parseDhcp(bytes);
    expect(parsed.options.domainName).toBe('abc');
    expect(parsed.options.leaseTime).toBe(3600);
    expect(parsed.sname).toBe('');
    expect(parsed.file).toBe('');
  });

  it('rejects a short message, a bad cookie, a bad op and an oversized hlen', () => {
    const good = emitDhcp({
      op: 1, htype: 1, hops: 0, xid: 7, secs: 0, broadcast: false, ciaddr: 0 as Ipv4Address, yiaddr: 0 as Ipv4Address,
      siaddr: 0 as Ipv4Address, giaddr: 0 as Ipv4Address, chaddr: new Uint8Array(6), sname: '', file: '', options: {},
    });
    const variant = (at: number, value: number) => {
      const bytes = good.slice();
      bytes[at] = value;
      return bytes;
    };
    const cases: [Uint8Array, string][] = [
      [good.subarray(0, 239), 'truncated'],
      [variant(236, 0), 'bad-magic-cookie'],
      [variant(0, 3), 'bad-op'],
      [variant(2, 17), 'bad-hlen'],
    ];
    for (const [bytes, reason] of cases) expect(() => parseDhcp(bytes)).toThrow(expect.objectContaining({ reason }));
  });

  it('rejects known options of the wrong length or value', () => {
    const cases: [number[], string][] = [
      [[1, 3, 255, 255, 255], 'bad-option-length'],
      [[3, 6, 1, 2, 3, 4, 5, 6], 'bad-option-length'],
      [[53, 1, 9], 'bad-option-value'],
      [[57, 2, 0, 100], 'bad-option-value'],
      [[61, 1, 1], 'bad-option-length'],
      [[51, 4, 0, 0], 'truncated'],
    ];
    for (const [bytes, reason] of cases) {
      expect(() => {
        const raw = new Map<number, Uint8Array>();
        readOptionRegion(Uint8Array.from(bytes), raw);
        interpretOptions(raw);
      }).toThrow(expect.objectContaining({ reason }));
    }
  });

  it('skips Pad, stops at End, and accepts a region without End', () => {
    const raw = new Map<number, Uint8Array>();
    readOptionRegion(Uint8Array.of(0, 0, 53, 1, 5, 255, 53, 1, 6), raw);
    expect(interpretOptions(raw).messageType).toBe(DhcpMessageType.ack);
    const open = new Map<number, Uint8Array>();
    readOptionRegion(Uint8Array.of(53, 1, 2), open);
    expect(interpretOptions(open).messageType).toBe(DhcpMessageType.offer);
  });
});

describe('lease from a DHCPACK', () => {
  const server = parseIpv4('10.0.0.1');
  const at = parseIpv4('10.0.0.50');

  it('defaults T1 to 0.5 and T2 to 0.875 of the lease (RFC 2131 4.4.5)', () => {
    const lease = leaseFromAck(at, server, { leaseTime: 1000, subnetMask: parseIpv4('255.255.0.0') }, 0);
    expect([lease.renewalTime, lease.rebindingTime, lease.prefixLength]).toEqual([500, 875, 16]);
  });

  it('keeps T1 < T2 < lease whatever the server sends', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffff_fffe }), fc.option(u32), fc.option(u32), (leaseTime, t1, t2) => {
        const lease = leaseFromAck(at, server, { leaseTime, renewalTime: t1 ?? undefined, rebindingTime: t2 ?? undefined }, 0);
        expect(lease.renewalTime).toBeLessThanOrEqual(lease.rebindingTime);
        expect(lease.rebindingTime).toBeLessThanOrEqual(leaseTime);
      }),
    );
  });

  it('uses the class mask without a subnet mask option, and refuses a non-contiguous one', () => {
    expect(leaseFromAck(at, server, { leaseTime: 60 }, 0).prefixLength).toBe(8);
    expect(() => leaseFromAck(at, server, { leaseTime: 60, subnetMask: parseIpv4('255.0.255.0') }, 0)).toThrow(
      expect.objectContaining({ reason: 'bad-subnet-mask' }),
    );
  });
});
