import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Headers, HttpError, HttpParser, type MessageHead, serializeChunk, serializeLastChunk, serializeRequestHead } from '../src/index.js';

type Event = ['head', string, string, number, [string, string][], string] | ['data', string] | ['end', [string, string][]] | ['error', number];

/** Feeds `bytes` in the given pieces and records what the parser reports (body data merged per message). */
function parse(bytes: Uint8Array, cuts: number[] = [], kind: 'request' | 'response' = 'request'): Event[] {
  const events: Event[] = [];
  let body = '';
  const parser = new HttpParser(kind, {
    onHead: (h: MessageHead) => events.push(['head', h.method, h.target, h.minorVersion, [...h.headers], h.bodyKind]),
    onData: (d) => {
      body += Buffer.from(d).toString('latin1');
    },
    onEnd: (t) => {
      if (body.length > 0) events.push(['data', body]);
      body = '';
      events.push(['end', [...t]]);
    },
    onError: (e) => events.push(['error', e.status]),
  });
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let last = 0;
  for (const point of [...points, bytes.length]) {
    parser.push(bytes.subarray(last, point));
    last = point;
  }
  return events;
}

const enc = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));
const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const fieldValue = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/);
const target = fc.stringMatching(/^\/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]{0,40}$/);

const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  target,
  headers: fc.array(fc.tuple(token.filter((n) => !['host', 'content-length', 'transfer-encoding', 'expect', 'connection'].includes(n.toLowerCase())), fieldValue), { maxLength: 6 }),
  body: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { nil: undefined }),
  chunked: fc.boolean(),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 }),
  trailers: fc.array(fc.tuple(token.filter((n) => !['host', 'content-length', 'transfer-encoding'].includes(n.toLowerCase())), fieldValue), { maxLength: 2 }),
});

type GeneratedRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

function serialize(r: GeneratedRequest): Uint8Array {
  const headers = new Headers([['Host', 'example.test'], ...r.headers]);
  const parts: Uint8Array[] = [];
  if (r.body === undefined) {
    parts.push(serializeRequestHead(r.method, r.target, headers));
  } else if (r.chunked) {
    headers.append('Transfer-Encoding', 'chunked');
    parts.push(serializeRequestHead(r.method, r.target, headers));
    let offset = 0;
    for (let i = 0; offset < r.body.length; i++) {
      const size = r.chunkSizes[i % r.chunkSizes.length];
      parts.push(serializeChunk(r.body.subarray(offset, offset + size)));
      offset += size;
    }
    parts.push(serializeLastChunk(new Headers(r.trailers)));
  } else {
    headers.append('Content-Length', String(r.body.length));
    parts.push(serializeRequestHead(r.method, r.target, headers));
    parts.push(r.body);
  }
  return Buffer.concat(parts);
}

