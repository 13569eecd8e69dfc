/**
 * The HTTP/1.1 server: runs on any {@link Flow} (morgana's TCP, the socket stack, TLS through
 * the adapters). Persistent connections with pipelining (answers in order), streaming bodies
 * both ways with backpressure, `Expect: 100-continue`, HEAD, `Connection: close`, `Date`,
 * timeouts for idle connections, headers and bodies, and a limit on connections.
 *
 * The path from a request's bytes to its response's bytes is kept short because it is the whole
 * cost of serving a small file: one connection object per connection (no closures per request),
 * one timer per connection that is moved lazily instead of being set and cleared per read, and
 * response heads serialized once per frozen {@link Headers} object, so that a cached file costs
 * the Date line and one copy of its bytes.
 */
import { type Clock, ClosedError, CounterSet, type Counters, type Flow, type Ipv4Address, type Tcp, type TcpFlow, type TcpListener, type Timer } from '@morgana/core';
import { formatHttpDate } from './date.js';
import { Headers, lowerName } from './headers.js';
import { HttpError, type HttpLimits, HttpParser, type MessageHead, type ParserHandler } from './parser.js';
import { checkField, latin1Bytes, serializeChunk, serializeLastChunk, STATUS_TEXT, statusLine, writeLatin1 } from './serialize.js';

/** A request as a handler sees it. */
export interface HttpRequest {
  readonly method: string;
  /** The request target as sent (`/path?query`). */
  readonly target: string;
  /** The target's path, still percent-encoded (from an absolute-form target too: `http://host/a` gives `/a`). */
  readonly path: string;
  /** The part after `?`, or ''. */
  readonly query: string;
  readonly minorVersion: number;
  readonly headers: Headers;
  readonly remoteAddress: Ipv4Address | undefined;
  /** The next piece of the body, or null at its end. Rejects with HttpError(413) past `maxBodySize`. */
  read(): Promise<Uint8Array | null>;
  /** The whole body (bounded by `maxBodySize`). */
  bytes(): Promise<Uint8Array>;
  text(): Promise<string>;
}

/**
 * What a handler answers. The server owns the message framing: it writes Content-Length,
 * Transfer-Encoding, Connection and (unless given) Date itself, and drops hop-by-hop fields a
 * handler sets (`Connection: close` from a handler still closes the connection after the answer).
 */
export interface HttpResponse {
  readonly status: number;
  readonly reason?: string;
  /**
   * Header fields. A frozen {@link Headers} (see `Headers.freeze`) is serialized once and reused;
   * with frozen headers a body's bytes are taken to be immutable too: answering again with the
   * same `Uint8Array` object within a second may send it as it was the first time.
   */
  readonly headers?: Headers | Readonly<Record<string, string>>;
  /**
   * A fixed body (sent with Content-Length), a stream (sent chunked, or as it is when the
   * headers give a Content-Length, which it must then match), or nothing.
   */
  readonly body?: Uint8Array | string | AsyncIterable<Uint8Array> | null;
}

/** Answers requests. */
export type HttpHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/** Configuration of {@link HttpServer}. */
export interface HttpServerConfig extends HttpLimits {
  readonly clock: Clock;
  /** Close a connection idle between requests this long, ms. Default 5000. */
  readonly keepAliveTimeout?: number;
  /** Time allowed for a whole request head to arrive once its first byte did, ms. Default 20 000. */
  readonly headersTimeout?: number;
  /** Time allowed between two pieces of a request body, ms. Default 30 000. */
  readonly bodyTimeout?: number;
  /** Largest request body a handler may read, octets (413 beyond it). Default 16 MiB. */
  readonly maxBodySize?: number;
  /** Most connections served at once; more are closed at once. Default 1024. */
  readonly maxConnections?: number;
  /** Unread request body drained before reusing a connection; beyond it the connection closes. Default 64 KiB. */
  readonly maxDrain?: number;
  /**
   * Requests parsed ahead of their answers on one connection (pipelining, RFC 9112 §9.3.2);
   * at this many the parser pauses and the rest stays unparsed (and unread) until answers go out. Default 16.
   */
  readonly maxPipelined?: number;
  /**
   * Octets of whole answers (head and body) kept for reuse within the current second, when a
   * handler answers with frozen headers and the same body object again (a static file): such an
   * answer then costs one write of ready bytes. Emptied every second, when the Date changes.
   * Default 4 MiB; 0 turns it off.
   */
  readonly messageCacheBytes?: number;
  /**
   * Turn off Nagle's algorithm on connections accepted by {@link HttpServer.listen}: answers are
   * written whole, so holding back their last segment only adds a round trip. Default true.
   */
  readonly noDelay?: boolean;
  /** Value of the Server header; none when absent. */
  readonly serverName?: string;
}

