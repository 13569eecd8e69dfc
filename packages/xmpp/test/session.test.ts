// Client and server over real loopback TCP (the socket stack): negotiation, routing, roster,
// subscriptions, iq timeouts, stream errors and STARTTLS.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type Flow, TimeoutError } from '@morgana/core';
import { VirtualClock } from '@morgana/testing';
import { type MemoryStore, type XmlElement, type XmppClient, type XmppClientOptions, type XmppServer, SaslError, StreamError, child, connectXmpp, createMemoryStore, createXmppServer, el, formatJid, text } from '../src/index.js';
import { LOOPBACK, clientTls, clock, loopbackStack, nodeCrypto, random, selfSigned, serverTls } from './helpers.js';

const DOMAIN = 'example.test';
const stack = loopbackStack();
let store: MemoryStore;
let server: XmppServer;
let port: number;

beforeAll(async () => {
  store = createMemoryStore(nodeCrypto, random);
  await store.addUser('alice', 'wonderland');
  await store.addUser('bob', 'builder');
  server = createXmppServer({ clock, random, crypto: nodeCrypto, store }, { domain: DOMAIN, allowPlainWithoutTls: true, limits: { maxStanzaSize: 4096 } });
  port = stack.tcp.listen(0, { onConnection: (flow) => void server.handle(flow) }).port;
});
afterAll(async () => {
  await server.close();
  await stack.close();
});

async function login(user: string, password: string, extra: Partial<XmppClientOptions> = {}): Promise<XmppClient> {
  const flow = await stack.tcp.connect(LOOPBACK, port);
  return connectXmpp(flow, { jid: `${user}@${DOMAIN}/${extra.jid ?? 'test'}`, password, clock, random, crypto: nodeCrypto, keepaliveInterval: 0, ...extra, ...(extra.jid ? { jid: extra.jid } : {}) });
}

function next(client: XmppClient, event: 'message' | 'presence', filter: (s: XmlElement) => boolean = () => true): Promise<XmlElement> {
  return new Promise((resolve) => client.on(event, (stanza) => filter(stanza) && resolve(stanza)));
}

