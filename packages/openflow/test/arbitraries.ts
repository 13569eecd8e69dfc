import fc from 'fast-check';
import type { Action, Instruction, Match, OfpMessage, PortDesc } from '@morgana/openflow';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const mac = fc.integer({ min: 0, max: 0xffff_ffff_ffff });
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const name = fc.stringMatching(/^[a-z0-9-]{0,15}$/);
const port13 = u32;
const port10 = fc.oneof(fc.integer({ min: 0, max: 0xfeff }), fc.integer({ min: 0xfffffff8, max: 0xffffffff }));

export function matchArb(version: number): fc.Arbitrary<Match> {
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
  }, { requiredKeys: [] }).chain((base) => fc.record({
    base: fc.constant(base),
    ethDstMask: fc.option(mac, { nil: undefined }),
    other: fc.array(fc.record({ oxmClass: fc.constant(0xffff), field: fc.integer({ min: 0, max: 127 }), hasMask: fc.constant(false), payload: bytes(8) }), { maxLength: 2 }),
  })).map(({ base, ethDstMask, other }) => {
    const match: Record<string, unknown> = { ...base };
    if (ethDstMask !== undefined && base.ethDst !== undefined) match.masks = { ethDst: ethDstMask };
    if (other.length > 0) match.other = other;
    return match as Match;
  });
}

export function actionArb(version: number): fc.Arbitrary<Action> {
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
  );
}

export function instructionsArb(version: number): fc.Arbitrary<Instruction[]> {
  const actions = fc.array(actionArb(version), { maxLength: 4 });
  if (version === 1) return fc.option(actions.filter((list) => list.length > 0).map((list): Instruction[] => [{ type: 'apply-actions', actions: list }]), { nil: [] as Instruction[] });
  return fc.array(fc.oneof(
    fc.record({ type: fc.constant('goto-table' as const), tableId: u8 }),
    fc.record({ type: fc.constant('write-metadata' as const), metadata: u64, mask: u64 }),
    fc.record({ type: fc.constantFrom('apply-actions' as const, 'write-actions' as const), actions }),
    fc.constant({ type: 'clear-actions' as const }),
    fc.record({ type: fc.constant('meter' as const), meterId: u32 }),
  ), { maxLength: 4 });
}

function portArb(version: number): fc.Arbitrary<PortDesc> {
  return fc.record({
    portNo: version === 1 ? port10 : port13, hwAddr: mac, name, config: u32, state: u32, curr: u32, advertised: u32,
    supported: u32, peer: u32, currSpeed: version === 1 ? fc.constant(0) : u32, maxSpeed: version === 1 ? fc.constant(0) : u32,
  });
}

