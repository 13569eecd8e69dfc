/**
 * The DNS message codec (RFC 1035 §4): header, questions, records with name compression on
 * emit and defensive decompression on parse, EDNS(0) (RFC 6891), and RDATA for every type in
 * {@link Rdata}; other types are carried as opaque bytes (RFC 3597).
 */
import { DecodeError, readIpv4, readU16, readU32, writeIpv4 } from '@morgana/core';
import { checkName, type DnsName, MAX_NAME_LENGTH } from './name.js';
import {
  type DnsFlags,
  type DnsMessage,
  type Edns,
  type EdnsOption,
  type Question,
  type Rdata,
  type ResourceRecord,
  RrType,
  type SvcParam,
} from './types.js';

/** Size of the fixed header (RFC 1035 §4.1.1). */
export const HEADER_LENGTH = 12;
/** Largest message: the TCP length prefix is 16 bits (RFC 1035 §4.2.2). */
export const MAX_MESSAGE_LENGTH = 65535;
/** Pointers are 14-bit offsets (RFC 1035 §4.1.4). */
const MAX_POINTER_TARGET = 0x3fff;

// ---------------------------------------------------------------- decoding

/** Decoding state: the whole message (pointers are relative to its start) and a cursor. */
class Reader {
  offset: number;
  constructor(
    readonly bytes: Uint8Array,
    offset: number,
  ) {
    this.offset = offset;
  }

  need(count: number, end = this.bytes.length): void {
    if (this.offset + count > end) throw new DecodeError('truncated', `message truncated at offset ${this.offset}`, this.offset);
  }

  u8(end?: number): number {
    this.need(1, end);
    return this.bytes[this.offset++];
  }

  u16(end?: number): number {
    this.need(2, end);
    const value = readU16(this.bytes, this.offset);
    this.offset += 2;
    return value;
  }

  u32(end?: number): number {
    this.need(4, end);
    const value = readU32(this.bytes, this.offset);
    this.offset += 4;
    return value;
  }

  take(count: number, end?: number): Uint8Array {
    this.need(count, end);
    const bytes = this.bytes.slice(this.offset, this.offset + count);
    this.offset += count;
    return bytes;
  }

  /**
   * Reads a possibly compressed name. Every pointer must point strictly before the place it
   * was read from: that rejects forward pointers and pointers to themselves. A label followed
   * by a pointer back to it still loops, and the 255-octet name limit (RFC 1035 §3.1) ends
   * that loop, so one name costs at most 128 labels whatever the input.
   */
  name(end = this.bytes.length): DnsName {
    const labels: string[] = [];
    let position = this.offset;
    let resume = -1;
    let wireLength = 1;
    for (;;) {
      if (position >= end) throw new DecodeError('truncated', 'name runs past the end', position);
      const length = this.bytes[position];
      if (length === 0) {
        position += 1;
        break;
      }
      const kind = length & 0xc0;
      if (kind === 0xc0) {
        if (position + 1 >= end) throw new DecodeError('truncated', 'pointer runs past the end', position);
        const target = ((length & 0x3f) << 8) | this.bytes[position + 1];
        if (target >= position) throw new DecodeError('bad-pointer', `compression pointer at ${position} does not point backwards`, position);
        if (resume < 0) resume = position + 2;
        position = target;
        continue;
      }
      if (kind !== 0) throw new DecodeError('bad-label-type', `unsupported label type 0x${kind.toString(16)}`, position);
      if (position + 1 + length > end) throw new DecodeError('truncated', 'label runs past the end', position);
      wireLength += length + 1;
      if (wireLength > MAX_NAME_LENGTH) throw new DecodeError('name-too-long', `name longer than ${MAX_NAME_LENGTH} octets`, position);
      labels.push(String.fromCharCode.apply(null, this.bytes.subarray(position + 1, position + 1 + length) as unknown as number[]));
      position += 1 + length;
    }
    this.offset = resume >= 0 ? resume : position;
    return labels;
  }
}

