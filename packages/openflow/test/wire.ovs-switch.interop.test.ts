// The codec against a live Open vSwitch 3.1 bridge (userspace datapath, no ports): a session
// over the bridge's management socket sends every controller-to-switch message morgana
// emits (group-mod of all four types, meter-mod, port-mod, role, async, queue config, every
// multipart request, experimenter, an undefined type) and parses every reply Open vSwitch
// writes, table features included. Needs root (the interop gate) and Debian's
// openvswitch-switch.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { type Socket, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  MessageFramer, OFPBRC_BAD_EXPERIMENTER, OFPBRC_BAD_TYPE, OFPCR_ROLE_NOCHANGE, OFPET_BAD_REQUEST, OFPFC_ADD, OFPGC_ADD, OFPGT_ALL,
  OFPGT_FF, OFPGT_INDIRECT, OFPGT_SELECT, OFPG_ALL, OFPG_ANY, OFPMC_ADD, OFPMF_KBPS, OFPMF_STATS, OFPMPF_MORE, OFPMP_TABLE_FEATURES,
  OFPM_ALL, OFPP_ANY, OFPP_LOCAL, OFPQ_ALL, OFP_NO_BUFFER, type MultipartRequestBody, type OfpMessage, type PortDesc, emitMessage,
  parseMessage, parseTableFeatures,
} from '@morgana/openflow';
import { describeInterop } from '../../../tools/interop.js';
import { collect, peerVersion, uniqueName } from '../../../tools/netns-helper.js';

type Outgoing = OfpMessage extends infer M ? M extends OfpMessage ? Omit<M, 'version' | 'xid'> : never : never;

const cleanups: (() => Promise<void> | void)[] = [];

