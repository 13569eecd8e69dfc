import { utf8Encode } from '@morgana/core';
import { XmlError, XmlStreamParser } from '@morgana/xmpp';
import type { XmlEvent } from '@morgana/xmpp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XMPP_STREAM_HEADER, arbHostileXmppStanza, arbXmppStanza, encodeXmppStanza, xmppHostileVariants } from '../src/xmpp.js';
import { expectRejected } from './hostile.js';

/** A parser that has read a client stream's header. */
function openStream(): XmlStreamParser {
  const parser = new XmlStreamParser();
  expect(parser.push(utf8Encode(XMPP_STREAM_HEADER)).map((event) => event.type)).toEqual(['stream-open']);
  return parser;
}

describe('XMPP arbitraries (@morgana/testing/xmpp)', () => {
  it('yields stanzas the stream parser reads back as the same element, however the bytes are cut', () => {
    fc.assert(
      fc.property(arbXmppStanza(), fc.nat(), (stanza, cut) => {
        const parser = openStream();
        const bytes = encodeXmppStanza(stanza);
        const at = cut % (bytes.length + 1);
        const events: XmlEvent[] = [...parser.push(bytes.subarray(0, at)), ...parser.push(bytes.subarray(at))];
        expect(events).toEqual([{ type: 'stanza', element: stanza }]);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses entity bombs, comments, processing instructions, deep nesting and attribute floods (RFC 6120 §11.1)', () => {
    fc.assert(
      fc.property(xmppHostileVariants(), (mutant) => {
        expect(mutant.invalid).toBe(true);
        const parser = openStream();
        expectRejected(mutant, () => parser.push(mutant.bytes), XmlError);
      }),
      { numRuns: 300 },
    );
  });

  it('hostile stanzas never throw anything but XmlError', () => {
    fc.assert(
      fc.property(arbHostileXmppStanza(), (mutant) => {
        const parser = openStream();
        expectRejected(mutant, () => parser.push(mutant.bytes), XmlError);
      }),
      { numRuns: 300 },
    );
  });
});
