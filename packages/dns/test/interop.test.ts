// Interop with real DNS software on loopback: dig and kdig ask the morgana server (UDP, TCP,
// EDNS, truncation, AXFR); the morgana resolver asks NSD and BIND; BIND, as a secondary,
// transfers a zone from morgana after a NOTIFY.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createSystemClock, createSystemRandom, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthoritativeServer, checkZone, type DnsService, formatName, parseZone, RrType, sendNotify, serveDns, StubResolver } from '../src/index.js';
import { freePort, requirePeer, startBind, startNsd } from './peers.js';

const run = promisify(execFile);
const haveDig = requirePeer('/usr/bin/dig', 'bind9-dnsutils');
const haveKdig = requirePeer('/usr/bin/kdig', 'knot-dnsutils');
const haveNsd = requirePeer('/usr/sbin/nsd', 'nsd');
const haveBind = requirePeer('/usr/sbin/named', 'bind9');

export const ZONE_TEXT = `$ORIGIN example.com.
$TTL 3600
@        SOA   ns1 hostmaster 2026112701 7200 3600 1209600 300
@        NS    ns1
@        MX    10 mail
ns1      A     127.0.0.1
mail     A     192.0.2.25
www      A     192.0.2.80
www      AAAA  2001:db8::80
alias    CNAME www
*.wild   A     192.0.2.99
sub      NS    ns.sub
ns.sub   A     192.0.2.53
txt      TXT   "v=spf1 -all"
big      TXT   "${'a'.repeat(250)}" "${'b'.repeat(250)}"
big      TXT   "${'c'.repeat(250)}"
srv      SRV   0 5 5060 www
caa      CAA   0 issue "ca.example.net"
`;

const clock = createSystemClock();
const random = createSystemRandom();
const stack = createSocketStack();
const zone = parseZone(ZONE_TEXT, { origin: 'example.com.' });
const localhost = parseIpv4('127.0.0.1');
const server = new AuthoritativeServer({ zones: [zone], clock, rateLimit: false, allowTransfer: (a) => a === localhost });
let service: DnsService;

beforeAll(async () => {
  expect(checkZone(zone)).toEqual([]);
  service = serveDns({ server, clock, udp: stack.udp, tcp: stack.tcp, port: await freePort() });
  await new Promise((r) => setTimeout(r, 50));
});
afterAll(async () => {
  service.close();
  await stack.close();
});

async function dig(tool: 'dig' | 'kdig', ...args: string[]): Promise<string> {
  const retry = tool === 'dig' ? '+tries=1' : '+retry=0';
  const { stdout } = await run(`/usr/bin/${tool}`, ['@127.0.0.1', '-p', String(service.port), retry, '+time=2', ...args]);
  return stdout;
}

const flagsOf = (out: string) => (/flags: ([a-z ]*);/i.exec(out)?.[1] ?? '').trim().split(' ').sort();
const statusOf = (out: string) => /status: ([A-Z]+)/.exec(out)?.[1];

