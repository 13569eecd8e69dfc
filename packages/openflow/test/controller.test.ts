import { createSocketStack } from '@morgana/socket';
import { VirtualClock } from '@morgana/testing';
import type { Tcp, TcpFlow } from '@morgana/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Controller, type ControllerConfig, MacTable, OFPBRC_BAD_LEN, OFPBRC_BAD_TYPE, OFPET_BAD_REQUEST, OFPMPF_MORE, OFPP_CONTROLLER, OFPP_FLOOD,
  type OfpMessage, OpenFlowError, type SwitchConnection, createController, createLearningSwitch, emitMessage,
} from '@morgana/openflow';
import { createSeededRandom } from '@morgana/testing';
import { FakeSwitch } from './fake-switch.js';

const stack = createSocketStack();

/** `tcp` whose flows have only the TcpFlow members: no push-mode extension to detect. */
function plainTcp(tcp: Tcp): Tcp {
  const plain = (flow: TcpFlow): TcpFlow => ({
    localAddress: flow.localAddress, localPort: flow.localPort, remoteAddress: flow.remoteAddress, remotePort: flow.remotePort,
    read: () => flow.read(), write: (data) => flow.write(data), writev: (chunks) => flow.writev(chunks), shutdown: () => flow.shutdown(),
    close: () => flow.close(), abort: () => flow.abort(), setNoDelay: (on) => flow.setNoDelay(on), setKeepAlive: (on, idle) => flow.setKeepAlive(on, idle),
    info: () => flow.info(),
  });
  return {
    listen: (port, options) => tcp.listen(port, { ...options, onConnection: options?.onConnection === undefined ? undefined : (flow) => options.onConnection?.(plain(flow)) }),
    connect: async (address, port, options) => plain(await tcp.connect(address, port, options)),
    stats: () => tcp.stats(),
  };
}

/** The Tcp the controller under test listens on (the switches always use the socket stack). */
let controllerTcp: Tcp = stack.tcp;
const running: { controller: Controller; switches: FakeSwitch[] }[] = [];

afterEach(() => {
  for (const entry of running.splice(0)) {
    for (const fake of entry.switches) fake.close();
    entry.controller.close();
  }
});

function start(clock: VirtualClock, extra: Partial<ControllerConfig> = {}): { controller: Controller; ready: Promise<SwitchConnection>[]; connect(): Promise<FakeSwitch> } {
  const waiters: ((connection: SwitchConnection) => void)[] = [];
  const ready: Promise<SwitchConnection>[] = [];
  for (let index = 0; index < 4; index += 1) ready.push(new Promise((resolve) => waiters.push(resolve)));
  let up = 0;
  const controller = createController({
    tcp: controllerTcp, clock, port: 0, ...extra,
    onSwitch: (connection) => {
      extra.onSwitch?.(connection);
      waiters[up++]?.(connection);
    },
  });
  const entry = { controller, switches: [] as FakeSwitch[] };
  running.push(entry);
  return {
    controller, ready,
    async connect(): Promise<FakeSwitch> {
      const fake = await FakeSwitch.connect(stack.tcp, controller.port);
      entry.switches.push(fake);
      return fake;
    },
  };
}

