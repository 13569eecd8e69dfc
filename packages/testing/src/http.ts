/**
 * `@morgana/testing/http`: fast-check arbitraries for HTTP/1.1 requests and responses with the
 * spelling variations RFC 9112 allows (optional whitespace, header name case, chunk size case,
 * leading zeros and extensions, trailers), valid by construction for `@morgana/http`'s parser,
 * and mutators that make request-smuggling and resource-exhaustion variants (CL+TE, bare CR,
 * bare LF, obs-fold, huge headers). Needs the optional peer `@morgana/http`.
 */
import * as fc from 'fast-check';
import { concatBytes } from '@morgana/core';
import { HttpParser } from '@morgana/http';
import type { HttpError, MessageHead } from '@morgana/http';
import { genericMutators } from './mutators.js';
import type { Mutant } from './mutators.js';

/** How a message body is delimited (RFC 9112 §6): no body, Content-Length, or chunked. */
export type HttpFraming = 'none' | 'length' | 'chunked';

/** Header fields, their meaning and the chunked spelling shared by requests and responses. */
export interface HttpMessageFields {
  /** HTTP/1.0 or HTTP/1.1. */
  readonly minorVersion: 0 | 1;
  /** Fields as they mean (values without surrounding whitespace); framing fields are added by the encoder. */
  readonly headers: readonly (readonly [string, string])[];
  /** Whitespace written around each value, [before, after] (RFC 9110 §5.6.3 OWS), one entry per field and one for Host. */
  readonly padding: readonly (readonly [string, string])[];
  /** How the body is delimited. */
  readonly framing: HttpFraming;
  /** The body (sent only when `framing` is not none, except in a response, where it runs to the end). */
  readonly body: Uint8Array;
  /** Sizes the chunked body is cut into (cycled). */
  readonly chunkSizes: readonly number[];
  /** Chunk sizes in upper-case hex. */
  readonly upperHex: boolean;
  /** Zeros written before each chunk size. */
  readonly leadingZeros: number;
  /** A chunk extension written after each size (RFC 9112 §7.1.1). */
  readonly extension: string;
  /** Trailer fields of a chunked body (RFC 9112 §7.1.2). */
  readonly trailers: readonly (readonly [string, string])[];
}

/** A request: its meaning and how its bytes are spelled. */
export interface HttpRequestRepr extends HttpMessageFields {
  readonly method: string;
  readonly target: string;
}

/** A response: its meaning and how its bytes are spelled. */
export interface HttpResponseRepr extends HttpMessageFields {
  readonly status: number;
  readonly reason: string;
}

const latin1 = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A token (RFC 9110 §5.6.2) of 1-16 characters. */
export function arbHttpToken(): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 16 });
}

/** Names whose meaning is framing or the connection: the encoder writes those itself. */
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'upgrade', 'keep-alive', 'te', 'trailer', 'http2-settings', 'proxy-connection']);

/** A field name that does not change framing or the connection: tokens and common names. */
export function arbHttpFieldName(): fc.Arbitrary<string> {
  return fc
    .oneof(arbHttpToken(), fc.constantFrom('Accept', 'User-Agent', 'accept-encoding', 'Cookie', 'X-Request-Id', 'Cache-Control', 'If-None-Match', 'Range', 'Referer', 'sec-ch-ua'))
    .filter((name) => !RESERVED.has(name.toLowerCase()));
}

const vchar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const obsText = fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c));

/** A field value (RFC 9110 §5.5): visible characters, obs-text sometimes, inner spaces and tabs, none at the ends. */
export function arbHttpFieldValue(): fc.Arbitrary<string> {
  return fc
    .array(fc.oneof({ weight: 12, arbitrary: vchar }, { weight: 1, arbitrary: obsText }, { weight: 2, arbitrary: fc.constantFrom(' ', '\t') }), { maxLength: 40 })
    .map((chars) => chars.join('').replace(/^[ \t]+|[ \t]+$/g, ''));
}

