/**
 * The authoritative server's answer path, over bytes: a query in, a response out (or nothing).
 *
 * Speed by design, as MirageOS's DNS appliance did it: the first time a question is asked
 * its whole response is encoded and memoised; afterwards answering is a table lookup, a copy,
 * and three patches (the id, the RD bit, and the question, which carries the asker's letter
 * case). Only well-formed single-question queries take that path; everything else goes
 * through the full decoder and gets the right error.
 */
import { type Clock, CounterSet, type Counters, DecodeError, type Ipv4Address, readU16 } from '@morgana/core';
import { indexZone, type IndexedZone, lookup, type LookupResult } from './lookup.js';
import { type DnsName, isSubdomain, nameKey } from './name.js';
import { type DnsMessage, type Edns, Opcode, Rcode, type ResourceRecord, RrClass, RrType } from './types.js';
import { decodeMessage, encodeMessage, HEADER_LENGTH, MAX_MESSAGE_LENGTH } from './wire.js';
import type { Zone } from './zone.js';

/** Response-rate limiting, so the server cannot be used to amplify floods at a spoofed victim. */
export interface RateLimitConfig {
  /** Responses per second allowed to one /24 (IPv4) before limiting; default 200. */
  readonly responsesPerSecond?: number;
  /** Every `slip`-th limited response is sent truncated (TC=1, empty) so real clients retry over TCP; 0 drops all. Default 2. */
  readonly slip?: number;
  /** Most client prefixes tracked at once; the oldest are forgotten beyond it. Default 100 000. */
  readonly tableLimit?: number;
}

/** Configuration of {@link AuthoritativeServer}. */
export interface AuthoritativeServerConfig {
  /** The zones served (each should have passed `checkZone`). */
  readonly zones: readonly Zone[];
  /** UDP payload size we advertise and accept at most (RFC 6891 §6.2.5; 1232 avoids fragmentation). Default 1232. */
  readonly udpPayloadSize?: number;
  /** Most memoised responses; the oldest are dropped beyond it. Default 100 000. */
  readonly cacheLimit?: number;
  /** Which clients may transfer zones (AXFR/IXFR). Default: nobody. */
  readonly allowTransfer?: (source: Ipv4Address) => boolean;
  /** Response-rate limiting on UDP; `false` turns it off (benchmarks). Default on. */
  readonly rateLimit?: RateLimitConfig | false;
  /** Time source for rate limiting. */
  readonly clock: Clock;
}

/** Where a query came from. */
export interface QueryMeta {
  readonly transport: 'udp' | 'tcp';
  readonly source: Ipv4Address;
}

/** Largest UDP response without EDNS (RFC 1035 §4.2.1). */
const CLASSIC_UDP_SIZE = 512;
/** Largest message of a zone transfer; RFC 5936 §2.2 allows any up to 65535. */
const TRANSFER_MESSAGE_SIZE = 16_384;

interface Bucket {
  tokens: number;
  updated: number;
  limited: number;
}

/** An authoritative DNS server over bytes. */
export class AuthoritativeServer {
  private zones: IndexedZone[] = [];
  private readonly cache = new Map<string, Uint8Array>();
  private readonly counters = new CounterSet();
  private readonly buckets = new Map<number, Bucket>();
  private readonly udpPayloadSize: number;
  private readonly cacheLimit: number;
  private readonly rate: Required<RateLimitConfig> | undefined;

  constructor(private readonly config: AuthoritativeServerConfig) {
    this.udpPayloadSize = Math.max(CLASSIC_UDP_SIZE, Math.min(config.udpPayloadSize ?? 1232, MAX_MESSAGE_LENGTH));
    this.cacheLimit = config.cacheLimit ?? 100_000;
    this.rate =
      config.rateLimit === false
        ? undefined
        : { responsesPerSecond: config.rateLimit?.responsesPerSecond ?? 200, slip: config.rateLimit?.slip ?? 2, tableLimit: config.rateLimit?.tableLimit ?? 100_000 };
    this.reload(config.zones);
  }

  /** Replaces the zones atomically: queries after this call see the new data, none are dropped. */
  reload(zones: readonly Zone[]): void {
    // Longest origin first, so the most specific zone answers.
    this.zones = zones.map(indexZone).sort((a, b) => b.origin.length - a.origin.length);
    this.cache.clear();
    this.counters.add('reloads');
  }

  /** The served zones' SOA serials, by origin. */
  serials(): Map<string, number> {
    const serials = new Map<string, number>();
    for (const zone of this.zones) serials.set(nameKey(zone.origin), zone.soa.data.type === 'SOA' ? zone.soa.data.serial : 0);
    return serials;
  }

