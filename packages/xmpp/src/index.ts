export { XML_NS, XML_LIMIT_DEFAULTS, XmlError, XmlStreamParser, type XmlContext, type XmlElement, type XmlEvent, type XmlLimits, child, children, el, escapeAttr, escapeText, serialize, text } from './xml.js';
export { JID_MAX_PART_BYTES, type Jid, bareJid, formatJid, jidEquals, parseJid, prepareDomain, prepareLocal, prepareResource, tryParseJid } from './jid.js';
