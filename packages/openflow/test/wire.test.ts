import { DecodeError, fromHex } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MessageFramer, OFPBRC_BAD_TYPE, OFPET_BAD_REQUEST, OFPP_FLOOD, OFPVID_PRESENT, OfpHeaderView, emitMessage,
  errorFor, negotiateVersion, parseMessage,
} from '@morgana/openflow';
import { messageArb } from './arbitraries.js';

describe('OpenFlow codec', () => {
  for (const version of [1, 4] as const) {
    it(`round-trips every message type (version ${version})`, () => {
      fc.assert(fc.property(messageArb(version), (message) => {
        const bytes = emitMessage(message);
        expect(new OfpHeaderView(bytes).length).toBe(bytes.length);
        expect(parseMessage(bytes)).toEqual(message);
      }), { numRuns: 400 });
    });
  }

  it('throws only DecodeError on arbitrary bytes behind a valid header', () => {
    const header = fc.record({ version: fc.constantFrom(1, 4, 5), type: fc.integer({ min: 0, max: 30 }), xid: fc.integer({ min: 0, max: 0xffffffff }) });
    fc.assert(fc.property(header, fc.uint8Array({ maxLength: 200 }), ({ version, type, xid }, body) => {
      const bytes = new Uint8Array(8 + body.length);
      bytes.set([version, type, (bytes.length >> 8) & 0xff, bytes.length & 0xff, xid >>> 24, (xid >>> 16) & 0xff, (xid >>> 8) & 0xff, xid & 0xff]);
      bytes.set(body, 8);
      try {
        parseMessage(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError);
      }
    }), { numRuns: 3000 });
  });

  it('throws only DecodeError on arbitrary bytes and on mutated valid messages', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      try {
        parseMessage(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError);
      }
    }), { numRuns: 1000 });
    fc.assert(fc.property(messageArb(4), fc.nat(), fc.integer({ min: 0, max: 255 }), (message, at, value) => {
      const bytes = emitMessage(message);
      const index = 8 + (at % Math.max(1, bytes.length - 8));
      if (index < bytes.length) bytes[index] = value;
      try {
        parseMessage(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError);
      }
    }), { numRuns: 1000 });
  });

  it('decodes a known OpenFlow 1.3 flow-mod byte for byte (spec §7.3.4.1 layout)', () => {
    const bytes = emitMessage({
      version: 4, xid: 7, type: 'flow-mod', cookie: 0n, cookieMask: 0n, tableId: 0, command: 0, idleTimeout: 60, hardTimeout: 0,
      priority: 1, bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0,
      match: { inPort: 1, vlanVid: OFPVID_PRESENT | 5 },
      instructions: [{ type: 'apply-actions', actions: [{ type: 'output', port: OFPP_FLOOD, maxLen: 0 }] }],
    });
    expect(bytes.length).toBe(8 + 40 + 24 + 24);
    // match: type 1, length 4 + 8 (in_port) + 6 (vlan_vid) = 18, padded to 24
    expect(Array.from(bytes.subarray(48, 72))).toEqual([
      0, 1, 0, 18, 0x80, 0, 0, 4, 0, 0, 0, 1, 0x80, 0, 12, 2, 0x10, 5, 0, 0, 0, 0, 0, 0,
    ]);
    expect(Array.from(bytes.subarray(72, 80))).toEqual([0, 4, 0, 24, 0, 0, 0, 0]);
  });

  it('widens OpenFlow 1.0 reserved ports to their 1.3 numbers', () => {
    const bytes = emitMessage({ version: 1, xid: 1, type: 'packet-out', bufferId: 0xffffffff, inPort: 0xfffffffd, actions: [{ type: 'output', port: OFPP_FLOOD, maxLen: 0 }], data: new Uint8Array(0) });
    expect(Array.from(bytes.subarray(8))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xfd, 0, 8, 0, 0, 0, 8, 0xff, 0xfb, 0, 0]);
    const parsed = parseMessage(bytes);
    expect(parsed.type === 'packet-out' && parsed.actions[0]).toEqual({ type: 'output', port: OFPP_FLOOD, maxLen: 0 });
  });

  it('reports an unknown message type as bad-type, answered with OFPET_BAD_REQUEST/OFPBRC_BAD_TYPE', () => {
    const unknown = fromHex('0463000800000009');
    let caught: unknown;
    try {
      parseMessage(unknown);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DecodeError);
    expect((caught as DecodeError).reason).toBe('bad-type');
    const reply = errorFor(4, unknown, OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE);
    expect(Array.from(emitMessage(reply))).toEqual([4, 1, 0, 20, 0, 0, 0, 9, 0, 1, 0, 1, 4, 0x63, 0, 8, 0, 0, 0, 9]);
  });

  it('negotiates the highest common version from HELLO bitmaps, else the lower header version (1.3 §6.3.1)', () => {
    expect(negotiateVersion([1, 4], { version: 6, versions: [1, 4, 5, 6] })).toBe(4);
    expect(negotiateVersion([1, 4], { version: 6, versions: [1] })).toBe(1);
    expect(negotiateVersion([4], { version: 6, versions: [1, 5] })).toBeUndefined();
    expect(negotiateVersion([1, 4], { version: 4 })).toBe(4);
    expect(negotiateVersion([1, 4], { version: 1 })).toBe(1);
    expect(negotiateVersion([4], { version: 2 })).toBeUndefined();
    expect(negotiateVersion([1, 4], { version: 6 })).toBe(4);
    const hello = parseMessage(fromHex('0600001000000001000100080000005e'.slice(0, 32)));
    expect(hello).toEqual({ version: 6, xid: 1, type: 'hello', versions: [1, 2, 3, 4, 6] });
  });
});

describe('MessageFramer', () => {
  it('reassembles messages split at arbitrary chunk boundaries', () => {
    fc.assert(fc.property(fc.array(messageArb(4), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }), (messages, cuts) => {
      const encoded = messages.map(emitMessage);
      const stream = new Uint8Array(encoded.reduce((sum, bytes) => sum + bytes.length, 0));
      let at = 0;
      for (const bytes of encoded) {
        stream.set(bytes, at);
        at += bytes.length;
      }
      const framer = new MessageFramer();
      const out: Uint8Array[] = [];
      let offset = 0;
      for (let index = 0; offset < stream.length; index += 1) {
        const size = cuts[index % cuts.length] as number;
        out.push(...framer.push(stream.subarray(offset, offset + size)));
        offset += size;
      }
      expect(out).toEqual(encoded);
      expect(framer.buffered).toBe(0);
    }), { numRuns: 200 });
  });

  it('rejects a header longer than maxMessageSize before buffering it', () => {
    const framer = new MessageFramer({ maxMessageSize: 1024 });
    expect(() => framer.push(fromHex('0400080100000001'))).toThrow(DecodeError);
    expect(() => new MessageFramer().push(fromHex('0400000400000001'))).toThrow(DecodeError);
    const ok = new MessageFramer({ maxMessageSize: 1024 });
    expect(ok.push(fromHex('0400040000000001'))).toEqual([]);
    expect(ok.buffered).toBe(8);
  });
});
