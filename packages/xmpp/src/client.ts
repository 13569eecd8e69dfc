/**
 * The XMPP client (RFC 6120 client-to-server, RFC 6121 IM): negotiation (STARTTLS, SASL,
 * resource binding), stanzas, iq requests with timeouts, roster and presence subscriptions,
 * disco#info (XEP-0030) and ping (XEP-0199) answers, whitespace keepalives.
 */
import type { Clock, Flow, Random, Timer } from '@morgana/core';
import { ProtocolError, TimeoutError } from '@morgana/core';
import { type Jid, parseJid } from './jid.js';
import { type ScramCrypto, SCRAM_MECHANISMS, SaslError, ScramClient, fromBase64, makeNonce, plainMessage, toBase64 } from './sasl.js';
import {
  NS_BIND,
  NS_CLIENT,
  NS_DISCO_INFO,
  NS_PING,
  NS_ROSTER,
  NS_SASL,
  NS_SESSION,
  NS_SM,
  NS_TLS,
  SM_MODULUS,
  type StartTls,
  XmppStream,
  stanzaError,
  stanzaErrorOf,
  streamErrorOf,
} from './stream.js';
import { XmlError, type XmlElement, type XmlLimits, child, children, el, text } from './xml.js';

/** Options of {@link connectXmpp}. */
export interface XmppClientOptions {
  /** Account JID, `user@domain` (a resource here is requested at binding). */
  readonly jid: string;
  readonly password: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly crypto: ScramCrypto;
  /** Client-side TLS upgrade; without it STARTTLS is never attempted. */
  readonly startTls?: StartTls;
  /** Refuse to authenticate without TLS; default true when `startTls` is given. */
  readonly requireTls?: boolean;
  /** Mechanisms in order of preference; default SCRAM-SHA-256, SCRAM-SHA-1, PLAIN. */
  readonly mechanisms?: readonly string[];
  /** Allow PLAIN over an unencrypted stream; default false (RFC 6120 §13.8). */
  readonly allowPlainWithoutTls?: boolean;
  /** Milliseconds to wait for an iq response; default 30 000. */
  readonly iqTimeout?: number;
  /** Milliseconds between whitespace keepalives (RFC 6120 §4.6.1); 0 disables; default 60 000. */
  readonly keepaliveInterval?: number;
  readonly limits?: Partial<XmlLimits>;
  /** Milliseconds to wait for the server's closing tag before aborting (RFC 6120 §4.4); default 5000. */
  readonly closeTimeout?: number;
  /** Enable XEP-0198 stream management (acks) when offered; default false. */
  readonly streamManagement?: boolean;
  /** Also ask for XEP-0198 resumption (implies `streamManagement`); default false. */
  readonly resume?: boolean;
}

/** Defaults of {@link XmppClientOptions}. */
export const XMPP_CLIENT_DEFAULTS = {
  mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'] as readonly string[],
  iqTimeout: 30_000,
  keepaliveInterval: 60_000,
  closeTimeout: 5_000,
};

/** A roster item (RFC 6121 §2.1.2). */
export interface RosterItem {
  readonly jid: string;
  readonly name?: string;
  readonly subscription: 'none' | 'to' | 'from' | 'both' | 'remove';
  /** Our subscription request is pending (`ask='subscribe'`). */
  readonly ask?: boolean;
  readonly groups: readonly string[];
}

/** Events of {@link XmppClient}. */
export interface XmppClientEvents {
  message: (stanza: XmlElement) => void;
  presence: (stanza: XmlElement) => void;
  /** An iq request no built-in handler took; answer it with `client.send`. */
  iq: (stanza: XmlElement) => void;
  'roster-push': (item: RosterItem) => void;
  /** The stream ended; `error` says why when it was not a clean close. */
  close: (error?: Error) => void;
}

