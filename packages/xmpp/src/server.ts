/**
 * The XMPP server, client-to-server only (RFC 6120, RFC 6121): stream negotiation, SASL,
 * binding, routing of messages to bare and full JIDs, presence broadcast and probes, roster
 * get/set/push and the presence subscription state machine (RFC 6121 §3), XEP-0030 and XEP-0199.
 */
import type { Clock, Flow, Random, Timer } from '@morgana/core';
import { CounterSet } from '@morgana/core';
import { type Jid, bareJid, formatJid, parseJid, tryParseJid } from './jid.js';
import { type ScramCredentials, type ScramCrypto, SCRAM_MECHANISMS, SaslError, ScramServer, checkPassword, deriveScramCredentials, fromBase64, makeNonce, parsePlain, toBase64 } from './sasl.js';
import {
  NS_BIND,
  NS_CLIENT,
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_PING,
  NS_ROSTER,
  NS_SASL,
  NS_SESSION,
  NS_STREAMS,
  NS_SM,
  NS_STANZA_ERRORS,
  NS_TLS,
  SM_MODULUS,
  type StartTls,
  XmppStream,
  conditionForXmlError,
  stanzaError,
} from './stream.js';
import { XmlError, type XmlElement, type XmlLimits, child, children, el, text } from './xml.js';

/** A stored roster entry: the client-visible item plus a pending inbound request flag. */
export interface StoredRosterItem {
  readonly jid: string;
  readonly name?: string;
  readonly groups: readonly string[];
  readonly subscription: 'none' | 'to' | 'from' | 'both';
  /** We asked the contact to subscribe (pending out, RFC 6121 §3.1.2). */
  readonly ask: boolean;
  /** The contact asked us and we have not answered (pending in, RFC 6121 §3.1.3). */
  readonly pendingIn: boolean;
  /** Pending-in only: not shown in roster results (RFC 6121 §3.1.3 keeps such state off the roster). */
  readonly hidden: boolean;
}

/** Users and rosters, behind an interface so a real database can replace the memory store. */
export interface XmppStore {
  /** SCRAM credentials of a local user for a hash, or undefined when there is no such user. */
  credentials(local: string, hash: 'sha1' | 'sha256'): Promise<ScramCredentials | undefined>;
  roster(local: string): Promise<StoredRosterItem[]>;
  putRosterItem(local: string, item: StoredRosterItem): Promise<void>;
  removeRosterItem(local: string, jid: string): Promise<void>;
}

/** The in-memory {@link XmppStore}, with user registration. */
export interface MemoryStore extends XmppStore {
  addUser(local: string, password: string): Promise<void>;
}

/** PBKDF2 iterations for stored credentials; RFC 7677 §4 asks for at least 4096. */
export const STORE_ITERATIONS = 4096;

/** Creates an in-memory store; passwords are kept only as SCRAM credentials. */
export function createMemoryStore(crypto: ScramCrypto, random: Random): MemoryStore {
  const users = new Map<string, Map<string, ScramCredentials>>();
  const rosters = new Map<string, Map<string, StoredRosterItem>>();
  return {
    async addUser(local, password) {
      const salt = new Uint8Array(16);
      random.fill(salt);
      const creds = new Map<string, ScramCredentials>();
      for (const hash of ['sha1', 'sha256'] as const) creds.set(hash, await deriveScramCredentials(crypto, hash, password, salt, STORE_ITERATIONS));
      users.set(parseJid(`${local}@x`).local, creds);
    },
    async credentials(local, hash) {
      return users.get(local)?.get(hash);
    },
    async roster(local) {
      return [...(rosters.get(local)?.values() ?? [])];
    },
    async putRosterItem(local, item) {
      const roster = rosters.get(local) ?? new Map<string, StoredRosterItem>();
      roster.set(item.jid, item);
      rosters.set(local, roster);
    },
    async removeRosterItem(local, jid) {
      rosters.get(local)?.delete(jid);
    },
  };
}

/** Dependencies of {@link createXmppServer}. */
export interface XmppServerDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly crypto: ScramCrypto;
  readonly store: XmppStore;
  /** Server-side TLS upgrade; without it STARTTLS is not offered. */
  readonly startTls?: StartTls;
}

/** Configuration of {@link createXmppServer}. */
export interface XmppServerConfig {
  /** The domain this server serves. */
  readonly domain: string;
  /** Require STARTTLS before SASL; default true when `startTls` is given. */
  readonly requireTls?: boolean;
  /** Offer PLAIN on unencrypted streams; default false (RFC 6120 §13.8). */
  readonly allowPlainWithoutTls?: boolean;
  /** Milliseconds a connection may take to bind a resource; default 60 000. */
  readonly negotiationTimeout?: number;
  /** Concurrent client sessions; default 10 000. */
  readonly maxSessions?: number;
  /** Resources bound per account; default 32. */
  readonly maxResourcesPerUser?: number;
  /** SASL attempts per connection before the stream is closed (RFC 6120 §6.4.5); default 3. */
  readonly maxAuthAttempts?: number;
  /** Milliseconds to wait for a client's closing tag before aborting (RFC 6120 §4.4); default 5000. */
  readonly closeTimeout?: number;
  /** Stanzas queued to one session whose write has not completed before it is closed; default 1000. */
  readonly maxPendingWrites?: number;
  /**
   * XEP-0198 §5: milliseconds a resumable session whose connection dropped is kept (its
   * unacknowledged and newly routed stanzas queued) waiting for `<resume/>`; default 300 000.
   */
  readonly resumeTimeout?: number;
  /** XEP-0198: stanzas kept for retransmission per resumable session before it is ended; default 500. */
  readonly maxUnackedStanzas?: number;
  /** XEP-0198 §4: the server sends `<r/>` whenever this many stanzas are unacknowledged; default 10. */
  readonly ackRequestInterval?: number;
  readonly limits?: Partial<XmlLimits>;
}

