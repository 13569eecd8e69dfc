/**
 * `@morgana/testing/openflow`: fast-check arbitraries for OpenFlow 1.0 and 1.3 messages (every
 * type the codec speaks, matches, actions, instructions, multipart bodies), valid by
 * construction for `@morgana/openflow`'s codec, and mutators that make length, version and
 * type lies. Needs the optional peer `@morgana/openflow`.
 */
import * as fc from 'fast-check';
import { emitMessage } from '@morgana/openflow';
import type {
  Action, Bucket, Instruction, Match, MeterBand, MultipartReplyBody, MultipartRequestBody, OfpMessage, PacketQueue, PortDesc, QueueProperty, RawOxm,
} from '@morgana/openflow';
import { corruptLength, genericMutators, mutate } from './mutators.js';
import type { Mutant, Mutator } from './mutators.js';

/**
 * A copy of `value` whose records have Object.prototype: fast-check may build records without
 * a prototype, which strict deep equality (node:assert) tells apart from what a parser returns.
 */
function plain<T>(value: T): T {
  if (Array.isArray(value)) return value.map(plain) as T;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) copy[key] = plain(field);
  return copy as T;
}

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const mac = fc.integer({ min: 0, max: 0xffff_ffff_ffff });
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
/**
 * The frame a PACKET_IN or PACKET_OUT carries: an Ethernet header (a local experimental
 * EtherType, IEEE 802) and a payload, or nothing (a buffered packet).
 */
const frame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.tuple(fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.uint8Array({ minLength: 46, maxLength: 64 })).map(([addresses, payload]) => {
    const data = new Uint8Array(14 + payload.length);
    data.set(addresses);
    data.set([0x88, 0xb5], 12);
    data.set(payload, 14);
    return data;
  }),
);
const name = fc.stringMatching(/^[a-z0-9-]{0,15}$/);
const port13 = u32;
const port10 = fc.oneof(fc.integer({ min: 0, max: 0xfeff }), fc.integer({ min: 0xfffffff8, max: 0xffffffff }));
/** Opaque experimenter data: actions and instructions pad it to 8 bytes, so whole words round-trip. */
const words8 = fc.integer({ min: 0, max: 3 }).chain((count) => fc.uint8Array({ minLength: 8 * count, maxLength: 8 * count }));
const uint = (bytes: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 2 ** (8 * bytes) - 1 });

/** OXMs kept raw: the wide OpenFlow basic fields (metadata, IPv6 addresses, tunnel id) and experimenter-class ones. */
function rawOxmArb(allowMask: boolean): fc.Arbitrary<RawOxm> {
  const wide = fc.constantFrom([2, 8], [26, 16], [27, 16], [31, 16], [38, 8]).chain(([field, width]) => {
    const masked = allowMask && field !== 31 ? fc.boolean() : fc.constant(false);
    return masked.chain((hasMask) => fc.record({
      oxmClass: fc.constant(0x8000), field: fc.constant(field as number), hasMask: fc.constant(hasMask),
      payload: fc.uint8Array({ minLength: (width as number) * (hasMask ? 2 : 1), maxLength: (width as number) * (hasMask ? 2 : 1) }),
    }));
  });
  // An experimenter OXM's payload starts with the 4-byte experimenter id (1.3 §7.2.3.2).
  const experimenter = fc.record({ oxmClass: fc.constant(0xffff), field: fc.integer({ min: 0, max: 127 }), hasMask: fc.constant(false), payload: fc.uint8Array({ minLength: 4, maxLength: 12 }) });
  return fc.oneof(wide, experimenter);
}

/** A match (1.0 `ofp_match` or 1.3 OXM, masks and raw OXMs included) that the codec reads back as written. */
export function arbOpenFlowMatch(version: number): fc.Arbitrary<Match> {
  return matchArb(version).map(plain);
}

