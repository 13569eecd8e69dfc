// The switch under hostile input: arbitrary messages on a control connection are refused or
// ignored without ending it, arbitrary frames through a busy pipeline never throw, and a
// controller that does not read gets its asynchronous messages dropped and counted.
import fc from 'fast-check';
import type { MacAddress } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { VirtualClock } from '@morgana/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Action, Datapath, OFPG_ANY, OFPGT_FF, OFPGT_SELECT, OFPMF_PKTPS, OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT,
  createOpenFlowSwitch,
} from '@morgana/openflow';
import { FakeSwitch } from './fake-switch.js';
import { RecordingNetif, ipv4Frame } from './netifs.js';

const A = 0x020000000001;

describe('switch robustness', () => {
  const stack = createSocketStack();
  afterAll(() => stack.close());

  it('answers a barrier after any message of any type and body: refused or handled, the connection stays up', async () => {
    const ports = [new RecordingNetif(A as MacAddress), new RecordingNetif((A + 1) as MacAddress)];
    const sw = createOpenFlowSwitch({ tcp: stack.tcp, clock: new VirtualClock(), ports, datapathId: 1n, listenPort: 0 });
    const controller = await FakeSwitch.connect(stack.tcp, sw.port);
    try {
      await controller.expect('hello');
      await controller.send({ version: 4, xid: 1, type: 'hello', versions: [4] });
      let xid = 100;
      await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 31 }), fc.uint8Array({ maxLength: 120 }), async (type, body) => {
        xid += 2;
        const message = new Uint8Array(8 + body.length);
        message.set([4, type, (message.length >> 8) & 0xff, message.length & 0xff]);
        new DataView(message.buffer).setUint32(4, xid);
        message.set(body, 8);
        await controller.sendBytes(message);
        await controller.send({ version: 4, xid: xid + 1, type: 'barrier-request' });
        for (;;) {
          const reply = await controller.nextBytes();
          expect(reply, 'the switch closed the connection').not.toBeNull();
          const answer = new DataView((reply as Uint8Array).buffer);
          if ((reply as Uint8Array)[1] === 21 && answer.getUint32(4) === xid + 1) break;
        }
      }), { numRuns: 150 });
    } finally {
      controller.close();
      sw.close();
    }
  });

  it('runs arbitrary frames through groups, rewrites, VLAN edits, TTL and meters without throwing', () => {
    const clock = new VirtualClock();
    const ports = [0, 1, 2].map((index) => new RecordingNetif((A + index) as MacAddress));
    const dp = new Datapath({ clock, ports, onPacketIn: () => undefined, onFlowRemoved: () => undefined });
    const bucket = (actions: Action[], watchPort = OFPP_ANY) => ({ weight: 1, watchPort, watchGroup: OFPG_ANY, actions });
    dp.groups.add(1, OFPGT_SELECT, [bucket([{ type: 'pop-vlan' }, { type: 'output', port: 2, maxLen: 0 }]), bucket([{ type: 'output', port: OFPP_IN_PORT, maxLen: 0 }])], 0);
    dp.groups.add(2, OFPGT_FF, [bucket([{ type: 'group', groupId: 1 }], 3), bucket([{ type: 'output', port: OFPP_ALL, maxLen: 0 }], 1)], 0);
    dp.meters.add(1, OFPMF_PKTPS, [{ type: 'drop', rate: 50, burstSize: 0 }], 0);
    const edits: Action[] = [
      { type: 'set-field', field: 'ipv4Src', value: 0x0a0a0a0a }, { type: 'set-field', field: 'tcpDst', value: 8080 }, { type: 'set-field', field: 'udpSrc', value: 7 },
      { type: 'set-field', field: 'icmpv4Code', value: 3 }, { type: 'set-field', field: 'arpTpa', value: 1 }, { type: 'set-field', field: 'vlanVid', value: 0x1005 },
      { type: 'set-field', field: 'sctpDst', value: 9 }, { type: 'set-field', field: 'ipDscp', value: 46 }, { type: 'push-vlan', ethertype: 0x88a8 },
      { type: 'dec-nw-ttl' }, { type: 'set-nw-ttl', nwTtl: 3 },
    ];
    const spec = { cookie: 0n, idleTimeout: 0, hardTimeout: 0, flags: 0 };
    dp.tables[0]?.add({ ...spec, match: {}, priority: 0, instructions: [{ type: 'meter', meterId: 1 }, { type: 'apply-actions', actions: edits }, { type: 'write-actions', actions: [{ type: 'group', groupId: 2 }] }, { type: 'goto-table', tableId: 1 }] });
    dp.tables[1]?.add({ ...spec, match: { ethType: 0x0800 }, priority: 1, instructions: [{ type: 'apply-actions', actions: [{ type: 'output', port: OFPP_CONTROLLER, maxLen: 64 }, { type: 'output', port: OFPP_FLOOD, maxLen: 0 }] }] });
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.constant(ipv4Frame(A + 1, A, 1, 2, 6))), fc.integer({ min: 0, max: 2 }), (frame, port) => {
      clock.advance(5);
      ports[port]?.inject(frame);
    }), { numRuns: 500 });
    expect(dp.tables[0]?.lookups).toBe(500n);
  });

  it('drops and counts asynchronous messages for a controller past maxWriteQueueBytes', async () => {
    const ports = [new RecordingNetif(A as MacAddress)];
    const sw = createOpenFlowSwitch({ tcp: stack.tcp, clock: new VirtualClock(), ports, datapathId: 1n, listenPort: 0, maxWriteQueueBytes: 200 });
    const controller = await FakeSwitch.connect(stack.tcp, sw.port);
    try {
      await controller.expect('hello');
      await controller.send({ version: 4, xid: 1, type: 'hello', versions: [4] });
      await controller.send({ version: 4, xid: 2, type: 'barrier-request' });
      await controller.expect('barrier-reply');
      // Each PACKET_IN is 84 bytes; they wait in the queue while the first write is under way.
      for (let index = 0; index < 5; index += 1) ports[0]?.inject(ipv4Frame(A + 1, A, 1, 2));
      expect(sw.stats()['packet-in-dropped-queue-full']).toBe(2);
      for (let index = 0; index < 3; index += 1) expect((await controller.expect('packet-in')).match.inPort).toBe(1);
    } finally {
      controller.close();
      sw.close();
    }
  });

  it('closes a connection whose unread answers pass twice maxWriteQueueBytes', async () => {
    const sw = createOpenFlowSwitch({ tcp: stack.tcp, clock: new VirtualClock(), ports: [], datapathId: 1n, listenPort: 0, maxWriteQueueBytes: 200 });
    const controller = await FakeSwitch.connect(stack.tcp, sw.port);
    try {
      await controller.expect('hello');
      await controller.send({ version: 4, xid: 1, type: 'hello', versions: [4] });
      await controller.send({ version: 4, xid: 2, type: 'barrier-request' });
      await controller.expect('barrier-reply');
      // Five 108-byte echo requests in one write: their answers queue up at once.
      const burst = new Uint8Array(5 * 108);
      for (let index = 0; index < 5; index += 1) burst.set([4, 2, 0, 108, 0, 0, 0, 10 + index], index * 108);
      await controller.sendBytes(burst);
      let replies = 0;
      while ((await controller.nextBytes()) !== null) replies += 1;
      expect(replies).toBeLessThan(5);
      expect(sw.stats()['control-write-queue-overflow']).toBe(1);
    } finally {
      controller.close();
      sw.close();
    }
  });
});
