/**
 * A strict, incremental HTTP/1.1 message parser (RFC 9112) for requests and responses.
 *
 * Strict because a proxy and a server that read one message two ways is how requests are
 * smuggled: one reading only. Bare CR, bare LF, obs-fold, whitespace before a colon, both
 * Content-Length and Transfer-Encoding, conflicting lengths and unknown codings are errors
 * with the status a server should answer (400, 414, 431, 501, 505). Every length is bounded.
 */
import { MorganaError } from '@morgana/core';
import { Headers, lowerName } from './headers.js';
import { KNOWN_NAME_COUNT, knownName, latin1, methodText, TextSlot } from './text.js';

/** A malformed or unacceptable message, with the status code to answer it with. */
export class HttpError extends MorganaError {
  readonly status: number;
  constructor(status: number, message: string) {
    super('HTTP', message);
    this.status = status;
  }
}

/** Limits on what one message may make the parser hold. */
export interface HttpLimits {
  /** Longest request line or status line, octets (414 beyond it for requests). Default 8192. */
  readonly maxStartLineLength?: number;
  /** Most header fields (431 beyond it). Default 100. */
  readonly maxHeaderCount?: number;
  /** Most octets of all header lines together (431 beyond it). Default 16 384. */
  readonly maxHeaderBytes?: number;
  /** Longest chunk-size line, extensions included (400 beyond it). Default 1024. */
  readonly maxChunkLineLength?: number;
  /** Empty lines tolerated before a request line (RFC 9112 §2.2). Default 4. */
  readonly maxLeadingEmptyLines?: number;
}

/** How the body of a message is delimited (RFC 9112 §6.3). */
export type BodyKind = 'none' | 'length' | 'chunked' | 'until-close';

/** The start line and header section of a message. */
export interface MessageHead {
  /** Request method (requests only; '' for responses). */
  readonly method: string;
  /** Request target as sent (requests only). */
  readonly target: string;
  /** Status code and reason (responses only; 0 and '' for requests). */
  readonly status: number;
  readonly reason: string;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: number;
  readonly headers: Headers;
  readonly bodyKind: BodyKind;
  /** Body length when `bodyKind` is 'length'. */
  readonly contentLength: number;
  /** The connection persists after this message (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue` was sent (RFC 9110 §10.1.1). */
  readonly expectContinue: boolean;
}

/** What the parser reports. */
export interface ParserHandler {
  onHead(head: MessageHead): void;
  /** A piece of body (a view valid only during the call). */
  onData(data: Uint8Array): void;
  /** The message is complete (trailer fields for chunked bodies, else empty). */
  onEnd(trailers: Headers): void;
  /** The input is unusable from here on; the connection should be answered (if a request) and closed. */
  onError(error: HttpError): void;
}

enum State {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Dead,
}

/** tchar of RFC 9110 §5.6.2. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
/** field-vchar, SP and HTAB (RFC 9110 §5.5); obs-text allowed. */
const FIELD_VALUE = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) FIELD_VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD_VALUE[c] = 1;
FIELD_VALUE[0x20] = 1;
FIELD_VALUE[0x09] = 1;
/** Characters allowed in a request-target (RFC 3986 plus what origin servers commonly accept). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

const EMPTY: Uint8Array = new Uint8Array(0);

/** An incremental parser for a stream of messages of one kind. */
export class HttpParser {
  private state = State.Head;
  private buffer: Uint8Array = EMPTY;
  private isPaused = false;
  private remaining = 0;
  private noBodyNext = false;
  /** How far a header section was already searched for its end, so slow senders cost linear time. */
  private scanned = 0;
  private readonly maxStart: number;
  private readonly maxCount: number;
  private readonly maxBytes: number;
  private readonly maxChunkLine: number;
  private readonly maxEmpty: number;
  /** Strings of the last value of each known header name, and of the last request target. */
  private readonly valueSlots: (TextSlot | undefined)[] = new Array<TextSlot | undefined>(KNOWN_NAME_COUNT);
  private readonly targetSlot = new TextSlot();

  constructor(
    readonly kind: 'request' | 'response',
    private readonly handler: ParserHandler,
    limits: HttpLimits = {},
  ) {
    this.maxStart = limits.maxStartLineLength ?? 8192;
    this.maxCount = limits.maxHeaderCount ?? 100;
    this.maxBytes = limits.maxHeaderBytes ?? 16_384;
    this.maxChunkLine = limits.maxChunkLineLength ?? 1024;
    this.maxEmpty = limits.maxLeadingEmptyLines ?? 4;
  }