function decodeTypeBitmap(reader: Reader, end: number): number[] {
  const types: number[] = [];
  let lastWindow = -1;
  while (reader.offset < end) {
    const window = reader.u8(end);
    const length = reader.u8(end);
    // RFC 4034 §4.1.2: windows in increasing order, 1-32 octets each.
    if (window <= lastWindow || length === 0 || length > 32) throw new DecodeError('bad-type-bitmap', 'malformed type bitmap', reader.offset);
    lastWindow = window;
    const bits = reader.take(length, end);
    for (let i = 0; i < bits.length; i++) {
      for (let bit = 0; bit < 8; bit++) if (bits[i] & (0x80 >> bit)) types.push(window * 256 + i * 8 + bit);
    }
  }
  return types;
}

function characterString(reader: Reader, end: number): Uint8Array {
  const length = reader.u8(end);
  return reader.take(length, end);
}

function decodeRdata(reader: Reader, type: number, length: number): Rdata {
  const end = reader.offset + length;
  reader.need(length);
  const start = reader.offset;
  let data: Rdata;
  switch (type) {
    case RrType.A:
      if (length !== 4) throw new DecodeError('bad-rdata', 'A record RDATA is not 4 octets', start);
      data = { type: 'A', address: readIpv4(reader.bytes, start) };
      reader.offset = end;
      break;
    case RrType.AAAA:
      if (length !== 16) throw new DecodeError('bad-rdata', 'AAAA record RDATA is not 16 octets', start);
      data = { type: 'AAAA', address: reader.take(16, end) };
      break;
    case RrType.NS:
    case RrType.CNAME:
    case RrType.PTR:
      data = { type: type === RrType.NS ? 'NS' : type === RrType.CNAME ? 'CNAME' : 'PTR', target: reader.name(end) };
      break;
    case RrType.SOA:
      data = {
        type: 'SOA',
        mname: reader.name(end),
        rname: reader.name(end),
        serial: reader.u32(end),
        refresh: reader.u32(end),
        retry: reader.u32(end),
        expire: reader.u32(end),
        minimum: reader.u32(end),
      };
      break;
    case RrType.MX:
      data = { type: 'MX', preference: reader.u16(end), exchange: reader.name(end) };
      break;
    case RrType.TXT: {
      const strings: Uint8Array[] = [];
      while (reader.offset < end) strings.push(characterString(reader, end));
      if (strings.length === 0) throw new DecodeError('bad-rdata', 'TXT record without a string', start);
      data = { type: 'TXT', strings };
      break;
    }
    case RrType.SRV:
      data = { type: 'SRV', priority: reader.u16(end), weight: reader.u16(end), port: reader.u16(end), target: reader.name(end) };
      break;
    case RrType.NAPTR:
      data = {
        type: 'NAPTR',
        order: reader.u16(end),
        preference: reader.u16(end),
        flags: characterString(reader, end),
        services: characterString(reader, end),
        regexp: characterString(reader, end),
        replacement: reader.name(end),
      };
      break;
    case RrType.CAA: {
      const flags = reader.u8(end);
      const tagLength = reader.u8(end);
      if (tagLength === 0) throw new DecodeError('bad-rdata', 'CAA tag is empty', start);
      const tag = reader.take(tagLength, end);
      data = { type: 'CAA', flags, tag, value: reader.take(end - reader.offset, end) };
      break;
    }
    case RrType.SSHFP: {
      const algorithm = reader.u8(end);
      const fingerprintType = reader.u8(end);
      data = { type: 'SSHFP', algorithm, fingerprintType, fingerprint: reader.take(end - reader.offset, end) };
      break;
    }
    case RrType.TLSA: {
      const usage = reader.u8(end);
      const selector = reader.u8(end);
      const matchingType = reader.u8(end);
      data = { type: 'TLSA', usage, selector, matchingType, data: reader.take(end - reader.offset, end) };
      break;
    }
    case RrType.SVCB:
    case RrType.HTTPS: {
      const priority = reader.u16(end);
      const target = reader.name(end);
      const params: SvcParam[] = [];
      let lastKey = -1;
      while (reader.offset < end) {
        const key = reader.u16(end);
        // RFC 9460 §2.2: keys strictly increasing, else the RR is malformed.
        if (key <= lastKey) throw new DecodeError('bad-rdata', 'SvcParamKeys out of order', reader.offset);
        lastKey = key;
        const valueLength = reader.u16(end);
        params.push({ key, value: reader.take(valueLength, end) });
      }
      data = { type: type === RrType.SVCB ? 'SVCB' : 'HTTPS', priority, target, params };
      break;
    }
    case RrType.DS: {
      const keyTag = reader.u16(end);
      const algorithm = reader.u8(end);
      const digestType = reader.u8(end);
      data = { type: 'DS', keyTag, algorithm, digestType, digest: reader.take(end - reader.offset, end) };
      break;
    }
    case RrType.DNSKEY: {
      const flags = reader.u16(end);
      const protocol = reader.u8(end);
      const algorithm = reader.u8(end);
      data = { type: 'DNSKEY', flags, protocol, algorithm, publicKey: reader.take(end - reader.offset, end) };
      break;
    }
    case RrType.RRSIG: {
      const fixed = {
        typeCovered: reader.u16(end),
        algorithm: reader.u8(end),
        labels: reader.u8(end),
        originalTtl: reader.u32(end),
        expiration: reader.u32(end),
        inception: reader.u32(end),
        keyTag: reader.u16(end),
        signerName: reader.name(end),
      };
      data = { type: 'RRSIG', ...fixed, signature: reader.take(end - reader.offset, end) };
      break;
    }
    case RrType.NSEC: {
      const next = reader.name(end);
      data = { type: 'NSEC', next, types: decodeTypeBitmap(reader, end) };
      break;
    }
    case RrType.NSEC3: {
      const hashAlgorithm = reader.u8(end);
      const flags = reader.u8(end);
      const iterations = reader.u16(end);
      const salt = characterString(reader, end);
      const nextHashed = characterString(reader, end);
      data = { type: 'NSEC3', hashAlgorithm, flags, iterations, salt, nextHashed, types: decodeTypeBitmap(reader, end) };
      break;
    }
    default:
      data = { type: 'unknown', data: reader.take(length, end) };
  }
  if (reader.offset !== end) throw new DecodeError('bad-rdata', `RDATA of type ${type} has ${end - reader.offset} stray octets`, reader.offset);
  return data;
}

