/**
 * An XML stream over a {@link Flow} (RFC 6120 §4): headers, stanzas, restarts and stream errors.
 * Reading is pull-based, so nothing reads the underlying flow while STARTTLS swaps it.
 */
import type { Clock, Flow } from '@morgana/core';
import { ProtocolError } from '@morgana/core';
import { XmlStreamParser, type XmlElement, type XmlEvent, type XmlLimits, el, escapeAttr, serialize } from './xml.js';

export const NS_CLIENT = 'jabber:client';
export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
export const NS_STANZA_ERRORS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
export const NS_ROSTER = 'jabber:iq:roster';
export const NS_PING = 'urn:xmpp:ping';
export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
export const NS_SM = 'urn:xmpp:sm:3';
/** XEP-0114: the stream namespace of an external component connecting to a server. */
export const NS_COMPONENT_ACCEPT = 'jabber:component:accept';

/** Stream management counters wrap at 2^32 (XEP-0198 §4). */
export const SM_MODULUS = 2 ** 32;

/** Upgrades a flow to TLS (client or server side, as injected) once `<proceed/>` was exchanged. */
export type StartTls = (flow: Flow) => Promise<Flow>;

/** A stream error received from the peer (RFC 6120 §4.9). */
export class StreamError extends ProtocolError {
  readonly condition: string;
  constructor(condition: string, text?: string) {
    super(`XMPP stream error: ${condition}${text ? ` (${text})` : ''}`);
    this.condition = condition;
  }
}

const STREAM_PREFIXES: ReadonlyMap<string, string> = new Map([[NS_STREAMS, 'stream']]);
const CLIENT_CONTEXT = { defaultNs: NS_CLIENT, prefixes: STREAM_PREFIXES };
const encoder = new TextEncoder();

/** One side of an XML stream. */
export class XmppStream {
  private readonly parser: XmlStreamParser;
  private queue: XmlEvent[] = [];
  private ended = false;
  private closed = false;
  private headerSent = false;
  private closing: Promise<void> | undefined;
  private readonly context: { readonly defaultNs: string; readonly prefixes: ReadonlyMap<string, string> };

  /**
   * `closeTimeout`: milliseconds to wait, after our closing tag, for the peer to close too
   * before the connection is aborted (RFC 6120 §4.4 leaves "a reasonable amount of time").
   * `contentNs`: the stream's default namespace, `jabber:client` unless a component stream
   * (XEP-0114, `jabber:component:accept`).
   */
  constructor(
    public flow: Flow,
    limits: Partial<XmlLimits>,
    private readonly clock: Clock,
    private readonly closeTimeout: number,
    private readonly contentNs: string = NS_CLIENT,
  ) {
    this.parser = new XmlStreamParser(limits);
    this.context = contentNs === NS_CLIENT ? CLIENT_CONTEXT : { defaultNs: contentNs, prefixes: STREAM_PREFIXES };
  }

  /** The next event; `null` once the peer closed the flow. Throws `XmlError` on bad XML. */
  async next(): Promise<XmlEvent | null> {
    while (this.queue.length === 0) {
      const pending = this.parser.pendingError;
      if (pending !== undefined) throw pending;
      if (this.ended) return null;
      const chunk = await this.flow.read();
      if (chunk === null) {
        this.ended = true;
        return null;
      }
      this.queue = this.parser.push(chunk);
    }
    const event = this.queue.shift() ?? null;
    // The parser's event array keeps its grown capacity: drop it rather than idle with it.
    if (this.queue.length === 0) this.queue = [];
    return event;
  }

  /** The next stanza-level element, failing on stream close or a stream error. */
  async nextElement(): Promise<XmlElement> {
    const event = await this.next();
    if (event === null || event.type === 'stream-close') throw new ProtocolError('the peer closed the stream');
    if (event.type === 'stream-open') throw new ProtocolError('unexpected stream header');
    const element = event.element;
    if (element.name === 'error' && element.ns === NS_STREAMS) throw streamErrorOf(element);
    return element;
  }

  /** Sends an element in the stream's namespace context. */
  send(element: XmlElement): Promise<void> {
    return this.sendRaw(serialize(element, this.context));
  }

