// XEP-0198 resumption over real loopback TCP: a client whose connection is aborted mid-conversation
// resumes its session on a new connection and gets exactly the stanzas it had not handled.
import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Flow, ProtocolError } from '@morgana/core';
import {
  type MemoryStore,
  type XmlElement,
  type XmppClient,
  type XmppServer,
  type XmppServerConfig,
  NS_SASL,
  NS_SM,
  StreamError,
  XmppStream,
  child,
  connectXmpp,
  createMemoryStore,
  createXmppServer,
  el,
  plainMessage,
  text,
  toBase64,
} from '../src/index.js';
import { LOOPBACK, clock, loopbackStack, nodeCrypto, random } from './helpers.js';
import { hasSlixmpp, requirePeer } from './peers.js';

const DOMAIN = 'example.test';
const stack = loopbackStack();
let cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

interface Harness {
  server: XmppServer;
  port: number;
  store: MemoryStore;
  connect(): Promise<Flow>;
  login(user: string, resume: boolean): Promise<{ client: XmppClient; flow: Flow }>;
}

async function harness(config: Partial<XmppServerConfig> = {}): Promise<Harness> {
  const store = createMemoryStore(nodeCrypto, random);
  await store.addUser('alice', 'wonderland');
  await store.addUser('bob', 'builder');
  const server = createXmppServer({ clock, random, crypto: nodeCrypto, store }, { domain: DOMAIN, ...config });
  const listener = stack.tcp.listen(0, { onConnection: (flow) => void server.handle(flow) });
  cleanup.push(async () => {
    await server.close();
    listener.close();
  });
  const connect = (): Promise<Flow> => stack.tcp.connect(LOOPBACK, listener.port);
  const passwords: Record<string, string> = { alice: 'wonderland', bob: 'builder' };
  return {
    server,
    port: listener.port,
    store,
    connect,
    async login(user, resume) {
      const flow = await connect();
      const client = await connectXmpp(flow, { jid: `${user}@${DOMAIN}/r`, password: passwords[user], clock, random, crypto: nodeCrypto, keepaliveInterval: 0, resume });
      cleanup.push(() => client.close());
      return { client, flow };
    },
  };
}