  /** For a response parser: the next response answers a HEAD request (no body, RFC 9112 §6.3 rule 1). */
  expectNoBody(): void {
    this.noBodyNext = true;
  }

  /** True between messages (nothing partial buffered). */
  get idle(): boolean {
    return this.state === State.Head && this.buffer.length === 0;
  }

  /** True while {@link pause} holds the parser: input is buffered, not parsed. */
  get paused(): boolean {
    return this.isPaused;
  }

  /**
   * Stops parsing after the current callback: what follows stays buffered until {@link resume}.
   * A server calls it when enough pipelined requests wait, so one read cannot queue thousands.
   */
  pause(): void {
    this.isPaused = true;
  }

  /** Parses what {@link pause} held back (the handler is called synchronously). */
  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    if (this.buffer.length === 0 || this.state === State.Dead) return;
    const input = this.buffer;
    this.buffer = EMPTY;
    this.feed(input);
  }

  /** Feeds bytes; the handler is called synchronously for what they complete. */
  push(chunk: Uint8Array): void {
    if (this.state === State.Dead) return;
    let input = chunk;
    if (this.buffer.length > 0) {
      const joined = new Uint8Array(this.buffer.length + chunk.length);
      joined.set(this.buffer);
      joined.set(chunk, this.buffer.length);
      input = joined;
      this.buffer = EMPTY;
    }
    if (this.isPaused) {
      this.buffer = input === chunk ? chunk.slice() : input;
      return;
    }
    this.feed(input);
  }

  private feed(input: Uint8Array): void {
    try {
      const used = this.run(input);
      if (used < input.length && !this.dead()) this.buffer = input.slice(used);
    } catch (error) {
      this.state = State.Dead;
      this.buffer = EMPTY;
      this.handler.onError(error instanceof HttpError ? error : new HttpError(400, (error as Error).message));
    }
  }

  /** The input ended (the peer closed). Completes an until-close body; a partial message is an error. */
  finish(): void {
    if (this.state === State.UntilClose) {
      this.state = State.Head;
      this.handler.onEnd(new Headers());
    } else if (this.state !== State.Head || this.buffer.length > 0) {
      if (this.state !== State.Dead) {
        this.state = State.Dead;
        this.handler.onError(new HttpError(400, 'connection closed in the middle of a message'));
      }
    }
  }

  private run(input: Uint8Array): number {
    let offset = 0;
    while (offset < input.length && !this.dead() && !this.isPaused) {
      switch (this.state) {
        case State.Head: {
          const end = this.findHeadEnd(input, offset);
          if (end < 0) return offset;
          const head = this.parseHead(input, offset, end);
          offset = end;
          this.handler.onHead(head);
          this.startBody(head);
          break;
        }
        case State.Body: {
          const take = Math.min(this.remaining, input.length - offset);
          this.handler.onData(input.subarray(offset, offset + take));
          offset += take;
          this.remaining -= take;
          if (this.remaining === 0) this.endMessage(new Headers());
          break;
        }
        case State.ChunkSize: {
          const lineEnd = this.findLineEnd(input, offset, this.maxChunkLine, 'chunk-size line');
          if (lineEnd < 0) return offset;
          const size = this.parseChunkSize(input, offset, lineEnd - 2);
          offset = lineEnd;
          if (size === 0) {
            this.state = State.Trailers;
          } else {
            this.remaining = size;
            this.state = State.ChunkData;
          }
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, input.length - offset);
          this.handler.onData(input.subarray(offset, offset + take));
          offset += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd: {
          if (input.length - offset < 2) return offset;
          if (input[offset] !== 13 || input[offset + 1] !== 10) throw new HttpError(400, 'chunk data not followed by CRLF');
          offset += 2;
          this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const end = this.findHeadEnd(input, offset, true);
          if (end < 0) return offset;
          const trailers = new Headers();
          this.parseFields(input, offset, end - 2, trailers);
          offset = end;
          this.endMessage(trailers);
          break;
        }
        case State.UntilClose:
          this.handler.onData(input.subarray(offset));
          return input.length;
        default:
          return input.length;
      }
    }
    return offset;
  }

  /** Checked through a method: the state changes inside handler calls, out of the compiler's sight. */
  private dead(): boolean {
    return this.state === State.Dead;
  }

  private endMessage(trailers: Headers): void {
    this.state = State.Head;
    this.handler.onEnd(trailers);
  }

  /**
   * Offset just past the CRLFCRLF ending a header section starting at `offset`, or -1 when it
   * has not arrived yet; throws when the section grows past the limits.
   */
  private findHeadEnd(input: Uint8Array, offset: number, trailers = false): number {
    // Tolerate a few empty lines before a request line (RFC 9112 §2.2).
    let start = offset;
    if (!trailers && this.kind === 'request') {
      let empty = 0;
      while (start + 1 < input.length && input[start] === 13 && input[start + 1] === 10) {
        start += 2;
        if (++empty > this.maxEmpty) throw new HttpError(400, 'too many empty lines before the request line');
      }
    }
    if (trailers && input.length - start >= 2 && input[start] === 13 && input[start + 1] === 10) return start + 2;
    const limit = (trailers ? 0 : this.maxStart) + this.maxBytes + 4;
    const stop = Math.min(input.length, start + limit);
    // The section ends with CRLF CRLF: look at each LF (native search) rather than at each octet.
    for (let i = start + this.scanned; ; ) {
      const lf = input.indexOf(10, i);
      if (lf < 0 || lf >= stop) break;
      if (lf - 3 >= start && input[lf - 1] === 13 && input[lf - 2] === 10 && input[lf - 3] === 13) {
        this.scanned = 0;
        return lf + 1;
      }
      i = lf + 1;
    }
    this.scanned = Math.max(0, stop - start - 3);
    if (input.length - start >= limit) {
      const firstLine = input.subarray(start, Math.min(input.length, start + this.maxStart + 2)).indexOf(10);
      if (!trailers && firstLine < 0 && this.kind === 'request') throw new HttpError(414, 'request line too long');
      throw new HttpError(431, 'header section too large');
    }
    return -1;
  }

  private findLineEnd(input: Uint8Array, offset: number, max: number, what: string): number {
    const stop = Math.min(input.length, offset + max + 2);
    for (let i = offset; i + 1 < stop; i++) {
      if (input[i] === 13) {
        if (input[i + 1] !== 10) throw new HttpError(400, `bare CR in ${what}`);
        return i + 2;
      }
      if (input[i] === 10) throw new HttpError(400, `bare LF in ${what}`);
    }
    if (input.length - offset >= max + 2) throw new HttpError(400, `${what} too long`);
    return -1;
  }

  private parseChunkSize(input: Uint8Array, start: number, end: number): number {
    let size = 0;
    let i = start;
    for (; i < end; i++) {
      const c = input[i];
      const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (digit < 0) break;
      size = size * 16 + digit;
      // 2^53 would lose precision; no body is that large.
      if (size > 0x1f_ffff_ffff_ffff / 16) throw new HttpError(400, 'chunk size too large');
    }
    if (i === start) throw new HttpError(400, 'missing chunk size');
    checkChunkExtensions(input, i, end);
    return size;
  }

  private parseHead(input: Uint8Array, offset: number, end: number): MessageHead {
    while (input[offset] === 13 && input[offset + 1] === 10) offset += 2;
    let lineEnd = offset;
    while (input[lineEnd] !== 13 && input[lineEnd] !== 10) lineEnd++;
    if (input[lineEnd] !== 13 || input[lineEnd + 1] !== 10) throw new HttpError(400, 'bare LF in the start line');
    if (lineEnd - offset > this.maxStart) throw new HttpError(this.kind === 'request' ? 414 : 400, 'start line too long');
    const headers = new Headers();
    this.parseFields(input, lineEnd + 2, end - 2, headers);
    return this.kind === 'request' ? this.requestHead(input, offset, lineEnd, headers) : this.responseHead(input, offset, lineEnd, headers);
  }

  private parseFields(input: Uint8Array, start: number, end: number, headers: Headers): void {
    let i = start;
    let bytes = 0;
    while (i < end) {
      if (input[i] === 0x20 || input[i] === 0x09) throw new HttpError(400, 'obsolete line folding is not accepted (RFC 9112 §5.2)');
      const nameStart = i;
      while (i < end && TOKEN[input[i]]) i++;
      if (i === nameStart) throw new HttpError(400, 'bad header field name');
      // RFC 9112 §5.1: no whitespace between the field name and the colon.
      if (input[i] !== 0x3a) throw new HttpError(400, 'header field name not followed by a colon');
      const nameEnd = i;
      i++;
      while (input[i] === 0x20 || input[i] === 0x09) i++;
      const valueStart = i;
      while (i < end && input[i] !== 13) {
        if (!FIELD_VALUE[input[i]]) throw new HttpError(400, `invalid character 0x${input[i].toString(16)} in a header value`);
        i++;
      }
      let valueEnd = i;
      while (valueEnd > valueStart && (input[valueEnd - 1] === 0x20 || input[valueEnd - 1] === 0x09)) valueEnd--;
      if (i < end && input[i + 1] !== 10) throw new HttpError(400, 'bare CR in a header field');
      i += 2;
      bytes += i - nameStart;
      if (headers.size >= this.maxCount) throw new HttpError(431, `more than ${this.maxCount} header fields`);
      if (bytes > this.maxBytes) throw new HttpError(431, 'header section too large');
      const known = knownName(input, nameStart, nameEnd);
      if (known === undefined) {
        const name = latin1(input, nameStart, nameEnd);
        headers.appendField(name, lowerName(name), latin1(input, valueStart, valueEnd));
      } else {
        // A client repeats most values on every request of a connection: reuse the strings.
        const slot = (this.valueSlots[known.id] ??= new TextSlot());
        headers.appendField(known.name, known.lower, slot.get(input, valueStart, valueEnd));
      }
    }
  }

  private version(input: Uint8Array, start: number, end: number): number {
    // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.
    if (end - start !== 8 || input[start] !== 0x48 || input[start + 1] !== 0x54 || input[start + 2] !== 0x54 || input[start + 3] !== 0x50 || input[start + 4] !== 0x2f || input[start + 6] !== 0x2e) {
      throw new HttpError(400, 'malformed HTTP version');
    }
    const major = input[start + 5] - 48;
    const minor = input[start + 7] - 48;
    if (major < 0 || major > 9 || minor < 0 || minor > 9) throw new HttpError(400, 'malformed HTTP version');
    if (major !== 1) throw new HttpError(505, `HTTP/${major}.${minor} is not supported`);
    return minor;
  }

  private requestHead(input: Uint8Array, start: number, end: number, headers: Headers): MessageHead {
    let i = start;
    while (i < end && TOKEN[input[i]]) i++;
    if (i === start || input[i] !== 0x20) throw new HttpError(400, 'malformed request line');
    const method = methodText(input, start, i);
    const targetStart = ++i;
    while (i < end && TARGET[input[i]]) i++;
    if (i === targetStart || input[i] !== 0x20) throw new HttpError(400, 'malformed request target');
    checkTargetForm(input, targetStart, i, method);
    const target = this.targetSlot.get(input, targetStart, i);
    const minorVersion = this.version(input, i + 1, end);
    // The fields that frame the message and the connection, in one pass.
    let hosts = 0;
    let lengths: string[] | undefined;
    let codings: string[] | undefined;
    let close = false;
    let keepAlive = false;
    let expectContinue = false;
    for (let f = 0; f < headers.size; f++) {
      switch (headers.lowerNameAt(f)) {
        case 'host':
          hosts++;
          break;
        case 'content-length':
          (lengths ??= []).push(headers.valueAt(f));
          break;
        case 'transfer-encoding':
          (codings ??= []).push(headers.valueAt(f));
          break;
        case 'connection': {
          const value = headers.valueAt(f);
          if (value === 'keep-alive') keepAlive = true;
          else if (value === 'close') close = true;
          else {
            close ||= listHas(value, 'close');
            keepAlive ||= listHas(value, 'keep-alive');
          }
          break;
        }
        case 'expect':
          expectContinue ||= listHas(headers.valueAt(f), '100-continue');
          break;
      }
    }
    // RFC 9112 §3.2: exactly one Host in an HTTP/1.1 request.
    if ((minorVersion >= 1 && hosts !== 1) || hosts > 1) throw new HttpError(400, 'an HTTP/1.1 request needs exactly one Host header');
    const bodyKind = requestBodyKind(codings, lengths, minorVersion);
    const contentLength = bodyKind === 'length' ? contentLengthOf(lengths as string[]) : 0;
    return {
      method,
      target,
      status: 0,
      reason: '',
      minorVersion,
      headers,
      bodyKind,
      contentLength,
      // RFC 9112 §9.3: 1.1 persists unless `close`; 1.0 only with `keep-alive`.
      keepAlive: !close && (minorVersion >= 1 || keepAlive),
      expectContinue: minorVersion >= 1 && expectContinue,
    };
  }

  private responseHead(input: Uint8Array, start: number, end: number, headers: Headers): MessageHead {
    const minorVersion = this.version(input, start, Math.min(end, start + 8));
    if (input[start + 8] !== 0x20) throw new HttpError(400, 'malformed status line');
    let status = 0;
    for (let i = start + 9; i < start + 12; i++) {
      const digit = input[i] - 48;
      if (i >= end || digit < 0 || digit > 9) throw new HttpError(400, 'malformed status code');
      status = status * 10 + digit;
    }
    if (status < 100) throw new HttpError(400, 'malformed status code');
    if (end > start + 12 && input[start + 12] !== 0x20) throw new HttpError(400, 'malformed status line');
    const reason = end > start + 13 ? latin1(input, start + 13, end) : '';
    const noBody = this.noBodyNext || (status >= 100 && status < 200) || status === 204 || status === 304;
    if (status >= 200) this.noBodyNext = false;
    let bodyKind: BodyKind = 'until-close';
    let contentLength = 0;
    const codings = headers.getAll('transfer-encoding');
    if (noBody) bodyKind = 'none';
    else if (codings.length > 0) {
      const list = codings.flatMap((value) => value.split(',')).map((item) => item.trim().toLowerCase());
      bodyKind = list[list.length - 1] === 'chunked' && list.length === 1 ? 'chunked' : 'until-close';
      if (list[list.length - 1] === 'chunked' && list.length > 1) throw new HttpError(502, `unsupported transfer coding ${list.slice(0, -1).join(', ')}`);
    } else if (headers.has('content-length')) {
      contentLength = contentLengthOf(headers.getAll('content-length'));
      bodyKind = contentLength === 0 ? 'none' : 'length';
    }
    const keepAlive = bodyKind !== 'until-close' && persistent(headers, minorVersion);
    return { method: '', target: '', status, reason, minorVersion, headers, bodyKind, contentLength, keepAlive, expectContinue: false };
  }

  private startBody(head: MessageHead): void {
    switch (head.bodyKind) {
      case 'none':
        this.endMessage(new Headers());
        return;
      case 'length':
        this.remaining = head.contentLength;
        this.state = State.Body;
        return;
      case 'chunked':
        this.state = State.ChunkSize;
        return;
      case 'until-close':
        this.state = State.UntilClose;
        return;
    }
  }
}