/** Defaults of {@link XmppServerConfig}. */
export const XMPP_SERVER_DEFAULTS = { negotiationTimeout: 60_000, maxSessions: 10_000, maxResourcesPerUser: 32, maxAuthAttempts: 3, maxPendingWrites: 1000, closeTimeout: 5_000, resumeTimeout: 300_000, maxUnackedStanzas: 500, ackRequestInterval: 10 };

/** A running server. */
export interface XmppServer {
  /** Serves one accepted connection until it closes. Never rejects. */
  handle(flow: Flow): Promise<void>;
  /** Full JIDs of the bound sessions. */
  sessions(): string[];
  /** Counters: `sessions-bound`, `auth-failures`, `stream-errors`, `stanzas-routed`, ... */
  stats(): Record<string, number>;
  /** Closes every session with `system-shutdown`. */
  close(): Promise<void>;
}

/** XEP-0198 state of a session. */
interface SmState {
  /** Stanzas handled from the client (mod 2^32). */
  inbound: number;
  /** Stanzas sent to the client (mod 2^32). */
  outbound: number;
  /** The last `h` the client acknowledged. */
  acked: number;
  /** Resumption id when resumption was granted (XEP-0198 §5). */
  resumeId: string | undefined;
  /** Sent stanzas not yet acknowledged, oldest first; kept only when resumable. */
  unacked: XmlElement[];
}

interface ClientSession {
  readonly jid: Jid;
  /** Replaced when the session is resumed on a new connection. */
  stream: XmppStream;
  /** Set while a resumable session has no connection: the timer that ends it. */
  detached: Timer | undefined;
  /** Last available presence, undefined when unavailable. */
  presence: XmlElement | undefined;
  priority: number;
  /** Whether it asked for its roster (RFC 6121 §2.1.6: pushes go to "interested" resources). */
  interested: boolean;
  /** Stanzas handed to the flow whose write has not resolved yet. */
  pendingWrites: number;
  /** XEP-0198 state once enabled. */
  sm: SmState | undefined;
}

const SERVER_FEATURES = [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_ROSTER];