function decodeFlags(word: number): DnsFlags {
  return {
    qr: (word & 0x8000) !== 0,
    opcode: (word >>> 11) & 0xf,
    aa: (word & 0x0400) !== 0,
    tc: (word & 0x0200) !== 0,
    rd: (word & 0x0100) !== 0,
    ra: (word & 0x0080) !== 0,
    ad: (word & 0x0020) !== 0,
    cd: (word & 0x0010) !== 0,
  };
}

/** Limits applied while decoding untrusted messages. */
export interface DecodeLimits {
  /** Most records (all sections together) a message may carry; default 4096. */
  readonly maxRecords?: number;
}

/** Decodes a whole message. Throws {@link DecodeError} for anything malformed. */
export function decodeMessage(bytes: Uint8Array, limits: DecodeLimits = {}): DnsMessage {
  if (bytes.length < HEADER_LENGTH) throw new DecodeError('truncated', 'shorter than a DNS header');
  const reader = new Reader(bytes, HEADER_LENGTH);
  const id = readU16(bytes, 0);
  const flags = decodeFlags(readU16(bytes, 2));
  let rcode = readU16(bytes, 2) & 0xf;
  const counts = [readU16(bytes, 4), readU16(bytes, 6), readU16(bytes, 8), readU16(bytes, 10)];
  const maxRecords = limits.maxRecords ?? 4096;
  if (counts[0] + counts[1] + counts[2] + counts[3] > maxRecords) throw new DecodeError('too-many-records', `more than ${maxRecords} records`);
  // Each question takes at least 5 octets and each record 11: reject impossible counts early.
  if (HEADER_LENGTH + counts[0] * 5 + (counts[1] + counts[2] + counts[3]) * 11 > bytes.length) {
    throw new DecodeError('truncated', 'section counts exceed the message length');
  }
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push({ name: reader.name(), type: reader.u16(), class: reader.u16() });
  const sections: ResourceRecord[][] = [[], [], []];
  let edns: Edns | undefined;
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section + 1]; i++) {
      const name = reader.name();
      const type = reader.u16();
      const klass = reader.u16();
      const ttl = reader.u32();
      const length = reader.u16();
      if (type === RrType.OPT) {
        // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
        if (section !== 2 || edns !== undefined || name.length !== 0) throw new DecodeError('bad-opt', 'misplaced or repeated OPT record');
        const end = reader.offset + length;
        reader.need(length);
        const options: EdnsOption[] = [];
        while (reader.offset < end) {
          const code = reader.u16(end);
          const optionLength = reader.u16(end);
          options.push({ code, data: reader.take(optionLength, end) });
        }
        rcode |= (ttl >>> 24) << 4;
        edns = { udpPayloadSize: klass, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0, options };
        continue;
      }
      sections[section].push({ name, type, class: klass, ttl, data: decodeRdata(reader, type, length) });
    }
  }
  return { id, flags, rcode, questions, answers: sections[0], authorities: sections[1], additionals: sections[2], edns };
}

