import {
  OFPCR_ROLE_MASTER, OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE, OFPFC_ADD, OFPGC_ADD, OFPGT_ALL, OFPGT_FF, OFPGT_INDIRECT, OFPGT_SELECT,
  OFPG_ANY, OFPMC_ADD, OFPMF_KBPS, OFPMF_STATS, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPVID_PRESENT, OFP_NO_BUFFER,
  OFPMP_TABLE_FEATURES, type TableFeatures, emitTableFeatures, type Action, type MultipartReplyBody, type MultipartRequestBody, type OfpMessage, type PortDesc, emitMessage,
} from '@morgana/openflow';

/** A broadcast ARP request: what a packet-in or packet-out carries. */
const FRAME = Uint8Array.from([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1,
  0x02, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
]);

const PORT: PortDesc = {
  portNo: 1, hwAddr: 0x0200_0000_0001, name: 'eth1', config: 0, state: 4, curr: 0x840, advertised: 0x840,
  supported: 0x840, peer: 0, currSpeed: 0, maxSpeed: 0,
};

/** The optional actions of 1.3.x §5.12 that Open vSwitch does not implement (it refuses them as OFPBAC_BAD_TYPE). */
const OPTIONAL_ACTIONS_13: readonly Action[] = [
  { type: 'copy-ttl-in' }, { type: 'pop-pbb' }, { type: 'push-pbb', ethertype: 0x88e7 }, { type: 'copy-ttl-out' },
];

/** IPv4 rewrites and forwarding (the flow-mod sample's apply-actions). */
const ACTIONS_13: readonly Action[] = [
  { type: 'pop-vlan' }, { type: 'push-vlan', ethertype: 0x8100 }, { type: 'set-field', field: 'vlanVid', value: OFPVID_PRESENT | 10 },
  { type: 'dec-nw-ttl' }, { type: 'set-nw-ttl', nwTtl: 16 }, { type: 'set-field', field: 'ethDst', value: 0x0200_0000_0002 },
  { type: 'set-field', field: 'ipv4Src', value: 0x0a000009 }, { type: 'set-queue', queueId: 1 }, { type: 'group', groupId: 7 },
  { type: 'output', port: OFPP_CONTROLLER, maxLen: 128 },
];

const IPV6_SOURCE = Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

/** Flow-mods exercising the MPLS and IPv6 actions, each with a match that meets their prerequisites. */
function flowMods13(x: { version: 1 | 4; xid: number }): Record<string, OfpMessage> {
  const flowMod = (cookie: bigint, match: OfpMessage & { type: 'flow-mod' } extends { match: infer M } ? M : never, actions: readonly Action[]): OfpMessage => ({
    ...x, type: 'flow-mod', cookie, cookieMask: 0n, tableId: 0, command: OFPFC_ADD, idleTimeout: 0, hardTimeout: 0, priority: 1,
    bufferId: OFP_NO_BUFFER, outPort: OFPP_ANY, outGroup: OFPG_ANY, flags: 0, match, instructions: [{ type: 'apply-actions', actions }],
  });
  return {
    'flow-mod/push-mpls': flowMod(2n, { ethType: 0x0800 }, [
      { type: 'push-mpls', ethertype: 0x8847 }, { type: 'set-field', field: 'mplsLabel', value: 1000 }, { type: 'set-field', field: 'mplsTc', value: 5 },
      { type: 'set-mpls-ttl', mplsTtl: 32 }, { type: 'dec-mpls-ttl' }, { type: 'output', port: 2, maxLen: 0 },
    ]),
    'flow-mod/pop-mpls': flowMod(3n, { ethType: 0x8847, mplsLabel: 1000, mplsBos: 1 }, [{ type: 'pop-mpls', ethertype: 0x0800 }, { type: 'output', port: 2, maxLen: 0 }]),
    'flow-mod/ipv6': flowMod(4n, { ethType: 0x86dd, ipv6Flabel: 0x12345, masks: { ipv6Flabel: 0xfffff }, other: [{ oxmClass: 0x8000, field: 26, hasMask: false, payload: IPV6_SOURCE }] }, [
      { type: 'set-field', field: 'ipv6Flabel', value: 0x54321 },
      { type: 'set-field-oxm', oxm: { oxmClass: 0x8000, field: 27, hasMask: false, payload: IPV6_SOURCE } },
      { type: 'set-field-oxm', oxm: { oxmClass: 0x8000, field: 38, hasMask: false, payload: Uint8Array.from([0, 0, 0, 0, 0, 0, 0x12, 0x34]) } },
      { type: 'output', port: 2, maxLen: 0 },
    ]),
    'flow-mod/optional-actions': flowMod(5n, {}, OPTIONAL_ACTIONS_13),
  };
}

