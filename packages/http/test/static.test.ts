import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@morgana/testing';
import { accepts, createMemorySource, createStaticHandler, type FileSource, formatHttpDate, Headers, type HttpRequest, type HttpResponse, parseRange, safePath } from '../src/index.js';

const MTIME = Date.UTC(2026, 10, 1, 12, 0, 0);
const enc = (s: string) => new TextEncoder().encode(s);
const site = createMemorySource(
  {
    'index.html': enc('<h1>home</h1>'),
    'docs/index.html': enc('<h1>docs</h1>'),
    'docs/guide.txt': enc('0123456789'),
    'app.js': enc('console.log(1)'),
    'app.js.gz': enc('GZIPPED'),
    'app.js.br': enc('BROTLI'),
    'data.bin': new Uint8Array(3000).map((_, i) => i & 255),
  },
  MTIME,
);

function request(path: string, headers: Record<string, string> = {}, method = 'GET'): HttpRequest {
  const q = path.indexOf('?');
  return {
    method,
    target: path,
    path: q < 0 ? path : path.slice(0, q),
    query: q < 0 ? '' : path.slice(q + 1),
    minorVersion: 1,
    headers: new Headers({ host: 'x', ...headers }),
    remoteAddress: undefined,
    read: async () => null,
    bytes: async () => new Uint8Array(0),
    text: async () => '',
  };
}

const handler = createStaticHandler(site, { cacheFileLimit: 2048 });
const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => handler(request(path, headers, method)) as Promise<HttpResponse>;
const header = (r: HttpResponse, name: string) => (r.headers instanceof Headers ? r.headers.get(name) : undefined);
async function bodyText(r: HttpResponse): Promise<string> {
  if (r.body instanceof Uint8Array) return new TextDecoder().decode(r.body);
  if (typeof r.body === 'string') return r.body;
  if (r.body === undefined || r.body === null) return '';
  let out = '';
  for await (const piece of r.body) out += new TextDecoder().decode(piece);
  return out;
}