/** The defaults of {@link HttpServerConfig}. */
export const HTTP_SERVER_DEFAULTS = {
  keepAliveTimeout: 5000,
  headersTimeout: 20_000,
  bodyTimeout: 30_000,
  maxBodySize: 16 * 1024 * 1024,
  maxConnections: 1024,
  maxDrain: 64 * 1024,
  maxPipelined: 16,
  messageCacheBytes: 4 * 1024 * 1024,
} as const;

const CONTINUE_LINE = latin1Bytes('HTTP/1.1 100 Continue\r\n\r\n');
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const INTERNAL_ERROR: HttpResponse = { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'internal server error\n' };

/** A request read from the connection, with the body pieces not yet taken by the handler. */
class Message {
  readonly chunks: Uint8Array[] = [];
  /** Body octets parsed so far. */
  received = 0;
  ended = false;
  constructor(readonly head: MessageHead) {}
}

/** What the framing needs to know about a handler's header fields. */
interface FieldFacts {
  hasDate: boolean;
  hasServer: boolean;
  /** Content-Length given by the handler, or -1. */
  contentLength: number;
  /** The handler asked for `Connection: close`. */
  close: boolean;
}

/** The status line and a handler's fields, serialized (once, for a frozen Headers). */
interface CachedHead extends FieldFacts {
  readonly status: number;
  readonly reason: string;
  readonly bytes: Uint8Array;
  /** Kept in the server's cache (the fields were frozen). */
  readonly shared: boolean;
  /** The whole answer to an HTTP/1.1 keep-alive request, for the current second only. */
  message: CachedMessage | undefined;
}

/** A whole answer, head (with the Date of one second) and body, ready to write again. */
interface CachedMessage {
  /** The body it carries (compared by identity: a static file's bytes are the same object). */
  readonly body: Uint8Array;
  readonly bytes: Uint8Array;
}

/** Fields the server writes itself (RFC 9112 §6, §9.6; RFC 9110 §7.6.1): a handler's copies are dropped. */
function serverOwned(lower: string): boolean {
  return lower === 'connection' || lower === 'transfer-encoding' || lower === 'keep-alive';
}

/** Notes what the framing needs from one field, and whether the field is to be written. */
function noteField(facts: FieldFacts, lower: string, value: string): boolean {
  switch (lower) {
    case 'date':
      facts.hasDate = true;
      return true;
    case 'server':
      facts.hasServer = true;
      return true;
    case 'content-length': {
      const length = /^[0-9]{1,15}$/.test(value) ? Number(value) : -1;
      if (length < 0 || (facts.contentLength >= 0 && facts.contentLength !== length)) throw new HttpError(500, `invalid Content-Length ${JSON.stringify(value)} in a response`);
      facts.contentLength = length;
      return true;
    }
    case 'connection':
      for (const token of value.split(',')) if (token.trim().toLowerCase() === 'close') facts.close = true;
      return false;
    default:
      return !serverOwned(lower);
  }
}

