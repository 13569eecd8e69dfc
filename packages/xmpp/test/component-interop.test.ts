// XEP-0114 against Prosody on loopback: a morgana component connects to Prosody's component
// port; a morgana client on Prosody talks to it. Skips with a reason when Prosody is missing,
// fails instead when MORGANA_INTEROP=required.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComponentError, type XmlElement, type XmppComponent, child, connectComponent, connectXmpp, text } from '../src/index.js';
import { LOOPBACK, clock, loopbackStack, nodeCrypto, random } from './helpers.js';
import { type Prosody, requirePeer, startProsody } from './peers.js';

const HOST = 'localhost';
const COMPONENT = 'component.localhost';
const SECRET = 'component-secret';
const stack = loopbackStack();
afterAll(() => stack.close());

const haveProsody = requirePeer('/usr/bin/prosody', 'prosody') && requirePeer('/usr/bin/openssl', 'openssl');

describe.runIf(haveProsody)('morgana component against Prosody (XEP-0114)', () => {
  let prosody: Prosody;
  beforeAll(async () => {
    prosody = await startProsody(HOST, { domain: COMPONENT, secret: SECRET });
    prosody.register('alice', 'wonderland');
    console.log(`peer: ${prosody.version}, component port 127.0.0.1:${prosody.componentPort}`);
  });
  afterAll(() => prosody?.stop());

  async function component(domain = COMPONENT, secret = SECRET): Promise<XmppComponent> {
    const flow = await stack.tcp.connect(LOOPBACK, prosody.componentPort ?? 0);
    return connectComponent(flow, { domain, secret, clock, crypto: nodeCrypto, keepaliveInterval: 0 });
  }

  it('answers a client on Prosody from any address of its domain, and answers pings', async () => {
    const echo = await component();
    echo.on('message', (message: XmlElement) => {
      const body = text(child(message, 'body'));
      if (body !== '') void echo.sendMessage(message.attrs.to, message.attrs.from, `echo: ${body}`);
    });
    const alice = await connectXmpp(await stack.tcp.connect(LOOPBACK, prosody.port), { jid: `alice@${HOST}/morgana`, password: 'wonderland', clock, random, crypto: nodeCrypto, keepaliveInterval: 0 });
    const reply = new Promise<XmlElement>((resolve) => alice.on('message', resolve));
    await alice.sendMessage(`bot@${COMPONENT}/r1`, 'hello component');
    const got = await reply;
    expect(got.attrs.from).toBe(`bot@${COMPONENT}/r1`);
    expect(got.attrs.to).toBe(`alice@${HOST}/morgana`);
    expect(text(child(got, 'body'))).toBe('echo: hello component');
    await alice.ping(COMPONENT);
    expect(echo.stats()['stanzas-in']).toBeGreaterThanOrEqual(2);
    await alice.close();
    await echo.close();
  });

  it('gets not-authorized for a wrong secret and conflict for a second connection of the domain', async () => {
    const wrong = await component(COMPONENT, 'not-the-secret').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ComponentError);
    expect((wrong as ComponentError).condition).toBe('not-authorized');
    const first = await component();
    const second = await component().catch((e: unknown) => e);
    expect(second).toBeInstanceOf(ComponentError);
    expect((second as ComponentError).condition).toBe('conflict');
    await first.close();
  });

  it('gets host-unknown for a domain Prosody has no component for', async () => {
    const error = await component('nothing.localhost').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ComponentError);
    expect((error as ComponentError).condition).toBe('host-unknown');
  });
});
