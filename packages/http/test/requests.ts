// Generated HTTP/1.1 requests as raw bytes, for the differential and server property tests.
import fc from 'fast-check';
import { HttpParser, type MessageHead } from '../src/index.js';

/** One request as generated: what it means and how its bytes are spelled. */
export interface GeneratedRequest {
  readonly method: string;
  readonly target: string;
  readonly minorVersion: 0 | 1;
  /** Fields as they mean (values without surrounding whitespace). */
  readonly headers: readonly (readonly [string, string])[];
  /** Whitespace written around each value: [before, after]. */
  readonly padding: readonly (readonly [string, string])[];
  readonly framing: 'none' | 'length' | 'chunked';
  readonly body: Uint8Array;
  /** Sizes the chunked body is cut into (cycled), their hex spelling, and chunk extensions. */
  readonly chunkSizes: readonly number[];
  readonly upperHex: boolean;
  readonly leadingZeros: number;
  readonly extension: string;
  readonly trailers: readonly (readonly [string, string])[];
}

const latin1 = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const tokenArb: fc.Arbitrary<string> = fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 16 });

/** Names whose meaning is the framing or the connection: the generator writes those itself. */
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'upgrade', 'keep-alive', 'te', 'trailer', 'http2-settings', 'proxy-connection']);
const nameArb = fc.oneof(
  tokenArb,
  fc.constantFrom('Accept', 'User-Agent', 'accept-encoding', 'Cookie', 'X-Request-Id', 'Cache-Control', 'If-None-Match', 'Range', 'Referer', 'sec-ch-ua'),
).filter((name) => !RESERVED.has(name.toLowerCase()));

const vchar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const obsText = fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c));
/** A field value: visible characters (obs-text sometimes) with single inner spaces or tabs. */
const valueArb = fc
  .array(fc.oneof({ weight: 12, arbitrary: vchar }, { weight: 1, arbitrary: obsText }, { weight: 2, arbitrary: fc.constantFrom(' ', '\t').map((w) => w) }), { maxLength: 40 })
  .map((chars) => chars.join('').replace(/^[ \t]+|[ \t]+$/g, ''));
const paddingArb = fc.tuple(fc.constantFrom('', ' ', ' ', '  ', '\t'), fc.constantFrom('', '', ' ', '\t'));

const segment = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-._~!$&\'()*+,;=:@'), maxLength: 12 });
const pct = fc.integer({ min: 0, max: 255 }).map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0'));
const pathArb = fc.array(fc.oneof({ weight: 5, arbitrary: segment }, { weight: 1, arbitrary: pct }), { maxLength: 5 }).map((parts) => '/' + parts.join('/'));
const queryArb = fc.option(fc.string({ unit: fc.constantFrom(...'abcxyz0123=&+%/?:@'), maxLength: 16 }).map((q) => '?' + q.replace(/%/g, '%25')), { nil: '' });
const targetArb = fc.oneof({ weight: 10, arbitrary: fc.tuple(pathArb, queryArb).map(([p, q]) => p + q) }, { weight: 1, arbitrary: fc.constant('*') });

export const requestArb: fc.Arbitrary<GeneratedRequest> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    target: targetArb,
    minorVersion: fc.constantFrom<0 | 1>(1, 1, 1, 0),
    headers: fc.array(fc.tuple(nameArb, valueArb), { maxLength: 8 }),
    framing: fc.constantFrom<'none' | 'length' | 'chunked'>('none', 'length', 'chunked'),
    body: fc.uint8Array({ minLength: 0, maxLength: 300 }),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 4 }),
    upperHex: fc.boolean(),
    leadingZeros: fc.nat(2),
    extension: fc.constantFrom('', '', ';a', ';a=b', ';name="quoted"', ';a=1;b'),
    trailers: fc.array(fc.tuple(nameArb, valueArb), { maxLength: 2 }),
    paddingSeed: fc.array(paddingArb, { minLength: 10, maxLength: 10 }),
  })
  .map(({ paddingSeed, ...r }) => ({
    ...r,
    target: r.target === '*' ? '*' : r.target,
    method: r.target === '*' ? 'OPTIONS' : r.method,
    // HTTP/1.0 has no chunked coding (RFC 9112 §6.1).
    framing: r.minorVersion === 0 && r.framing === 'chunked' ? 'length' : r.framing,
    padding: [...paddingSeed, ...paddingSeed].slice(0, r.headers.length + 1),
  }));