  stats(): Counters {
    return { ...this.counters.snapshot(), cacheEntries: this.cache.size };
  }

  /**
   * Answers one query message. Returns undefined when the right answer is silence: a
   * response (QR set), a message too short to have an id, or a rate-limited client.
   */
  answer(query: Uint8Array, meta: QueryMeta): Uint8Array | undefined {
    this.counters.add('queries');
    if (query.length < HEADER_LENGTH) {
      this.counters.add('drop-short');
      return undefined;
    }
    if (query[2] & 0x80) {
      this.counters.add('drop-response');
      return undefined;
    }
    const response = this.fastAnswer(query, meta) ?? this.slowAnswer(query, meta);
    if (response === undefined) return undefined;
    if (meta.transport === 'udp' && this.rate !== undefined) return this.rateLimit(response, meta.source);
    return response;
  }

  /**
   * Answers a zone transfer request (AXFR, or IXFR served as AXFR, RFC 1995 §4) with the
   * messages to send over TCP, or undefined when the query is not a transfer.
   */
  transfer(query: Uint8Array, meta: QueryMeta): Uint8Array[] | undefined {
    let message: DnsMessage;
    try {
      message = decodeMessage(query);
    } catch {
      return undefined;
    }
    const question = message.questions[0];
    if (message.flags.qr || message.questions.length !== 1 || (question.type !== RrType.AXFR && question.type !== RrType.IXFR)) return undefined;
    const zone = this.zones.find((z) => nameKey(z.origin) === nameKey(question.name));
    const refuse = (rcode: number): Uint8Array[] => [encodeMessage(this.reply(message, rcode, false, [], [], []), { maxSize: MAX_MESSAGE_LENGTH })];
    if (zone === undefined) return refuse(zone === undefined && this.zoneFor(question.name) !== undefined ? Rcode.NOTAUTH : Rcode.REFUSED);
    if (meta.transport !== 'tcp') return refuse(Rcode.FORMERR);
    if (this.config.allowTransfer === undefined || !this.config.allowTransfer(meta.source)) {
      this.counters.add('transfer-refused');
      return refuse(Rcode.REFUSED);
    }
    this.counters.add('transfers');
    // RFC 5936 §2.2: SOA first, then every other record, then the SOA again.
    const body = zone.records.filter((r) => r.type !== RrType.SOA);
    const sequence = [zone.soa, ...body, zone.soa];
    const messages: Uint8Array[] = [];
    let batch: ResourceRecord[] = [];
    const flush = (): void => {
      const reply = this.reply(message, Rcode.NOERROR, true, batch, [], []);
      // Only the first message repeats the question (RFC 5936 §2.2.1 allows either).
      messages.push(encodeMessage(messages.length === 0 ? reply : { ...reply, questions: [] }, { maxSize: MAX_MESSAGE_LENGTH }));
      batch = [];
    };
    let size = HEADER_LENGTH;
    for (const record of sequence) {
      const estimate = 64 + record.name.reduce((n, l) => n + l.length + 1, 0) + 300;
      if (size + estimate > TRANSFER_MESSAGE_SIZE && batch.length > 0) {
        flush();
        size = HEADER_LENGTH;
      }
      batch.push(record);
      size += estimate;
    }
    flush();
    return messages;
  }

  private zoneFor(name: DnsName): IndexedZone | undefined {
    for (const zone of this.zones) if (isSubdomain(name, zone.origin)) return zone;
    return undefined;
  }

  private reply(query: DnsMessage, rcode: number, aa: boolean, answers: ResourceRecord[], authorities: ResourceRecord[], additionals: ResourceRecord[]): DnsMessage {
    const edns: Edns | undefined =
      query.edns === undefined ? undefined : { udpPayloadSize: this.udpPayloadSize, version: 0, dnssecOk: query.edns.dnssecOk, options: [] };
    return {
      id: query.id,
      flags: { qr: true, opcode: query.flags.opcode, aa, tc: false, rd: query.flags.rd, ra: false, ad: false, cd: query.flags.cd },
      rcode,
      questions: query.questions.slice(0, 1),
      answers,
      authorities,
      additionals,
      edns,
    };
  }