/** Field lines of a handler's headers (checked), noting the facts. */
function handlerFields(headers: Headers | Readonly<Record<string, string>> | undefined, facts: FieldFacts): string {
  let text = '';
  if (headers instanceof Headers) {
    for (let i = 0; i < headers.size; i++) {
      const name = headers.nameAt(i);
      const value = headers.valueAt(i);
      checkField(name, value);
      if (noteField(facts, headers.lowerNameAt(i), value)) text += name + ': ' + value + '\r\n';
    }
  } else if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name];
      checkField(name, value);
      if (noteField(facts, lowerName(name), value)) text += name + ': ' + value + '\r\n';
    }
  }
  return text;
}

/** Serves HTTP/1.1 on flows. */
export class HttpServer {
  private readonly counters = new CounterSet();
  private readonly open = new Set<Flow>();
  // Counted in fields: they change on every request.
  private requests = 0;
  private responses = 0;
  private dateSecond = -1;
  /** `Date: ...` CRLF for the current second. */
  private dateLine = '';
  private readonly serverLine: string;
  private readonly heads = new WeakMap<Headers, CachedHead>();
  /** Heads holding a whole message for the current second, and the octets those messages take. */
  private readonly messageHeads: CachedHead[] = [];
  private messageBytes = 0;
  private readonly messageCacheBytes: number;
  /** @internal */ readonly clock: Clock;
  /** @internal */ readonly keepAliveTimeout: number;
  /** @internal */ readonly headersTimeout: number;
  /** @internal */ readonly bodyTimeout: number;
  /** @internal */ readonly maxBodySize: number;
  /** @internal */ readonly maxDrain: number;
  /** @internal */ readonly maxPipelined: number;
  private readonly maxConnections: number;

  constructor(
    /** @internal */ readonly handler: HttpHandler,
    private readonly config: HttpServerConfig,
  ) {
    const d = HTTP_SERVER_DEFAULTS;
    this.clock = config.clock;
    this.keepAliveTimeout = config.keepAliveTimeout ?? d.keepAliveTimeout;
    this.headersTimeout = config.headersTimeout ?? d.headersTimeout;
    this.bodyTimeout = config.bodyTimeout ?? d.bodyTimeout;
    this.maxBodySize = config.maxBodySize ?? d.maxBodySize;
    this.maxConnections = config.maxConnections ?? d.maxConnections;
    this.maxDrain = config.maxDrain ?? d.maxDrain;
    this.maxPipelined = config.maxPipelined ?? d.maxPipelined;
    this.messageCacheBytes = config.messageCacheBytes ?? d.messageCacheBytes;
    if (config.serverName !== undefined) checkField('Server', config.serverName);
    this.serverLine = config.serverName === undefined ? '' : `Server: ${config.serverName}\r\n`;
  }

  stats(): Counters {
    return { ...this.counters.snapshot(), requests: this.requests, responses: this.responses, openConnections: this.open.size };
  }

  /** Listens on `port` of a TCP layer and serves every connection. */
  listen(tcp: Tcp, port: number, address?: Ipv4Address): TcpListener {
    const noDelay = this.config.noDelay ?? true;
    return tcp.listen(port, {
      address,
      onConnection: (flow) => {
        flow.setNoDelay(noDelay);
        void this.serve(flow, flow.remoteAddress);
      },
    });
  }

  /** Closes every open connection. */
  closeAll(): void {
    for (const flow of this.open) flow.abort();
    this.open.clear();
  }

  /** Serves one connection until it closes. Never rejects. */
  async serve(flow: Flow | TcpFlow, remoteAddress?: Ipv4Address): Promise<void> {
    if (this.open.size >= this.maxConnections) {
      this.counters.add('refused-connection-limit');
      flow.abort();
      return;
    }
    this.open.add(flow);
    this.counters.add('connections');
    const connection = new Connection(this, flow, remoteAddress, this.config);
    try {
      await connection.run();
    } finally {
      this.open.delete(flow);
    }
  }

  /** @internal Counts an event under a kebab-case reason. */
  count(name: string): void {
    this.counters.add(name);
  }

  /** @internal */
  countRequest(): void {
    this.requests++;
  }

