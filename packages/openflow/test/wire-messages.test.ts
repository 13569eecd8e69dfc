import { DecodeError, UnsupportedError, fromHex } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  OFPBAC_BAD_LEN, OFPBMC_DUP_FIELD, OFPBRC_BAD_LEN, OFPBRC_BAD_TYPE, OFPBRC_BAD_VERSION, OFPET_BAD_ACTION, OFPET_BAD_MATCH,
  OFPET_BAD_REQUEST, OFP10, OFP13, OFP_REPLY_TYPES, type OfpMessage, emitMessage, errorFor, errorForDecodeError, parseMessage,
} from '@morgana/openflow';
import { messageArbs } from './arbitraries.js';
import { sampleMessages } from './wire-samples.js';

function decodeError(bytes: Uint8Array): DecodeError | undefined {
  try {
    parseMessage(bytes);
  } catch (error) {
    if (error instanceof DecodeError) return error;
    throw error;
  }
  return undefined;
}

function withLength(bytes: Uint8Array, at: number, length: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = (length >> 8) & 0xff;
  copy[at + 1] = length & 0xff;
  return copy;
}

describe('OpenFlow codec: every message type', () => {
  for (const version of [1, 4] as const) {
    for (const [name, arbitrary] of Object.entries(messageArbs(version))) {
      it(`round-trips ${name} (version ${version})`, () => {
        fc.assert(fc.property(arbitrary, (message) => {
          const bytes = emitMessage(message);
          expect(bytes.length).toBe((bytes[2] as number) * 256 + (bytes[3] as number));
          expect(parseMessage(bytes)).toEqual(message);
          expect(emitMessage(parseMessage(bytes))).toEqual(bytes);
        }), { numRuns: 25 });
      });
    }
  }

  it('has an arbitrary for every message type of both versions', () => {
    for (const [version, types] of [[1, OFP10.TYPES], [4, OFP13.TYPES]] as const) {
      const covered = new Set(Object.values(messageArbs(version)).map((arbitrary) => fc.sample(arbitrary, { numRuns: 30, seed: 1 }).map((message) => message.type)).flat());
      expect([...covered].sort()).toEqual(Object.keys(types).sort());
    }
  });

  it('emits the 1.3-only messages and multipart bodies as UnsupportedError in 1.0', () => {
    const samples10 = sampleMessages(1);
    // Types (and multipart kinds) 1.0 lacks; 'flow-mod/ipv6' or 'error/experimenter' are 1.0 types.
    // Raw multipart bodies (table-features) are bytes any version can carry.
    const only13 = Object.entries(sampleMessages(4)).filter(([name, message]) => !(name in samples10) && !((name.split('/')[0] as string) in samples10)
      && !((message.type === 'multipart-request' || message.type === 'multipart-reply') && message.body.kind === 'other'));
    expect(only13.length).toBeGreaterThan(15);
    for (const [, message] of only13) expect(() => emitMessage({ ...message, version: 1 } as OfpMessage)).toThrow(UnsupportedError);
  });

  it('refuses to emit a 1.0 match it would have to widen (fields, masks or OXMs 1.0 lacks)', () => {
    const flowMod = (match: Record<string, unknown>): OfpMessage => ({
      ...(sampleMessages(1)['flow-mod'] as OfpMessage & { type: 'flow-mod' }), match,
    });
    expect(() => emitMessage(flowMod({ ethType: 0x0800, ipv4Src: 0x0a000000, masks: { ipv4Src: 0xff000000 } }))).not.toThrow();
    for (const match of [
      { ethType: 0x8847, mplsLabel: 5 }, { ethType: 0x0806, arpSha: 1 }, { ethDst: 1, masks: { ethDst: 0xff } },
      { other: [{ oxmClass: 0x8000, field: 26, hasMask: false, payload: new Uint8Array(16) }] },
    ]) expect(() => emitMessage(flowMod(match)), JSON.stringify(match)).toThrow(UnsupportedError);
  });

  it('refuses queue properties the version lacks: NONE outside 1.0, MAX_RATE and EXPERIMENTER in 1.0', () => {
    const reply = (version: 1 | 4, type: 'none' | 'max-rate'): OfpMessage => ({
      version, xid: 1, type: 'queue-get-config-reply', port: 1,
      queues: [{ queueId: 1, port: 0, properties: [type === 'none' ? { type } : { type, rate: 5 }] }],
    });
    expect(() => emitMessage(reply(4, 'none'))).toThrow(UnsupportedError);
    expect(() => emitMessage(reply(1, 'max-rate'))).toThrow(UnsupportedError);
    expect(parseMessage(emitMessage(reply(1, 'none')))).toEqual(reply(1, 'none'));
  });

  it('reads 1.3 message types 30 and up, and 1.0 types 22 and up, as bad-type (OFPBRC_BAD_TYPE)', () => {
    for (const [version, first] of [[1, 22], [4, 30]] as const) {
      for (let type = first; type < 256; type += 1) {
        const bytes = Uint8Array.from([version, type, 0, 12, 0, 0, 0, 7, 1, 2, 3, 4]);
        const error = decodeError(bytes);
        expect(error?.reason).toBe('bad-type');
        const refusal = errorForDecodeError(version, bytes, error as DecodeError);
        expect(refusal).toEqual({ version, xid: 7, type: 'error', errorType: OFPET_BAD_REQUEST, code: OFPBRC_BAD_TYPE, data: bytes });
      }
    }
  });

  it('refuses an undefined type with OFPET_BAD_REQUEST/OFPBRC_BAD_TYPE carrying exactly the first 64 bytes (1.3 §7.4.4)', () => {
    const offending = new Uint8Array(200);
    offending.set([4, 99, 0, 200, 0xde, 0xad, 0xbe, 0xef]);
    for (let index = 8; index < offending.length; index += 1) offending[index] = index;
    const error = decodeError(offending) as DecodeError;
    const reply = errorForDecodeError(4, offending, error);
    const bytes = emitMessage(reply);
    expect(Array.from(bytes.subarray(0, 12))).toEqual([4, 1, 0, 12 + 64, 0xde, 0xad, 0xbe, 0xef, 0, OFPET_BAD_REQUEST, 0, OFPBRC_BAD_TYPE]);
    expect(bytes.subarray(12)).toEqual(offending.subarray(0, 64));
    expect(errorFor(4, offending, OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE)).toEqual(reply);
  });

  it('maps decode failures to their error type and code', () => {
    const flowMod = emitMessage({
      version: 4, xid: 1, type: 'flow-mod', cookie: 0n, cookieMask: 0n, tableId: 0, command: 0, idleTimeout: 0, hardTimeout: 0, priority: 1,
      bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0, match: {},
      instructions: [{ type: 'apply-actions', actions: [{ type: 'output', port: 1, maxLen: 0 }] }],
    });
    const cases: [Uint8Array, number, number][] = [
      [fromHex('0505000800000001'), OFPET_BAD_REQUEST, OFPBRC_BAD_VERSION],
      // flow-mod: an empty match at 48 (8 bytes), apply-actions at 56, its first action's length at 66.
      [withLength(flowMod, 66, 12), OFPET_BAD_ACTION, OFPBAC_BAD_LEN],
      // A features-request whose header counts 8 bytes of body it does not have.
      [fromHex('0405001000000001 0000000000000000'.replace(' ', '')), OFPET_BAD_REQUEST, OFPBRC_BAD_LEN],
    ];
    for (const [bytes, errorType, code] of cases) {
      const error = decodeError(bytes);
      expect(error, Array.from(bytes).join(',')).toBeInstanceOf(DecodeError);
      const reply = errorForDecodeError(bytes[0] as number, bytes, error as DecodeError);
      expect(reply.type === 'error' && [reply.errorType, reply.code]).toEqual([errorType, code]);
    }
    // A duplicate OXM field in a 1.3 match is OFPET_BAD_MATCH/OFPBMC_DUP_FIELD (1.3 §7.2.2.3).
    const duplicate = emitMessage({ version: 4, xid: 1, type: 'multipart-request', flags: 0, body: { kind: 'flow', tableId: 0, outPort: 0, outGroup: 0, cookie: 0n, cookieMask: 0n, match: { ethType: 0x0800, ipProto: 6 } } });
    // Its match (after the 16-byte headers and 32 bytes of request) is ETH_TYPE then IP_PROTO
    // (5 bytes, then 1 of padding): overwrite IP_PROTO with a second 6-byte ETH_TYPE TLV.
    const matchAt = 16 + 32;
    duplicate.set([0x80, 0, 5 << 1, 2, 0x86, 0xdd], matchAt + 4 + 6);
    duplicate.set([0, 4 + 6 + 6], matchAt + 2);
    const error = decodeError(duplicate.subarray(0, duplicate.length));
    expect(error?.reason).toBe('duplicate-oxm');
    const reply = errorForDecodeError(4, duplicate, error as DecodeError);
    // OFPET_BAD_MATCH (4) / OFPBMC_DUP_FIELD (10), numbered as 1.3.x §A.4.4 numbers them.
    expect(reply.type === 'error' && [reply.errorType, reply.code]).toEqual([OFPET_BAD_MATCH, OFPBMC_DUP_FIELD]);
    expect([OFPET_BAD_MATCH, OFPBMC_DUP_FIELD]).toEqual([4, 10]);
    // An undefined meter band type is OFPET_METER_MOD_FAILED (12) / OFPMMFC_BAD_BAND (8).
    const meterMod = emitMessage(sampleMessages(4)['meter-mod'] as OfpMessage);
    meterMod[17] = 3;
    const bandError = decodeError(meterMod);
    expect(bandError?.reason).toBe('bad-meter-band');
    const bandReply = errorForDecodeError(4, meterMod, bandError as DecodeError);
    expect(bandReply.type === 'error' && [bandReply.errorType, bandReply.code]).toEqual([12, 8]);
    // 1.0 has no bad-match error type: the same failure is OFPBRC_BAD_LEN there.
    const reply10 = errorForDecodeError(1, duplicate, error as DecodeError);
    expect(reply10.type === 'error' && [reply10.errorType, reply10.code]).toEqual([OFPET_BAD_REQUEST, OFPBRC_BAD_LEN]);
  });
});