  /**
   * The memoised path. Handles a QUERY with one question, no answer/authority records and at
   * most an OPT record; returns undefined to fall back to the full decoder for anything else.
   */
  private fastAnswer(query: Uint8Array, meta: QueryMeta): Uint8Array | undefined {
    const flags = readU16(query, 2);
    if (((flags >>> 11) & 0xf) !== Opcode.QUERY) return undefined;
    if (readU16(query, 4) !== 1 || readU16(query, 6) !== 0 || readU16(query, 8) !== 0) return undefined;
    const arcount = readU16(query, 10);
    if (arcount > 1) return undefined;
    // Read the question name: plain labels only (a query has nothing to point back to).
    let offset = HEADER_LENGTH;
    let key = '';
    for (;;) {
      if (offset >= query.length) return undefined;
      const length = query[offset];
      if (length === 0) break;
      if (length > 63 || offset + 1 + length >= query.length) return undefined;
      key += String.fromCharCode(length);
      for (let i = offset + 1; i <= offset + length; i++) {
        const c = query[i];
        key += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
      }
      offset += 1 + length;
    }
    const questionEnd = offset + 5;
    if (questionEnd - HEADER_LENGTH > 255 + 4 || questionEnd > query.length) return undefined;
    const qtype = readU16(query, offset + 1);
    const qclass = readU16(query, offset + 3);
    if (qclass !== RrClass.IN || qtype === RrType.AXFR || qtype === RrType.IXFR || qtype === RrType.OPT) return undefined;
    let maxSize = meta.transport === 'tcp' ? MAX_MESSAGE_LENGTH : CLASSIC_UDP_SIZE;
    let ednsKey = 'n';
    if (arcount === 1) {
      // The OPT record: root owner, type 41, class = payload size, TTL = ext-rcode/version/flags.
      const at = questionEnd;
      if (at + 11 > query.length || query[at] !== 0 || readU16(query, at + 1) !== RrType.OPT) return undefined;
      if (at + 11 + readU16(query, at + 9) !== query.length) return undefined;
      if (query[at + 6] !== 0) return undefined; // EDNS version > 0: BADVERS via the slow path.
      const payload = Math.max(CLASSIC_UDP_SIZE, Math.min(readU16(query, at + 3), this.udpPayloadSize));
      if (meta.transport === 'udp') maxSize = payload;
      ednsKey = (query[at + 7] & 0x80 ? 'd' : 'e') + maxSize;
    } else if (questionEnd !== query.length) return undefined;
    const cacheKey = `${key}/${qtype}/${ednsKey}/${meta.transport === 'tcp' ? 't' : maxSize}`;
    let template = this.cache.get(cacheKey);
    if (template === undefined) {
      this.counters.add('cache-miss');
      template = this.encodeFresh(query, questionEnd, maxSize);
      if (template === undefined) return undefined;
      if (this.cache.size >= this.cacheLimit) {
        const oldest = this.cache.keys().next().value as string;
        this.cache.delete(oldest);
        this.counters.add('cache-evicted');
      }
      this.cache.set(cacheKey, template);
    } else this.counters.add('cache-hit');
    const response = template.slice();
    response[0] = query[0];
    response[1] = query[1];
    // RD and CD are copied from the query (RFC 1035 §4.1.1, RFC 4035 §3.1.6).
    response[2] = (response[2] & ~0x01) | (query[2] & 0x01);
    response[3] = (response[3] & ~0x10) | (query[3] & 0x10);
    // The question as the client wrote it: the same length, its own letter case (DNS 0x20).
    response.set(query.subarray(HEADER_LENGTH, questionEnd), HEADER_LENGTH);
    this.counters.add(`rcode-${response[3] & 0xf}`);
    return response;
  }

  private encodeFresh(query: Uint8Array, questionEnd: number, maxSize: number): Uint8Array | undefined {
    let message: DnsMessage;
    try {
      message = decodeMessage(query);
    } catch {
      return undefined;
    }
    const question = message.questions[0];
    const zone = this.zoneFor(question.name);
    const result: LookupResult = zone === undefined ? { rcode: Rcode.REFUSED, aa: false, answers: [], authorities: [], additionals: [] } : lookup(zone, question.name, question.type);
    const reply = this.reply({ ...message, id: 0, flags: { ...message.flags, rd: false, cd: false } }, result.rcode, result.aa, result.answers, result.authorities, result.additionals);
    const bytes = encodeMessage(reply, { maxSize });
    if (bytes.length < questionEnd) return undefined;
    return bytes;
  }