/** A logged-in XMPP session. */
export interface XmppClient {
  /** The full JID the server bound. */
  readonly jid: Jid;
  /** Whether the stream runs over TLS. */
  readonly secure: boolean;
  /** The SASL mechanism that authenticated us. */
  readonly mechanism: string;
  on<E extends keyof XmppClientEvents>(event: E, handler: XmppClientEvents[E]): void;
  send(stanza: XmlElement): Promise<void>;
  /** Sends an iq and resolves with the result; rejects with `StanzaError` or `TimeoutError`. */
  iq(type: 'get' | 'set', to: string | undefined, payload: XmlElement): Promise<XmlElement>;
  sendMessage(to: string, body: string, type?: string): Promise<void>;
  /** Sends presence; with no arguments, initial available presence (RFC 6121 §4.2). */
  sendPresence(attrs?: Record<string, string | undefined>, payload?: XmlElement[]): Promise<void>;
  getRoster(): Promise<RosterItem[]>;
  setRosterItem(jid: string, name?: string, groups?: readonly string[]): Promise<void>;
  removeRosterItem(jid: string): Promise<void>;
  /** XEP-0199 ping; resolves with the round-trip time in milliseconds. */
  ping(to?: string): Promise<number>;
  /** XEP-0030 disco#info: the entity's features. */
  discoInfo(to?: string): Promise<string[]>;
  /** Whether XEP-0198 stream management is on. */
  readonly streamManagement: boolean;
  /** XEP-0198: asks the server how many of our stanzas it handled (mod 2^32). */
  requestAck(): Promise<number>;
  /** XEP-0198: stanzas sent since enabling (mod 2^32). */
  readonly sentStanzas: number;
  /** XEP-0198 §5: the resumption id the server granted, undefined without resumption. */
  readonly resumptionId: string | undefined;
  /**
   * XEP-0198 §5: after the connection dropped (the `close` event with an error), negotiates
   * TLS and SASL again over `flow` and resumes the session: the server resends what we did
   * not acknowledge and we resend what it did not. Rejects with `ProtocolError` when the
   * server refuses (the session is gone; connect anew).
   */
  resume(flow: Flow): Promise<void>;
  close(): Promise<void>;
}

class Emitter {
  private readonly handlers = new Map<string, ((...args: never[]) => void)[]>();
  on(event: string, handler: (...args: never[]) => void): void {
    const list = this.handlers.get(event) ?? [];
    list.push(handler);
    this.handlers.set(event, list);
  }
  has(event: string): boolean {
    return (this.handlers.get(event)?.length ?? 0) > 0;
  }
  emit(event: string, ...args: unknown[]): void {
    for (const handler of this.handlers.get(event) ?? []) (handler as (...a: unknown[]) => void)(...args);
  }
}

/** Features this client answers to in disco#info (XEP-0030). */
const CLIENT_FEATURES = [NS_DISCO_INFO, NS_PING];

/** Parses a roster `<item/>` (RFC 6121 §2.1.2). */
export function parseRosterItem(item: XmlElement): RosterItem {
  const subscription = item.attrs.subscription ?? 'none';
  return {
    jid: item.attrs.jid ?? '',
    name: item.attrs.name,
    subscription: (['none', 'to', 'from', 'both', 'remove'].includes(subscription) ? subscription : 'none') as RosterItem['subscription'],
    ask: item.attrs.ask === 'subscribe' ? true : undefined,
    groups: children(item, 'group').map((g) => text(g)),
  };
}

/**
 * Negotiates a client stream over a connected flow and returns the session (RFC 6120 §4-§7).
 * Rejects with `SaslError`, `StreamError`, `ProtocolError` or `XmlError`.
 */
