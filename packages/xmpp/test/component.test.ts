// XEP-0114 component side against a scripted server: the stream open, the SHA-1 handshake,
// refusals as typed errors, stanzas for any address of the domain, and hostile input.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, TimeoutError } from '@morgana/core';
import { type ScriptedFlow, VirtualClock, createScriptedFlow } from '@morgana/testing';
import { ComponentError, NS_CLIENT, NS_COMPONENT_ACCEPT, NS_PING, StanzaError, XmlStreamParser, type XmlElement, type XmppComponent, child, componentHandshake, connectComponent, el } from '../src/index.js';
import { nodeCrypto } from './helpers.js';

const DOMAIN = 'component.example.test';
const SECRET = 'sesame';
const STREAMS = 'http://etherx.jabber.org/streams';
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/** The server's side: reads what the component wrote as XML events, writes raw XML. */
class ScriptedServer {
  readonly peer: ScriptedFlow = createScriptedFlow();
  private readonly parser = new XmlStreamParser();
  private consumed = 0;
  send(xml: string): void {
    this.peer.push(encoder.encode(xml));
  }
  /** Everything the component wrote since the last call, as text. */
  raw(): string {
    const text = this.peer.written.slice(this.consumed).map((c) => decoder.decode(c)).join('');
    this.consumed = this.peer.written.length;
    return text;
  }
  /** Stanzas the component wrote since the last call (the stream header is parsed too). */
  stanzas(): XmlElement[] {
    return this.parser.pushText(this.raw()).flatMap((e) => (e.type === 'stanza' ? [e.element] : []));
  }
  header(id?: string): void {
    this.send(`<?xml version='1.0'?><stream:stream xmlns='${NS_COMPONENT_ACCEPT}' xmlns:stream='${STREAMS}' from='${DOMAIN}'${id === undefined ? '' : ` id='${id}'`}>`);
  }
  streamError(condition: string): void {
    this.send(`<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`);
  }
}

async function connected(server: ScriptedServer, clock = new VirtualClock()): Promise<XmppComponent> {
  const pending = connectComponent(server.peer.flow, { domain: DOMAIN, secret: SECRET, clock, crypto: nodeCrypto, keepaliveInterval: 0 });
  server.header('stream-1');
  await flush();
  expect(server.stanzas().map((s) => s.name)).toEqual(['handshake']);
  server.send('<handshake/>');
  return pending;
}

