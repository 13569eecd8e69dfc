// Differential test: the same zone served by NSD and by morgana, thousands of generated
// queries, and the parts of the answers that authoritative servers agree on compared.
// Authority data in positive answers and additional data are policy: counted, reported,
// not compared.
import { createSocket } from 'node:dgram';
import { createSystemClock, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthoritativeServer, decodeMessage, type DnsMessage, type DnsService, encodeMessage, formatRecord, Opcode, parseZone, RrType, serveDns } from '../src/index.js';
import { freePort, type Peer, requirePeer, startNsd } from './peers.js';

const haveNsd = requirePeer('/usr/sbin/nsd', 'nsd');

const hosts = Array.from({ length: 40 }, (_, i) => `host${i}`);
const ZONE = [
  '$ORIGIN diff.test.',
  '$TTL 600',
  '@ SOA ns1 admin 7 3600 600 86400 120',
  '@ NS ns1',
  '@ NS ns2',
  '@ MX 5 mx1',
  '@ TXT "apex text"',
  'ns1 A 10.0.0.1',
  'ns2 A 10.0.0.2',
  'mx1 A 10.0.0.3',
  ...hosts.map((h, i) => `${h} A 10.1.${i}.1`),
  ...hosts.slice(0, 10).map((h, i) => `${h} AAAA 2001:db8::${i + 1}`),
  ...hosts.slice(10, 15).map((h) => `${h} TXT "text for ${h}"`),
  'c1 CNAME host1',
  'c2 CNAME c1',
  'cext CNAME www.elsewhere.example.',
  'cnx CNAME nothing-here',
  '*.wild A 10.9.9.9',
  '*.wild MX 10 mx1',
  'deep.a.b.ent A 10.2.2.2',
  'del NS ns.del',
  'del NS ns.other.example.',
  'ns.del A 10.3.3.3',
  'srv._tcp SRV 1 2 443 host1',
  'caa CAA 0 issue "ca.example"',
].join('\n');

const TYPES = [RrType.A, RrType.AAAA, RrType.MX, RrType.TXT, RrType.NS, RrType.SOA, RrType.CNAME, RrType.SRV, RrType.CAA, RrType.PTR, 99];
const NAMES = [
  '', 'ns1', 'ns2', 'mx1', ...hosts, 'c1', 'c2', 'cext', 'cnx', 'x.wild', 'y.z.wild', 'wild', 'deep.a.b.ent', 'a.b.ent', 'b.ent', 'ent',
  'del', 'x.del', 'ns.del', 'srv._tcp', '_tcp', 'caa', 'missing', 'host1.missing', 'HOST2', 'Ns1',
];

const clock = createSystemClock();
const stack = createSocketStack();
let nsd: Peer | undefined;
let service: DnsService;

beforeAll(async () => {
  const zone = parseZone(ZONE, { origin: 'diff.test.' });
  service = serveDns({ server: new AuthoritativeServer({ zones: [zone], clock, rateLimit: false }), clock, udp: stack.udp, port: await freePort() });
  if (haveNsd) {
    nsd = await startNsd({ 'diff.test': ZONE });
    console.log(`peer: ${nsd.version}`);
  }
});
afterAll(async () => {
  service.close();
  await stack.close();
  await nsd?.stop();
});

function ask(port: number, bytes: Uint8Array): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no answer from port ${port}`));
    }, 2000);
    socket.on('message', (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(decodeMessage(message));
    });
    socket.send(bytes, port, '127.0.0.1');
  });
}

/** Names compare case-insensitively; compression may carry the question's case into other names. */
const canonical = (records: DnsMessage['answers']) => records.map((r) => formatRecord(r).toLowerCase()).sort();

/** The part all authoritative servers agree on (see PEERS notes). */
function comparable(m: DnsMessage): unknown {
  const negative = m.rcode !== 0 || m.answers.length === 0;
  return {
    rcode: m.rcode,
    aa: m.flags.aa,
    tc: m.flags.tc,
    answers: canonical(m.answers),
    authority: negative ? canonical(m.authorities) : 'policy',
  };
}

describe.skipIf(!haveNsd)('differential test against NSD', () => {
  it('agrees with NSD on rcodes, flags, answers and negative/referral authority for generated queries', async () => {
    const queries = fc.sample(
      fc.record({ name: fc.constantFrom(...NAMES), type: fc.constantFrom(...TYPES), edns: fc.boolean(), id: fc.integer({ min: 0, max: 0xffff }) }),
      { numRuns: 2000, seed: 42 },
    );
    let policyDifferences = 0;
    const mismatches: string[] = [];
    for (let i = 0; i < queries.length; i += 50) {
      await Promise.all(
        queries.slice(i, i + 50).map(async (q) => {
          const name = q.name === '' ? ['diff', 'test'] : [...q.name.split('.'), 'diff', 'test'];
          const message: DnsMessage = {
            id: q.id,
            flags: { qr: false, opcode: Opcode.QUERY, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false },
            rcode: 0,
            questions: [{ name, type: q.type, class: 1 }],
            answers: [],
            authorities: [],
            additionals: [],
            edns: q.edns ? { udpPayloadSize: 1232, version: 0, dnssecOk: false, options: [] } : undefined,
          };
          const bytes = encodeMessage(message);
          const [ours, theirs] = await Promise.all([ask(service.port, bytes), ask((nsd as Peer).port, bytes)]);
          const a = JSON.stringify(comparable(ours));
          const b = JSON.stringify(comparable(theirs));
          if (a !== b) mismatches.push(`${q.name || '@'} type ${q.type}:\n  morgana ${a}\n  nsd     ${b}`);
          if (JSON.stringify(canonical(ours.additionals)) !== JSON.stringify(canonical(theirs.additionals))) {
            if (policyDifferences++ < 1) console.log(`policy difference (we send minimal responses; NSD adds the apex NS and its addresses): ${q.name || "@"} type ${q.type}: morgana ${JSON.stringify(canonical(ours.additionals))} / nsd ${JSON.stringify(canonical(theirs.additionals))} / nsd authority ${JSON.stringify(canonical(theirs.authorities))} / ours ${JSON.stringify(canonical(ours.authorities))}`);
          }
        }),
      );
    }
    console.log(`differential: ${queries.length} queries, ${mismatches.length} mismatches, ${policyDifferences} differ in additional data (policy)`);
    expect(mismatches.slice(0, 10)).toEqual([]);
  });
});