/** OXM headers (class 0x8000, field, length) of IN_PORT, ETH_DST and ETH_SRC. */
const OXM_IDS = [0x80000004, 0x80000606, 0x80000806];

/** One table as a switch describes it in a table-features reply (1.3.x §7.3.5.5). */
export const TABLE_FEATURES_SAMPLE: readonly TableFeatures[] = [{
  tableId: 0, name: 'classifier', metadataMatch: 0xffff_ffff_ffff_ffffn, metadataWrite: 0xffff_ffff_ffff_ffffn, config: 3, maxEntries: 4096,
  properties: [
    { type: 'instructions', instructionIds: [1, 2, 3, 4, 5, 6].map((type) => ({ type })) },
    { type: 'instructions-miss', instructionIds: [{ type: 4 }] },
    { type: 'next-tables', tableIds: [1, 2] },
    { type: 'next-tables-miss', tableIds: [] },
    { type: 'write-actions', actionIds: [{ type: 0 }, { type: 22 }] },
    { type: 'write-actions-miss', actionIds: [{ type: 0 }] },
    { type: 'apply-actions', actionIds: [{ type: 0 }, { type: 17 }, { type: 18 }, { type: 25 }] },
    { type: 'apply-actions-miss', actionIds: [{ type: 0 }] },
    { type: 'match', oxmIds: OXM_IDS },
    { type: 'wildcards', oxmIds: OXM_IDS },
    { type: 'write-setfield', oxmIds: OXM_IDS.slice(1) },
    { type: 'write-setfield-miss', oxmIds: [] },
    { type: 'apply-setfield', oxmIds: OXM_IDS.slice(1) },
    { type: 'apply-setfield-miss', oxmIds: [] },
  ],
}];

function requests(version: 1 | 4): Record<string, MultipartRequestBody> {
  const common: Record<string, MultipartRequestBody> = {
    desc: { kind: 'desc' },
    flow: { kind: 'flow', tableId: 0xff, outPort: OFPP_ANY, outGroup: version === 4 ? OFPG_ANY : 0, cookie: 0n, cookieMask: 0n, match: {} },
    aggregate: { kind: 'aggregate', tableId: 0xff, outPort: OFPP_ANY, outGroup: version === 4 ? OFPG_ANY : 0, cookie: 0n, cookieMask: 0n, match: { ethType: 0x0800 } },
    table: { kind: 'table' },
    'port-stats': { kind: 'port-stats', portNo: OFPP_ANY },
    queue: { kind: 'queue', portNo: OFPP_ANY, queueId: 0xffffffff },
  };
  if (version === 1) return common;
  return {
    ...common,
    group: { kind: 'group', groupId: 0xfffffffc },
    'group-desc': { kind: 'group-desc' },
    'group-features': { kind: 'group-features' },
    meter: { kind: 'meter', meterId: 0xffffffff },
    'meter-config': { kind: 'meter-config', meterId: 0xffffffff },
    'meter-features': { kind: 'meter-features' },
    'port-desc': { kind: 'port-desc' },
    'table-features': { kind: 'other', statsType: OFPMP_TABLE_FEATURES, data: new Uint8Array(0) },
  };
}

