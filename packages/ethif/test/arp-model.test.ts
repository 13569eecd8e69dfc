// The ARP cache against a model: a Map with expiry and least-recently-used eviction.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpv4, formatMac } from '@morgana/core';
import type { Arp, Ipv4Address, MacAddress } from '@morgana/core';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import { ArpOperation, createArp, createEthernet } from '../src/index.js';
import { OUR_IP, ScriptedNetif, arpFrame, arpReply } from './helpers.js';

const CACHE_LIMIT = 3;
const LIFETIME = 10_000;
const HOSTS: Ipv4Address[] = [10, 11, 12, 13, 14, 15].map((last) => ((10 << 24) | last) as Ipv4Address);
const MACS: MacAddress[] = [0xa1, 0xa2, 0xa3, 0xa4].map((last) => (0x02_00_00_00_00_00 + last) as MacAddress);

interface ModelEntry {
  mac: MacAddress;
  expiresAt: number;
  lastUse: number;
}

interface Model {
  now: number;
  useSequence: number;
  statics: Map<Ipv4Address, MacAddress>;
  dynamic: Map<Ipv4Address, ModelEntry>;
}

interface Real {
  clock: VirtualClock;
  netif: ScriptedNetif;
  arp: Arp;
}

type ArpCommand = fc.Command<Model, Real>;

function live(model: Model, address: Ipv4Address): ModelEntry | undefined {
  const entry = model.dynamic.get(address);
  return entry !== undefined && entry.expiresAt > model.now ? entry : undefined;
}

/** RFC 826 merge into the model: update a held entry, create one only when `create`. */
function modelLearn(model: Model, address: Ipv4Address, mac: MacAddress, create: boolean): void {
  if (model.statics.has(address)) return;
  const entry = live(model, address);
  const expiresAt = model.now + LIFETIME;
  if (entry !== undefined) {
    Object.assign(entry, { mac, expiresAt, lastUse: ++model.useSequence });
    return;
  }
  if (!create) return;
  if (model.dynamic.size >= CACHE_LIMIT) {
    let victim: Ipv4Address | undefined;
    for (const [candidate, row] of model.dynamic) if (victim === undefined || row.lastUse < (model.dynamic.get(victim) as ModelEntry).lastUse) victim = candidate;
    model.dynamic.delete(victim as Ipv4Address);
  }
  model.dynamic.set(address, { mac, expiresAt, lastUse: ++model.useSequence });
}

function checkInvariants(model: Model, real: Real): void {
  const rows = real.arp.entries();
  const dynamicRows = rows.filter((row) => row.kind === 'dynamic');
  expect(dynamicRows.length).toBeLessThanOrEqual(CACHE_LIMIT);
  const expected = [
    ...[...model.statics].map(([address, mac]) => ({ address, mac, kind: 'static', expiresAt: undefined })),
    ...[...model.dynamic].map(([address, row]) => ({ address, mac: row.mac, kind: 'dynamic', expiresAt: row.expiresAt })),
  ];
  const order = (a: { address: number }, b: { address: number }) => a.address - b.address;
  expect([...rows].sort(order)).toEqual(expected.sort(order));
  // Only the expiry sweep may be left running, and only while there is something to expire.
  expect(real.clock.pendingTimers()).toBe(model.dynamic.size > 0 ? 1 : 0);
}

class Reply implements ArpCommand {
  constructor(
    readonly host: Ipv4Address,
    readonly mac: MacAddress,
  ) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    real.netif.inject(arpReply(this.mac, this.host));
    modelLearn(model, this.host, this.mac, true);
    checkInvariants(model, real);
  }
  toString = (): string => `reply(${formatIpv4(this.host)} is-at ${formatMac(this.mac)})`;
}

/** A gratuitous ARP: a broadcast request for the sender's own address, not for us. */
class Gratuitous implements ArpCommand {
  constructor(
    readonly host: Ipv4Address,
    readonly mac: MacAddress,
  ) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    real.netif.inject(arpFrame({ operation: ArpOperation.request, senderMac: this.mac, senderAddress: this.host, targetAddress: this.host }));
    modelLearn(model, this.host, this.mac, false);
    checkInvariants(model, real);
  }
  toString = (): string => `gratuitous(${formatIpv4(this.host)} is-at ${formatMac(this.mac)})`;
}

class Lookup implements ArpCommand {
  constructor(readonly host: Ipv4Address) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const fixed = model.statics.get(this.host);
    const entry = live(model, this.host);
    if (fixed === undefined && entry !== undefined) entry.lastUse = ++model.useSequence;
    expect(real.arp.lookup(this.host)).toBe(fixed ?? entry?.mac);
    checkInvariants(model, real);
  }
  toString = (): string => `lookup(${formatIpv4(this.host)})`;
}

class Advance implements ArpCommand {
  constructor(readonly ms: number) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    real.clock.advance(this.ms);
    model.now += this.ms;
    for (const [address, row] of model.dynamic) if (row.expiresAt <= model.now) model.dynamic.delete(address);
    checkInvariants(model, real);
  }
  toString = (): string => `advance(${this.ms})`;
}

class AddStatic implements ArpCommand {
  constructor(
    readonly host: Ipv4Address,
    readonly mac: MacAddress,
  ) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    real.arp.addStatic(this.host, this.mac);
    model.statics.set(this.host, this.mac);
    model.dynamic.delete(this.host);
    checkInvariants(model, real);
  }
  toString = (): string => `addStatic(${formatIpv4(this.host)}, ${formatMac(this.mac)})`;
}

class Remove implements ArpCommand {
  constructor(readonly host: Ipv4Address) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    real.arp.remove(this.host);
    model.statics.delete(this.host);
    model.dynamic.delete(this.host);
    checkInvariants(model, real);
  }
  toString = (): string => `remove(${formatIpv4(this.host)})`;
}

const host = fc.constantFrom(...HOSTS);
const mac = fc.constantFrom(...MACS);

const commands = fc.commands<Model, Real>(
  [
    fc.tuple(host, mac).map(([h, m]) => new Reply(h, m)),
    fc.tuple(host, mac).map(([h, m]) => new Gratuitous(h, m)),
    host.map((h) => new Lookup(h)),
    fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.constant(LIFETIME)).map((ms) => new Advance(ms)),
    fc.tuple(host, mac).map(([h, m]) => new AddStatic(h, m)),
    host.map((h) => new Remove(h)),
  ],
  { maxCommands: 60 },
);

describe('ARP cache model', () => {
  it('answers lookups like a Map with expiry and LRU eviction, never holding more than cacheLimit entries', () => {
    fc.assert(
      fc.property(commands, (sequence) => {
        const setup = (): { model: Model; real: Real } => {
          const clock = new VirtualClock();
          const netif = new ScriptedNetif();
          const arp = createArp(
            { ethernet: createEthernet({ netif }), clock, random: createSeededRandom(3) },
            { addresses: [OUR_IP], announceCount: 0, cacheLimit: CACHE_LIMIT, entryLifetime: LIFETIME },
          );
          return { model: { now: 0, useSequence: 0, statics: new Map(), dynamic: new Map() }, real: { clock, netif, arp } };
        };
        fc.modelRun(setup, sequence);
      }),
      { numRuns: 300 },
    );
  });
});
