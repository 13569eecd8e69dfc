/** DNS constants (RFC 1035 §3.2, IANA DNS parameters) and the record data representations. */
import type { Ipv4Address } from '@morgana/core';
import type { DnsName } from './name.js';

/** Resource record types the codec understands; any other type is kept as opaque data (RFC 3597). */
export const RrType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  NAPTR: 35,
  OPT: 41,
  DS: 43,
  SSHFP: 44,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  TLSA: 52,
  SVCB: 64,
  HTTPS: 65,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
} as const;

/** Classes (RFC 1035 §3.2.4). */
export const RrClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

/** Opcodes (RFC 1035 §4.1.1, RFC 1996, RFC 2136). */
export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** Response codes (RFC 1035 §4.1.1, RFC 6891 for the extended ones). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
} as const;

const typeNames = new Map<number, string>(Object.entries(RrType).map(([name, value]) => [value, name]));

/** Mnemonic of a type, or `TYPEnnn` (RFC 3597 §5). */
export function typeName(type: number): string {
  return typeNames.get(type) ?? `TYPE${type}`;
}

/** Parses a type mnemonic or `TYPEnnn`; undefined when unknown. */
export function typeFromName(text: string): number | undefined {
  const upper = text.toUpperCase();
  const known = (RrType as Record<string, number>)[upper];
  if (known !== undefined) return known;
  const match = /^TYPE([0-9]{1,5})$/.exec(upper);
  if (match !== null && Number(match[1]) <= 0xffff) return Number(match[1]);
  return undefined;
}

/** One SVCB/HTTPS parameter (RFC 9460 §2.1), value kept as wire bytes. */
export interface SvcParam {
  readonly key: number;
  readonly value: Uint8Array;
}

/** The meaning of a record's RDATA, by type. */
export type Rdata =
  | { readonly type: 'A'; readonly address: Ipv4Address }
  | { readonly type: 'AAAA'; readonly address: Uint8Array }
  | { readonly type: 'NS' | 'CNAME' | 'PTR'; readonly target: DnsName }
  | {
      readonly type: 'SOA';
      readonly mname: DnsName;
      readonly rname: DnsName;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    }
  | { readonly type: 'MX'; readonly preference: number; readonly exchange: DnsName }
  | { readonly type: 'TXT'; readonly strings: readonly Uint8Array[] }
  | { readonly type: 'SRV'; readonly priority: number; readonly weight: number; readonly port: number; readonly target: DnsName }
  | {
      readonly type: 'NAPTR';
      readonly order: number;
      readonly preference: number;
      readonly flags: Uint8Array;
      readonly services: Uint8Array;
      readonly regexp: Uint8Array;
      readonly replacement: DnsName;
    }
  | { readonly type: 'CAA'; readonly flags: number; readonly tag: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'SSHFP'; readonly algorithm: number; readonly fingerprintType: number; readonly fingerprint: Uint8Array }
  | { readonly type: 'TLSA'; readonly usage: number; readonly selector: number; readonly matchingType: number; readonly data: Uint8Array }
  | { readonly type: 'SVCB' | 'HTTPS'; readonly priority: number; readonly target: DnsName; readonly params: readonly SvcParam[] }
  | { readonly type: 'DS'; readonly keyTag: number; readonly algorithm: number; readonly digestType: number; readonly digest: Uint8Array }
  | { readonly type: 'DNSKEY'; readonly flags: number; readonly protocol: number; readonly algorithm: number; readonly publicKey: Uint8Array }
  | {
      readonly type: 'RRSIG';
      readonly typeCovered: number;
      readonly algorithm: number;
      readonly labels: number;
      readonly originalTtl: number;
      readonly expiration: number;
      readonly inception: number;
      readonly keyTag: number;
      readonly signerName: DnsName;
      readonly signature: Uint8Array;
    }
  | { readonly type: 'NSEC'; readonly next: DnsName; readonly types: readonly number[] }
  | {
      readonly type: 'NSEC3';
      readonly hashAlgorithm: number;
      readonly flags: number;
      readonly iterations: number;
      readonly salt: Uint8Array;
      readonly nextHashed: Uint8Array;
      readonly types: readonly number[];
    }
  /** Any other type, or a known one whose RDATA we keep opaque (RFC 3597). */
  | { readonly type: 'unknown'; readonly data: Uint8Array };

/** A resource record. `type` is the numeric RR type; `data.type` names the representation. */
export interface ResourceRecord {
  readonly name: DnsName;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: Rdata;
}

/** A question (RFC 1035 §4.1.2). */
export interface Question {
  readonly name: DnsName;
  readonly type: number;
  readonly class: number;
}

/** An EDNS(0) option (RFC 6891 §6.1.2), kept as it came. */
export interface EdnsOption {
  readonly code: number;
  readonly data: Uint8Array;
}

/** The OPT pseudo-record's meaning (RFC 6891 §6.1.3). */
export interface Edns {
  /** Requestor's UDP payload size. */
  readonly udpPayloadSize: number;
  readonly version: number;
  /** DNSSEC OK bit (RFC 3225). */
  readonly dnssecOk: boolean;
  readonly options: readonly EdnsOption[];
}

/** Header flags (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD and CD). */
export interface DnsFlags {
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
}

/** A DNS message. `rcode` is the full 12-bit code (the OPT record carries the upper 8 bits). */
export interface DnsMessage {
  readonly id: number;
  readonly flags: DnsFlags;
  readonly rcode: number;
  readonly questions: readonly Question[];
  readonly answers: readonly ResourceRecord[];
  readonly authorities: readonly ResourceRecord[];
  /** Additional records, without the OPT record (which is `edns`). */
  readonly additionals: readonly ResourceRecord[];
  readonly edns: Edns | undefined;
}