export async function connectXmpp(flow: Flow, options: XmppClientOptions): Promise<XmppClient> {
  const stream = new XmppStream(flow, options.limits ?? {}, options.clock, options.closeTimeout ?? XMPP_CLIENT_DEFAULTS.closeTimeout);
  try {
    const { features, secure, mechanism } = await login(stream, options);

    // Resource binding (RFC 6120 §7), then the legacy session if the server insists (RFC 3921 §3).
    if (!child(features, 'bind', NS_BIND)) throw new ProtocolError('the server offers no resource binding');
    const account = parseJid(options.jid);
    const bindId = makeNonce(options.random, 8);
    const resource = account.resource ? [el('resource', NS_BIND, {}, [account.resource])] : [];
    await stream.send(el('iq', NS_CLIENT, { type: 'set', id: bindId }, [el('bind', NS_BIND, {}, resource)]));
    const bound = await stream.nextElement();
    if (bound.name !== 'iq' || bound.attrs.id !== bindId) throw new ProtocolError('unexpected answer to resource binding');
    if (bound.attrs.type !== 'result') throw stanzaErrorOf(bound);
    const jid = parseJid(text(child(child(bound, 'bind', NS_BIND) ?? bound, 'jid', NS_BIND)));
    const session = child(features, 'session', NS_SESSION);
    if (session && !child(session, 'optional', NS_SESSION)) {
      const sessionId = makeNonce(options.random, 8);
      await stream.send(el('iq', NS_CLIENT, { type: 'set', id: sessionId }, [el('session', NS_SESSION)]));
      const answer = await stream.nextElement();
      if (answer.attrs.type !== 'result') throw stanzaErrorOf(answer);
    }
    let sm = false;
    let resumeId: string | undefined;
    if ((options.streamManagement || options.resume) && child(features, 'sm', NS_SM)) {
      await stream.send(el('enable', NS_SM, options.resume ? { resume: 'true' } : {}));
      const answer = await stream.nextElement();
      sm = answer.name === 'enabled' && answer.ns === NS_SM;
      if (sm && options.resume && (answer.attrs.resume === 'true' || answer.attrs.resume === '1')) resumeId = answer.attrs.id;
    }
    return new Session(stream, jid, secure, mechanism, sm, resumeId, options);
  } catch (error) {
    if (error instanceof XmlError) await stream.fail('not-well-formed');
    else await stream.close();
    throw error;
  }
}

/** STARTTLS and SASL up to the post-authentication stream features (RFC 6120 §5, §6). */
async function login(stream: XmppStream, options: XmppClientOptions): Promise<{ features: XmlElement; secure: boolean; mechanism: string }> {
  const account = parseJid(options.jid);
  const requireTls = options.requireTls ?? options.startTls !== undefined;
  let secure = false;

  const open = async (): Promise<XmlElement> => {
    await stream.sendHeader({ to: account.domain, 'xml:lang': 'en' });
    const header = await stream.next();
    if (header === null || header.type !== 'stream-open') throw new ProtocolError('the server did not open a stream');
    const features = await stream.nextElement();
    if (features.name !== 'features') throw new ProtocolError(`expected stream features, got <${features.name}/>`);
    return features;
  };

  {
    let features = await open();
    // STARTTLS (RFC 6120 §5).
    if (child(features, 'starttls', NS_TLS) && options.startTls) {
      await stream.send(el('starttls', NS_TLS));
      const answer = await stream.nextElement();
      if (answer.name !== 'proceed') throw new ProtocolError('the server refused STARTTLS');
      stream.flow = await options.startTls(stream.flow);
      secure = true;
      stream.restart();
      features = await open();
    }
    if (requireTls && !secure) throw new ProtocolError('the server offers no STARTTLS and requireTls is set');

    // SASL (RFC 6120 §6).
    const offered = children(child(features, 'mechanisms', NS_SASL) ?? el('mechanisms', NS_SASL), 'mechanism').map((m) => text(m).trim());
    const preference = options.mechanisms ?? XMPP_CLIENT_DEFAULTS.mechanisms;
    const mechanism = preference.find((m) => offered.includes(m) && (m !== 'PLAIN' || secure || options.allowPlainWithoutTls === true));
    if (mechanism === undefined) throw new SaslError('invalid-mechanism', `no acceptable SASL mechanism among ${offered.join(', ') || 'none'}`);
    await authenticate(stream, mechanism, account.local, options);
    stream.restart();
    features = await open();
    return { features, secure, mechanism };
  }
}