function replies(version: 1 | 4): Record<string, MultipartReplyBody> {
  const v13 = version === 4;
  const instructions = v13
    ? [{ type: 'apply-actions' as const, actions: [{ type: 'output' as const, port: 2, maxLen: 0 }] }, { type: 'goto-table' as const, tableId: 1 }]
    : [{ type: 'apply-actions' as const, actions: [{ type: 'output' as const, port: 2, maxLen: 0 }] }];
  const common: Record<string, MultipartReplyBody> = {
    desc: { kind: 'desc', mfrDesc: 'morgana', hwDesc: 'simulated', swDesc: '0.1.0', serialNum: '42', dpDesc: 'test switch' },
    flow: { kind: 'flow', flows: [{
      tableId: 0, durationSec: 5, durationNsec: 1000, priority: 100, idleTimeout: 60, hardTimeout: 0, flags: v13 ? 1 : 0, cookie: 9n,
      packetCount: 3n, byteCount: 180n, match: { inPort: 1, ethDst: 0x0200_0000_0002 }, instructions,
    }] },
    aggregate: { kind: 'aggregate', packetCount: 10n, byteCount: 600n, flowCount: 2 },
    table: { kind: 'table', tables: [{ tableId: 0, name: v13 ? '' : 'classifier', wildcards: v13 ? 0 : 0x3fffff, maxEntries: v13 ? 0 : 4096, activeCount: 2, lookupCount: 100n, matchedCount: 90n }] },
    'port-stats': { kind: 'port-stats', ports: [{ portNo: 1, counters: [1n, 2n, 3n, 4n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n], durationSec: v13 ? 5 : 0, durationNsec: 0 }] },
    queue: { kind: 'queue', queues: [{ portNo: 1, queueId: 0, txBytes: 1000n, txPackets: 10n, txErrors: 0n, durationSec: v13 ? 5 : 0, durationNsec: 0 }] },
  };
  if (!v13) return common;
  const buckets = [
    { weight: 0, watchPort: OFPP_ANY, watchGroup: OFPG_ANY, actions: [{ type: 'output' as const, port: 1, maxLen: 0 }] },
    { weight: 0, watchPort: OFPP_ANY, watchGroup: OFPG_ANY, actions: [{ type: 'set-field' as const, field: 'ethDst' as const, value: 0x0200_0000_0003 }, { type: 'output' as const, port: 2, maxLen: 0 }] },
  ];
  return {
    ...common,
    group: { kind: 'group', groups: [{ groupId: 1, refCount: 1, packetCount: 5n, byteCount: 300n, durationSec: 3, durationNsec: 0, bucketStats: [{ packetCount: 5n, byteCount: 300n }, { packetCount: 5n, byteCount: 300n }] }] },
    'group-desc': { kind: 'group-desc', groups: [{ groupType: OFPGT_ALL, groupId: 1, buckets }] },
    'group-features': { kind: 'group-features', types: 0xf, capabilities: 0x3, maxGroups: [64, 64, 64, 64], actions: [0x1, 0x1, 0x1, 0x1] },
    meter: { kind: 'meter', meters: [{ meterId: 1, flowCount: 1, packetInCount: 10n, byteInCount: 600n, durationSec: 2, durationNsec: 0, bandStats: [{ packetCount: 1n, byteCount: 60n }] }] },
    'meter-config': { kind: 'meter-config', meters: [{ flags: OFPMF_KBPS | OFPMF_STATS, meterId: 1, bands: [{ type: 'drop', rate: 1000, burstSize: 100 }] }] },
    'meter-features': { kind: 'meter-features', maxMeter: 64, bandTypes: 0x6, capabilities: 0xf, maxBands: 2, maxColor: 0 },
    'port-desc': { kind: 'port-desc', ports: [PORT] },
    'table-features': { kind: 'other', statsType: OFPMP_TABLE_FEATURES, data: emitTableFeatures(TABLE_FEATURES_SAMPLE) },
  };
}