/** The request's bytes. `last` says whether a later request follows (then the connection must persist). */
export function encodeRequest(r: GeneratedRequest, last = true): Uint8Array {
  const lines: string[] = [`${r.method} ${r.target} HTTP/1.${r.minorVersion}`];
  const [hostBefore, hostAfter] = r.padding[r.headers.length] ?? ['', ''];
  lines.push(`Host:${hostBefore}example.test${hostAfter}`);
  r.headers.forEach(([name, value], i) => {
    const [before, after] = r.padding[i] ?? [' ', ''];
    lines.push(`${name}:${before}${value}${after}`);
  });
  if (r.minorVersion === 0 && !last) lines.push('Connection: keep-alive');
  const parts: Uint8Array[] = [];
  if (r.framing === 'length') lines.push(`Content-Length: ${r.body.length}`);
  if (r.framing === 'chunked') lines.push('Transfer-Encoding: chunked');
  parts.push(latin1(lines.join('\r\n') + '\r\n\r\n'));
  if (r.framing === 'length') parts.push(r.body);
  if (r.framing === 'chunked') {
    let offset = 0;
    for (let i = 0; offset < r.body.length; i++) {
      const size = Math.min(r.chunkSizes[i % r.chunkSizes.length], r.body.length - offset);
      const hex = size.toString(16);
      parts.push(latin1(`${'0'.repeat(r.leadingZeros)}${r.upperHex ? hex.toUpperCase() : hex}${r.extension}\r\n`));
      parts.push(r.body.subarray(offset, offset + size));
      parts.push(latin1('\r\n'));
      offset += size;
    }
    parts.push(latin1(`0${r.extension}\r\n${r.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`));
  }
  return concat(parts);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A request as a parser read it. */
export interface Reading {
  method: string;
  target: string;
  minorVersion: number;
  headers: [string, string][];
  body: string;
  trailers: [string, string][];
}

/** What our parser reads from `bytes`: the complete requests, and the error that stopped it, if any. */
export function readWithOurs(bytes: Uint8Array, cuts: readonly number[] = []): { requests: Reading[]; error: string | undefined } {
  const requests: Reading[] = [];
  let current: { head: MessageHead; body: string } | undefined;
  let error: string | undefined;
  const parser = new HttpParser('request', {
    onHead: (head) => {
      current = { head, body: '' };
    },
    onData: (data) => {
      if (current !== undefined) for (const b of data) current.body += String.fromCharCode(b);
    },
    onEnd: (trailers) => {
      if (current === undefined) return;
      const { head, body } = current;
      requests.push({ method: head.method, target: head.target, minorVersion: head.minorVersion, headers: [...head.headers], body, trailers: [...trailers] });
      current = undefined;
      // A server reads nothing after a message that ends the connection (RFC 9112 §9.6).
      if (!head.keepAlive) parser.pause();
    },
    onError: (e) => {
      error = `${e.status} ${e.message}`;
    },
  });
  let last = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    parser.push(bytes.subarray(last, cut));
    last = cut;
  }
  parser.push(bytes.subarray(last));
  parser.finish();
  return { requests, error };
}

/** What a generated request means, in the form a parser reports. */
export function meaning(r: GeneratedRequest, last = true): Reading {
  const headers: [string, string][] = [['Host', 'example.test'], ...r.headers.map(([n, v]) => [n, v] as [string, string])];
  if (r.minorVersion === 0 && !last) headers.push(['Connection', 'keep-alive']);
  if (r.framing === 'length') headers.push(['Content-Length', String(r.body.length)]);
  if (r.framing === 'chunked') headers.push(['Transfer-Encoding', 'chunked']);
  return {
    method: r.method,
    target: r.target,
    minorVersion: r.minorVersion,
    headers,
    body: r.framing === 'none' ? '' : String.fromCharCode(...r.body),
    trailers: r.framing === 'chunked' ? r.trailers.map(([n, v]) => [n, v] as [string, string]) : [],
  };
}
