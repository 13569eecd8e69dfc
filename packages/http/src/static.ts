/**
 * The static website: serves files from a {@link FileSource} (a folder through the CLI, or a
 * bundle built into the appliance) with content types, `index.html`, ETag and Last-Modified
 * with 304 answers (RFC 9110 §13), single byte ranges (RFC 9110 §14: 206, 416, If-Range),
 * precompressed `.br`/`.gz` variants when accepted, no directory listings, and no way out of
 * the root: encoded dots, backslashes and NUL are refused before any file is touched.
 */
import { parseHttpDate, formatHttpDate } from './date.js';
import { Headers } from './headers.js';
import type { HttpHandler, HttpRequest, HttpResponse } from './server.js';

/** A file's metadata. */
export interface FileInfo {
  readonly size: number;
  /** Modification time, ms since the epoch. */
  readonly mtimeMs: number;
  readonly isDirectory: boolean;
}

/** Where the files come from. Paths are `/`-separated, relative to the site root, never containing `..`. */
export interface FileSource {
  stat(path: string): Promise<FileInfo | undefined>;
  /** Bytes [start, end) of a file. */
  read(path: string, start: number, end: number): Promise<Uint8Array>;
}

/** Options of {@link createStaticHandler}. */
export interface StaticOptions {
  /** File served for a directory; default `index.html`. */
  readonly index?: string;
  /** Cache-Control value; default `public, max-age=0, must-revalidate`. */
  readonly cacheControl?: string;
  /** Files at most this large are kept in memory after the first read; default 1 MiB. */
  readonly cacheFileLimit?: number;
  /** Total bytes kept in that memory cache; default 64 MiB. */
  readonly cacheTotalLimit?: number;
  /** Serve `.br`/`.gz` siblings to clients that accept them; default true. */
  readonly precompressed?: boolean;
}

