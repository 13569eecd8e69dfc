/**
 * The authoritative lookup of RFC 1034 §4.3.2 over an indexed zone: exact answers, CNAME
 * chains inside the zone, wildcards (RFC 4592), delegations with referrals and glue, and
 * NXDOMAIN/NODATA with the SOA for negative caching (RFC 2308 §3).
 */
import { type DnsName, isSubdomain, nameEquals, nameKey } from './name.js';
import { Rcode, type ResourceRecord, RrType } from './types.js';
import type { Zone } from './zone.js';

/** One name in a zone and its RRsets by type. */
interface ZoneNode {
  readonly name: DnsName;
  readonly rrsets: Map<number, ResourceRecord[]>;
}

/** A zone prepared for lookups. */
export interface IndexedZone {
  readonly origin: DnsName;
  readonly soa: ResourceRecord;
  readonly nodes: ReadonlyMap<string, ZoneNode>;
  /** Every name that exists, empty non-terminals included (RFC 4592 §2.2.2). */
  readonly existing: ReadonlySet<string>;
  readonly records: readonly ResourceRecord[];
}

/** Indexes a zone. The zone must have passed `checkZone`. */
export function indexZone(zone: Zone): IndexedZone {
  const nodes = new Map<string, ZoneNode>();
  const existing = new Set<string>();
  for (const record of zone.records) {
    const key = nameKey(record.name);
    let node = nodes.get(key);
    if (node === undefined) nodes.set(key, (node = { name: record.name, rrsets: new Map() }));
    let rrset = node.rrsets.get(record.type);
    if (rrset === undefined) node.rrsets.set(record.type, (rrset = []));
    rrset.push(record);
    for (let i = 0; i <= record.name.length - zone.origin.length; i++) existing.add(nameKey(record.name.slice(i)));
  }
  const soa = nodes.get(nameKey(zone.origin))?.rrsets.get(RrType.SOA)?.[0];
  if (soa === undefined) throw new Error('zone has no SOA at its apex');
  return { origin: zone.origin, soa, nodes, existing, records: zone.records };
}

/** The sections of an answer, before encoding. */
export interface LookupResult {
  readonly rcode: number;
  /** Authoritative answer (false for referrals). */
  readonly aa: boolean;
  readonly answers: ResourceRecord[];
  readonly authorities: ResourceRecord[];
  readonly additionals: ResourceRecord[];
}

/** Longest CNAME chain followed inside a zone before giving up (a loop guard). */
const MAX_CNAME_CHAIN = 16;

/** The SOA for a negative answer, TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §3). */
function negativeSoa(zone: IndexedZone): ResourceRecord {
  const soa = zone.soa;
  const minimum = soa.data.type === 'SOA' ? soa.data.minimum : soa.ttl;
  return { ...soa, ttl: Math.min(soa.ttl, minimum) };
}

function withOwner(records: readonly ResourceRecord[], owner: DnsName): ResourceRecord[] {
  return records.map((record) => ({ ...record, name: owner }));
}

/** Glue and in-zone addresses for names in NS/MX/SRV targets (additional section processing, RFC 1034 §4.3.2 step 6). */
function addressesFor(zone: IndexedZone, targets: readonly DnsName[], includeBelowCuts: boolean): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (const target of targets) {
    if (!isSubdomain(target, zone.origin)) continue;
    const node = zone.nodes.get(nameKey(target));
    if (node === undefined) continue;
    if (!includeBelowCuts && findCut(zone, target) !== undefined) continue;
    for (const type of [RrType.A, RrType.AAAA]) {
      const rrset = node.rrsets.get(type);
      if (rrset !== undefined) out.push(...rrset);
    }
  }
  return out;
}

/** The highest delegation point (NS below the apex) at or above `name`, if any. */
function findCut(zone: IndexedZone, name: DnsName): ZoneNode | undefined {
  for (let depth = zone.origin.length + 1; depth <= name.length; depth++) {
    const node = zone.nodes.get(nameKey(name.slice(name.length - depth)));
    if (node?.rrsets.has(RrType.NS)) return node;
  }
  return undefined;
}

