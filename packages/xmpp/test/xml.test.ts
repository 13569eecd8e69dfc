import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '@morgana/core';
import { XmlError, XmlStreamParser, type XmlElement, type XmlEvent, el, serialize } from '../src/xml.js';

const CLIENT = 'jabber:client';
const STREAMS = 'http://etherx.jabber.org/streams';
const HEADER = `<?xml version='1.0'?><stream:stream xmlns='${CLIENT}' xmlns:stream='${STREAMS}' to='example.com' version='1.0'>`;
const encoder = new TextEncoder();

// XML 1.0 characters, including astral ones, minus the controls XML forbids.
const xmlText = fc.string({ unit: fc.oneof(fc.constantFrom('&', '<', '>', '"', "'", ' ', '\n', 'é', '😀', ']]>'), fc.integer({ min: 0x20, max: 0x10ffff }).filter((c) => (c < 0xd800 || c > 0xdfff) && c !== 0xfffe && c !== 0xffff).map((c) => String.fromCodePoint(c))), maxLength: 12 });
const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9._-]{0,6}$/).filter((n) => !n.toLowerCase().startsWith('xml'));
const ns = fc.constantFrom(CLIENT, 'urn:xmpp:ping', 'jabber:iq:roster', 'urn:a&b"c');
const attrs = fc.dictionary(name, xmlText, { maxKeys: 4 });

const element: fc.Arbitrary<XmlElement> = fc.letrec<{ node: XmlElement }>((tie) => ({
  node: fc.record({
    name,
    ns,
    attrs,
    children: fc.array(fc.oneof({ depthSize: 'small', maxDepth: 3 }, xmlText.filter((t) => t.length > 0), tie('node')), { maxLength: 4 }),
  }).map((e) => ({ ...e, children: mergeText(e.children) })),
})).node;

// Adjacent text nodes serialize as one, so the model merges them the same way.
function mergeText(nodes: (XmlElement | string)[]): (XmlElement | string)[] {
  const out: (XmlElement | string)[] = [];
  for (const n of nodes) {
    const last = out[out.length - 1];
    if (typeof n === 'string' && typeof last === 'string') out[out.length - 1] = last + n;
    else out.push(n);
  }
  return out;
}

function parseAll(parser: XmlStreamParser, chunks: Uint8Array[]): XmlEvent[] {
  return chunks.flatMap((chunk) => parser.push(chunk));
}

function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    out.push(bytes.subarray(start, p));
    start = p;
  }
  out.push(bytes.subarray(start));
  return out;
}

function stream(stanzas: XmlElement[]): string {
  return HEADER + stanzas.map((s) => serialize(s, { defaultNs: CLIENT, prefixes: new Map([[STREAMS, 'stream']]) })).join(' ') + '</stream:stream>';
}

