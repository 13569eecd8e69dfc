import { type Ipv4Address, parseIpv4 } from '@morgana/core';
import { VirtualClock } from '@morgana/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AuthoritativeServer,
  checkZone,
  decodeMessage,
  type DnsMessage,
  encodeMessage,
  formatName,
  Opcode,
  parseName,
  parseZone,
  Rcode,
  RrType,
} from '../src/index.js';
import { arbDnsMessage } from '@morgana/testing/dns';

const ZONE = `
$TTL 3600
@        SOA   ns1 hostmaster 2026112701 7200 3600 1209600 300
@        NS    ns1
@        NS    ns2
@        MX    10 mail
ns1      A     192.0.2.1
ns2      A     192.0.2.2
mail     A     192.0.2.25
www      A     192.0.2.80
www      A     192.0.2.81
alias    CNAME www
chain    CNAME alias
loop1    CNAME loop2
loop2    CNAME loop1
outside  CNAME www.example.net.
*.wild   A     192.0.2.99
*.wild   TXT   "synthesised"
x.y.ent  A     192.0.2.7
sub      NS    ns.sub
ns.sub   A     192.0.2.53
big      TXT   "${'a'.repeat(200)}" "${'b'.repeat(200)}"
big      TXT   "${'c'.repeat(200)}" "${'d'.repeat(200)}"
big      TXT   "${'e'.repeat(200)}"
`;

const zone = parseZone(ZONE, { origin: 'example.com.' });
const client = parseIpv4('198.51.100.7');

function makeServer(options: { rateLimit?: false | { responsesPerSecond: number; slip: number }; allowTransfer?: (a: Ipv4Address) => boolean } = {}) {
  const clock = new VirtualClock();
  return { clock, server: new AuthoritativeServer({ zones: [zone], clock, rateLimit: options.rateLimit ?? false, allowTransfer: options.allowTransfer }) };
}