function matchArb(version: number): fc.Arbitrary<Match> {
  if (version === 1) {
    const prefix = fc.integer({ min: 1, max: 31 }).map((bits) => (0xffffffff << (32 - bits)) >>> 0);
    return fc.record({
      inPort: port10, ethSrc: mac, ethDst: mac, vlanVid: u16, vlanPcp: u8, ethType: fc.constantFrom(0x0800, 0x86dd),
      ipDscp: fc.integer({ min: 0, max: 63 }), ipProto: fc.constantFrom(6, 17, 1, 132, 47),
      ipv4Src: u32, ipv4Dst: u32,
    }, { requiredKeys: [] }).chain((base) => fc.record({
      base: fc.constant(base),
      srcMask: fc.option(prefix, { nil: undefined }),
      tp: fc.option(fc.tuple(u16, u16), { nil: undefined }),
    })).map(({ base, srcMask, tp }) => {
      const match: Record<string, unknown> = { ...base };
      if (srcMask !== undefined && base.ipv4Src !== undefined) match.masks = { ipv4Src: srcMask };
      if (tp !== undefined) {
        const proto = base.ipProto;
        const [s, d] = proto === 17 ? ['udpSrc', 'udpDst'] : proto === 132 ? ['sctpSrc', 'sctpDst'] : proto === 1 ? ['icmpv4Type', 'icmpv4Code'] : ['tcpSrc', 'tcpDst'];
        match[s as string] = tp[0];
        match[d as string] = tp[1];
      }
      return match as Match;
    });
  }
  return fc.record({
    inPort: port13, ethSrc: mac, ethDst: mac, ethType: u16, vlanVid: fc.integer({ min: 0, max: 0x1fff }), ipProto: u8,
    ipv4Src: u32, ipv4Dst: u32, tcpSrc: u16, udpDst: u16, arpSha: mac, icmpv4Code: u8,
    ipv6Flabel: uint(4), icmpv6Type: u8, ipv6NdTll: mac, mplsLabel: uint(4), mplsBos: u8, pbbIsid: uint(3), ipv6Exthdr: u16,
  }, { requiredKeys: [] }).chain((base) => fc.record({
    base: fc.constant(base),
    ethDstMask: fc.option(mac, { nil: undefined }),
    pbbIsidMask: fc.option(uint(3), { nil: undefined }),
    // At most one raw OXM per field: a match names each field once (1.3 §7.2.2.3).
    other: fc.uniqueArray(rawOxmArb(true), { maxLength: 2, selector: (oxm) => `${oxm.oxmClass}:${oxm.field}` }),
  })).map(({ base, ethDstMask, pbbIsidMask, other }) => {
    const match: Record<string, unknown> = { ...base };
    const masks: Record<string, number> = {};
    if (ethDstMask !== undefined && base.ethDst !== undefined) masks.ethDst = ethDstMask;
    if (pbbIsidMask !== undefined && base.pbbIsid !== undefined) masks.pbbIsid = pbbIsidMask;
    if (Object.keys(masks).length > 0) match.masks = masks;
    if (other.length > 0) match.other = other;
    return match as Match;
  });
}

/** An action the version can encode. */
export function arbOpenFlowAction(version: number): fc.Arbitrary<Action> {
  return actionArb(version).map(plain);
}

