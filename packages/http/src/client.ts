/**
 * An HTTP/1.1 client over any `Tcp`: a keep-alive pool per origin, chunked and
 * close-delimited bodies, redirects off by default, and time limits.
 */
import { type Clock, ClosedError, type Ipv4Address, type Tcp, type TcpFlow, TimeoutError } from '@morgana/core';
import { Headers } from './headers.js';
import { HttpError, type HttpLimits, HttpParser, type MessageHead } from './parser.js';
import { serializeRequestHead } from './serialize.js';

/** Options of {@link HttpClient}. */
export interface HttpClientConfig extends HttpLimits {
  readonly tcp: Tcp;
  readonly clock: Clock;
  /** Idle connections kept per origin; default 8. */
  readonly maxIdlePerOrigin?: number;
  /** Time limit for a whole exchange (connect to last body byte), ms; default 30 000. */
  readonly timeout?: number;
  /** Largest response body read into memory, octets; default 64 MiB. */
  readonly maxBodySize?: number;
  /** Redirects followed (301, 302, 303, 307, 308); default 0: redirects are returned as they are. */
  readonly maxRedirects?: number;
}

/** A request to send. */
export interface ClientRequest {
  readonly method?: string;
  /** Address and port of the server (no name resolution here: see the DNS resolver). */
  readonly address: Ipv4Address;
  readonly port?: number;
  /** Host header value; default the address. */
  readonly host?: string;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
}

/** A response, body read whole. */
export interface ClientResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

interface Pooled {
  flow: TcpFlow;
  parser: HttpParser;
  events: { head?: MessageHead; chunks: Uint8Array[]; ended: boolean; error?: HttpError };
}

/** An HTTP client with a connection pool. */
export class HttpClient {
  private readonly idle = new Map<string, Pooled[]>();

  constructor(private readonly config: HttpClientConfig) {}

  /** Closes every pooled connection. */
  close(): void {
    for (const list of this.idle.values()) for (const c of list) c.flow.abort();
    this.idle.clear();
  }

  /** Sends a request and reads the whole response; follows redirects only if configured to. */
  async request(request: ClientRequest): Promise<ClientResponse> {
    let current = request;
    for (let hop = 0; ; hop++) {
      const response = await this.once(current);
      const location = response.headers.get('location');
      if (hop >= (this.config.maxRedirects ?? 0) || location === undefined || ![301, 302, 303, 307, 308].includes(response.status) || !location.startsWith('/')) {
        return response;
      }
      // Only same-origin path redirects: following to another host needs name resolution.
      const method = response.status === 303 || ((response.status === 301 || response.status === 302) && current.method === 'POST') ? 'GET' : current.method;
      current = { ...current, method, path: location, body: method === 'GET' ? undefined : current.body };
    }
  }

  private async connection(key: string, request: ClientRequest): Promise<Pooled> {
    const list = this.idle.get(key);
    const reused = list?.pop();
    if (reused !== undefined) return reused;
    const flow = await this.config.tcp.connect(request.address, request.port ?? 80, { timeout: this.config.timeout ?? 30_000 });
    const events: Pooled['events'] = { chunks: [], ended: false };
    const parser = new HttpParser('response', {
      onHead: (head) => {
        if (head.status >= 200) events.head = head;
      },
      onData: (data) => events.chunks.push(data.slice()),
      onEnd: () => {
        if (events.head !== undefined) events.ended = true;
      },
      onError: (error) => {
        events.error = error;
      },
    }, this.config);
    return { flow, parser, events };
  }

  private async once(request: ClientRequest): Promise<ClientResponse> {
    const method = request.method ?? 'GET';
    const key = `${request.address}:${request.port ?? 80}`;
    const connection = await this.connection(key, request);
    const { flow, parser, events } = connection;
    events.head = undefined;
    events.chunks = [];
    events.ended = false;
    let expired = false;
    const timer = this.config.clock.setTimer(this.config.timeout ?? 30_000, () => {
      expired = true;
      flow.abort();
    });
    try {
      const body = typeof request.body === 'string' ? new TextEncoder().encode(request.body) : request.body;
      const headers = new Headers({ Host: request.host ?? `${request.address >>> 24}.${(request.address >>> 16) & 255}.${(request.address >>> 8) & 255}.${request.address & 255}`, ...(request.headers ?? {}) });
      if (body !== undefined) headers.set('Content-Length', String(body.length));
      if (method === 'HEAD') parser.expectNoBody();
      const head = serializeRequestHead(method, request.path ?? '/', headers);
      await (body === undefined || body.length === 0 ? flow.write(head) : flow.writev([head, body]));
      let size = 0;
      const limit = this.config.maxBodySize ?? 64 * 1024 * 1024;
      while (!events.ended) {
        if (events.error !== undefined) throw events.error;
        const chunk = await flow.read().catch((error: unknown) => {
          throw expired ? new TimeoutError('HTTP exchange timed out') : error;
        });
        if (chunk === null) {
          parser.finish();
          if (!events.ended) throw events.error ?? new ClosedError('the server closed the connection before the response ended');
          break;
        }
        parser.push(chunk);
        size += chunk.length;
        if (size > limit + 65_536) throw new HttpError(502, `response larger than ${limit} octets`);
      }
      const responseHead = connection.events.head;
      if (responseHead === undefined) throw new ClosedError('no response head');
      const total = events.chunks.reduce((n, c) => n + c.length, 0);
      const out = new Uint8Array(total);
      let offset = 0;
      for (const c of events.chunks) {
        out.set(c, offset);
        offset += c.length;
      }
      if (responseHead.keepAlive && !headers.hasToken('connection', 'close')) {
        const list = this.idle.get(key) ?? [];
        if (list.length < (this.config.maxIdlePerOrigin ?? 8)) {
          list.push(connection);
          this.idle.set(key, list);
        } else void flow.close().catch(() => undefined);
      } else void flow.close().catch(() => undefined);
      return { status: responseHead.status, reason: responseHead.reason, headers: responseHead.headers, body: out };
    } catch (error) {
      flow.abort();
      throw error;
    } finally {
      timer.cancel();
    }
  }
}
