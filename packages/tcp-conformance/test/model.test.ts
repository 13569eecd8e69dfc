/**
 * Random exploration against the abstract model: fast-check drives the tester (segments from
 * the peer) and the control side (the user's calls) of a morgana connection, steps the RFC 9293
 * transition function alongside, and checks after every command that the implementation is in
 * the state the model reached.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TcpState } from '@morgana/core';
import { Tester, createCaseContext, createMorganaTarget, modelState, pattern } from '../src/index.js';
import type { CaseContext, MorganaTarget, Peer } from '../src/index.js';
import { TcpFlag } from '@morgana/tcp';
import type { TcpEvent } from '@morgana/tcp';

/** Short MSL so TIME-WAIT ends within a run. */
const MSL = 500;
const QUIET = 5;

interface Model {
  state: TcpState;
  /** The peer sent its FIN. */
  peerFin: boolean;
  /** The user called CLOSE. */
  userClosed: boolean;
  /** When the model entered TIME-WAIT. */
  timeWaitSince: number | undefined;
  bytesSent: number;
  /** A RST or ABORT ended the connection: undelivered data may be lost. */
  reset: boolean;
  trace: string[];
}

interface Real {
  target: MorganaTarget;
  t: CaseContext;
  peer: Peer;
  /** The target's FIN sequence number once seen. */
  finSeq: number | undefined;
}

const LIVE: readonly TcpState[] = ['ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSE-WAIT', 'CLOSING', 'LAST-ACK'];

/** Every state the exploration reached, over all runs. */
const reached = new Set<TcpState>(['ESTABLISHED']);

/** Steps the model, remembering when TIME-WAIT began. */
function step(model: Model, real: Real, ...events: TcpEvent[]): void {
  const before = model.state;
  model.state = modelState(model.state, ...events);
  reached.add(model.state);
  if (model.state === 'TIME-WAIT' && before !== 'TIME-WAIT') model.timeWaitSince = real.target.clock.now();
  model.trace.push(`${before} -${events.join(',')}-> ${model.state}`);
}

/** Drains what the target sent, noting its FIN, and compares states. */
async function settle(model: Model, real: Real): Promise<void> {
  const segments = await real.t.collect(real.peer, QUIET);
  for (const segment of segments) if ((segment.flags & TcpFlag.fin) !== 0) real.finSeq = (segment.seq + segment.payload.length) >>> 0;
  const state = await real.t.control.state(real.t.targetPort, real.t.testerPort);
  expect(state, model.trace.join('\n')).toBe(model.state);
}

/** Whether the tester's cumulative ACK now covers the target's FIN. */
function acksFin(real: Real): boolean {
  return real.finSeq !== undefined && real.peer.rcvNxt === ((real.finSeq + 1) >>> 0);
}

type Command = fc.AsyncCommand<Model, Real>;

const peerData = (length: number): Command => ({
  check: (m) => LIVE.includes(m.state) && !m.peerFin && m.state !== 'LAST-ACK' && m.state !== 'CLOSING',
  async run(m, r) {
    r.t.send(r.peer, { flags: 'P.', payload: pattern(length, m.bytesSent) });
    m.bytesSent += length;
    // The data's ACK field may acknowledge the target's FIN.
    if (m.state === 'FIN-WAIT-1' && acksFin(r)) step(m, r, 'rcv-ack-of-fin');
    await settle(m, r);
  },
  toString: () => `peer data ${length}`,
});

const peerAck: Command = {
  check: (m) => LIVE.includes(m.state),
  async run(m, r) {
    r.t.send(r.peer, { flags: '.' });
    if ((m.state === 'FIN-WAIT-1' || m.state === 'CLOSING' || m.state === 'LAST-ACK') && acksFin(r)) step(m, r, 'rcv-ack-of-fin');
    await settle(m, r);
  },
  toString: () => 'peer ACK',
};

/** The peer's FIN; `crossing`: it does not acknowledge the target's FIN (the two crossed on the wire). */
const peerFin = (crossing: boolean): Command => ({
  check: (m) => !m.peerFin && (m.state === 'ESTABLISHED' || m.state === 'FIN-WAIT-1' || m.state === 'FIN-WAIT-2'),
  async run(m, r) {
    const holdBack = crossing && r.finSeq !== undefined;
    const finAcked = !holdBack && acksFin(r);
    r.t.send(r.peer, holdBack ? { flags: 'F.', ack: r.finSeq } : { flags: 'F.' });
    m.peerFin = true;
    if (m.state === 'FIN-WAIT-1' && finAcked) step(m, r, 'rcv-ack-of-fin', 'rcv-fin');
    else step(m, r, 'rcv-fin');
    await settle(m, r);
  },
  toString: () => (crossing ? 'peer FIN (crossing)' : 'peer FIN'),
});

