import { createSocketStack } from '@morgana/socket';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MacTable, type SwitchConnection, createController, createLearningSwitch } from '@morgana/openflow';
import { FakeSwitch } from './fake-switch.js';

describe('robustness', () => {
  it('keeps a switch connection serving after a burst of random messages with valid headers', async () => {
    const clock = new VirtualClock();
    const stack = createSocketStack();
    const app = createLearningSwitch({ clock });
    let connection: SwitchConnection | undefined;
    const controller = createController({ tcp: stack.tcp, clock, port: 0, onSwitch: (up) => { connection = up; app.attach(up); } });
    const fake = await FakeSwitch.connect(stack.tcp, controller.port);
    try {
      await fake.handshake(4, 1n);
      const random = createSeededRandom(13);
      for (let index = 0; index < 400; index += 1) {
        const length = 8 + (random.uint32() % 120);
        const bytes = new Uint8Array(length);
        random.fill(bytes);
        // Valid framing and version, so each message reaches the parser and dispatch: every
        // 1.3 type (0..29, group/meter/role/async among them) and a few undefined ones.
        bytes.set([4, bytes[1] as number % 34, length >> 8, length & 0xff]);
        if (bytes[1] === 0 || bytes[1] === 1) bytes[1] = 10;
        await fake.sendBytes(bytes);
      }
      await fake.send({ version: 4, xid: 0xabcdef, type: 'echo-request', data: new Uint8Array(0) });
      let refusedUndefinedType = false;
      for (;;) {
        const bytes = await fake.nextBytes();
        expect(bytes).not.toBeNull();
        if (bytes === null) break;
        // ERROR, OFPET_BAD_REQUEST / OFPBRC_BAD_TYPE, carrying a message of type 30 or more.
        if (bytes[1] === 1 && bytes[9] === 1 && bytes[11] === 1 && (bytes[13] as number) >= 30) refusedUndefinedType = true;
        if (bytes[1] === 3 && bytes[4] === 0 && bytes[5] === 0xab) break;
      }
      expect(refusedUndefinedType).toBe(true);
      expect(connection?.isClosed).toBe(false);
      expect(Object.keys(connection?.counters.snapshot() ?? {}).some((name) => name.startsWith('rx-bad') || name.startsWith('rx-truncated'))).toBe(true);
    } finally {
      fake.close();
      controller.close();
    }
  });

  it('MAC table agrees with a model under random learn, lookup and time steps', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('learn' as const), mac: fc.integer({ min: 0, max: 7 }), port: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('lookup' as const), mac: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 600 }) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), (ops, maxMacs) => {
      const clock = new VirtualClock();
      const table = new MacTable(clock, maxMacs, 1_000);
      // Model: an array in recency order of { mac, port, seen }.
      let model: { mac: number; port: number; seen: number }[] = [];
      for (const step of ops) {
        if (step.kind === 'advance') {
          clock.advance(step.ms);
        } else if (step.kind === 'learn') {
          model = model.filter((entry) => entry.mac !== step.mac);
          if (model.length >= maxMacs) model.shift();
          model.push({ mac: step.mac, port: step.port, seen: clock.now() });
          table.learn(step.mac, step.port);
        } else {
          const entry = model.find((candidate) => candidate.mac === step.mac);
          const live = entry !== undefined && clock.now() - entry.seen <= 1_000;
          if (entry !== undefined && !live) model = model.filter((candidate) => candidate !== entry);
          expect(table.lookup(step.mac)).toBe(live ? entry?.port : undefined);
        }
        expect(table.size).toBe(model.length);
        expect(table.size).toBeLessThanOrEqual(maxMacs);
      }
    }), { numRuns: 300 });
  });
});