  /** Everything the fast path declines: full decode, then the right error or answer. */
  private slowAnswer(query: Uint8Array, meta: QueryMeta): Uint8Array | undefined {
    const id = readU16(query, 0);
    const flags = readU16(query, 2);
    const opcode = (flags >>> 11) & 0xf;
    const bare = (rcode: number): Uint8Array => {
      this.counters.add(`rcode-${rcode}`);
      const out = new Uint8Array(HEADER_LENGTH);
      out[0] = id >>> 8;
      out[1] = id;
      out[2] = 0x80 | (opcode << 3) | (flags >>> 8 & 0x01);
      out[3] = rcode;
      return out;
    };
    let message: DnsMessage;
    try {
      message = decodeMessage(query, { maxRecords: 64 });
    } catch (error) {
      this.counters.add(`formerr-${error instanceof DecodeError ? error.reason : 'unknown'}`);
      return bare(Rcode.FORMERR);
    }
    if (opcode !== Opcode.QUERY) return this.finish(message, Rcode.NOTIMP, meta);
    if (message.edns !== undefined && message.edns.version > 0) return this.finish(message, Rcode.BADVERS, meta);
    if (message.questions.length !== 1) return this.finish(message, Rcode.FORMERR, meta);
    const question = message.questions[0];
    if (question.type === RrType.AXFR || question.type === RrType.IXFR) {
      if (meta.transport === 'udp' && question.type === RrType.IXFR) {
        // RFC 1995 §2: over UDP, answer with just the current SOA; the client then uses TCP.
        const zone = this.zones.find((z) => nameKey(z.origin) === nameKey(question.name));
        if (zone !== undefined && this.config.allowTransfer?.(meta.source) === true) return this.finish(message, Rcode.NOERROR, meta, [zone.soa], true);
      }
      return this.finish(message, meta.transport === 'udp' ? Rcode.FORMERR : Rcode.REFUSED, meta);
    }
    if (question.type === RrType.OPT || (question.type >= 128 && question.type !== RrType.ANY && question.type !== RrType.CAA)) {
      return this.finish(message, Rcode.NOTIMP, meta);
    }
    if (question.class !== RrClass.IN) return this.finish(message, Rcode.REFUSED, meta);
    const zone = this.zoneFor(question.name);
    if (zone === undefined) return this.finish(message, Rcode.REFUSED, meta);
    const result = lookup(zone, question.name, question.type);
    return this.finish(message, result.rcode, meta, result.answers, result.aa, result.authorities, result.additionals);
  }

  private finish(
    message: DnsMessage,
    rcode: number,
    meta: QueryMeta,
    answers: ResourceRecord[] = [],
    aa = false,
    authorities: ResourceRecord[] = [],
    additionals: ResourceRecord[] = [],
  ): Uint8Array {
    this.counters.add(`rcode-${rcode}`);
    const reply = this.reply(message, rcode, aa, answers, authorities, additionals);
    const payload = message.edns === undefined ? CLASSIC_UDP_SIZE : Math.max(CLASSIC_UDP_SIZE, Math.min(message.edns.udpPayloadSize, this.udpPayloadSize));
    return encodeMessage(reply, { maxSize: meta.transport === 'tcp' ? MAX_MESSAGE_LENGTH : payload });
  }

  /** Token bucket per /24 (RFC-less but standard practice: BIND's and NSD's RRL). */
  private rateLimit(response: Uint8Array, source: Ipv4Address): Uint8Array | undefined {
    const rate = this.rate as Required<RateLimitConfig>;
    const prefix = source >>> 8;
    const now = this.config.clock.now();
    let bucket = this.buckets.get(prefix);
    if (bucket === undefined) {
      if (this.buckets.size >= rate.tableLimit) {
        this.buckets.delete(this.buckets.keys().next().value as number);
        this.counters.add('rrl-table-evicted');
      }
      bucket = { tokens: rate.responsesPerSecond, updated: now, limited: 0 };
      this.buckets.set(prefix, bucket);
    }
    bucket.tokens = Math.min(rate.responsesPerSecond, bucket.tokens + ((now - bucket.updated) / 1000) * rate.responsesPerSecond);
    bucket.updated = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return response;
    }
    bucket.limited++;
    if (rate.slip > 0 && bucket.limited % rate.slip === 0) {
      this.counters.add('rrl-slipped');
      return truncatedCopy(response);
    }
    this.counters.add('rrl-dropped');
    return undefined;
  }
}

/** Header and question only, with TC set: "ask again over TCP". */
function truncatedCopy(response: Uint8Array): Uint8Array {
  let offset = HEADER_LENGTH;
  if (readU16(response, 4) === 1) {
    while (offset < response.length && response[offset] !== 0) offset += response[offset] + 1;
    offset += 5;
  }
  const out = response.slice(0, Math.min(offset, response.length));
  out[2] |= 0x02;
  out.fill(0, 6, 12);
  return out;
}
