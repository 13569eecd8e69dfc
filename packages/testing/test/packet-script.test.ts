import { localMac, MAC_BROADCAST, readMac, readU16, writeMac, writeU16, type Clock, type MacAddress, type Netif } from '@morgana/core';
import { describe, expect, it } from 'vitest';
import {
  createFrameScript,
  formatPacket,
  hexDump,
  PacketScript,
  PacketScriptError,
  VirtualClock,
} from '../src/index.js';

/** The little protocol the scripted "stack" speaks, one message per frame (EtherType 0x88b5). */
interface Message {
  readonly destination: MacAddress;
  readonly source: MacAddress;
  readonly type: 'hello' | 'ack' | 'data' | 'batch';
  readonly value: number;
}

const TYPES = ['hello', 'ack', 'data', 'batch'] as const;
const ETHERTYPE = 0x88b5;
const PEER = localMac(9);

function encode(message: Message): Uint8Array {
  const frame = new Uint8Array(60);
  writeMac(frame, 0, message.destination);
  writeMac(frame, 6, message.source);
  writeU16(frame, 12, ETHERTYPE);
  frame[14] = TYPES.indexOf(message.type);
  writeU16(frame, 15, message.value);
  return frame;
}

function decode(frame: Uint8Array): Message {
  if (frame.length < 17 || readU16(frame, 12) !== ETHERTYPE || frame[14] >= TYPES.length) throw new Error('not a test-protocol frame');
  return { destination: readMac(frame, 0), source: readMac(frame, 6), type: TYPES[frame[14]], value: readU16(frame, 15) };
}

/**
 * The stack under test: broadcasts hello and repeats it every second until acknowledged (at
 * most three times), echoes data after 5 ms, and at the end of each receive batch reports how
 * many data messages the batch held.
 */
function startStack(netif: Netif, clock: Clock): void {
  const send = (message: Omit<Message, 'source'>): void => {
    netif.write(60, (buffer) => {
      buffer.set(encode({ ...message, source: netif.mac }));
      return 60;
    });
  };
  let acknowledged = false;
  let tries = 0;
  const hello = (): void => {
    if (acknowledged || tries === 3) return;
    tries++;
    send({ destination: MAC_BROADCAST, type: 'hello', value: tries });
    clock.setTimer(1000, hello);
  };
  let inBatch = 0;
  netif.listen(
    (frame) => {
      const message = decode(frame);
      if (message.type === 'ack') acknowledged = true;
      if (message.type === 'data') {
        inBatch++;
        clock.setTimer(5, () => send({ destination: message.source, type: 'data', value: message.value }));
      }
    },
    () => {
      if (inBatch > 0) send({ destination: PEER, type: 'batch', value: inBatch });
      inBatch = 0;
    },
  );
  clock.setTimer(0, hello);
}

function setUp() {
  const clock = new VirtualClock();
  const { script, netif } = createFrameScript({ clock });
  startStack(netif, clock);
  const messages = script.map<Message>({ decode, encode, format: (m) => `${m.type} ${m.value}` });
  return { clock, script, netif, messages };
}

