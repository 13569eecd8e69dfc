/**
 * XEP-0114 Jabber Component Protocol, component side: an external service (a gateway, a bot
 * domain) connects to a server as a whole domain. It opens a `jabber:component:accept` stream
 * to its domain, proves it knows the shared secret with `<handshake/>` (SHA-1 over the stream id
 * and the secret), then sends and receives stanzas for any address in that domain.
 */
import type { Clock, Flow, Timer } from '@morgana/core';
import { CounterSet, ProtocolError, TimeoutError } from '@morgana/core';
import { tryParseJid, prepareDomain } from './jid.js';
import type { ScramCrypto } from './sasl.js';
import { NS_CLIENT, NS_COMPONENT_ACCEPT, NS_DISCO_INFO, NS_PING, NS_STREAMS, StreamError, XmppStream, stanzaError, stanzaErrorOf, streamErrorOf } from './stream.js';
import { XmlError, type XmlElement, type XmlLimits, children, el } from './xml.js';

/** Options of {@link connectComponent}. */
export interface ComponentOptions {
  /** The component's domain as the server knows it, e.g. `component.example.test`. */
  readonly domain: string;
  /** The secret shared with the server (Prosody's `component_secret`). */
  readonly secret: string;
  readonly clock: Clock;
  /** SHA-1 for the handshake (the `digest` of the injected SCRAM crypto). */
  readonly crypto: Pick<ScramCrypto, 'digest'>;
  /** Milliseconds the stream open and handshake may take; default 30 000. */
  readonly handshakeTimeout?: number;
  /** Milliseconds to wait for an iq response; default 30 000. */
  readonly iqTimeout?: number;
  /** Milliseconds between whitespace keepalives; 0 disables; default 60 000. */
  readonly keepaliveInterval?: number;
  /** Milliseconds to wait for the server's closing tag before aborting; default 5000. */
  readonly closeTimeout?: number;
  /** iq requests of ours waiting for an answer; past it `iq()` rejects; default 1000. */
  readonly maxPendingIqs?: number;
  /** Name in the disco#info identity the component answers with; default `morgana`. */
  readonly name?: string;
  readonly limits?: Partial<XmlLimits>;
}

/** Defaults of {@link ComponentOptions}. */
export const XMPP_COMPONENT_DEFAULTS = { handshakeTimeout: 30_000, iqTimeout: 30_000, keepaliveInterval: 60_000, closeTimeout: 5_000, maxPendingIqs: 1000, name: 'morgana' };

/**
 * The server refused the component (XEP-0114 §3): `not-authorized` (wrong secret),
 * `conflict` (the domain is already connected), `host-unknown` (no such component domain), or
 * another stream error condition.
 */
export class ComponentError extends ProtocolError {
  readonly condition: string;
  constructor(condition: string, text?: string) {
    super(`XMPP component refused: ${condition}${text ? ` (${text})` : ''}`);
    this.condition = condition;
  }
}

/** Events of {@link XmppComponent}. */
export interface XmppComponentEvents {
  message: (stanza: XmlElement) => void;
  presence: (stanza: XmlElement) => void;
  /** An iq request other than ping and disco#info; answer it with `send`. */
  iq: (stanza: XmlElement) => void;
  /** The stream ended; `error` says why when it was not a clean close. */
  close: (error?: Error) => void;
}

/** A connected component. */
export interface XmppComponent {
  /** The domain it serves. */
  readonly domain: string;
  on<E extends keyof XmppComponentEvents>(event: E, handler: XmppComponentEvents[E]): void;
  /**
   * Sends a stanza; its `from` must be the domain or an address in it (default: the domain).
   * Throws {@link ProtocolError} for a `from` outside the domain, which the server would
   * answer with a stream error.
   */
  send(stanza: XmlElement): Promise<void>;
  sendMessage(from: string, to: string, body: string, type?: string): Promise<void>;
  /** Sends an iq from `from` and resolves with the result; rejects with `StanzaError` or `TimeoutError`. */
  iq(type: 'get' | 'set', from: string, to: string, payload: XmlElement): Promise<XmlElement>;
  /** Counters: `stanzas-in`, `stanzas-out`, `foreign-to` (stanzas not for the domain, dropped), ... */
  stats(): Record<string, number>;
  close(): Promise<void>;
}