describe('OpenFlow codec: layouts pinned byte for byte', () => {
  it('writes an experimenter meter band as ofp_meter_band_experimenter (1.3.x §7.3.4.4)', () => {
    const bytes = emitMessage({
      version: 4, xid: 1, type: 'meter-mod', command: 0, flags: 1, meterId: 2,
      bands: [{ type: 'experimenter', rate: 1000, burstSize: 0, experimenter: 0x00abcdef, data: new Uint8Array(8) }],
    });
    expect(bytes).toEqual(fromHex([
      '041d002800000001', // header: version 4, METER_MOD (29), length 40, xid 1
      '0000000100000002', // command ADD, flags KBPS, meter_id 2
      'ffff0018000003e800000000', // band: type EXPERIMENTER, len 24, rate 1000, burst_size 0
      '00abcdef0000000000000000', // experimenter id, then 8 bytes of its data
    ].join('')));
  });

  it('writes a fast-failover group-mod bucket with its watch port and group (1.3.x §7.3.4.2)', () => {
    const bytes = emitMessage(sampleMessages(4)['group-mod/ff'] as OfpMessage);
    expect(bytes.subarray(8, 48)).toEqual(fromHex([
      '0000030000000004', // command ADD, type FF, group_id 4
      '0020000000000001ffffffff00000000', // bucket: len 32, weight 0, watch_port 1, watch_group ANY
      '00000010000000010000000000000000', // output (16 bytes) to port 1, max_len 0
    ].join('')));
  });

  it('lists the reply types a request can be paired with by xid', () => {
    expect([...OFP_REPLY_TYPES].sort()).toEqual([
      'barrier-reply', 'echo-reply', 'error', 'features-reply', 'get-async-reply', 'get-config-reply', 'multipart-reply', 'queue-get-config-reply', 'role-reply',
    ]);
  });
});