/**
 * The four forms of RFC 9112 §3.2: origin-form (`/path?query`), absolute-form (`scheme:...`),
 * authority-form (CONNECT only) and asterisk-form (`*`, OPTIONS only). Anything else is refused,
 * so a handler never sees a target that could be read as something else.
 */
function checkTargetForm(input: Uint8Array, start: number, end: number, method: string): void {
  const first = input[start];
  if (first === 0x2f) return;
  if (end - start === 1 && first === 0x2a) {
    if (method !== 'OPTIONS') throw new HttpError(400, 'the asterisk-form target is for OPTIONS only (RFC 9112 §3.2.4)');
    return;
  }
  if (method === 'CONNECT') {
    // authority-form: uri-host ":" port (RFC 9112 §3.2.3).
    const colon = input.subarray(start, end).lastIndexOf(0x3a);
    let digits = 0;
    for (let i = start + colon + 1; colon > 0 && i < end; i++, digits++) if (input[i] < 0x30 || input[i] > 0x39) throw new HttpError(400, 'malformed authority-form target');
    if (colon <= 0 || digits === 0) throw new HttpError(400, 'malformed authority-form target');
    return;
  }
  // absolute-form: scheme ":" hier-part (RFC 3986 §3.1 for the scheme).
  let i = start;
  const alpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  if (!alpha(input[i])) throw new HttpError(400, 'malformed request target');
  while (i < end && (alpha(input[i]) || (input[i] >= 0x30 && input[i] <= 0x39) || input[i] === 0x2b || input[i] === 0x2d || input[i] === 0x2e)) i++;
  if (i === end || input[i] !== 0x3a) throw new HttpError(400, 'malformed request target');
}

