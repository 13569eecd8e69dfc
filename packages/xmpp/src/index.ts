export { XML_NS, XML_LIMIT_DEFAULTS, XmlError, XmlStreamParser, type XmlContext, type XmlElement, type XmlEvent, type XmlLimits, child, children, el, escapeAttr, escapeText, serialize, text } from './xml.js';
export { JID_MAX_PART_BYTES, type Jid, bareJid, formatJid, jidEquals, parseJid, prepareDomain, prepareLocal, prepareResource, tryParseJid } from './jid.js';
export { type ScramCredentials, type ScramCrypto, type ScramHash, SCRAM_MECHANISMS, SCRAM_MIN_ITERATIONS, SaslError, ScramClient, ScramServer, checkPassword, deriveScramCredentials, fromBase64, makeNonce, parsePlain, plainMessage, saslPrep, toBase64 } from './sasl.js';
export {
  NS_BIND,
  NS_CLIENT,
  NS_COMPONENT_ACCEPT,
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_PING,
  NS_ROSTER,
  NS_SASL,
  NS_SESSION,
  NS_STANZA_ERRORS,
  NS_STREAM_ERRORS,
  NS_STREAMS,
  NS_SM,
  NS_TLS,
  type StartTls,
  StanzaError,
  StreamError,
  XmppStream,
  stanzaError,
  stanzaErrorOf,
  streamErrorOf,
} from './stream.js';
export { type RosterItem, type XmppClient, type XmppClientEvents, type XmppClientOptions, XMPP_CLIENT_DEFAULTS, connectXmpp, parseRosterItem } from './client.js';
export { type MemoryStore, type StoredRosterItem, type XmppServer, type XmppServerConfig, type XmppServerDeps, type XmppStore, STORE_ITERATIONS, XMPP_SERVER_DEFAULTS, createMemoryStore, createXmppServer } from './server.js';
export { ComponentError, type ComponentOptions, type XmppComponent, type XmppComponentEvents, XMPP_COMPONENT_DEFAULTS, componentHandshake, connectComponent } from './component.js';