function targetsOf(records: readonly ResourceRecord[]): DnsName[] {
  const targets: DnsName[] = [];
  for (const record of records) {
    const data = record.data;
    if (data.type === 'NS') targets.push(data.target);
    else if (data.type === 'MX') targets.push(data.exchange);
    else if (data.type === 'SRV') targets.push(data.target);
  }
  return targets;
}

/** Answers `qname`/`qtype` from `zone` (the caller picked the zone that encloses qname). */
export function lookup(zone: IndexedZone, qname: DnsName, qtype: number): LookupResult {
  const answers: ResourceRecord[] = [];
  let name = qname;
  for (let step = 0; step <= MAX_CNAME_CHAIN; step++) {
    // Step 3b: a delegation above or at the name gives a referral (DS is the parent's own data, RFC 4035 §3.1.4.1).
    const cut = findCut(zone, name);
    if (cut !== undefined && !(qtype === RrType.DS && nameEquals(cut.name, name))) {
      const ns = cut.rrsets.get(RrType.NS) ?? [];
      if (answers.length > 0) return { rcode: Rcode.NOERROR, aa: true, answers, authorities: [], additionals: [] };
      return { rcode: Rcode.NOERROR, aa: false, answers, authorities: [...ns], additionals: addressesFor(zone, targetsOf(ns), true) };
    }
    const key = nameKey(name);
    let node = zone.nodes.get(key);
    let owner = name;
    if (node === undefined && !zone.existing.has(key)) {
      // Step 3c: wildcard at the closest encloser (RFC 4592 §3.3.1).
      let encloser = name.slice(1);
      while (encloser.length > zone.origin.length && !zone.existing.has(nameKey(encloser))) encloser = encloser.slice(1);
      node = zone.nodes.get(nameKey(['*', ...encloser]));
      if (node === undefined) {
        return { rcode: Rcode.NXDOMAIN, aa: true, answers, authorities: [negativeSoa(zone)], additionals: [] };
      }
      owner = name;
    }
    if (node === undefined) {
      // An empty non-terminal: the name exists but owns nothing (NODATA).
      return { rcode: Rcode.NOERROR, aa: true, answers, authorities: [negativeSoa(zone)], additionals: [] };
    }
    const cname = node.rrsets.get(RrType.CNAME);
    if (cname !== undefined && qtype !== RrType.CNAME) {
      answers.push(...withOwner(cname, owner));
      const data = cname[0].data;
      if (data.type !== 'CNAME') break;
      const target = data.target;
      // Follow the chain only inside this zone; the resolver follows it elsewhere.
      if (!isSubdomain(target, zone.origin) || answers.some((r, i) => i < answers.length - 1 && nameEquals(r.name, target))) {
        return { rcode: Rcode.NOERROR, aa: true, answers, authorities: [], additionals: [] };
      }
      name = target;
      continue;
    }
    if (qtype === RrType.ANY) {
      // RFC 8482 §4.2: answer ANY with one RRset rather than everything.
      const first = [...node.rrsets.keys()].sort((a, b) => a - b)[0];
      answers.push(...withOwner(node.rrsets.get(first) ?? [], owner));
      return { rcode: Rcode.NOERROR, aa: true, answers, authorities: [], additionals: [] };
    }
    const rrset = node.rrsets.get(qtype);
    if (rrset === undefined) {
      return { rcode: Rcode.NOERROR, aa: true, answers, authorities: [negativeSoa(zone)], additionals: [] };
    }
    answers.push(...withOwner(rrset, owner));
    return { rcode: Rcode.NOERROR, aa: true, answers, authorities: [], additionals: addressesFor(zone, targetsOf(rrset), false) };
  }
  // The chain was longer than we follow: return what we have.
  return { rcode: Rcode.NOERROR, aa: true, answers, authorities: [], additionals: [] };
}