const peerRst = (exact: boolean): Command => ({
  check: (m) => LIVE.includes(m.state),
  async run(m, r) {
    // In window but not exact: RFC 5961 §3.2 says challenge ACK, no state change.
    r.t.send(r.peer, { flags: 'R', seq: exact ? r.peer.sndNxt : r.peer.sndNxt + 10 });
    if (exact) {
      step(m, r, 'rcv-rst');
      m.reset = true;
    }
    await settle(m, r);
  },
  toString: () => (exact ? 'peer RST exact' : 'peer RST in window'),
});

const userSend = (length: number): Command => ({
  check: (m) => (m.state === 'ESTABLISHED' || m.state === 'CLOSE-WAIT') && !m.userClosed,
  async run(m, r) {
    await r.t.control.send(r.peer.id as number, pattern(length));
    await settle(m, r);
  },
  toString: () => `user send ${length}`,
});

const userClose: Command = {
  check: (m) => (m.state === 'ESTABLISHED' || m.state === 'CLOSE-WAIT') && !m.userClosed,
  async run(m, r) {
    m.userClosed = true;
    await r.t.control.shutdown(r.peer.id as number);
    step(m, r, 'close');
    await settle(m, r);
  },
  toString: () => 'user CLOSE',
};

const userAbort: Command = {
  check: (m) => LIVE.includes(m.state),
  async run(m, r) {
    await r.t.control.abort(r.peer.id as number);
    step(m, r, 'abort');
    m.reset = true;
    await settle(m, r);
  },
  toString: () => 'user ABORT',
};

const wait = (ms: number): Command => ({
  check: () => true,
  async run(m, r) {
    await r.t.timeline.sleep(ms);
    if (m.state === 'TIME-WAIT' && m.timeWaitSince !== undefined && r.target.clock.now() - m.timeWaitSince >= 2 * MSL) step(m, r, 'timeout');
    await settle(m, r);
  },
  toString: () => `wait ${ms}`,
});

const commands = [
  fc.integer({ min: 1, max: 1400 }).map(peerData),
  fc.constant(peerAck),
  fc.boolean().map(peerFin),
  fc.boolean().map(peerRst),
  fc.integer({ min: 1, max: 3000 }).map(userSend),
  fc.constant(userClose),
  fc.constant(userAbort),
  // Short waits keep retransmissions (which the model does not see) from ending the connection.
  fc.constantFrom(1, 50, 2 * MSL + 10).map(wait),
];

async function setup(seed: number, active: boolean): Promise<Real> {
  const target = createMorganaTarget({ seed, tcp: { msl: MSL } });
  const tester = new Tester({ netif: target.netif, timeline: target.timeline, testerAddress: target.testerAddress, targetAddress: target.targetAddress });
  await tester.resolve();
  const t = createCaseContext(target, tester, 20_000, 40_000);
  const peer = active ? await t.activeOpen({ sackPermitted: true, timestamps: true }) : await t.passiveOpen({ sackPermitted: true, timestamps: true });
  return { target, t, peer, finSeq: undefined };
}

describe('morgana against the RFC 9293 model (fc.commands through the kit)', () => {
  it('is in the state the model reaches after every peer segment and user call', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), fc.commands(commands, { maxCommands: 25 }), async (seed, active, cmds) => {
        const real = await setup(seed, active);
        try {
          const model: Model = { state: 'ESTABLISHED', peerFin: false, userClosed: false, timeWaitSince: undefined, bytesSent: 0, reset: false, trace: [] };
          await settle(model, real);
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          expect(real.t.tester.counters()['bad-frame'] ?? 0).toBe(0);
          // What the peer sent reached the user whole and in order, unless a reset cut it short.
          if (!model.reset) {
            const read = await real.t.readBytes(real.peer, model.bytesSent, 10);
            expect(read.data).toEqual(pattern(model.bytesSent));
          }
        } finally {
          await real.target.close();
        }
      }),
      {
        numRuns: 100,
        // Walks every closing path at least once, whatever the random runs draw.
        examples: [
          [1, false, [userClose, peerFin(true), peerAck, wait(2 * MSL + 10)]],
          [2, true, [peerData(100), peerFin(false), userSend(10), userClose, peerAck]],
          [3, false, [userClose, peerAck, peerData(5), peerFin(false), wait(1)]],
        ],
      },
    );
    // The exploration is only worth something if it walks the whole closing half of the diagram.
    expect([...reached].sort()).toEqual(['CLOSE-WAIT', 'CLOSED', 'CLOSING', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'LAST-ACK', 'TIME-WAIT']);
  });
});