const isWhitespace = (c: number): boolean => c === 0x20 || c === 0x09;

/**
 * Chunk extensions are ignored, but must follow the grammar of RFC 9112 §7.1.1 exactly, so that
 * no stray octet after a chunk size can be read as part of the size by someone else:
 * `*( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )`.
 */
function checkChunkExtensions(input: Uint8Array, start: number, end: number): void {
  let i = start;
  while (i < end) {
    while (i < end && isWhitespace(input[i])) i++;
    if (i === end || input[i] !== 0x3b) throw new HttpError(400, 'bad chunk extension');
    i++;
    while (i < end && isWhitespace(input[i])) i++;
    const name = i;
    while (i < end && TOKEN[input[i]]) i++;
    if (i === name) throw new HttpError(400, 'bad chunk extension name');
    let j = i;
    while (j < end && isWhitespace(input[j])) j++;
    if (j === end || input[j] !== 0x3d) continue;
    i = j + 1;
    while (i < end && isWhitespace(input[i])) i++;
    if (input[i] === 0x22) i = endOfQuotedString(input, i, end);
    else {
      const value = i;
      while (i < end && TOKEN[input[i]]) i++;
      if (i === value) throw new HttpError(400, 'bad chunk extension value');
    }
  }
}

/** Offset after the quoted-string starting at `start` (RFC 9110 §5.6.4). */
function endOfQuotedString(input: Uint8Array, start: number, end: number): number {
  for (let i = start + 1; i < end; i++) {
    const c = input[i];
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      i++;
      if (i === end || !FIELD_VALUE[input[i]]) throw new HttpError(400, 'bad quoted-pair in a chunk extension');
    } else if (!FIELD_VALUE[c]) throw new HttpError(400, 'bad character in a chunk extension');
  }
  throw new HttpError(400, 'unterminated quoted string in a chunk extension');
}

