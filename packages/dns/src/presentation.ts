/**
 * Presentation (text) form of records, as in zone files (RFC 1035 §5.1) and `dig` output:
 * RDATA parsing from tokens and formatting back, for every type the codec knows, plus the
 * generic `\# length hex` form of RFC 3597 §5 for any type.
 */
import { DecodeError, formatIpv4, type Ipv4Address, parseIpv4 } from '@morgana/core';
import { type DnsName, formatName, parseName } from './name.js';
import { rdataFromWire, rdataToWire } from './wire.js';
import {
  decodeBase32Hex,
  decodeBase64,
  decodeHex,
  encodeBase32Hex,
  encodeBase64,
  encodeHex,
  formatIpv6,
  formatRrsigTime,
  parseIpv6,
  parseRrsigTime,
} from './text.js';
import { type Rdata, type ResourceRecord, RrType, type SvcParam, typeFromName, typeName } from './types.js';

/** One token of a zone file line: raw text (escapes not yet applied) and whether it was quoted. */
export interface Token {
  readonly text: string;
  readonly quoted: boolean;
  readonly line: number;
  readonly column: number;
}

function fail(token: Token | undefined, message: string): never {
  const error = new DecodeError('zone-syntax', message);
  (error as { token?: Token }).token = token;
  throw error;
}

/** Applies `\X` and `\DDD` escapes, giving a byte string (RFC 1035 §5.1). */
export function unescapeText(token: Token): Uint8Array {
  const out: number[] = [];
  const text = token.text;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x5c) {
      const digits = text.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(digits)) {
        if (Number(digits) > 255) fail(token, `escape \\${digits} is over 255`);
        out.push(Number(digits));
        i += 3;
      } else if (i + 1 < text.length) {
        out.push(text.charCodeAt(i + 1));
        i += 1;
      } else fail(token, 'dangling backslash');
    } else if (code > 0xff) {
      const utf8 = new TextEncoder().encode(text[i]);
      out.push(...utf8);
    } else out.push(code);
  }
  return Uint8Array.from(out);
}

/** Character-string presentation: quoted, with `"` and `\` escaped and non-printables as `\DDD`. */
export function formatCharacterString(bytes: Uint8Array): string {
  let text = '"';
  for (const byte of bytes) {
    if (byte === 0x22 || byte === 0x5c) text += '\\' + String.fromCharCode(byte);
    else if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
    else text += '\\' + byte.toString().padStart(3, '0');
  }
  return text + '"';
}

class Tokens {
  index = 0;
  constructor(
    readonly list: readonly Token[],
    readonly origin: DnsName,
    readonly anchor: Token | undefined,
  ) {}
  next(what: string): Token {
    const token = this.list[this.index++];
    if (token === undefined) fail(this.list[this.list.length - 1] ?? this.anchor, `missing ${what}`);
    return token;
  }
  more(): boolean {
    return this.index < this.list.length;
  }
  rest(): Token[] {
    const rest = this.list.slice(this.index);
    this.index = this.list.length;
    return rest;
  }
  int(what: string, max: number): number {
    const token = this.next(what);
    if (!/^[0-9]+$/.test(token.text) || Number(token.text) > max) fail(token, `${what} must be an integer from 0 to ${max}, not ${JSON.stringify(token.text)}`);
    return Number(token.text);
  }
  name(what: string): DnsName {
    const token = this.next(what);
    try {
      return parseName(token.text, this.origin);
    } catch (error) {
      return fail(token, `${what}: ${(error as Error).message}`);
    }
  }
  string(what: string): Uint8Array {
    const bytes = unescapeText(this.next(what));
    if (bytes.length > 255) fail(this.list[this.index - 1], `${what} is longer than 255 octets`);
    return bytes;
  }
  joined(what: string, decode: (text: string) => Uint8Array): Uint8Array {
    const tokens = this.rest();
    if (tokens.length === 0) fail(this.anchor, `missing ${what}`);
    try {
      return decode(tokens.map((t) => t.text).join(''));
    } catch (error) {
      return fail(tokens[0], `${what}: ${(error as Error).message}`);
    }
  }
  end(): void {
    if (this.more()) fail(this.list[this.index], `unexpected ${JSON.stringify(this.list[this.index].text)} after the record data`);
  }
}

