/**
 * Master (zone) files, RFC 1035 §5: `$ORIGIN`, `$TTL` (RFC 2308 §4), `$INCLUDE`, `@`,
 * relative names, blank owners, parentheses across lines, comments, quoted strings, `\DDD`
 * escapes, TTL and class in either order, and the generic syntax of RFC 3597 §5. Errors name
 * the file, line and column. {@link checkZone} applies the checks an operator expects.
 */
import { DecodeError } from '@morgana/core';
import { type DnsName, formatName, isSubdomain, nameEquals, nameKey, parseName } from './name.js';
import { parseRdata, parseTtl, type Token } from './presentation.js';
import { type ResourceRecord, RrClass, RrType, typeFromName, typeName } from './types.js';

/** A zone: its apex and its records. */
export interface Zone {
  readonly origin: DnsName;
  readonly records: readonly ResourceRecord[];
}

/** A zone file error with its place. */
export class ZoneError extends DecodeError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  constructor(file: string, line: number, column: number, message: string) {
    super('zone-syntax', `${file}:${line}:${column}: ${message}`);
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** Options of {@link parseZone}. */
export interface ParseZoneOptions {
  /** Name used in error messages, and the base for `$INCLUDE` paths. */
  readonly file?: string;
  /** The initial origin (the zone's apex); `$ORIGIN` changes it. */
  readonly origin: DnsName | string;
  /** Default TTL when neither `$TTL` nor an earlier record gives one. */
  readonly defaultTtl?: number;
  /**
   * Reads an included file (a path relative to the including file's folder, already checked
   * to stay inside it). Without it, `$INCLUDE` is an error.
   */
  readonly include?: (path: string) => string;
  /** Most records a zone may hold (all files together); default 1 000 000. */
  readonly maxRecords?: number;
  /** Deepest `$INCLUDE` nesting; default 8. */
  readonly maxIncludeDepth?: number;
}

interface Entry {
  readonly tokens: Token[];
  /** The line began with whitespace: the owner is the previous one (RFC 1035 §5.1). */
  readonly blankOwner: boolean;
  readonly line: number;
}

/** Splits a master file into logical entries (parentheses join lines). */
export function tokenizeZone(text: string, file = 'zone'): Entry[] {
  const entries: Entry[] = [];
  let tokens: Token[] = [];
  let blankOwner = false;
  let entryLine = 1;
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const fail = (message: string, at = i): never => {
    throw new ZoneError(file, line, at - lineStart + 1, message);
  };
  const finish = (): void => {
    if (tokens.length > 0) entries.push({ tokens, blankOwner, line: entryLine });
    tokens = [];
  };
  let atLineStart = true;
  while (i < text.length) {
    const char = text[i];
    if (atLineStart && depth === 0) {
      finish();
      blankOwner = char === ' ' || char === '\t';
      entryLine = line;
      atLineStart = false;
    }
    if (char === '\n') {
      line++;
      i++;
      lineStart = i;
      atLineStart = true;
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\r') {
      i++;
      continue;
    }
    if (char === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (char === '(') {
      depth++;
      i++;
      continue;
    }
    if (char === ')') {
      if (depth === 0) fail('")" without "("');
      depth--;
      i++;
      continue;
    }
    const column = i - lineStart + 1;
    const startLine = line;
    if (char === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated quoted string');
        const c = text[i];
        if (c === '"') break;
        if (c === '\\' && i + 1 < text.length) {
          value += c + text[i + 1];
          i += 2;
          continue;
        }
        if (c === '\n') {
          line++;
          lineStart = i + 1;
        }
        value += c;
        i++;
      }
      i++;
      tokens.push({ text: value, quoted: true, line: startLine, column });
      continue;
    }
    let value = '';
    while (i < text.length) {
      const c = text[i];
      if (c === '\\' && i + 1 < text.length) {
        value += c + text[i + 1];
        i += 2;
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === ';' || c === '(' || c === ')' || c === '"') break;
      value += c;
      i++;
    }
    tokens.push({ text: value, quoted: false, line: startLine, column });
  }
  if (depth !== 0) fail('unclosed "("');
  finish();
  return entries;
}

/** Joins an include path to the including file's folder, refusing to leave that folder. */
export function confineIncludePath(including: string, path: string): string {
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path) || path.includes('\\') || path.includes('\0')) {
    throw new DecodeError('include-outside', `$INCLUDE ${JSON.stringify(path)}: only paths relative to the zone's folder are allowed`);
  }
  const slash = including.lastIndexOf('/');
  const folder = slash < 0 ? [] : including.slice(0, slash).split('/');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new DecodeError('include-outside', `$INCLUDE ${JSON.stringify(path)} leaves the zone's folder`);
      parts.pop();
    } else parts.push(part);
  }
  return [...folder, ...parts].join('/');
}

