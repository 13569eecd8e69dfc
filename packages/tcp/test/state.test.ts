import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import type { TcpFlow, TcpState } from '@morgana/core';
import { createTcp, transition } from '../src/index.js';
import type { TcpEvent } from '../src/index.js';
import { createMemoryIpPair } from './helpers/memory-ip.js';

/**
 * The abstract model: the edges of the RFC 9293 state diagram (§3.3.2, Figure 5), written out
 * independently of state.ts, plus the edges the text adds: FIN-WAIT-1 to TIME-WAIT when a FIN
 * also acknowledges ours (§3.10.7.4), and any state to CLOSED on reset, abort or timeout.
 */
const RFC_EDGES = new Set([
  'CLOSED>LISTEN',
  'CLOSED>SYN-SENT',
  'LISTEN>SYN-RECEIVED',
  'LISTEN>SYN-SENT',
  'LISTEN>CLOSED',
  'SYN-SENT>SYN-RECEIVED',
  'SYN-SENT>ESTABLISHED',
  'SYN-RECEIVED>ESTABLISHED',
  'SYN-RECEIVED>FIN-WAIT-1',
  'SYN-RECEIVED>CLOSE-WAIT',
  'ESTABLISHED>FIN-WAIT-1',
  'ESTABLISHED>CLOSE-WAIT',
  'FIN-WAIT-1>FIN-WAIT-2',
  'FIN-WAIT-1>CLOSING',
  'FIN-WAIT-1>TIME-WAIT',
  'FIN-WAIT-2>TIME-WAIT',
  'CLOSE-WAIT>LAST-ACK',
  'CLOSING>TIME-WAIT',
  'LAST-ACK>CLOSED',
  'TIME-WAIT>CLOSED',
  'SYN-SENT>CLOSED',
  'SYN-RECEIVED>CLOSED',
  'ESTABLISHED>CLOSED',
  'FIN-WAIT-1>CLOSED',
  'FIN-WAIT-2>CLOSED',
  'CLOSE-WAIT>CLOSED',
  'CLOSING>CLOSED',
]);

const STATES: TcpState[] = [
  'CLOSED',
  'LISTEN',
  'SYN-SENT',
  'SYN-RECEIVED',
  'ESTABLISHED',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'CLOSE-WAIT',
  'CLOSING',
  'LAST-ACK',
  'TIME-WAIT',
];
const EVENTS: TcpEvent[] = [
  'passive-open',
  'active-open',
  'close',
  'abort',
  'rcv-syn',
  'rcv-syn-ack',
  'rcv-ack-of-syn',
  'rcv-fin',
  'rcv-ack-of-fin',
  'rcv-rst',
  'timeout',
];

/** States a side may be in, given what its user and its peer's user did (nobody aborted). */
function allowedStates(closedHere: boolean, closedThere: boolean): TcpState[] {
  if (closedHere && closedThere) return ['FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSING', 'TIME-WAIT', 'LAST-ACK', 'CLOSED'];
  if (closedHere) return ['FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSED'];
  if (closedThere) return ['ESTABLISHED', 'CLOSE-WAIT'];
  return ['ESTABLISHED'];
}

describe('the transition function against the RFC 9293 diagram', () => {
  it('only ever takes an edge of the diagram', () => {
    for (const state of STATES) {
      for (const event of EVENTS) {
        const next = transition(state, event);
        if (next !== undefined) expect(RFC_EDGES.has(`${state}>${next}`), `${state} --${event}--> ${next}`).toBe(true);
      }
    }
  });

  it('reaches every state of the diagram', () => {
    const reached = new Set<TcpState>(['CLOSED']);
    for (let round = 0; round < 12; round++) {
      for (const state of [...reached]) for (const event of EVENTS) {
        const next = transition(state, event);
        if (next !== undefined) reached.add(next);
      }
    }
    expect([...reached].sort()).toEqual([...STATES].sort());
  });
});

interface Side {
  flow: TcpFlow;
  state: TcpState;
  closed: boolean;
  written: number;
  read: number;
  readCorrupt: boolean;
}

