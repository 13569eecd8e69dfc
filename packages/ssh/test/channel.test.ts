import { LimitExceeded, ProtocolError, concatBytes } from '@morgana/core';
import { describe, expect, it } from 'vitest';
import { MSG, type SshChannel, SshConnection, type SshTransport, encode } from '../src/index.js';

/** A connection over a transport that only records what is sent. */
function connection(windowSize: number, maxChannels = 4): { conn: SshConnection; sent: Uint8Array[]; opened: SshChannel[] } {
  const sent: Uint8Array[] = [];
  const transport = {
    send: async (payload: Uint8Array) => void sent.push(payload),
    sendBatch: async (headers: Uint8Array[], pieces: Uint8Array[]) => void sent.push(...headers.map((header, i) => concatBytes([header, pieces[i]]))),
    lastReceivedSequence: () => 7,
  } as unknown as SshTransport;
  const conn = new SshConnection(transport, { windowSize, maxPacketSize: 1000, maxChannels });
  const opened: SshChannel[] = [];
  conn.onOpen = () => (channel) => opened.push(channel);
  return { conn, sent, opened };
}

const open = (sender: number): Uint8Array => encode((w) => w.u8(MSG.CHANNEL_OPEN).string('session').u32(sender).u32(50).u32(20));
const data = (recipient: number, length: number): Uint8Array => encode((w) => w.u8(MSG.CHANNEL_DATA).u32(recipient).string(new Uint8Array(length)));

describe('channels (RFC 4254 §5)', () => {
  it('refuses data beyond the window it granted (RFC 4254 §5.2)', () => {
    const { conn } = connection(100);
    conn.handle(open(9));
    conn.handle(data(0, 60));
    expect(() => conn.handle(data(0, 41))).toThrow(LimitExceeded);
  });

  it('re-grants the window once half of it was read', async () => {
    const { conn, sent, opened } = connection(100);
    conn.handle(open(9));
    conn.handle(data(0, 60));
    expect(sent.some((m) => m[0] === MSG.CHANNEL_WINDOW_ADJUST)).toBe(false);
    await opened[0].read();
    const adjust = sent.find((m) => m[0] === MSG.CHANNEL_WINDOW_ADJUST);
    expect(adjust).toEqual(encode((w) => w.u8(MSG.CHANNEL_WINDOW_ADJUST).u32(9).u32(60)));
    conn.handle(data(0, 100));
  });

  it('splits writes by the peer maximum packet and waits for window (backpressure)', async () => {
    const { conn, sent, opened } = connection(100);
    conn.handle(open(9));
    const writing = opened[0].write(new Uint8Array(70));
    await Promise.resolve();
    const sizes = (): number[] => sent.filter((m) => m[0] === MSG.CHANNEL_DATA).map((m) => m.length - 9);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(sizes()).toEqual([20, 20, 10]);
    let done = false;
    void writing.then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(done).toBe(false);
    conn.handle(encode((w) => w.u8(MSG.CHANNEL_WINDOW_ADJUST).u32(0).u32(1000)));
    await writing;
    expect(sizes()).toEqual([20, 20, 10, 20]);
  });

  it('seals at most writeBatchSize bytes of data into one transport write', async () => {
    const batches: number[][] = [];
    const transport = {
      send: async () => undefined,
      sendBatch: async (_headers: Uint8Array[], pieces: Uint8Array[]) => void batches.push(pieces.map((piece) => piece.length)),
    } as unknown as SshTransport;
    const conn = new SshConnection(transport, { windowSize: 1000, maxPacketSize: 1000, writeBatchSize: 40 });
    const opened: SshChannel[] = [];
    conn.onOpen = () => (channel) => opened.push(channel);
    conn.handle(encode((w) => w.u8(MSG.CHANNEL_OPEN).string('session').u32(9).u32(1000).u32(20)));
    await opened[0].write(new Uint8Array(110));
    expect(batches).toEqual([[20, 20], [20, 20], [20, 10]]);
  });

  it('refuses channels beyond maxChannels with RESOURCE_SHORTAGE', () => {
    const { conn, sent } = connection(100, 1);
    conn.handle(open(1));
    conn.handle(open(2));
    const failure = sent.find((m) => m[0] === MSG.CHANNEL_OPEN_FAILURE);
    expect(failure?.subarray(0, 9)).toEqual(Uint8Array.of(MSG.CHANNEL_OPEN_FAILURE, 0, 0, 0, 2, 0, 0, 0, 4));
  });

  it('refuses data after EOF and answers unknown messages with UNIMPLEMENTED', () => {
    const { conn, sent } = connection(100);
    conn.handle(open(9));
    conn.handle(encode((w) => w.u8(MSG.CHANNEL_EOF).u32(0)));
    expect(() => conn.handle(data(0, 1))).toThrow(ProtocolError);
    conn.handle(Uint8Array.of(120));
    expect(sent.at(-1)).toEqual(Uint8Array.of(MSG.UNIMPLEMENTED, 0, 0, 0, 7));
  });
});