const paddingArb = fc.tuple(fc.constantFrom('', ' ', ' ', '  ', '\t'), fc.constantFrom('', '', ' ', '\t'));
const segment = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-._~!$&\'()*+,;=:@'), maxLength: 12 });
const pct = fc.integer({ min: 0, max: 255 }).map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0'));
const pathArb = fc.array(fc.oneof({ weight: 5, arbitrary: segment }, { weight: 1, arbitrary: pct }), { maxLength: 5 }).map((parts) => '/' + parts.join('/'));
const queryArb = fc.option(fc.string({ unit: fc.constantFrom(...'abcxyz0123=&+%/?:@'), maxLength: 16 }).map((q) => '?' + q.replace(/%/g, '%25')), { nil: '' });

/** An origin-form request target (RFC 9112 §3.2.1), or `*` (asterisk-form, OPTIONS only). */
export function arbHttpTarget(): fc.Arbitrary<string> {
  return fc.oneof({ weight: 10, arbitrary: fc.tuple(pathArb, queryArb).map(([p, q]) => p + q) }, { weight: 1, arbitrary: fc.constant('*') });
}

/** Options of {@link arbHttpRequest} and {@link arbHttpResponse}. */
export interface HttpArbitraryOptions {
  /** Longest body; default 300. */
  readonly maxBody?: number;
}

function messageFields(options: HttpArbitraryOptions): fc.Arbitrary<HttpMessageFields & { readonly paddingSeed: readonly (readonly [string, string])[] }> {
  const name = arbHttpFieldName();
  const value = arbHttpFieldValue();
  return fc.record({
    minorVersion: fc.constantFrom<0 | 1>(1, 1, 1, 0),
    headers: fc.array(fc.tuple(name, value), { maxLength: 8 }),
    padding: fc.constant([]),
    framing: fc.constantFrom<HttpFraming>('none', 'length', 'chunked'),
    body: fc.uint8Array({ maxLength: options.maxBody ?? 300 }),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 4 }),
    upperHex: fc.boolean(),
    leadingZeros: fc.nat(2),
    extension: fc.constantFrom('', '', ';a', ';a=b', ';name="quoted"', ';a=1;b'),
    trailers: fc.array(fc.tuple(name, value), { maxLength: 2 }),
    paddingSeed: fc.array(paddingArb, { minLength: 10, maxLength: 10 }),
  }, { noNullPrototype: true });
}

function finishFields<T extends HttpMessageFields & { readonly paddingSeed: readonly (readonly [string, string])[] }>({ paddingSeed, ...fields }: T): Omit<T, 'paddingSeed'> {
  return {
    ...fields,
    // HTTP/1.0 has no chunked coding (RFC 9112 §6.1).
    framing: fields.minorVersion === 0 && fields.framing === 'chunked' ? 'length' : fields.framing,
    padding: [...paddingSeed, ...paddingSeed].slice(0, fields.headers.length + 1),
  };
}

/** A request: any common method, origin-form or asterisk target, HTTP/1.0 or 1.1, fields with any OWS, any framing. */
export function arbHttpRequest(options: HttpArbitraryOptions = {}): fc.Arbitrary<HttpRequestRepr> {
  return fc
    .tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), arbHttpTarget(), messageFields(options))
    .map(([method, target, fields]) => ({ ...finishFields(fields), method: target === '*' ? 'OPTIONS' : method, target }));
}

/** Status codes that carry a body (not 1xx, 204, 304: RFC 9112 §6.3). */
const STATUS = fc.oneof(fc.constantFrom(200, 201, 206, 301, 302, 400, 403, 404, 500, 503), fc.integer({ min: 200, max: 599 })).filter((status) => status !== 204 && status !== 304);

/** A response: a status with a body, any reason phrase, fields with any OWS, any framing. */
export function arbHttpResponse(options: HttpArbitraryOptions = {}): fc.Arbitrary<HttpResponseRepr> {
  const reason = fc.string({ unit: fc.oneof(vchar, fc.constant(' ')), maxLength: 20 }).map((text) => text.trim());
  return fc.tuple(STATUS, reason, messageFields(options)).map(([status, reasonText, fields]) => ({ ...finishFields(fields), status, reason: reasonText }));
}