function typeList(tokens: Tokens): number[] {
  return tokens.rest().map((token) => typeFromName(token.text) ?? fail(token, `unknown type ${JSON.stringify(token.text)}`));
}

const SVC_KEYS = ['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint'];

function svcKey(text: string, token: Token): number {
  const known = SVC_KEYS.indexOf(text);
  if (known >= 0) return known;
  const match = /^key([0-9]{1,5})$/.exec(text);
  if (match !== null && Number(match[1]) <= 0xffff) return Number(match[1]);
  return fail(token, `unknown SvcParamKey ${JSON.stringify(text)}`);
}

function svcParam(token: Token): SvcParam {
  const equals = token.text.indexOf('=');
  const keyText = equals < 0 ? token.text : token.text.slice(0, equals);
  const key = svcKey(keyText, token);
  let valueText = equals < 0 ? '' : token.text.slice(equals + 1);
  if (valueText.startsWith('"') && valueText.endsWith('"') && valueText.length >= 2) valueText = valueText.slice(1, -1);
  const list = valueText.split(/(?<!\\),/);
  const bytes: number[] = [];
  // The keyNNNNN spelling always carries the value as opaque bytes (RFC 9460 §2.1).
  const generic = /^key[0-9]+$/.test(keyText);
  try {
    switch (generic ? -1 : key) {
      case 0:
        for (const name of list) {
          const k = svcKey(name, token);
          bytes.push(k >>> 8, k & 255);
        }
        break;
      case 1:
        for (const id of list) {
          const raw = unescapeText({ ...token, text: id.replace(/\\,/g, ',') });
          bytes.push(raw.length, ...raw);
        }
        break;
      case 2:
        if (valueText !== '') fail(token, 'no-default-alpn takes no value');
        break;
      case 3: {
        if (!/^[0-9]{1,5}$/.test(valueText) || Number(valueText) > 0xffff) fail(token, 'port must be 0-65535');
        bytes.push(Number(valueText) >>> 8, Number(valueText) & 255);
        break;
      }
      case 4:
        for (const address of list) {
          const a = parseIpv4(address);
          bytes.push(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255);
        }
        break;
      case 5:
        bytes.push(...decodeBase64(valueText));
        break;
      case 6:
        for (const address of list) bytes.push(...parseIpv6(address));
        break;
      default:
        bytes.push(...unescapeText({ ...token, text: valueText }));
    }
  } catch (error) {
    if (error instanceof DecodeError && error.reason === 'zone-syntax') throw error;
    fail(token, `bad value for ${keyText}: ${(error as Error).message}`);
  }
  return { key, value: Uint8Array.from(bytes) };
}