describe('XMPP client and server over loopback TCP', () => {
  it.each(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'])('logs in with %s and binds the requested resource (RFC 6120 §6, §7)', async (mechanism) => {
    const client = await login('alice', 'wonderland', { mechanisms: [mechanism], allowPlainWithoutTls: true, jid: `Alice@${DOMAIN.toUpperCase()}/Desk` });
    expect(client.mechanism).toBe(mechanism);
    expect(client.jid).toEqual({ local: 'alice', domain: DOMAIN, resource: 'Desk' });
    await client.close();
  });

  it('refuses a wrong password with not-authorized', async () => {
    await expect(login('alice', 'nope')).rejects.toMatchObject({ condition: 'not-authorized' });
    await expect(login('nobody', 'nope')).rejects.toBeInstanceOf(SaslError);
  });

  it('never sends PLAIN in the clear unless allowed', async () => {
    await expect(login('alice', 'wonderland', { mechanisms: ['PLAIN'] })).rejects.toMatchObject({ condition: 'invalid-mechanism' });
  });

  it('routes messages to full and bare JIDs, stamping from (RFC 6120 §8.1.2.1, RFC 6121 §8.5)', async () => {
    const alice = await login('alice', 'wonderland');
    const bob = await login('bob', 'builder');
    await bob.sendPresence();
    const full = next(bob, 'message');
    await alice.sendMessage(`bob@${DOMAIN}/test`, 'to full');
    expect(text(child(await full, 'body'))).toBe('to full');
    expect((await full).attrs.from).toBe(`alice@${DOMAIN}/test`);
    const bare = next(bob, 'message');
    await alice.sendMessage(`bob@${DOMAIN}`, 'to <bare> & all');
    expect(text(child(await bare, 'body'))).toBe('to <bare> & all');
    const bounced = next(alice, 'message', (s) => s.attrs.type === 'error');
    await alice.sendMessage(`nobody@${DOMAIN}`, 'lost');
    expect((await bounced).attrs.from).toBe(`nobody@${DOMAIN}`);
    await alice.close();
    await bob.close();
  });

  it('answers ping and disco#info (XEP-0199, XEP-0030) and times out iqs via the clock', async () => {
    const virtual = new VirtualClock();
    const alice = await login('alice', 'wonderland', { clock: virtual, iqTimeout: 5000 });
    const bob = await login('bob', 'builder');
    expect(await alice.discoInfo()).toContain('urn:xmpp:ping');
    expect(await alice.discoInfo(`bob@${DOMAIN}/test`)).toContain('urn:xmpp:ping');
    await alice.ping();
    bob.on('iq', () => undefined);
    const silent = alice.iq('get', `bob@${DOMAIN}/test`, el('query', 'urn:example:silence'));
    await new Promise((r) => setTimeout(r, 50));
    virtual.advance(5000);
    await expect(silent).rejects.toBeInstanceOf(TimeoutError);
    await expect(alice.iq('get', `nobody@${DOMAIN}/x`, el('query', 'urn:example:none'))).rejects.toMatchObject({ condition: 'service-unavailable' });
    await alice.close();
    await bob.close();
  });

  it('walks subscribe → subscribed (to/from), routes presence, edits and removes the item (RFC 6121 §2, §3, §4)', async () => {
    const users = createMemoryStore(nodeCrypto, random);
    await users.addUser('carol', 'c');
    await users.addUser('dave', 'd');
    const own = createXmppServer({ clock, random, crypto: nodeCrypto, store: users }, { domain: DOMAIN });
    const listener = stack.tcp.listen(0, { onConnection: (flow) => void own.handle(flow) });
    const connect = async (user: string): Promise<XmppClient> => connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), { jid: `${user}@${DOMAIN}`, password: user[0], clock, random, crypto: nodeCrypto, keepaliveInterval: 0 });
    const carol = await connect('carol');
    const dave = await connect('dave');
    expect(await carol.getRoster()).toEqual([]);
    await dave.getRoster();
    await carol.sendPresence();
    await dave.sendPresence();
    const request = next(dave, 'presence', (s) => s.attrs.type === 'subscribe');
    await carol.sendPresence({ to: `dave@${DOMAIN}`, type: 'subscribe' });
    expect((await request).attrs.from).toBe(`carol@${DOMAIN}`);
    expect(await carol.getRoster()).toMatchObject([{ jid: `dave@${DOMAIN}`, subscription: 'none', ask: true }]);
    const approved = next(carol, 'presence', (s) => s.attrs.type === 'subscribed');
    const davesPresence = next(carol, 'presence', (s) => s.attrs.type === undefined && s.attrs.from?.startsWith('dave@') === true);
    await dave.sendPresence({ to: `carol@${DOMAIN}`, type: 'subscribed' });
    await approved;
    await davesPresence;
    expect(await carol.getRoster()).toMatchObject([{ jid: `dave@${DOMAIN}`, subscription: 'to' }]);
    expect(await dave.getRoster()).toMatchObject([{ jid: `carol@${DOMAIN}`, subscription: 'from' }]);
    // Dave's available presence now reaches Carol; Carol's does not reach Dave (subscription 'to').
    const away = next(carol, 'presence', (s) => text(child(s, 'show')) === 'away');
    await dave.sendPresence({}, [el('show', 'jabber:client', {}, ['away'])]);
    await away;
    const gone = next(carol, 'presence', (s) => s.attrs.type === 'unavailable');
    await dave.close();
    expect((await gone).attrs.from?.startsWith(`dave@${DOMAIN}/`)).toBe(true);
    await carol.setRosterItem(`dave@${DOMAIN}`, 'Dave', ['Friends']);
    expect(await carol.getRoster()).toMatchObject([{ jid: `dave@${DOMAIN}`, name: 'Dave', groups: ['Friends'], subscription: 'to' }]);
    await carol.removeRosterItem(`dave@${DOMAIN}`);
    expect(await carol.getRoster()).toEqual([]);
    await carol.close();
    listener.close();
  });

  it('enables stream management and acks handled stanzas (XEP-0198 §4)', async () => {
    const alice = await login('alice', 'wonderland', { streamManagement: true });
    expect(alice.streamManagement).toBe(true);
    await alice.sendPresence();
    for (let i = 0; i < 3; i++) await alice.sendMessage(`alice@${DOMAIN}/test`, `note ${i}`);
    expect(await alice.requestAck()).toBe(alice.sentStanzas);
    expect(alice.sentStanzas).toBe(4);
    const closed = new Promise<Error | undefined>((resolve) => alice.on('close', resolve));
    await alice.send(el('a', 'urn:xmpp:sm:3', { h: '1000' }));
    expect(await closed).toMatchObject({ condition: 'undefined-condition' });
  });

  it("closes the stream with invalid-from when a client claims another account's JID (RFC 6120 §8.1.2.1)", async () => {
    const alice = await login('alice', 'wonderland');
    const closed = new Promise<Error | undefined>((resolve) => alice.on('close', resolve));
    await alice.send(el('message', 'jabber:client', { from: `bob@${DOMAIN}`, to: `alice@${DOMAIN}` }, [el('body', 'jabber:client', {}, ['spoof'])]));
    expect(await closed).toMatchObject({ condition: 'invalid-from' });
  });

  it('closes the stream with policy-violation when a stanza exceeds maxStanzaSize', async () => {
    const alice = await login('alice', 'wonderland');
    const closed = new Promise<Error | undefined>((resolve) => alice.on('close', resolve));
    await alice.sendMessage(`bob@${DOMAIN}`, 'x'.repeat(5000));
    const error = await closed;
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).condition).toBe('policy-violation');
    expect(server.stats()['xml-stanza-size']).toBeGreaterThan(0);
  });

  it('closes with restricted-xml on a DOCTYPE before the stream', async () => {
    const flow = await stack.tcp.connect(LOOPBACK, port);
    await flow.write(new TextEncoder().encode(`<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a "aaaa">]>`));
    let received = '';
    for (;;) {
      const chunk = await flow.read();
      if (chunk === null) break;
      received += new TextDecoder().decode(chunk);
    }
    await flow.close();
    expect(received).toContain('restricted-xml');
  });
});