describe('static website', () => {
  it('serves files with content types and index.html for directories', async () => {
    const home = await get('/');
    expect(home.status).toBe(200);
    expect(header(home, 'content-type')).toBe('text/html; charset=utf-8');
    expect(await bodyText(home)).toBe('<h1>home</h1>');
    expect(await bodyText(await get('/docs/'))).toBe('<h1>docs</h1>');
    expect(header(await get('/docs/guide.txt'), 'content-type')).toBe('text/plain; charset=utf-8');
    const redirect = await get('/docs?x=1');
    expect(redirect.status).toBe(301);
    expect((redirect.headers as Record<string, string>).Location).toBe('/docs/?x=1');
    expect((await get('/missing')).status).toBe(404);
    expect((await get('/', {}, 'POST')).status).toBe(405);
  });

  it('answers 304 for a matching ETag or an unchanged date (RFC 9110 §13)', async () => {
    const first = await get('/docs/guide.txt');
    const etag = header(first, 'etag') as string;
    expect((await get('/docs/guide.txt', { 'if-none-match': etag })).status).toBe(304);
    expect((await get('/docs/guide.txt', { 'if-none-match': `W/${etag}, "other"` })).status).toBe(304);
    expect((await get('/docs/guide.txt', { 'if-none-match': '"other"' })).status).toBe(200);
    expect((await get('/docs/guide.txt', { 'if-modified-since': formatHttpDate(MTIME) })).status).toBe(304);
    expect((await get('/docs/guide.txt', { 'if-modified-since': formatHttpDate(MTIME - 1000) })).status).toBe(200);
    // If-None-Match takes precedence over If-Modified-Since.
    expect((await get('/docs/guide.txt', { 'if-none-match': '"other"', 'if-modified-since': formatHttpDate(MTIME) })).status).toBe(200);
  });

  it('serves single byte ranges with 206, refuses unsatisfiable ones with 416, honours If-Range', async () => {
    const part = await get('/docs/guide.txt', { range: 'bytes=2-4' });
    expect(part.status).toBe(206);
    expect(header(part, 'content-range')).toBe('bytes 2-4/10');
    expect(await bodyText(part)).toBe('234');
    expect(await bodyText(await get('/docs/guide.txt', { range: 'bytes=-3' }))).toBe('789');
    expect(await bodyText(await get('/docs/guide.txt', { range: 'bytes=7-' }))).toBe('789');
    const bad = await get('/docs/guide.txt', { range: 'bytes=50-60' });
    expect(bad.status).toBe(416);
    expect(header(bad, 'content-range')).toBe('bytes */10');
    expect((await get('/docs/guide.txt', { range: 'bytes=0-1', 'if-range': '"stale"' })).status).toBe(200);
    const big = await get('/data.bin', { range: 'bytes=2990-' });
    expect(big.status).toBe(206);
    expect([...(big.body as Uint8Array)]).toEqual([2990, 2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999].map((i) => i & 255));
  });

  it('serves precompressed variants to clients that accept them', async () => {
    const br = await get('/app.js', { 'accept-encoding': 'gzip, br' });
    expect(header(br, 'content-encoding')).toBe('br');
    expect(await bodyText(br)).toBe('BROTLI');
    expect(header(br, 'content-type')).toBe('text/javascript; charset=utf-8');
    const gz = await get('/app.js', { 'accept-encoding': 'gzip, br;q=0' });
    expect(header(gz, 'content-encoding')).toBe('gzip');
    const plain = await get('/app.js');
    expect(header(plain, 'content-encoding')).toBeUndefined();
    expect(header(plain, 'etag')).not.toBe(header(gz, 'etag'));
    expect(accepts('*;q=0.5', 'br')).toBe(true);
    expect(accepts('identity', 'gzip')).toBe(false);
  });

  it('never leaves the root, however the path is encoded', async () => {
    for (const path of ['/../etc/passwd', '/%2e%2e/etc/passwd', '/docs/%2E%2E/%2e%2e/x', '/a%5c..%5cb', '/a%00b', '/%zz', '/docs/./guide.txt']) {
      expect(safePath(path), path).toBeUndefined();
      expect((await get(path)).status, path).toBe(400);
    }
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', '..', '.', '%2e', '%2E%2e', '%2f', '%5c', '%00', 'b.txt', ''), { maxLength: 6 }), (parts) => {
        const resolved = safePath('/' + parts.join('/'));
        if (resolved !== undefined) expect(resolved.split('/').every((s) => s !== '..' && s !== '.')).toBe(true);
      }),
    );
  });

  it('parses ranges as RFC 9110 §14.1.2 says', () => {
    expect(parseRange('bytes=0-0', 5)).toEqual({ start: 0, end: 1 });
    expect(parseRange('bytes=0-99', 5)).toEqual({ start: 0, end: 5 });
    expect(parseRange('bytes=-0', 5)).toBe('unsatisfiable');
    expect(parseRange('bytes=5-', 5)).toBe('unsatisfiable');
    expect(parseRange('bytes=3-1', 5)).toBeUndefined();
    expect(parseRange('bytes=0-1,3-4', 5)).toBeUndefined();
    expect(parseRange('items=0-1', 5)).toBeUndefined();
  });
});

describe('static website: metadata revalidation', () => {
  it('asks the source for metadata again only after revalidateAfter, and then serves the change', async () => {
    const clock = new VirtualClock();
    const files = new Map([['a.txt', enc('first')]]);
    let stats = 0;
    const memory = createMemorySource(files, MTIME);
    const counted: FileSource = {
      stat: async (path) => {
        stats++;
        return memory.stat(path);
      },
      read: (path, start, end) => memory.read(path, start, end),
    };
    const cached = createStaticHandler(counted, { clock, revalidateAfter: 1000 });
    const body = async () => bodyText((await cached(request('/a.txt'))) as HttpResponse);
    expect(await body()).toBe('first');
    expect(await body()).toBe('first');
    expect(stats).toBe(1);
    files.set('a.txt', enc('second, longer'));
    await clock.run(999);
    expect(await body()).toBe('first');
    await clock.run(1);
    expect(await body()).toBe('second, longer');
    expect(stats).toBe(2);
    // Without the option every request asks.
    const plain = createStaticHandler(counted);
    await plain(request('/a.txt'));
    await plain(request('/a.txt'));
    expect(stats).toBe(4);
    expect(() => createStaticHandler(counted, { revalidateAfter: 1000 })).toThrow(RangeError);
  });

  it('keeps at most cacheEntryLimit files, evicting the oldest', async () => {
    const files = new Map(Array.from({ length: 10 }, (_, i) => [`f${i}.txt`, enc(`file ${i}`)] as [string, Uint8Array]));
    const limited = createStaticHandler(createMemorySource(files, MTIME), { cacheEntryLimit: 3, cacheTotalLimit: 16 });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 10; i++) expect(await bodyText((await limited(request(`/f${i}.txt`))) as HttpResponse)).toBe(`file ${i}`);
    }
  });
});