  /** The Date line for now, formatted once per second. */
  private date(): string {
    const now = this.clock.wallTime();
    const second = Math.floor(now / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateLine = `Date: ${formatHttpDate(now)}\r\n`;
      // Whole messages carry the old Date: drop them.
      for (const head of this.messageHeads) head.message = undefined;
      this.messageHeads.length = 0;
      this.messageBytes = 0;
    }
    return this.dateLine;
  }

  /** @internal Answers a request that could not be parsed, and the connection closes. */
  async sendError(flow: Flow, error: HttpError): Promise<void> {
    this.counters.add(`status-${error.status}`);
    const body = encoder.encode(`${error.message}\n`);
    const head = latin1Bytes(`${statusLine(error.status, STATUS_TEXT[error.status] ?? '')}${this.date()}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    await flow.writev([head, body]);
  }

  /**
   * The status line and the handler's fields, with what the framing needs to know about them:
   * from the cache for a frozen Headers, else serialized now.
   */
  private handlerHead(status: number, reason: string, headers: Headers | Readonly<Record<string, string>> | undefined): CachedHead {
    const frozen = headers instanceof Headers && headers.frozen ? headers : undefined;
    if (frozen !== undefined) {
      const cached = this.heads.get(frozen);
      if (cached !== undefined && cached.status === status && cached.reason === reason) return cached;
    }
    const facts: FieldFacts = { hasDate: false, hasServer: false, contentLength: -1, close: false };
    const text = statusLine(status, reason) + handlerFields(headers, facts);
    const head: CachedHead = { ...facts, status, reason, bytes: latin1Bytes(text), shared: frozen !== undefined, message: undefined };
    if (frozen !== undefined) this.heads.set(frozen, head);
    return head;
  }

  /** The whole head: the handler's part, then the fields the server writes; `body` is copied after it when given. */
  private finishHead(head: CachedHead, framing: string, close: boolean, keepAliveOn10: boolean, body?: Uint8Array): Uint8Array {
    let tail = framing;
    if (!head.hasServer) tail += this.serverLine;
    if (!head.hasDate) tail += this.date();
    if (close) tail += 'Connection: close\r\n';
    else if (keepAliveOn10) tail += 'Connection: keep-alive\r\n';
    tail += '\r\n';
    const length = head.bytes.length + tail.length;
    const out = new Uint8Array(length + (body === undefined ? 0 : body.length));
    out.set(head.bytes);
    writeLatin1(tail, out, head.bytes.length);
    if (body !== undefined) out.set(body, length);
    return out;
  }

  /** The whole message for a shared head and this body, made at most once a second (within the cache's budget). */
  private wholeMessage(head: CachedHead, framing: string, body: Uint8Array): Uint8Array | undefined {
    this.date();
    const cached = head.message;
    if (cached !== undefined && cached.body === body) return cached.bytes;
    if (this.messageBytes + head.bytes.length + body.length + 128 > this.messageCacheBytes) return undefined;
    const bytes = this.finishHead(head, framing, false, false, body);
    if (cached === undefined) this.messageHeads.push(head);
    else this.messageBytes -= cached.bytes.length;
    head.message = { body, bytes };
    this.messageBytes += bytes.length;
    return bytes;
  }

  /**
   * @internal The whole answer as bytes made earlier this second, when there are some: frozen
   * headers already serialized, a fixed body, an HTTP/1.1 request, the connection kept.
   * Anything else (or a first time) goes through {@link sendResponse}.
   */
  readyAnswer(request: MessageHead, response: HttpResponse): Uint8Array | undefined {
    const headers = response.headers;
    const body = response.body;
    if (request.minorVersion === 0 || !(headers instanceof Headers) || !(body === undefined || body === null || body instanceof Uint8Array)) return undefined;
    const head = this.heads.get(headers);
    const status = response.status;
    if (head === undefined || head.close || head.status !== status || head.reason !== (response.reason ?? STATUS_TEXT[status] ?? '')) return undefined;
    const bodyless = status < 200 || status === 204 || status === 304;
    const bytes = body ?? EMPTY;
    const sendsBody = !bodyless && request.method !== 'HEAD';
    if (sendsBody && head.contentLength >= 0 && head.contentLength !== bytes.length) return undefined;
    const whole = this.wholeMessage(head, head.contentLength < 0 && !bodyless ? `Content-Length: ${bytes.length}\r\n` : '', sendsBody ? bytes : EMPTY);
    if (whole !== undefined) this.responses++;
    return whole;
  }

  /**
   * @internal Writes a response; resolves true when the connection must close after it (asked
   * to, or the body was delimited by closing).
   */
  async sendResponse(flow: Flow, request: MessageHead, response: HttpResponse, keepAlive: boolean): Promise<boolean> {
    const status = response.status;
    // RFC 9110 §6.4.1: no content for 1xx, 204 and 304; HEAD gets the headers a GET would (§9.3.2).
    const bodyless = status < 200 || status === 204 || status === 304;
    const sendsBody = !bodyless && request.method !== 'HEAD';
    const body = response.body;
    const fixed = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    const bytes = !fixed ? EMPTY : body === undefined || body === null ? EMPTY : typeof body === 'string' ? encoder.encode(body) : body;
    let head: CachedHead;
    try {
      head = this.handlerHead(status, response.reason ?? STATUS_TEXT[status] ?? '', response.headers);
      if (fixed && sendsBody && head.contentLength >= 0 && head.contentLength !== bytes.length) {
        throw new HttpError(500, `the handler's Content-Length ${head.contentLength} does not match its ${bytes.length}-octet body`);
      }
    } catch (error) {
      // Nothing was written yet: the client gets a 500 instead of a message it would misread.
      this.counters.add('handler-errors');
      if (response === INTERNAL_ERROR) throw error;
      return this.sendResponse(flow, request, INTERNAL_ERROR, keepAlive);
    }
    const close = !keepAlive || head.close;
    const keepAliveOn10 = request.minorVersion === 0;
    if (fixed) {
      const framing = head.contentLength < 0 && !bodyless ? `Content-Length: ${bytes.length}\r\n` : '';
      const whole = head.shared && !close && !keepAliveOn10 ? this.wholeMessage(head, framing, sendsBody ? bytes : EMPTY) : undefined;
      if (whole !== undefined) {
        await flow.write(whole);
        this.responses++;
        return close;
      }
      const headBytes = this.finishHead(head, framing, close, keepAliveOn10);
      if (!sendsBody || bytes.length === 0) await flow.write(headBytes);
      else await flow.writev([headBytes, bytes]);
      this.responses++;
      return close;
    }
    // A stream: chunked for HTTP/1.1 (RFC 9112 §7.1); for HTTP/1.0 the end of the body is the end of the connection.
    const chunked = head.contentLength < 0 && request.minorVersion >= 1 && !bodyless;
    const untilClose = head.contentLength < 0 && !chunked && !bodyless;
    await flow.write(this.finishHead(head, chunked ? 'Transfer-Encoding: chunked\r\n' : '', close || untilClose, keepAliveOn10 && !untilClose));
    if (sendsBody) {
      let sent = 0;
      for await (const piece of body as AsyncIterable<Uint8Array>) {
        if (piece.length === 0) continue;
        sent += piece.length;
        // A stream longer than its Content-Length would be read as the start of the next response.
        if (head.contentLength >= 0 && sent > head.contentLength) throw new HttpError(500, 'the response stream is longer than its Content-Length');
        await flow.write(chunked ? serializeChunk(piece) : piece);
      }
      if (head.contentLength >= 0 && sent !== head.contentLength) throw new HttpError(500, 'the response stream is shorter than its Content-Length');
      if (chunked) await flow.write(serializeLastChunk());
    }
    this.responses++;
    return close || untilClose;
  }
}

