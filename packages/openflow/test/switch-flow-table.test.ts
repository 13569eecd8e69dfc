// Model-based test of the switch's flow table (OpenFlow 1.3.x §5.2-5.5, §6.4): random adds
// (with and without overlap checking), modifies, strict and non-strict deletes filtered by
// cookie and out port, lookups and time, checked against a model whose matching, covering and
// overlap are decided by enumerating a small packet domain rather than by the table's code.
import fc from 'fast-check';
import { VirtualClock } from '@morgana/testing';
import { describe, expect, it } from 'vitest';
import {
  type FlowFilter, FlowTable, type Instruction, type Match, OFPFF_CHECK_OVERLAP, OFPFF_RESET_COUNTS, OFPP_ANY, type PacketFields,
} from '@morgana/openflow';

const MAX_FLOWS = 6;
/** Every packet of the domain: two ports, two sources, IPv4 to 0..7 or ARP (no IPv4 destination). */
const DOMAIN: readonly PacketFields[] = [1, 2].flatMap((inPort) => [1, 2].flatMap((ethSrc) =>
  [...Array.from({ length: 8 }, (_, ipv4Dst): PacketFields => ({ inPort, ethSrc, ethType: 0x0800, ipv4Dst })), { inPort, ethSrc, ethType: 0x0806 }]));

/** The model's own matcher: every named field equal under its mask. */
function modelMatches(match: Match, packet: PacketFields): boolean {
  for (const name of ['inPort', 'ethSrc', 'ipv4Dst'] as const) {
    const want = match[name];
    if (want === undefined) continue;
    const have = packet[name];
    const mask = match.masks?.[name] ?? 0xffffffff;
    if (have === undefined || ((want & mask) >>> 0) !== ((have & mask) >>> 0)) return false;
  }
  return true;
}

const domainOf = (match: Match): PacketFields[] => DOMAIN.filter((packet) => modelMatches(match, packet));
const modelCovers = (wide: Match, narrow: Match): boolean => domainOf(narrow).every((packet) => modelMatches(wide, packet));
const modelSame = (a: Match, b: Match): boolean => modelCovers(a, b) && modelCovers(b, a);
const modelOverlaps = (a: Match, b: Match): boolean => DOMAIN.some((packet) => modelMatches(a, packet) && modelMatches(b, packet));

interface ModelEntry {
  match: Match;
  priority: number;
  cookie: bigint;
  outPort: number;
  idleTimeout: number;
  hardTimeout: number;
  packets: number;
  bytes: number;
  installedAt: number;
  lastUsed: number;
  /** Insertion order: lookups prefer the older of equal priorities; a replaced entry keeps its place. */
  seq: number;
}

interface Model {
  entries: ModelEntry[];
  now: number;
  seq: number;
}

interface Real {
  table: FlowTable;
  clock: VirtualClock;
}

const output = (port: number): Instruction[] => [{ type: 'apply-actions', actions: [{ type: 'output', port, maxLen: 0xffff }] }];

function ordered(model: Model): ModelEntry[] {
  return [...model.entries].sort((a, b) => b.priority - a.priority || a.seq - b.seq);
}

function check(model: Model, real: Real): void {
  const expected = ordered(model).map((entry) => [entry.priority, entry.cookie, entry.outPort, entry.packets, entry.bytes]);
  const actual = real.table.all().map((entry) => {
    const first = entry.instructions[0];
    const action = first?.type === 'apply-actions' ? first.actions[0] : undefined;
    return [entry.priority, entry.cookie, action?.type === 'output' ? action.port : -1, Number(entry.packetCount), Number(entry.byteCount)];
  });
  expect(actual).toEqual(expected);
  expect(real.table.size).toBeLessThanOrEqual(MAX_FLOWS);
}

