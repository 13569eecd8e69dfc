/**
 * The static website: serves files from a {@link FileSource} (a folder through the CLI, or a
 * bundle built into the appliance) with content types, `index.html`, ETag and Last-Modified
 * with 304 answers (RFC 9110 §13), single byte ranges (RFC 9110 §14: 206, 416, If-Range),
 * precompressed `.br`/`.gz` variants when accepted, no directory listings, and no way out of
 * the root: encoded dots, backslashes and NUL are refused before any file is touched.
 */
import type { Clock } from '@morgana/core';
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
  /** Files (and variants) whose validators and headers are kept; default 10 000. */
  readonly cacheEntryLimit?: number;
  /** Serve `.br`/`.gz` siblings to clients that accept them; default true. */
  readonly precompressed?: boolean;
  /**
   * Milliseconds a file's metadata is trusted before the source is asked again; default 0:
   * every request stats its file, so a change shows at once. A folder source pays a system
   * call or two per stat, which can cost more than the rest of a small file's answer; with
   * this set, a change shows within this long. Needs `clock`.
   */
  readonly revalidateAfter?: number;
  /** Clock for `revalidateAfter`. */
  readonly clock?: Clock;
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

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
  let decoded = requestPath;
  if (requestPath.includes('%')) {
    try {
      decoded = decodeURIComponent(requestPath);
    } catch {
      return undefined;
    }
  }
  if (decoded.charCodeAt(0) !== SLASH) return undefined;
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c === 0 || c === BACKSLASH) return undefined;
    // A segment starts after each slash: refuse "." and "..".
    if (c === SLASH && decoded.charCodeAt(i + 1) === DOT) {
      const next = decoded.charCodeAt(i + 2);
      if (next === SLASH || i + 2 === decoded.length) return undefined;
      if (next === DOT && (decoded.charCodeAt(i + 3) === SLASH || i + 3 === decoded.length)) return undefined;
    }
  }
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

/** What is kept per file (per variant): its validators and serialized-once headers, maybe its bytes. */
interface Entry {
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
  /** mtime truncated to the second, as Last-Modified and HTTP dates carry it. */
  readonly modifiedSecond: number;
  /** The 200 answer's fields, Content-Length included (frozen: the server caches their bytes). */
  readonly full: Headers;
  /** The fields a 304 repeats (RFC 9110 §15.4.5): no Content-Length. */
  readonly validators: Headers;
  bytes: Uint8Array | undefined;
}

/** The request fields the handler looks at, gathered in one pass. */
interface Conditions {
  acceptEncoding: string | undefined;
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  range: string | undefined;
  ifRange: string | undefined;
}

/** Bits of the codings a client accepts, for the variants we may serve. */
const BROTLI = 1;
const GZIP = 2;
/** Distinct Accept-Encoding values whose reading is remembered (clients send few). */
const ACCEPT_CACHE_LIMIT = 64;

function conditionsOf(headers: Headers): Conditions {
  const found: Conditions = { acceptEncoding: undefined, ifNoneMatch: undefined, ifModifiedSince: undefined, range: undefined, ifRange: undefined };
  for (let i = 0; i < headers.size; i++) {
    switch (headers.lowerNameAt(i)) {
      case 'accept-encoding':
        found.acceptEncoding ??= headers.valueAt(i);
        break;
      case 'if-none-match':
        found.ifNoneMatch ??= headers.valueAt(i);
        break;
      case 'if-modified-since':
        found.ifModifiedSince ??= headers.valueAt(i);
        break;
      case 'range':
        found.range ??= headers.valueAt(i);
        break;
      case 'if-range':
        found.ifRange ??= headers.valueAt(i);
        break;
    }
  }
  return found;
}

function plainText(status: number, body: string, extra: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...extra }, body };
}

