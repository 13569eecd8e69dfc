/**
 * JIDs (RFC 7622): parsing and the common subset of PRECIS preparation: the localpart as a
 * case-mapped username (RFC 8265 §3.3), the domain lowercased and NFC-normalized, the resource as
 * an opaque string (RFC 8265 §4.2), each at most 1023 bytes of UTF-8 (RFC 7622 §3.2-3.4).
 */
import { AddressError } from '@morgana/core';

/** A prepared JID; compare with {@link jidEquals} or by {@link formatJid}. */
export interface Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
}

/** Longest part in bytes of UTF-8 (RFC 7622 §3.2, §3.3, §3.4). */
export const JID_MAX_PART_BYTES = 1023;

/** Characters a localpart may not hold (RFC 7622 §3.3.1). */
const LOCAL_FORBIDDEN = /["&'/:<>@]/;

function utf8Length(text: string): number {
  let length = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    length += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return length;
}

function hasControlOrSpaceIssue(text: string, allowSpace: boolean): boolean {
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    // PRECIS disallows controls (RFC 8264 §9.12) and, in the IdentifierClass, spaces (§9.14).
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
    if (!allowSpace && /\s/u.test(ch)) return true;
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

/** Width mapping (RFC 8265 §3.3.1 rule 1): fullwidth and halfwidth forms to their decompositions. */
function widthMap(text: string): string {
  return text.replace(/[\uFF01-\uFFEF]/g, (c) => c.normalize('NFKC'));
}

/** Prepares a localpart: width map, lowercase, NFC; empty means "no localpart". */
export function prepareLocal(local: string): string {
  const prepared = widthMap(local).toLowerCase().normalize('NFC');
  if (prepared.length === 0) return '';
  if (LOCAL_FORBIDDEN.test(prepared) || hasControlOrSpaceIssue(prepared, false)) throw new AddressError(`JID localpart '${local}' holds a forbidden character (RFC 7622 §3.3.1)`);
  if (utf8Length(prepared) > JID_MAX_PART_BYTES) throw new AddressError('JID localpart is longer than 1023 bytes (RFC 7622 §3.3)');
  return prepared;
}

/** Prepares a domainpart: strips one trailing dot, lowercases, NFC (RFC 7622 §3.2). */
export function prepareDomain(domain: string): string {
  let prepared = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  prepared = widthMap(prepared).toLowerCase().normalize('NFC');
  if (prepared.length === 0) throw new AddressError('JID domainpart is empty (RFC 7622 §3.2)');
  if (utf8Length(prepared) > JID_MAX_PART_BYTES) throw new AddressError('JID domainpart is longer than 1023 bytes (RFC 7622 §3.2)');
  if (prepared.startsWith('[')) {
    if (!/^\[[0-9a-f:.]+\]$/.test(prepared)) throw new AddressError(`'${domain}' is not an IPv6 literal`);
    return prepared;
  }
  for (const label of prepared.split('.')) {
    if (label.length === 0 || label.length > 63) throw new AddressError(`JID domainpart '${domain}' has an empty or over-long label`);
    if (/[\s"&'/:<>@\\,;[\]()]/u.test(label) || hasControlOrSpaceIssue(label, false)) throw new AddressError(`JID domainpart '${domain}' holds a forbidden character`);
  }
  return prepared;
}

/** Prepares a resourcepart: non-ASCII spaces to U+0020, NFC, case preserved (RFC 7622 §3.4). */
export function prepareResource(resource: string): string {
  const prepared = resource.replace(/[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g, ' ').normalize('NFC');
  if (hasControlOrSpaceIssue(prepared, true)) throw new AddressError('JID resourcepart holds a control character (RFC 7622 §3.4)');
  if (utf8Length(prepared) > JID_MAX_PART_BYTES) throw new AddressError('JID resourcepart is longer than 1023 bytes (RFC 7622 §3.4)');
  return prepared;
}

/**
 * Parses and prepares a JID. The resource is everything after the first '/', the localpart
 * everything before the first '@' of what remains (RFC 7622 §3.1); throws `AddressError`.
 */
export function parseJid(text: string): Jid {
  const slash = text.indexOf('/');
  const bare = slash < 0 ? text : text.slice(0, slash);
  const resource = slash < 0 ? '' : text.slice(slash + 1);
  if (slash >= 0 && resource.length === 0) throw new AddressError(`JID '${text}' has an empty resourcepart`);
  const at = bare.indexOf('@');
  const local = at < 0 ? '' : bare.slice(0, at);
  if (at >= 0 && local.length === 0) throw new AddressError(`JID '${text}' has an empty localpart`);
  const jid = { local: prepareLocal(local), domain: prepareDomain(at < 0 ? bare : bare.slice(at + 1)), resource: slash < 0 ? '' : prepareResource(resource) };
  if (at >= 0 && jid.local.length === 0) throw new AddressError(`JID '${text}' has an empty localpart`);
  return jid;
}

/** Like {@link parseJid} but `undefined` instead of throwing. */
export function tryParseJid(text: string): Jid | undefined {
  try {
    return parseJid(text);
  } catch {
    return undefined;
  }
}

/** The JID's string form. */
export function formatJid(jid: Jid): string {
  return `${jid.local ? `${jid.local}@` : ''}${jid.domain}${jid.resource ? `/${jid.resource}` : ''}`;
}

/** The JID without its resource. */
export function bareJid(jid: Jid): Jid {
  return { local: jid.local, domain: jid.domain, resource: '' };
}

/** True when both name the same entity. */
export function jidEquals(a: Jid, b: Jid): boolean {
  return a.local === b.local && a.domain === b.domain && a.resource === b.resource;
}