/** One realistic instance of every message type at `version`, each named by its key. */
export function sampleMessages(version: 1 | 4): Record<string, OfpMessage> {
  const v13 = version === 4;
  const x = { version, xid: 1 };
  const port = v13 ? PORT : { ...PORT, currSpeed: 0, maxSpeed: 0 };
  const echo = emitMessage({ ...x, type: 'echo-request', data: new Uint8Array(0) });
  const messages: Record<string, OfpMessage> = {
    hello: { ...x, type: 'hello', versions: [1, 4] },
    error: { ...x, type: 'error', errorType: OFPET_BAD_REQUEST, code: OFPBRC_BAD_TYPE, data: echo },
    'echo-request': { ...x, type: 'echo-request', data: Uint8Array.from([1, 2, 3, 4]) },
    'echo-reply': { ...x, type: 'echo-reply', data: Uint8Array.from([1, 2, 3, 4]) },
    experimenter: { ...x, type: 'experimenter', experimenter: 0x00abcdef, expType: v13 ? 1 : 0, data: new Uint8Array(8) },
    'features-request': { ...x, type: 'features-request' },
    'features-reply': {
      ...x, type: 'features-reply', datapathId: 0x1234n, nBuffers: 0, nTables: 1, auxiliaryId: 0, capabilities: 0x7,
      actions: v13 ? 0 : 0xfff, ports: v13 ? [] : [port],
    },
    'get-config-request': { ...x, type: 'get-config-request' },
    'get-config-reply': { ...x, type: 'get-config-reply', flags: 0, missSendLen: 128 },
    'set-config': { ...x, type: 'set-config', flags: 0, missSendLen: 0xffff },
    'packet-in': { ...x, type: 'packet-in', bufferId: OFP_NO_BUFFER, totalLen: FRAME.length, reason: 0, tableId: 0, cookie: 0n, match: { inPort: 1 }, data: FRAME },
    'flow-removed': {
      ...x, type: 'flow-removed', cookie: 5n, priority: 100, reason: 0, tableId: 0, durationSec: 60, durationNsec: 0, idleTimeout: 60,
      hardTimeout: 0, packetCount: 4n, byteCount: 240n, match: { inPort: 1, ethType: 0x0800, ipv4Src: 0x0a000001 },
    },
    'port-status': { ...x, type: 'port-status', reason: 2, port },
    'packet-out': { ...x, type: 'packet-out', bufferId: OFP_NO_BUFFER, inPort: OFPP_CONTROLLER, actions: [{ type: 'output', port: OFPP_FLOOD, maxLen: 0 }], data: FRAME },
    'flow-mod': {
      ...x, type: 'flow-mod', cookie: 1n, cookieMask: 0n, tableId: 0, command: OFPFC_ADD, idleTimeout: 60, hardTimeout: 0, priority: 100,
      bufferId: OFP_NO_BUFFER, outPort: OFPP_ANY, outGroup: v13 ? OFPG_ANY : 0, flags: 1,
      match: v13 ? { inPort: 1, vlanVid: OFPVID_PRESENT | 5, ethType: 0x0800, ipv4Dst: 0x0a000000, masks: { ipv4Dst: 0xffffff00 } } : { inPort: 1, ethType: 0x0800, ipProto: 6, tcpDst: 80 },
      instructions: v13
        ? [
          { type: 'meter', meterId: 1 }, { type: 'apply-actions', actions: ACTIONS_13 }, { type: 'clear-actions' },
          { type: 'write-actions', actions: [{ type: 'output', port: 2, maxLen: 0 }] },
          { type: 'write-metadata', metadata: 1n, mask: 0xffn }, { type: 'goto-table', tableId: 1 },
        ]
        : [{ type: 'apply-actions', actions: [
          { type: 'set-field', field: 'vlanVid', value: 10 }, { type: 'set-field', field: 'vlanPcp', value: 3 },
          { type: 'set-field', field: 'ethSrc', value: 0x0200_0000_0001 }, { type: 'set-field', field: 'ipv4Dst', value: 0x0a000003 },
          { type: 'set-field', field: 'ipDscp', value: 46 }, { type: 'set-field', field: 'tcpDst', value: 8080 }, { type: 'pop-vlan' },
          { type: 'enqueue', port: 2, queueId: 1 }, { type: 'output', port: 2, maxLen: 0 },
        ] }],
    },
    'port-mod': { ...x, type: 'port-mod', portNo: 1, hwAddr: PORT.hwAddr, config: 1, mask: 1, advertise: 0 },
    'barrier-request': { ...x, type: 'barrier-request' },
    'barrier-reply': { ...x, type: 'barrier-reply' },
    'queue-get-config-request': { ...x, type: 'queue-get-config-request', port: 1 },
    'queue-get-config-reply': {
      ...x, type: 'queue-get-config-reply', port: 1,
      queues: [{ queueId: 1, port: v13 ? 1 : 0, properties: v13 ? [{ type: 'min-rate', rate: 100 }, { type: 'max-rate', rate: 500 }] : [{ type: 'min-rate', rate: 100 }] }],
    },
  };
  for (const [kind, body] of Object.entries(requests(version))) messages[`multipart-request/${kind}`] = { ...x, type: 'multipart-request', flags: 0, body };
  for (const [kind, body] of Object.entries(replies(version))) messages[`multipart-reply/${kind}`] = { ...x, type: 'multipart-reply', flags: 0, body };
  if (!v13) return messages;
  const bucket = (weight: number, watchPort: number, port: number): { weight: number; watchPort: number; watchGroup: number; actions: Action[] } => (
    { weight, watchPort, watchGroup: OFPG_ANY, actions: [{ type: 'output', port, maxLen: 0 }] }
  );
  return {
    ...messages,
    'group-mod/all': { ...x, type: 'group-mod', command: OFPGC_ADD, groupType: OFPGT_ALL, groupId: 1, buckets: [bucket(0, OFPP_ANY, 1), bucket(0, OFPP_ANY, 2)] },
    'group-mod/select': { ...x, type: 'group-mod', command: OFPGC_ADD, groupType: OFPGT_SELECT, groupId: 2, buckets: [bucket(3, OFPP_ANY, 1), bucket(1, OFPP_ANY, 2)] },
    'group-mod/indirect': { ...x, type: 'group-mod', command: OFPGC_ADD, groupType: OFPGT_INDIRECT, groupId: 3, buckets: [bucket(0, OFPP_ANY, 1)] },
    'group-mod/ff': { ...x, type: 'group-mod', command: OFPGC_ADD, groupType: OFPGT_FF, groupId: 4, buckets: [bucket(0, 1, 1), bucket(0, 2, 2)] },
    ...flowMods13(x),
    'error/experimenter': { ...x, type: 'error', errorType: 0xffff, code: 1, experimenter: 0x00abcdef, data: echo },
    'table-mod': { ...x, type: 'table-mod', tableId: 0, config: 0 },
    'role-request': { ...x, type: 'role-request', role: OFPCR_ROLE_MASTER, generationId: 1n },
    'role-reply': { ...x, type: 'role-reply', role: OFPCR_ROLE_MASTER, generationId: 1n },
    'get-async-request': { ...x, type: 'get-async-request' },
    'get-async-reply': { ...x, type: 'get-async-reply', packetInMask: [0x7, 0], portStatusMask: [0x7, 0x7], flowRemovedMask: [0xf, 0] },
    'set-async': { ...x, type: 'set-async', packetInMask: [0x3, 0], portStatusMask: [0x7, 0x7], flowRemovedMask: [0xf, 0] },
    'meter-mod': {
      ...x, type: 'meter-mod', command: OFPMC_ADD, flags: OFPMF_KBPS | OFPMF_STATS, meterId: 1,
      bands: [{ type: 'drop', rate: 10_000, burstSize: 0 }, { type: 'dscp-remark', rate: 5_000, burstSize: 0, precLevel: 1 }],
    },
    'meter-mod/experimenter': {
      ...x, type: 'meter-mod', command: OFPMC_ADD, flags: OFPMF_KBPS, meterId: 2,
      bands: [{ type: 'experimenter', rate: 1_000, burstSize: 0, experimenter: 0x00abcdef, data: new Uint8Array(0) }],
    },
  };
}