function actionArb(version: number): fc.Arbitrary<Action> {
  if (version === 1) {
    return fc.oneof(
      fc.record({ type: fc.constant('output' as const), port: port10, maxLen: u16 }),
      fc.constant({ type: 'pop-vlan' as const }),
      fc.record({ type: fc.constant('enqueue' as const), port: port10, queueId: u32 }),
      fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('ethSrc' as const, 'ethDst' as const), value: mac }),
      fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('ipv4Src' as const, 'ipv4Dst' as const), value: u32 }),
      fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('vlanVid' as const, 'tcpSrc' as const, 'tcpDst' as const), value: u16 }),
      fc.record({ type: fc.constant('set-field' as const), field: fc.constant('vlanPcp' as const), value: u8 }),
      fc.record({ type: fc.constant('set-field' as const), field: fc.constant('ipDscp' as const), value: fc.integer({ min: 0, max: 63 }) }),
      fc.record({ type: fc.constant('experimenter' as const), experimenter: u32, data: words8 }),
    );
  }
  return fc.oneof(
    fc.record({ type: fc.constant('output' as const), port: port13, maxLen: u16 }),
    fc.record({ type: fc.constant('push-vlan' as const), ethertype: u16 }),
    fc.constant({ type: 'pop-vlan' as const }),
    fc.constant({ type: 'dec-nw-ttl' as const }),
    fc.record({ type: fc.constant('group' as const), groupId: u32 }),
    fc.record({ type: fc.constant('set-queue' as const), queueId: u32 }),
    fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('ethSrc' as const, 'arpTha' as const), value: mac }),
    fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('ipv4Dst' as const, 'inPort' as const), value: u32 }),
    fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('vlanVid' as const, 'tcpDst' as const), value: u16 }),
    fc.record({ type: fc.constant('set-field' as const), field: fc.constant('ipProto' as const), value: u8 }),
    fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('mplsTc' as const, 'mplsBos' as const, 'icmpv6Code' as const), value: u8 }),
    fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('mplsLabel' as const, 'ipv6Flabel' as const), value: uint(4) }),
    fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('ipv6NdSll' as const), value: mac }),
    fc.record({ type: fc.constant('set-field' as const), field: fc.constantFrom('pbbIsid' as const), value: uint(3) }),
    fc.record({ type: fc.constant('set-field-oxm' as const), oxm: rawOxmArb(false) }),
    fc.record({ type: fc.constantFrom('push-mpls' as const, 'pop-mpls' as const, 'push-pbb' as const), ethertype: u16 }),
    fc.constantFrom(
      { type: 'pop-pbb' as const }, { type: 'copy-ttl-out' as const }, { type: 'copy-ttl-in' as const }, { type: 'dec-mpls-ttl' as const },
    ),
    fc.record({ type: fc.constant('set-mpls-ttl' as const), mplsTtl: u8 }),
    fc.record({ type: fc.constant('set-nw-ttl' as const), nwTtl: u8 }),
    fc.record({ type: fc.constant('experimenter' as const), experimenter: u32, data: words8 }),
  );
}

/** An instruction list (1.0: at most one apply-actions, its action list). */
export function arbOpenFlowInstructions(version: number): fc.Arbitrary<Instruction[]> {
  return instructionsArb(version).map(plain);
}

function instructionsArb(version: number): fc.Arbitrary<Instruction[]> {
  const actions = fc.array(actionArb(version), { maxLength: 4 });
  if (version === 1) return fc.option(actions.filter((list) => list.length > 0).map((list): Instruction[] => [{ type: 'apply-actions', actions: list }]), { nil: [] as Instruction[] });
  return fc.array(fc.oneof(
    fc.record({ type: fc.constant('goto-table' as const), tableId: u8 }),
    fc.record({ type: fc.constant('write-metadata' as const), metadata: u64, mask: u64 }),
    fc.record({ type: fc.constantFrom('apply-actions' as const, 'write-actions' as const), actions }),
    fc.constant({ type: 'clear-actions' as const }),
    fc.record({ type: fc.constant('meter' as const), meterId: u32 }),
    fc.record({ type: fc.constant('experimenter' as const), experimenter: u32, data: words8 }),
  ), { maxLength: 4 });
}

function portArb(version: number): fc.Arbitrary<PortDesc> {
  return fc.record({
    portNo: version === 1 ? port10 : port13, hwAddr: mac, name, config: u32, state: u32, curr: u32, advertised: u32,
    supported: u32, peer: u32, currSpeed: version === 1 ? fc.constant(0) : u32, maxSpeed: version === 1 ? fc.constant(0) : u32,
  });
}