function formatSvcParam(param: SvcParam): string {
  const name = param.key < SVC_KEYS.length ? SVC_KEYS[param.key] : `key${param.key}`;
  const v = param.value;
  const words = (size: number, format: (bytes: Uint8Array) => string): string | undefined => {
    if (v.length === 0 || v.length % size !== 0) return undefined;
    const items: string[] = [];
    for (let i = 0; i < v.length; i += size) items.push(format(v.subarray(i, i + size)));
    return items.join(',');
  };
  let text: string | undefined;
  switch (param.key) {
    case 0:
      text = words(2, (b) => {
        const k = (b[0] << 8) | b[1];
        return k < SVC_KEYS.length ? SVC_KEYS[k] : `key${k}`;
      });
      break;
    case 1: {
      const ids: string[] = [];
      let ok = v.length > 0;
      for (let i = 0; i < v.length && ok; ) {
        const length = v[i];
        const id = v.subarray(i + 1, i + 1 + length);
        // Plain printable ids only; anything needing two levels of escaping uses the generic form.
        if (length === 0 || i + 1 + length > v.length || id.some((b) => b <= 0x20 || b >= 0x7f || b === 0x2c || b === 0x5c || b === 0x22)) ok = false;
        else ids.push(String.fromCharCode(...id));
        i += 1 + length;
      }
      text = ok ? `"${ids.join(',')}"` : undefined;
      break;
    }
    case 2:
      if (v.length === 0) return name;
      break;
    case 3:
      if (v.length === 2) text = String((v[0] << 8) | v[1]);
      break;
    case 4:
      text = words(4, (b) => formatIpv4((((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) as Ipv4Address));
      break;
    case 5:
      text = encodeBase64(v);
      break;
    case 6:
      text = words(16, formatIpv6);
      break;
  }
  // Anything that has no faithful typed form is written as an opaque keyNNNNN value.
  if (text === undefined) return `key${param.key}=${formatCharacterString(v)}`;
  return `${name}=${text}`;
}

/** Parses RDATA tokens of `type` (names relative to `origin`). Throws {@link DecodeError} naming the token. */
export function parseRdata(type: number, list: readonly Token[], origin: DnsName, anchor?: Token): Rdata {
  const t = new Tokens(list, origin, anchor);
  if (list.length > 0 && list[0].text === '\\#' && !list[0].quoted) {
    t.next('\\#');
    const length = t.int('RDATA length', 0xffff);
    const data = length === 0 ? new Uint8Array(0) : t.joined('RDATA hex', decodeHex);
    if (data.length !== length) fail(list[0], `generic RDATA says ${length} octets but has ${data.length}`);
    // RFC 3597 §5: the generic form of a known type means that type's RDATA.
    if (type === RrType.OPT) fail(list[0], 'OPT cannot appear in a zone');
    const known = rdataFromWire(type, data);
    return known.type === 'unknown' ? { type: 'unknown', data } : known;
  }
  let data: Rdata;
  switch (type) {
    case RrType.A: {
      const token = t.next('address');
      try {
        data = { type: 'A', address: parseIpv4(token.text) };
      } catch {
        fail(token, `not an IPv4 address: ${JSON.stringify(token.text)}`);
      }
      break;
    }
    case RrType.AAAA: {
      const token = t.next('address');
      try {
        data = { type: 'AAAA', address: parseIpv6(token.text) };
      } catch {
        fail(token, `not an IPv6 address: ${JSON.stringify(token.text)}`);
      }
      break;
    }
    case RrType.NS:
      data = { type: 'NS', target: t.name('name server') };
      break;
    case RrType.CNAME:
      data = { type: 'CNAME', target: t.name('canonical name') };
      break;
    case RrType.PTR:
      data = { type: 'PTR', target: t.name('pointer target') };
      break;
    case RrType.SOA:
      data = {
        type: 'SOA',
        mname: t.name('primary name server'),
        rname: t.name('responsible mailbox'),
        serial: t.int('serial', 0xffff_ffff),
        refresh: parseTtl(t.next('refresh')),
        retry: parseTtl(t.next('retry')),
        expire: parseTtl(t.next('expire')),
        minimum: parseTtl(t.next('minimum')),
      };
      break;
    case RrType.MX:
      data = { type: 'MX', preference: t.int('preference', 0xffff), exchange: t.name('exchange') };
      break;
    case RrType.TXT: {
      const strings: Uint8Array[] = [];
      while (t.more()) strings.push(t.string('text'));
      if (strings.length === 0) fail(anchor, 'TXT needs at least one string');
      data = { type: 'TXT', strings };
      break;
    }
    case RrType.SRV:
      data = { type: 'SRV', priority: t.int('priority', 0xffff), weight: t.int('weight', 0xffff), port: t.int('port', 0xffff), target: t.name('target') };
      break;
    case RrType.NAPTR:
      data = {
        type: 'NAPTR',
        order: t.int('order', 0xffff),
        preference: t.int('preference', 0xffff),
        flags: t.string('flags'),
        services: t.string('services'),
        regexp: t.string('regexp'),
        replacement: t.name('replacement'),
      };
      break;
    case RrType.CAA: {
      const flags = t.int('flags', 255);
      const tag = t.string('tag');
      if (tag.length === 0 || !/^[0-9A-Za-z]+$/.test(String.fromCharCode(...tag))) fail(list[1], 'CAA tag must be letters and digits (RFC 8659 §4.1)');
      data = { type: 'CAA', flags, tag, value: unescapeText(t.next('value')) };
      break;
    }
    case RrType.SSHFP:
      data = { type: 'SSHFP', algorithm: t.int('algorithm', 255), fingerprintType: t.int('fingerprint type', 255), fingerprint: t.joined('fingerprint', decodeHex) };
      break;
    case RrType.TLSA:
      data = { type: 'TLSA', usage: t.int('usage', 255), selector: t.int('selector', 255), matchingType: t.int('matching type', 255), data: t.joined('certificate data', decodeHex) };
      break;
    case RrType.SVCB:
    case RrType.HTTPS: {
      const priority = t.int('priority', 0xffff);
      const target = t.name('target');
      // `key="value"` arrives as two tokens, `key=` and the quoted value: join them.
      const raw = t.rest();
      const joined: Token[] = [];
      for (let i = 0; i < raw.length; i++) {
        const token = raw[i];
        const next = raw[i + 1];
        if (token.text.endsWith('=') && !token.quoted && next !== undefined && next.quoted) {
          joined.push({ ...token, text: token.text + next.text });
          i++;
        } else joined.push(token);
      }
      const params = joined.map(svcParam).sort((a, b) => a.key - b.key);
      for (let i = 1; i < params.length; i++) if (params[i].key === params[i - 1].key) fail(anchor, 'repeated SvcParamKey');
      data = { type: type === RrType.SVCB ? 'SVCB' : 'HTTPS', priority, target, params };
      break;
    }
    case RrType.DS:
      data = { type: 'DS', keyTag: t.int('key tag', 0xffff), algorithm: t.int('algorithm', 255), digestType: t.int('digest type', 255), digest: t.joined('digest', decodeHex) };
      break;
    case RrType.DNSKEY:
      data = { type: 'DNSKEY', flags: t.int('flags', 0xffff), protocol: t.int('protocol', 255), algorithm: t.int('algorithm', 255), publicKey: t.joined('public key', decodeBase64) };
      break;
    case RrType.RRSIG: {
      const covered = t.next('type covered');
      const typeCovered = typeFromName(covered.text) ?? fail(covered, `unknown type ${JSON.stringify(covered.text)}`);
      const algorithm = t.int('algorithm', 255);
      const labels = t.int('labels', 255);
      const originalTtl = t.int('original TTL', 0xffff_ffff);
      const times = [t.next('expiration'), t.next('inception')].map((token) => {
        try {
          return parseRrsigTime(token.text);
        } catch (error) {
          return fail(token, (error as Error).message);
        }
      });
      const keyTag = t.int('key tag', 0xffff);
      const signerName = t.name('signer name');
      data = { type: 'RRSIG', typeCovered, algorithm, labels, originalTtl, expiration: times[0], inception: times[1], keyTag, signerName, signature: t.joined('signature', decodeBase64) };
      break;
    }
    case RrType.NSEC:
      data = { type: 'NSEC', next: t.name('next name'), types: typeList(t) };
      break;
    case RrType.NSEC3: {
      const hashAlgorithm = t.int('hash algorithm', 255);
      const flags = t.int('flags', 255);
      const iterations = t.int('iterations', 0xffff);
      const saltToken = t.next('salt');
      const salt = saltToken.text === '-' ? new Uint8Array(0) : decodeHexToken(saltToken);
      const nextToken = t.next('next hashed owner');
      let nextHashed: Uint8Array;
      try {
        nextHashed = decodeBase32Hex(nextToken.text);
      } catch {
        fail(nextToken, 'next hashed owner is not base32hex');
      }
      data = { type: 'NSEC3', hashAlgorithm, flags, iterations, salt, nextHashed, types: typeList(t) };
      break;
    }
    default:
      fail(anchor, `type ${typeName(type)} has no presentation format here: use the generic \\# form (RFC 3597)`);
  }
  t.end();
  return data;
}

function decodeHexToken(token: Token): Uint8Array {
  try {
    return decodeHex(token.text);
  } catch {
    return fail(token, `not hex: ${JSON.stringify(token.text)}`);
  }
}

/** A TTL: seconds, or BIND-style units (`1h30m`, `2d`, `1w`). */
export function parseTtl(token: Token): number {
  const text = token.text.toLowerCase();
  if (/^[0-9]+$/.test(text)) {
    if (Number(text) > 0xffff_ffff) fail(token, 'TTL over 2^32-1');
    return Number(text);
  }
  if (!/^([0-9]+[smhdw])+$/.test(text)) fail(token, `not a TTL: ${JSON.stringify(token.text)}`);
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const match of text.matchAll(/([0-9]+)([smhdw])/g)) total += Number(match[1]) * unit[match[2]];
  if (total > 0xffff_ffff) fail(token, 'TTL over 2^32-1');
  return total;
}

function formatTypeList(types: readonly number[]): string {
  return types.map(typeName).join(' ');
}

/** Typed forms that cannot show an empty trailing field: those records use the generic form. */
function needsGenericForm(data: Rdata): boolean {
  switch (data.type) {
    case 'SSHFP':
      return data.fingerprint.length === 0;
    case 'TLSA':
      return data.data.length === 0;
    case 'DS':
      return data.digest.length === 0;
    case 'DNSKEY':
      return data.publicKey.length === 0;
    case 'RRSIG':
      return data.signature.length === 0;
    case 'NSEC3':
      return data.nextHashed.length === 0;
    default:
      return false;
  }
}

/** RDATA in presentation form. */
export function formatRdata(data: Rdata): string {
  if (needsGenericForm(data)) {
    const wire = rdataToWire(data);
    return `\\# ${wire.length}${wire.length > 0 ? ' ' + encodeHex(wire) : ''}`;
  }
  switch (data.type) {
    case 'A':
      return formatIpv4(data.address);
    case 'AAAA':
      return formatIpv6(data.address);
    case 'NS':
    case 'CNAME':
    case 'PTR':
      return formatName(data.target);
    case 'SOA':
      return `${formatName(data.mname)} ${formatName(data.rname)} ${data.serial} ${data.refresh} ${data.retry} ${data.expire} ${data.minimum}`;
    case 'MX':
      return `${data.preference} ${formatName(data.exchange)}`;
    case 'TXT':
      return data.strings.map(formatCharacterString).join(' ');
    case 'SRV':
      return `${data.priority} ${data.weight} ${data.port} ${formatName(data.target)}`;
    case 'NAPTR':
      return `${data.order} ${data.preference} ${formatCharacterString(data.flags)} ${formatCharacterString(data.services)} ${formatCharacterString(data.regexp)} ${formatName(data.replacement)}`;
    case 'CAA':
      return `${data.flags} ${String.fromCharCode(...data.tag)} ${formatCharacterString(data.value)}`;
    case 'SSHFP':
      return `${data.algorithm} ${data.fingerprintType} ${encodeHex(data.fingerprint)}`;
    case 'TLSA':
      return `${data.usage} ${data.selector} ${data.matchingType} ${encodeHex(data.data)}`;
    case 'SVCB':
    case 'HTTPS':
      return [String(data.priority), formatName(data.target), ...data.params.map(formatSvcParam)].join(' ');
    case 'DS':
      return `${data.keyTag} ${data.algorithm} ${data.digestType} ${encodeHex(data.digest)}`;
    case 'DNSKEY':
      return `${data.flags} ${data.protocol} ${data.algorithm} ${encodeBase64(data.publicKey)}`;
    case 'RRSIG':
      return `${typeName(data.typeCovered)} ${data.algorithm} ${data.labels} ${data.originalTtl} ${formatRrsigTime(data.expiration)} ${formatRrsigTime(data.inception)} ${data.keyTag} ${formatName(data.signerName)} ${encodeBase64(data.signature)}`;
    case 'NSEC':
      return `${formatName(data.next)} ${formatTypeList(data.types)}`.trimEnd();
    case 'NSEC3':
      return `${data.hashAlgorithm} ${data.flags} ${data.iterations} ${data.salt.length === 0 ? '-' : encodeHex(data.salt)} ${encodeBase32Hex(data.nextHashed)} ${formatTypeList(data.types)}`.trimEnd();
    case 'unknown':
      return `\\# ${data.data.length}${data.data.length > 0 ? ' ' + encodeHex(data.data) : ''}`;
  }
}

const classNames: Record<number, string> = { 1: 'IN', 3: 'CH', 4: 'HS' };

/** A whole record in presentation form: `owner TTL CLASS TYPE RDATA`. */
export function formatRecord(record: ResourceRecord): string {
  return `${formatName(record.name)} ${record.ttl} ${classNames[record.class] ?? `CLASS${record.class}`} ${typeName(record.type)} ${formatRdata(record.data)}`;
}
