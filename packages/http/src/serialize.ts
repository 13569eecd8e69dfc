/** Writing message heads and chunked bodies (RFC 9112 §3, §4, §7.1). */
import { HttpError } from './parser.js';
import type { Headers } from './headers.js';

/** Reason phrases for the status codes a server commonly sends (RFC 9110 §15). */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
  206: 'Partial Content', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable', 408: 'Request Timeout', 411: 'Length Required',
  412: 'Precondition Failed', 413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable', 417: 'Expectation Failed', 426: 'Upgrade Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

/** tchar of RFC 9110 §5.6.2. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
/** What a field value we send may hold: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5); never CR or LF. */
const VALUE = new Uint8Array(256);
VALUE[0x09] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;

function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || TOKEN[c] === 0) return false;
  }
  return true;
}

function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || VALUE[c] === 0) return false;
  }
  return true;
}

/** Throws unless `name: value` is a field we may send (no CR/LF injection, RFC 9110 §5.5). */
export function checkField(name: string, value: string): void {
  if (!isToken(name)) throw new HttpError(500, `invalid header field name ${JSON.stringify(name)}`);
  if (!isFieldValue(value)) throw new HttpError(500, `invalid characters in the value of ${name}`);
}

/** `name: value` CRLF for every field, each checked. */
export function fieldLines(headers: Headers): string {
  let text = '';
  for (let i = 0; i < headers.size; i++) {
    const name = headers.nameAt(i);
    const value = headers.valueAt(i);
    checkField(name, value);
    text += name + ': ' + value + '\r\n';
  }
  return text;
}

/**
 * Writes `text` one octet per character into `out` at `offset` and returns the offset after it.
 * The text was checked to hold only characters up to 0xff.
 */
export function writeLatin1(text: string, out: Uint8Array, offset: number): number {
  for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i);
  return offset + text.length;
}

/** `text` as octets, one per character (the text holds only characters up to 0xff). */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  writeLatin1(text, out, 0);
  return out;
}

/** The status line, checked (RFC 9112 §4). */
export function statusLine(status: number, reason: string): string {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new HttpError(500, `invalid status ${status}`);
  if (!isFieldValue(reason)) throw new HttpError(500, 'invalid reason phrase');
  return 'HTTP/1.1 ' + status + ' ' + reason + '\r\n';
}

/** `HTTP/1.1 status reason` and the fields, ending with the empty line. */
export function serializeResponseHead(status: number, headers: Headers, reason = STATUS_TEXT[status] ?? ''): Uint8Array {
  return latin1Bytes(statusLine(status, reason) + fieldLines(headers) + '\r\n');
}

/** `METHOD target HTTP/1.1` and the fields, ending with the empty line. */
export function serializeRequestHead(method: string, target: string, headers: Headers): Uint8Array {
  if (!isToken(method)) throw new HttpError(500, `invalid method ${JSON.stringify(method)}`);
  if (!/^[\x21-\x7e]+$/.test(target)) throw new HttpError(500, `invalid request target ${JSON.stringify(target)}`);
  return latin1Bytes(method + ' ' + target + ' HTTP/1.1\r\n' + fieldLines(headers) + '\r\n');
}

/** One chunk of a chunked body: size in hex, CRLF, data, CRLF. */
export function serializeChunk(data: Uint8Array): Uint8Array {
  const size = data.length.toString(16) + '\r\n';
  const out = new Uint8Array(size.length + data.length + 2);
  writeLatin1(size, out, 0);
  out.set(data, size.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** The last chunk, with optional trailer fields. */
export function serializeLastChunk(trailers?: Headers): Uint8Array {
  return latin1Bytes('0\r\n' + (trailers === undefined ? '' : fieldLines(trailers)) + '\r\n');
}