async function until(condition: () => boolean, what: string, seconds = 10): Promise<void> {
  for (let i = 0; i < seconds * 100; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const bodies = (client: XmppClient): string[] => {
  const seen: string[] = [];
  client.on('message', (stanza: XmlElement) => seen.push(text(child(stanza, 'body'))));
  return seen;
};

const closed = (client: XmppClient): Promise<Error | undefined> => new Promise((resolve) => client.on('close', resolve));

describe('XEP-0198 stream resumption', () => {
  it('grants a resumption id and advertises the resume timeout (XEP-0198 §5)', async () => {
    const h = await harness({ resumeTimeout: 120_000 });
    const { client } = await h.login('bob', true);
    expect(client.streamManagement).toBe(true);
    expect(client.resumptionId).toMatch(/.{8,}/);
    expect(h.server.stats()['sm-resumable']).toBe(1);
  });

  it('resumes after the TCP connection is aborted: stanzas sent meanwhile arrive once, in order', async () => {
    const h = await harness();
    const { client: alice } = await h.login('alice', false);
    const { client: bob, flow } = await h.login('bob', true);
    const got = bodies(bob);
    for (const body of ['one', 'two', 'three']) await alice.sendMessage(`bob@${DOMAIN}/r`, body);
    await until(() => got.length === 3, 'the first three messages');
    const dropped = closed(bob);
    flow.abort();
    expect(await dropped).toBeInstanceOf(Error);
    for (const body of ['four', 'five', 'six']) await alice.sendMessage(`bob@${DOMAIN}/r`, body);
    // Alice's ping is answered after the server routed her messages (one stream, in order).
    await alice.ping();
    await until(() => (h.server.stats()['sm-detached'] ?? 0) === 1, 'the server to notice the drop');
    expect(h.server.sessions()).toContain(`bob@${DOMAIN}/r`);
    await bob.resume(await h.connect());
    // Retransmission follows <resumed/> directly, so it is in before the ping's answer.
    await bob.ping();
    expect(got).toEqual(['one', 'two', 'three', 'four', 'five', 'six']);
    expect(h.server.stats()['sm-resumed']).toBe(1);
    // The resumed session carries on both ways.
    const back = new Promise<string>((resolve) => alice.on('message', (s) => resolve(text(child(s, 'body')))));
    await bob.sendMessage(`alice@${DOMAIN}/r`, 'back again');
    expect(await back).toBe('back again');
  });

  it('resends stanzas written into a connection that was already dead, but none the client handled', async () => {
    const h = await harness();
    const { client: alice } = await h.login('alice', false);
    const { client: bob, flow } = await h.login('bob', true);
    const got = bodies(bob);
    await alice.sendMessage(`bob@${DOMAIN}/r`, 'before');
    await until(() => got.length === 1, 'the first message');
    // Abort and send at once: the server may still write into the old connection.
    flow.abort();
    for (let i = 0; i < 5; i++) await alice.sendMessage(`bob@${DOMAIN}/r`, `m${i}`);
    await alice.ping();
    await until(() => (h.server.stats()['sm-detached'] ?? 0) === 1, 'the server to notice the drop');
    await bob.resume(await h.connect());
    await bob.ping();
    expect(got).toEqual(['before', 'm0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('does not resend client stanzas the server reports as handled in <resumed h/>', async () => {
    const h = await harness();
    const { client: alice } = await h.login('alice', false);
    const { client: bob, flow } = await h.login('bob', true);
    const got = bodies(alice);
    for (const body of ['x', 'y', 'z']) await bob.sendMessage(`alice@${DOMAIN}/r`, body);
    await until(() => got.length === 3, "bob's messages");
    expect(bob.sentStanzas).toBe(3);
    const dropped = closed(bob);
    flow.abort();
    await dropped;
    await until(() => (h.server.stats()['sm-detached'] ?? 0) === 1, 'the drop');
    await bob.resume(await h.connect());
    await bob.ping();
    await alice.ping();
    expect(got).toEqual(['x', 'y', 'z']);
  });

  it('refuses an unknown resumption id with item-not-found', async () => {
    const h = await harness();
    const { client: bob, flow } = await h.login('bob', true);
    const dropped = closed(bob);
    flow.abort();
    await dropped;
    await until(() => (h.server.stats()['sm-detached'] ?? 0) === 1, 'the drop');
    await h.server.close();
    await expect(bob.resume(await h.connect())).rejects.toThrow(/item-not-found/);
    expect(h.server.stats()['sm-resume-failed']).toBe(1);
  });

  it('ends a detached session after resumeTimeout, with unavailable presence to its contacts', async () => {
    const h = await harness({ resumeTimeout: 50 });
    const { client: bob, flow } = await h.login('bob', true);
    const dropped = closed(bob);
    flow.abort();
    await dropped;
    await until(() => (h.server.stats()['sm-resume-timeouts'] ?? 0) === 1, 'the resume timeout');
    expect(h.server.sessions()).not.toContain(`bob@${DOMAIN}/r`);
    await expect(bob.resume(await h.connect())).rejects.toBeInstanceOf(ProtocolError);
  });

  it('ends a detached session whose queue reaches maxUnackedStanzas', async () => {
    const h = await harness({ maxUnackedStanzas: 4 });
    const { client: alice } = await h.login('alice', false);
    const { client: bob, flow } = await h.login('bob', true);
    const dropped = closed(bob);
    flow.abort();
    await dropped;
    await until(() => (h.server.stats()['sm-detached'] ?? 0) === 1, 'the drop');
    for (let i = 0; i < 5; i++) await alice.sendMessage(`bob@${DOMAIN}/r`, `m${i}`);
    await alice.ping();
    expect(h.server.stats()['sm-unacked-full']).toBe(1);
    expect(h.server.sessions()).not.toContain(`bob@${DOMAIN}/r`);
  });

  it('requests acks every ackRequestInterval stanzas so a live session stays under maxUnackedStanzas', async () => {
    const h = await harness({ maxUnackedStanzas: 4, ackRequestInterval: 2 });
    const { client: alice } = await h.login('alice', false);
    const { client: bob } = await h.login('bob', true);
    const got = bodies(bob);
    for (let i = 0; i < 30; i++) {
      await alice.sendMessage(`bob@${DOMAIN}/r`, `m${i}`);
      await until(() => got.length === i + 1, `message ${i}`);
    }
    expect(h.server.stats()['sm-unacked-full']).toBeUndefined();
    expect(h.server.sessions()).toContain(`bob@${DOMAIN}/r`);
  });

  it('keeps pending iqs across a drop and rejects them when the client gives up with close()', async () => {
    const h = await harness();
    const { client: alice } = await h.login('alice', false);
    const asked = new Promise<void>((resolve) => alice.on('iq', () => resolve()));
    const { client: bob, flow } = await h.login('bob', true);
    // Alice takes the request and never answers, so it is still pending when the link drops.
    const pending = bob.iq('get', `alice@${DOMAIN}/r`, el('query', 'urn:example:slow'));
    await asked;
    const dropped = closed(bob);
    flow.abort();
    await dropped;
    let settled = false;
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    await bob.close();
    await expect(pending).rejects.toBeInstanceOf(ProtocolError);
    await expect(bob.resume(await h.connect())).rejects.toBeInstanceOf(ProtocolError);
  });

  it('does not keep a session the client closed cleanly', async () => {
    const h = await harness();
    const { client: bob } = await h.login('bob', true);
    await bob.close();
    await until(() => !h.server.sessions().includes(`bob@${DOMAIN}/r`), 'the session to end');
    expect(h.server.stats()['sm-detached']).toBeUndefined();
    await expect(bob.resume(await h.connect())).rejects.toBeInstanceOf(ProtocolError);
  });
});

/** A hand-driven stream authenticated with PLAIN, stopped at the post-SASL features. */
async function rawLogin(h: Harness, user: string, password: string): Promise<XmppStream> {
  const stream = new XmppStream(await h.connect(), {}, clock, 1000);
  cleanup.push(() => stream.close());
  const open = async (): Promise<XmlElement> => {
    await stream.sendHeader({ to: DOMAIN });
    await stream.next();
    return stream.nextElement();
  };
  await open();
  await stream.send(el('auth', NS_SASL, { mechanism: 'PLAIN' }, [toBase64(plainMessage(user, password))]));
  expect((await stream.nextElement()).name).toBe('success');
  stream.restart();
  await open();
  return stream;
}

describe('XEP-0198 resume requests', () => {
  it("refuses to resume another account's session with item-not-found", async () => {
    const h = await harness({ allowPlainWithoutTls: true });
    const { client: bob, flow } = await h.login('bob', true);
    const dropped = closed(bob);
    flow.abort();
    await dropped;
    await until(() => (h.server.stats()['sm-detached'] ?? 0) === 1, 'the drop');
    const mallory = await rawLogin(h, 'alice', 'wonderland');
    await mallory.send(el('resume', NS_SM, { previd: bob.resumptionId, h: '0' }));
    const answer = await mallory.nextElement();
    expect(answer.name).toBe('failed');
    expect(child(answer, 'item-not-found')).toBeDefined();
    expect(h.server.sessions()).toContain(`bob@${DOMAIN}/r`);
  });

  it('takes a session over from a connection that still looks alive', async () => {
    const h = await harness({ allowPlainWithoutTls: true });
    const { client: alice } = await h.login('alice', false);
    const { client: bob } = await h.login('bob', true);
    const oldClosed = closed(bob);
    const raw = await rawLogin(h, 'bob', 'builder');
    await raw.send(el('resume', NS_SM, { previd: bob.resumptionId, h: '0' }));
    const answer = await raw.nextElement();
    expect(answer).toMatchObject({ name: 'resumed', attrs: { previd: bob.resumptionId, h: '0' } });
    await oldClosed;
    await alice.sendMessage(`bob@${DOMAIN}/r`, 'to the new connection');
    const message = await raw.nextElement();
    expect(text(child(message, 'body'))).toBe('to the new connection');
  });

  it('ends the stream when resume acknowledges more than was sent (handled-count-too-high)', async () => {
    const h = await harness({ allowPlainWithoutTls: true });
    const { client: bob, flow } = await h.login('bob', true);
    const dropped = closed(bob);
    flow.abort();
    await dropped;
    await until(() => (h.server.stats()['sm-detached'] ?? 0) === 1, 'the drop');
    const raw = await rawLogin(h, 'bob', 'builder');
    await raw.send(el('resume', NS_SM, { previd: bob.resumptionId, h: '7' }));
    await expect(raw.nextElement()).rejects.toBeInstanceOf(StreamError);
    expect(h.server.stats()['sm-bad-ack']).toBe(1);
  });
});

describe('XEP-0198 resumption with slixmpp', () => {
  const available = requirePeer('/usr/bin/python3', 'python3-slixmpp', hasSlixmpp);
  it.runIf(available)('a slixmpp client resumes after its connection is aborted and gets the messages sent meanwhile once', async () => {
    const h = await harness();
    const { client: alice } = await h.login('alice', false);
    const script = join(tmpdir(), `morgana-slixmpp-resume-${process.pid}.py`);
    copyFileSync(new URL('./fixtures/slixmpp-resume.py', import.meta.url), script);
    const child = spawn('/usr/bin/python3', [script, String(h.port), `bob@${DOMAIN}/slix`, 'builder'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    cleanup.push(async () => {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const events: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line) as Record<string, unknown>);
    });
    const seen = (event: string): Promise<void> => until(() => events.some((e) => e.event === event), `slixmpp ${event}: ${JSON.stringify(events)} ${stderr.slice(-2000)}`, 30);
    await seen('enabled');
    await alice.sendMessage(`bob@${DOMAIN}/slix`, 'before');
    await seen('dropped');
    await until(() => (h.server.stats()['sm-detached'] ?? 0) === 1, 'the server to notice the drop');
    for (const body of ['away-1', 'away-2']) await alice.sendMessage(`bob@${DOMAIN}/slix`, body);
    await alice.ping();
    child.stdin.write('go\n');
    await seen('done');
    const bodies = events.filter((e) => e.event === 'message').map((e) => e.body);
    expect(bodies).toEqual(['before', 'away-1', 'away-2']);
    expect(events.find((e) => e.event === 'enabled')).toMatchObject({ resume: true });
    expect(h.server.stats()['sm-resumed']).toBe(1);
  });
});