/** `stanza` with `jabber:client` elements moved to the component namespace, so client-built stanzas serialize without a stray xmlns. */
function inComponentNs(element: XmlElement): XmlElement {
  if (element.ns !== NS_CLIENT) return element;
  return { ...element, ns: NS_COMPONENT_ACCEPT, children: element.children.map((c) => (typeof c === 'string' ? c : inComponentNs(c))) };
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The handshake value: lowercase hex of SHA-1(stream id + secret) (XEP-0114 §3). */
export async function componentHandshake(crypto: Pick<ScramCrypto, 'digest'>, streamId: string, secret: string): Promise<string> {
  return hex(await crypto.digest('sha1', utf8(streamId + secret)));
}

/**
 * Connects a component over `flow` (a TCP connection to the server's component port):
 * stream open to `domain`, handshake, and the component is ready. Rejects with
 * {@link ComponentError} when the server refuses, `TimeoutError` after `handshakeTimeout`.
 */
export async function connectComponent(flow: Flow, options: ComponentOptions): Promise<XmppComponent> {
  const domain = prepareDomain(options.domain);
  const stream = new XmppStream(flow, options.limits ?? {}, options.clock, options.closeTimeout ?? XMPP_COMPONENT_DEFAULTS.closeTimeout, NS_COMPONENT_ACCEPT);
  let timedOut = false;
  const timer = options.clock.setTimer(options.handshakeTimeout ?? XMPP_COMPONENT_DEFAULTS.handshakeTimeout, () => {
    timedOut = true;
    flow.abort();
  });
  try {
    await stream.sendHeader({ to: domain });
    const header = await stream.next();
    if (header === null) throw new ProtocolError('the server closed the connection before its stream header');
    if (header.type !== 'stream-open' || header.element.name !== 'stream' || header.element.ns !== NS_STREAMS) throw new ProtocolError('the server did not open a stream');
    // A server that refuses the domain (host-unknown) answers the header with a stream error
    // and no id; otherwise the id is what the handshake hashes.
    const streamId = header.element.attrs.id;
    const first = streamId === undefined ? await stream.nextElement() : undefined;
    if (first !== undefined) throw new ProtocolError(`the server sent <${first.name}/> instead of a stream id`);
    await stream.send(el('handshake', NS_COMPONENT_ACCEPT, {}, [await componentHandshake(options.crypto, streamId ?? '', options.secret)]));
    const answer = await stream.nextElement();
    if (answer.name !== 'handshake' || answer.ns !== NS_COMPONENT_ACCEPT) throw new ProtocolError(`expected <handshake/>, got <${answer.name}/>`);
  } catch (error) {
    timer.cancel();
    void stream.close();
    if (timedOut) throw new TimeoutError(`the component handshake took longer than ${options.handshakeTimeout ?? XMPP_COMPONENT_DEFAULTS.handshakeTimeout} ms`);
    if (error instanceof StreamError) throw new ComponentError(error.condition, error.message);
    if (error instanceof XmlError) throw new ProtocolError(`the server sent bad XML: ${error.message}`);
    throw error;
  }
  timer.cancel();
  return new Component(stream, domain, options);
}

interface PendingIq {
  resolve(stanza: XmlElement): void;
  reject(error: Error): void;
  timer: Timer;
}

type Handlers = { [E in keyof XmppComponentEvents]: XmppComponentEvents[E][] };

class Component implements XmppComponent {
  private readonly handlers: Handlers = { message: [], presence: [], iq: [], close: [] };
  private readonly pending = new Map<string, PendingIq>();
  private readonly counters = new CounterSet();
  private keepalive: Timer | undefined;
  private closed = false;
  private nextId = 0;

  constructor(
    private readonly stream: XmppStream,
    readonly domain: string,
    private readonly options: ComponentOptions,
  ) {
    this.scheduleKeepalive();
    void this.readLoop();
  }

  on<E extends keyof XmppComponentEvents>(event: E, handler: XmppComponentEvents[E]): void {
    this.handlers[event].push(handler);
  }

  stats(): Record<string, number> {
    return this.counters.snapshot();
  }

  /** True when `jid` is the domain or an address in it. */
  private inDomain(jid: string | undefined): boolean {
    return jid !== undefined && tryParseJid(jid)?.domain === this.domain;
  }

  send(stanza: XmlElement): Promise<void> {
    const from = stanza.attrs.from ?? this.domain;
    // XEP-0114 §3: a component may only send from its own domain; a server treats anything
    // else as a stream error (invalid-from) and drops the whole connection.
    if (!this.inDomain(from)) return Promise.reject(new ProtocolError(`a component for ${this.domain} cannot send from ${from}`));
    if (this.closed) return Promise.reject(new ProtocolError('the component stream is closed'));
    this.counters.add('stanzas-out');
    return this.stream.send({ ...inComponentNs(stanza), attrs: { ...stanza.attrs, from } });
  }

  sendMessage(from: string, to: string, body: string, type = 'chat'): Promise<void> {
    return this.send(el('message', NS_COMPONENT_ACCEPT, { from, to, type }, [el('body', NS_COMPONENT_ACCEPT, {}, [body])]));
  }

  iq(type: 'get' | 'set', from: string, to: string, payload: XmlElement): Promise<XmlElement> {
    const maxPending = this.options.maxPendingIqs ?? XMPP_COMPONENT_DEFAULTS.maxPendingIqs;
    if (this.pending.size >= maxPending) return Promise.reject(new ProtocolError(`${maxPending} iq requests already wait for an answer (maxPendingIqs)`));
    const id = `c${++this.nextId}`;
    const timeout = this.options.iqTimeout ?? XMPP_COMPONENT_DEFAULTS.iqTimeout;
    return new Promise((resolve, reject) => {
      const timer = this.options.clock.setTimer(timeout, () => {
        this.pending.delete(id);
        this.counters.add('iq-timeouts');
        reject(new TimeoutError(`no answer to iq ${id} within ${timeout} ms`));
      });
      this.pending.set(id, { resolve, reject, timer });
      this.send(el('iq', NS_COMPONENT_ACCEPT, { type, id, from, to }, [payload])).catch((error: Error) => {
        timer.cancel();
        this.pending.delete(id);
        reject(error);
      });
    });
  }

  private scheduleKeepalive(): void {
    const interval = this.options.keepaliveInterval ?? XMPP_COMPONENT_DEFAULTS.keepaliveInterval;
    if (interval <= 0 || this.closed) return;
    this.keepalive = this.options.clock.setTimer(interval, () => {
      this.stream.sendRaw(' ').then(
        () => this.scheduleKeepalive(),
        (error: unknown) => this.finish(error as Error),
      );
    });
  }

  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        const event = await this.stream.next();
        if (event === null || event.type === 'stream-close') {
          this.finish(event !== null || this.stream.isClosed ? undefined : new ProtocolError('the connection dropped'));
          return;
        }
        if (event.type === 'stanza') await this.dispatch(event.element);
      }
    } catch (error) {
      if (error instanceof XmlError) await this.stream.fail('not-well-formed');
      this.finish(error as Error);
    }
  }

  private async dispatch(stanza: XmlElement): Promise<void> {
    if (stanza.name === 'error' && stanza.ns === NS_STREAMS) throw streamErrorOf(stanza);
    if (stanza.ns !== NS_COMPONENT_ACCEPT) {
      this.counters.add('unknown-namespace');
      return;
    }
    // The server routes only our domain's stanzas here; anything else is dropped, not answered.
    if (!this.inDomain(stanza.attrs.to)) {
      this.counters.add('foreign-to');
      return;
    }
    this.counters.add('stanzas-in');
    if (stanza.name === 'message') this.emit('message', stanza);
    else if (stanza.name === 'presence') this.emit('presence', stanza);
    else if (stanza.name === 'iq') await this.onIq(stanza);
    else this.counters.add('unknown-stanza');
  }

  private emit<E extends 'message' | 'presence' | 'iq'>(event: E, stanza: XmlElement): void {
    for (const handler of this.handlers[event]) handler(stanza);
  }

  private async onIq(stanza: XmlElement): Promise<void> {
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') {
      const waiting = this.pending.get(stanza.attrs.id ?? '');
      if (waiting === undefined) return;
      this.pending.delete(stanza.attrs.id ?? '');
      waiting.timer.cancel();
      if (type === 'result') waiting.resolve(stanza);
      else waiting.reject(stanzaErrorOf(stanza));
      return;
    }
    const payload = children(stanza)[0];
    const reply = (kids: XmlElement[] = []): Promise<void> => this.send(el('iq', NS_COMPONENT_ACCEPT, { type: 'result', id: stanza.attrs.id, to: stanza.attrs.from, from: stanza.attrs.to }, kids));
    // XEP-0199 §4 and XEP-0030 §3.1: every addressable entity answers ping and disco#info.
    if (type === 'get' && payload?.name === 'ping' && payload.ns === NS_PING) return reply();
    if (type === 'get' && payload?.name === 'query' && payload.ns === NS_DISCO_INFO && stanza.attrs.to === this.domain) {
      const name = this.options.name ?? XMPP_COMPONENT_DEFAULTS.name;
      return reply([el('query', NS_DISCO_INFO, {}, [el('identity', NS_DISCO_INFO, { category: 'component', type: 'generic', name }), el('feature', NS_DISCO_INFO, { var: NS_DISCO_INFO }), el('feature', NS_DISCO_INFO, { var: NS_PING })])]);
    }
    if (this.handlers.iq.length > 0) this.emit('iq', stanza);
    else await this.send(stanzaError(stanza, 'cancel', 'service-unavailable'));
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.keepalive?.cancel();
    for (const waiting of this.pending.values()) {
      waiting.timer.cancel();
      waiting.reject(error ?? new ProtocolError('the component stream closed'));
    }
    this.pending.clear();
    for (const handler of this.handlers.close) handler(error);
    void this.stream.close();
  }

  async close(): Promise<void> {
    this.finish();
    await this.stream.close();
  }
}