describe('PacketScript', () => {
  it('expects the frame a stack sends from a zero-delay timer, by exact bytes', () => {
    const { script, netif } = setUp();
    script.expect(encode({ destination: MAC_BROADCAST, source: netif.mac, type: 'hello', value: 1 }), 'the first hello');
  });

  it('expects by predicate and by partial object at a higher level', () => {
    const { messages } = setUp();
    const hello = messages.expect((m) => m.type === 'hello');
    expect(hello.value).toBe(1);
    messages.inject({ destination: hello.source, source: PEER, type: 'data', value: 42 });
    messages.expect({ type: 'batch', value: 1 });
    messages.expectNothing(4);
    messages.expectWithin(1, { type: 'data', value: 42, destination: PEER });
  });

  it('accepts vitest expect calls inside a predicate', () => {
    const { messages } = setUp();
    messages.expect((m) => {
      expect(m.type).toBe('hello');
    });
  });

  it('fails with the description, the decoded packet and a hex dump when the packet differs', () => {
    const { messages } = setUp();
    expect(() => messages.expect({ type: 'ack' }, 'an ack')).toThrow(PacketScriptError);
    const { messages: again } = setUp();
    let message = '';
    try {
      again.expect({ type: 'ack' }, 'an ack');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('expected an ack at t=0ms');
    expect(message).toContain('.type: expected "ack", got "hello"');
    expect(message).toContain('hello 1');
    expect(message).toContain('0000  ff ff ff ff ff ff 02 00  00 00 00 01 88 b5 00 00  |');
  });

  it('reports the first differing offset for bytes', () => {
    const { script, netif } = setUp();
    expect(() => script.expect(encode({ destination: MAC_BROADCAST, source: netif.mac, type: 'hello', value: 2 }))).toThrow(
      /differ at offset 16/,
    );
  });

  it('fails when the stack sent nothing', () => {
    const { messages } = setUp();
    messages.expect({ type: 'hello' });
    expect(() => messages.expect({ type: 'hello' }, 'a second hello')).toThrow(/expected a second hello at t=0ms, but the stack sent nothing/);
  });

  it('waits for a retransmission with expectWithin and stops when acknowledged', () => {
    const { clock, messages } = setUp();
    messages.expect({ type: 'hello', value: 1 });
    messages.expectNothing(999);
    messages.expectWithin(10, { type: 'hello', value: 2 });
    expect(clock.now()).toBe(1000);
    messages.inject({ destination: localMac(1), source: PEER, type: 'ack', value: 0 });
    messages.expectNothing(10_000);
  });

  it('gives up retransmitting after three hellos', () => {
    const { messages } = setUp();
    for (const value of [1, 2, 3]) messages.expectWithin(1000, { type: 'hello', value });
    expect(() => messages.expectWithin(5000, { type: 'hello' }, 'a fourth hello')).toThrow(/within 5000ms/);
  });

  it('fails expectNothing when the stack sends, showing what it sent', () => {
    const { messages } = setUp();
    expect(() => messages.expectNothing(1)).toThrow(/but by t=0ms the stack sent:\nhello 1/);
  });

  it('injects several packets as one receive batch', () => {
    const { messages } = setUp();
    messages.expect({ type: 'hello' });
    const data = (value: number): Message => ({ destination: localMac(1), source: PEER, type: 'data', value });
    messages.inject(data(1), data(2), data(3));
    messages.expect({ type: 'batch', value: 3 });
    messages.advance(5);
    expect(messages.takeAll().map((m) => m.value)).toEqual([1, 2, 3]);
  });

  it('skips packets the codec says to skip, counting them', () => {
    const { script, netif, clock } = setUp();
    const nonProtocol = new Uint8Array(60);
    writeU16(nonProtocol, 12, 0x0806);
    netif.write(60, (buffer) => {
      buffer.set(nonProtocol);
      return 60;
    });
    const messages = script.map<Message>({ decode, encode, skip: (frame) => readU16(frame, 12) !== ETHERTYPE });
    messages.expect({ type: 'hello' });
    expect(messages.skipped).toBe(1);
    expect(clock.now()).toBe(0);
  });

  it('fails with a raw dump when the stack sends a packet that does not decode', () => {
    const { script, netif } = setUp();
    script.expect(() => true);
    netif.write(20, () => 20);
    const messages = script.map<Message>({ decode, encode });
    expect(() => messages.expect({ type: 'hello' })).toThrow(/does not decode \(not a test-protocol frame\):\n20 bytes\n0000  00 00/);
  });

  it('refuses to inject when the stack is not listening or closed the device', async () => {
    const clock = new VirtualClock();
    const { script, netif } = createFrameScript({ clock });
    expect(() => script.inject(new Uint8Array(60))).toThrow(/not listening/);
    netif.listen(() => {});
    await netif.close();
    expect(netif.isClosed).toBe(true);
    expect(() => script.inject(new Uint8Array(60))).toThrow(/closed the device/);
    expect(netif.write(60, () => 60)).toBe(false);
  });

  it('drops frames over the MTU like a device would', () => {
    const clock = new VirtualClock();
    const { script, netif } = createFrameScript({ clock, mtu: 100 });
    expect(netif.write(200, () => 115)).toBe(false);
    expect(netif.write(200, () => 114)).toBe(true);
    expect(netif.stats()).toMatchObject({ txDropped: 1, txFrames: 1 });
    expect(script.pending()).toBe(1);
  });

  it('works over any port: a script of plain objects', () => {
    const clock = new VirtualClock();
    const received: number[] = [];
    let batches = 0;
    const script = new PacketScript<{ n: number }>({
      clock,
      inject: (packet) => {
        received.push(packet.n);
        clock.setTimer(2, () => script.capture({ n: packet.n * 2 }));
      },
      endBatch: () => batches++,
    });
    script.inject({ n: 1 }, { n: 2 });
    expect(received).toEqual([1, 2]);
    expect(batches).toBe(1);
    script.expectWithin(2, { n: 2 });
    script.expect({ n: 4 });
    expect(() => new PacketScript<number>({ clock })).toThrow(TypeError);
  });

  it('lets promise-based code answer while run() moves the clock', async () => {
    const clock = new VirtualClock();
    const script = new PacketScript<string>({
      clock,
      inject: (packet) => {
        void Promise.resolve().then(() => clock.setTimer(3, () => script.capture(`re: ${packet}`)));
      },
    });
    script.inject('ping');
    await script.run(3);
    script.expect('re: ping');
  });

  it('compares nested arrays and bytes in partial objects', () => {
    const clock = new VirtualClock();
    const script = new PacketScript<{ options: number[]; data: Uint8Array }>({ clock, inject: () => {} });
    script.capture({ options: [1, 2], data: new Uint8Array([1]) });
    script.capture({ options: [1, 2], data: new Uint8Array([1]) });
    script.expect({ options: [1, 2], data: new Uint8Array([1]) });
    expect(() => script.expect({ options: [1, 3] })).toThrow(/\.options\[1\]: expected 3, got 2/);
  });
});

describe('formatting', () => {
  it('dumps bytes as offset, hex and ASCII, eliding past the limit', () => {
    const bytes = new Uint8Array(40).map((_, i) => 0x41 + i);
    expect(hexDump(bytes, 32).split('\n')).toEqual([
      '0000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|',
      '0010  51 52 53 54 55 56 57 58  59 5a 5b 5c 5d 5e 5f 60  |QRSTUVWXYZ[\\]^_`|',
      '... 8 more bytes',
    ]);
    expect(hexDump(new Uint8Array(0))).toBe('(0 bytes)');
  });

  it('formats objects with bigint, bytes and maps', () => {
    expect(formatPacket({ a: 1n, b: new Uint8Array([1, 255]), c: new Map([['k', 1]]) })).toBe(
      '{\n  "a": "1n",\n  "b": "<2 bytes 01ff>",\n  "c": {\n    "k": 1\n  }\n}',
    );
  });
});
