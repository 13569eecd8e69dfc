/**
 * morgana's own TCP as a conformance target: the composed stack of @morgana/stack on one end
 * of a simulated cable, the tester on the other, both on one virtual clock. A run takes
 * milliseconds of real time whatever timers the cases wait for.
 */
import { ClosedError, ConnectionRefused, ConnectionReset, TimeoutError, parseIpv4 } from '@morgana/core';
import type { Ipv4Address, Tcp, TcpFlow, TcpListener, TcpState } from '@morgana/core';
import { createDirectStack } from '@morgana/stack';
import type { TcpConfig } from '@morgana/tcp';
import { VirtualClock, createLinkPair, createSeededRandom } from '@morgana/testing';
import type { LinkConditions } from '@morgana/testing';
import type { ConnectionError, ConnectionId, ReadResult, TcpControl } from './control.js';
import type { ConformanceTarget } from './target.js';
import { createVirtualTimeline } from './timeline.js';
import type { Timeline } from './timeline.js';

/** Options of {@link createMorganaTarget}. */
export interface MorganaTargetOptions {
  /** Configuration of the TCP under test (defaults: @morgana/tcp's). */
  readonly tcp?: TcpConfig;
  /** Seed of the stack's randomness (ISNs, ports); default 1. */
  readonly seed?: number;
  /** The cable between tester and stack; default a perfect zero-delay wire. */
  readonly link?: LinkConditions;
  /** Address of the stack; default 10.0.0.1. */
  readonly targetAddress?: string;
  /** Address of the tester; default 10.0.0.2. */
  readonly testerAddress?: string;
}

/** The morgana target, with its clock exposed for tests that drive time themselves. */
export interface MorganaTarget extends ConformanceTarget {
  readonly clock: VirtualClock;
}

interface Tracked {
  readonly localPort: number;
  readonly remotePort: number;
  flow: TcpFlow | undefined;
  /** Set while the active open has not finished. */
  connecting: boolean;
  chunks: Uint8Array[];
  eof: boolean;
  error: ConnectionError | undefined;
}

function errorKind(error: unknown): ConnectionError {
  if (error instanceof ConnectionReset) return 'reset';
  if (error instanceof ConnectionRefused) return 'refused';
  if (error instanceof TimeoutError) return 'timeout';
  if (error instanceof ClosedError) return 'closed';
  return 'other';
}

/** morgana's TCP on a simulated link and a virtual clock. */
export function createMorganaTarget(options: MorganaTargetOptions = {}): MorganaTarget {
  const clock = new VirtualClock();
  const random = createSeededRandom(options.seed ?? 1);
  const [testerNetif, stackNetif] = createLinkPair(clock, random.fork(), options.link ?? {}, { names: ['tester', 'morgana'] });
  const targetAddress = options.targetAddress ?? '10.0.0.1';
  const testerAddress = options.testerAddress ?? '10.0.0.2';
  const stack = createDirectStack({ netif: stackNetif, clock, random: random.fork(), ipv4: { address: `${targetAddress}/24` }, tcp: options.tcp });
  const timeline = createVirtualTimeline(clock);
  const control = createFlowControl(stack.tcp, timeline);
  return {
    name: 'morgana @morgana/tcp (simulated link, virtual time)',
    netif: testerNetif,
    testerAddress: parseIpv4(testerAddress),
    targetAddress: parseIpv4(targetAddress),
    control,
    timeline,
    caseBudgetMs: undefined,
    clock,
    close: () => stack.close(),
  };
}