/** The request object handed to handlers. */
class ServerRequest implements HttpRequest {
  readonly method: string;
  readonly target: string;
  readonly path: string;
  readonly query: string;
  readonly minorVersion: number;
  readonly headers: Headers;
  /** Body octets handed out so far. */
  private consumed = 0;
  /** `100 Continue` was sent. */
  continued = false;

  constructor(
    private readonly connection: Connection,
    private readonly message: Message,
    readonly remoteAddress: Ipv4Address | undefined,
  ) {
    const head = message.head;
    const target = head.target;
    // An absolute-form target (RFC 9112 §3.2.2, which a server must accept) names its path after the authority.
    let pathStart = 0;
    if (target.charCodeAt(0) !== 0x2f && target !== '*') {
      const authority = target.indexOf('//');
      pathStart = authority < 0 ? target.indexOf(':') + 1 : target.indexOf('/', authority + 2);
    }
    const question = target.indexOf('?', Math.max(pathStart, 0));
    this.method = head.method;
    this.target = target;
    if (pathStart < 0) {
      // `scheme://authority` or `scheme://authority?query`: the path is empty, which HTTP reads as `/`.
      this.path = '/';
    } else this.path = question < 0 ? target.slice(pathStart) : target.slice(pathStart, question);
    this.query = question < 0 ? '' : target.slice(question + 1);
    this.minorVersion = head.minorVersion;
    this.headers = head.headers;
  }