function encodeBody(message: HttpMessageFields): Uint8Array[] {
  if (message.framing === 'length') return [message.body];
  if (message.framing !== 'chunked') return [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (let index = 0; offset < message.body.length; index++) {
    const size = Math.min(message.chunkSizes[index % message.chunkSizes.length], message.body.length - offset);
    const hex = size.toString(16);
    parts.push(latin1(`${'0'.repeat(message.leadingZeros)}${message.upperHex ? hex.toUpperCase() : hex}${message.extension}\r\n`));
    parts.push(message.body.subarray(offset, offset + size));
    parts.push(latin1('\r\n'));
    offset += size;
  }
  parts.push(latin1(`0${message.extension}\r\n${message.trailers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`));
  return parts;
}

function fieldLines(message: HttpMessageFields, last: boolean, host: boolean): string[] {
  const lines: string[] = [];
  if (host) {
    const [before, after] = message.padding[message.headers.length] ?? ['', ''];
    lines.push(`Host:${before}example.test${after}`);
  }
  message.headers.forEach(([name, value], index) => {
    const [before, after] = message.padding[index] ?? [' ', ''];
    lines.push(`${name}:${before}${value}${after}`);
  });
  if (message.minorVersion === 0 && !last) lines.push('Connection: keep-alive');
  if (message.framing === 'length') lines.push(`Content-Length: ${message.body.length}`);
  if (message.framing === 'chunked') lines.push('Transfer-Encoding: chunked');
  return lines;
}

/**
 * A request's bytes. `last` false means a later request follows on the connection: an HTTP/1.0
 * request then asks to keep it open.
 */
export function encodeHttpRequest(request: HttpRequestRepr, last = true): Uint8Array {
  const lines = [`${request.method} ${request.target} HTTP/1.${request.minorVersion}`, ...fieldLines(request, last, true)];
  return concatBytes([latin1(lines.join('\r\n') + '\r\n\r\n'), ...encodeBody(request)]);
}

/** A response's bytes. A response without framing fields is delimited by the connection's end (RFC 9112 §6.3 rule 8). */
export function encodeHttpResponse(response: HttpResponseRepr, last = true): Uint8Array {
  const lines = [`HTTP/1.${response.minorVersion} ${response.status} ${response.reason}`, ...fieldLines(response, last, false)];
  const body = response.framing === 'none' ? [response.body] : encodeBody(response);
  return concatBytes([latin1(lines.join('\r\n') + '\r\n\r\n'), ...body]);
}

/** {@link arbHttpRequest} encoded. */
export function arbHttpRequestBytes(options: HttpArbitraryOptions = {}): fc.Arbitrary<Uint8Array> {
  return arbHttpRequest(options).map((request) => encodeHttpRequest(request));
}

/** {@link arbHttpResponse} encoded. */
export function arbHttpResponseBytes(options: HttpArbitraryOptions = {}): fc.Arbitrary<Uint8Array> {
  return arbHttpResponse(options).map((response) => encodeHttpResponse(response));
}

/** A message as a parser reports it (body and values as latin1 strings, so they compare with `toEqual`). */
export interface HttpReading {
  readonly method: string;
  readonly target: string;
  readonly status: number;
  readonly reason: string;
  readonly minorVersion: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
  readonly trailers: readonly (readonly [string, string])[];
}

function meaningOf(message: HttpMessageFields, last: boolean, host: boolean): Pick<HttpReading, 'minorVersion' | 'headers' | 'body' | 'trailers'> {
  const headers: [string, string][] = host ? [['Host', 'example.test']] : [];
  headers.push(...message.headers.map(([name, value]): [string, string] => [name, value]));
  if (message.minorVersion === 0 && !last) headers.push(['Connection', 'keep-alive']);
  if (message.framing === 'length') headers.push(['Content-Length', String(message.body.length)]);
  if (message.framing === 'chunked') headers.push(['Transfer-Encoding', 'chunked']);
  return {
    minorVersion: message.minorVersion,
    headers,
    body: String.fromCharCode(...message.body),
    trailers: message.framing === 'chunked' ? message.trailers.map(([name, value]): [string, string] => [name, value]) : [],
  };
}

/** What a request means, in the form {@link readHttpMessages} reports it. */
export function httpRequestMeaning(request: HttpRequestRepr, last = true): HttpReading {
  const meaning = meaningOf(request, last, true);
  return { method: request.method, target: request.target, status: 0, reason: '', ...meaning, body: request.framing === 'none' ? '' : meaning.body };
}

/** What a response means, in the form {@link readHttpMessages} reports it. */
export function httpResponseMeaning(response: HttpResponseRepr, last = true): HttpReading {
  return { method: '', target: '', status: response.status, reason: response.reason, ...meaningOf(response, last, false) };
}

/** What {@link readHttpMessages} read: the complete messages and the error that stopped the parser, if any. */
export interface HttpReadResult {
  /** Complete messages, in order. */
  readonly messages: HttpReading[];
  /** The error that stopped the parser, if one did. */
  readonly error: HttpError | undefined;
}

/**
 * Feeds `bytes` to `@morgana/http`'s parser, cut at `cuts` (offsets, taken modulo the length),
 * then ends the input, and returns what it read. A request parser reads nothing after a
 * message that ends the connection (RFC 9112 §9.6). Anything the parser throws (rather than
 * reporting through `onError`) propagates: that is a bug the caller's property should catch.
 */
export function readHttpMessages(kind: 'request' | 'response', bytes: Uint8Array, cuts: readonly number[] = []): HttpReadResult {
  const messages: HttpReading[] = [];
  let current: { head: MessageHead; body: string } | undefined;
  let error: HttpError | undefined;
  const parser = new HttpParser(kind, {
    onHead: (head) => {
      current = { head, body: '' };
    },
    onData: (data) => {
      if (current !== undefined) for (const byte of data) current.body += String.fromCharCode(byte);
    },
    onEnd: (trailers) => {
      if (current === undefined) return;
      const { head, body } = current;
      messages.push({
        method: head.method,
        target: head.target,
        status: head.status,
        reason: head.reason,
        minorVersion: head.minorVersion,
        headers: [...head.headers],
        body,
        trailers: [...trailers],
      });
      current = undefined;
      if (kind === 'request' && !head.keepAlive) parser.pause();
    },
    onError: (reported) => {
      error = reported;
    },
  });
  let last = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    parser.push(bytes.subarray(last, cut));
    last = cut;
  }
  parser.push(bytes.subarray(last));
  parser.finish();
  return { messages, error };
}