async function authenticate(stream: XmppStream, mechanism: string, username: string, options: XmppClientOptions): Promise<void> {
  const hash = SCRAM_MECHANISMS[mechanism];
  const scram = hash ? new ScramClient(options.crypto, hash, username, options.password, makeNonce(options.random)) : undefined;
  const initial = scram ? scram.first() : plainMessage(username, options.password);
  await stream.send(el('auth', NS_SASL, { mechanism }, [toBase64(initial)]));
  let finalSent = false;
  for (;;) {
    const answer = await stream.nextElement();
    if (answer.ns !== NS_SASL) throw new ProtocolError(`unexpected <${answer.name}/> during SASL`);
    if (answer.name === 'failure') {
      const condition = children(answer).find((c) => c.name !== 'text')?.name ?? 'not-authorized';
      throw new SaslError(condition, `authentication failed: ${condition}${text(child(answer, 'text')) ? ` (${text(child(answer, 'text'))})` : ''}`);
    }
    if (answer.name === 'success') {
      if (scram) {
        const data = text(answer).trim();
        if (!finalSent || data === '') throw new SaslError('not-authorized', 'the server skipped its SCRAM proof');
        scram.verify(fromBase64(data));
      }
      return;
    }
    if (answer.name !== 'challenge' || !scram || finalSent) {
      await stream.send(el('abort', NS_SASL));
      throw new SaslError('aborted', `unexpected SASL <${answer.name}/>`);
    }
    await stream.send(el('response', NS_SASL, {}, [toBase64(await scram.final(fromBase64(text(answer).trim())))]));
    finalSent = true;
  }
}

interface PendingIq {
  resolve(stanza: XmlElement): void;
  reject(error: Error): void;
  timer: Timer;
}

class Session implements XmppClient {
  private readonly emitter = new Emitter();
  private readonly pending = new Map<string, PendingIq>();
  private readonly iqTimeout: number;
  private keepalive: Timer | undefined;
  private closed = false;
  private nextId = 0;
  private inbound = 0;
  sentStanzas = 0;
  private readonly ackWaiters: ((h: number) => void)[] = [];
  /** XEP-0198: the last `h` the server acknowledged and, when resumable, what it has not. */
  private acked = 0;
  private readonly unacked: XmlElement[] = [];
  /** The last stream ended with an error rather than a clean close. */
  private dropped = false;

  constructor(
    private stream: XmppStream,
    readonly jid: Jid,
    readonly secure: boolean,
    readonly mechanism: string,
    readonly streamManagement: boolean,
    readonly resumptionId: string | undefined,
    private readonly options: XmppClientOptions,
  ) {
    this.iqTimeout = options.iqTimeout ?? XMPP_CLIENT_DEFAULTS.iqTimeout;
    this.scheduleKeepalive();
    void this.readLoop();
  }

  on<E extends keyof XmppClientEvents>(event: E, handler: XmppClientEvents[E]): void {
    this.emitter.on(event, handler);
  }

  private scheduleKeepalive(): void {
    const interval = this.options.keepaliveInterval ?? XMPP_CLIENT_DEFAULTS.keepaliveInterval;
    if (interval <= 0 || this.closed) return;
    this.keepalive = this.options.clock.setTimer(interval, () => {
      this.stream.sendRaw(' ').then(
        () => this.scheduleKeepalive(),
        (error: unknown) => this.finish(error as Error),
      );
    });
  }

  private async readLoop(): Promise<void> {
    const stream = this.stream;
    try {
      let clean = false;
      for (;;) {
        const event = await stream.next();
        if (event === null || event.type === 'stream-close') {
          clean = event !== null || stream.isClosed;
          break;
        }
        if (event.type === 'stanza') await this.dispatch(event.element);
        if (this.stream !== stream) return;
      }
      // The TCP connection ending without the server's closing tag is a drop, not a close.
      if (this.stream === stream) this.finish(clean ? undefined : new ProtocolError('the connection dropped'));
    } catch (error) {
      if (error instanceof XmlError) await stream.fail('not-well-formed');
      if (this.stream === stream) this.finish(error as Error);
    }
  }

  private async dispatch(stanza: XmlElement): Promise<void> {
    if (stanza.name === 'error' && stanza.ns !== NS_CLIENT) {
      throw streamErrorOf(stanza);
    }
    if (stanza.ns === NS_SM && this.streamManagement) {
      if (stanza.name === 'r') await this.stream.send(el('a', NS_SM, { h: String(this.inbound) }));
      else if (stanza.name === 'a') {
        this.acknowledge(Number(stanza.attrs.h));
        this.ackWaiters.shift()?.(Number(stanza.attrs.h));
      }
      return;
    }
    if (this.streamManagement && stanza.ns === NS_CLIENT) this.inbound = (this.inbound + 1) % SM_MODULUS;
    if (stanza.name === 'message') this.emitter.emit('message', stanza);
    else if (stanza.name === 'presence') this.emitter.emit('presence', stanza);
    else if (stanza.name === 'iq') await this.onIq(stanza);
  }