  async read(): Promise<Uint8Array | null> {
    const message = this.message;
    const connection = this.connection;
    const maxBody = connection.server.maxBodySize;
    for (;;) {
      const chunk = message.chunks.shift();
      if (chunk !== undefined) {
        this.consumed += chunk.length;
        if (this.consumed > maxBody) throw new HttpError(413, `request body larger than ${maxBody} octets`);
        return chunk;
      }
      if (message.ended) return null;
      if (connection.parseError !== undefined) throw connection.parseError;
      if (connection.eof) throw new ClosedError('the client closed the connection in the middle of the body');
      // RFC 9110 §10.1.1: the client waits for this before sending the body.
      if (message.head.expectContinue && !this.continued) {
        this.continued = true;
        await connection.flow.write(CONTINUE_LINE);
      }
      await connection.pull(connection.server.clock.now() + connection.server.bodyTimeout);
    }
  }

  async bytes(): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) {
      chunks.push(chunk);
      total += chunk.length;
    }
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.bytes());
  }
}

/** One connection: reads requests, has them answered in order, and enforces the time limits. */
class Connection implements ParserHandler {
  /** Requests read and not yet answered, oldest first. */
  private readonly messages: Message[] = [];
  private readonly parser: HttpParser;
  parseError: HttpError | undefined;
  eof = false;
  /** When the current wait must end (clock.now() units), or Infinity when nothing is awaited. */
  private deadline = Infinity;
  /** When the head being received must be complete, or -1 between heads. */
  private headDeadline = -1;
  private timer: Timer | undefined;
  /** When the timer fires. */
  private timerAt = 0;
  private timedOut = false;

  constructor(
    readonly server: HttpServer,
    readonly flow: Flow,
    private readonly remoteAddress: Ipv4Address | undefined,
    limits: HttpLimits,
  ) {
    this.parser = new HttpParser('request', this, limits);
  }

  onHead(head: MessageHead): void {
    this.headDeadline = -1;
    this.messages.push(new Message(head));
  }

  onData(data: Uint8Array): void {
    const message = this.messages[this.messages.length - 1];
    message.chunks.push(data.slice());
    message.received += data.length;
  }

  onEnd(): void {
    this.messages[this.messages.length - 1].ended = true;
    if (this.messages.length >= this.server.maxPipelined) {
      this.server.count('pipeline-pauses');
      this.parser.pause();
    }
  }

  onError(error: HttpError): void {
    this.parseError = error;
  }