// ---------------------------------------------------------------- encoding

/** Types whose RDATA names may be compressed (RFC 3597 §4: only the RFC 1035 types). */
const COMPRESSIBLE_RDATA = new Set<number>([RrType.NS, RrType.CNAME, RrType.PTR, RrType.SOA, RrType.MX]);

class Writer {
  readonly bytes: Uint8Array;
  length = 0;
  /** Suffix key → offset of a name suffix already written (RFC 1035 §4.1.4). */
  private readonly names = new Map<string, number>();
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  room(count: number): boolean {
    return this.length + count <= this.bytes.length;
  }
  need(count: number): void {
    if (!this.room(count)) throw new Overflow();
  }
  u8(value: number): void {
    this.need(1);
    this.bytes[this.length++] = value;
  }
  u16(value: number): void {
    this.need(2);
    this.bytes[this.length++] = value >>> 8;
    this.bytes[this.length++] = value;
  }
  u32(value: number): void {
    this.u16(value >>> 16);
    this.u16(value & 0xffff);
  }
  raw(data: Uint8Array): void {
    this.need(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }
  characterString(data: Uint8Array): void {
    if (data.length > 255) throw new DecodeError('string-too-long', 'character-string longer than 255 octets');
    this.u8(data.length);
    this.raw(data);
  }
  name(name: DnsName, compress: boolean): void {
    for (let i = 0; i < name.length; i++) {
      const suffix = i === 0 ? name : name.slice(i);
      // Exact (case-sensitive) match, so a name decodes with the case it was given (RFC 4343 §4).
      const key = suffix.join('\u0100');
      const target = compress ? this.names.get(key) : undefined;
      if (target !== undefined) {
        this.u16(0xc000 | target);
        return;
      }
      if (this.length <= MAX_POINTER_TARGET && !this.names.has(key)) this.names.set(key, this.length);
      const label = name[i];
      this.u8(label.length);
      this.need(label.length);
      for (let j = 0; j < label.length; j++) this.bytes[this.length++] = label.charCodeAt(j);
    }
    this.u8(0);
  }
  /** Forget names registered at or after `length` (after a rollback). */
  rollback(length: number): void {
    this.length = length;
    for (const [key, offset] of this.names) if (offset >= length) this.names.delete(key);
  }
}

class Overflow extends Error {}

function encodeTypeBitmap(writer: Writer, types: readonly number[]): void {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  let index = 0;
  while (index < sorted.length) {
    const window = sorted[index] >>> 8;
    const bits = new Uint8Array(32);
    let used = 0;
    while (index < sorted.length && sorted[index] >>> 8 === window) {
      const low = sorted[index] & 0xff;
      bits[low >>> 3] |= 0x80 >>> (low & 7);
      used = (low >>> 3) + 1;
      index++;
    }
    writer.u8(window);
    writer.u8(used);
    writer.raw(bits.subarray(0, used));
  }
}

function encodeRdata(writer: Writer, record: ResourceRecord): void {
  const data = record.data;
  const compress = COMPRESSIBLE_RDATA.has(record.type);
  switch (data.type) {
    case 'A':
      writer.need(4);
      writeIpv4(writer.bytes, writer.length, data.address);
      writer.length += 4;
      return;
    case 'AAAA':
      if (data.address.length !== 16) throw new DecodeError('bad-rdata', 'AAAA address is not 16 octets');
      writer.raw(data.address);
      return;
    case 'NS':
    case 'CNAME':
    case 'PTR':
      writer.name(data.target, compress);
      return;
    case 'SOA':
      writer.name(data.mname, compress);
      writer.name(data.rname, compress);
      writer.u32(data.serial);
      writer.u32(data.refresh);
      writer.u32(data.retry);
      writer.u32(data.expire);
      writer.u32(data.minimum);
      return;
    case 'MX':
      writer.u16(data.preference);
      writer.name(data.exchange, compress);
      return;
    case 'TXT':
      for (const string of data.strings) writer.characterString(string);
      return;
    case 'SRV':
      writer.u16(data.priority);
      writer.u16(data.weight);
      writer.u16(data.port);
      writer.name(data.target, false);
      return;
    case 'NAPTR':
      writer.u16(data.order);
      writer.u16(data.preference);
      writer.characterString(data.flags);
      writer.characterString(data.services);
      writer.characterString(data.regexp);
      writer.name(data.replacement, false);
      return;
    case 'CAA':
      writer.u8(data.flags);
      writer.characterString(data.tag);
      writer.raw(data.value);
      return;
    case 'SSHFP':
      writer.u8(data.algorithm);
      writer.u8(data.fingerprintType);
      writer.raw(data.fingerprint);
      return;
    case 'TLSA':
      writer.u8(data.usage);
      writer.u8(data.selector);
      writer.u8(data.matchingType);
      writer.raw(data.data);
      return;
    case 'SVCB':
    case 'HTTPS':
      writer.u16(data.priority);
      writer.name(data.target, false);
      for (const param of [...data.params].sort((a, b) => a.key - b.key)) {
        writer.u16(param.key);
        writer.u16(param.value.length);
        writer.raw(param.value);
      }
      return;
    case 'DS':
      writer.u16(data.keyTag);
      writer.u8(data.algorithm);
      writer.u8(data.digestType);
      writer.raw(data.digest);
      return;
    case 'DNSKEY':
      writer.u16(data.flags);
      writer.u8(data.protocol);
      writer.u8(data.algorithm);
      writer.raw(data.publicKey);
      return;
    case 'RRSIG':
      writer.u16(data.typeCovered);
      writer.u8(data.algorithm);
      writer.u8(data.labels);
      writer.u32(data.originalTtl);
      writer.u32(data.expiration);
      writer.u32(data.inception);
      writer.u16(data.keyTag);
      writer.name(data.signerName, false);
      writer.raw(data.signature);
      return;
    case 'NSEC':
      writer.name(data.next, false);
      encodeTypeBitmap(writer, data.types);
      return;
    case 'NSEC3':
      writer.u8(data.hashAlgorithm);
      writer.u8(data.flags);
      writer.u16(data.iterations);
      writer.characterString(data.salt);
      writer.characterString(data.nextHashed);
      encodeTypeBitmap(writer, data.types);
      return;
    case 'unknown':
      writer.raw(data.data);
      return;
  }
}

/** Decodes RDATA wire bytes of `type` (no compression: nothing precedes them). Throws {@link DecodeError}. */
export function rdataFromWire(type: number, bytes: Uint8Array): Rdata {
  return decodeRdata(new Reader(bytes, 0), type, bytes.length);
}

/** The RDATA of a record as wire bytes, uncompressed (for the RFC 3597 generic text form and DNSSEC). */
export function rdataToWire(data: Rdata): Uint8Array {
  const writer = new Writer(MAX_MESSAGE_LENGTH);
  encodeRdata(writer, { name: [], type: 0, class: 1, ttl: 0, data });
  return writer.bytes.slice(0, writer.length);
}

function encodeRecord(writer: Writer, record: ResourceRecord): void {
  writer.name(record.name, true);
  writer.u16(record.type);
  writer.u16(record.class);
  writer.u32(record.ttl);
  const lengthAt = writer.length;
  writer.u16(0);
  encodeRdata(writer, record);
  const length = writer.length - lengthAt - 2;
  writer.bytes[lengthAt] = length >>> 8;
  writer.bytes[lengthAt + 1] = length;
}

function ednsSize(edns: Edns): number {
  let size = 11;
  for (const option of edns.options) size += 4 + option.data.length;
  return size;
}

function encodeEdns(writer: Writer, edns: Edns, rcode: number): void {
  writer.u8(0);
  writer.u16(RrType.OPT);
  writer.u16(edns.udpPayloadSize);
  writer.u8(rcode >>> 4);
  writer.u8(edns.version);
  writer.u16(edns.dnssecOk ? 0x8000 : 0);
  let length = 0;
  for (const option of edns.options) length += 4 + option.data.length;
  writer.u16(length);
  for (const option of edns.options) {
    writer.u16(option.code);
    writer.u16(option.data.length);
    writer.raw(option.data);
  }
}

/** Options of {@link encodeMessage}. */
export interface EncodeOptions {
  /**
   * Largest message to produce (512 for plain UDP, the EDNS size, 65535 for TCP). Records
   * that do not fit are left out: when an answer or authority record is left out, TC is set
   * (RFC 2181 §9); left-out additional records do not set it. The OPT record always fits.
   */
  readonly maxSize?: number;
}

/** Encodes a message with name compression. Throws {@link DecodeError} for an unencodable one (a string over 255 octets). */
export function encodeMessage(message: DnsMessage, options: EncodeOptions = {}): Uint8Array {
  const maxSize = Math.min(options.maxSize ?? MAX_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH);
  const reserve = message.edns === undefined ? 0 : ednsSize(message.edns);
  const writer = new Writer(Math.max(HEADER_LENGTH, maxSize - reserve));
  writer.length = HEADER_LENGTH;
  const counts = [0, 0, 0, 0];
  let truncated = message.flags.tc;
  try {
    for (const question of message.questions) {
      checkName(question.name);
      writer.name(question.name, true);
      writer.u16(question.type);
      writer.u16(question.class);
      counts[0]++;
    }
  } catch (error) {
    if (!(error instanceof Overflow)) throw error;
    throw new DecodeError('too-large', `the question section alone exceeds ${maxSize} octets`);
  }
  const sections = [message.answers, message.authorities, message.additionals];
  outer: for (let section = 0; section < 3; section++) {
    for (const record of sections[section]) {
      const before = writer.length;
      try {
        encodeRecord(writer, record);
        counts[section + 1]++;
      } catch (error) {
        if (!(error instanceof Overflow)) throw error;
        writer.rollback(before);
        if (section < 2) truncated = true;
        break outer;
      }
    }
  }
  const out = new Uint8Array(writer.length + reserve);
  out.set(writer.bytes.subarray(0, writer.length));
  const flags = message.flags;
  const word =
    (flags.qr ? 0x8000 : 0) |
    ((flags.opcode & 0xf) << 11) |
    (flags.aa ? 0x0400 : 0) |
    (truncated ? 0x0200 : 0) |
    (flags.rd ? 0x0100 : 0) |
    (flags.ra ? 0x0080 : 0) |
    (flags.ad ? 0x0020 : 0) |
    (flags.cd ? 0x0010 : 0) |
    (message.rcode & 0xf);
  out[0] = message.id >>> 8;
  out[1] = message.id;
  out[2] = word >>> 8;
  out[3] = word;
  out[4] = counts[0] >>> 8;
  out[5] = counts[0];
  out[6] = counts[1] >>> 8;
  out[7] = counts[1];
  out[8] = counts[2] >>> 8;
  out[9] = counts[2];
  const additional = counts[3] + (message.edns === undefined ? 0 : 1);
  out[10] = additional >>> 8;
  out[11] = additional;
  if (message.edns !== undefined) {
    const tail = new Writer(reserve);
    encodeEdns(tail, message.edns, message.rcode);
    out.set(tail.bytes, writer.length);
  } else if (message.rcode > 0xf) {
    throw new DecodeError('bad-rcode', 'an extended rcode needs an OPT record');
  }
  return out;
}

