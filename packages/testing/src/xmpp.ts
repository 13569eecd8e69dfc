/**
 * `@morgana/testing/xmpp`: fast-check arbitraries for XMPP stanzas (message, presence, iq with
 * payload elements in their own namespaces), valid by construction for `@morgana/xmpp`'s XML
 * stream parser, and mutators that make restricted-XML violations (RFC 6120 §11.1: entity
 * bombs, comments, processing instructions) and resource exhaustion (deep nesting, attribute
 * floods). Needs the optional peer `@morgana/xmpp`.
 */
import * as fc from 'fast-check';
import { concatBytes, utf8Encode } from '@morgana/core';
import { NS_CLIENT, serialize } from '@morgana/xmpp';
import type { XmlElement } from '@morgana/xmpp';
import { genericMutators } from './mutators.js';
import type { Mutant } from './mutators.js';

/** The stream header a stanza arbitrary assumes (a client-to-server stream, RFC 6120 §4.7). */
export const XMPP_STREAM_HEADER = `<?xml version='1.0'?><stream:stream xmlns='${NS_CLIENT}' xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>`;

/**
 * Text an XML 1.0 document can carry as it is: any Unicode scalar value that is an XML `Char`,
 * but CR, which XML turns into LF (§2.11), so a round trip would not see it.
 */
export function arbXmlText(maxLength = 40): fc.Arbitrary<string> {
  return fc
    .string({
      unit: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz ABC0123456789.,!?') },
        { weight: 2, arbitrary: fc.constantFrom('&', '<', '>', '"', "'", ']]>', '\t', '\n') },
        { weight: 1, arbitrary: fc.constantFrom('é', 'ß', '中', '😀', '\u{10ffff}', '\u00a0') },
      ),
      minLength: 1,
      maxLength,
    });
}

const localName = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
const namespace = fc.constantFrom('urn:xmpp:receipts', 'http://jabber.org/protocol/chatstates', 'jabber:iq:roster', 'urn:example:payload', 'urn:xmpp:ping');

/** An attribute value: any {@link arbXmlText} (the serializer escapes what it must), possibly empty. */
function attrValue(): fc.Arbitrary<string> {
  return fc.oneof(fc.constant(''), arbXmlText(30));
}

/** An element in a namespace of its own, nested up to `depth` (default 3) levels, with text and attributes. */
export function arbXmlPayload(depth = 3): fc.Arbitrary<XmlElement> {
  const children = depth <= 1 ? arbXmlText() : fc.oneof({ weight: 2, arbitrary: arbXmlText() }, { weight: 1, arbitrary: arbXmlPayload(depth - 1) });
  return fc
    .record({
      name: localName,
      ns: namespace,
      attrs: fc.dictionary(localName.filter((name) => name !== 'xmlns'), attrValue(), { maxKeys: 3, noNullPrototype: true }),
      children: fc.array(children, { maxLength: 4 }),
    })
    .map((element) => ({ ...element, children: mergeText(element.children) }));
}

/** Joins adjacent text children: a parser reports one text node where a generator made two. */
function mergeText(children: readonly (XmlElement | string)[]): (XmlElement | string)[] {
  const merged: (XmlElement | string)[] = [];
  for (const child of children) {
    const last = merged[merged.length - 1];
    if (typeof child === 'string' && typeof last === 'string') merged[merged.length - 1] = last + child;
    else merged.push(child);
  }
  return merged;
}

const jid = fc.constantFrom('juliet@example.test', 'romeo@example.test/orchard', 'example.test', 'room@muc.example.test/nick');

function stanzaAttrs(types: readonly string[]): fc.Arbitrary<Record<string, string>> {
  return fc
    .record({ to: jid, from: jid, id: fc.stringMatching(/^[A-Za-z0-9-]{1,16}$/), type: fc.constantFrom(...types), 'xml:lang': fc.constantFrom('en', 'de', 'fr-CA') }, { requiredKeys: [] })
    .map((attrs) => Object.fromEntries(Object.entries(attrs).filter(([, value]) => value !== undefined)) as Record<string, string>);
}

function clientChild(name: string): fc.Arbitrary<XmlElement> {
  return arbXmlText(60).map((text) => ({ name, ns: NS_CLIENT, attrs: {}, children: [text] }));
}

/**
 * A stanza in `jabber:client` (RFC 6120 §8): a message with body, subject or thread, a
 * presence with show, status and priority, or an iq carrying one payload element; plus
 * extension payloads in other namespaces.
 */