for (const tool of ['dig', 'kdig'] as const) {
  describe.skipIf(tool === 'dig' ? !haveDig : !haveKdig)(`${tool} against the morgana server`, () => {
    it('gets authoritative answers over UDP, with EDNS', async () => {
      // dig sends EDNS by default, kdig only when asked.
      const out = await dig(tool, 'www.example.com', 'A', '+norec', ...(tool === 'kdig' ? ['+edns=0'] : []));
      expect(statusOf(out)).toBe('NOERROR');
      expect(flagsOf(out)).toContain('aa');
      expect(out).toMatch(/www\.example\.com\.\s+3600\s+IN\s+A\s+192\.0\.2\.80/);
      expect(out).toMatch(/EDNS: version: 0|EDNS PSEUDOSECTION:\s*\n;; Version: 0/);
    });

    it('follows a CNAME, synthesises a wildcard, refers a delegation, denies a missing name', async () => {
      expect(await dig(tool, 'alias.example.com', 'A')).toMatch(/alias\.example\.com\.\s+3600\s+IN\s+CNAME\s+www\.example\.com\.[\s\S]*192\.0\.2\.80/);
      expect(await dig(tool, 'x.wild.example.com', 'A')).toMatch(/x\.wild\.example\.com\.\s+3600\s+IN\s+A\s+192\.0\.2\.99/);
      const referral = await dig(tool, 'host.sub.example.com', 'A');
      expect(flagsOf(referral)).not.toContain('aa');
      expect(referral).toMatch(/sub\.example\.com\.\s+3600\s+IN\s+NS\s+ns\.sub\.example\.com\./);
      const nx = await dig(tool, 'nope.example.com', 'A');
      expect(statusOf(nx)).toBe('NXDOMAIN');
      expect(nx).toMatch(/example\.com\.\s+300\s+IN\s+SOA/);
      expect(statusOf(await dig(tool, 'www.example.org', 'A'))).toBe('REFUSED');
    });

    it('sees truncation over UDP without EDNS and gets the whole answer over TCP', async () => {
      const udp = await dig(tool, 'big.example.com', 'TXT', '+noedns', '+ignore');
      expect(flagsOf(udp)).toContain('tc');
      const tcp = await dig(tool, 'big.example.com', 'TXT', '+tcp');
      expect(flagsOf(tcp)).not.toContain('tc');
      expect(tcp.match(/^big\.example\.com\.\s+\d+\s+IN\s+TXT/gm)?.length).toBe(2);
    });

    it('transfers the zone with AXFR', async () => {
      const out = await dig(tool, 'example.com', 'AXFR');
      expect(out.match(/\sSOA\s/g)?.length).toBe(2);
      for (const name of ['www', 'alias', 'caa', 'srv', 'ns.sub']) expect(out).toContain(`${name}.example.com.`);
    });
  });
}

describe.skipIf(!haveNsd)('the morgana resolver against NSD', () => {
  it('asks NSD over UDP and TCP and validates the answers', async () => {
    const nsd = await startNsd({ 'example.com': ZONE_TEXT });
    console.log(`peer: ${nsd.version}`);
    try {
      const resolver = new StubResolver({ udp: stack.udp, tcp: stack.tcp, clock, random }, { servers: [{ address: localhost, port: nsd.port }] });
      const www = await resolver.query('www.example.com', RrType.A, { recursionDesired: false });
      expect(www.flags.aa).toBe(true);
      expect(www.answers.map((r) => r.data)).toEqual([{ type: 'A', address: parseIpv4('192.0.2.80') }]);
      const big = await resolver.query('big.example.com', RrType.TXT, { recursionDesired: false, tcp: true });
      expect(big.answers).toHaveLength(2);
      const nx = await resolver.query('nope.example.com', RrType.A, { recursionDesired: false });
      expect(nx.rcode).toBe(3);
    } finally {
      await nsd.stop();
    }
  });
});

describe.skipIf(!haveBind)('BIND with the morgana server and resolver', () => {
  it('answers the morgana resolver', async () => {
    const bind = await startBind({ 'example.com': ZONE_TEXT });
    console.log(`peer: ${bind.version}`);
    try {
      const resolver = new StubResolver({ udp: stack.udp, tcp: stack.tcp, clock, random }, { servers: [{ address: localhost, port: bind.port }] });
      const mx = await resolver.query('example.com', RrType.MX, { recursionDesired: false });
      expect(mx.answers.map((r) => r.data)).toEqual([{ type: 'MX', preference: 10, exchange: ['mail', 'example', 'com'] }]);
    } finally {
      await bind.stop();
    }
  });

  it('transfers a zone from morgana as a secondary after a NOTIFY', async () => {
    const bind = await startBind({}, { 'example.com': service.port });
    try {
      const results = await sendNotify({ udp: stack.udp, clock, random }, { zone: zone.origin, targets: [{ address: localhost, port: bind.port }], interval: 500 });
      expect(results[0].acknowledged).toBe(true);
      const resolver = new StubResolver({ udp: stack.udp, tcp: stack.tcp, clock, random }, { servers: [{ address: localhost, port: bind.port }], timeout: 300, attempts: 1 });
      let answer;
      for (let i = 0; i < 50; i++) {
        answer = await resolver.query('www.example.com', RrType.A, { recursionDesired: false }).catch(() => undefined);
        if (answer !== undefined && answer.rcode === 0 && answer.answers.length > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(answer?.answers.map((r) => formatName(r.name))).toEqual(['www.example.com.']);
      expect(bind.log()).toMatch(/transfer of 'example\.com\/IN' from 127\.0\.0\.1#\d+: Transfer status: success/);
    } finally {
      await bind.stop();
    }
  });
});