function selects(model: ModelEntry, filter: FlowFilter): boolean {
  const hit = filter.strict ? model.priority === filter.priority && modelSame(model.match, filter.match) : modelCovers(filter.match, model.match);
  const mask = filter.cookieMask ?? 0n;
  const cookieOk = mask === 0n || (model.cookie & mask) === ((filter.cookie ?? 0n) & mask);
  const portOk = (filter.outPort ?? OFPP_ANY) === OFPP_ANY || model.outPort === filter.outPort;
  return hit && cookieOk && portOk;
}

type Command = fc.Command<Model, Real>;

class Add implements Command {
  constructor(readonly match: Match, readonly priority: number, readonly cookie: bigint, readonly outPort: number, readonly idleTimeout: number, readonly hardTimeout: number, readonly checkOverlap: boolean) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const result = real.table.add({
      match: this.match, priority: this.priority, cookie: this.cookie, idleTimeout: this.idleTimeout, hardTimeout: this.hardTimeout,
      flags: this.checkOverlap ? OFPFF_CHECK_OVERLAP : 0, instructions: output(this.outPort),
    });
    const same = model.entries.find((entry) => entry.priority === this.priority && modelSame(entry.match, this.match));
    const fresh = { match: this.match, priority: this.priority, cookie: this.cookie, outPort: this.outPort, idleTimeout: this.idleTimeout, hardTimeout: this.hardTimeout, packets: 0, bytes: 0, installedAt: model.now, lastUsed: model.now };
    if (this.checkOverlap && model.entries.some((entry) => entry.priority === this.priority && !modelSame(entry.match, this.match) && modelOverlaps(entry.match, this.match))) {
      expect(result).toBe('overlap');
    } else if (same !== undefined) {
      expect(result).toBe('replaced');
      Object.assign(same, fresh);
    } else if (model.entries.length >= MAX_FLOWS) {
      expect(result).toBe('table-full');
    } else {
      expect(result).toBe('added');
      model.entries.push({ ...fresh, seq: model.seq++ });
    }
    check(model, real);
  }
  toString = (): string => `add(${JSON.stringify(this.match)}, prio ${this.priority}, cookie ${this.cookie}, out ${this.outPort}, idle ${this.idleTimeout}, hard ${this.hardTimeout}${this.checkOverlap ? ', check-overlap' : ''})`;
}

class Modify implements Command {
  constructor(readonly filter: FlowFilter, readonly outPort: number, readonly resetCounts: boolean) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const count = real.table.modify(this.filter, output(this.outPort), this.resetCounts ? OFPFF_RESET_COUNTS : 0);
    const hits = model.entries.filter((entry) => selects(entry, this.filter));
    for (const entry of hits) {
      entry.outPort = this.outPort;
      if (this.resetCounts) {
        entry.packets = 0;
        entry.bytes = 0;
      }
    }
    expect(count).toBe(hits.length);
    check(model, real);
  }
  toString = (): string => `modify(${JSON.stringify({ ...this.filter, cookie: String(this.filter.cookie), cookieMask: String(this.filter.cookieMask) })}, out ${this.outPort}${this.resetCounts ? ', reset' : ''})`;
}

class Delete implements Command {
  constructor(readonly filter: FlowFilter) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const removed = real.table.delete(this.filter);
    const hits = model.entries.filter((entry) => selects(entry, this.filter));
    model.entries = model.entries.filter((entry) => !hits.includes(entry));
    expect(removed.map((entry) => [entry.priority, entry.cookie]).sort()).toEqual(hits.map((entry) => [entry.priority, entry.cookie]).sort());
    check(model, real);
  }
  toString = (): string => `delete(${JSON.stringify({ ...this.filter, cookie: String(this.filter.cookie), cookieMask: String(this.filter.cookieMask) })})`;
}

class Lookup implements Command {
  constructor(readonly packet: PacketFields, readonly length: number) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const hit = real.table.lookup(this.packet, this.length);
    const expected = ordered(model).find((entry) => modelMatches(entry.match, this.packet));
    expect(hit === undefined ? undefined : [hit.priority, hit.cookie]).toEqual(expected === undefined ? undefined : [expected.priority, expected.cookie]);
    if (expected !== undefined) {
      expected.packets += 1;
      expected.bytes += this.length;
      expected.lastUsed = model.now;
    }
    check(model, real);
  }
  toString = (): string => `lookup(${JSON.stringify(this.packet)})`;
}

