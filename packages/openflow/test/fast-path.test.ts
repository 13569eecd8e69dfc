import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FlowModTemplate, type FrameSink, type Match, MessageFramer, NO_IN_PORT, type OfpMessage, PacketOutTemplate, RawPacketIn, emitMessage, parseMessage,
  readMacAt, writeMacAt,
} from '@morgana/openflow';
import { matchArb } from './arbitraries.js';

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const mac = fc.integer({ min: 0, max: 0xffff_ffff_ffff });
/** Ports a repr of the version can hold: 1.0's are 16-bit, its reserved ones widened. */
const portOf = (version: number): fc.Arbitrary<number> =>
  version === 1 ? fc.oneof(fc.integer({ min: 0, max: 0xfeff }), fc.integer({ min: 0xffffff00, max: 0xffffffff })) : u32;

/** Writes with the fast path at an offset into a dirty buffer, and returns those bytes. */
function written(size: number, offset: number, write: (target: Uint8Array, at: number) => void): Uint8Array {
  const target = new Uint8Array(offset + size + 7).fill(0xa5);
  write(target, offset);
  return target.slice(offset, offset + size);
}

describe('fast path', () => {
  for (const version of [1, 4] as const) {
    it(`writes FLOW_MODs byte-identical to the general codec (version ${version})`, () => {
      const settings = fc.record({
        idleTimeout: u16, hardTimeout: u16, priority: u16, cookie: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        tableId: fc.integer({ min: 0, max: 0xfe }), flags: fc.integer({ min: 0, max: 0x1f }), maxLen: u16,
      }, { requiredKeys: ['idleTimeout', 'hardTimeout', 'priority'] });
      const fields = fc.tuple(u32, u32, portOf(version), mac, mac, portOf(version));
      fc.assert(fc.property(settings, fields, fc.integer({ min: 0, max: 40 }), (s, [xid, bufferId, inPort, ethSrc, ethDst, outPort], offset) => {
        const template = new FlowModTemplate(version, version === 1 ? { ...s, tableId: 0 } : s);
        const fast = written(template.size, offset, (target, at) => template.write(target, at, xid, bufferId, inPort, ethSrc, ethDst, outPort));
        const general = emitMessage(template.message(xid, bufferId, inPort, ethSrc, ethDst, outPort));
        expect(fast).toEqual(general);
        // And the general parser reads back the fields that were patched in.
        const parsed = parseMessage(fast);
        expect(parsed.type === 'flow-mod' && [parsed.xid, parsed.bufferId, parsed.match.inPort, parsed.match.ethSrc, parsed.match.ethDst]).toEqual([xid, bufferId, inPort, ethSrc, ethDst]);
      }), { numRuns: 300 });
    });

    it(`writes PACKET_OUTs byte-identical to the general codec, with or without a frame (version ${version})`, () => {
      const frame = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 400 }));
      fc.assert(fc.property(fc.tuple(u32, u32, portOf(version), portOf(version)), u16, frame, fc.integer({ min: 0, max: 20 }), ([xid, bufferId, inPort, outPort], maxLen, data, from) => {
        const template = new PacketOutTemplate(version, maxLen);
        // The frame sits at `from` in a larger buffer, as it does in a receive buffer.
        const source = new Uint8Array(from + data.length + 3).fill(0x5a);
        source.set(data, from);
        const fast = written(template.headSize + data.length, 3, (target, at) => template.write(target, at, xid, bufferId, inPort, outPort, source, from, data.length));
        expect(fast).toEqual(emitMessage(template.message(xid, bufferId, inPort, outPort, data)));
      }), { numRuns: 300 });
    });
  }

  it('refuses to build a template for a version it has no layout for', () => {
    expect(() => new FlowModTemplate(5, { idleTimeout: 0, hardTimeout: 0, priority: 0 })).toThrow(RangeError);
    expect(() => new PacketOutTemplate(2)).toThrow(RangeError);
  });

  it('reads and writes 48-bit MACs held in numbers', () => {
    fc.assert(fc.property(mac, (value) => {
      const bytes = new Uint8Array(8);
      writeMacAt(bytes, 1, value);
      expect(readMacAt(bytes, 1)).toBe(value);
      expect(bytes[0]).toBe(0);
      expect(bytes[7]).toBe(0);
    }));
  });

  for (const version of [1, 4] as const) {
    it(`reads PACKET_IN fields in place as the general parser reads them (version ${version})`, () => {
      const packetIn = fc.record({
        xid: u32, bufferId: u32, totalLen: u16, reason: fc.integer({ min: 0, max: 5 }), tableId: fc.integer({ min: 0, max: version === 1 ? 0 : 254 }),
        cookie: version === 1 ? fc.constant(0n) : fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        match: version === 1 ? portOf(1).map((inPort): Match => ({ inPort })) : matchArb(4),
        data: fc.uint8Array({ maxLength: 100 }),
      });
      fc.assert(fc.property(packetIn, fc.integer({ min: 0, max: 9 }), (fields, offset) => {
        const message: OfpMessage = { version, type: 'packet-in', ...fields };
        const bytes = emitMessage(message);
        const buffer = new Uint8Array(offset + bytes.length + 5);
        buffer.set(bytes, offset);
        const raw = new RawPacketIn();
        const accepted = raw.read(buffer, offset, bytes.length, version);
        // Matches of named fields only are read in place; others are left to the general parser.
        if (fields.match.other === undefined) expect(accepted).toBe(true);
        if (!accepted) return;
        const parsed = parseMessage(bytes);
        if (parsed.type !== 'packet-in') throw new Error('not a packet-in');
        expect([raw.xid, raw.bufferId, raw.totalLen, raw.reason, raw.tableId, raw.inPort]).toEqual([parsed.xid, parsed.bufferId, parsed.totalLen, parsed.reason, parsed.tableId, parsed.match.inPort ?? NO_IN_PORT]);
        expect(raw.data()).toEqual(parsed.data);
        if (parsed.data.length >= 12) expect([raw.ethDst(), raw.ethSrc()]).toEqual([readMacAt(parsed.data, 0), readMacAt(parsed.data, 6)]);
        // The repr route fills the same fields.
        const viaRepr = new RawPacketIn();
        viaRepr.fromMessage(parsed, buffer, offset, bytes.length);
        expect({ ...viaRepr, receivedAt: 0 }).toEqual({ ...raw, receivedAt: 0 });
      }), { numRuns: 300 });
    });
  }

  it('accepts in place only PACKET_INs the general parser accepts, for arbitrary bytes', () => {
    const header = fc.record({ version: fc.constantFrom(1, 4), xid: u32 });
    fc.assert(fc.property(header, fc.uint8Array({ maxLength: 120 }), ({ version, xid }, body) => {
      const bytes = new Uint8Array(8 + body.length);
      bytes.set([version, 10, (bytes.length >> 8) & 0xff, bytes.length & 0xff, xid >>> 24, (xid >>> 16) & 0xff, (xid >>> 8) & 0xff, xid & 0xff]);
      bytes.set(body, 8);
      // Half the time, a well-formed 1.3 match header so the OXM walk gets exercised.
      if (version === 4 && bytes.length >= 28 && (body[0] as number) % 2 === 0) {
        bytes.set([0, 1, 0, Math.min(bytes.length - 24, 4 + ((body[1] as number) % 24))], 24);
      }
      const raw = new RawPacketIn();
      if (!raw.read(bytes, 0, bytes.length, version)) return;
      const parsed = parseMessage(bytes, { versions: [version] });
      expect(parsed.type).toBe('packet-in');
      expect(raw.data()).toEqual(parsed.type === 'packet-in' ? parsed.data : undefined);
    }), { numRuns: 2_000 });
  });

  it('frames in place exactly the messages push() copies out, however the stream is cut', () => {
    const messages = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 12 }).map((bodies) => bodies.map((body, index) => {
      const bytes = new Uint8Array(8 + body.length);
      bytes.set([4, 2, (bytes.length >> 8) & 0xff, bytes.length & 0xff, 0, 0, 0, index]);
      bytes.set(body, 8);
      return bytes;
    }));
    fc.assert(fc.property(messages, fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }), (list, cuts) => {
      const stream = new Uint8Array(list.reduce((sum, message) => sum + message.length, 0));
      let at = 0;
      for (const message of list) {
        stream.set(message, at);
        at += message.length;
      }
      const framer = new MessageFramer();
      const seen: Uint8Array[] = [];
      const sink: FrameSink = { frame: (bytes, offset, length) => { seen.push(bytes.slice(offset, offset + length)); return true; } };
      let position = 0;
      for (let index = 0; position < stream.length; index += 1) {
        const size = cuts[index % cuts.length] as number;
        framer.each(stream.subarray(position, position + size), sink);
        position += size;
      }
      expect(seen).toEqual(list);
      expect(framer.buffered).toBe(0);
    }), { numRuns: 200 });
  });

  it('stops framing when the sink says so', () => {
    const framer = new MessageFramer();
    const two = new Uint8Array([4, 2, 0, 8, 0, 0, 0, 1, 4, 2, 0, 8, 0, 0, 0, 2]);
    let calls = 0;
    framer.each(two, { frame: () => { calls += 1; return false; } });
    expect(calls).toBe(1);
    expect(framer.buffered).toBe(0);
  });

  it('throws DecodeError for a length below the header or above maxMessageSize while framing in place', () => {
    const sink: FrameSink = { frame: () => true };
    expect(() => new MessageFramer().each(new Uint8Array([4, 2, 0, 7, 0, 0, 0, 1]), sink)).toThrow(/shorter than the header/);
    expect(() => new MessageFramer({ maxMessageSize: 100 }).each(new Uint8Array([4, 2, 0, 101, 0, 0, 0, 1]), sink)).toThrow(/exceeds 100/);
  });
});
