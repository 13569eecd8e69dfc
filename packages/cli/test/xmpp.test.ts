// `morgana xmpp`: the in-process self-signed certificate (read back with node:crypto), the
// users file, and the appliance end to end on the socket backend: two morgana clients over
// STARTTLS, and two slixmpp clients (as root with python3-slixmpp, describeInterop-gated).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PeerCertificate, connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type Flow, createSystemClock, createSystemRandom, parseIpv4 } from '@morgana/core';
import { createSocketStack, duplexToFlow, flowToDuplex } from '@morgana/socket';
import { type StartTls, type XmlElement, type XmppClient, child, connectXmpp, text } from '@morgana/xmpp';
import { describeInterop } from '../../../tools/interop.js';
import { UsageError, main } from '../src/index.js';
import { createLogger } from '../src/log.js';
import { nodeScramCrypto, parseUsersFile, startXmpp } from '../src/xmpp.js';
import { encodeOid, generateSelfSignedCertificate } from '../src/xmpp-cert.js';

const root = join(import.meta.dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'morgana-xmpp-app-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const usersFile = join(dir, 'users');
writeFileSync(usersFile, '# accounts\nalice:wonderland\n\nbob:builder:with:colons\n');
const DOMAIN = 'chat.example.test';
let nextPort = 25_000 + Math.floor(Math.random() * 20_000);
const port = (): number => nextPort++;

describe('self-signed certificate made in process', () => {
  it('parses with node:crypto: subject, SAN = the domain, validity, and its own signature', () => {
    const now = new Date('2026-03-01T12:00:00Z');
    const generated = generateSelfSignedCertificate(DOMAIN, { now, days: 30 });
    const cert = new X509Certificate(generated.cert);
    expect(cert.subject).toBe(`CN=${DOMAIN}`);
    expect(cert.issuer).toBe(`CN=${DOMAIN}`);
    expect(cert.subjectAltName).toContain(`DNS:${DOMAIN}`);
    expect(cert.checkHost(DOMAIN)).toBe(DOMAIN);
    expect(cert.checkHost('other.example.test')).toBeUndefined();
    expect(new Date(cert.validFrom).getTime()).toBe(now.getTime() - 60_000);
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() - 60_000 + 30 * 86_400_000);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.1');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(generated.key))).toBe(true);
    expect(new Uint8Array(cert.raw)).toEqual(generated.der);
    // Another key does not verify it: the signature is over these bytes with this key.
    expect(cert.verify(new X509Certificate(generateSelfSignedCertificate(DOMAIN).cert).publicKey)).toBe(false);
  });

  it('switches to GeneralizedTime for dates from 2050 (RFC 5280 §4.1.2.5)', () => {
    const cert = new X509Certificate(generateSelfSignedCertificate(DOMAIN, { now: new Date('2049-12-01T00:00:00Z'), days: 365 }).cert);
    expect(new Date(cert.validFrom).getUTCFullYear()).toBe(2049);
    expect(new Date(cert.validTo).getUTCFullYear()).toBe(2050);
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  it('names any valid domain in its subjectAltName', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), (labels) => {
        const domain = labels.join('.');
        const cert = new X509Certificate(generateSelfSignedCertificate(domain).cert);
        expect(cert.subjectAltName).toContain(`DNS:${domain}`);
        expect(cert.verify(cert.publicKey)).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it('encodes object identifiers as X.690 §8.19 says', () => {
    expect([...encodeOid('1.2.840.10045.4.3.2')]).toEqual([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
    expect([...encodeOid('2.5.29.17')]).toEqual([0x06, 0x03, 0x55, 0x1d, 0x11]);
  });
});

describe('users file', () => {
  it('reads name:password lines, skipping blanks and comments; the password keeps later colons', () => {
    expect(parseUsersFile('# c\nAlice:wonderland\r\n\nbob:a:b\n', 'u')).toEqual([
      { name: 'alice', password: 'wonderland' },
      { name: 'bob', password: 'a:b' },
    ]);
  });

  it.each([
    ['alice\n', 'u:1: expected name:password'],
    ['alice:x\n:nameless\n', 'u:2: the user name is empty'],
    ['alice:\n', 'u:1: the password of alice is empty'],
    ['alice:x\n\nALICE:y\n', 'u:3: alice is already defined on line 1'],
    ['al ice:x\n', 'u:1: "al ice" is not a valid user name'],
    ['# nobody\n', 'u defines no users'],
  ])('refuses %j with a message naming the line', (content, message) => {
    expect(() => parseUsersFile(content, 'u')).toThrow(UsageError);
    expect(() => parseUsersFile(content, 'u')).toThrow(message);
  });

  it('is required, as is the domain, and the certificate and key come together', async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      errors.push(String(chunk));
      return true;
    });
    try {
      expect(await main(['xmpp', '--users', usersFile])).toBe(2);
      expect(await main(['xmpp', '--domain', DOMAIN])).toBe(2);
      expect(await main(['xmpp', '--domain', DOMAIN, '--users', usersFile, '--tls-cert', usersFile])).toBe(2);
      expect(await main(['xmpp', '--domain', DOMAIN, '--users', join(dir, 'missing')])).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('')).toMatch(/needs --domain[\s\S]*needs --users[\s\S]*go together[\s\S]*ENOENT/);
  });
});

/** Client STARTTLS that accepts the appliance's self-signed certificate and records it. */
function acceptingTls(seen: PeerCertificate[]): StartTls {
  return (flow: Flow) =>
    new Promise((resolve, reject) => {
      const socket = tlsConnect({ socket: flowToDuplex(flow) as never, servername: DOMAIN, rejectUnauthorized: false }, () => {
        seen.push(socket.getPeerCertificate());
        resolve(duplexToFlow(socket));
      });
      socket.once('error', reject);
    });
}

function next(client: XmppClient, event: 'message' | 'presence', filter: (s: XmlElement) => boolean = () => true): Promise<XmlElement> {
  return new Promise((resolve) => client.on(event, (stanza) => filter(stanza) && resolve(stanza)));
}

describe('morgana xmpp on the socket backend', () => {
  it('lets two morgana clients log in over STARTTLS with the generated certificate, subscribe to each other and chat', async () => {
    const listen = port();
    const clock = createSystemClock();
    const random = createSystemRandom();
    const appliance = await startXmpp({ domain: DOMAIN, usersFile, backend: { net: 'socket', listen: `127.0.0.1:${listen}` }, log: createLogger('error') });
    const stack = createSocketStack();
    try {
      const certificates: PeerCertificate[] = [];
      const login = async (user: string, password: string): Promise<XmppClient> =>
        connectXmpp(await stack.tcp.connect(parseIpv4('127.0.0.1'), listen), { jid: `${user}@${DOMAIN}/morgana`, password, clock, random, crypto: nodeScramCrypto, startTls: acceptingTls(certificates), keepaliveInterval: 0 });
      await expect(connectXmpp(await stack.tcp.connect(parseIpv4('127.0.0.1'), listen), { jid: `alice@${DOMAIN}/x`, password: 'wonderland', clock, random, crypto: nodeScramCrypto, keepaliveInterval: 0 })).rejects.toThrow();
      const alice = await login('alice', 'wonderland');
      const bob = await login('bob', 'builder:with:colons');
      expect(alice.secure && bob.secure).toBe(true);
      expect(certificates[0].subject.CN).toBe(DOMAIN);
      expect(certificates[0].subjectaltname).toContain(`DNS:${DOMAIN}`);
      await alice.getRoster();
      await bob.getRoster();
      await alice.sendPresence();
      await bob.sendPresence();
      // RFC 6121 §3: alice asks, bob approves and asks back, alice approves.
      const askedBob = next(bob, 'presence', (s) => s.attrs.type === 'subscribe');
      await alice.sendPresence({ to: `bob@${DOMAIN}`, type: 'subscribe' });
      await askedBob;
      const askedAlice = next(alice, 'presence', (s) => s.attrs.type === 'subscribe');
      await bob.sendPresence({ to: `alice@${DOMAIN}`, type: 'subscribed' });
      await bob.sendPresence({ to: `alice@${DOMAIN}`, type: 'subscribe' });
      await askedAlice;
      await alice.sendPresence({ to: `bob@${DOMAIN}`, type: 'subscribed' });
      for (let i = 0; i < 50 && (await alice.getRoster())[0]?.subscription !== 'both'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await alice.getRoster()).toMatchObject([{ jid: `bob@${DOMAIN}`, subscription: 'both' }]);
      expect(await bob.getRoster()).toMatchObject([{ jid: `alice@${DOMAIN}`, subscription: 'both' }]);
      const atBob = next(bob, 'message');
      await alice.sendMessage(`bob@${DOMAIN}`, 'hello bob');
      expect(text(child(await atBob, 'body'))).toBe('hello bob');
      const atAlice = next(alice, 'message');
      await bob.sendMessage(`alice@${DOMAIN}/morgana`, 'hello alice');
      expect(text(child(await atAlice, 'body'))).toBe('hello alice');
      expect(appliance.stats()).toMatchObject({ sessions: 2 });
      await alice.close();
      await bob.close();
    } finally {
      await stack.close();
      await appliance.close();
    }
  });
});

describe('morgana xmpp with --tls-cert and --tls-key', () => {
  it('serves the given certificate, which a verifying client accepts for the domain, and warns about one for another name', async () => {
    const own = generateSelfSignedCertificate(DOMAIN);
    writeFileSync(join(dir, 'cert.pem'), own.cert);
    writeFileSync(join(dir, 'key.pem'), own.key);
    const listen = port();
    const warnings: string[] = [];
    const log = { ...createLogger('error'), warn: (message: string) => void warnings.push(message) };
    const appliance = await startXmpp({ domain: DOMAIN, usersFile, tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem'), backend: { net: 'socket', listen: `127.0.0.1:${listen}` }, log });
    const stack = createSocketStack();
    try {
      // Full verification: the certificate is its own CA, and must name the domain.
      const verifying: StartTls = (flow: Flow) =>
        new Promise((resolve, reject) => {
          const socket = tlsConnect({ socket: flowToDuplex(flow) as never, servername: DOMAIN, ca: own.cert }, () => resolve(duplexToFlow(socket)));
          socket.once('error', reject);
        });
      const alice = await connectXmpp(await stack.tcp.connect(parseIpv4('127.0.0.1'), listen), { jid: `alice@${DOMAIN}/v`, password: 'wonderland', clock: createSystemClock(), random: createSystemRandom(), crypto: nodeScramCrypto, startTls: verifying, keepaliveInterval: 0 });
      expect(alice.secure).toBe(true);
      await alice.close();
      expect(warnings).toEqual([]);
    } finally {
      await stack.close();
      await appliance.close();
    }
    const other = generateSelfSignedCertificate('other.example.test');
    writeFileSync(join(dir, 'other.pem'), other.cert);
    writeFileSync(join(dir, 'other-key.pem'), other.key);
    const second = await startXmpp({ domain: DOMAIN, usersFile, tlsCertFile: join(dir, 'other.pem'), tlsKeyFile: join(dir, 'other-key.pem'), backend: { net: 'socket', listen: `127.0.0.1:${port()}` }, log });
    await second.close();
    expect(warnings.join('\n')).toContain(`does not name ${DOMAIN}`);
    await expect(startXmpp({ domain: DOMAIN, usersFile, tlsCertFile: join(dir, 'other.pem'), tlsKeyFile: join(dir, 'key.pem'), backend: { net: 'socket', listen: `127.0.0.1:${port()}` }, log })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('morgana xmpp on usernet (the pure stack)', () => {
  it('serves STARTTLS and a chat through its own TCP/IP stack', async () => {
    const hostPort = port();
    const clock = createSystemClock();
    const random = createSystemRandom();
    const appliance = await startXmpp({ domain: DOMAIN, usersFile, backend: { net: 'usernet', forward: [`${hostPort}:5222`] }, log: createLogger('error') });
    const stack = createSocketStack();
    try {
      const login = async (user: string, password: string): Promise<XmppClient> =>
        connectXmpp(await stack.tcp.connect(parseIpv4('127.0.0.1'), hostPort), { jid: `${user}@${DOMAIN}/pure`, password, clock, random, crypto: nodeScramCrypto, startTls: acceptingTls([]), keepaliveInterval: 0 });
      const alice = await login('alice', 'wonderland');
      const bob = await login('bob', 'builder:with:colons');
      expect(alice.secure).toBe(true);
      const atBob = next(bob, 'message');
      await alice.sendMessage(`bob@${DOMAIN}/pure`, 'over the pure stack');
      expect(text(child(await atBob, 'body'))).toBe('over the pure stack');
      await alice.close();
      await bob.close();
    } finally {
      await stack.close();
      await appliance.close();
    }
  });
});

function slixmppMissing(): string | undefined {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import slixmpp'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'python3-slixmpp is not installed (Debian /usr/bin/python3)';
  }
}

describeInterop('morgana xmpp with slixmpp clients', ['python3'], () => {
  it('lets two slixmpp clients log in over STARTTLS, subscribe to each other and chat', async () => {
    const version = execFileSync('/usr/bin/python3', ['-c', 'import slixmpp; print(slixmpp.__version__)'], { encoding: 'utf8' }).trim();
    console.log(`peer: slixmpp ${version}`);
    const listen = port();
    const slixUsers = join(dir, 'slixmpp-users');
    writeFileSync(slixUsers, 'alice:wonderland\nbob:builder\n');
    let output = '';
    const appliance: ChildProcess = spawn(process.execPath, ['--import', join(root, 'tools', 'ts-loader.mjs'), join(root, 'packages', 'cli', 'src', 'bin.ts'), 'xmpp', '--domain', DOMAIN, '--users', slixUsers, '--listen', `127.0.0.1:${listen}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    appliance.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    appliance.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      for (let i = 0; i < 100 && !output.includes('reachable at'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(output).toContain('self-signed certificate for chat.example.test');
      const result = await new Promise<{ events: Record<string, unknown>[]; code: number | null; stderr: string }>((resolve) => {
        const child = spawn('/usr/bin/python3', [join(import.meta.dirname, 'xmpp-slixmpp.py'), String(listen), DOMAIN], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ events: out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>), code, stderr: err.slice(-3000) });
        });
      });
      expect(result.code, result.stderr + output).toBe(0);
      const events = Object.fromEntries(result.events.map((e) => [e.event === 'message' ? `message-${String(e.at)}` : String(e.event), e]));
      expect(events.ready).toMatchObject({ a: `alice@${DOMAIN}/slix`, b: `bob@${DOMAIN}/slix` });
      expect(String(events.ready.tls)).toMatch(/^TLSv1\.[23]$/);
      expect(events.roster).toMatchObject({ a: 'both', b: 'both' });
      expect(events['message-b']).toMatchObject({ sender: `alice@${DOMAIN}/slix`, body: 'hello bob' });
      expect(events['message-a']).toMatchObject({ sender: `bob@${DOMAIN}/slix`, body: 'hello alice' });
      expect(events.done).toBeDefined();
    } finally {
      const exited = new Promise((r) => appliance.once('exit', r));
      appliance.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
}, slixmppMissing);