class Advance implements Command {
  constructor(readonly ms: number) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    real.clock.advance(this.ms);
    model.now += this.ms;
    const expired = real.table.expire();
    // Hard timeouts win over idle ones when both are due (1.3.x §5.5 lists them independently).
    const due = model.entries.flatMap((entry) => {
      if (entry.hardTimeout > 0 && model.now - entry.installedAt >= entry.hardTimeout * 1000) return [{ entry, reason: 1 }];
      if (entry.idleTimeout > 0 && model.now - entry.lastUsed >= entry.idleTimeout * 1000) return [{ entry, reason: 0 }];
      return [];
    });
    model.entries = model.entries.filter((entry) => !due.some((item) => item.entry === entry));
    expect(expired.map(({ entry, reason }) => [entry.cookie, entry.priority, reason]).sort()).toEqual(due.map(({ entry, reason }) => [entry.cookie, entry.priority, reason]).sort());
    check(model, real);
  }
  toString = (): string => `advance(${this.ms})`;
}

const prefixMask = fc.constantFrom(0xffffffff, 0xfffffffe, 0xfffffffc);
const match: fc.Arbitrary<Match> = fc.record({
  inPort: fc.option(fc.constantFrom(1, 2), { nil: undefined }),
  ethSrc: fc.option(fc.constantFrom(1, 2), { nil: undefined }),
  ipv4Dst: fc.option(fc.tuple(fc.integer({ min: 0, max: 7 }), prefixMask), { nil: undefined }),
}).map(({ inPort, ethSrc, ipv4Dst }) => {
  const built: Record<string, unknown> = {};
  if (inPort !== undefined) built.inPort = inPort;
  if (ethSrc !== undefined) built.ethSrc = ethSrc;
  if (ipv4Dst !== undefined) {
    built.ipv4Dst = ipv4Dst[0];
    if (ipv4Dst[1] !== 0xffffffff) built.masks = { ipv4Dst: ipv4Dst[1] };
  }
  return built as Match;
});
const priority = fc.constantFrom(0, 10, 20);
const cookie = fc.integer({ min: 0, max: 3 }).map(BigInt);
const port = fc.constantFrom(1, 2, 3);
const filter: fc.Arbitrary<FlowFilter> = fc.record({
  match, strict: fc.boolean(), priority, cookie, cookieMask: fc.constantFrom(0n, 1n, 3n), outPort: fc.constantFrom(OFPP_ANY, 1, 2, 3),
});

const commands = fc.commands<Model, Real>([
  fc.tuple(match, priority, cookie, port, fc.constantFrom(0, 0, 2), fc.constantFrom(0, 0, 3), fc.boolean()).map((args) => new Add(...args)),
  fc.tuple(filter, port, fc.boolean()).map(([f, p, reset]) => new Modify(f, p, reset)),
  filter.map((f) => new Delete(f)),
  fc.tuple(fc.constantFrom(...DOMAIN), fc.integer({ min: 60, max: 1500 })).map(([packet, length]) => new Lookup(packet, length)),
  fc.constantFrom(500, 1_000, 2_000).map((ms) => new Advance(ms)),
], { maxCommands: 60 });

describe('flow table model', () => {
  it('adds, modifies, deletes, looks up and expires like the model (priorities, overlap checks, cookies, out ports, counters, timeouts; 1.3.x §6.4, §5.5)', () => {
    fc.assert(fc.property(commands, (sequence) => {
      const setup = (): { model: Model; real: Real } => {
        const clock = new VirtualClock();
        return { model: { entries: [], now: 0, seq: 0 }, real: { table: new FlowTable({ clock, maxFlows: MAX_FLOWS }), clock } };
      };
      fc.modelRun(setup, sequence);
    }), { numRuns: 300 });
  });
});