function rejects(xml: string, reason: string, limits = {}): void {
  const parser = new XmlStreamParser(limits);
  let error: unknown;
  try {
    parser.pushText(xml);
    parser.pushText('');
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(XmlError);
  expect(error).toBeInstanceOf(DecodeError);
  expect((error as XmlError).reason).toBe(reason);
}

describe('XML stream parser', () => {
  it('emits stream-open, stanzas as trees, and stream-close', () => {
    const parser = new XmlStreamParser();
    const events = parser.pushText(`${HEADER}<message to='a@b' type="chat"><body>hi &amp; &#x1F600; &lt;3</body></message> </stream:stream>`);
    expect(events.map((e) => e.type)).toEqual(['stream-open', 'stanza', 'stream-close']);
    const open = events[0] as { element: XmlElement };
    expect(open.element).toMatchObject({ name: 'stream', ns: STREAMS, attrs: { to: 'example.com', version: '1.0' } });
    const stanza = (events[1] as { element: XmlElement }).element;
    expect(stanza).toEqual({ name: 'message', ns: CLIENT, attrs: { to: 'a@b', type: 'chat' }, children: [{ name: 'body', ns: CLIENT, attrs: {}, children: ['hi & 😀 <3'] }] });
  });

  it('resolves prefixes in scope and xml:lang', () => {
    const parser = new XmlStreamParser();
    const events = parser.pushText(`${HEADER}<stream:features><x:a xmlns:x='urn:x' xml:lang='en' x:b='1'><c/></x:a></stream:features>`);
    const features = (events[1] as { element: XmlElement }).element;
    expect(features.ns).toBe(STREAMS);
    expect(features.children[0]).toEqual({ name: 'a', ns: 'urn:x', attrs: { 'xml:lang': 'en', '{urn:x}b': '1' }, children: [{ name: 'c', ns: CLIENT, attrs: {}, children: [] }] });
  });

  it('yields the same stanzas however the bytes are chunked', () => {
    fc.assert(
      fc.property(fc.array(element, { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 20 }), (stanzas, cuts) => {
        const bytes = encoder.encode(stream(stanzas));
        const whole = parseAll(new XmlStreamParser(), [bytes]);
        const pieces = parseAll(new XmlStreamParser(), chunked(bytes, cuts));
        expect(pieces).toEqual(whole);
        expect(whole.filter((e) => e.type === 'stanza').map((e) => (e as { element: XmlElement }).element)).toEqual(stanzas);
      }),
      { numRuns: 150 },
    );
  });

  it('round-trips serialize → parse, one byte at a time', () => {
    fc.assert(
      fc.property(element, (stanza) => {
        const bytes = encoder.encode(stream([stanza]));
        const parser = new XmlStreamParser();
        const events: XmlEvent[] = [];
        for (let i = 0; i < bytes.length; i++) events.push(...parser.push(bytes.subarray(i, i + 1)));
        expect(events[1]).toEqual({ type: 'stanza', element: stanza });
      }),
      { numRuns: 60 },
    );
  });

  it('throws only XmlError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 100 }), (bytes, tail) => {
        const parser = new XmlStreamParser();
        try {
          parser.pushText(HEADER);
          parser.push(bytes);
          parser.pushText(tail);
        } catch (e) {
          expect(e).toBeInstanceOf(XmlError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('serializes stream-namespace stanzas with the declared prefix and escapes attributes', () => {
    const out = serialize(el('error', STREAMS, {}, [el('x', 'urn:q', { a: `"'<&>\n` }, ['a<b&c]]>'])]), { defaultNs: CLIENT, prefixes: new Map([[STREAMS, 'stream']]) });
    expect(out).toBe(`<stream:error><x xmlns="urn:q" a="&quot;&apos;&lt;&amp;&gt;&#10;">a&lt;b&amp;c]]&gt;</x></stream:error>`);
  });

  describe('refuses what RFC 6120 §11.1 forbids, with a typed error', () => {
    it('DOCTYPE and entity bombs', () => {
      rejects(`<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><stream:stream/>`, 'doctype');
      rejects(`${HEADER}<message>&lol2;</message>`, 'entity');
      rejects(`${HEADER}<message a='&ext;'/>`, 'entity');
    });
    it('comments, CDATA and processing instructions', () => {
      rejects(`${HEADER}<!-- hi -->`, 'comment');
      rejects(`${HEADER}<message><!-- hi --></message>`, 'comment');
      rejects(`${HEADER}<![CDATA[x]]>`, 'malformed');
      rejects(`${HEADER}<?php echo ?>`, 'processing-instruction');
      rejects(`<?xml-stylesheet href='x'?>`, 'processing-instruction');
    });
    it('deep nesting at maxDepth', () => {
      rejects(HEADER + '<a>'.repeat(40), 'depth');
      expect(() => new XmlStreamParser({ maxDepth: 4 }).pushText(`${HEADER}<a><b><c/></b></a>`)).not.toThrow();
      rejects(`${HEADER}<a><b><c><d/></c></b></a>`, 'depth', { maxDepth: 4 });
    });
    it('huge attributes, many attributes, long names, big text and stanzas', () => {
      rejects(`${HEADER}<a b='${'x'.repeat(101)}'/>`, 'attribute-size', { maxAttributeSize: 100 });
      expect(() => new XmlStreamParser({ maxAttributeSize: 100 }).pushText(`${HEADER}<a b='${'x'.repeat(100)}'/>`)).not.toThrow();
      rejects(`${HEADER}<a ${Array.from({ length: 9 }, (_, i) => `a${i}='1'`).join(' ')}/>`, 'attribute-count', { maxAttributes: 8 });
      rejects(`${HEADER}<${'a'.repeat(300)}/>`, 'name-size');
      rejects(`${HEADER}<a>${'x'.repeat(101)}</a>`, 'text-size', { maxTextSize: 100 });
      rejects(`${HEADER}<a>${'<b/>'.repeat(100)}</a>`, 'stanza-size', { maxStanzaSize: 300 });
      expect(() => new XmlStreamParser({ maxStanzaSize: 300 }).pushText(`${HEADER}${'<b/>'.repeat(100)}`)).not.toThrow();
    });
    it('malformed markup', () => {
      rejects(`${HEADER}<a></b>`, 'mismatched-tag');
      rejects(`${HEADER}<p:a/>`, 'unbound-prefix');
      rejects(`${HEADER}<a b='1' b='2'/>`, 'duplicate-attribute');
      rejects(`${HEADER}<a b=1/>`, 'malformed');
      rejects(`${HEADER}hello`, 'malformed');
      rejects(`${HEADER}<a>\u0001</a>`, 'invalid-char');
      rejects(`${HEADER}<a>&#0;</a>`, 'invalid-char');
      rejects(`${HEADER}</stream:stream><a/>`, 'after-close');
    });
    it('invalid UTF-8', () => {
      const parser = new XmlStreamParser();
      parser.pushText(HEADER);
      expect(() => parser.push(new Uint8Array([0x3c, 0x61, 0xff, 0x3e]))).toThrow(XmlError);
    });
  });

  it('takes CDATA sections verbatim inside stanzas, across any chunking (XML 1.0 §2.7)', () => {
    const xml = `${HEADER}<a>x<![CDATA[<b>&amp;]]]]]></a>`;
    const expected = { name: 'a', ns: CLIENT, attrs: {}, children: ['x<b>&amp;]]]'] };
    expect(new XmlStreamParser().pushText(xml)[1]).toEqual({ type: 'stanza', element: expected });
    const parser = new XmlStreamParser();
    const events = [...xml].flatMap((ch) => parser.pushText(ch));
    expect(events[1]).toEqual({ type: 'stanza', element: expected });
  });

  it('returns the events before an error in the same chunk, then throws it (header before stream error)', () => {
    const parser = new XmlStreamParser();
    expect(parser.pushText(`${HEADER}<!DOCTYPE x>`).map((e) => e.type)).toEqual(['stream-open']);
    expect(parser.pendingError?.reason).toBe('doctype');
    expect(() => parser.pushText('<a/>')).toThrow(XmlError);
  });

  it('decodes UTF-8 split anywhere exactly as a one-shot decoder does, and rejects what it rejects', () => {
    const reference = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), fc.array(fc.nat(), { maxLength: 8 }), (body, cuts) => {
        const bytes = new Uint8Array([...encoder.encode(`${HEADER}<a>`), ...body, ...encoder.encode('</a>')]);
        let expected: string | undefined;
        try {
          expected = reference.decode(body);
        } catch {
          expected = undefined;
        }
        const parser = new XmlStreamParser();
        try {
          const events = parseAll(parser, chunked(bytes, cuts));
          const stanza = events.find((e) => e.type === 'stanza') as { element: XmlElement } | undefined;
          if (stanza !== undefined && expected !== undefined) expect(stanza.element.children.join('')).toBe(expected);
          if (stanza !== undefined) expect(expected).toBeDefined();
        } catch (error) {
          expect(error).toBeInstanceOf(XmlError);
          if (expected === undefined) return;
          expect((error as XmlError).reason).not.toBe('invalid-utf8');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('drops a byte order mark only at the start of a stream, also after a restart', () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    const parser = new XmlStreamParser();
    expect(parser.push(bom.subarray(0, 2))).toEqual([]);
    expect(parser.push(new Uint8Array([...bom.subarray(2), ...encoder.encode(HEADER)])).map((e) => e.type)).toEqual(['stream-open']);
    const events = parser.push(new Uint8Array([...encoder.encode('<a>'), ...bom, ...encoder.encode('</a>')]));
    expect(events[0]).toEqual({ type: 'stanza', element: { name: 'a', ns: CLIENT, attrs: {}, children: ['\ufeff'] } });
    parser.reset();
    expect(parser.push(new Uint8Array([...bom, ...encoder.encode(HEADER)])).map((e) => e.type)).toEqual(['stream-open']);
  });

  it('resolves namespaces per stream past the number of shared root scopes', () => {
    for (let i = 0; i < 40; i++) {
      const parser = new XmlStreamParser();
      const events = parser.pushText(`<stream:stream xmlns='urn:ns:${i}' xmlns:stream='${STREAMS}' xmlns:p='urn:p:${i}'><a><p:b/></a>`);
      expect(events[1]).toEqual({ type: 'stanza', element: { name: 'a', ns: `urn:ns:${i}`, attrs: {}, children: [{ name: 'b', ns: `urn:p:${i}`, attrs: {}, children: [] }] } });
    }
  });

  it('starts afresh after reset (stream restart)', () => {
    const parser = new XmlStreamParser();
    parser.pushText(`${HEADER}<a/>`);
    parser.reset();
    expect(parser.pushText(HEADER).map((e) => e.type)).toEqual(['stream-open']);
  });
});