/** Every message type at `version`, with fields the version lacks fixed at their read-back value. */
export function messageArb(version: 1 | 4): fc.Arbitrary<OfpMessage> {
  const v13 = version === 4;
  const zero32 = v13 ? u32 : fc.constant(0);
  const zero8 = v13 ? u8 : fc.constant(0);
  const zero64 = v13 ? u64 : fc.constant(0n);
  const base = { version: fc.constant(version), xid: u32 };
  const match = matchArb(version);
  const flowRequest = { tableId: u8, outPort: version === 1 ? port10 : port13, outGroup: zero32, cookie: zero64, cookieMask: zero64, match };
  const text = (max: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[ -~]{0,${max}}$`));
  const requestBodies = [
    fc.constant({ kind: 'desc' as const }),
    fc.record({ kind: fc.constant('flow' as const), ...flowRequest }),
    fc.record({ kind: fc.constant('aggregate' as const), ...flowRequest }),
    fc.record({ kind: fc.constant('port-stats' as const), portNo: version === 1 ? port10 : port13 }),
    fc.record({ kind: fc.constant('other' as const), statsType: fc.constantFrom(3, 5, 0xffff), data: bytes(16) }),
    ...(v13 ? [fc.constant({ kind: 'port-desc' as const })] : []),
  ];
  const replyBodies = [
    fc.record({ kind: fc.constant('desc' as const), mfrDesc: text(40), hwDesc: text(40), swDesc: text(40), serialNum: text(31), dpDesc: text(40) }),
    fc.record({ kind: fc.constant('flow' as const), flows: fc.array(fc.record({
      tableId: u8, durationSec: u32, durationNsec: u32, priority: u16, idleTimeout: u16, hardTimeout: u16,
      flags: v13 ? u16 : fc.constant(0), cookie: u64, packetCount: u64, byteCount: u64, match, instructions: instructionsArb(version),
    }), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('aggregate' as const), packetCount: u64, byteCount: u64, flowCount: u32 }),
    fc.record({ kind: fc.constant('port-stats' as const), ports: fc.array(fc.record({
      portNo: version === 1 ? port10 : port13, counters: fc.array(u64, { minLength: 12, maxLength: 12 }), durationSec: zero32, durationNsec: zero32,
    }), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('other' as const), statsType: fc.constantFrom(3, 5, 0xffff), data: bytes(16) }),
    ...(v13 ? [fc.record({ kind: fc.constant('port-desc' as const), ports: fc.array(portArb(version), { maxLength: 3 }) })] : []),
  ];
  return fc.oneof(
    fc.record({ ...base, type: fc.constant('hello' as const) }),
    fc.record({ ...base, type: fc.constant('hello' as const), versions: fc.uniqueArray(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 4 }).map((list) => list.sort((a, b) => a - b)) }),
    fc.record({ ...base, type: fc.constant('error' as const), errorType: u16, code: u16, data: bytes(64) }),
    fc.record({ ...base, type: fc.constantFrom('echo-request' as const, 'echo-reply' as const), data: bytes(32) }),
    fc.record({ ...base, type: fc.constantFrom('features-request' as const, 'get-config-request' as const, 'barrier-request' as const, 'barrier-reply' as const) }),
    fc.record({
      ...base, type: fc.constant('features-reply' as const), datapathId: u64, nBuffers: u32, nTables: u8, auxiliaryId: zero8,
      capabilities: u32, actions: v13 ? fc.constant(0) : u32, ports: v13 ? fc.constant([]) : fc.array(portArb(version), { maxLength: 3 }),
    }),
    fc.record({ ...base, type: fc.constantFrom('get-config-reply' as const, 'set-config' as const), flags: u16, missSendLen: u16 }),
    fc.record({
      ...base, type: fc.constant('packet-in' as const), bufferId: u32, totalLen: u16, reason: u8, tableId: zero8, cookie: zero64,
      match: v13 ? match : port10.map((inPort) => ({ inPort })), data: bytes(64),
    }),
    fc.record({
      ...base, type: fc.constant('flow-removed' as const), cookie: u64, priority: u16, reason: u8, tableId: zero8, durationSec: u32,
      durationNsec: u32, idleTimeout: u16, hardTimeout: v13 ? u16 : fc.constant(0), packetCount: u64, byteCount: u64, match,
    }),
    fc.record({ ...base, type: fc.constant('port-status' as const), reason: u8, port: portArb(version) }),
    fc.record({ ...base, type: fc.constant('packet-out' as const), bufferId: u32, inPort: version === 1 ? port10 : port13, actions: fc.array(actionArb(version), { maxLength: 4 }), data: bytes(64) }),
    fc.record({
      ...base, type: fc.constant('flow-mod' as const), cookie: u64, cookieMask: zero64, tableId: zero8, command: v13 ? u8 : u16,
      idleTimeout: u16, hardTimeout: u16, priority: u16, bufferId: u32, outPort: version === 1 ? port10 : port13, outGroup: zero32,
      flags: u16, match, instructions: instructionsArb(version),
    }),
    fc.record({ ...base, type: fc.constant('multipart-request' as const), flags: u16, body: fc.oneof(...requestBodies) }),
    fc.record({ ...base, type: fc.constant('multipart-reply' as const), flags: u16, body: fc.oneof(...replyBodies) }),
  ) as fc.Arbitrary<OfpMessage>;
}