async function readAll(flow: { read(): Promise<Uint8Array | null> }): Promise<string> {
  let received = '';
  for (;;) {
    const chunk = await flow.read();
    if (chunk === null) return received;
    received += new TextDecoder().decode(chunk);
  }
}

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${DOMAIN}' version='1.0'>`;

describe('server limits', () => {
  it('closes a connection that does not bind within negotiationTimeout', async () => {
    const virtual = new VirtualClock();
    const limited = createXmppServer({ clock: virtual, random, crypto: nodeCrypto, store }, { domain: DOMAIN, negotiationTimeout: 1000 });
    const listener = stack.tcp.listen(0, { onConnection: (flow) => void limited.handle(flow) });
    const flow = await stack.tcp.connect(LOOPBACK, listener.port);
    await new Promise((r) => setTimeout(r, 50));
    virtual.advance(999);
    expect(virtual.pendingTimers()).toBeGreaterThan(0);
    virtual.advance(1);
    expect(await readAll(flow)).toContain('connection-timeout');
    await flow.close();
    expect(limited.stats()['negotiation-timeouts']).toBe(1);
    listener.close();
  });

  it('aborts a connection whose peer does not close within closeTimeout (RFC 6120 §4.4)', async () => {
    const virtual = new VirtualClock();
    const limited = createXmppServer({ clock: virtual, random, crypto: nodeCrypto, store }, { domain: DOMAIN, closeTimeout: 1000 });
    let done = false;
    const listener = stack.tcp.listen(0, { onConnection: (flow) => void limited.handle(flow).then(() => (done = true)) });
    const flow = await stack.tcp.connect(LOOPBACK, listener.port);
    await flow.write(new TextEncoder().encode(`${HEADER}</stream:stream>`));
    expect(await readAll(flow)).toContain('</stream:stream>');
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    virtual.advance(1000);
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(true);
    flow.abort();
    listener.close();
  });

  it('ends the stream after maxAuthAttempts failed authentications (RFC 6120 §6.4.5)', async () => {
    const flow = await stack.tcp.connect(LOOPBACK, port);
    const bad = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0bad').toString('base64')}</auth>`;
    await flow.write(new TextEncoder().encode(HEADER + bad + bad + bad));
    const received = await readAll(flow);
    await flow.close();
    expect(received.match(/<failure/g)?.length).toBe(3);
    expect(received).toContain('policy-violation');
  });

  it('refuses more than maxResourcesPerUser sessions with resource-constraint', async () => {
    const limited = createXmppServer({ clock, random, crypto: nodeCrypto, store }, { domain: DOMAIN, maxResourcesPerUser: 1 });
    const listener = stack.tcp.listen(0, { onConnection: (flow) => void limited.handle(flow) });
    const options = { jid: `alice@${DOMAIN}`, password: 'wonderland', clock, random, crypto: nodeCrypto, keepaliveInterval: 0 };
    const first = await connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), options);
    await expect(connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), options)).rejects.toMatchObject({ condition: 'resource-constraint' });
    expect(limited.sessions()).toEqual([formatJid(first.jid)]);
    await first.close();
    listener.close();
  });

  it('refuses sessions beyond maxSessions with resource-constraint', async () => {
    const limited = createXmppServer({ clock, random, crypto: nodeCrypto, store }, { domain: DOMAIN, maxSessions: 1 });
    const listener = stack.tcp.listen(0, { onConnection: (flow) => void limited.handle(flow) });
    const options = { clock, random, crypto: nodeCrypto, keepaliveInterval: 0 };
    const alice = await connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), { ...options, jid: `alice@${DOMAIN}`, password: 'wonderland' });
    await expect(connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), { ...options, jid: `bob@${DOMAIN}`, password: 'builder' })).rejects.toMatchObject({ condition: 'resource-constraint' });
    await alice.close();
    const bob = await connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), { ...options, jid: `bob@${DOMAIN}`, password: 'builder' });
    await bob.close();
    listener.close();
  });

  it('ends the session of a recipient that stops reading once maxPendingWrites stanzas wait', async () => {
    const limited = createXmppServer({ clock, random, crypto: nodeCrypto, store }, { domain: DOMAIN, allowPlainWithoutTls: true, maxPendingWrites: 4 });
    const listener = stack.tcp.listen(0, { onConnection: (flow) => void limited.handle(flow) });
    // Bob negotiates by hand in one burst and then never reads again.
    const bob = await stack.tcp.connect(LOOPBACK, listener.port);
    const auth = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0bob\0builder').toString('base64')}</auth>`;
    const bind = `<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>slow</resource></bind></iq><presence/>`;
    const readUntil = async (marker: string): Promise<void> => {
      let seen = '';
      while (!seen.includes(marker)) {
        const chunk = await bob.read();
        if (chunk === null) throw new Error(`closed before ${marker}: ${seen}`);
        seen += new TextDecoder().decode(chunk);
      }
    };
    await bob.write(new TextEncoder().encode(HEADER + auth));
    await readUntil('<success');
    await bob.write(new TextEncoder().encode(HEADER + bind));
    await readUntil('</iq>');
    const alice = await connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), { jid: `alice@${DOMAIN}`, password: 'wonderland', clock, random, crypto: nodeCrypto, keepaliveInterval: 0 });
    const big = 'x'.repeat(60_000);
    for (let i = 0; i < 200 && limited.stats()['send-queue-full'] === undefined; i++) {
      await alice.sendMessage(`bob@${DOMAIN}/slow`, big);
      await alice.ping();
    }
    expect(limited.stats()['send-queue-full']).toBeGreaterThan(0);
    await alice.close();
    bob.abort();
    listener.close();
  });

  it('sends a whitespace keepalive every keepaliveInterval (RFC 6120 §4.6.1)', async () => {
    const virtual = new VirtualClock();
    const tcp = await stack.tcp.connect(LOOPBACK, port);
    const writes: string[] = [];
    const spy: Flow = {
      read: () => tcp.read(),
      write: (data) => {
        writes.push(new TextDecoder().decode(data));
        return tcp.write(data);
      },
      writev: (chunks) => tcp.writev(chunks),
      shutdown: () => tcp.shutdown(),
      close: () => tcp.close(),
      abort: () => tcp.abort(),
    };
    const alice = await connectXmpp(spy, { jid: `alice@${DOMAIN}/k`, password: 'wonderland', clock: virtual, random, crypto: nodeCrypto, keepaliveInterval: 1000 });
    const spaces = (): number => writes.filter((w) => w === ' ').length;
    virtual.advance(999);
    expect(spaces()).toBe(0);
    virtual.advance(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(spaces()).toBe(1);
    virtual.advance(1000);
    await new Promise((r) => setTimeout(r, 20));
    expect(spaces()).toBe(2);
    await alice.ping();
    await alice.close();
    expect(virtual.pendingTimers()).toBe(0);
  });

  it('survives arbitrary bytes after the stream header: a stream error, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const flow = await stack.tcp.connect(LOOPBACK, port);
        await flow.write(new TextEncoder().encode(HEADER));
        await flow.write(bytes);
        await flow.write(new TextEncoder().encode('</stream:stream>'));
        const received = await readAll(flow);
        await flow.close();
        // Our header always comes first, then features and, for bad input, a stream error.
        expect(received.startsWith("<?xml version='1.0'?><stream:stream ")).toBe(true);
        expect(received.endsWith('</stream:stream>')).toBe(true);
      }),
      { numRuns: 25 },
    );
  });
});

describe.runIf(existsSync('/usr/bin/openssl'))('STARTTLS (RFC 6120 §5)', () => {
  it('upgrades with the injected TLS functions, then authenticates with PLAIN', async () => {
    const cert = selfSigned(DOMAIN);
    const tlsServer = createXmppServer({ clock, random, crypto: nodeCrypto, store, startTls: serverTls(cert) }, { domain: DOMAIN });
    const listener = stack.tcp.listen(0, { onConnection: (flow) => void tlsServer.handle(flow) });
    await expect(connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), { jid: `alice@${DOMAIN}`, password: 'wonderland', clock, random, crypto: nodeCrypto })).rejects.toThrow(/STARTTLS|mechanism/);
    const client = await connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), { jid: `alice@${DOMAIN}`, password: 'wonderland', clock, random, crypto: nodeCrypto, startTls: clientTls(DOMAIN, cert.cert), mechanisms: ['PLAIN'], keepaliveInterval: 0 });
    expect(client.secure).toBe(true);
    expect(client.mechanism).toBe('PLAIN');
    await client.ping();
    await client.close();
    listener.close();
  });
});