/** Splits an encoded message at its first empty line: the head's lines and the rest. */
function splitHead(bytes: Uint8Array): { lines: string[]; rest: Uint8Array } {
  let end = 0;
  while (end + 3 < bytes.length && !(bytes[end] === 13 && bytes[end + 1] === 10 && bytes[end + 2] === 13 && bytes[end + 3] === 10)) end++;
  const head = String.fromCharCode(...bytes.subarray(0, end));
  return { lines: head.split('\r\n'), rest: bytes.subarray(end + 4) };
}

function joinHead(lines: readonly string[], rest: Uint8Array): Uint8Array {
  return concatBytes([latin1(lines.join('\r\n') + '\r\n\r\n'), rest]);
}

/** Replaces the field lines (after the start line) by `fields`, keeping the body bytes. */
function withFieldLines(request: HttpRequestRepr, edit: (lines: string[]) => string[]): Uint8Array {
  const { lines, rest } = splitHead(encodeHttpRequest(request));
  return joinHead([lines[0], ...edit(lines.slice(1))], rest);
}

function insertAt<T>(list: readonly T[], at: number, ...items: T[]): T[] {
  const index = at % (list.length + 1);
  return [...list.slice(0, index), ...items, ...list.slice(index)];
}

/**
 * Request-smuggling and exhaustion variants of a valid request, each of which a strict parser
 * must refuse (RFC 9112): Content-Length with Transfer-Encoding (§6.1), two different
 * Content-Lengths (§6.3), a bare CR or bare LF (§2.2), obs-fold (§5.2), whitespace before a
 * colon (§5.1), a header section over the limit (16 KiB by default), more fields than the
 * limit (100), an invalid chunk size, a chunk size that overflows, an unknown transfer coding
 * (§6.1: 501), an HTTP version other than 1.x (505), a request line over the limit (414).
 */
