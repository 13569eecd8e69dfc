/**
 * The HTTP/1.1 server: runs on any {@link Flow} (morgana's TCP, the socket stack, TLS through
 * the adapters). Persistent connections with pipelining (answers in order), streaming bodies
 * both ways with backpressure, `Expect: 100-continue`, HEAD, `Connection: close`, `Date`,
 * timeouts for idle connections, headers and bodies, and a limit on connections.
 */
import { type Clock, ClosedError, CounterSet, type Counters, type Flow, type Ipv4Address, type Tcp, type TcpFlow, type TcpListener, type Timer } from '@morgana/core';
import { formatHttpDate } from './date.js';
import { Headers } from './headers.js';
import { HttpError, type HttpLimits, HttpParser, type MessageHead } from './parser.js';
import { serializeChunk, serializeLastChunk, serializeResponseHead } from './serialize.js';

/** A request as a handler sees it. */
export interface HttpRequest {
  readonly method: string;
  /** The request target as sent (`/path?query`). */
  readonly target: string;
  /** The target's path, still percent-encoded. */
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

/** What a handler answers. */
export interface HttpResponse {
  readonly status: number;
  readonly reason?: string;
  readonly headers?: Headers | Readonly<Record<string, string>>;
  /** A fixed body (sent with Content-Length), a stream (sent chunked), or nothing. */
  readonly body?: Uint8Array | string | AsyncIterable<Uint8Array> | null;
}

/** Answers requests. */
export type HttpHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/** Configuration of {@link HttpServer}. */
export interface HttpServerConfig extends HttpLimits {
  readonly clock: Clock;
  /** Close a connection idle between requests this long, ms. Default 5000. */
  readonly keepAliveTimeout?: number;
  /** Time allowed for a whole request head to arrive once it started, ms. Default 20 000. */
  readonly headersTimeout?: number;
  /** Time allowed between two pieces of a request body, ms. Default 30 000. */
  readonly bodyTimeout?: number;
  /** Largest request body a handler may read, octets (413 beyond it). Default 16 MiB. */
  readonly maxBodySize?: number;
  /** Most connections served at once; more are closed at once. Default 1024. */
  readonly maxConnections?: number;
  /** Unread request body drained before reusing a connection; beyond it the connection closes. Default 64 KiB. */
  readonly maxDrain?: number;
  /** Value of the Server header; none when absent. */
  readonly serverName?: string;
}

const CONTINUE_LINE = new TextEncoder().encode('HTTP/1.1 100 Continue\r\n\r\n');

interface Message {
  head: MessageHead;
  chunks: Uint8Array[];
  ended: boolean;
  received: number;
}

/** Serves HTTP/1.1 on flows. */
export class HttpServer {
  private readonly counters = new CounterSet();
  private readonly open = new Set<Flow>();
  private dateText = '';
  private dateSecond = -1;

  constructor(
    private readonly handler: HttpHandler,
    private readonly config: HttpServerConfig,
  ) {}

  stats(): Counters {
    return { ...this.counters.snapshot(), openConnections: this.open.size };
  }

  /** Listens on `port` of a TCP layer and serves every connection. */
  listen(tcp: Tcp, port: number, address?: Ipv4Address): TcpListener {
    return tcp.listen(port, { address, onConnection: (flow) => void this.serve(flow, flow.remoteAddress) });
  }

  /** Closes every open connection. */
  closeAll(): void {
    for (const flow of this.open) flow.abort();
    this.open.clear();
  }

  /** The current Date header value, formatted once per second. */
  private date(): string {
    const now = this.config.clock.wallTime();
    const second = Math.floor(now / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateText = formatHttpDate(now);
    }
    return this.dateText;
  }