/** How a request's body is delimited (RFC 9112 §6.3), from its Transfer-Encoding and Content-Length values. */
function requestBodyKind(codings: string[] | undefined, lengths: string[] | undefined, minorVersion: number): BodyKind {
  if (codings !== undefined) {
    // RFC 9112 §6.1 and §6.3: both framings at once is how requests are smuggled; refuse.
    if (lengths !== undefined) throw new HttpError(400, 'both Transfer-Encoding and Content-Length');
    if (minorVersion === 0) throw new HttpError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    const list = codings.flatMap((value) => value.split(',')).map((item) => item.trim().toLowerCase());
    if (list[list.length - 1] !== 'chunked') throw new HttpError(400, 'the final transfer coding must be chunked (RFC 9112 §6.3)');
    if (list.length !== 1) throw new HttpError(501, `unsupported transfer coding ${list.slice(0, -1).join(', ')}`);
    return 'chunked';
  }
  if (lengths !== undefined) return contentLengthOf(lengths) === 0 ? 'none' : 'length';
  return 'none';
}

/** True when a comma-separated list (RFC 9110 §5.6.1) holds `token`, case-insensitively. */
function listHas(value: string, token: string): boolean {
  for (const item of value.split(',')) if (item.trim().toLowerCase() === token) return true;
  return false;
}

/**
 * Content-Length values: digits only; a list or repeats must all agree (RFC 9110 §8.6),
 * anything else is refused.
 */
function contentLengthOf(values: readonly string[]): number {
  let length = -1;
  for (const value of values) {
    for (const item of value.split(',')) {
      const text = item.trim();
      if (!/^[0-9]{1,15}$/.test(text)) throw new HttpError(400, `invalid Content-Length ${JSON.stringify(value)}`);
      const n = Number(text);
      if (length >= 0 && n !== length) throw new HttpError(400, 'conflicting Content-Length values');
      length = n;
    }
  }
  return length;
}

/** RFC 9112 §9.3: 1.1 persists unless `close`; 1.0 only with `keep-alive`. */
function persistent(headers: Headers, minorVersion: number): boolean {
  if (headers.hasToken('connection', 'close')) return false;
  return minorVersion >= 1 || headers.hasToken('connection', 'keep-alive');
}