export function arbXmppStanza(): fc.Arbitrary<XmlElement> {
  const payloads = fc.array(arbXmlPayload(), { maxLength: 2 });
  const message = fc
    .tuple(stanzaAttrs(['chat', 'normal', 'groupchat', 'headline', 'error']), fc.array(fc.oneof(clientChild('body'), clientChild('subject'), clientChild('thread')), { maxLength: 3 }), payloads)
    .map(([attrs, parts, extensions]): XmlElement => ({ name: 'message', ns: NS_CLIENT, attrs, children: [...parts, ...extensions] }));
  const presence = fc
    .tuple(
      stanzaAttrs(['unavailable', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error']),
      fc.array(fc.oneof(fc.constantFrom('away', 'chat', 'dnd', 'xa').map((show): XmlElement => ({ name: 'show', ns: NS_CLIENT, attrs: {}, children: [show] })), clientChild('status'), fc.integer({ min: -128, max: 127 }).map((priority): XmlElement => ({ name: 'priority', ns: NS_CLIENT, attrs: {}, children: [String(priority)] }))), { maxLength: 3 }),
      payloads,
    )
    .map(([attrs, parts, extensions]): XmlElement => ({ name: 'presence', ns: NS_CLIENT, attrs, children: [...parts, ...extensions] }));
  const iq = fc
    .tuple(stanzaAttrs(['get', 'set', 'result', 'error']), fc.option(arbXmlPayload(), { nil: undefined }))
    .map(([attrs, payload]): XmlElement => ({ name: 'iq', ns: NS_CLIENT, attrs, children: payload === undefined ? [] : [payload] }));
  return fc.oneof(message, presence, iq);
}

/** Serializes a stanza as it appears inside a client stream (no `xmlns` on `jabber:client` elements). */
export function encodeXmppStanza(stanza: XmlElement): Uint8Array {
  return utf8Encode(serialize(stanza, { defaultNs: NS_CLIENT }));
}

/** {@link arbXmppStanza} encoded. */
export function arbXmppStanzaBytes(): fc.Arbitrary<Uint8Array> {
  return arbXmppStanza().map(encodeXmppStanza);
}

const ascii = (text: string): Uint8Array => utf8Encode(text);

/** Puts `inner` inside a `<message>` stanza. */
function inMessage(inner: string): Uint8Array {
  return ascii(`<message to='a@example.test'>${inner}</message>`);
}

/**
 * Restricted-XML violations and exhaustion attacks, each of which the stream parser must
 * refuse: a document type declaration with an entity bomb ("billion laughs"), an entity other
 * than the five predefined ones, a comment, a processing instruction (RFC 6120 §11.1),
 * nesting deeper than the parser's limit (32 by default), more attributes than its limit (64),
 * an attribute value over its limit (16 384), a duplicate attribute, an unbound prefix, a
 * mismatched end tag, a character XML forbids, bytes that are not UTF-8.
 */
export function xmppHostileVariants(): fc.Arbitrary<Mutant> {
  const variant = (arbitrary: fc.Arbitrary<readonly [Uint8Array, string]>): fc.Arbitrary<Mutant> =>
    arbitrary.map(([bytes, mutation]) => ({ bytes, mutation, invalid: true }));
  return fc.oneof(
    variant(fc.integer({ min: 2, max: 9 }).map((levels) => {
      const entities = Array.from({ length: levels }, (_, level) => `<!ENTITY lol${level + 1} "${`&lol${level};`.repeat(10)}">`).join('');
      return [ascii(`<!DOCTYPE lolz [<!ENTITY lol0 "lol">${entities}]><message><body>&lol${levels};</body></message>`), `entity bomb of ${levels} levels`] as const;
    })),
    variant(fc.stringMatching(/^[a-z]{1,8}$/).filter((name) => !['amp', 'lt', 'gt', 'quot', 'apos'].includes(name)).map((name) => [inMessage(`<body>&${name};</body>`), `entity &${name};`] as const)),
    variant(fc.constantFrom('<!-- hidden -->', '<!---->').map((comment) => [inMessage(comment), 'a comment'] as const)),
    variant(fc.constantFrom('<?php echo 1; ?>', '<?xml-stylesheet href="x"?>', '<?x?>').map((pi) => [inMessage(pi), 'a processing instruction'] as const)),
    variant(fc.integer({ min: 32, max: 2000 }).map((depth) => [inMessage(`${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}`), `nesting ${depth + 2} deep`] as const)),
    variant(fc.integer({ min: 65, max: 500 }).map((count) => [ascii(`<message ${Array.from({ length: count }, (_, index) => `a${index}='x'`).join(' ')}/>`), `${count} attributes`] as const)),
    variant(fc.integer({ min: 16_385, max: 40_000 }).map((size) => [ascii(`<message id='${'x'.repeat(size)}'/>`), `a ${size}-character attribute`] as const)),
    variant(fc.constant([ascii(`<message id='a' id='b'/>`), 'a duplicate attribute'] as const)),
    variant(fc.stringMatching(/^[a-z]{1,6}$/).filter((prefix) => prefix !== 'xml' && prefix !== 'stream').map((prefix) => [ascii(`<${prefix}:message/>`), `unbound prefix ${prefix}`] as const)),
    variant(fc.constant([ascii(`<message><body>x</bodyy></message>`), 'a mismatched end tag'] as const)),
    variant(fc.constantFrom('\u0000', '\u0001', '\u001b', '\ufffe', '&#0;', '&#x1;', '&#xd800;').map((bad) => [inMessage(`<body>${bad}</body>`), `forbidden character ${JSON.stringify(bad)}`] as const)),
    variant(fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]).map((bad) => [concatBytes([ascii('<message><body>'), Uint8Array.from(bad), ascii('</body></message>')]), `invalid UTF-8 ${bad.map((b) => b.toString(16)).join(' ')}`] as const)),
  );
}

/** Hostile stanzas: {@link xmppHostileVariants} and the generic mutators over valid stanzas. Feed them after {@link XMPP_STREAM_HEADER}. */
export function arbHostileXmppStanza(): fc.Arbitrary<Mutant> {
  const generic = genericMutators();
  return fc.oneof(
    { weight: 3, arbitrary: xmppHostileVariants() },
    { weight: 1, arbitrary: fc.tuple(arbXmppStanzaBytes(), fc.nat({ max: generic.length - 1 })).chain(([bytes, which]) => generic[which](bytes)) },
  );
}