const METHOD_NOT_ALLOWED = plainText(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
const BAD_PATH = plainText(400, 'bad path\n');
const NOT_FOUND = plainText(404, 'not found\n');

/**
 * Serves a site from `source`. Every request stats its file, so changes show at once; what
 * was derived from a file (validators, headers, small files' bytes) is kept while its size
 * and modification time stay the same.
 */
export function createStaticHandler(source: FileSource, options: StaticOptions = {}): HttpHandler {
  const index = options.index ?? 'index.html';
  const cacheControl = options.cacheControl ?? 'public, max-age=0, must-revalidate';
  const fileLimit = options.cacheFileLimit ?? 1024 * 1024;
  const totalLimit = options.cacheTotalLimit ?? 64 * 1024 * 1024;
  const entryLimit = options.cacheEntryLimit ?? 10_000;
  const precompressed = options.precompressed ?? true;
  const revalidateAfter = options.revalidateAfter ?? 0;
  const clock = options.clock;
  if (revalidateAfter > 0 && clock === undefined) throw new RangeError('revalidateAfter needs a clock');
  const entries = new Map<string, Entry>();
  /** Stat results (missing files too) and when they were asked for, while revalidateAfter allows. */
  const stats = new Map<string, { info: FileInfo | undefined; at: number }>();
  let memoryBytes = 0;
  const acceptCache = new Map<string, number>();

  const acceptedCodings = (acceptEncoding: string): number => {
    let codings = acceptCache.get(acceptEncoding);
    if (codings === undefined) {
      codings = (accepts(acceptEncoding, 'br') ? BROTLI : 0) | (accepts(acceptEncoding, 'gzip') ? GZIP : 0);
      if (acceptCache.size >= ACCEPT_CACHE_LIMIT) acceptCache.clear();
      acceptCache.set(acceptEncoding, codings);
    }
    return codings;
  };

  /** The source's stat, or a recent answer of it. */
  const statOf = (path: string): Promise<FileInfo | undefined> | FileInfo | undefined => {
    if (clock === undefined || revalidateAfter <= 0) return source.stat(path);
    const now = clock.now();
    const known = stats.get(path);
    if (known !== undefined && now - known.at < revalidateAfter) return known.info;
    return source.stat(path).then((info) => {
      if (known === undefined) {
        while (stats.size >= entryLimit) stats.delete(stats.keys().next().value as string);
      }
      stats.set(path, { info, at: now });
      return info;
    });
  };

  const forget = (path: string, entry: Entry): void => {
    entries.delete(path);
    if (entry.bytes !== undefined) memoryBytes -= entry.bytes.length;
  };

  /** The entry for a file variant as `info` describes it now. */
  const entryFor = (variantPath: string, path: string, info: FileInfo, encoding: string): Entry => {
    const known = entries.get(variantPath);
    if (known !== undefined) {
      if (known.mtimeMs === info.mtimeMs && known.size === info.size) return known;
      forget(variantPath, known);
    }
    const etag = etagOf(info, encoding);
    const validators = new Headers([
      ['Content-Type', contentTypeOf(path)],
      ['ETag', etag],
      ['Last-Modified', formatHttpDate(info.mtimeMs)],
      ['Cache-Control', cacheControl],
      ['Accept-Ranges', 'bytes'],
    ]);
    if (precompressed) validators.append('Vary', 'Accept-Encoding');
    if (encoding !== '') validators.append('Content-Encoding', encoding);
    const full = new Headers(validators);
    full.append('Content-Length', String(info.size));
    const entry: Entry = { size: info.size, mtimeMs: info.mtimeMs, etag, modifiedSecond: Math.floor(info.mtimeMs / 1000) * 1000, full: full.freeze(), validators: validators.freeze(), bytes: undefined };
    while (entries.size >= entryLimit) {
      const [oldest, old] = entries.entries().next().value as [string, Entry];
      forget(oldest, old);
    }
    entries.set(variantPath, entry);
    return entry;
  };

  /** A small file's bytes, from memory once read (within the memory budget). */
  const bytesOf = async (variantPath: string, entry: Entry): Promise<Uint8Array> => {
    if (entry.bytes !== undefined) return entry.bytes;
    const bytes = await source.read(variantPath, 0, entry.size);
    // The file may have changed while it was read: keep the bytes only if the entry is still current.
    if (bytes.length === entry.size && entries.get(variantPath) === entry && entry.bytes === undefined) {
      for (const [path, old] of entries) {
        if (memoryBytes + bytes.length <= totalLimit) break;
        if (old !== entry) forget(path, old);
      }
      if (memoryBytes + bytes.length <= totalLimit) {
        entry.bytes = bytes;
        memoryBytes += bytes.length;
      }
    }
    return bytes;
  };

  return async (request: HttpRequest): Promise<HttpResponse> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return METHOD_NOT_ALLOWED;
    let path = safePath(request.path);
    if (path === undefined) return BAD_PATH;
    let info = await statOf(path);
    if (info?.isDirectory === true) {
      if (!request.path.endsWith('/')) {
        // A directory is served at its URL with a slash, so relative links resolve.
        return { status: 301, headers: { Location: request.path + '/' + (request.query === '' ? '' : '?' + request.query), 'Content-Length': '0' } };
      }
      path = path === '' ? index : `${path.replace(/\/$/, '')}/${index}`;
      info = await statOf(path);
    }
    if (info === undefined || info.isDirectory) return NOT_FOUND;
    const conditions = conditionsOf(request.headers);
    // Pick a precompressed variant the client accepts (RFC 9110 §12.5.3).
    let variantPath = path;
    let encoding = '';
    if (precompressed && conditions.acceptEncoding !== undefined) {
      const codings = acceptedCodings(conditions.acceptEncoding);
      for (const [bit, name, suffix] of VARIANTS) {
        if ((codings & bit) === 0) continue;
        const variant = await statOf(path + suffix);
        if (variant !== undefined && !variant.isDirectory) {
          variantPath = path + suffix;
          encoding = name;
          info = variant;
          break;
        }
      }
    }
    const entry = entryFor(variantPath, path, info, encoding);
    // Conditional requests (RFC 9110 §13.2.2): If-None-Match wins over If-Modified-Since.
    if (conditions.ifNoneMatch !== undefined) {
      if (noneMatch(conditions.ifNoneMatch, entry.etag)) return { status: 304, headers: entry.validators };
    } else if (conditions.ifModifiedSince !== undefined) {
      const since = parseHttpDate(conditions.ifModifiedSince);
      if (since !== undefined && entry.modifiedSecond <= since) return { status: 304, headers: entry.validators };
    }
    if (conditions.range !== undefined) {
      const ifRange = conditions.ifRange;
      // RFC 9110 §13.1.5: a range applies only to the representation the client already has.
      if (ifRange === undefined || ifRange.trim() === entry.etag || parseHttpDate(ifRange) === entry.modifiedSecond) {
        const range = parseRange(conditions.range, entry.size);
        if (range === 'unsatisfiable') {
          const headers = new Headers(entry.validators);
          headers.append('Content-Range', `bytes */${entry.size}`);
          return { status: 416, headers, body: '' };
        }
        if (range !== undefined) {
          const headers = new Headers(entry.validators);
          headers.append('Content-Range', `bytes ${range.start}-${range.end - 1}/${entry.size}`);
          headers.append('Content-Length', String(range.end - range.start));
          if (request.method === 'HEAD') return { status: 206, headers };
          const body = entry.size <= fileLimit ? (await bytesOf(variantPath, entry)).subarray(range.start, range.end) : await source.read(variantPath, range.start, range.end);
          return { status: 206, headers, body };
        }
      }
    }
    if (request.method === 'HEAD') return { status: 200, headers: entry.full };
    if (entry.size <= fileLimit) return { status: 200, headers: entry.full, body: entry.bytes ?? (await bytesOf(variantPath, entry)) };
    return { status: 200, headers: entry.full, body: streamFile(source, variantPath, entry.size) };
  };
}

