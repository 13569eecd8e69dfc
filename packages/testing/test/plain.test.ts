// Reprs must be plain objects, as parsers return them: node:assert's deepStrictEqual tells a
// record without a prototype (which fast-check may build) from an equal plain object.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbDnsMessage } from '../src/dns.js';
import { arbArpRepr, arbEthernetFrame } from '../src/ethernet.js';
import { arbHttpRequest, arbHttpResponse } from '../src/http.js';
import { arbIcmpRepr, arbIpv4Datagram } from '../src/ipv4.js';
import { arbOpenFlowMessage } from '../src/openflow.js';
import { arbSshKexInit, arbSshPacket } from '../src/ssh.js';
import { arbTcpOptions, arbTcpSegment } from '../src/tcp.js';
import { arbUdpDatagram } from '../src/udp.js';
import { arbXmppStanza } from '../src/xmpp.js';

function nonPlainPath(value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = nonPlainPath(item, `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return path;
  for (const [key, field] of Object.entries(value)) {
    const found = nonPlainPath(field, `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

describe('repr arbitraries', () => {
  const arbitraries: Record<string, fc.Arbitrary<unknown>> = {
    ethernet: arbEthernetFrame(16),
    arp: arbArpRepr(),
    ipv4: arbIpv4Datagram({ maxPayload: 16 }),
    icmp: arbIcmpRepr(16),
    udp: arbUdpDatagram(16),
    tcp: arbTcpSegment({ maxPayload: 16 }),
    'tcp options': arbTcpOptions(),
    dns: arbDnsMessage(),
    'http request': arbHttpRequest({ maxBody: 16 }),
    'http response': arbHttpResponse({ maxBody: 16 }),
    'ssh kexinit': arbSshKexInit(),
    'ssh packet': arbSshPacket(),
    xmpp: arbXmppStanza(),
    'openflow 1.0': arbOpenFlowMessage(1),
    'openflow 1.3': arbOpenFlowMessage(4),
  };
  for (const [format, arbitrary] of Object.entries(arbitraries)) {
    it(`${format}: yields plain objects only`, () => {
      fc.assert(
        fc.property(arbitrary, (value) => {
          expect(nonPlainPath(value, format)).toBeUndefined();
        }),
        { numRuns: 150 },
      );
    });
  }
});