function query(name: string, type: number, extra: Partial<DnsMessage> = {}): DnsMessage {
  return {
    id: 0x1234,
    flags: { qr: false, opcode: Opcode.QUERY, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false },
    rcode: 0,
    questions: [{ name: parseName(name), type, class: 1 }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: undefined,
    ...extra,
  };
}

function ask(server: AuthoritativeServer, q: DnsMessage, transport: 'udp' | 'tcp' = 'udp'): DnsMessage {
  const response = server.answer(encodeMessage(q), { transport, source: client });
  if (response === undefined) throw new Error('no response');
  return decodeMessage(response);
}

const names = (records: DnsMessage['answers']) => records.map((r) => `${formatName(r.name)} ${r.type}`);

describe('authoritative answers (RFC 1034 §4.3.2)', () => {
  it('answers an exact match authoritatively, echoing id, question and RD', () => {
    const { server } = makeServer();
    const r = ask(server, query('www.example.com.', RrType.A));
    expect(r.id).toBe(0x1234);
    expect(r.flags).toMatchObject({ qr: true, aa: true, rd: true, ra: false, tc: false });
    expect(r.rcode).toBe(Rcode.NOERROR);
    expect(r.answers.map((a) => a.data)).toEqual([
      { type: 'A', address: parseIpv4('192.0.2.80') },
      { type: 'A', address: parseIpv4('192.0.2.81') },
    ]);
  });

  it('adds the addresses of MX and NS targets in the additional section', () => {
    const { server } = makeServer();
    expect(names(ask(server, query('example.com.', RrType.MX)).additionals)).toEqual(['mail.example.com. 1']);
    expect(names(ask(server, query('example.com.', RrType.NS)).additionals)).toEqual(['ns1.example.com. 1', 'ns2.example.com. 1']);
  });

  it('follows CNAME chains inside the zone and stops at loops and at the zone edge', () => {
    const { server } = makeServer();
    expect(names(ask(server, query('chain.example.com.', RrType.A)).answers)).toEqual([
      'chain.example.com. 5',
      'alias.example.com. 5',
      'www.example.com. 1',
      'www.example.com. 1',
    ]);
    const loop = ask(server, query('loop1.example.com.', RrType.A));
    expect(names(loop.answers)).toEqual(['loop1.example.com. 5', 'loop2.example.com. 5']);
    expect(names(ask(server, query('outside.example.com.', RrType.A)).answers)).toEqual(['outside.example.com. 5']);
    expect(names(ask(server, query('alias.example.com.', RrType.CNAME)).answers)).toEqual(['alias.example.com. 5']);
  });

  it('synthesises wildcard answers with the query name as owner (RFC 4592)', () => {
    const { server } = makeServer();
    const r = ask(server, query('anything.wild.example.com.', RrType.A));
    expect(names(r.answers)).toEqual(['anything.wild.example.com. 1']);
    expect(r.flags.aa).toBe(true);
    const nodata = ask(server, query('anything.wild.example.com.', RrType.MX));
    expect(nodata.rcode).toBe(Rcode.NOERROR);
    expect(nodata.answers).toEqual([]);
    expect(names(nodata.authorities)).toEqual(['example.com. 6']);
  });

  it('refers queries at or below a delegation with NS and glue, not authoritatively', () => {
    const { server } = makeServer();
    const r = ask(server, query('host.sub.example.com.', RrType.A));
    expect(r.flags.aa).toBe(false);
    expect(r.rcode).toBe(Rcode.NOERROR);
    expect(r.answers).toEqual([]);
    expect(names(r.authorities)).toEqual(['sub.example.com. 2']);
    expect(names(r.additionals)).toEqual(['ns.sub.example.com. 1']);
  });

  it('answers NXDOMAIN and NODATA with the SOA at min(TTL, MINIMUM) (RFC 2308 §3)', () => {
    const { server } = makeServer();
    const nx = ask(server, query('nope.example.com.', RrType.A));
    expect(nx.rcode).toBe(Rcode.NXDOMAIN);
    expect(nx.flags.aa).toBe(true);
    expect(nx.authorities.map((a) => [a.type, a.ttl])).toEqual([[RrType.SOA, 300]]);
    const nodata = ask(server, query('www.example.com.', RrType.AAAA));
    expect(nodata.rcode).toBe(Rcode.NOERROR);
    expect(nodata.authorities.map((a) => a.type)).toEqual([RrType.SOA]);
  });

  it('treats empty non-terminals as existing names (NODATA, not NXDOMAIN)', () => {
    const { server } = makeServer();
    expect(ask(server, query('y.ent.example.com.', RrType.A)).rcode).toBe(Rcode.NOERROR);
    expect(ask(server, query('ent.example.com.', RrType.A)).rcode).toBe(Rcode.NOERROR);
    expect(ask(server, query('z.ent.example.com.', RrType.A)).rcode).toBe(Rcode.NXDOMAIN);
  });

  it('refuses zones it does not serve and classes other than IN', () => {
    const { server } = makeServer();
    const r = ask(server, query('www.example.org.', RrType.A));
    expect(r.rcode).toBe(Rcode.REFUSED);
    expect(r.flags.aa).toBe(false);
    expect(ask(server, { ...query('www.example.com.', RrType.A), questions: [{ name: parseName('www.example.com.'), type: 1, class: 3 }] }).rcode).toBe(Rcode.REFUSED);
  });

  it('answers ANY with a single RRset (RFC 8482)', () => {
    const { server } = makeServer();
    const r = ask(server, query('example.com.', RrType.ANY));
    expect(new Set(r.answers.map((a) => a.type)).size).toBe(1);
  });

  it('returns FORMERR, NOTIMP and BADVERS where they are due', () => {
    const { server } = makeServer();
    expect(ask(server, { ...query('www.example.com.', RrType.A), questions: [] }).rcode).toBe(Rcode.FORMERR);
    expect(ask(server, { ...query('www.example.com.', RrType.A), flags: { ...query('a.', 1).flags, opcode: Opcode.UPDATE } }).rcode).toBe(Rcode.NOTIMP);
    const badvers = ask(server, query('www.example.com.', RrType.A, { edns: { udpPayloadSize: 4096, version: 1, dnssecOk: false, options: [] } }));
    expect(badvers.rcode).toBe(Rcode.BADVERS);
    const garbage = server.answer(new Uint8Array([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0]), { transport: 'udp', source: client });
    expect(garbage).toBeDefined();
    expect(decodeMessage(garbage as Uint8Array).rcode).toBe(Rcode.FORMERR);
    expect(server.answer(encodeMessage({ ...query('www.example.com.', 1), flags: { ...query('a.', 1).flags, qr: true } }), { transport: 'udp', source: client })).toBeUndefined();
  });

  it('truncates UDP answers to 512 octets without EDNS and to the EDNS size with it; never over TCP', () => {
    const { server } = makeServer();
    const plain = ask(server, query('big.example.com.', RrType.TXT));
    expect(plain.flags.tc).toBe(true);
    const edns = ask(server, query('big.example.com.', RrType.TXT, { edns: { udpPayloadSize: 4096, version: 0, dnssecOk: false, options: [] } }));
    expect(edns.flags.tc).toBe(false);
    expect(edns.answers).toHaveLength(3);
    expect(edns.edns?.udpPayloadSize).toBe(1232);
    const tcp = ask(server, query('big.example.com.', RrType.TXT), 'tcp');
    expect(tcp.flags.tc).toBe(false);
  });

  it('keeps the letter case of the question and answers memoised queries identically', () => {
    const { server } = makeServer();
    const first = ask(server, query('WwW.ExAmPlE.cOm.', RrType.A));
    expect(formatName(first.questions[0].name)).toBe('WwW.ExAmPlE.cOm.');
    const second = ask(server, { ...query('www.example.com.', RrType.A), id: 99 });
    expect(second.id).toBe(99);
    // Answer owners are compressed against the question, so they carry the asker's case too.
    expect(formatName(second.answers[0].name)).toBe('www.example.com.');
    expect(formatName(first.answers[0].name)).toBe('WwW.ExAmPlE.cOm.');
    expect(second.answers.map((a) => a.data)).toEqual(first.answers.map((a) => a.data));
    expect(server.stats()['cache-hit']).toBe(1);
  });

  it('limits response rates per /24 and slips every second limited answer as truncated', () => {
    const { server, clock } = makeServer({ rateLimit: { responsesPerSecond: 10, slip: 2 } });
    const bytes = encodeMessage(query('www.example.com.', RrType.A));
    let answered = 0;
    let truncated = 0;
    for (let i = 0; i < 30; i++) {
      const r = server.answer(bytes, { transport: 'udp', source: client });
      if (r === undefined) continue;
      if (decodeMessage(r).flags.tc) truncated++;
      else answered++;
    }
    expect(answered).toBe(10);
    expect(truncated).toBe(10);
    clock.advance(1000);
    expect(server.answer(bytes, { transport: 'udp', source: client })).toBeDefined();
    // TCP is never limited.
    for (let i = 0; i < 30; i++) expect(server.answer(bytes, { transport: 'tcp', source: client })).toBeDefined();
  });

  it('transfers a zone to allowed clients only, over TCP only (RFC 5936)', () => {
    const allowed = parseIpv4('127.0.0.1');
    const { server } = makeServer({ allowTransfer: (a) => a === allowed });
    const axfr = encodeMessage(query('example.com.', RrType.AXFR));
    const messages = server.transfer(axfr, { transport: 'tcp', source: allowed }) ?? [];
    const records = messages.flatMap((m) => decodeMessage(m).answers);
    expect(records[0].type).toBe(RrType.SOA);
    expect(records[records.length - 1].type).toBe(RrType.SOA);
    expect(records.length).toBe(zone.records.length + 1);
    expect(decodeMessage((server.transfer(axfr, { transport: 'tcp', source: client }) ?? [])[0]).rcode).toBe(Rcode.REFUSED);
    expect(decodeMessage((server.transfer(axfr, { transport: 'udp', source: allowed }) ?? [])[0]).rcode).toBe(Rcode.FORMERR);
    expect(checkZone(zone)).toEqual([]);
  });

  it('answers arbitrary and mutated queries with silence or a well-formed response, never an exception', () => {
    const { server } = makeServer();
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), arbDnsMessage().map((m) => encodeMessage(m))), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.boolean(), (bytes, flips, tcp) => {
        for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
        const response = server.answer(bytes, { transport: tcp ? 'tcp' : 'udp', source: client });
        if (response !== undefined) {
          const decoded = decodeMessage(response);
          expect(decoded.flags.qr).toBe(true);
          if (!tcp) expect(response.length).toBeLessThanOrEqual(1232);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('serves the new zone right after a reload, memoised answers included', () => {
    const { server } = makeServer();
    const before = ask(server, query('www.example.com.', RrType.A));
    expect(before.answers).toHaveLength(2);
    server.reload([parseZone(ZONE.replace('www      A     192.0.2.81\n', ''), { origin: 'example.com.' })]);
    const after = ask(server, query('www.example.com.', RrType.A));
    expect(after.answers.map((a) => a.data)).toEqual([{ type: 'A', address: parseIpv4('192.0.2.80') }]);
    expect(server.stats().reloads).toBe(2);
  });
});