/** Content types by extension. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8', htm: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8', mjs: 'text/javascript; charset=utf-8', json: 'application/json',
  txt: 'text/plain; charset=utf-8', md: 'text/markdown; charset=utf-8', xml: 'application/xml', svg: 'image/svg+xml',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', avif: 'image/avif',
  ico: 'image/x-icon', woff: 'font/woff', woff2: 'font/woff2', ttf: 'font/ttf', otf: 'font/otf', pdf: 'application/pdf',
  wasm: 'application/wasm', mp4: 'video/mp4', webm: 'video/webm', mp3: 'audio/mpeg', ogg: 'audio/ogg', zip: 'application/zip',
  gz: 'application/gzip', tar: 'application/x-tar', csv: 'text/csv; charset=utf-8', map: 'application/json',
  webmanifest: 'application/manifest+json', pcap: 'application/vnd.tcpdump.pcap',
};

/** The content type for a path (by extension; `application/octet-stream` when unknown). */
export function contentTypeOf(path: string): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  if (dot <= slash) return 'application/octet-stream';
  return CONTENT_TYPES[path.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The file path a request path names, or undefined when it must be refused: percent-decoding
 * is done once, then NUL, backslashes, and `.`/`..` segments (however they were encoded) are
 * refused rather than resolved, so nothing can climb out of the root.
 */
export function safePath(requestPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(requestPath);
  } catch {
    return undefined;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').slice(1);
  for (const segment of segments) if (segment === '.' || segment === '..') return undefined;
  return decoded.slice(1);
}

/** True when an Accept-Encoding value accepts `coding` with a non-zero weight (RFC 9110 §12.5.3). */
export function accepts(acceptEncoding: string, coding: string): boolean {
  let star: boolean | undefined;
  for (const item of acceptEncoding.split(',')) {
    const [name, ...parameters] = item.split(';').map((part) => part.trim().toLowerCase());
    const q = parameters.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    const ok = Number.isFinite(weight) && weight > 0;
    if (name === coding) return ok;
    if (name === '*') star = ok;
  }
  return star ?? false;
}

/** A strong validator from size and time; a variant (encoding) gets its own. */
function etagOf(info: FileInfo, variant: string): string {
  return `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}${variant === '' ? '' : '-' + variant}"`;
}

/** RFC 9110 §13.1.2: If-None-Match matches with the weak comparison. */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((item) => item.trim().replace(/^W\//, '') === bare);
}

/** One byte range of `size` from a Range header, 'unsatisfiable', or undefined to ignore it. */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = /^bytes=([^,]*)$/i.exec(header.trim());
  // Multiple ranges are allowed to be ignored (RFC 9110 §14.2): we answer 200 with the whole file.
  if (match === null) return undefined;
  const spec = match[1].trim();
  const parts = /^(\d*)-(\d*)$/.exec(spec);
  if (parts === null || (parts[1] === '' && parts[2] === '')) return undefined;
  if (parts[1] === '') {
    const suffix = Number(parts[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(parts[1]);
  const last = parts[2] === '' ? size - 1 : Math.min(Number(parts[2]), size - 1);
  if (parts[2] !== '' && Number(parts[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: last + 1 };
}

/** Serves a site from `source`. */
export function createStaticHandler(source: FileSource, options: StaticOptions = {}): HttpHandler {
  const index = options.index ?? 'index.html';
  const cacheControl = options.cacheControl ?? 'public, max-age=0, must-revalidate';
  const fileLimit = options.cacheFileLimit ?? 1024 * 1024;
  const totalLimit = options.cacheTotalLimit ?? 64 * 1024 * 1024;
  const precompressed = options.precompressed ?? true;
  const memory = new Map<string, { mtimeMs: number; bytes: Uint8Array }>();
  let memoryBytes = 0;

  const readAll = async (path: string, info: FileInfo): Promise<Uint8Array> => {
    const cached = memory.get(path);
    if (cached !== undefined && cached.mtimeMs === info.mtimeMs && cached.bytes.length === info.size) return cached.bytes;
    const bytes = await source.read(path, 0, info.size);
    if (info.size <= fileLimit) {
      if (cached !== undefined) memoryBytes -= cached.bytes.length;
      while (memoryBytes + bytes.length > totalLimit && memory.size > 0) {
        const [oldest, entry] = memory.entries().next().value as [string, { bytes: Uint8Array }];
        memory.delete(oldest);
        memoryBytes -= entry.bytes.length;
      }
      memory.set(path, { mtimeMs: info.mtimeMs, bytes });
      memoryBytes += bytes.length;
    }
    return bytes;
  };

  const text = (status: number, body: string, extra: Record<string, string> = {}): HttpResponse => ({
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', ...extra },
    body,
  });

  return async (request: HttpRequest): Promise<HttpResponse> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    let path = safePath(request.path);
    if (path === undefined) return text(400, 'bad path\n');
    let info = await source.stat(path);
    if (info?.isDirectory === true) {
      if (!request.path.endsWith('/')) {
        // A directory is served at its URL with a slash, so relative links resolve.
        return { status: 301, headers: { Location: request.path + '/' + (request.query === '' ? '' : '?' + request.query), 'Content-Length': '0' } };
      }
      path = path === '' ? index : `${path.replace(/\/$/, '')}/${index}`;
      info = await source.stat(path);
    }
    if (info === undefined || info.isDirectory) return text(404, 'not found\n');
    const type = contentTypeOf(path);
    // Pick a precompressed variant the client accepts (RFC 9110 §12.5.3).
    let variantPath = path;
    let encoding = '';
    if (precompressed) {
      const accept = request.headers.get('accept-encoding') ?? '';
      for (const [name, suffix] of [['br', '.br'], ['gzip', '.gz']] as const) {
        if (!accepts(accept, name)) continue;
        const variant = await source.stat(path + suffix);
        if (variant !== undefined && !variant.isDirectory) {
          variantPath = path + suffix;
          encoding = name;
          info = variant;
          break;
        }
      }
    }
    const etag = etagOf(info, encoding);
    const lastModified = formatHttpDate(info.mtimeMs);
    const headers = new Headers([
      ['Content-Type', type],
      ['ETag', etag],
      ['Last-Modified', lastModified],
      ['Cache-Control', cacheControl],
      ['Accept-Ranges', 'bytes'],
    ]);
    if (precompressed) headers.append('Vary', 'Accept-Encoding');
    if (encoding !== '') headers.append('Content-Encoding', encoding);
    // Conditional requests (RFC 9110 §13.2.2): If-None-Match wins over If-Modified-Since.
    const ifNoneMatch = request.headers.get('if-none-match');
    if (ifNoneMatch !== undefined) {
      if (noneMatch(ifNoneMatch, etag)) return { status: 304, headers };
    } else {
      const since = parseHttpDate(request.headers.get('if-modified-since') ?? '');
      if (since !== undefined && Math.floor(info.mtimeMs / 1000) * 1000 <= since) return { status: 304, headers };
    }
    const rangeHeader = request.headers.get('range');
    const ifRange = request.headers.get('if-range');
    const rangeApplies = rangeHeader !== undefined && (ifRange === undefined || ifRange.trim() === etag || parseHttpDate(ifRange) === Math.floor(info.mtimeMs / 1000) * 1000);
    if (rangeApplies) {
      const range = parseRange(rangeHeader, info.size);
      if (range === 'unsatisfiable') {
        headers.append('Content-Range', `bytes */${info.size}`);
        return { status: 416, headers, body: '' };
      }
      if (range !== undefined) {
        headers.append('Content-Range', `bytes ${range.start}-${range.end - 1}/${info.size}`);
        const bytes = request.method === 'HEAD' ? new Uint8Array(0) : info.size <= fileLimit ? (await readAll(variantPath, info)).subarray(range.start, range.end) : await source.read(variantPath, range.start, range.end);
        headers.append('Content-Length', String(range.end - range.start));
        return { status: 206, headers, body: bytes };
      }
    }
    headers.append('Content-Length', String(info.size));
    if (request.method === 'HEAD') return { status: 200, headers };
    if (info.size <= fileLimit) return { status: 200, headers, body: await readAll(variantPath, info) };
    return { status: 200, headers, body: streamFile(source, variantPath, info.size) };
  };
}

/** Reads a large file in pieces so it is never wholly in memory. */
async function* streamFile(source: FileSource, path: string, size: number): AsyncGenerator<Uint8Array> {
  const piece = 256 * 1024;
  for (let offset = 0; offset < size; offset += piece) yield await source.read(path, offset, Math.min(size, offset + piece));
}

/** A {@link FileSource} over files held in memory (a bundled site). */
export function createMemorySource(files: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>, mtimeMs: number): FileSource {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  const directories = new Set<string>(['']);
  for (const path of map.keys()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) directories.add(parts.slice(0, i).join('/'));
  }
  return {
    async stat(path) {
      const clean = path.replace(/\/$/, '');
      const file = map.get(clean);
      if (file !== undefined) return { size: file.length, mtimeMs, isDirectory: false };
      if (directories.has(clean)) return { size: 0, mtimeMs, isDirectory: true };
      return undefined;
    },
    async read(path, start, end) {
      const file = map.get(path);
      if (file === undefined) throw new Error(`no such file: ${path}`);
      return file.subarray(start, end);
    },
  };
}