describe('OpenFlow codec: length fields that lie', () => {
  it('rejects a header length that differs from the message (OFPBRC_BAD_LEN)', () => {
    const encoded = [...Object.values(sampleMessages(1)), ...Object.values(sampleMessages(4))].map((message) => emitMessage(message));
    fc.assert(fc.property(fc.constantFrom(...encoded), fc.integer({ min: 0, max: 0xffff }), (bytes, length) => {
      if (length === bytes.length) return;
      expect(decodeError(withLength(bytes, 2, length))?.reason).toBe('bad-length');
    }), { numRuns: 300 });
  });

  // Messages whose body has no list or opaque data at its end, so nothing may follow it.
  const FIXED_LAYOUT = /^(features-request|get-config|set-config|flow-removed|port-status|port-mod|barrier|queue-get-config-request|table-mod|role|get-async|set-async|multipart-request\/(?!experimenter|other|table-features)|multipart-reply\/(desc|aggregate|table$|queue|port-stats|group|meter|port-desc))/;

  it('rejects bytes after a fixed-layout body, even when the header counts them', () => {
    for (const version of [1, 4] as const) {
      for (const [name, message] of Object.entries(sampleMessages(version))) {
        const bytes = emitMessage(message);
        const padded = new Uint8Array(bytes.length + 8);
        padded.set(bytes);
        const error = decodeError(withLength(padded, 2, padded.length));
        // A list of fixed-size entries reads the extra bytes as a truncated entry.
        if (FIXED_LAYOUT.test(name)) expect(['bad-length', 'truncated'], `${name} (version ${version})`).toContain(error?.reason);
      }
    }
  });

  // [sample, version, offset of a 16-bit record length, the record's minimum length]
  const records: [string, 1 | 4, number, number][] = [
    ['group-mod/all', 4, 16, 16], // first bucket's len
    ['meter-mod', 4, 18, 16], // first band's len
    ['multipart-reply/group', 4, 16, 40], // ofp_group_stats.length
    ['multipart-reply/group-desc', 4, 16, 8], // ofp_group_desc.length
    ['multipart-reply/group-desc', 4, 24, 16], // its first bucket's len
    ['multipart-reply/meter', 4, 20, 40], // ofp_meter_stats.len (after meter_id)
    ['multipart-reply/meter-config', 4, 16, 8], // ofp_meter_config.length
    ['multipart-reply/meter-config', 4, 26, 16], // its first band's len
    ['multipart-reply/flow', 4, 16, 56], // ofp_flow_stats.length
    ['multipart-reply/flow', 1, 12, 88], // 1.0 ofp_flow_stats.length
    ['queue-get-config-reply', 4, 24, 16], // ofp_packet_queue.len
    ['queue-get-config-reply', 4, 34, 8], // its first property's len
    ['queue-get-config-reply', 1, 20, 8], // 1.0 ofp_packet_queue.len
    ['queue-get-config-reply', 1, 26, 8], // its first property's len
    ['flow-mod', 4, 50, 4], // ofp_match.length
    ['packet-out', 4, 16, 0], // actions_len
    ['packet-out', 1, 14, 0], // 1.0 actions_len
  ];
  for (const [name, version, at, minimum] of records) {
    it(`rejects a lying length at byte ${at} of ${name} (version ${version})`, () => {
      const bytes = emitMessage(sampleMessages(version)[name] as OfpMessage);
      expect(decodeError(bytes)).toBeUndefined();
      const truth = (bytes[at] as number) * 256 + (bytes[at + 1] as number);
      // Shorter than the record's fixed part, off by one either way, past the end of the message.
      const lies = [minimum - 1, truth - 1, truth + 1, bytes.length - at + 1, 0xffff].filter((lie) => lie >= 0);
      for (const lie of lies) {
        expect(decodeError(withLength(bytes, at, lie)), `length ${lie} (true ${truth})`).toBeInstanceOf(DecodeError);
      }
    });
  }
});

describe('OpenFlow codec: hostile input', () => {
  for (const version of [1, 4] as const) {
    it(`throws only DecodeError on mutated and truncated valid messages (version ${version})`, () => {
      const arbitrary = fc.constantFrom(...Object.values(messageArbs(version))).chain((message) => message);
      fc.assert(fc.property(arbitrary, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (message, edits, cut) => {
        const bytes = emitMessage(message);
        for (const [at, value] of edits) bytes[8 + (at % Math.max(1, bytes.length - 8))] = value;
        const truncated = withLength(bytes.subarray(0, 8 + (cut % (bytes.length - 7))), 2, 8 + (cut % (bytes.length - 7)));
        for (const candidate of [bytes, truncated]) {
          try {
            parseMessage(candidate);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        }
      }), { numRuns: 800 });
    });
  }
});