interface Real {
  clock: VirtualClock;
  queues: { ab: Uint8Array[]; ba: Uint8Array[] };
  inject: { ab: (bytes: Uint8Array) => void; ba: (bytes: Uint8Array) => void };
  sides: { a: Side; b: Side };
  aborted: boolean;
}

type Model = { commands: number };

/** Records every state change of both sides and checks each one is an edge of the diagram. */
function observe(real: Real): void {
  for (const name of ['a', 'b'] as const) {
    const side = real.sides[name];
    const now = side.flow.info().state;
    if (now !== side.state) {
      expect(RFC_EDGES.has(`${side.state}>${now}`), `${name}: ${side.state} -> ${now}`).toBe(true);
      side.state = now;
    }
    if (!real.aborted) {
      const other = real.sides[name === 'a' ? 'b' : 'a'];
      expect(allowedStates(side.closed, other.closed), `${name} in ${now}`).toContain(now);
    }
  }
}

class Deliver implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly direction: 'ab' | 'ba',
    readonly mode: 'deliver' | 'drop' | 'duplicate' | 'reorder',
  ) {}
  check(): boolean {
    return true;
  }
  async run(_model: Model, real: Real): Promise<void> {
    const queue = real.queues[this.direction];
    if (queue.length === 0) return;
    if (this.mode === 'reorder' && queue.length > 1) {
      const last = queue.pop() as Uint8Array;
      queue.unshift(last);
      return;
    }
    const datagram = this.mode === 'duplicate' ? queue[0] : (queue.shift() as Uint8Array);
    if (this.mode !== 'drop') real.inject[this.direction](datagram);
    await real.clock.run(0);
    observe(real);
  }
  toString(): string {
    return `${this.mode} ${this.direction}`;
  }
}

class Write implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly side: 'a' | 'b',
    readonly size: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(_model: Model, real: Real): Promise<void> {
    const side = real.sides[this.side];
    if (side.closed || real.aborted || side.state === 'CLOSED') return;
    const data = new Uint8Array(this.size);
    for (let i = 0; i < data.length; i++) data[i] = (side.written + i) & 0xff;
    side.written += data.length;
    void side.flow.write(data).catch(() => undefined);
    await real.clock.run(0);
    observe(real);
  }
  toString(): string {
    return `write ${this.side} ${this.size}`;
  }
}

class Close implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: 'a' | 'b') {}
  check(): boolean {
    return true;
  }
  async run(_model: Model, real: Real): Promise<void> {
    const side = real.sides[this.side];
    if (side.closed) return;
    side.closed = true;
    const before = side.flow.info().state;
    void side.flow.shutdown().catch(() => undefined);
    await real.clock.run(0);
    const state = side.flow.info().state;
    // The user's CLOSE moves ESTABLISHED to FIN-WAIT-1 and CLOSE-WAIT to LAST-ACK at once.
    if (before === 'ESTABLISHED') expect(state).toBe('FIN-WAIT-1');
    if (before === 'CLOSE-WAIT') expect(state).toBe('LAST-ACK');
    observe(real);
  }
  toString(): string {
    return `close ${this.side}`;
  }
}

class Abort implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: 'a' | 'b') {}
  check(): boolean {
    return true;
  }
  async run(_model: Model, real: Real): Promise<void> {
    if (real.aborted) return;
    real.aborted = true;
    real.sides[this.side].flow.abort();
    await real.clock.run(0);
    expect(real.sides[this.side].flow.info().state).toBe('CLOSED');
    observe(real);
  }
  toString(): string {
    return `abort ${this.side}`;
  }
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(_model: Model, real: Real): Promise<void> {
    await real.clock.run(this.ms);
    observe(real);
  }
  toString(): string {
    return `advance ${this.ms}`;
  }
}