  private async onIq(stanza: XmlElement): Promise<void> {
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') {
      const id = stanza.attrs.id ?? '';
      const waiting = this.pending.get(id);
      if (waiting === undefined) return;
      this.pending.delete(id);
      waiting.timer.cancel();
      if (type === 'result') waiting.resolve(stanza);
      else waiting.reject(stanzaErrorOf(stanza));
      return;
    }
    const payload = children(stanza)[0];
    const reply = (kids: XmlElement[] = []): Promise<void> => this.send(el('iq', NS_CLIENT, { type: 'result', id: stanza.attrs.id, to: stanza.attrs.from }, kids));
    if (type === 'get' && payload?.name === 'ping' && payload.ns === NS_PING) return reply();
    if (type === 'get' && payload?.name === 'query' && payload.ns === NS_DISCO_INFO) {
      return reply([el('query', NS_DISCO_INFO, {}, [el('identity', NS_DISCO_INFO, { category: 'client', type: 'pc', name: 'morgana' }), ...CLIENT_FEATURES.map((f) => el('feature', NS_DISCO_INFO, { var: f }))])]);
    }
    if (type === 'set' && payload?.name === 'query' && payload.ns === NS_ROSTER) {
      // A push is only valid from our own account (RFC 6121 §2.1.6).
      const from = stanza.attrs.from;
      if (from !== undefined && from !== `${this.jid.local}@${this.jid.domain}`) return this.send(stanzaError(stanza, 'cancel', 'service-unavailable'));
      await reply();
      for (const item of children(payload, 'item', NS_ROSTER)) this.emitter.emit('roster-push', parseRosterItem(item));
      return;
    }
    if (this.emitter.has('iq')) this.emitter.emit('iq', stanza);
    else await this.send(stanzaError(stanza, 'cancel', 'service-unavailable'));
  }

  /** Drops what the server says it handled from the retransmission queue (XEP-0198 §4). */
  private acknowledge(h: number): void {
    if (!Number.isInteger(h) || h < 0 || h >= SM_MODULUS) return;
    const count = (h - this.acked + SM_MODULUS) % SM_MODULUS;
    if (count > this.unacked.length && this.resumptionId !== undefined) return;
    this.acked = h;
    this.unacked.splice(0, count);
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.dropped = error !== undefined;
    this.keepalive?.cancel();
    this.emitter.emit('close', error);
    // A resumable session keeps its pending iqs: their answers may come after resume, and
    // iqTimeout still bounds the wait.
    if (this.resumptionId !== undefined && this.dropped) {
      void this.stream.close();
      return;
    }
    this.rejectPending(error ?? new ProtocolError('the stream closed'));
    void this.stream.close();
  }

  private rejectPending(error: Error): void {
    for (const waiting of this.pending.values()) {
      waiting.timer.cancel();
      waiting.reject(error);
    }
    this.pending.clear();
  }

  send(stanza: XmlElement): Promise<void> {
    if (this.closed) return Promise.reject(new ProtocolError('the stream is closed'));
    if (this.streamManagement && stanza.ns === NS_CLIENT) {
      this.sentStanzas = (this.sentStanzas + 1) % SM_MODULUS;
      if (this.resumptionId !== undefined) this.unacked.push(stanza);
    }
    return this.stream.send(stanza);
  }

  async resume(flow: Flow): Promise<void> {
    // The flow is ours from here on: refused or not, it is not left open.
    if (this.resumptionId === undefined || (this.closed && !this.dropped)) {
      flow.abort();
      throw new ProtocolError(this.resumptionId === undefined ? 'the server granted no resumption' : 'the session was closed, not dropped');
    }
    if (!this.closed) this.finish(new ProtocolError('replaced by a resumed connection'));
    const stream = new XmppStream(flow, this.options.limits ?? {}, this.options.clock, this.options.closeTimeout ?? XMPP_CLIENT_DEFAULTS.closeTimeout);
    try {
      const { features } = await login(stream, this.options);
      if (!child(features, 'sm', NS_SM)) throw new ProtocolError('the server no longer offers stream management');
      await stream.send(el('resume', NS_SM, { previd: this.resumptionId, h: String(this.inbound) }));
      const answer = await stream.nextElement();
      if (answer.name !== 'resumed' || answer.ns !== NS_SM) throw new ProtocolError(`the server refused to resume: <${children(answer)[0]?.name ?? answer.name}/>`);
      this.acknowledge(Number(answer.attrs.h));
    } catch (error) {
      if (error instanceof XmlError) await stream.fail('not-well-formed');
      else await stream.close();
      throw error;
    }
    this.stream = stream;
    this.closed = false;
    this.dropped = false;
    // What the server did not handle is sent again, in order (XEP-0198 §5).
    for (const stanza of this.unacked) void stream.send(stanza).catch(() => undefined);
    this.scheduleKeepalive();
    void this.readLoop();
  }

  requestAck(): Promise<number> {
    if (!this.streamManagement) return Promise.reject(new ProtocolError('stream management is not enabled'));
    return new Promise<number>((resolve, reject) => {
      const waiter = (h: number): void => {
        timer.cancel();
        resolve(h);
      };
      const timer = this.options.clock.setTimer(this.iqTimeout, () => {
        const index = this.ackWaiters.indexOf(waiter);
        if (index >= 0) this.ackWaiters.splice(index, 1);
        reject(new TimeoutError(`no ack within ${this.iqTimeout} ms (iqTimeout)`));
      });
      this.ackWaiters.push(waiter);
      this.stream.send(el('r', NS_SM)).catch((error: unknown) => {
        timer.cancel();
        reject(error as Error);
      });
    });
  }

  iq(type: 'get' | 'set', to: string | undefined, payload: XmlElement): Promise<XmlElement> {
    const id = `m${++this.nextId}-${makeNonce(this.options.random, 6)}`;
    return new Promise<XmlElement>((resolve, reject) => {
      const timer = this.options.clock.setTimer(this.iqTimeout, () => {
        this.pending.delete(id);
        reject(new TimeoutError(`no answer to iq ${id} within ${this.iqTimeout} ms (iqTimeout)`));
      });
      this.pending.set(id, { resolve, reject, timer });
      this.send(el('iq', NS_CLIENT, { type, id, to }, [payload])).catch((error: unknown) => {
        timer.cancel();
        this.pending.delete(id);
        reject(error as Error);
      });
    });
  }

  sendMessage(to: string, body: string, type = 'chat'): Promise<void> {
    return this.send(el('message', NS_CLIENT, { to, type, id: makeNonce(this.options.random, 8) }, [el('body', NS_CLIENT, {}, [body])]));
  }

  sendPresence(attrs: Record<string, string | undefined> = {}, payload: XmlElement[] = []): Promise<void> {
    return this.send(el('presence', NS_CLIENT, attrs, payload));
  }

  async getRoster(): Promise<RosterItem[]> {
    const result = await this.iq('get', undefined, el('query', NS_ROSTER));
    return children(child(result, 'query', NS_ROSTER) ?? result, 'item', NS_ROSTER).map(parseRosterItem);
  }

  async setRosterItem(jid: string, name?: string, groups: readonly string[] = []): Promise<void> {
    await this.iq('set', undefined, el('query', NS_ROSTER, {}, [el('item', NS_ROSTER, { jid, name }, groups.map((g) => el('group', NS_ROSTER, {}, [g])))]));
  }

  async removeRosterItem(jid: string): Promise<void> {
    await this.iq('set', undefined, el('query', NS_ROSTER, {}, [el('item', NS_ROSTER, { jid, subscription: 'remove' })]));
  }

  async ping(to?: string): Promise<number> {
    const start = this.options.clock.now();
    await this.iq('get', to ?? this.jid.domain, el('ping', NS_PING));
    return this.options.clock.now() - start;
  }

  async discoInfo(to?: string): Promise<string[]> {
    const result = await this.iq('get', to ?? this.jid.domain, el('query', NS_DISCO_INFO));
    return children(child(result, 'query', NS_DISCO_INFO) ?? result, 'feature').map((f) => f.attrs.var ?? '');
  }

  async close(): Promise<void> {
    // Closing a dropped resumable session gives up on resuming it: its pending iqs end now.
    this.dropped = false;
    this.rejectPending(new ProtocolError('the stream closed'));
    if (this.closed) return;
    this.finish();
    await this.stream.close();
  }
}

