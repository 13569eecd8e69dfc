// Interop with real peers on loopback: the morgana client against Prosody, and slixmpp clients
// against the morgana server. Skips with a reason when a peer is missing, fails instead when
// MORGANA_INTEROP=required.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type XmlElement, type XmppClient, type XmppClientOptions, child, connectXmpp, createMemoryStore, createXmppServer, text } from '../src/index.js';
import { LOOPBACK, clientTls, clock, loopbackStack, nodeCrypto, random, selfSigned, serverTls } from './helpers.js';
import { type Prosody, hasSlixmpp, requirePeer, runSlixmpp, slixmppVersion, startProsody } from './peers.js';

const stack = loopbackStack();
afterAll(() => stack.close());

function next(client: XmppClient, event: 'message' | 'presence', filter: (s: XmlElement) => boolean = () => true): Promise<XmlElement> {
  return new Promise((resolve) => client.on(event, (stanza) => filter(stanza) && resolve(stanza)));
}

const haveProsody = requirePeer('/usr/bin/prosody', 'prosody') && requirePeer('/usr/bin/openssl', 'openssl');

describe.runIf(haveProsody)('morgana client against Prosody', () => {
  const HOST = 'localhost';
  let prosody: Prosody;
  beforeAll(async () => {
    prosody = await startProsody(HOST);
    prosody.register('alice', 'wonderland');
    prosody.register('bob', 'builder');
    console.log(`peer: ${prosody.version} on 127.0.0.1:${prosody.port}`);
  });
  afterAll(() => prosody?.stop());

  async function login(user: string, password: string, extra: Partial<XmppClientOptions> = {}): Promise<XmppClient> {
    const flow = await stack.tcp.connect(LOOPBACK, prosody.port);
    return connectXmpp(flow, { jid: `${user}@${HOST}/morgana`, password, clock, random, crypto: nodeCrypto, keepaliveInterval: 0, ...extra });
  }

  it('logs in with SCRAM-SHA-1 over plaintext, pings and discovers the server', async () => {
    const alice = await login('alice', 'wonderland', { mechanisms: ['SCRAM-SHA-1'] });
    expect(alice.mechanism).toBe('SCRAM-SHA-1');
    expect(alice.secure).toBe(false);
    expect(alice.jid).toEqual({ local: 'alice', domain: HOST, resource: 'morgana' });
    await alice.ping();
    expect(await alice.discoInfo()).toContain('urn:xmpp:ping');
    await alice.close();
  });

  it('logs in with STARTTLS + SCRAM-SHA-1, and with PLAIN', async () => {
    const bob = await login('bob', 'builder', { startTls: clientTls(HOST, prosody.cert), mechanisms: ['SCRAM-SHA-1'] });
    expect(bob.secure).toBe(true);
    await bob.ping();
    await bob.close();
    const plain = await login('bob', 'builder', { mechanisms: ['PLAIN'], allowPlainWithoutTls: true });
    expect(plain.mechanism).toBe('PLAIN');
    await plain.close();
  });

  it('enables stream management and gets acks (XEP-0198)', async () => {
    const alice = await login('alice', 'wonderland', { streamManagement: true });
    expect(alice.streamManagement).toBe(true);
    await alice.ping();
    await alice.sendMessage(`alice@${HOST}/nowhere`, 'to myself');
    expect(await alice.requestAck()).toBe(alice.sentStanzas);
    await alice.close();
  });

  it('resumes its session after the TCP connection is aborted (XEP-0198 §5)', async () => {
    const alice = await login('alice', 'wonderland');
    const flow = await stack.tcp.connect(LOOPBACK, prosody.port);
    const bob = await connectXmpp(flow, { jid: `bob@${HOST}/resumer`, password: 'builder', clock, random, crypto: nodeCrypto, keepaliveInterval: 0, resume: true });
    expect(bob.resumptionId).toBeDefined();
    const got: string[] = [];
    bob.on('message', (stanza) => got.push(text(child(stanza, 'body'))));
    const first = next(bob, 'message');
    await alice.sendMessage(`bob@${HOST}/resumer`, 'one');
    await first;
    const dropped = new Promise((resolve) => bob.on('close', resolve));
    flow.abort();
    await dropped;
    for (const body of ['two', 'three']) await alice.sendMessage(`bob@${HOST}/resumer`, body);
    await alice.ping();
    await bob.resume(await stack.tcp.connect(LOOPBACK, prosody.port));
    await bob.ping();
    expect(got).toEqual(['one', 'two', 'three']);
    await bob.close();
    await alice.close();
  });

  it('is refused with a wrong password', async () => {
    await expect(login('alice', 'wrong', { mechanisms: ['SCRAM-SHA-1'] })).rejects.toMatchObject({ condition: 'not-authorized' });
  });

  it('subscribes, exchanges presence and chats with another account', async () => {
    const alice = await login('alice', 'wonderland', { mechanisms: ['SCRAM-SHA-1'] });
    const bob = await login('bob', 'builder', { startTls: clientTls(HOST, prosody.cert) });
    await alice.getRoster();
    await bob.getRoster();
    await alice.sendPresence();
    await bob.sendPresence();
    const request = next(bob, 'presence', (s) => s.attrs.type === 'subscribe');
    const pushed = new Promise<void>((resolve) => alice.on('roster-push', (item) => item.jid === `bob@${HOST}` && item.subscription === 'to' && resolve()));
    await alice.sendPresence({ to: `bob@${HOST}`, type: 'subscribe' });
    expect((await request).attrs.from).toBe(`alice@${HOST}`);
    const bobsPresence = next(alice, 'presence', (s) => s.attrs.from === `bob@${HOST}/morgana` && s.attrs.type === undefined);
    await bob.sendPresence({ to: `alice@${HOST}`, type: 'subscribed' });
    await pushed;
    await bobsPresence;
    expect(await alice.getRoster()).toMatchObject([{ jid: `bob@${HOST}`, subscription: 'to' }]);
    const atBob = next(bob, 'message');
    await alice.sendMessage(`bob@${HOST}`, 'hello bob <&>');
    const received = await atBob;
    expect(text(child(received, 'body'))).toBe('hello bob <&>');
    expect(received.attrs.from).toBe(`alice@${HOST}/morgana`);
    const atAlice = next(alice, 'message');
    await bob.sendMessage(received.attrs.from ?? '', 'hi alice ☺');
    expect(text(child(await atAlice, 'body'))).toBe('hi alice ☺');
    const gone = next(alice, 'presence', (s) => s.attrs.type === 'unavailable');
    await bob.close();
    expect((await gone).attrs.from).toBe(`bob@${HOST}/morgana`);
    await alice.close();
  });
});