async function setup(seed: number): Promise<Real> {
  const clock = new VirtualClock();
  const pair = createMemoryIpPair({ clock });
  const queues = { ab: [] as Uint8Array[], ba: [] as Uint8Array[] };
  const random = createSeededRandom(seed);
  const a = createTcp({ ip: pair.a, clock, random: random.fork() }, { msl: 1000, timestamps: seed % 2 === 0, sack: seed % 3 !== 0 });
  const b = createTcp({ ip: pair.b, clock, random: random.fork() }, { msl: 1000, timestamps: seed % 2 === 0, sack: seed % 3 !== 0 });
  const listener = b.listen(80);
  const connecting = a.connect(pair.addressB, 80);
  await clock.run(10);
  const flowA = await connecting;
  const flowB = await listener.accept();
  // From here on, the test owns delivery.
  pair.a.tap = (payload) => {
    queues.ab.push(payload);
    return false;
  };
  pair.b.tap = (payload) => {
    queues.ba.push(payload);
    return false;
  };
  const side = (flow: TcpFlow): Side => ({ flow, state: 'ESTABLISHED', closed: false, written: 0, read: 0, readCorrupt: false });
  const real: Real = {
    clock,
    queues,
    inject: { ab: (bytes) => pair.b.inject(bytes, pair.addressA), ba: (bytes) => pair.a.inject(bytes, pair.addressB) },
    sides: { a: side(flowA), b: side(flowB) },
    aborted: false,
  };
  for (const s of [real.sides.a, real.sides.b]) {
    void (async () => {
      for (;;) {
        const chunk = await s.flow.read();
        if (chunk === null) return;
        for (let i = 0; i < chunk.length; i++) if (chunk[i] !== ((s.read + i) & 0xff)) s.readCorrupt = true;
        s.read += chunk.length;
      }
    })().catch(() => undefined);
  }
  return real;
}

const commands = [
  fc.constantFrom('ab' as const, 'ba' as const).chain((direction) =>
    fc.constantFrom('deliver', 'deliver', 'deliver', 'drop', 'duplicate', 'reorder').map((mode) => new Deliver(direction, mode as Deliver['mode'])),
  ),
  fc.tuple(fc.constantFrom('a' as const, 'b' as const), fc.integer({ min: 1, max: 4000 })).map(([side, size]) => new Write(side, size)),
  fc.constantFrom('a' as const, 'b' as const).map((side) => new Close(side)),
  fc.integer({ min: 1, max: 3000 }).map((ms) => new Advance(ms)),
  fc.constantFrom('a' as const, 'b' as const).map((side) => new Abort(side)),
];

describe('connections against the model (fc.commands)', () => {
  it('take only diagram edges, stay in states the users allow, and end closed with every byte delivered', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.commands(commands, { maxCommands: 60 }), async (seed, cmds) => {
        const real = await setup(seed);
        await fc.asyncModelRun(() => ({ model: { commands: 0 }, real }), cmds);
        // Heal the link, close both sides, let every timer run out.
        for (const name of ['a', 'b'] as const) {
          const side = real.sides[name];
          if (!side.closed) {
            side.closed = true;
            void side.flow.shutdown().catch(() => undefined);
            await real.clock.run(0);
            observe(real);
          }
        }
        for (let round = 0; round < 400 && (real.queues.ab.length > 0 || real.queues.ba.length > 0 || real.clock.pendingTimers() > 0); round++) {
          while (real.queues.ab.length > 0 || real.queues.ba.length > 0) {
            if (real.queues.ab.length > 0) real.inject.ab(real.queues.ab.shift() as Uint8Array);
            if (real.queues.ba.length > 0) real.inject.ba(real.queues.ba.shift() as Uint8Array);
            await real.clock.run(0);
            observe(real);
          }
          await real.clock.run(500);
          observe(real);
        }
        expect(real.sides.a.flow.info().state).toBe('CLOSED');
        expect(real.sides.b.flow.info().state).toBe('CLOSED');
        expect(real.clock.pendingTimers()).toBe(0);
        expect(real.sides.a.readCorrupt || real.sides.b.readCorrupt).toBe(false);
        if (!real.aborted) {
          expect(real.sides.b.read).toBe(real.sides.a.written);
          expect(real.sides.a.read).toBe(real.sides.b.written);
        }
      }),
      { numRuns: 60, interruptAfterTimeLimit: 10_000 },
    );
  });
});