const mac = (last: number): number => 0x02_00_00_00_00_00 + last;
function packetIn(version: 1 | 4, xid: number, inPort: number, dst: number, src: number, bufferId = 0xffffffff): OfpMessage {
  return { version, xid, type: 'packet-in', bufferId, totalLen: 60, reason: 0, tableId: 0, cookie: 0n, match: { inPort }, data: frame(dst, src) };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

function frame(dst: number, src: number): Uint8Array {
  const bytes = new Uint8Array(60);
  for (let index = 0; index < 6; index += 1) {
    bytes[index] = Math.floor(dst / 2 ** (8 * (5 - index))) % 256;
    bytes[6 + index] = Math.floor(src / 2 ** (8 * (5 - index))) % 256;
  }
  bytes[12] = 0x08;
  return bytes;
}

// The socket stack's flows push chunks and write without promises; any other flow is read and
// written through the Flow interface: the controller behaves the same on both.
describe.each([
  { receive: 'pushed chunks and direct writes (socket stack)', tcp: stack.tcp },
  { receive: 'read() and write() (a plain TcpFlow)', tcp: plainTcp(stack.tcp) },
])('controller on $receive', ({ tcp }) => {
  beforeAll(() => {
    controllerTcp = tcp;
  });
  afterAll(() => {
    controllerTcp = stack.tcp;
  });

  it('offers 1.0 and 1.3 in its HELLO bitmap and negotiates 1.3, then reports the switch by datapath id', async () => {
    const clock = new VirtualClock();
    const { controller, ready, connect } = start(clock);
    const fake = await connect();
    const hello = await fake.expect('hello');
    expect(hello.version).toBe(4);
    expect(hello.versions).toEqual([1, 4]);
    await fake.send({ version: 6, xid: 1, type: 'hello', versions: [1, 4, 6] });
    const features = await fake.expect('features-request');
    expect(features.version).toBe(4);
    await fake.send({ version: 4, xid: features.xid, type: 'features-reply', datapathId: 42n, nBuffers: 0, nTables: 1, auxiliaryId: 0, capabilities: 0, actions: 0, ports: [] });
    const connection = await ready[0] as SwitchConnection;
    expect(connection.version).toBe(4);
    expect(controller.switches.get(42n)).toBe(connection);
  });

  it('takes the socket stack\'s push mode where the flow offers it, and only there', async () => {
    const clock = new VirtualClock();
    const before = stack.tcp.stats()['static-read-flows'] ?? 0;
    const { ready, connect } = start(clock);
    const fake = await connect();
    await fake.handshake(4, 9n);
    await ready[0];
    const pushed = (stack.tcp.stats()['static-read-flows'] ?? 0) - before;
    expect(pushed).toBe(controllerTcp === stack.tcp ? 1 : 0);
  });

  it('negotiates OpenFlow 1.0 with a switch whose HELLO has no bitmap', async () => {
    const clock = new VirtualClock();
    const { ready, connect } = start(clock);
    const fake = await connect();
    await fake.handshake(1, 7n);
    expect((await ready[0] as SwitchConnection).version).toBe(1);
  });

  it('answers a HELLO with no common version with OFPET_HELLO_FAILED and closes', async () => {
    const clock = new VirtualClock();
    const { connect } = start(clock, { versions: [4] });
    const fake = await connect();
    await fake.expect('hello');
    await fake.send({ version: 6, xid: 1, type: 'hello', versions: [5, 6] });
    const error = await fake.expect('error');
    expect(error.errorType).toBe(0);
    expect(await fake.nextBytes()).toBeNull();
  });

  it('answers ECHO_REQUEST with the same xid and data', async () => {
    const clock = new VirtualClock();
    const { connect } = start(clock);
    const fake = await connect();
    await fake.handshake(4, 1n);
    await fake.send({ version: 4, xid: 99, type: 'echo-request', data: new Uint8Array([1, 2, 3]) });
    expect(await fake.next()).toEqual({ version: 4, xid: 99, type: 'echo-reply', data: new Uint8Array([1, 2, 3]) });
  });

  it('sends echoes after echoIntervalMs of silence and drops a switch silent for echoTimeoutMs', async () => {
    const clock = new VirtualClock();
    const { controller, ready, connect } = start(clock, { echoIntervalMs: 1_000, echoTimeoutMs: 3_000 });
    const fake = await connect();
    await fake.handshake(4, 5n);
    const connection = await ready[0] as SwitchConnection;
    clock.advance(1_000);
    await fake.expect('echo-request');
    clock.advance(1_000);
    await fake.expect('echo-request');
    clock.advance(1_000);
    expect(connection.isClosed).toBe(true);
    expect(connection.counters.get('echo-timeout')).toBe(1);
    expect(controller.switches.has(5n)).toBe(false);
    expect(await fake.nextBytes()).toBeNull();
  });

  it('drops a switch that does not finish the handshake within handshakeTimeoutMs', async () => {
    const clock = new VirtualClock();
    const { connect } = start(clock, { handshakeTimeoutMs: 500 });
    const fake = await connect();
    await fake.expect('hello');
    clock.advance(500);
    expect(await fake.nextBytes()).toBeNull();
  });

  it('collects a multipart reply split with OFPMPF_REPLY_MORE and pairs replies by xid', async () => {
    const clock = new VirtualClock();
    const { ready, connect } = start(clock);
    const fake = await connect();
    await fake.handshake(4, 1n);
    const connection = await ready[0] as SwitchConnection;
    const first = connection.request({ type: 'multipart-request', flags: 0, body: { kind: 'aggregate', tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: {} } });
    const second = connection.request({ type: 'multipart-request', flags: 0, body: { kind: 'desc' } });
    const request1 = await fake.expect('multipart-request');
    const request2 = await fake.expect('multipart-request');
    // Answer out of order: the second request first.
    await fake.send({ version: 4, xid: request2.xid, type: 'multipart-reply', flags: 0, body: { kind: 'desc', mfrDesc: 'm', hwDesc: 'h', swDesc: 's', serialNum: 'n', dpDesc: 'd' } });
    await fake.send({ version: 4, xid: request1.xid, type: 'multipart-reply', flags: OFPMPF_MORE, body: { kind: 'aggregate', packetCount: 1n, byteCount: 2n, flowCount: 3 } });
    await fake.send({ version: 4, xid: request1.xid, type: 'multipart-reply', flags: 0, body: { kind: 'aggregate', packetCount: 4n, byteCount: 5n, flowCount: 6 } });
    const desc = await second;
    expect(desc).toHaveLength(1);
    const aggregate = await first;
    expect(aggregate.map((reply) => reply.type === 'multipart-reply' && reply.body.kind === 'aggregate' && reply.body.flowCount)).toEqual([3, 6]);
  });

  it('pairs role, async and queue-config replies with their requests (1.3 §7.3.9, §7.3.10)', async () => {
    const clock = new VirtualClock();
    const { ready, connect } = start(clock);
    const fake = await connect();
    await fake.handshake(4, 1n);
    const connection = await ready[0] as SwitchConnection;
    const role = connection.request({ type: 'role-request', role: 2, generationId: 7n });
    const asyncConfig = connection.request({ type: 'get-async-request' });
    const roleRequest = await fake.expect('role-request');
    const asyncRequest = await fake.expect('get-async-request');
    await fake.send({ version: 4, xid: asyncRequest.xid, type: 'get-async-reply', packetInMask: [3, 0], portStatusMask: [7, 7], flowRemovedMask: [15, 0] });
    await fake.send({ version: 4, xid: roleRequest.xid, type: 'role-reply', role: 2, generationId: 7n });
    expect((await role).map((reply) => reply.type === 'role-reply' && reply.generationId)).toEqual([7n]);
    expect((await asyncConfig).map((reply) => reply.type)).toEqual(['get-async-reply']);
  });

  it('rejects sendWithBarrier with the error a message before the barrier caused', async () => {
    const clock = new VirtualClock();
    const { ready, connect } = start(clock);
    const fake = await connect();
    await fake.handshake(4, 1n);
    const connection = await ready[0] as SwitchConnection;
    const done = connection.sendWithBarrier([{ type: 'set-config', flags: 0, missSendLen: 128 }, { type: 'set-config', flags: 0, missSendLen: 256 }]);
    const first = await fake.expect('set-config');
    await fake.expect('set-config');
    const barrier = await fake.expect('barrier-request');
    await fake.send({ version: 4, xid: first.xid, type: 'error', errorType: 7, code: 1, data: new Uint8Array(0) });
    await fake.send({ version: 4, xid: barrier.xid, type: 'barrier-reply' });
    await expect(done).rejects.toBeInstanceOf(OpenFlowError);
    const clean = connection.sendWithBarrier([{ type: 'set-config', flags: 0, missSendLen: 128 }]);
    await fake.expect('set-config');
    const barrier2 = await fake.expect('barrier-request');
    await fake.send({ version: 4, xid: barrier2.xid, type: 'barrier-reply' });
    await expect(clean).resolves.toBeUndefined();
  });

  it('times out a request after requestTimeoutMs and limits outstanding requests to maxPendingRequests', async () => {
    const clock = new VirtualClock();
    const { ready, connect } = start(clock, { requestTimeoutMs: 100, maxPendingRequests: 2 });
    const fake = await connect();
    await fake.handshake(4, 1n);
    const connection = await ready[0] as SwitchConnection;
    const one = connection.request({ type: 'barrier-request' });
    const two = connection.request({ type: 'barrier-request' });
    await expect(connection.request({ type: 'barrier-request' })).rejects.toThrow(/outstanding/);
    clock.advance(100);
    await expect(one).rejects.toThrow(/no reply/);
    await expect(two).rejects.toThrow(/no reply/);
  });

  it('answers an unknown message type with OFPET_BAD_REQUEST / OFPBRC_BAD_TYPE and keeps the connection', async () => {
    const clock = new VirtualClock();
    const { connect } = start(clock);
    const fake = await connect();
    await fake.handshake(4, 1n);
    await fake.sendBytes(new Uint8Array([4, 99, 0, 8, 0, 0, 0, 77]));
    const error = await fake.expect('error');
    expect([error.xid, error.errorType, error.code]).toEqual([77, OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE]);
    expect(Array.from(error.data)).toEqual([4, 99, 0, 8, 0, 0, 0, 77]);
    await fake.send({ version: 4, xid: 3, type: 'echo-request', data: new Uint8Array(0) });
    await fake.expect('echo-reply');
  });

  it('refuses connections past maxSwitches', async () => {
    const clock = new VirtualClock();
    const { controller, connect } = start(clock, { maxSwitches: 1 });
    const first = await connect();
    await first.expect('hello');
    // The refusal (an abort) races the connect itself: either may see the reset.
    const second = await connect().catch(() => undefined);
    if (second !== undefined) expect(await second.nextBytes()).toBeNull();
    await clock.runUntil(() => controller.stats()['switches-full'] === 1, 5_000).catch(() => undefined);
    expect(controller.stats()['switches-full']).toBe(1);
  });
});

describe('learning switch', () => {
  it('floods unknown destinations, then installs a flow to a learned port (1.3)', async () => {
    const clock = new VirtualClock();
    const app = createLearningSwitch({ clock });
    const { connect } = start(clock, { onSwitch: (connection) => app.attach(connection) });
    const fake = await connect();
    await fake.handshake(4, 9n);
    const miss = await fake.expect('flow-mod');
    expect(miss.priority).toBe(0);
    expect(miss.instructions).toEqual([{ type: 'apply-actions', actions: [{ type: 'output', port: OFPP_CONTROLLER, maxLen: 0xffff }] }]);
    const packetIn = (inPort: number, dst: number, src: number): Promise<void> => fake.send({
      version: 4, xid: 0, type: 'packet-in', bufferId: 0xffffffff, totalLen: 60, reason: 0, tableId: 0, cookie: 0n, match: { inPort }, data: frame(dst, src),
    });
    await packetIn(1, 0xffff_ffff_ffff, mac(1));
    const flood = await fake.expect('packet-out');
    expect([flood.inPort, flood.actions]).toEqual([1, [{ type: 'output', port: OFPP_FLOOD, maxLen: 0 }]]);
    await packetIn(2, mac(1), mac(2));
    const flow = await fake.expect('flow-mod');
    expect(flow.match).toEqual({ inPort: 2, ethSrc: mac(2), ethDst: mac(1) });
    expect(flow.idleTimeout).toBe(60);
    expect(flow.instructions).toEqual([{ type: 'apply-actions', actions: [{ type: 'output', port: 1, maxLen: 0 }] }]);
    const out = await fake.expect('packet-out');
    expect(out.actions).toEqual([{ type: 'output', port: 1, maxLen: 0 }]);
    expect(app.table(9n)?.lookup(mac(2))).toBe(2);
  });

  it('uses OpenFlow 1.0 without a table-miss flow', async () => {
    const clock = new VirtualClock();
    const app = createLearningSwitch({ clock });
    const { connect } = start(clock, { onSwitch: (connection) => app.attach(connection) });
    const fake = await connect();
    await fake.handshake(1, 3n);
    await fake.send({ version: 1, xid: 0, type: 'packet-in', bufferId: 0xffffffff, totalLen: 60, reason: 0, tableId: 0, cookie: 0n, match: { inPort: 3 }, data: frame(mac(7), mac(8)) });
    const flood = await fake.expect('packet-out');
    expect(flood.version).toBe(1);
    expect(flood.actions).toEqual([{ type: 'output', port: OFPP_FLOOD, maxLen: 0 }]);
  });

  it('bounds the MAC table at maxMacs, evicting the least recently seen, and expires idle entries', () => {
    const clock = new VirtualClock();
    const table = new MacTable(clock, 2, 1_000);
    table.learn(mac(1), 1);
    table.learn(mac(2), 2);
    table.learn(mac(1), 1);
    expect(table.learn(mac(3), 3)).toBe(true);
    expect(table.size).toBe(2);
    expect(table.lookup(mac(2))).toBeUndefined();
    expect(table.lookup(mac(1))).toBe(1);
    clock.advance(1_001);
    expect(table.lookup(mac(3))).toBeUndefined();
    expect(table.lookup(mac(1))).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('answers a buffered PACKET_IN to a learned port with a FLOW_MOD naming the buffer and no PACKET_OUT (1.0)', async () => {
    const clock = new VirtualClock();
    const app = createLearningSwitch({ clock });
    const { connect } = start(clock, { onSwitch: (connection) => app.attach(connection) });
    const fake = await connect();
    await fake.handshake(1, 4n);
    await fake.send(packetIn(1, 1, 2, 0xffff_ffff_ffff, mac(2)));
    await fake.expect('packet-out');
    await fake.send(packetIn(1, 2, 1, mac(2), mac(1), 77));
    const flow = await fake.expect('flow-mod');
    expect([flow.bufferId, flow.match, flow.idleTimeout, flow.priority]).toEqual([77, { inPort: 1, ethSrc: mac(1), ethDst: mac(2) }, 60, 100]);
    expect(flow.instructions).toEqual([{ type: 'apply-actions', actions: [{ type: 'output', port: 2, maxLen: 0 }] }]);
    // The next message is the echo reply: no PACKET_OUT followed the FLOW_MOD.
    await fake.send({ version: 1, xid: 9, type: 'echo-request', data: new Uint8Array(0) });
    expect((await fake.next()).type).toBe('echo-reply');
  });

  for (const version of [1, 4] as const) {
    it(`answers every PACKET_IN of one write, in order, in one batch (version ${version})`, async () => {
      const clock = new VirtualClock();
      const app = createLearningSwitch({ clock });
      let connection: SwitchConnection | undefined;
      const { connect } = start(clock, { onSwitch: (up) => { connection = up; app.attach(up); } });
      const fake = await connect();
      await fake.handshake(version, 5n);
      if (version === 4) await fake.expect('flow-mod');
      // Station 1 is on port 9; then 200 stations on ports 1-4 each send to it, buffered.
      const burst = [emitMessage(packetIn(version, 1, 9, 0xffff_ffff_ffff, mac(1)))];
      for (let index = 0; index < 200; index += 1) burst.push(emitMessage(packetIn(version, 100 + index, 1 + (index % 4), mac(1), mac(1000 + index), index)));
      await fake.sendBytes(concat(burst));
      expect((await fake.expect('packet-out')).actions).toEqual([{ type: 'output', port: OFPP_FLOOD, maxLen: 0 }]);
      for (let index = 0; index < 200; index += 1) {
        const flow = await fake.expect('flow-mod');
        expect([flow.bufferId, flow.match.inPort, flow.match.ethSrc]).toEqual([index, 1 + (index % 4), mac(1000 + index)]);
      }
      expect(connection?.counters.get('rx-packet-in')).toBe(201);
      expect(connection?.counters.get('tx-flow-mod')).toBe(version === 4 ? 201 : 200);
      expect(app.stats()['flows-installed']).toBe(200);
      expect(app.table(5n)?.size).toBe(201);
    });
  }

  it('gives PACKET_INs to fast handlers and onMessage listeners alike, and refuses a malformed one with OFPBRC_BAD_LEN', async () => {
    const clock = new VirtualClock();
    const fast: [number, number, number][] = [];
    const parsed: number[] = [];
    let stop: () => void = () => undefined;
    const { connect, ready } = start(clock, {
      onSwitch: (up) => {
        stop = up.onPacketIn((raw) => fast.push([raw.xid, raw.inPort, raw.ethSrc()]));
      },
    });
    const fake = await connect();
    await fake.handshake(4, 6n);
    const connection = await ready[0] as SwitchConnection;
    await fake.send(packetIn(4, 1, 3, mac(1), mac(2)));
    // An experimenter OXM is left to the general parser, which still feeds the fast handler.
    await fake.send({ ...packetIn(4, 2, 5, mac(1), mac(3)), match: { inPort: 5, other: [{ oxmClass: 0xffff, field: 1, hasMask: false, payload: new Uint8Array([0, 0, 0, 1]) }] } } as OfpMessage);
    // An echo round trip: the controller has handled both before the listener comes.
    await fake.send({ version: 4, xid: 50, type: 'echo-request', data: new Uint8Array(0) });
    await fake.expect('echo-reply');
    const off = connection.onMessage((message) => { if (message.type === 'packet-in') parsed.push(message.xid); });
    await fake.send(packetIn(4, 3, 7, mac(1), mac(4)));
    // A PACKET_IN cut short inside its match.
    await fake.sendBytes(new Uint8Array([4, 10, 0, 26, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    const error = await fake.expect('error');
    expect([error.xid, error.errorType]).toEqual([4, OFPET_BAD_REQUEST]);
    expect(error.code).toBe(OFPBRC_BAD_LEN);
    off();
    expect(fast).toEqual([[1, 3, mac(2)], [2, 5, mac(3)], [3, 7, mac(4)]]);
    expect(parsed).toEqual([3]);
    // Unsubscribed, the handler hears no more; the PACKET_IN is still counted.
    stop();
    await fake.send(packetIn(4, 5, 1, mac(1), mac(5)));
    await fake.send({ version: 4, xid: 51, type: 'echo-request', data: new Uint8Array(0) });
    await fake.expect('echo-reply');
    expect(fast).toHaveLength(3);
    expect(connection.counters.get('rx-packet-in')).toBe(4);
  });

  it('drops a switch whose answers pass maxWriteQueue before they can be written', async () => {
    const clock = new VirtualClock();
    const app = createLearningSwitch({ clock });
    let connection: SwitchConnection | undefined;
    const { connect } = start(clock, { maxWriteQueue: 50, onSwitch: (up) => { connection = up; app.attach(up); } });
    const fake = await connect();
    await fake.handshake(1, 8n);
    const burst: Uint8Array[] = [];
    for (let index = 0; index < 60; index += 1) burst.push(emitMessage(packetIn(1, index, 1, 0xffff_ffff_ffff, mac(index))));
    await fake.sendBytes(concat(burst));
    for (;;) if (await fake.nextBytes() === null) break;
    expect(connection?.isClosed).toBe(true);
    expect(connection?.counters.get('write-queue-full')).toBe(1);
  });

  it('keeps a large MAC table in step with a model through growth, eviction and expiry', () => {
    const clock = new VirtualClock();
    const maxMacs = 1_500;
    const table = new MacTable(clock, maxMacs, 5_000);
    const model = new Map<number, { port: number; seen: number }>();
    const random = createSeededRandom(7);
    for (let step = 0; step < 12_000; step += 1) {
      const roll = random.uint32() % 100;
      // MACs spread over the whole 48-bit space, 2 000 of them.
      const station = 0x0123_4567_0000 * (1 + (random.uint32() % 2_000)) % 2 ** 48;
      if (roll < 55) {
        const port = 1 + (random.uint32() % 8);
        model.delete(station);
        const full = model.size >= maxMacs;
        if (full) model.delete(model.keys().next().value as number);
        model.set(station, { port, seen: clock.now() });
        expect(table.learn(station, port)).toBe(full);
      } else if (roll < 99) {
        const entry = model.get(station);
        const live = entry !== undefined && clock.now() - entry.seen <= 5_000;
        if (entry !== undefined && !live) model.delete(station);
        expect(table.lookup(station)).toBe(live ? entry?.port : undefined);
      } else {
        clock.advance(random.uint32() % 400);
      }
      expect(table.size).toBe(model.size);
    }
    expect(table.size).toBeGreaterThan(1_024);
  });
});
