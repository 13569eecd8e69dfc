/**
 * A self-signed X.509 v3 certificate made in process (RFC 5280), so `morgana xmpp` offers
 * STARTTLS without openssl: a P-256 key from node:crypto, a small DER encoder (X.690) for the
 * TBSCertificate, and crypto.sign for the ECDSA-with-SHA-256 signature.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/** A PEM key and certificate pair, ready for `tls.createSecureContext`. */
export interface GeneratedCertificate {
  readonly key: string;
  readonly cert: string;
  /** The certificate's DER bytes (for fingerprints and tests). */
  readonly der: Uint8Array;
}

/** Options of {@link generateSelfSignedCertificate}. */
export interface SelfSignedOptions {
  /** Days the certificate is valid from `now`; default 365. */
  readonly days?: number;
  /** Start of validity; default now. */
  readonly now?: Date;
}

/** Default validity of a generated certificate, in days. */
export const SELF_SIGNED_DAYS = 365;

// DER tags (X.690 §8): universal primitive and constructed, and context-specific.
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_UTF8_STRING = 0x0c;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
const TAG_BOOLEAN = 0x01;

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** id-on-xmppAddr (RFC 6120 §13.7.1.4): the domain as an XMPP address in an otherName. */
const OID_XMPP_ADDR = '1.3.6.1.5.5.7.8.5';

/** One DER TLV: definite length, short form below 128 bytes (X.690 §8.1.3). */
function tlv(tag: number, content: Uint8Array): Uint8Array {
  const length = content.length;
  const lengthBytes: number[] = [];
  if (length < 0x80) lengthBytes.push(length);
  else {
    for (let n = length; n > 0; n = Math.floor(n / 256)) lengthBytes.unshift(n & 0xff);
    lengthBytes.unshift(0x80 | lengthBytes.length);
  }
  const out = new Uint8Array(1 + lengthBytes.length + length);
  out[0] = tag;
  out.set(lengthBytes, 1);
  out.set(content, 1 + lengthBytes.length);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const sequence = (...items: Uint8Array[]): Uint8Array => tlv(TAG_SEQUENCE, concat(items));
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A non-negative INTEGER from big-endian magnitude bytes: minimal, with a 0 pad when the top bit is set (X.690 §8.3). */
function integer(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.subarray(start);
  return tlv(TAG_INTEGER, bytes[0] >= 0x80 ? concat([new Uint8Array([0]), bytes]) : bytes);
}

/** An OBJECT IDENTIFIER: the first two arcs as 40a+b, each arc in base 128 (X.690 §8.19). */
export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map(Number);
  const values = [arcs[0] * 40 + arcs[1], ...arcs.slice(2)];
  const out: number[] = [];
  for (const value of values) {
    const digits = [value & 0x7f];
    for (let n = Math.floor(value / 128); n > 0; n = Math.floor(n / 128)) digits.unshift(0x80 | (n & 0x7f));
    out.push(...digits);
  }
  return tlv(TAG_OID, new Uint8Array(out));
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), in UTC with seconds. */
function time(date: Date): Uint8Array {
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const rest = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  const year = date.getUTCFullYear();
  if (year < 2050) return tlv(TAG_UTC_TIME, utf8(`${pad(year % 100)}${rest}`));
  return tlv(TAG_GENERALIZED_TIME, utf8(`${pad(year, 4)}${rest}`));
}

/** Name with one CN attribute (RFC 5280 §4.1.2.4). */
const commonName = (cn: string): Uint8Array => sequence(tlv(TAG_SET, sequence(encodeOid(OID_COMMON_NAME), tlv(TAG_UTF8_STRING, utf8(cn)))));

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return sequence(encodeOid(oid), ...(critical ? [tlv(TAG_BOOLEAN, new Uint8Array([0xff]))] : []), tlv(TAG_OCTET_STRING, value));
}

/**
 * The certificate's TBSCertificate for `domain` (RFC 5280 §4.1): v3, a random positive serial,
 * subject = issuer = CN=domain, and the extensions a TLS server certificate for XMPP wants.
 */
function tbsCertificate(domain: string, spki: Uint8Array, notBefore: Date, notAfter: Date): Uint8Array {
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const algorithm = sequence(encodeOid(OID_ECDSA_WITH_SHA256));
  // subjectAltName: the domain as dNSName [2] (the DNS-ID of RFC 6125) and as an XmppAddr
  // otherName [0] (RFC 6120 §13.7.1.4), so either kind of client check matches.
  const xmppAddr = tlv(0xa0, concat([encodeOid(OID_XMPP_ADDR), tlv(0xa0, tlv(TAG_UTF8_STRING, utf8(domain)))]));
  const altNames = sequence(tlv(0x82, utf8(domain)), xmppAddr);
  // keyUsage digitalSignature (bit 0): a BIT STRING with 7 unused bits and 0x80.
  const keyUsage = tlv(TAG_BIT_STRING, new Uint8Array([7, 0x80]));
  const extensions = sequence(
    extension(OID_SUBJECT_ALT_NAME, false, altNames),
    extension(OID_BASIC_CONSTRAINTS, true, sequence()),
    extension(OID_KEY_USAGE, true, keyUsage),
    extension(OID_EXT_KEY_USAGE, false, sequence(encodeOid(OID_SERVER_AUTH), encodeOid(OID_CLIENT_AUTH))),
  );
  return sequence(
    tlv(0xa0, integer(new Uint8Array([2]))),
    integer(serial),
    algorithm,
    commonName(domain),
    sequence(time(notBefore), time(notAfter)),
    commonName(domain),
    spki,
    tlv(0xa3, extensions),
  );
}

function pem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Generates a P-256 key and a self-signed certificate whose subjectAltName is `domain`. */
export function generateSelfSignedCertificate(domain: string, options: SelfSignedOptions = {}): GeneratedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  // Backdated a minute so a client whose clock is slightly behind still accepts it.
  const notBefore = new Date((options.now ?? new Date()).getTime() - 60_000);
  notBefore.setUTCMilliseconds(0);
  const notAfter = new Date(notBefore.getTime() + (options.days ?? SELF_SIGNED_DAYS) * 86_400_000);
  const tbs = tbsCertificate(domain, spki, notBefore, notAfter);
  const signature = new Uint8Array(sign('sha256', tbs, privateKey));
  const der = sequence(tbs, sequence(encodeOid(OID_ECDSA_WITH_SHA256)), tlv(TAG_BIT_STRING, concat([new Uint8Array([0]), signature])));
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: pem('CERTIFICATE', der), der };
}