const VARIANTS = [
  [BROTLI, 'br', '.br'],
  [GZIP, 'gzip', '.gz'],
] as const;

/** Reads a large file in pieces so it is never wholly in memory. */
async function* streamFile(source: FileSource, path: string, size: number): AsyncGenerator<Uint8Array> {
  const piece = 256 * 1024;
  for (let offset = 0; offset < size; offset += piece) yield await source.read(path, offset, Math.min(size, offset + piece));
}

/** A {@link FileSource} over files held in memory (a bundled site). */
export function createMemorySource(files: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>, mtimeMs: number): FileSource {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  const directory: FileInfo = { size: 0, mtimeMs, isDirectory: true };
  const directories = new Set<string>(['']);
  for (const path of map.keys()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) directories.add(parts.slice(0, i).join('/'));
  }
  return {
    // Not async functions: a resolved promise is all a lookup in memory needs.
    stat(path) {
      const clean = path.endsWith('/') ? path.slice(0, -1) : path;
      const file = map.get(clean);
      if (file !== undefined) return Promise.resolve({ size: file.length, mtimeMs, isDirectory: false });
      return Promise.resolve(directories.has(clean) ? directory : undefined);
    },
    read(path, start, end) {
      const file = map.get(path);
      if (file === undefined) return Promise.reject(new Error(`no such file: ${path}`));
      return Promise.resolve(file.subarray(start, end));
    },
  };
}