describe('XEP-0114 component', () => {
  it('opens a jabber:component:accept stream to its domain and answers with SHA-1(id + secret) in lowercase hex (XEP-0114 §3)', async () => {
    const server = new ScriptedServer();
    const pending = connectComponent(server.peer.flow, { domain: DOMAIN.toUpperCase(), secret: SECRET, clock: new VirtualClock(), crypto: nodeCrypto, keepaliveInterval: 0 });
    await flush();
    const opened = new XmlStreamParser().pushText(server.raw());
    expect(opened[0]).toMatchObject({ type: 'stream-open', element: { name: 'stream', ns: STREAMS, attrs: { to: DOMAIN } } });
    server.header('3BF96D32');
    await flush();
    const written = server.raw();
    expect(written).toMatch(/^<handshake>[0-9a-f]{40}<\/handshake>$/);
    const expected = createHash('sha1').update(`3BF96D32${SECRET}`).digest('hex');
    expect(written).toBe(`<handshake>${expected}</handshake>`);
    server.send('<handshake/>');
    const component = await pending;
    expect(component.domain).toBe(DOMAIN);
    await component.close();
    expect(server.raw()).toBe('</stream:stream>');
    expect(server.peer.closed).toBe(true);
  });

  it('hashes any stream id and secret as SHA-1 over their UTF-8 concatenation, in lowercase hex', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), async (streamId, secret) => {
        expect(await componentHandshake(nodeCrypto, streamId, secret)).toBe(createHash('sha1').update(streamId + secret, 'utf8').digest('hex'));
      }),
      { numRuns: 100 },
    );
  });

  it.each(['not-authorized', 'conflict'])('rejects with ComponentError(%s) when the server refuses the handshake', async (condition) => {
    const server = new ScriptedServer();
    const pending = connectComponent(server.peer.flow, { domain: DOMAIN, secret: 'wrong', clock: new VirtualClock(), crypto: nodeCrypto });
    server.header('id-2');
    await flush();
    server.streamError(condition);
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ComponentError);
    expect((error as ComponentError).condition).toBe(condition);
    expect(server.peer.closed).toBe(true);
  });

  it('rejects with ComponentError(host-unknown) when the server answers the header with an error and no id', async () => {
    const server = new ScriptedServer();
    const pending = connectComponent(server.peer.flow, { domain: 'unknown.example.test', secret: SECRET, clock: new VirtualClock(), crypto: nodeCrypto });
    server.header();
    server.streamError('host-unknown');
    await expect(pending).rejects.toMatchObject({ name: expect.any(String), condition: 'host-unknown' });
  });

  it('gives up with TimeoutError when the server never completes the handshake (handshakeTimeout)', async () => {
    const server = new ScriptedServer();
    const clock = new VirtualClock();
    const pending = connectComponent(server.peer.flow, { domain: DOMAIN, secret: SECRET, clock, crypto: nodeCrypto, handshakeTimeout: 1000 });
    server.header('slow');
    await flush();
    clock.advance(999);
    expect(server.peer.aborted).toBe(false);
    clock.advance(1);
    await expect(pending).rejects.toBeInstanceOf(TimeoutError);
    expect(server.peer.aborted).toBe(true);
  });

  it('sends from any address of its domain and refuses others', async () => {
    const server = new ScriptedServer();
    const component = await connected(server);
    await component.sendMessage(`bot@${DOMAIN}/r`, 'alice@example.test', 'hi');
    await component.send(el('presence', NS_CLIENT, { to: 'alice@example.test' }, [el('show', NS_CLIENT, {}, ['chat'])]));
    const [message, presence] = server.stanzas();
    expect(message).toMatchObject({ name: 'message', ns: NS_COMPONENT_ACCEPT, attrs: { from: `bot@${DOMAIN}/r`, to: 'alice@example.test', type: 'chat' } });
    expect(presence).toEqual({ name: 'presence', ns: NS_COMPONENT_ACCEPT, attrs: { to: 'alice@example.test', from: DOMAIN }, children: [{ name: 'show', ns: NS_COMPONENT_ACCEPT, attrs: {}, children: ['chat'] }] });
    await expect(component.sendMessage('alice@example.test', 'bob@example.test', 'spoof')).rejects.toBeInstanceOf(ProtocolError);
    await expect(component.sendMessage(`x@sub.${DOMAIN}`, 'bob@example.test', 'spoof')).rejects.toBeInstanceOf(ProtocolError);
    expect(server.stanzas()).toEqual([]);
    await component.close();
  });

  it('delivers stanzas addressed to its domain and drops others, counted', async () => {
    const server = new ScriptedServer();
    const component = await connected(server);
    const got: XmlElement[] = [];
    component.on('message', (m) => got.push(m));
    server.send(`<message from='alice@example.test/a' to='anyone@${DOMAIN}'><body>one</body></message>`);
    server.send(`<message from='alice@example.test/a' to='someone@elsewhere.test'><body>two</body></message>`);
    server.send(`<message from='alice@example.test/a' to='${DOMAIN}'><body>three</body></message>`);
    await flush();
    expect(got.map((m) => m.attrs.to)).toEqual([`anyone@${DOMAIN}`, DOMAIN]);
    expect(component.stats()).toMatchObject({ 'stanzas-in': 2, 'foreign-to': 1 });
    await component.close();
  });

  it('answers ping and disco#info itself and unhandled iq requests with service-unavailable (XEP-0199, XEP-0030)', async () => {
    const server = new ScriptedServer();
    const component = await connected(server);
    server.send(`<iq type='get' id='p1' from='example.test' to='bot@${DOMAIN}'><ping xmlns='${NS_PING}'/></iq>`);
    server.send(`<iq type='get' id='d1' from='example.test' to='${DOMAIN}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    server.send(`<iq type='set' id='x1' from='alice@example.test/a' to='${DOMAIN}'><command xmlns='urn:example'/></iq>`);
    await flush();
    const [pong, disco, refusal] = server.stanzas();
    expect(pong.attrs).toEqual({ type: 'result', id: 'p1', to: 'example.test', from: `bot@${DOMAIN}` });
    expect(child(child(disco, 'query') as XmlElement, 'identity')?.attrs).toMatchObject({ category: 'component' });
    expect(refusal.attrs).toMatchObject({ type: 'error', id: 'x1', to: 'alice@example.test/a', from: DOMAIN });
    expect(child(child(refusal, 'error') as XmlElement, 'service-unavailable')).toBeDefined();
    await component.close();
  });

  it('resolves iq requests with their result, rejects errors as StanzaError and silence with TimeoutError', async () => {
    const server = new ScriptedServer();
    const clock = new VirtualClock();
    const component = await connected(server, clock);
    const ok = component.iq('get', DOMAIN, 'example.test', el('ping', NS_PING));
    const refused = component.iq('get', DOMAIN, 'example.test', el('query', 'urn:example'));
    const silent = component.iq('get', DOMAIN, 'example.test', el('ping', NS_PING));
    await flush();
    const [a, b] = server.stanzas();
    server.send(`<iq type='result' id='${a.attrs.id}' from='example.test' to='${DOMAIN}'/>`);
    server.send(`<iq type='error' id='${b.attrs.id}' from='example.test' to='${DOMAIN}'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
    await expect(ok).resolves.toMatchObject({ attrs: { type: 'result' } });
    await expect(refused).rejects.toMatchObject({ condition: 'feature-not-implemented' });
    await expect(refused).rejects.toBeInstanceOf(StanzaError);
    clock.advance(30_000);
    await expect(silent).rejects.toBeInstanceOf(TimeoutError);
    await component.close();
  });

  it('refuses more than maxPendingIqs unanswered requests', async () => {
    const server = new ScriptedServer();
    const clock = new VirtualClock();
    const pending = connectComponent(server.peer.flow, { domain: DOMAIN, secret: SECRET, clock, crypto: nodeCrypto, keepaliveInterval: 0, maxPendingIqs: 2 });
    server.header('s');
    await flush();
    server.stanzas();
    server.send('<handshake/>');
    const component = await pending;
    const first = component.iq('get', DOMAIN, 'example.test', el('ping', NS_PING));
    const second = component.iq('get', DOMAIN, 'example.test', el('ping', NS_PING));
    await expect(component.iq('get', DOMAIN, 'example.test', el('ping', NS_PING))).rejects.toThrow(/maxPendingIqs/);
    await component.close();
    await expect(first).rejects.toBeInstanceOf(ProtocolError);
    await expect(second).rejects.toBeInstanceOf(ProtocolError);
  });

  it('ends with a close event carrying the stream error the server sends later', async () => {
    const server = new ScriptedServer();
    const component = await connected(server);
    const closed = new Promise<Error | undefined>((resolve) => component.on('close', resolve));
    server.streamError('system-shutdown');
    expect(await closed).toMatchObject({ condition: 'system-shutdown' });
  });

  it('never throws out of its read loop on arbitrary bytes from the server', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 120 }), async (bytes) => {
        const server = new ScriptedServer();
        const component = await connected(server);
        const closed = new Promise<Error | undefined>((resolve) => component.on('close', resolve));
        server.peer.push(bytes);
        server.peer.end();
        const error = await closed;
        if (error !== undefined) expect(error).toBeInstanceOf(Error);
      }),
      { numRuns: 100 },
    );
  });
});