function bucketArb(): fc.Arbitrary<Bucket> {
  return fc.record({ weight: u16, watchPort: port13, watchGroup: u32, actions: fc.array(actionArb(4), { maxLength: 3 }) });
}

function bandArb(): fc.Arbitrary<MeterBand> {
  return fc.oneof(
    fc.record({ type: fc.constant('drop' as const), rate: u32, burstSize: u32 }),
    fc.record({ type: fc.constant('dscp-remark' as const), rate: u32, burstSize: u32, precLevel: u8 }),
    fc.record({ type: fc.constant('experimenter' as const), rate: u32, burstSize: u32, experimenter: u32, data: bytes(12) }),
  );
}

function queueArb(version: number): fc.Arbitrary<PacketQueue> {
  const property: fc.Arbitrary<QueueProperty> = version === 1
    ? fc.oneof(fc.constant({ type: 'none' as const }), fc.record({ type: fc.constant('min-rate' as const), rate: u16 }))
    : fc.oneof(
      fc.record({ type: fc.constantFrom('min-rate' as const, 'max-rate' as const), rate: u16 }),
      fc.record({ type: fc.constant('experimenter' as const), experimenter: u32, data: bytes(12) }),
    );
  return fc.record({ queueId: u32, port: version === 1 ? fc.constant(0) : port13, properties: fc.array(property, { maxLength: 3 }) });
}

const groupType = fc.integer({ min: 0, max: 3 });
const counters = fc.array(fc.record({ packetCount: u64, byteCount: u64 }), { maxLength: 3 });

/**
 * One arbitrary per message type at `version` (multipart messages one per body kind, keyed
 * `multipart-request/<kind>`), with fields the version lacks fixed at their read-back value.
 */
export function arbOpenFlowMessagesByType(version: 1 | 4): Record<string, fc.Arbitrary<OfpMessage>> {
  return Object.fromEntries(Object.entries(messagesByType(version)).map(([type, arbitrary]) => [type, arbitrary.map(plain)]));
}