export function arbHostileHttpVariant(request: HttpRequestRepr): fc.Arbitrary<Mutant> {
  const at = fc.nat();
  const chunked: HttpRequestRepr = { ...request, minorVersion: 1, framing: 'chunked', body: request.body.length > 0 ? request.body : Uint8Array.of(0x61) };
  const variants: fc.Arbitrary<Mutant>[] = [
    fc.tuple(at, fc.boolean()).map(([index, clFirst]): Mutant => ({
      bytes: withFieldLines(chunked, (lines) => insertAt(lines, clFirst ? 0 : index, `Content-Length: ${request.body.length}`)),
      mutation: 'Content-Length and Transfer-Encoding: chunked',
      invalid: true,
    })),
    fc.integer({ min: 1, max: 1000 }).map((delta): Mutant => ({
      bytes: withFieldLines({ ...request, framing: 'length' }, (lines) => [...lines, `Content-Length: ${request.body.length + delta}`]),
      mutation: 'two different Content-Length values',
      invalid: true,
    })),
    fc.tuple(at, fc.constantFrom('\r', '\n'), fc.nat()).map(([index, bare, column]): Mutant => ({
      bytes: withFieldLines(request, (lines) => {
        const all = [...lines];
        const line = all[index % all.length];
        const cut = 1 + (column % Math.max(1, line.length - 1));
        all[index % all.length] = `${line.slice(0, cut)}${bare}x${line.slice(cut)}`;
        return all;
      }),
      mutation: `bare ${bare === '\r' ? 'CR' : 'LF'} in a field line`,
      invalid: true,
    })),
    fc.tuple(at, fc.constantFrom(' ', '\t', '  '), arbHttpFieldValue()).map(([index, fold, value]): Mutant => ({
      bytes: withFieldLines(request, (lines) => insertAt(lines, 1 + (index % lines.length), `${fold}${value}folded`)),
      mutation: 'obs-fold continuation line',
      invalid: true,
    })),
    fc.tuple(at, arbHttpFieldName(), fc.constantFrom(' ', '\t')).map(([index, name, space]): Mutant => ({
      bytes: withFieldLines(request, (lines) => insertAt(lines, index, `${name}${space}: value`)),
      mutation: 'whitespace between field name and colon',
      invalid: true,
    })),
    fc.integer({ min: 16_400, max: 40_000 }).map((size): Mutant => ({
      bytes: withFieldLines(request, (lines) => [...lines, `X-Huge: ${'a'.repeat(size)}`]),
      mutation: `a ${size}-octet field value`,
      invalid: true,
    })),
    fc.integer({ min: 101, max: 400 }).map((count): Mutant => ({
      bytes: withFieldLines(request, (lines) => [...lines, ...Array.from({ length: count }, (_, index) => `X-F${index}: ${index}`)]),
      mutation: `${count} more fields`,
      invalid: true,
    })),
    fc.constantFrom('g', '-1', '0x10', ' 5', 'ffffffffffffffffffff', '1 2').map((size): Mutant => {
      const { lines } = splitHead(encodeHttpRequest(chunked));
      return { bytes: joinHead(lines, latin1(`${size}\r\nabcde\r\n0\r\n\r\n`)), mutation: `chunk size "${size}"`, invalid: true };
    }),
    fc.constantFrom('gzip', 'identity', 'chunked, gzip', 'x-unknown').map((coding): Mutant => ({
      bytes: withFieldLines({ ...request, minorVersion: 1, framing: 'none' }, (lines) => [...lines, `Transfer-Encoding: ${coding}`]),
      mutation: `Transfer-Encoding: ${coding}`,
      invalid: true,
    })),
    fc.constantFrom('HTTP/2.0', 'HTTP/1.10', 'HTTP/3', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 ').map((version): Mutant => {
      const { lines, rest } = splitHead(encodeHttpRequest(request));
      return { bytes: joinHead([`${request.method} ${request.target} ${version}`, ...lines.slice(1)], rest), mutation: `version "${version}"`, invalid: true };
    }),
    fc.integer({ min: 8200, max: 20_000 }).map((length): Mutant => {
      const { lines, rest } = splitHead(encodeHttpRequest(request));
      return { bytes: joinHead([`${request.method} /${'a'.repeat(length)} HTTP/1.1`, ...lines.slice(1)], rest), mutation: `${length}-octet target`, invalid: true };
    }),
  ];
  return fc.oneof(...variants);
}

/** Hostile requests: {@link arbHostileHttpVariant} of valid requests, and the generic mutators over their bytes. */
export function arbHostileHttpRequest(): fc.Arbitrary<Mutant> {
  const generic = genericMutators();
  return arbHttpRequest({ maxBody: 100 }).chain((request) =>
    fc.oneof(
      { weight: 3, arbitrary: arbHostileHttpVariant(request) },
      { weight: 1, arbitrary: fc.nat({ max: generic.length - 1 }).chain((which) => generic[which](encodeHttpRequest(request))) },
    ),
  );
}