  sendRaw(text: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.closing !== undefined && text !== '</stream:stream>') return Promise.resolve();
    return this.flow.write(encoder.encode(text));
  }

  /** Sends a stream header (RFC 6120 §4.7); a component stream's carries no version (XEP-0114 §3). */
  sendHeader(attrs: Record<string, string | undefined>): Promise<void> {
    let header = `<?xml version='1.0'?><stream:stream xmlns='${escapeAttr(this.contentNs)}' xmlns:stream='${NS_STREAMS}'${this.contentNs === NS_CLIENT ? " version='1.0'" : ''}`;
    for (const key of Object.keys(attrs)) {
      const value = attrs[key];
      if (value !== undefined) header += ` ${key}='${escapeAttr(value)}'`;
    }
    this.headerSent = true;
    return this.sendRaw(`${header}>`);
  }

  /** Forgets parser state for a stream restart (RFC 6120 §4.3.3). */
  restart(): void {
    this.parser.reset();
    this.queue = [];
    this.headerSent = false;
  }

  /** Sends a stream error and closes the stream (RFC 6120 §4.9.1.1). */
  async fail(condition: string, message?: string): Promise<void> {
    const children: XmlElement[] = [el(condition, NS_STREAM_ERRORS)];
    if (message) children.push(el('text', NS_STREAM_ERRORS, {}, [message]));
    try {
      // A stream error always follows a stream header of ours (RFC 6120 §4.9.1.1).
      if (!this.headerSent) await this.sendHeader({});
      await this.send(el('error', NS_STREAMS, {}, children));
    } catch {
      // The flow is already gone; closing below is all that is left to do.
    }
    await this.close();
  }

  /** Sends `</stream:stream>` and closes the flow; later calls share the first one's result. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    try {
      await this.sendRaw('</stream:stream>');
    } catch {
      // Already reset by the peer.
    }
    this.closed = true;
    const flow = this.flow;
    const timer = this.clock.setTimer(this.closeTimeout, () => flow.abort());
    try {
      await flow.close();
    } catch {
      flow.abort();
    } finally {
      timer.cancel();
    }
  }

  get isClosed(): boolean {
    return this.closed || this.closing !== undefined;
  }
}

/** Builds the {@link StreamError} a `<stream:error/>` element describes. */
export function streamErrorOf(element: XmlElement): StreamError {
  let condition = 'undefined-condition';
  let message: string | undefined;
  for (const c of element.children) {
    if (typeof c === 'string' || c.ns !== NS_STREAM_ERRORS) continue;
    if (c.name === 'text') message = c.children.filter((t): t is string => typeof t === 'string').join('');
    else condition = c.name;
  }
  return new StreamError(condition, message);
}

/** The stream error condition a parser error maps to (RFC 6120 §4.9.3). */
export function conditionForXmlError(reason: string): string {
  if (reason === 'stanza-size' || reason === 'depth' || reason === 'attribute-size' || reason === 'attribute-count' || reason === 'text-size' || reason === 'name-size') return 'policy-violation';
  if (reason === 'doctype' || reason === 'comment' || reason === 'entity' || reason === 'processing-instruction') return 'restricted-xml';
  if (reason === 'invalid-utf8') return 'not-well-formed';
  return 'not-well-formed';
}

/** A stanza error reply to `stanza` (RFC 6120 §8.3): addresses swapped, condition inside. */
export function stanzaError(stanza: XmlElement, type: 'cancel' | 'modify' | 'auth' | 'wait', condition: string, text?: string): XmlElement {
  const errorChildren: XmlElement[] = [el(condition, NS_STANZA_ERRORS)];
  if (text) errorChildren.push(el('text', NS_STANZA_ERRORS, {}, [text]));
  return el(stanza.name, stanza.ns, { id: stanza.attrs.id, to: stanza.attrs.from, from: stanza.attrs.to, type: 'error' }, [el('error', stanza.ns, { type }, errorChildren)]);
}

/** A stanza error received in an `iq` result (RFC 6120 §8.3). */
export class StanzaError extends ProtocolError {
  readonly condition: string;
  readonly errorType: string;
  constructor(condition: string, errorType: string, readonly stanza: XmlElement) {
    super(`XMPP stanza error: ${condition} (${errorType})`);
    this.condition = condition;
    this.errorType = errorType;
  }
}

/** The {@link StanzaError} described by an error stanza. */
export function stanzaErrorOf(stanza: XmlElement): StanzaError {
  for (const c of stanza.children) {
    if (typeof c === 'string' || c.name !== 'error') continue;
    for (const d of c.children) {
      if (typeof d !== 'string' && d.ns === NS_STANZA_ERRORS && d.name !== 'text') return new StanzaError(d.name, c.attrs.type ?? 'cancel', stanza);
    }
  }
  return new StanzaError('undefined-condition', 'cancel', stanza);
}