/** Creates a c2s server for `config.domain`. */
export function createXmppServer(deps: XmppServerDeps, config: XmppServerConfig): XmppServer {
  const domain = parseJid(config.domain).domain;
  const requireTls = config.requireTls ?? deps.startTls !== undefined;
  const negotiationTimeout = config.negotiationTimeout ?? XMPP_SERVER_DEFAULTS.negotiationTimeout;
  const maxSessions = config.maxSessions ?? XMPP_SERVER_DEFAULTS.maxSessions;
  const maxResources = config.maxResourcesPerUser ?? XMPP_SERVER_DEFAULTS.maxResourcesPerUser;
  const maxAuthAttempts = config.maxAuthAttempts ?? XMPP_SERVER_DEFAULTS.maxAuthAttempts;
  const maxPendingWrites = config.maxPendingWrites ?? XMPP_SERVER_DEFAULTS.maxPendingWrites;
  const closeTimeout = config.closeTimeout ?? XMPP_SERVER_DEFAULTS.closeTimeout;
  const resumeTimeout = config.resumeTimeout ?? XMPP_SERVER_DEFAULTS.resumeTimeout;
  const maxUnacked = config.maxUnackedStanzas ?? XMPP_SERVER_DEFAULTS.maxUnackedStanzas;
  const ackRequestInterval = config.ackRequestInterval ?? XMPP_SERVER_DEFAULTS.ackRequestInterval;
  /** Resumable sessions by resumption id. */
  const resumable = new Map<string, ClientSession>();
  const counters = new CounterSet();
  /** Bound sessions by bare JID, then resource. */
  const accounts = new Map<string, Map<string, ClientSession>>();
  const streams = new Set<XmppStream>();

  const sessionsOf = (local: string): ClientSession[] => [...(accounts.get(local)?.values() ?? [])];
  const available = (local: string): ClientSession[] => sessionsOf(local).filter((s) => s.presence !== undefined);
  const isLocal = (jid: Jid): boolean => jid.domain === domain && jid.local !== '';
  const exists = async (local: string): Promise<boolean> => (await deps.store.credentials(local, 'sha256')) !== undefined;

  function deliver(session: ClientSession, stanza: XmlElement): void {
    const sm = session.sm;
    if (sm?.resumeId !== undefined && session.stream.isClosed && session.detached === undefined) return;
    if (sm?.resumeId !== undefined) {
      // The retransmission queue is bounded: a client that never acknowledges, or never comes
      // back, loses its session rather than growing the server's memory (XEP-0198 §5).
      if (sm.unacked.length >= maxUnacked) {
        counters.add('sm-unacked-full');
        sm.resumeId = undefined;
        if (session.detached !== undefined) void destroy(session);
        else void session.stream.fail('resource-constraint', 'too many unacknowledged stanzas (maxUnackedStanzas)');
        return;
      }
      sm.outbound = (sm.outbound + 1) % SM_MODULUS;
      sm.unacked.push(stanza);
      counters.add('stanzas-routed');
      if (session.detached !== undefined) {
        counters.add('sm-queued-detached');
        return;
      }
      write(session, stanza);
      if (sm.unacked.length % ackRequestInterval === 0) void session.stream.send(el('r', NS_SM)).catch(() => counters.add('delivery-failed'));
      return;
    }
    if (session.stream.isClosed) return;
    // A recipient that does not read must not make the server buffer without bound: past
    // maxPendingWrites stanzas in flight, its session ends.
    if (session.pendingWrites >= maxPendingWrites) {
      counters.add('send-queue-full');
      void session.stream.fail('resource-constraint', 'too many stanzas waiting to be sent (maxPendingWrites)');
      return;
    }
    counters.add('stanzas-routed');
    if (sm) sm.outbound = (sm.outbound + 1) % SM_MODULUS;
    write(session, stanza);
  }

  function write(session: ClientSession, stanza: XmlElement): void {
    session.pendingWrites++;
    session.stream.send(stanza).then(
      () => void session.pendingWrites--,
      () => {
        session.pendingWrites--;
        counters.add('delivery-failed');
      },
    );
  }

  async function rosterItem(local: string, jid: string): Promise<StoredRosterItem | undefined> {
    return (await deps.store.roster(local)).find((i) => i.jid === jid);
  }

  function itemElement(item: StoredRosterItem | { jid: string; subscription: 'remove' }): XmlElement {
    if ('ask' in item) {
      return el('item', NS_ROSTER, { jid: item.jid, name: item.name, subscription: item.subscription, ask: item.ask ? 'subscribe' : undefined }, item.groups.map((g) => el('group', NS_ROSTER, {}, [g])));
    }
    return el('item', NS_ROSTER, { jid: item.jid, subscription: 'remove' });
  }

  /** Roster push to every interested resource (RFC 6121 §2.1.6). */
  function push(local: string, item: StoredRosterItem | { jid: string; subscription: 'remove' }): void {
    for (const session of sessionsOf(local)) {
      if (!session.interested) continue;
      deliver(session, el('iq', NS_CLIENT, { type: 'set', id: makeNonce(deps.random, 10), to: formatJid(session.jid) }, [el('query', NS_ROSTER, {}, [itemElement(item)])]));
    }
  }

  async function updateItem(local: string, jid: string, change: (item: StoredRosterItem) => StoredRosterItem): Promise<StoredRosterItem> {
    const before = (await rosterItem(local, jid)) ?? { jid, groups: [], subscription: 'none', ask: false, pendingIn: false, hidden: true };
    const after = change(before);
    await deps.store.putRosterItem(local, after);
    if (!after.hidden && (after.subscription !== before.subscription || after.ask !== before.ask || before.hidden)) push(local, after);
    return after;
  }

  const addTo = (s: StoredRosterItem['subscription']): StoredRosterItem['subscription'] => (s === 'from' || s === 'both' ? 'both' : 'to');
  const addFrom = (s: StoredRosterItem['subscription']): StoredRosterItem['subscription'] => (s === 'to' || s === 'both' ? 'both' : 'from');
  const dropTo = (s: StoredRosterItem['subscription']): StoredRosterItem['subscription'] => (s === 'both' || s === 'from' ? 'from' : 'none');
  const dropFrom = (s: StoredRosterItem['subscription']): StoredRosterItem['subscription'] => (s === 'both' || s === 'to' ? 'to' : 'none');

  /** Presence of every available resource of `local`, sent to `to`. */
  function sendPresenceOf(local: string, to: ClientSession[]): void {
    for (const source of available(local)) {
      const presence = source.presence;
      if (presence === undefined) continue;
      for (const target of to) deliver(target, { ...presence, attrs: { ...presence.attrs, from: formatJid(source.jid), to: formatJid(target.jid) } });
    }
  }

  function sendUnavailableOf(local: string, to: ClientSession[]): void {
    for (const source of available(local)) {
      for (const target of to) deliver(target, el('presence', NS_CLIENT, { from: formatJid(source.jid), to: formatJid(target.jid), type: 'unavailable' }));
    }
  }

  /** Subscription stanzas (RFC 6121 §3): the state machine on both rosters. */
  async function subscription(from: ClientSession, stanza: XmlElement, to: Jid): Promise<void> {
    const type = stanza.attrs.type;
    const user = from.jid.local;
    const userBare = `${user}@${domain}`;
    const contactBare = formatJid(bareJid(to));
    if (!isLocal(to) || !(await exists(to.local))) {
      if (type === 'subscribe') deliver(from, el('presence', NS_CLIENT, { from: contactBare, to: userBare, type: 'unsubscribed' }));
      return;
    }
    const contact = to.local;
    const forward = el('presence', NS_CLIENT, { from: userBare, to: contactBare, type }, children(stanza));
    if (type === 'subscribe') {
      const mine = await updateItem(user, contactBare, (i) => (i.subscription === 'to' || i.subscription === 'both' ? i : { ...i, ask: true, hidden: false }));
      const theirs = await rosterItem(contact, userBare);
      if (theirs && (theirs.subscription === 'from' || theirs.subscription === 'both')) {
        // Already approved: answer on the contact's behalf (RFC 6121 §3.1.3).
        await updateItem(user, contactBare, (i) => ({ ...i, subscription: addTo(i.subscription), ask: false }));
        deliver(from, el('presence', NS_CLIENT, { from: contactBare, to: userBare, type: 'subscribed' }));
        return;
      }
      if (mine.subscription === 'to' || mine.subscription === 'both') return;
      await updateItem(contact, userBare, (i) => ({ ...i, pendingIn: true }));
      for (const target of available(contact)) deliver(target, forward);
    } else if (type === 'subscribed') {
      const theirs = await rosterItem(user, contactBare);
      if (!theirs?.pendingIn) return;
      await updateItem(user, contactBare, (i) => ({ ...i, subscription: addFrom(i.subscription), pendingIn: false, hidden: false }));
      const mine = await rosterItem(contact, userBare);
      if (!mine?.ask) return;
      await updateItem(contact, userBare, (i) => ({ ...i, subscription: addTo(i.subscription), ask: false }));
      for (const target of sessionsOf(contact)) deliver(target, forward);
      sendPresenceOf(user, available(contact));
    } else if (type === 'unsubscribe') {
      await updateItem(user, contactBare, (i) => ({ ...i, subscription: dropTo(i.subscription), ask: false }));
      const theirs = await rosterItem(contact, userBare);
      if (!theirs || (theirs.subscription !== 'from' && theirs.subscription !== 'both' && !theirs.pendingIn)) return;
      await updateItem(contact, userBare, (i) => ({ ...i, subscription: dropFrom(i.subscription), pendingIn: false }));
      for (const target of sessionsOf(contact)) deliver(target, forward);
      sendUnavailableOf(contact, available(user));
    } else if (type === 'unsubscribed') {
      await updateItem(user, contactBare, (i) => ({ ...i, subscription: dropFrom(i.subscription), pendingIn: false }));
      const mine = await rosterItem(contact, userBare);
      if (!mine || (mine.subscription !== 'to' && mine.subscription !== 'both' && !mine.ask)) return;
      await updateItem(contact, userBare, (i) => ({ ...i, subscription: dropTo(i.subscription), ask: false }));
      for (const target of sessionsOf(contact)) deliver(target, forward);
      sendUnavailableOf(user, available(contact));
    }
  }

  /** Presence without 'to': broadcast to subscribers and own resources (RFC 6121 §4.2, §4.4). */
  async function broadcast(session: ClientSession, stanza: XmlElement): Promise<void> {
    const user = session.jid.local;
    const unavailable = stanza.attrs.type === 'unavailable';
    const initial = !unavailable && session.presence === undefined;
    const from = formatJid(session.jid);
    const roster = await deps.store.roster(user);
    const targets: ClientSession[] = [];
    for (const item of roster) {
      if (item.subscription !== 'from' && item.subscription !== 'both') continue;
      const contact = tryParseJid(item.jid);
      if (contact && isLocal(contact)) targets.push(...available(contact.local));
    }
    targets.push(...available(user).filter((s) => s !== session));
    session.presence = unavailable ? undefined : stanza;
    session.priority = Number(text(child(stanza, 'priority'))) || 0;
    for (const target of targets) deliver(target, { ...stanza, attrs: { ...stanza.attrs, from, to: formatJid(target.jid) } });
    if (unavailable) return;
    deliver(session, { ...stanza, attrs: { ...stanza.attrs, from, to: from } });
    if (!initial) return;
    // Probes answered locally (RFC 6121 §4.3), and requests that waited (RFC 6121 §3.1.3).
    for (const item of roster) {
      const contact = tryParseJid(item.jid);
      if (!contact || !isLocal(contact)) continue;
      if (item.subscription === 'to' || item.subscription === 'both') sendPresenceOf(contact.local, [session]);
      if (item.pendingIn) deliver(session, el('presence', NS_CLIENT, { from: item.jid, to: `${user}@${domain}`, type: 'subscribe' }));
    }
    sendPresenceOf(user, [session]);
  }

  async function routeMessage(session: ClientSession, stanza: XmlElement, to: Jid): Promise<void> {
    const type = stanza.attrs.type ?? 'normal';
    if (!isLocal(to)) {
      if (to.domain !== domain) deliver(session, stanzaError(stanza, 'cancel', 'remote-server-not-found'));
      return;
    }
    const full = to.resource ? accounts.get(to.local)?.get(to.resource) : undefined;
    if (full) return deliver(full, stanza);
    if (type === 'error' || type === 'headline' || (to.resource && type === 'groupchat')) return;
    // Bare JID (or unknown resource, RFC 6121 §8.5.3.2.1): every available resource with a
    // non-negative priority (RFC 6121 §8.5.2.1.1); no offline storage, so none means an error.
    const targets = available(to.local).filter((s) => s.priority >= 0);
    if (targets.length === 0 || type === 'groupchat') {
      counters.add('undeliverable');
      return deliver(session, stanzaError(stanza, 'cancel', 'service-unavailable'));
    }
    for (const target of targets) deliver(target, stanza);
  }

  async function routePresence(session: ClientSession, stanza: XmlElement, to: Jid | undefined): Promise<void> {
    const type = stanza.attrs.type;
    if (type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed') {
      if (to) await subscription(session, stanza, to);
      return;
    }
    if (to === undefined) return broadcast(session, stanza);
    if (type === 'probe') return isLocal(to) ? sendPresenceOf(to.local, [session]) : undefined;
    // Directed presence (RFC 6121 §4.6).
    if (!isLocal(to)) return;
    const targets = to.resource ? [accounts.get(to.local)?.get(to.resource)].filter((s): s is ClientSession => s !== undefined) : available(to.local);
    for (const target of targets) deliver(target, stanza);
  }

  async function handleIq(session: ClientSession, stanza: XmlElement, to: Jid | undefined): Promise<void> {
    const type = stanza.attrs.type;
    const id = stanza.attrs.id;
    if (id === undefined || !['get', 'set', 'result', 'error'].includes(type ?? '')) return deliver(session, stanzaError(stanza, 'modify', 'bad-request'));
    const ownBare = to !== undefined && to.local === session.jid.local && to.domain === domain && to.resource === '';
    if (to !== undefined && !ownBare && !(to.local === '' && to.domain === domain && to.resource === '')) {
      if (to.resource && isLocal(to)) {
        const target = accounts.get(to.local)?.get(to.resource);
        if (target) return deliver(target, stanza);
      }
      if (type === 'result' || type === 'error') return;
      if (isLocal(to) && !to.resource && (await exists(to.local))) return handleAccountIq(session, stanza, to);
      return deliver(session, stanzaError(stanza, 'cancel', 'service-unavailable'));
    }
    if (type === 'result' || type === 'error') return;
    const payload = children(stanza)[0];
    const result = (kids: XmlElement[] = []): void => deliver(session, el('iq', NS_CLIENT, { type: 'result', id, to: formatJid(session.jid), from: stanza.attrs.to }, kids));
    if (payload === undefined) return deliver(session, stanzaError(stanza, 'modify', 'bad-request'));
    if (payload.ns === NS_ROSTER && payload.name === 'query') return roster(session, stanza, payload, result);
    if (type === 'get' && payload.name === 'ping' && payload.ns === NS_PING) return result();
    if (type === 'set' && payload.name === 'session' && payload.ns === NS_SESSION) return result();
    if (type === 'get' && payload.name === 'query' && payload.ns === NS_DISCO_INFO) {
      if (ownBare) return handleAccountIq(session, stanza, to);
      return result([el('query', NS_DISCO_INFO, {}, [el('identity', NS_DISCO_INFO, { category: 'server', type: 'im', name: 'morgana' }), ...SERVER_FEATURES.map((f) => el('feature', NS_DISCO_INFO, { var: f }))])]);
    }
    if (type === 'get' && payload.name === 'query' && payload.ns === NS_DISCO_ITEMS) return result([el('query', NS_DISCO_ITEMS)]);
    deliver(session, stanzaError(stanza, 'cancel', 'service-unavailable'));
  }

  /** An iq to an account's bare JID is answered by the server on its behalf (RFC 6121 §8.5.1). */
  function handleAccountIq(session: ClientSession, stanza: XmlElement, to: Jid): void {
    const payload = children(stanza)[0];
    if (stanza.attrs.type === 'get' && payload?.name === 'query' && payload.ns === NS_DISCO_INFO) {
      return deliver(session, el('iq', NS_CLIENT, { type: 'result', id: stanza.attrs.id, to: formatJid(session.jid), from: formatJid(to) }, [el('query', NS_DISCO_INFO, {}, [el('identity', NS_DISCO_INFO, { category: 'account', type: 'registered' })])]));
    }
    deliver(session, stanzaError(stanza, 'cancel', 'service-unavailable'));
  }

  /** Roster get and set (RFC 6121 §2.1.3, §2.1.5, §2.5). */
  async function roster(session: ClientSession, stanza: XmlElement, query: XmlElement, result: (kids?: XmlElement[]) => void): Promise<void> {
    const user = session.jid.local;
    if (stanza.attrs.type === 'get') {
      session.interested = true;
      const items = (await deps.store.roster(user)).filter((i) => !i.hidden);
      return result([el('query', NS_ROSTER, {}, items.map(itemElement))]);
    }
    const items = children(query, 'item', NS_ROSTER);
    const jid = items.length === 1 ? tryParseJid(items[0].attrs.jid ?? '') : undefined;
    // Exactly one item with a valid JID, not our own account (RFC 6121 §2.3.3).
    if (jid === undefined || (jid.local === user && jid.domain === domain)) return deliver(session, stanzaError(stanza, 'modify', 'bad-request'));
    const bare = formatJid(bareJid(jid));
    const item = items[0];
    if (item.attrs.subscription === 'remove') {
      const existing = await rosterItem(user, bare);
      if (existing === undefined || existing.hidden) return deliver(session, stanzaError(stanza, 'cancel', 'item-not-found'));
      await deps.store.removeRosterItem(user, bare);
      result();
      push(user, { jid: bare, subscription: 'remove' });
      // Removing an item cancels both subscriptions (RFC 6121 §2.5.2).
      if (existing.subscription === 'to' || existing.subscription === 'both' || existing.ask) await subscription(session, el('presence', NS_CLIENT, { type: 'unsubscribe' }), jid);
      if (existing.subscription === 'from' || existing.subscription === 'both') await subscription(session, el('presence', NS_CLIENT, { type: 'unsubscribed' }), jid);
      return;
    }
    const groups = children(item, 'group', NS_ROSTER).map((g) => text(g));
    if (new Set(groups).size !== groups.length || groups.includes('')) return deliver(session, stanzaError(stanza, 'modify', 'bad-request'));
    const existing = await rosterItem(user, bare);
    const updated: StoredRosterItem = { ...(existing ?? { jid: bare, subscription: 'none', ask: false, pendingIn: false }), jid: bare, name: item.attrs.name, groups, hidden: false };
    await deps.store.putRosterItem(user, updated);
    result();
    push(user, updated);
  }

  async function route(session: ClientSession, stanza: XmlElement): Promise<void> {
    // The server stamps 'from' with the sender's full JID (RFC 6120 §8.1.2.1).
    const from = formatJid(session.jid);
    if (stanza.attrs.from !== undefined) {
      const claimed = tryParseJid(stanza.attrs.from);
      if (!claimed || claimed.local !== session.jid.local || claimed.domain !== domain || (claimed.resource !== '' && claimed.resource !== session.jid.resource)) {
        await session.stream.fail('invalid-from');
        return;
      }
    }
    const stamped: XmlElement = { ...stanza, attrs: { ...stanza.attrs, from } };
    const to = stanza.attrs.to === undefined ? undefined : tryParseJid(stanza.attrs.to);
    if (stanza.attrs.to !== undefined && to === undefined) return deliver(session, stanzaError(stamped, 'modify', 'jid-malformed'));
    if (stanza.name === 'message') return to ? routeMessage(session, stamped, to) : undefined;
    if (stanza.name === 'presence') return routePresence(session, stamped, to);
    return handleIq(session, stamped, to);
  }

  /**
   * XEP-0198 stream management without resumption: enable, answer ack requests with the count
   * of handled stanzas, and check the client's acks against what was sent (XEP-0198 §4, §5).
   */
  async function streamManagement(session: ClientSession, element: XmlElement): Promise<void> {
    if (element.name === 'enable') {
      if (session.sm) return session.stream.send(el('failed', NS_SM, {}, [el('unexpected-request', NS_STANZA_ERRORS)]));
      const resume = element.attrs.resume === 'true' || element.attrs.resume === '1';
      const resumeId = resume ? makeNonce(deps.random, 16) : undefined;
      session.sm = { inbound: 0, outbound: 0, acked: 0, resumeId, unacked: [] };
      if (resumeId === undefined) return session.stream.send(el('enabled', NS_SM));
      resumable.set(resumeId, session);
      counters.add('sm-resumable');
      return session.stream.send(el('enabled', NS_SM, { id: resumeId, resume: 'true', max: String(Math.floor(resumeTimeout / 1000)) }));
    }
    if (session.sm === undefined) return session.stream.fail('unsupported-stanza-type', 'stream management is not enabled');
    if (element.name === 'r') return session.stream.send(el('a', NS_SM, { h: String(session.sm.inbound) }));
    if (element.name === 'a') {
      if (!acknowledge(session.sm, element.attrs.h)) {
        counters.add('sm-bad-ack');
        return session.stream.fail('undefined-condition', 'handled-count-too-high');
      }
      return;
    }
    await session.stream.fail('unsupported-stanza-type');
  }

  /**
   * Applies the client's `h` (XEP-0198 §4, counters mod 2^32): drops that many stanzas from the
   * retransmission queue. False when `h` acknowledges more than was sent.
   */
  function acknowledge(sm: SmState, value: string | undefined): boolean {
    const h = Number(value);
    if (value === undefined || !Number.isInteger(h) || h < 0 || h >= SM_MODULUS) return false;
    const count = (h - sm.acked + SM_MODULUS) % SM_MODULUS;
    const outstanding = (sm.outbound - sm.acked + SM_MODULUS) % SM_MODULUS;
    if (count > outstanding) return false;
    sm.acked = h;
    sm.unacked.splice(0, count);
    return true;
  }

  /**
   * `<resume/>` after authentication (XEP-0198 §5): the session of `previd` takes over this
   * stream, learns what the client handled, and gets every unacknowledged stanza again.
   * Undefined when it cannot be resumed (the client may bind a new session instead).
   */
  async function resume(stream: XmppStream, element: XmlElement, user: string): Promise<ClientSession | undefined> {
    const previd = element.attrs.previd ?? '';
    const session = resumable.get(previd);
    const sm = session?.sm;
    if (session === undefined || sm === undefined || session.jid.local !== user) {
      counters.add('sm-resume-failed');
      await stream.send(el('failed', NS_SM, {}, [el('item-not-found', NS_STANZA_ERRORS)]));
      return undefined;
    }
    if (!acknowledge(sm, element.attrs.h)) {
      counters.add('sm-bad-ack');
      await stream.fail('undefined-condition', 'handled-count-too-high');
      return undefined;
    }
    const old = session.stream;
    session.detached?.cancel();
    session.detached = undefined;
    session.stream = stream;
    session.pendingWrites = 0;
    // The old connection may not have been noticed as dead yet: this one replaces it.
    if (!old.isClosed) void old.close();
    counters.add('sm-resumed');
    await stream.send(el('resumed', NS_SM, { previd, h: String(sm.inbound) }));
    for (const stanza of sm.unacked) write(session, stanza);
    return session;
  }

  /** Ends a session for good: unbinds it and broadcasts unavailable presence. */
  async function destroy(session: ClientSession): Promise<void> {
    session.detached?.cancel();
    session.detached = undefined;
    if (session.sm?.resumeId !== undefined) resumable.delete(session.sm.resumeId);
    for (const [id, s] of resumable) if (s === session) resumable.delete(id);
    const resources = accounts.get(session.jid.local);
    if (resources?.get(session.jid.resource) !== session) return;
    resources.delete(session.jid.resource);
    if (resources.size === 0) accounts.delete(session.jid.local);
    // An abrupt end is an unavailable presence (RFC 6121 §4.5.3).
    if (session.presence !== undefined) {
      try {
        await broadcast({ ...session, presence: session.presence }, el('presence', NS_CLIENT, { type: 'unavailable' }));
      } catch {
        counters.add('stream-errors');
      }
    }
  }

  /** Keeps a resumable session whose connection dropped for `resumeTimeout` (XEP-0198 §5). */
  function detach(session: ClientSession): void {
    counters.add('sm-detached');
    session.detached = deps.clock.setTimer(resumeTimeout, () => {
      counters.add('sm-resume-timeouts');
      session.detached = undefined;
      void destroy(session);
    });
  }

  /** Negotiation up to resource binding (RFC 6120 §4-§7); returns the bound session. */
  async function negotiate(stream: XmppStream): Promise<ClientSession | undefined> {
    let secure = false;
    let user: string | undefined;
    let attempts = 0;
    const streamId = makeNonce(deps.random, 16);
    const open = async (): Promise<boolean> => {
      const header = await stream.next();
      if (header === null) return false;
      if (header.type !== 'stream-open' || header.element.name !== 'stream' || header.element.ns !== NS_STREAMS) {
        await stream.sendHeader({ from: domain, id: streamId });
        await stream.fail('invalid-namespace');
        return false;
      }
      await stream.sendHeader({ from: domain, id: makeNonce(deps.random, 16), 'xml:lang': 'en' });
      const to = tryParseJid(header.element.attrs.to ?? '');
      if (to === undefined || to.domain !== domain || to.local !== '') {
        await stream.fail('host-unknown');
        return false;
      }
      const features: XmlElement[] = [];
      if (user === undefined) {
        if (deps.startTls && !secure) features.push(el('starttls', NS_TLS, {}, requireTls ? [el('required', NS_TLS)] : []));
        if (secure || !requireTls) {
          const mechanisms = ['SCRAM-SHA-256', 'SCRAM-SHA-1'];
          if (secure || config.allowPlainWithoutTls) mechanisms.push('PLAIN');
          features.push(el('mechanisms', NS_SASL, {}, mechanisms.map((m) => el('mechanism', NS_SASL, {}, [m]))));
        }
      } else {
        features.push(el('bind', NS_BIND), el('session', NS_SESSION, {}, [el('optional', NS_SESSION)]), el('sm', NS_SM));
      }
      await stream.send(el('features', NS_STREAMS, {}, features));
      return true;
    };
    if (!(await open())) return undefined;
    for (;;) {
      const element = await stream.nextElement();
      if (user === undefined && element.name === 'starttls' && element.ns === NS_TLS && deps.startTls && !secure) {
        await stream.send(el('proceed', NS_TLS));
        stream.flow = await deps.startTls(stream.flow);
        secure = true;
        stream.restart();
        if (!(await open())) return undefined;
      } else if (user === undefined && element.name === 'auth' && element.ns === NS_SASL && (secure || !requireTls)) {
        user = await authenticate(stream, element, secure);
        if (user === undefined) {
          counters.add('auth-failures');
          if (++attempts >= maxAuthAttempts) {
            await stream.fail('policy-violation', 'too many authentication attempts');
            return undefined;
          }
          continue;
        }
        stream.restart();
        if (!(await open())) return undefined;
      } else if (user !== undefined && element.name === 'iq' && element.attrs.type === 'set' && child(element, 'bind', NS_BIND)) {
        return bind(stream, element, user);
      } else if (user !== undefined && element.name === 'resume' && element.ns === NS_SM) {
        const session = await resume(stream, element, user);
        if (session !== undefined || stream.isClosed) return session;
      } else {
        // Anything else before binding is refused (RFC 6120 §4.9.3.12).
        await stream.fail('not-authorized');
        return undefined;
      }
    }
  }

  async function authenticate(stream: XmppStream, auth: XmlElement, secure: boolean): Promise<string | undefined> {
    const mechanism = auth.attrs.mechanism ?? '';
    const failure = async (condition: string): Promise<undefined> => {
      await stream.send(el('failure', NS_SASL, {}, [el(condition, NS_SASL)]));
      return undefined;
    };
    try {
      const initial = fromBase64(text(auth).trim());
      if (mechanism === 'PLAIN' && (secure || config.allowPlainWithoutTls)) {
        const { authzid, username, password } = parsePlain(initial);
        const local = tryParseJid(`${username}@${domain}`)?.local;
        if (authzid !== '' && authzid !== `${local}@${domain}`) return failure('invalid-authzid');
        const creds = local ? await deps.store.credentials(local, 'sha256') : undefined;
        if (!creds || !(await checkPassword(deps.crypto, 'sha256', creds, password))) return failure('not-authorized');
        await stream.send(el('success', NS_SASL));
        counters.add('auth-plain');
        return local;
      }
      const hash = SCRAM_MECHANISMS[mechanism];
      if (hash === undefined) return failure('invalid-mechanism');
      const server = new ScramServer(deps.crypto, hash, async (name) => {
        const local = tryParseJid(`${name}@${domain}`)?.local;
        return local ? deps.store.credentials(local, hash) : undefined;
      }, makeNonce(deps.random));
      await stream.send(el('challenge', NS_SASL, {}, [toBase64(await server.first(initial))]));
      const response = await stream.nextElement();
      if (response.name === 'abort' && response.ns === NS_SASL) return failure('aborted');
      if (response.name !== 'response' || response.ns !== NS_SASL) return failure('malformed-request');
      const { message, username } = await server.final(fromBase64(text(response).trim()));
      counters.add(`auth-${mechanism.toLowerCase()}-gs2-${server.channelBindingFlag}`);
      await stream.send(el('success', NS_SASL, {}, [toBase64(message)]));
      return tryParseJid(`${username}@${domain}`)?.local;
    } catch (error) {
      if (error instanceof SaslError) return failure(error.condition);
      throw error;
    }
  }

  async function bind(stream: XmppStream, iq: XmlElement, user: string): Promise<ClientSession | undefined> {
    const requested = text(child(child(iq, 'bind', NS_BIND) ?? iq, 'resource', NS_BIND)).trim();
    const resources = accounts.get(user) ?? new Map<string, ClientSession>();
    const count = [...accounts.values()].reduce((n, m) => n + m.size, 0);
    if (count >= maxSessions || resources.size >= maxResources) {
      await stream.send(stanzaError(iq, 'wait', 'resource-constraint'));
      await stream.close();
      return undefined;
    }
    let resource = requested === '' ? '' : (tryParseJid(`${user}@${domain}/${requested}`)?.resource ?? '');
    if (requested !== '' && resource === '') {
      await stream.send(stanzaError(iq, 'modify', 'bad-request'));
      await stream.close();
      return undefined;
    }
    // A conflicting resource gets a server-generated one (RFC 6120 §7.7.2.2, "override" is the
    // other allowed policy; keeping the old session is the least surprising).
    if (resource === '' || resources.has(resource)) resource = `${resource}${resource ? '-' : ''}${makeNonce(deps.random, 10)}`;
    const jid: Jid = { local: user, domain, resource };
    const session: ClientSession = { jid, stream, detached: undefined, presence: undefined, priority: 0, interested: false, pendingWrites: 0, sm: undefined };
    resources.set(resource, session);
    accounts.set(user, resources);
    counters.add('sessions-bound');
    await stream.send(el('iq', NS_CLIENT, { type: 'result', id: iq.attrs.id }, [el('bind', NS_BIND, {}, [el('jid', NS_BIND, {}, [formatJid(jid)])])]));
    return session;
  }

  /** {@link negotiate} bounded by `negotiationTimeout`; the timer is gone once it returns. */
  async function negotiateInTime(stream: XmppStream): Promise<ClientSession | undefined> {
    let bound = false;
    const timer = deps.clock.setTimer(negotiationTimeout, () => {
      if (!bound) {
        counters.add('negotiation-timeouts');
        void stream.fail('connection-timeout');
      }
    });
    try {
      const session = await negotiate(stream);
      bound = session !== undefined;
      return session;
    } finally {
      timer.cancel();
    }
  }

  /**
   * Reads and handles one event of a bound session: `more`, `closed` (the client's closing
   * tag, or we closed), or `dropped` (the connection ended without one, which a resume may
   * follow). A function of its own so that, while a session idles, nothing of the last stanza
   * stays referenced from a suspended frame.
   */
  async function serveNext(session: ClientSession, stream: XmppStream): Promise<'more' | 'closed' | 'dropped'> {
    const event = await stream.next();
    if (event === null) return stream.isClosed ? 'closed' : 'dropped';
    if (event.type === 'stream-close') return 'closed';
    if (event.type !== 'stanza') return 'more';
    const stanza = event.element;
    if (stanza.ns === NS_SM) {
      await streamManagement(session, stanza);
      return stream.isClosed ? 'closed' : 'more';
    }
    if (stanza.ns !== NS_CLIENT || !['message', 'presence', 'iq'].includes(stanza.name)) {
      await stream.fail('unsupported-stanza-type');
      return 'closed';
    }
    if (session.sm) session.sm.inbound = (session.sm.inbound + 1) % SM_MODULUS;
    await route(session, stanza);
    return stream.isClosed ? 'closed' : 'more';
  }

  async function handle(flow: Flow): Promise<void> {
    const stream = new XmppStream(flow, config.limits ?? {}, deps.clock, closeTimeout);
    streams.add(stream);
    let session: ClientSession | undefined;
    /** The connection ended without the client's closing tag (a drop a resume may follow). */
    let dropped = false;
    try {
      session = await negotiateInTime(stream);
      if (session === undefined) return;
      let outcome: 'more' | 'closed' | 'dropped';
      do outcome = await serveNext(session, stream);
      while (outcome === 'more');
      dropped = outcome === 'dropped';
    } catch (error) {
      if (error instanceof XmlError) {
        counters.add(`xml-${error.reason}`);
        await stream.fail(conditionForXmlError(error.reason));
      } else {
        counters.add('stream-errors');
        dropped = !stream.isClosed;
      }
    } finally {
      streams.delete(stream);
      // A session resumed on another connection meanwhile is no longer this stream's.
      if (session !== undefined && session.stream === stream) {
        if (dropped && session.sm?.resumeId !== undefined) detach(session);
        else await destroy(session);
      }
      await stream.close();
    }
  }

  return {
    handle,
    sessions: () => [...accounts.values()].flatMap((m) => [...m.values()].map((s) => formatJid(s.jid))),
    stats: () => counters.snapshot(),
    async close() {
      for (const session of [...resumable.values()]) if (session.detached !== undefined) await destroy(session);
      await Promise.all([...streams].map((s) => s.fail('system-shutdown')));
    },
  };
}