describe('global requests (RFC 4254 §4)', () => {
  const reply = (success: boolean, extra: number[] = []): Uint8Array => Uint8Array.of(success ? MSG.REQUEST_SUCCESS : MSG.REQUEST_FAILURE, ...extra);

  it('matches replies to requests in the order they were sent', async () => {
    const { conn, sent } = connection(100);
    const first = conn.globalRequest('one');
    const second = conn.globalRequest('two', Uint8Array.of(1));
    await Promise.resolve();
    expect(sent.map((m) => m[0])).toEqual([MSG.GLOBAL_REQUEST, MSG.GLOBAL_REQUEST]);
    expect(sent[1]).toEqual(encode((w) => w.u8(MSG.GLOBAL_REQUEST).string('two').boolean(true).u8(1)));
    conn.handle(reply(false));
    conn.handle(reply(true, [0, 0, 0x1f, 0x90]));
    expect(await first).toBeNull();
    expect(await second).toEqual(Uint8Array.of(0, 0, 0x1f, 0x90));
  });

  it('refuses a reply nobody asked for', () => {
    const { conn } = connection(100);
    expect(() => conn.handle(reply(true))).toThrow(ProtocolError);
  });

  it('keeps at most maxPendingGlobalRequests requests awaiting a reply', async () => {
    const sent: Uint8Array[] = [];
    const transport = { send: async (payload: Uint8Array) => void sent.push(payload) } as unknown as SshTransport;
    const conn = new SshConnection(transport, { maxPendingGlobalRequests: 2 });
    void conn.globalRequest('a');
    void conn.globalRequest('b');
    await expect(conn.globalRequest('c')).rejects.toThrow(LimitExceeded);
    conn.handle(reply(true));
    void conn.globalRequest('c');
    expect(sent).toHaveLength(3);
  });

  it('answers the peer through onGlobalRequest, and FAILURE when nothing handles it', () => {
    const { conn, sent } = connection(100);
    const request = (name: string, wantReply: boolean): Uint8Array => encode((w) => w.u8(MSG.GLOBAL_REQUEST).string(name).boolean(wantReply).u32(5));
    conn.handle(request('keepalive@openssh.com', true));
    expect(sent.at(-1)).toEqual(reply(false));
    conn.onGlobalRequest = (name, data) => (name === 'ping' && data.u32() === 5 ? Uint8Array.of(9) : false);
    conn.handle(request('ping', true));
    expect(sent.at(-1)).toEqual(reply(true, [9]));
    conn.handle(request('other', false));
    expect(sent).toHaveLength(2);
  });

  it('rejects requests still awaiting a reply when the connection fails', async () => {
    const { conn } = connection(100);
    const pending = conn.globalRequest('one');
    conn.fail(new ProtocolError('gone'));
    await expect(pending).rejects.toThrow('gone');
  });
});
