/**
 * Turning the octets of a message head into strings, cheaply: parsing a browser's request is
 * mostly this. Header names and methods clients send are recognised from their bytes and get
 * a shared string; other text is built per character when short and decoded natively when long.
 */

/** A header name recognised from its bytes. */
export interface KnownName {
  /** The spelling recognised (case-sensitive: the name "as received"). */
  readonly name: string;
  readonly lower: string;
  /** Small number identifying the lower-case name, for per-connection value caches. */
  readonly id: number;
  readonly bytes: Uint8Array;
}

/** Names in the spellings clients send them (canonical case; lower case as HTTP/2-minded clients do). */
const NAMES = [
  'Host', 'User-Agent', 'Accept', 'Accept-Encoding', 'Accept-Language', 'Accept-Charset', 'Connection', 'Keep-Alive',
  'Content-Length', 'Content-Type', 'Content-Encoding', 'Transfer-Encoding', 'TE', 'Trailer', 'Upgrade', 'Expect',
  'Cache-Control', 'Pragma', 'Cookie', 'Authorization', 'Referer', 'Origin', 'Range', 'If-Range', 'If-None-Match',
  'If-Match', 'If-Modified-Since', 'If-Unmodified-Since', 'DNT', 'Priority', 'Upgrade-Insecure-Requests',
  'Sec-Fetch-Site', 'Sec-Fetch-Mode', 'Sec-Fetch-User', 'Sec-Fetch-Dest', 'Sec-CH-UA', 'Sec-CH-UA-Mobile',
  'Sec-CH-UA-Platform', 'Sec-Purpose', 'Purpose', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host',
  'X-Requested-With', 'Forwarded', 'Via', 'Date', 'Server', 'ETag', 'Last-Modified', 'Location', 'Vary',
  'Accept-Ranges', 'Content-Range', 'Set-Cookie', 'Age', 'Expires', 'Allow', 'Retry-After', 'Alt-Svc',
  'Strict-Transport-Security', 'WWW-Authenticate', 'Content-Disposition', 'Content-Language', 'Content-Location',
];

/** Hash buckets over (length, first octet, last octet), so a lookup compares a few candidates at most. */
const BUCKETS = 512;
const table: KnownName[][] = Array.from({ length: BUCKETS }, () => []);

function bucketOf(length: number, first: number, last: number): number {
  return (length * 31 + (first | 0x20) * 7 + (last | 0x20)) & (BUCKETS - 1);
}

/** Number of distinct lower-case known names (ids are below it). */
export const KNOWN_NAME_COUNT: number = (() => {
  const ids = new Map<string, number>();
  for (const canonical of NAMES) {
    const lower = canonical.toLowerCase();
    if (!ids.has(lower)) ids.set(lower, ids.size);
    for (const name of new Set([canonical, lower])) {
      const bytes = new Uint8Array(name.length);
      for (let i = 0; i < name.length; i++) bytes[i] = name.charCodeAt(i);
      table[bucketOf(name.length, bytes[0], bytes[name.length - 1])].push({ name, lower, id: ids.get(lower) as number, bytes });
    }
  }
  return ids.size;
})();

/** The known name spelled by `input[start, end)` exactly, or undefined. */
export function knownName(input: Uint8Array, start: number, end: number): KnownName | undefined {
  const length = end - start;
  if (length === 0) return undefined;
  const candidates = table[bucketOf(length, input[start], input[end - 1])];
  for (let c = 0; c < candidates.length; c++) {
    const known = candidates[c];
    const bytes = known.bytes;
    if (bytes.length !== length) continue;
    let i = 0;
    while (i < length && bytes[i] === input[start + i]) i++;
    if (i === length) return known;
  }
  return undefined;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];

/** The method spelled by `input[start, end)`: a shared string for the standard ones. */
export function methodText(input: Uint8Array, start: number, end: number): string {
  const length = end - start;
  for (let m = 0; m < METHODS.length; m++) {
    const method = METHODS[m];
    if (method.length !== length) continue;
    let i = 0;
    while (i < length && method.charCodeAt(i) === input[start + i]) i++;
    if (i === length) return method;
  }
  return latin1(input, start, end);
}

/** Below this many octets a loop builds a string faster than a native decoder call. */
const SHORT_TEXT = 16;
const utf8 = new TextDecoder();

/** `input[start, end)` as a string, one character per octet (ISO-8859-1, as RFC 9110 §5.5 reads obs-text). */
export function latin1(input: Uint8Array, start: number, end: number): string {
  if (end - start >= SHORT_TEXT) {
    let high = 0;
    for (let i = start; i < end; i++) high |= input[i];
    // For ASCII, UTF-8 and ISO-8859-1 agree, and the native decoder is much faster on long text.
    if (high < 0x80) return utf8.decode(input.subarray(start, end));
  }
  let text = '';
  for (let i = start; i < end; i++) text += String.fromCharCode(input[i]);
  return text;
}

/** The last string made from some octets, to reuse while the same octets come again. */
export class TextSlot {
  private bytes: Uint8Array = new Uint8Array(0);
  private text = '';

  /** `input[start, end)` as text, reusing the previous string when the octets are the same. */
  get(input: Uint8Array, start: number, end: number): string {
    const length = end - start;
    const bytes = this.bytes;
    if (bytes.length === length) {
      let i = 0;
      while (i < length && bytes[i] === input[start + i]) i++;
      if (i === length) return this.text;
    }
    this.text = latin1(input, start, end);
    this.bytes = input.slice(start, end);
    return this.text;
  }
}