async function must(command: string, args: readonly string[]): Promise<string> {
  const result = await collect(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function daemon(command: string, args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore', env });
  cleanups.push(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  }));
  return child;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One OpenFlow session over a socket: messages out by xid, every message in parsed. */
class Session {
  private readonly framer = new MessageFramer();
  private readonly received: OfpMessage[] = [];
  private waiting: (() => void) | undefined;
  private nextXid = 100;
  failure: Error | undefined;

  constructor(private readonly socket: Socket, readonly version: 1 | 4) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const bytes of this.framer.push(new Uint8Array(chunk))) this.received.push(parseMessage(bytes));
      } catch (error) {
        this.failure = error as Error;
      }
      this.waiting?.();
    });
  }

  send(message: Outgoing): number {
    const xid = this.nextXid++;
    this.sendBytes(emitMessage({ ...message, version: this.version, xid } as OfpMessage));
    return xid;
  }

  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Waits for the messages answering `xid`: one reply, or multipart parts up to the last. */
  async replies(xid: number): Promise<OfpMessage[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const mine = this.received.filter((message) => message.xid === xid);
      const last = mine[mine.length - 1];
      if (last !== undefined && !(last.type === 'multipart-reply' && (last.flags & OFPMPF_MORE) !== 0)) return mine;
      if (Date.now() > deadline) throw new Error(`no reply to xid ${xid}; got ${JSON.stringify(this.received.map((message) => [message.type, message.xid]))}`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** Waits for the first message of `type`, whatever its xid (the peer's HELLO). */
  async first(type: OfpMessage['type']): Promise<OfpMessage> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const found = this.received.find((message) => message.type === type);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} arrived`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  async request(message: Outgoing): Promise<OfpMessage[]> {
    return this.replies(this.send(message));
  }

  /** Messages with `xid` that arrived (errors for messages without a reply). */
  errorsFor(xid: number): OfpMessage[] {
    return this.received.filter((message) => message.xid === xid && message.type === 'error');
  }
}

let managementSocket = '';
/** A bridge name of our own: the local port is a TAP device in the host's namespace. */
const bridge = uniqueName('mgbr');
let ovsVersion = '';

async function open(version: 1 | 4): Promise<Session> {
  const socket = createConnection(managementSocket);
  cleanups.push(() => { socket.destroy(); });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const session = new Session(socket, version);
  session.send({ type: 'hello', versions: [version] });
  await session.first('hello');
  return session;
}

describeInterop('OpenFlow codec against a live Open vSwitch bridge', ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl'], () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'morgana-ofwire-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = join(dir, 'db.sock');
    const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir };
    await must('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
    daemon('ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${db}`, `--unixctl=${join(dir, 'ovsdb.ctl')}`, '--no-chdir', `--log-file=${join(dir, 'ovsdb.log')}`], env);
    await waitFor(() => existsSync(db), 'ovsdb-server socket');
    const vsctl = (...args: string[]): Promise<string> => must('ovs-vsctl', [`--db=unix:${db}`, '--timeout=20', ...args]);
    await vsctl('--no-wait', 'init');
    daemon('ovs-vswitchd', [`unix:${db}`, '--disable-system', `--unixctl=${join(dir, 'vswitchd.ctl')}`, '--no-chdir', `--log-file=${join(dir, 'vswitchd.log')}`], env);
    await waitFor(() => existsSync(join(dir, 'vswitchd.ctl')), 'ovs-vswitchd control socket');
    await vsctl('add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev', 'fail-mode=secure', 'protocols=OpenFlow10,OpenFlow13');
    // The netdev datapath makes the bridge's local port a persistent TAP device in this
    // namespace: delete the bridge before the daemons stop, or the device outlives the test.
    cleanups.push(async () => { await vsctl('--if-exists', 'del-br', bridge); });
    managementSocket = join(dir, `${bridge}.mgmt`);
    await waitFor(() => existsSync(managementSocket), 'the bridge management socket');
    ovsVersion = peerVersion('ovs-vswitchd');
  }, 60_000);

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // keep tearing down the rest
      }
    }
  });

  it('speaks every OpenFlow 1.3 request and parses every reply', async () => {
    console.log(`codec against ${ovsVersion}, OpenFlow 1.3`);
    const session = await open(4);
    const [features] = await session.request({ type: 'features-request' });
    expect(features?.type).toBe('features-reply');
    expect((await session.request({ type: 'get-config-request' }))[0]?.type).toBe('get-config-reply');
    expect((await session.request({ type: 'role-request', role: OFPCR_ROLE_NOCHANGE, generationId: 0n }))[0]?.type).toBe('role-reply');
    const [async] = await session.request({ type: 'get-async-request' });
    expect(async?.type).toBe('get-async-reply');
    const [portDesc] = await session.request({ type: 'multipart-request', flags: 0, body: { kind: 'port-desc' } });
    const local = portDesc?.type === 'multipart-reply' && portDesc.body.kind === 'port-desc' ? portDesc.body.ports.find((port) => port.portNo === OFPP_LOCAL) : undefined;
    expect(local?.name).toBe(bridge);

    // Controller commands, then a barrier: none may be refused.
    const output = (port: number): { type: 'output'; port: number; maxLen: number } => ({ type: 'output', port, maxLen: 0 });
    const commands: number[] = [
      session.send({ type: 'set-async', packetInMask: [0x3, 0], portStatusMask: [0x7, 0x7], flowRemovedMask: [0xf, 0] }),
      session.send({ type: 'set-config', flags: 0, missSendLen: 256 }),
      session.send({ type: 'table-mod', tableId: 0, config: 0 }),
      session.send({ type: 'port-mod', portNo: OFPP_LOCAL, hwAddr: (local as PortDesc).hwAddr, config: 0, mask: 0, advertise: 0 }),
      session.send({ type: 'group-mod', command: OFPGC_ADD, groupType: OFPGT_ALL, groupId: 1, buckets: [{ weight: 0, watchPort: OFPP_ANY, watchGroup: OFPG_ANY, actions: [output(OFPP_LOCAL)] }] }),
      session.send({ type: 'group-mod', command: OFPGC_ADD, groupType: OFPGT_SELECT, groupId: 2, buckets: [
        { weight: 3, watchPort: OFPP_ANY, watchGroup: OFPG_ANY, actions: [output(OFPP_LOCAL)] },
        { weight: 1, watchPort: OFPP_ANY, watchGroup: OFPG_ANY, actions: [{ type: 'group', groupId: 1 }] },
      ] }),
      session.send({ type: 'group-mod', command: OFPGC_ADD, groupType: OFPGT_INDIRECT, groupId: 3, buckets: [{ weight: 0, watchPort: OFPP_ANY, watchGroup: OFPG_ANY, actions: [output(OFPP_LOCAL)] }] }),
      session.send({ type: 'group-mod', command: OFPGC_ADD, groupType: OFPGT_FF, groupId: 4, buckets: [
        { weight: 0, watchPort: OFPP_LOCAL, watchGroup: OFPG_ANY, actions: [output(OFPP_LOCAL)] },
        { weight: 0, watchPort: OFPP_ANY, watchGroup: 3, actions: [{ type: 'group', groupId: 3 }] },
      ] }),
      session.send({ type: 'meter-mod', command: OFPMC_ADD, flags: OFPMF_KBPS | OFPMF_STATS, meterId: 1, bands: [{ type: 'drop', rate: 10_000, burstSize: 0 }] }),
      session.send({
        type: 'flow-mod', cookie: 7n, cookieMask: 0n, tableId: 0, command: OFPFC_ADD, idleTimeout: 0, hardTimeout: 0, priority: 10,
        bufferId: OFP_NO_BUFFER, outPort: OFPP_ANY, outGroup: OFPG_ANY, flags: 0, match: { ethType: 0x0800, ipv4Dst: 0x0a000000, masks: { ipv4Dst: 0xffffff00 } },
        instructions: [
          { type: 'meter', meterId: 1 }, { type: 'apply-actions', actions: [{ type: 'dec-nw-ttl' }, { type: 'set-field', field: 'ethDst', value: 0x0200_0000_0002 }] },
          { type: 'write-actions', actions: [{ type: 'group', groupId: 2 }] }, { type: 'goto-table', tableId: 1 },
        ],
      }),
    ];
    expect((await session.request({ type: 'barrier-request' }))[0]?.type).toBe('barrier-reply');
    for (const xid of commands) expect(session.errorsFor(xid), `command xid ${xid}`).toEqual([]);
    // The switch took the values as written.
    expect((await session.request({ type: 'get-config-request' }))[0]).toMatchObject({ type: 'get-config-reply', missSendLen: 256 });
    expect((await session.request({ type: 'get-async-request' }))[0]).toMatchObject({ packetInMask: [0x3, 0], portStatusMask: [0x7, 0x7], flowRemovedMask: [0xf, 0] });

    const bodies: MultipartRequestBody[] = [
      { kind: 'desc' }, { kind: 'table' }, { kind: 'port-stats', portNo: OFPP_ANY }, { kind: 'queue', portNo: OFPP_ANY, queueId: OFPQ_ALL },
      { kind: 'flow', tableId: 0xff, outPort: OFPP_ANY, outGroup: OFPG_ANY, cookie: 0n, cookieMask: 0n, match: {} },
      { kind: 'aggregate', tableId: 0xff, outPort: OFPP_ANY, outGroup: OFPG_ANY, cookie: 0n, cookieMask: 0n, match: {} },
      { kind: 'group', groupId: OFPG_ALL }, { kind: 'group-desc' }, { kind: 'group-features' },
      { kind: 'meter', meterId: OFPM_ALL }, { kind: 'meter-config', meterId: OFPM_ALL }, { kind: 'meter-features' },
      { kind: 'other', statsType: OFPMP_TABLE_FEATURES, data: new Uint8Array(0) },
    ];
    const reply: Record<string, OfpMessage[]> = {};
    for (const body of bodies) {
      const parts = await session.request({ type: 'multipart-request', flags: 0, body });
      for (const part of parts) expect(part.type === 'multipart-reply' && part.body.kind, `${body.kind} reply`).toBe(body.kind);
      reply[body.kind === 'other' ? 'table-features' : body.kind] = parts;
    }
    const body = (kind: string, index = 0): unknown => {
      const message = reply[kind]?.[index];
      return message?.type === 'multipart-reply' ? message.body : undefined;
    };
    expect(body('group-desc')).toMatchObject({ groups: expect.arrayContaining([
      { groupType: OFPGT_FF, groupId: 4, buckets: [
        { weight: 0, watchPort: OFPP_LOCAL, watchGroup: OFPG_ANY, actions: [output(OFPP_LOCAL)] },
        { weight: 0, watchPort: OFPP_ANY, watchGroup: 3, actions: [{ type: 'group', groupId: 3 }] },
      ] },
    ]) });
    expect(body('group')).toMatchObject({ groups: expect.arrayContaining([expect.objectContaining({ groupId: 2, bucketStats: [expect.anything(), expect.anything()] })]) });
    // Open vSwitch fills in a zero burst size with the rate.
    expect(body('meter-config')).toMatchObject({ meters: [{ flags: OFPMF_KBPS | OFPMF_STATS, meterId: 1, bands: [{ type: 'drop', rate: 10_000 }] }] });
    expect(body('meter')).toMatchObject({ meters: [expect.objectContaining({ meterId: 1, flowCount: 1 })] });
    expect(body('flow')).toMatchObject({ flows: [expect.objectContaining({ cookie: 7n, match: { ethType: 0x0800, ipv4Dst: 0x0a000000, masks: { ipv4Dst: 0xffffff00 } } })] });
    expect(body('aggregate')).toMatchObject({ flowCount: 1 });
    // Table features span several parts; each part holds whole tables.
    const tables = (reply['table-features'] ?? []).flatMap((part) => (part.type === 'multipart-reply' && part.body.kind === 'other' ? parseTableFeatures(part.body.data) : []));
    expect(tables.length).toBeGreaterThanOrEqual(1);
    expect(tables[0]?.properties.map((property) => property.type)).toContain('match');

    const [queues] = await session.request({ type: 'queue-get-config-request', port: OFPP_ANY });
    expect(queues?.type === 'queue-get-config-reply' || (queues?.type === 'error' && queues.errorType !== OFPET_BAD_REQUEST)).toBe(true);
    const [unknownExperimenter] = await session.request({ type: 'experimenter', experimenter: 0x00abcdef, expType: 1, data: new Uint8Array(0) });
    expect(unknownExperimenter?.type === 'error' && [unknownExperimenter.errorType, unknownExperimenter.code]).toEqual([OFPET_BAD_REQUEST, OFPBRC_BAD_EXPERIMENTER]);
    // An undefined message type: Open vSwitch answers as morgana does, OFPBRC_BAD_TYPE.
    session.sendBytes(Uint8Array.from([4, 30, 0, 8, 0, 0, 0x0f, 0xff]));
    const [badType] = await session.replies(0x0fff);
    expect(badType?.type === 'error' && [badType.errorType, badType.code]).toEqual([OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE]);
  }, 60_000);

  it('speaks every OpenFlow 1.0 request and parses every reply', async () => {
    console.log(`codec against ${ovsVersion}, OpenFlow 1.0`);
    const session = await open(1);
    const [features] = await session.request({ type: 'features-request' });
    const local = features?.type === 'features-reply' ? features.ports.find((port) => port.portNo === OFPP_LOCAL) : undefined;
    expect(local?.name).toBe(bridge);
    const portMod = session.send({ type: 'port-mod', portNo: OFPP_LOCAL, hwAddr: (local as PortDesc).hwAddr, config: 0, mask: 0, advertise: 0 });
    const flowMod = session.send({
      type: 'flow-mod', cookie: 9n, cookieMask: 0n, tableId: 0, command: OFPFC_ADD, idleTimeout: 0, hardTimeout: 0, priority: 10,
      bufferId: OFP_NO_BUFFER, outPort: OFPP_ANY, outGroup: 0, flags: 0, match: { ethType: 0x0800, ipProto: 6, tcpDst: 80 },
      instructions: [{ type: 'apply-actions', actions: [{ type: 'set-field', field: 'ipDscp', value: 46 }, { type: 'enqueue', port: OFPP_LOCAL, queueId: 0 }] }],
    });
    expect((await session.request({ type: 'barrier-request' }))[0]?.type).toBe('barrier-reply');
    expect([...session.errorsFor(portMod), ...session.errorsFor(flowMod)]).toEqual([]);
    for (const body of [
      { kind: 'desc' }, { kind: 'table' }, { kind: 'port-stats', portNo: OFPP_ANY }, { kind: 'queue', portNo: OFPP_ANY, queueId: OFPQ_ALL },
      { kind: 'flow', tableId: 0xff, outPort: OFPP_ANY, outGroup: 0, cookie: 0n, cookieMask: 0n, match: {} },
      { kind: 'aggregate', tableId: 0xff, outPort: OFPP_ANY, outGroup: 0, cookie: 0n, cookieMask: 0n, match: {} },
    ] as const) {
      const parts = await session.request({ type: 'multipart-request', flags: 0, body });
      for (const part of parts) expect(part.type === 'multipart-reply' && part.body.kind, `${body.kind} reply`).toBe(body.kind);
      // The 1.3 test's flow shows here too, its instructions as Nicira vendor actions (read opaquely).
      if (body.kind === 'flow') expect(parts[0]).toMatchObject({ body: { flows: expect.arrayContaining([expect.objectContaining({ cookie: 9n, match: { ethType: 0x0800, ipProto: 6, tcpDst: 80 } })]) } });
    }
    const [queues] = await session.request({ type: 'queue-get-config-request', port: 1 });
    expect(queues?.type === 'queue-get-config-reply' || queues?.type === 'error').toBe(true);
    // Open vSwitch reads a vendor message's first 4 data bytes as a subtype: send them, or it
    // answers OFPBRC_BAD_LEN before looking at the vendor.
    const [vendor] = await session.request({ type: 'experimenter', experimenter: 0x00abcdef, expType: 0, data: new Uint8Array(4) });
    expect(vendor?.type === 'error' && [vendor.errorType, vendor.code]).toEqual([OFPET_BAD_REQUEST, OFPBRC_BAD_EXPERIMENTER]);
  }, 60_000);
});
