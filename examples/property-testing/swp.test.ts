// Property tests of SWP: the codec against arbitraries and mutators, and the protocol as a
// whole against a model, over a simulated network that loses, duplicates and reorders.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodeError, parseIpv4 } from '@morgana/core';
import { createDirectStack } from '@morgana/stack';
import { SimulatedNetwork, VirtualClock, arbPayload, createPcapCollector, createSeededRandom, createWiretap } from '@morgana/testing';
import type { LinkConditions, SimulatedNetif } from '@morgana/testing';
import { corruptLength, genericMutators, mutate } from '@morgana/testing/mutators';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SwpField, createSwpReceiver, createSwpSender, emitSwp, parseSwp } from './swp.js';
import type { SwpPacket, SwpSender } from './swp.js';

// ---- 1. The codec ------------------------------------------------------------------------

const seq = fc.integer({ min: 0, max: 0xffff_ffff });
// Plain records (noNullPrototype): they must deep-equal what parseSwp returns.
const arbSwpPacket: fc.Arbitrary<SwpPacket> = fc.oneof(
  fc.record({ kind: fc.constant('data' as const), seq, payload: fc.uint8Array({ maxLength: 64 }) }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant('ack' as const), seq }, { noNullPrototype: true }),
);

/** Packets mutated into something the codec must refuse: length lies and generic damage. */
const lengthLies = corruptLength({ name: 'swp.length', offset: SwpField.length, size: 2 }, { invalid: true });
const arbHostileSwp = mutate(arbSwpPacket.map(emitSwp), [lengthLies, ...genericMutators()]);

describe('SWP codec', () => {
  it('parses what it emits', () => {
    fc.assert(
      fc.property(arbSwpPacket, (packet) => {
        expect(parseSwp(emitSwp(packet))).toEqual(packet);
      }),
    );
  });

  it('rejects hostile packets with DecodeError and never throws anything else', () => {
    fc.assert(
      fc.property(arbHostileSwp, (mutant) => {
        let thrown: unknown;
        try {
          parseSwp(mutant.bytes);
        } catch (error) {
          thrown = error;
        }
        if (thrown !== undefined) expect(thrown, mutant.mutation).toBeInstanceOf(DecodeError);
        if (mutant.invalid) expect(thrown, `${mutant.mutation} was accepted`).toBeInstanceOf(DecodeError);
      }),
      { numRuns: 500 },
    );
  });
});

// ---- 2. The protocol, model against real --------------------------------------------------

const SENDER = parseIpv4('10.0.0.1');
const RECEIVER = parseIpv4('10.0.0.2');
const PORT = 7000;

/** Two pure-TypeScript stacks on a simulated switch, an SWP sender on one, a receiver on the other. */
interface World {
  readonly clock: VirtualClock;
  readonly sender: SwpSender;
  readonly delivered: Uint8Array[];
  /** The sender's cable: the commands change its conditions. */
  readonly cable: SimulatedNetif;
  /** Sends raw datagrams to the receiver from a third host, 10.0.0.3. */
  readonly attack: (datagram: Uint8Array) => void;
  /** Everything the sender's device saw, as a pcap file. */
  readonly trace: () => Uint8Array;
}

function createWorld(seed: number): World {
  const clock = new VirtualClock();
  const random = createSeededRandom(seed);
  const net = new SimulatedNetwork({ clock, random });
  const cable = net.attach({ name: 'sender' });
  const pcap = createPcapCollector();
  const left = createDirectStack({ netif: createWiretap(cable, { clock, sink: pcap.sink }), clock, random: random.fork(), ipv4: { address: '10.0.0.1/24' } });
  const right = createDirectStack({ netif: net.attach({ name: 'receiver' }), clock, random: random.fork(), ipv4: { address: '10.0.0.2/24' } });
  const attacker = createDirectStack({ netif: net.attach({ name: 'attacker' }), clock, random: random.fork(), ipv4: { address: '10.0.0.3/24' } }).udp.bind();
  const delivered: Uint8Array[] = [];
  createSwpReceiver(right.udp.bind({ port: PORT }), (message) => delivered.push(message));
  // Enough retries that a 30% lossy link gives up with negligible probability (0.51^31).
  const sender = createSwpSender({ socket: left.udp.bind({ address: SENDER }), clock, peer: { address: RECEIVER, port: PORT } }, { maxRetries: 30 });
  const attack = (datagram: Uint8Array): void => {
    attacker.send(datagram, RECEIVER, PORT);
  };
  return { clock, sender, delivered, cable, attack, trace: () => pcap.bytes() };
}