const CLASSES: Record<string, number> = { IN: RrClass.IN, CH: RrClass.CH, HS: RrClass.HS };

function classFromName(text: string): number | undefined {
  const upper = text.toUpperCase();
  if (CLASSES[upper] !== undefined) return CLASSES[upper];
  const match = /^CLASS([0-9]{1,5})$/.exec(upper);
  return match !== null && Number(match[1]) <= 0xffff ? Number(match[1]) : undefined;
}

/** Parses a master file into records. Throws {@link ZoneError} at the first error. */
export function parseZone(text: string, options: ParseZoneOptions): Zone {
  const file = options.file ?? 'zone';
  const apex = typeof options.origin === 'string' ? parseName(options.origin) : options.origin;
  const maxRecords = options.maxRecords ?? 1_000_000;
  const maxDepth = options.maxIncludeDepth ?? 8;
  const records: ResourceRecord[] = [];
  const state = { ttl: options.defaultTtl as number | undefined, lastTtl: undefined as number | undefined, lastOwner: undefined as DnsName | undefined, lastClass: RrClass.IN as number };

  const run = (source: string, name: string, startOrigin: DnsName, depth: number): void => {
    let origin = startOrigin;
    const at = (token: Token | undefined, message: string): never => {
      throw new ZoneError(name, token?.line ?? 0, token?.column ?? 0, message);
    };
    const wrap = <T>(token: Token | undefined, work: () => T): T => {
      try {
        return work();
      } catch (error) {
        if (error instanceof ZoneError) throw error;
        const carried = (error as { token?: Token }).token ?? token;
        return at(carried, (error as Error).message);
      }
    };
    for (const entry of tokenizeZone(source, name)) {
      const first = entry.tokens[0];
      if (!entry.blankOwner && first.text.startsWith('$') && !first.quoted) {
        const directive = first.text.toUpperCase();
        const argument = entry.tokens[1];
        if (directive === '$ORIGIN') {
          if (argument === undefined) at(first, '$ORIGIN needs a name');
          origin = wrap(argument, () => parseName(argument.text, origin));
        } else if (directive === '$TTL') {
          if (argument === undefined) at(first, '$TTL needs a value');
          state.ttl = wrap(argument, () => parseTtl(argument));
        } else if (directive === '$INCLUDE') {
          if (argument === undefined) at(first, '$INCLUDE needs a file name');
          if (options.include === undefined) at(first, '$INCLUDE is not allowed here');
          if (depth >= maxDepth) at(first, `$INCLUDE nested deeper than ${maxDepth}`);
          const path = wrap(argument, () => confineIncludePath(name, argument.text));
          const includedOrigin = entry.tokens[2] === undefined ? origin : wrap(entry.tokens[2], () => parseName(entry.tokens[2].text, origin));
          const content = wrap(argument, () => (options.include as (p: string) => string)(path));
          run(content, path, includedOrigin, depth + 1);
        } else {
          at(first, `unsupported directive ${first.text}`);
        }
        continue;
      }
      let index = 0;
      let owner: DnsName;
      if (entry.blankOwner) {
        owner = state.lastOwner ?? at(first, 'a record with a blank owner needs a previous record');
      } else {
        owner = wrap(first, () => parseName(first.text, origin));
        index = 1;
      }
      let ttl: number | undefined;
      let klass: number | undefined;
      let type: number | undefined;
      // TTL and class may come in either order before the type (RFC 1035 §5.1).
      for (let k = 0; k < 3 && index < entry.tokens.length && type === undefined; k++) {
        const token = entry.tokens[index];
        if (ttl === undefined && /^[0-9]/.test(token.text)) {
          ttl = wrap(token, () => parseTtl(token));
          index++;
        } else if (klass === undefined && classFromName(token.text) !== undefined && typeFromName(token.text) === undefined) {
          klass = classFromName(token.text);
          index++;
        } else {
          type = typeFromName(token.text);
          if (type === undefined) at(token, `unknown type ${JSON.stringify(token.text)}`);
          index++;
        }
      }
      const rrType = type ?? at(entry.tokens[index] ?? first, 'missing record type');
      if (rrType === RrType.OPT || rrType === RrType.AXFR || rrType === RrType.IXFR || rrType === RrType.ANY) at(first, `${typeName(rrType)} cannot appear in a zone`);
      const recordClass = klass ?? state.lastClass;
      const recordTtl = ttl ?? state.ttl ?? state.lastTtl ?? at(first, 'no TTL: give one on the record or with $TTL');
      const data = wrap(entry.tokens[index - 1], () => parseRdata(rrType, entry.tokens.slice(index), origin, entry.tokens[index - 1]));
      if (records.length >= maxRecords) at(first, `more than ${maxRecords} records`);
      records.push({ name: owner, type: rrType, class: recordClass, ttl: recordTtl, data });
      state.lastOwner = owner;
      state.lastClass = recordClass;
      if (ttl !== undefined) state.lastTtl = ttl;
    }
  };
  run(text, file, apex, 0);
  return { origin: apex, records };
}