  /** Serves one connection until it closes. Never rejects. */
  async serve(flow: Flow | TcpFlow, remoteAddress?: Ipv4Address): Promise<void> {
    const config = this.config;
    if (this.open.size >= (config.maxConnections ?? 1024)) {
      this.counters.add('refused-connection-limit');
      flow.abort();
      return;
    }
    this.open.add(flow);
    this.counters.add('connections');
    const messages: Message[] = [];
    let parseError: HttpError | undefined;
    let eof = false;
    const parser = new HttpParser('request', {
      onHead: (head) => messages.push({ head, chunks: [], ended: false, received: 0 }),
      onData: (data) => {
        const message = messages[messages.length - 1];
        message.chunks.push(data.slice());
        message.received += data.length;
      },
      onEnd: () => {
        messages[messages.length - 1].ended = true;
      },
      onError: (error) => {
        parseError = error;
      },
    }, config);
    let timer: Timer | undefined;
    let timedOut = false;
    const arm = (ms: number): void => {
      timer?.cancel();
      timer = config.clock.setTimer(ms, () => {
        timedOut = true;
        this.counters.add('timeouts');
        flow.abort();
      });
    };
    /** Reads one chunk from the flow into the parser. */
    const pull = async (timeout: number): Promise<void> => {
      arm(timeout);
      const chunk = await flow.read();
      timer?.cancel();
      if (chunk === null) {
        eof = true;
        parser.finish();
      } else parser.push(chunk);
    };
    try {
      for (;;) {
        // Wait for the next request head.
        while (messages.length === 0 && parseError === undefined && !eof) {
          await pull(parser.idle ? config.keepAliveTimeout ?? 5000 : config.headersTimeout ?? 20_000);
        }
        if (messages.length === 0) {
          if (parseError !== undefined) await this.sendError(flow, parseError);
          break;
        }
        const message = messages[0];
        const head = message.head;
        this.counters.add('requests');
        let continued = false;
        let consumed = 0;
        const maxBody = config.maxBodySize ?? 16 * 1024 * 1024;
        const read = async (): Promise<Uint8Array | null> => {
          for (;;) {
            const chunk = message.chunks.shift();
            if (chunk !== undefined) {
              consumed += chunk.length;
              if (consumed > maxBody) throw new HttpError(413, `request body larger than ${maxBody} octets`);
              return chunk;
            }
            if (message.ended) return null;
            if (parseError !== undefined) throw parseError;
            if (eof) throw new ClosedError('the client closed the connection in the middle of the body');
            if (head.expectContinue && !continued) {
              continued = true;
              await flow.write(CONTINUE_LINE);
            }
            await pull(config.bodyTimeout ?? 30_000);
          }
        };
        const request = makeRequest(head, remoteAddress, read, maxBody);
        let response: HttpResponse;
        try {
          if (head.contentLength > maxBody) throw new HttpError(413, `request body larger than ${maxBody} octets`);
          response = await this.handler(request);
        } catch (error) {
          const status = error instanceof HttpError ? error.status : 500;
          this.counters.add(status === 500 ? 'handler-errors' : `status-${status}`);
          response = { status, body: status === 500 ? 'internal server error\n' : `${(error as Error).message}\n`, headers: { 'content-type': 'text/plain; charset=utf-8' } };
        }
        // Unread body: drain a little so the connection can be reused, else close it.
        let keepAlive = head.keepAlive && !parseError;
        if (!message.ended) {
          let drained = 0;
          if (head.expectContinue && !continued) keepAlive = false;
          while (keepAlive && !message.ended && drained <= (config.maxDrain ?? 65_536)) {
            const chunk = message.chunks.shift();
            if (chunk !== undefined) drained += chunk.length;
            else if (eof || parseError !== undefined) keepAlive = false;
            else await pull(config.bodyTimeout ?? 30_000);
          }
          if (!message.ended) keepAlive = false;
        }
        const mustClose = await this.sendResponse(flow, head, response, keepAlive);
        messages.shift();
        if (!keepAlive || mustClose) break;
      }
      await flow.close();
    } catch {
      if (!timedOut) this.counters.add('connection-errors');
      flow.abort();
    } finally {
      timer?.cancel();
      this.open.delete(flow);
    }
  }

  private async sendError(flow: Flow, error: HttpError): Promise<void> {
    this.counters.add(`status-${error.status}`);
    const body = new TextEncoder().encode(`${error.message}\n`);
    const headers = new Headers([
      ['Date', this.date()],
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(body.length)],
      ['Connection', 'close'],
    ]);
    await flow.writev([serializeResponseHead(error.status, headers), body]);
  }

  /** Writes a response; resolves true when the body was delimited by closing the connection. */
  private async sendResponse(flow: Flow, head: MessageHead, response: HttpResponse, keepAlive: boolean): Promise<boolean> {
    const headers = response.headers instanceof Headers ? response.headers : new Headers(response.headers ?? {});
    if (!headers.has('date')) headers.append('Date', this.date());
    if (this.config.serverName !== undefined && !headers.has('server')) headers.append('Server', this.config.serverName);
    if (!keepAlive) headers.set('Connection', 'close');
    else if (head.minorVersion === 0) headers.set('Connection', 'keep-alive');
    const status = response.status;
    // RFC 9110 §6.4.1: no content for 1xx, 204 and 304; HEAD gets the headers a GET would.
    const bodyless = status < 200 || status === 204 || status === 304;
    const body = response.body;
    if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) {
      const bytes = body === undefined || body === null ? new Uint8Array(0) : typeof body === 'string' ? new TextEncoder().encode(body) : body;
      if (!bodyless && !headers.has('content-length')) headers.set('Content-Length', String(bytes.length));
      const headBytes = serializeResponseHead(status, headers, response.reason);
      if (head.method === 'HEAD' || bodyless || bytes.length === 0) await flow.write(headBytes);
      else await flow.writev([headBytes, bytes]);
      this.counters.add('responses');
      return false;
    }
    // A stream: chunked for HTTP/1.1; for HTTP/1.0 the end of the body is the end of the connection.
    const chunked = head.minorVersion >= 1 && !headers.has('content-length');
    if (chunked) headers.set('Transfer-Encoding', 'chunked');
    else if (!headers.has('content-length')) headers.set('Connection', 'close');
    await flow.write(serializeResponseHead(status, headers, response.reason));
    if (head.method !== 'HEAD' && !bodyless) {
      for await (const piece of body) {
        if (piece.length === 0) continue;
        await flow.write(chunked ? serializeChunk(piece) : piece);
      }
      if (chunked) await flow.write(serializeLastChunk());
    }
    this.counters.add('responses');
    return !chunked && !headers.has('content-length');
  }
}

function makeRequest(head: MessageHead, remoteAddress: Ipv4Address | undefined, read: () => Promise<Uint8Array | null>, maxBody: number): HttpRequest {
  const question = head.target.indexOf('?');
  const bytes = async (): Promise<Uint8Array> => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const chunk = await read();
      if (chunk === null) break;
      total += chunk.length;
      if (total > maxBody) throw new HttpError(413, `request body larger than ${maxBody} octets`);
      chunks.push(chunk);
    }
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  };
  return {
    method: head.method,
    target: head.target,
    path: question < 0 ? head.target : head.target.slice(0, question),
    query: question < 0 ? '' : head.target.slice(question + 1),
    minorVersion: head.minorVersion,
    headers: head.headers,
    remoteAddress,
    read,
    bytes,
    text: async () => new TextDecoder().decode(await bytes()),
  };
}