interface Model {
  /** Every message the sender accepted, in order. */
  readonly sent: Uint8Array[];
}

/** The safety property, checked after every command: what arrived is a prefix of what was sent. */
function expectPrefix(model: Model, world: World): void {
  expect(world.delivered).toEqual(model.sent.slice(0, world.delivered.length));
}

class SendCommand implements fc.Command<Model, World> {
  constructor(readonly message: Uint8Array) {}
  check(model: Readonly<Model>): boolean {
    return model.sent.length < 50;
  }
  run(model: Model, world: World): void {
    expect(world.sender.send(this.message)).toBe(true);
    model.sent.push(this.message);
    expectPrefix(model, world);
  }
  toString(): string {
    return `send(${this.message.length} bytes)`;
  }
}

class AdvanceCommand implements fc.Command<Model, World> {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    world.clock.advance(this.ms);
    expectPrefix(model, world);
  }
  toString(): string {
    return `advance(${this.ms} ms)`;
  }
}

class LinkCommand implements fc.Command<Model, World> {
  constructor(readonly conditions: LinkConditions) {}
  check(): boolean {
    return true;
  }
  run(_model: Model, world: World): void {
    world.cable.setLink(this.conditions);
  }
  toString(): string {
    return `link(${JSON.stringify(this.conditions)})`;
  }
}

class AttackCommand implements fc.Command<Model, World> {
  constructor(readonly datagram: Uint8Array, readonly mutation: string) {}
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    world.attack(this.datagram);
    expectPrefix(model, world);
  }
  toString(): string {
    return `attack(${this.mutation})`;
  }
}

const commands = [
  arbPayload({ minLength: 1, maxLength: 100 }).map((message) => new SendCommand(message)),
  fc.integer({ min: 0, max: 1000 }).map((ms) => new AdvanceCommand(ms)),
  fc
    .record(
      {
        loss: fc.double({ min: 0, max: 0.3, noNaN: true }),
        duplicate: fc.double({ min: 0, max: 0.3, noNaN: true }),
        reorder: fc.double({ min: 0, max: 0.5, noNaN: true }),
        delay: fc.integer({ min: 0, max: 50 }),
        jitter: fc.integer({ min: 0, max: 100 }),
      },
      { noNullPrototype: true },
    )
    .map((conditions) => new LinkCommand(conditions)),
  // Only mutants that are guaranteed malformed: a well-formed forged DATA would be delivered,
  // SWP has no authentication.
  arbHostileSwp.filter((mutant) => mutant.invalid).map((mutant) => new AttackCommand(mutant.bytes, mutant.mutation)),
];

describe('SWP over a lossy, duplicating, reordering network', () => {
  it('delivers every message exactly once and in order, whatever the network does (model-based)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.commands(commands, { maxCommands: 40 }), (seed, program) => {
        const world = createWorld(seed);
        const model: Model = { sent: [] };
        try {
          fc.modelRun(() => ({ model, real: world }), program);
          // Liveness: once the network behaves, everything sent arrives.
          world.cable.setLink({});
          for (let waited = 0; world.sender.pending > 0 && waited < 60_000; waited += 100) world.clock.advance(100);
          expect(world.sender.failed).toBe(false);
          expect(world.sender.pending).toBe(0);
          expect(world.delivered).toEqual(model.sent);
        } catch (error) {
          // Keep the evidence: open it with `tshark -r` or Wireshark.
          writeFileSync(join(tmpdir(), 'swp-failure.pcap'), world.trace());
          throw error;
        }
      }),
      { numRuns: 60 },
    );
  });
});