/** The {@link TcpControl} of any {@link Tcp} whose flows report their state ({@link TcpFlow.info}). */
export function createFlowControl(tcp: Tcp, timeline: Timeline): TcpControl {
  const connections = new Map<ConnectionId, Tracked>();
  const listeners = new Map<number, { listener: TcpListener; ready: ConnectionId[] }>();
  let nextId = 1;

  const track = (localPort: number, remotePort: number, flow: TcpFlow | undefined): [ConnectionId, Tracked] => {
    const tracked: Tracked = { localPort, remotePort, flow, connecting: flow === undefined, chunks: [], eof: false, error: undefined };
    const id = nextId++;
    connections.set(id, tracked);
    if (flow !== undefined) pump(tracked, flow);
    return [id, tracked];
  };

  const pump = (tracked: Tracked, flow: TcpFlow): void => {
    void (async () => {
      for (;;) {
        const chunk = await flow.read();
        if (chunk === null) {
          tracked.eof = true;
          return;
        }
        tracked.chunks.push(chunk);
      }
    })().catch((error: unknown) => {
      tracked.error = errorKind(error);
    });
  };

  const get = (id: ConnectionId): Tracked => {
    const tracked = connections.get(id);
    if (tracked === undefined) throw new Error(`no connection ${id}`);
    return tracked;
  };

  const flowOf = (id: ConnectionId): TcpFlow => {
    const flow = get(id).flow;
    if (flow === undefined) throw new Error(`connection ${id} is not established`);
    return flow;
  };

  return {
    async listen(port) {
      const ready: ConnectionId[] = [];
      const listener = tcp.listen(port, { onConnection: (flow) => ready.push(track(flow.localPort, flow.remotePort, flow)[0]) });
      listeners.set(port, { listener, ready });
    },
    async unlisten(port) {
      listeners.get(port)?.listener.close();
      listeners.delete(port);
    },
    async accept(port, withinMs) {
      const entry = listeners.get(port);
      if (entry === undefined) throw new Error(`not listening on ${port}`);
      await timeline.waitUntil(() => entry.ready.length > 0, withinMs);
      return entry.ready.shift();
    },
    async connect(address: Ipv4Address, port, localPort) {
      const [id, tracked] = track(localPort, port, undefined);
      tcp.connect(address, port, { localPort }).then(
        (flow) => {
          tracked.flow = flow;
          tracked.connecting = false;
          pump(tracked, flow);
        },
        (error: unknown) => {
          tracked.connecting = false;
          tracked.error = errorKind(error);
        },
      );
      await timeline.waitUntil(() => false, 0);
      return id;
    },
    async send(id, data) {
      void flowOf(id).write(data.slice()).catch(() => undefined);
      await timeline.waitUntil(() => false, 0);
    },
    async read(id, withinMs): Promise<ReadResult> {
      const tracked = get(id);
      await timeline.waitUntil(() => tracked.chunks.length > 0 || tracked.eof || tracked.error !== undefined, withinMs);
      const total = tracked.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      const data = new Uint8Array(total);
      let at = 0;
      for (const chunk of tracked.chunks) {
        data.set(chunk, at);
        at += chunk.length;
      }
      tracked.chunks = [];
      return { data, eof: tracked.eof, error: tracked.error };
    },
    async shutdown(id) {
      void flowOf(id).shutdown().catch(() => undefined);
      await timeline.waitUntil(() => false, 0);
    },
    async close(id) {
      void flowOf(id).close().catch(() => undefined);
      await timeline.waitUntil(() => false, 0);
    },
    async abort(id) {
      get(id).flow?.abort();
      await timeline.waitUntil(() => false, 0);
    },
    async state(localPort, remotePort): Promise<TcpState | undefined> {
      let found: Tracked | undefined;
      for (const tracked of connections.values()) {
        if (tracked.localPort === localPort && tracked.remotePort === remotePort) found = tracked;
      }
      if (found === undefined) return listeners.has(localPort) ? undefined : 'CLOSED';
      if (found.flow === undefined) return found.connecting ? undefined : 'CLOSED';
      return found.flow.info().state;
    },
    async reset() {
      for (const tracked of connections.values()) tracked.flow?.abort();
      for (const { listener } of listeners.values()) listener.close();
      connections.clear();
      listeners.clear();
      await timeline.waitUntil(() => false, 0);
    },
  };
}