  async run(): Promise<void> {
    const server = this.server;
    try {
      for (;;) {
        while (this.messages.length === 0 && this.parseError === undefined && !this.eof) {
          const now = server.clock.now();
          if (this.parser.idle) this.setDeadline(now + server.keepAliveTimeout);
          else {
            // RFC 9112 §2.2 leaves slow heads to the server: the whole head gets headersTimeout (slowloris).
            if (this.headDeadline < 0) this.headDeadline = now + server.headersTimeout;
            this.setDeadline(this.headDeadline);
          }
          this.take(await this.flow.read());
        }
        if (this.messages.length === 0) {
          if (this.parseError !== undefined) await server.sendError(this.flow, this.parseError);
          break;
        }
        const keepAlive = await this.answer(this.messages[0]);
        this.messages.shift();
        if (!keepAlive) break;
        this.parser.resume();
      }
      await this.flow.close();
    } catch {
      if (!this.timedOut) server.count('connection-errors');
      this.flow.abort();
    } finally {
      this.deadline = Infinity;
      this.timer?.cancel();
      this.timer = undefined;
    }
  }

  /** Reads one chunk from the flow into the parser; the flow is aborted if none comes by `deadline`. */
  async pull(deadline: number): Promise<void> {
    this.setDeadline(deadline);
    this.take(await this.flow.read());
  }

  /** Feeds what a read returned to the parser. */
  private take(chunk: Uint8Array | null): void {
    this.deadline = Infinity;
    if (chunk === null) {
      this.eof = true;
      this.parser.finish();
    } else this.parser.push(chunk);
  }

  /** Answers one request; resolves whether the connection stays open. */
  private async answer(message: Message): Promise<boolean> {
    const server = this.server;
    const head = message.head;
    server.countRequest();
    const request = new ServerRequest(this, message, this.remoteAddress);
    let response: HttpResponse;
    /** The body passed maxBodySize: reading (or draining) more of it is what the limit prevents. */
    let tooLarge = false;
    try {
      if (head.contentLength > server.maxBodySize) throw new HttpError(413, `request body larger than ${server.maxBodySize} octets`);
      response = await server.handler(request);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      tooLarge = status === 413;
      server.count(status === 500 ? 'handler-errors' : `status-${status}`);
      response = status === 500 ? INTERNAL_ERROR : { status, body: `${(error as Error).message}\n`, headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
    }
    // After a 413 the connection closes (RFC 9110 §15.5.14), whatever was read of the body.
    let keepAlive = head.keepAlive && this.parseError === undefined && !tooLarge;
    if (!message.ended) {
      // The rest of an unread body must be read before the next request can be. Worth it only
      // when it is small and the client is sending it.
      const remaining = head.bodyKind === 'length' ? head.contentLength - message.received : 0;
      // RFC 9110 §10.1.1: a client that got no 100 Continue may never send the body.
      const unsent = head.expectContinue && !request.continued;
      if (unsent || remaining > server.maxDrain || this.eof) keepAlive = false;
    }
    if (keepAlive && message.ended) {
      // The common case, a cached answer to a whole request, costs one write and no more awaits.
      const whole = server.readyAnswer(head, response);
      if (whole !== undefined) {
        await this.flow.write(whole);
        return true;
      }
    }
    // Answer first: a client may wait for the answer before sending more of the body.
    const close = await server.sendResponse(this.flow, head, response, keepAlive);
    if (close || !keepAlive) return false;
    let drained = 0;
    while (!message.ended) {
      const chunk = message.chunks.shift();
      if (chunk !== undefined) {
        drained += chunk.length;
        if (drained > server.maxDrain) return false;
      } else if (this.eof || this.parseError !== undefined) return false;
      else await this.pull(server.clock.now() + server.bodyTimeout);
    }
    return true;
  }

  /**
   * Moves the deadline. The timer is only replaced when the deadline comes earlier than it: a
   * later deadline is noticed when the timer fires, which then waits for the rest. So a busy
   * connection sets one timer per keep-alive period, not one per request.
   */
  private setDeadline(at: number): void {
    this.deadline = at;
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.server.clock.setTimer(at - this.server.clock.now(), this.onTimer);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (this.deadline === Infinity) return;
    const now = this.server.clock.now();
    if (now >= this.deadline) {
      this.timedOut = true;
      this.server.count('timeouts');
      this.flow.abort();
      return;
    }
    this.timerAt = this.deadline;
    this.timer = this.server.clock.setTimer(this.deadline - now, this.onTimer);
  };
}