function messagesByType(version: 1 | 4): Record<string, fc.Arbitrary<OfpMessage>> {
  const v13 = version === 4;
  const zero32 = v13 ? u32 : fc.constant(0);
  const zero8 = v13 ? u8 : fc.constant(0);
  const zero64 = v13 ? u64 : fc.constant(0n);
  const base = { version: fc.constant(version), xid: u32 };
  const match = matchArb(version);
  const port = version === 1 ? port10 : port13;
  const flowRequest = { tableId: u8, outPort: port, outGroup: zero32, cookie: zero64, cookieMask: zero64, match };
  const text = (max: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[ -~]{0,${max}}$`));
  const experimenter = { experimenter: u32, expType: zero32, data: bytes(16) };
  const requestBodies: Record<string, fc.Arbitrary<MultipartRequestBody>> = {
    desc: fc.constant({ kind: 'desc' as const }),
    flow: fc.record({ kind: fc.constant('flow' as const), ...flowRequest }),
    aggregate: fc.record({ kind: fc.constant('aggregate' as const), ...flowRequest }),
    'port-stats': fc.record({ kind: fc.constant('port-stats' as const), portNo: port }),
    table: fc.constant({ kind: 'table' as const }),
    queue: fc.record({ kind: fc.constant('queue' as const), portNo: port, queueId: u32 }),
    experimenter: fc.record({ kind: fc.constant('experimenter' as const), ...experimenter }),
    other: fc.record({ kind: fc.constant('other' as const), statsType: v13 ? fc.constantFrom(12, 14, 0x7fff) : fc.constantFrom(6, 13, 0x7fff), data: bytes(16) }),
    ...(v13 ? {
      'port-desc': fc.constant({ kind: 'port-desc' as const }),
      group: fc.record({ kind: fc.constant('group' as const), groupId: u32 }),
      'group-desc': fc.constant({ kind: 'group-desc' as const }),
      'group-features': fc.constant({ kind: 'group-features' as const }),
      meter: fc.record({ kind: fc.constantFrom('meter' as const, 'meter-config' as const), meterId: u32 }),
      'meter-features': fc.constant({ kind: 'meter-features' as const }),
    } : {}),
  };
  const replyBodies: Record<string, fc.Arbitrary<MultipartReplyBody>> = {
    desc: fc.record({ kind: fc.constant('desc' as const), mfrDesc: text(40), hwDesc: text(40), swDesc: text(40), serialNum: text(31), dpDesc: text(40) }),
    flow: fc.record({ kind: fc.constant('flow' as const), flows: fc.array(fc.record({
      tableId: u8, durationSec: u32, durationNsec: u32, priority: u16, idleTimeout: u16, hardTimeout: u16,
      flags: v13 ? u16 : fc.constant(0), cookie: u64, packetCount: u64, byteCount: u64, match, instructions: instructionsArb(version),
    }), { maxLength: 3 }) }),
    aggregate: fc.record({ kind: fc.constant('aggregate' as const), packetCount: u64, byteCount: u64, flowCount: u32 }),
    'port-stats': fc.record({ kind: fc.constant('port-stats' as const), ports: fc.array(fc.record({
      portNo: port, counters: fc.array(u64, { minLength: 12, maxLength: 12 }), durationSec: zero32, durationNsec: zero32,
    }), { maxLength: 3 }) }),
    table: fc.record({ kind: fc.constant('table' as const), tables: fc.array(fc.record({
      tableId: u8, name: v13 ? fc.constant('') : text(31), wildcards: v13 ? fc.constant(0) : u32, maxEntries: v13 ? fc.constant(0) : u32,
      activeCount: u32, lookupCount: u64, matchedCount: u64,
    }), { maxLength: 3 }) }),
    queue: fc.record({ kind: fc.constant('queue' as const), queues: fc.array(fc.record({
      portNo: port, queueId: u32, txBytes: u64, txPackets: u64, txErrors: u64, durationSec: zero32, durationNsec: zero32,
    }), { maxLength: 3 }) }),
    experimenter: fc.record({ kind: fc.constant('experimenter' as const), ...experimenter }),
    other: fc.record({ kind: fc.constant('other' as const), statsType: v13 ? fc.constantFrom(12, 14, 0x7fff) : fc.constantFrom(6, 13, 0x7fff), data: bytes(16) }),
    ...(v13 ? {
      'port-desc': fc.record({ kind: fc.constant('port-desc' as const), ports: fc.array(portArb(version), { maxLength: 3 }) }),
      group: fc.record({ kind: fc.constant('group' as const), groups: fc.array(fc.record({
        groupId: u32, refCount: u32, packetCount: u64, byteCount: u64, durationSec: u32, durationNsec: u32, bucketStats: counters,
      }), { maxLength: 3 }) }),
      'group-desc': fc.record({ kind: fc.constant('group-desc' as const), groups: fc.array(fc.record({
        groupType, groupId: u32, buckets: fc.array(bucketArb(), { maxLength: 3 }),
      }), { maxLength: 3 }) }),
      'group-features': fc.record({
        kind: fc.constant('group-features' as const), types: u32, capabilities: u32,
        maxGroups: fc.array(u32, { minLength: 4, maxLength: 4 }), actions: fc.array(u32, { minLength: 4, maxLength: 4 }),
      }),
      meter: fc.record({ kind: fc.constant('meter' as const), meters: fc.array(fc.record({
        meterId: u32, flowCount: u32, packetInCount: u64, byteInCount: u64, durationSec: u32, durationNsec: u32, bandStats: counters,
      }), { maxLength: 3 }) }),
      'meter-config': fc.record({ kind: fc.constant('meter-config' as const), meters: fc.array(fc.record({
        flags: u16, meterId: u32, bands: fc.array(bandArb(), { maxLength: 3 }),
      }), { maxLength: 3 }) }),
      'meter-features': fc.record({ kind: fc.constant('meter-features' as const), maxMeter: u32, bandTypes: u32, capabilities: u32, maxBands: u8, maxColor: u8 }),
    } : {}),
  };
  const messages: Record<string, fc.Arbitrary<OfpMessage>> = {
    hello: fc.record({ ...base, type: fc.constant('hello' as const) }),
    'hello/versions': fc.record({ ...base, type: fc.constant('hello' as const), versions: fc.uniqueArray(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 4 }).map((list) => list.sort((a, b) => a - b)) }),
    error: fc.record({ ...base, type: fc.constant('error' as const), errorType: v13 ? u16.filter((errorType) => errorType !== 0xffff) : u16, code: u16, data: bytes(64) }),
    // OFPET_EXPERIMENTER errors carry an experimenter id (1.3 §7.4.4): the codec always reads one.
    ...(v13 ? { 'error/experimenter': fc.record({ ...base, type: fc.constant('error' as const), errorType: fc.constant(0xffff), code: u16, experimenter: u32, data: bytes(64) }) } : {}),
    echo: fc.record({ ...base, type: fc.constantFrom('echo-request' as const, 'echo-reply' as const), data: bytes(32) }),
    experimenter: fc.record({ ...base, type: fc.constant('experimenter' as const), ...experimenter }),
    empty: fc.record({ ...base, type: fc.constantFrom('features-request' as const, 'get-config-request' as const, 'barrier-request' as const, 'barrier-reply' as const) }),
    'features-reply': fc.record({
      ...base, type: fc.constant('features-reply' as const), datapathId: u64, nBuffers: u32, nTables: u8, auxiliaryId: zero8,
      capabilities: u32, actions: v13 ? fc.constant(0) : u32, ports: v13 ? fc.constant([]) : fc.array(portArb(version), { maxLength: 3 }),
    }),
    config: fc.record({ ...base, type: fc.constantFrom('get-config-reply' as const, 'set-config' as const), flags: u16, missSendLen: u16 }),
    'packet-in': fc.record({
      ...base, type: fc.constant('packet-in' as const), bufferId: u32, totalLen: u16, reason: u8, tableId: zero8, cookie: zero64,
      match: v13 ? match : port10.map((inPort) => ({ inPort })), data: frame,
    }),
    'flow-removed': fc.record({
      ...base, type: fc.constant('flow-removed' as const), cookie: u64, priority: u16, reason: u8, tableId: zero8, durationSec: u32,
      durationNsec: u32, idleTimeout: u16, hardTimeout: v13 ? u16 : fc.constant(0), packetCount: u64, byteCount: u64, match,
    }),
    'port-status': fc.record({ ...base, type: fc.constant('port-status' as const), reason: u8, port: portArb(version) }),
    'packet-out': fc.record({ ...base, type: fc.constant('packet-out' as const), bufferId: u32, inPort: port, actions: fc.array(actionArb(version), { maxLength: 4 }), data: frame }),
    'flow-mod': fc.record({
      ...base, type: fc.constant('flow-mod' as const), cookie: u64, cookieMask: zero64, tableId: zero8, command: v13 ? u8 : u16,
      idleTimeout: u16, hardTimeout: u16, priority: u16, bufferId: u32, outPort: port, outGroup: zero32,
      flags: u16, match, instructions: instructionsArb(version),
    }),
    'port-mod': fc.record({ ...base, type: fc.constant('port-mod' as const), portNo: port, hwAddr: mac, config: u32, mask: u32, advertise: u32 }),
    'queue-get-config-request': fc.record({ ...base, type: fc.constant('queue-get-config-request' as const), port }),
    'queue-get-config-reply': fc.record({ ...base, type: fc.constant('queue-get-config-reply' as const), port, queues: fc.array(queueArb(version), { maxLength: 3 }) }),
    ...(v13 ? {
      'table-mod': fc.record({ ...base, type: fc.constant('table-mod' as const), tableId: u8, config: u32 }),
      'group-mod': fc.record({ ...base, type: fc.constant('group-mod' as const), command: u16, groupType, groupId: u32, buckets: fc.array(bucketArb(), { maxLength: 4 }) }),
      'meter-mod': fc.record({ ...base, type: fc.constant('meter-mod' as const), command: u16, flags: u16, meterId: u32, bands: fc.array(bandArb(), { maxLength: 4 }) }),
      role: fc.record({ ...base, type: fc.constantFrom('role-request' as const, 'role-reply' as const), role: u32, generationId: u64 }),
      'get-async-request': fc.record({ ...base, type: fc.constant('get-async-request' as const) }),
      async: fc.record({
        ...base, type: fc.constantFrom('get-async-reply' as const, 'set-async' as const),
        packetInMask: fc.tuple(u32, u32), portStatusMask: fc.tuple(u32, u32), flowRemovedMask: fc.tuple(u32, u32),
      }),
    } : {}),
  };
  for (const [kind, body] of Object.entries(requestBodies)) messages[`multipart-request/${kind}`] = fc.record({ ...base, type: fc.constant('multipart-request' as const), flags: u16, body });
  for (const [kind, body] of Object.entries(replyBodies)) messages[`multipart-reply/${kind}`] = fc.record({ ...base, type: fc.constant('multipart-reply' as const), flags: u16, body });
  return messages;
}

/** A message of any type the codec speaks at `version` (1 for OpenFlow 1.0, 4 for 1.3). */
export function arbOpenFlowMessage(version: 1 | 4): fc.Arbitrary<OfpMessage> {
  return fc.oneof(...Object.values(arbOpenFlowMessagesByType(version)));
}

/** {@link arbOpenFlowMessage} emitted. */
export function arbOpenFlowMessageBytes(version: 1 | 4): fc.Arbitrary<Uint8Array> {
  return arbOpenFlowMessage(version).map((message) => emitMessage(message));
}

/** The header's length field (OpenFlow 1.3 §7.1: the whole message, header included). */
const HEADER_LENGTH_FIELD = { name: 'ofp_header.length', offset: 2, size: 2 } as const;

/** Message types either version assigns: a type above these is unknown to both. */
const LAST_TYPE = 29;

/**
 * OpenFlow-aware mutations, each guaranteed malformed for a parser given exactly the message:
 * a header length other than the message's size, a version neither 1.0 nor 1.3 (on anything
 * but HELLO, which negotiation reads at any version), a type neither version defines; and
 * lies in the inner length fields of 1.3 messages (match, action and instruction lengths),
 * which may or may not stay consistent.
 */
export function openFlowMutators(): Mutator[] {
  return [
    corruptLength(HEADER_LENGTH_FIELD, { invalid: true }),
    (bytes) =>
      fc.integer({ min: 0, max: 0xff }).filter((version) => version !== 1 && version !== 4).map((version): Mutant => {
        const out = bytes.slice();
        out[0] = version;
        return { bytes: out, mutation: `version ${version}`, invalid: out[1] !== 0 };
      }),
    (bytes) =>
      fc.integer({ min: LAST_TYPE + 1, max: 0xff }).map((type): Mutant => {
        const out = bytes.slice();
        out[1] = type;
        return { bytes: out, mutation: `type ${type}`, invalid: true };
      }),
    (bytes) =>
      // Any 16-bit word at an even offset past the header: where matches, actions and
      // instructions keep their lengths, this is a length lie.
      fc.integer({ min: 4, max: Math.max(4, (bytes.length >>> 1) - 1) }).chain((word) =>
        corruptLength({ name: `u16 at ${word * 2}`, offset: word * 2, size: 2 })(bytes),
      ),
  ];
}

/** Hostile messages at `version`: {@link openFlowMutators} and the generic mutators over valid messages. */
export function arbHostileOpenFlowMessage(version: 1 | 4): fc.Arbitrary<Mutant> {
  return mutate(arbOpenFlowMessageBytes(version), [...openFlowMutators(), ...genericMutators()]);
}