const haveSlixmpp = requirePeer('/usr/bin/python3', 'python3-slixmpp', hasSlixmpp) && requirePeer('/usr/bin/openssl', 'openssl');

describe.runIf(haveSlixmpp)('slixmpp clients against the morgana server', () => {
  it('log in over STARTTLS with SCRAM, chat with each other and with a morgana client, disco and ping', async () => {
    const HOST = 'example.test';
    console.log(`peer: slixmpp ${slixmppVersion()}`);
    const cert = selfSigned(HOST);
    const store = createMemoryStore(nodeCrypto, random);
    await store.addUser('alice', 'wonderland');
    await store.addUser('bob', 'builder');
    await store.addUser('carol', 'c');
    const server = createXmppServer({ clock, random, crypto: nodeCrypto, store, startTls: serverTls(cert) }, { domain: HOST });
    const listener = stack.tcp.listen(0, { onConnection: (flow) => void server.handle(flow) });
    const carol = await connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), {
      jid: `carol@${HOST}/m`,
      password: 'c',
      clock,
      random,
      crypto: nodeCrypto,
      keepaliveInterval: 0,
      startTls: clientTls(HOST, cert.cert),
    });
    await carol.sendPresence();
    carol.on('message', (m) => {
      if (m.attrs.type !== 'error') void carol.sendMessage(m.attrs.from ?? '', `echo: ${text(child(m, 'body'))}`);
    });
    const result = await runSlixmpp(listener.port, HOST, `carol@${HOST}/m`);
    if (result.code !== 0) console.log(result.stderr);
    expect(result.events).toContainEqual(expect.objectContaining({ event: 'message', at: 'b', sender: `alice@${HOST}/slix`, body: 'hello from a' }));
    expect(result.events).toContainEqual(expect.objectContaining({ event: 'message', at: 'a', sender: `bob@${HOST}/slix`, body: 'reply from b' }));
    expect(result.events).toContainEqual(expect.objectContaining({ event: 'message', at: 'a', sender: `carol@${HOST}/m`, body: 'echo: hello third' }));
    expect(result.events).toContainEqual(expect.objectContaining({ event: 'ping' }));
    // slixmpp authorizes and subscribes back by default: both rosters end at 'both'.
    expect(result.events).toContainEqual({ event: 'roster', a: 'both', b: 'both' });
    console.log(`morgana server counters: ${JSON.stringify(server.stats())}`);
    expect(result.code).toBe(0);
    console.log(`slixmpp: ${JSON.stringify(result.events[0])}`);
    await carol.close();
    listener.close();
    await server.close();
  });
});
