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

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Throws unless `name: value` is a field we may send (no CR/LF injection, RFC 9110 §5.5). */
export function checkField(name: string, value: string): void {
  if (!TOKEN_RE.test(name)) throw new HttpError(500, `invalid header field name ${JSON.stringify(name)}`);
  if (!VALUE_RE.test(value)) throw new HttpError(500, `invalid characters in the value of ${name}`);
}

function fields(headers: Headers): string {
  let text = '';
  for (const [name, value] of headers) {
    checkField(name, value);
    text += `${name}: ${value}\r\n`;
  }
  return text;
}

function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** `HTTP/1.1 status reason` and the fields, ending with the empty line. */
export function serializeResponseHead(status: number, headers: Headers, reason = STATUS_TEXT[status] ?? ''): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new HttpError(500, `invalid status ${status}`);
  if (/[\r\n]/.test(reason)) throw new HttpError(500, 'invalid reason phrase');
  return latin1Bytes(`HTTP/1.1 ${status} ${reason}\r\n${fields(headers)}\r\n`);
}

/** `METHOD target HTTP/1.1` and the fields, ending with the empty line. */
export function serializeRequestHead(method: string, target: string, headers: Headers): Uint8Array {
  if (!TOKEN_RE.test(method)) throw new HttpError(500, `invalid method ${JSON.stringify(method)}`);
  if (!/^[\x21-\x7e]+$/.test(target)) throw new HttpError(500, `invalid request target ${JSON.stringify(target)}`);
  return latin1Bytes(`${method} ${target} HTTP/1.1\r\n${fields(headers)}\r\n`);
}

/** One chunk of a chunked body: size in hex, CRLF, data, CRLF. */
export function serializeChunk(data: Uint8Array): Uint8Array {
  const size = latin1Bytes(data.length.toString(16) + '\r\n');
  const out = new Uint8Array(size.length + data.length + 2);
  out.set(size);
  out.set(data, size.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** The last chunk, with optional trailer fields. */
export function serializeLastChunk(trailers?: Headers): Uint8Array {
  return latin1Bytes(`0\r\n${trailers === undefined ? '' : fields(trailers)}\r\n`);
}