/** A problem found by {@link checkZone}. */
export interface ZoneProblem {
  readonly name: DnsName;
  readonly message: string;
}

/**
 * The checks an authoritative server applies before serving a zone: exactly one SOA and at
 * least one NS at the apex, CNAME exclusivity (RFC 1034 §3.6.2, RFC 2181 §10.1; RRSIG/NSEC may
 * sit beside it, RFC 4035 §2.5), no data outside the zone, one class, and glue present for
 * name servers inside delegated subzones (RFC 1034 §4.2.1).
 */
export function checkZone(zone: Zone): ZoneProblem[] {
  const problems: ZoneProblem[] = [];
  const apex = zone.origin;
  const byName = new Map<string, { name: DnsName; types: Set<number> }>();
  for (const record of zone.records) {
    if (!isSubdomain(record.name, apex)) {
      problems.push({ name: record.name, message: `${formatName(record.name)} is outside the zone ${formatName(apex)}` });
      continue;
    }
    if (record.class !== zone.records[0].class) problems.push({ name: record.name, message: 'records of more than one class' });
    const key = nameKey(record.name);
    let node = byName.get(key);
    if (node === undefined) byName.set(key, (node = { name: record.name, types: new Set() }));
    node.types.add(record.type);
  }
  const apexRecords = zone.records.filter((r) => nameEquals(r.name, apex));
  const soaCount = apexRecords.filter((r) => r.type === RrType.SOA).length;
  if (soaCount !== 1) problems.push({ name: apex, message: `the apex needs exactly one SOA record, found ${soaCount}` });
  if (!apexRecords.some((r) => r.type === RrType.NS)) problems.push({ name: apex, message: 'the apex has no NS record' });
  if (zone.records.some((r) => r.type === RrType.SOA && !nameEquals(r.name, apex))) {
    problems.push({ name: apex, message: 'SOA records are allowed only at the apex' });
  }
  for (const node of byName.values()) {
    if (node.types.has(RrType.CNAME)) {
      const others = [...node.types].filter((t) => t !== RrType.CNAME && t !== RrType.RRSIG && t !== RrType.NSEC);
      if (others.length > 0) problems.push({ name: node.name, message: `CNAME at ${formatName(node.name)} beside other data (${others.map(typeName).join(', ')})` });
      if (nameEquals(node.name, apex)) problems.push({ name: node.name, message: 'CNAME at the zone apex' });
    }
  }
  const cuts = [...byName.values()].filter((node) => node.types.has(RrType.NS) && !nameEquals(node.name, apex)).map((node) => node.name);
  for (const record of zone.records) {
    if (record.type !== RrType.NS || nameEquals(record.name, apex) || record.data.type !== 'NS') continue;
    const target = record.data.target;
    const insideCut = cuts.some((cut) => isSubdomain(target, cut));
    if (!insideCut) continue;
    const glue = byName.get(nameKey(target));
    if (glue === undefined || (!glue.types.has(RrType.A) && !glue.types.has(RrType.AAAA))) {
      problems.push({ name: record.name, message: `delegation to ${formatName(target)} needs glue (an A or AAAA record)` });
    }
  }
  return problems;
}