describe('HTTP/1.1 parser (RFC 9112)', () => {
  it('reads back generated requests, pipelined, whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 12 }), (requests, cuts) => {
        const bytes = Buffer.concat(requests.map(serialize));
        const events = parse(bytes, cuts);
        expect(events.filter((e) => e[0] === 'error')).toEqual([]);
        const heads = events.filter((e) => e[0] === 'head');
        expect(heads.map((h) => [h[1], h[2]])).toEqual(requests.map((r) => [r.method, r.target]));
        const bodies = events.filter((e) => e[0] === 'data').map((e) => e[1]);
        expect(bodies).toEqual(requests.filter((r) => r.body !== undefined).map((r) => Buffer.from(r.body as Uint8Array).toString('latin1')));
        expect(events.filter((e) => e[0] === 'end')).toHaveLength(requests.length);
      }),
      { numRuns: 300 },
    );
  });

  it('gives one reading of any bytes, however they are split (no smuggling through chunk boundaries)', () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.tuple(request, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 })).map(([r, flips]) => {
        const bytes = serialize(r);
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        return bytes;
      }),
    );
    fc.assert(
      fc.property(bytesArb, fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        expect(parse(bytes, cuts)).toEqual(parse(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  const status = (text: string) => {
    const events = parse(enc(text));
    const error = events.find((e) => e[0] === 'error');
    return error === undefined ? 200 : error[1];
  };

  it('rejects obs-fold, whitespace before the colon, bare CR and bare LF with 400', () => {
    expect(status('GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n')).toBe(400);
    expect(status('GET / HTTP/1.1\r\nHost : a\r\n\r\n')).toBe(400);
    expect(status('GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n')).toBe(400);
    expect(status('GET / HTTP/1.1\nHost: a\r\n\r\n')).toBe(400);
    expect(status('GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n')).toBe(400);
  });

  it('refuses the framings that smuggle requests (RFC 9112 §6.1, §6.3)', () => {
    expect(status('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')).toBe(400);
    expect(status('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd')).toBe(400);
    expect(status('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd')).toBe(400);
    expect(status('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc')).toBe(400);
    expect(status('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc')).toBe(200);
    expect(status('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n')).toBe(400);
    expect(status('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n')).toBe(501);
    expect(status('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')).toBe(400);
    expect(status('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeX\r\n0\r\n\r\n')).toBe(400);
    expect(status('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')).toBe(400);
  });

  it('requires exactly one Host in HTTP/1.1 and answers 505 for other major versions', () => {
    expect(status('GET / HTTP/1.1\r\n\r\n')).toBe(400);
    expect(status('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')).toBe(400);
    expect(status('GET / HTTP/1.0\r\n\r\n')).toBe(200);
    expect(status('GET / HTTP/2.0\r\nHost: a\r\n\r\n')).toBe(505);
    expect(status('GET / http/1.1\r\nHost: a\r\n\r\n')).toBe(400);
  });

  it('bounds the request line (414), header count and header bytes (431)', () => {
    expect(status(`GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`)).toBe(414);
    expect(status(`GET / HTTP/1.1\r\nHost: a\r\n${'X: 1\r\n'.repeat(101)}\r\n`)).toBe(431);
    expect(status(`GET / HTTP/1.1\r\nHost: a\r\nBig: ${'b'.repeat(17_000)}\r\n\r\n`)).toBe(431);
    const events = parse(enc(`GET / HTTP/1.1\r\nHost: a\r\nBig: ${'b'.repeat(100_000)}`), [10, 20_000, 60_000]);
    expect(events).toEqual([['error', 431]]);
  });

  it('reads chunked trailers, keep-alive rules and 100-continue', () => {
    const events = parse(enc('POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n3;ext=1\r\nabc\r\n0\r\nDigest: x\r\n\r\n'));
    expect(events.slice(1)).toEqual([['data', 'abc'], ['end', [['Digest', 'x']]]]);
    let head: MessageHead | undefined;
    new HttpParser('request', { onHead: (h) => (head = h), onData: () => {}, onEnd: () => {}, onError: () => {} }).push(enc('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'));
    expect(head?.keepAlive).toBe(true);
    new HttpParser('request', { onHead: (h) => (head = h), onData: () => {}, onEnd: () => {}, onError: () => {} }).push(enc('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
    expect(head?.keepAlive).toBe(false);
  });

  it('frames responses: HEAD, 204 and 304 have no body; no length means until close', () => {
    const head = parse(enc('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), [], 'response');
    expect(head.filter((e) => e[0] === 'end')).toHaveLength(2);
    expect(head.find((e) => e[0] === 'data')).toEqual(['data', 'ok']);
    const events: string[] = [];
    const parser = new HttpParser('response', { onHead: (h) => events.push(`head ${h.status} ${h.bodyKind}`), onData: (d) => events.push(`data ${d.length}`), onEnd: () => events.push('end'), onError: (e: HttpError) => events.push(`error ${e.status}`) });
    parser.push(enc('HTTP/1.0 200 OK\r\n\r\nabcdef'));
    parser.finish();
    expect(events).toEqual(['head 200 until-close', 'data 6', 'end']);
    const headParser = new HttpParser('response', { onHead: (h) => events.push(`head ${h.bodyKind}`), onData: () => {}, onEnd: () => {}, onError: () => {} });
    headParser.expectNoBody();
    headParser.push(enc('HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n'));
    expect(events[events.length - 1]).toBe('head none');
  });
});

describe('HTTP/1.1 parser: grammar details', () => {
  const status = (text: string) => {
    const events = parse(enc(text));
    const error = events.find((e) => e[0] === 'error');
    return error === undefined ? 200 : error[1];
  };
  const chunked = (sizeLine: string) => status(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${sizeLine}\r\nabc\r\n0\r\n\r\n`);

  it('accepts chunk extensions only as RFC 9112 §7.1.1 spells them', () => {
    for (const ok of ['3', '03', '3;a', '3;a=b', '3 ; a = b', '3;a="q \\" x";b', '3;a=1;b=2']) expect(chunked(ok), ok).toBe(200);
    for (const bad of ['3 ', '3 x', '3;', '3;=b', '3;a=', '3;a="open', '3,a', '3;a b', '0x3', '-3', '3\t']) expect(chunked(bad), bad).toBe(400);
  });

  it('accepts the four request-target forms only (RFC 9112 §3.2)', () => {
    expect(status('GET /a?b HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(200);
    expect(status('GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(200);
    expect(status('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(200);
    expect(status('CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n')).toBe(200);
    expect(status('GET * HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(400);
    expect(status('GET a/b HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(400);
    expect(status('GET ?x HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(400);
    expect(status('CONNECT a.test HTTP/1.1\r\nHost: a.test\r\n\r\n')).toBe(400);
  });

  it('holds input back while paused and parses it on resume', () => {
    const seen: string[] = [];
    const parser: HttpParser = new HttpParser('request', {
      onHead: (h) => seen.push(h.target),
      onData: () => {},
      onEnd: () => parser.pause(),
      onError: (e) => seen.push(`error ${e.status}`),
    });
    parser.push(enc('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\n'));
    expect(seen).toEqual(['/1']);
    parser.push(enc('Host: a\r\n\r\n'));
    expect(seen).toEqual(['/1']);
    parser.resume();
    expect(seen).toEqual(['/1', '/2']);
    parser.resume();
    expect(seen).toEqual(['/1', '/2', '/3']);
    expect(parser.idle).toBe(true);
  });

  it('reads header names and values as octets (obs-text as ISO-8859-1), whatever their length', () => {
    fc.assert(
      fc.property(fc.constantFrom('Host', 'host', 'HOST', 'X-Custom', 'accept-encoding', 'Sec-CH-UA'), fc.uint8Array({ maxLength: 60 }).map((b) => b.map((c) => (c < 0x21 || c === 0x7f ? 0x41 : c))), (name, value) => {
        const text = Buffer.from(value).toString('latin1');
        const events = parse(new Uint8Array(Buffer.from(`GET / HTTP/1.1\r\n${name === 'Host' || name === 'host' || name === 'HOST' ? '' : 'Host: a\r\n'}${name}: ${text}\r\n\r\n`, 'latin1')));
        const head = events[0];
        expect(head[0]).toBe('head');
        if (head[0] === 'head') expect(head[4][head[4].length - 1]).toEqual([name, text]);
      }),
      { numRuns: 300 },
    );
  });
});
