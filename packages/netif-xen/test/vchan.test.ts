import { ClosedError, ConnectionReset, LimitExceeded, ProtocolError } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VCHAN_LEFT_PROD, VCHAN_NOTIFY_WRITE, VCHAN_PAGE_SIZE } from '../src/vchan-wire.js';
import { connectVchanClient, createVchanServer } from '../src/vchan.js';
import { XenstoreClient } from '../src/xenstore-client.js';
import { XenstoreStore } from '../src/xenstore-store.js';
import { connectInProcess } from '../src/xenstore-transport.js';
import { SimulatedHypervisor } from '../src/grant.js';
import { CLIENT_DOMID, SERVER_DOMID, VCHAN_PATH, createVchanPair, pattern, readAll, sameBytes } from './vchan-harness.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array | null): string => (b === null ? '<eof>' : new TextDecoder().decode(b));

describe('vchan over the simulated hypervisor', () => {
  it('carries bytes from client to server and back, with default in-page rings of 1024 and 2048', async () => {
    const { server, client } = await createVchanPair();
    expect(server.readRingSize).toBe(1024);
    expect(server.writeRingSize).toBe(2048);
    expect(client.readRingSize).toBe(2048);
    expect(client.writeRingSize).toBe(1024);
    await client.write(text('hello server'));
    expect(decode(await server.read())).toBe('hello server');
    await server.writev([text('hello '), text('client')]);
    expect(decode(await client.read())).toBe('hello client');
    await client.close();
    expect(await server.read()).toBeNull();
    await server.close();
  });

  it('wakes a read that was waiting before the peer wrote', async () => {
    const { server, client } = await createVchanPair();
    const pending = server.read();
    await client.write(text('late'));
    expect(decode(await pending)).toBe('late');
    client.abort();
    server.abort();
  });

  it('moves 1 MB each way through multi-page rings; indices run free across 2^32', async () => {
    const { server, client, hypervisor, ringRef } = await createVchanPair({ readMin: 8192, writeMin: 16384 });
    expect(server.readRingSize).toBe(8192);
    expect(client.readRingSize).toBe(16384);
    // Start both rings just below the 32-bit wrap, as a long-lived channel would be.
    const control = hypervisor.grantMapper(CLIENT_DOMID).map(SERVER_DOMID, ringRef, true);
    const indices = new Uint32Array(control.buffer, control.byteOffset, 4);
    expect(Array.from(indices)).toEqual([0, 0, 0, 0]);
    indices.fill(0xffff_f000);
    const up = pattern(1 << 20, 7);
    const down = pattern(1 << 20, 11);
    const send = async (flow: typeof client, data: Uint8Array): Promise<void> => {
      for (let at = 0; at < data.length; at += 7000) await flow.write(data.subarray(at, at + 7000));
      await flow.shutdown();
    };
    const [, , gotUp, gotDown] = await Promise.all([send(client, up), send(server, down), readAll(server), readAll(client)]);
    expect(sameBytes(gotUp, up)).toBe(true);
    expect(sameBytes(gotDown, down)).toBe(true);
    expect(indices[VCHAN_LEFT_PROD / 4]).toBe(((0xffff_f000 + (1 << 20)) >>> 0));
    await client.close();
    await server.close();
    expect(server.counters()['grant-still-mapped'] ?? 0).toBe(0);
  });

  it('holds a write until the reader makes room (backpressure)', async () => {
    const { server, client } = await createVchanPair();
    let done = false;
    const write = client.write(pattern(3000, 3)).then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The left ring holds 1024 bytes: the rest waits for the server to read.
    expect(done).toBe(false);
    const first = await server.read();
    expect(first?.length).toBe(1024);
    const got = [first as Uint8Array];
    let total = 1024;
    while (total < 3000) {
      const chunk = (await server.read()) as Uint8Array;
      got.push(chunk);
      total += chunk.length;
    }
    await write;
    expect(done).toBe(true);
    const joined = new Uint8Array(total);
    let at = 0;
    for (const chunk of got) {
      joined.set(chunk, at);
      at += chunk.length;
    }
    expect(joined).toEqual(pattern(3000, 3));
    client.abort();
    server.abort();
  });

  it('returns at most maxReadBytes per read', async () => {
    const { server, client } = await createVchanPair({ maxReadBytes: 100 });
    await client.write(pattern(500, 1));
    expect((await server.read())?.length).toBe(100);
    client.abort();
    server.abort();
  });

  it('delivers what was written before shutdown, then end of stream; the shut side still reads', async () => {
    const { server, client } = await createVchanPair();
    await client.write(text('request'));
    await client.shutdown();
    await expect(client.write(text('more'))).rejects.toBeInstanceOf(ClosedError);
    expect(decode(await readAll(server))).toBe('request');
    await server.write(text('response'));
    await server.close();
    expect(decode(await readAll(client))).toBe('response');
    await client.close();
    await expect(client.read()).rejects.toBeInstanceOf(ClosedError);
  });

  it('abort rejects pending operations with ConnectionReset and the peer sees end of stream', async () => {
    const { server, client } = await createVchanPair();
    const read = client.read();
    const write = client.write(pattern(5000, 9));
    client.abort();
    await expect(read).rejects.toBeInstanceOf(ConnectionReset);
    await expect(write).rejects.toBeInstanceOf(ConnectionReset);
    await expect(client.write(text('x'))).rejects.toBeInstanceOf(ConnectionReset);
    // The bytes that made it into the ring before the abort are still delivered.
    const got = await readAll(server);
    expect(got).toEqual(pattern(5000, 9).subarray(0, 1024));
    await server.close();
  });

  it('counts grant-still-mapped for the control page and both ring pages when the server closes first', async () => {
    const { server, client } = await createVchanPair({ readMin: 8192 });
    await server.close();
    expect(server.counters()['grant-still-mapped']).toBe(3);
    expect(await client.read()).toBeNull();
    await client.close();
  });

  it('fails with ProtocolError (bad-index) when the peer moves an index past the ring', async () => {
    const { server, client, hypervisor, ringRef } = await createVchanPair();
    const control = hypervisor.grantMapper(CLIENT_DOMID).map(SERVER_DOMID, ringRef, true);
    new DataView(control.buffer, control.byteOffset, VCHAN_PAGE_SIZE).setUint32(VCHAN_LEFT_PROD, 5000, true);
    await expect(server.read()).rejects.toBeInstanceOf(ProtocolError);
    expect(server.counters()['bad-index']).toBe(1);
    expect(await client.read()).toBeNull();
    client.abort();
  });

  it('refuses a server page with bad orders and non-numeric xenstore entries', async () => {
    const store = new XenstoreStore();
    const hypervisor = new SimulatedHypervisor({ pages: 8, grantEntries: 32, ports: 8 });
    const xenstore = new XenstoreClient(connectInProcess(store, 0));
    const grants = hypervisor.grantTable(SERVER_DOMID);
    const page = grants.allocatePage() as Uint8Array;
    const ref = grants.grantAccess(CLIENT_DOMID, page, false);
    await xenstore.write(`${VCHAN_PATH}/ring-ref`, String(ref));
    await xenstore.write(`${VCHAN_PATH}/event-channel`, 'x');
    const deps = { xenstore, mapper: hypervisor.grantMapper(CLIENT_DOMID), events: hypervisor.eventChannels(CLIENT_DOMID) };
    await expect(connectVchanClient(deps, { path: VCHAN_PATH, serverDomid: SERVER_DOMID })).rejects.toBeInstanceOf(ProtocolError);
    await xenstore.write(`${VCHAN_PATH}/event-channel`, '1');
    // An all-zero page has order 0 rings.
    await expect(connectVchanClient(deps, { path: VCHAN_PATH, serverDomid: SERVER_DOMID })).rejects.toThrow(/order/);
    // The failed connect unmapped the page again.
    expect(grants.endAccess(ref)).toBe(true);
  });

  it('requests events only when waiting: the notify byte is cleared by the event it asked for', async () => {
    const { server, client, hypervisor, ringRef } = await createVchanPair();
    const control = hypervisor.grantMapper(CLIENT_DOMID).map(SERVER_DOMID, ringRef, true);
    const pending = server.read();
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The waiting server asked the client for a write notification (cli_notify).
    expect((control[22] ?? 0) & VCHAN_NOTIFY_WRITE).toBe(VCHAN_NOTIFY_WRITE);
    await client.write(text('x'));
    expect((control[22] ?? 0) & VCHAN_NOTIFY_WRITE).toBe(0);
    expect(decode(await pending)).toBe('x');
    client.abort();
    server.abort();
  });

  it('keeps bytes the server writes before the client connects, and the server does not see end of stream meanwhile', async () => {
    const store = new XenstoreStore();
    const hypervisor = new SimulatedHypervisor({ pages: 8, grantEntries: 32, ports: 8 });
    const xenstore = new XenstoreClient(connectInProcess(store, 0));
    const server = await createVchanServer(
      { xenstore, grants: hypervisor.grantTable(SERVER_DOMID), events: hypervisor.eventChannels(SERVER_DOMID) },
      { path: VCHAN_PATH, peerDomid: CLIENT_DOMID },
    );
    await server.write(text('early'));
    let settled = false;
    const pending = server.read().then((chunk) => {
      settled = true;
      return chunk;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    // cli_live is 2 (not yet connected): not an end of stream.
    expect(settled).toBe(false);
    const client = await connectVchanClient(
      { xenstore, mapper: hypervisor.grantMapper(CLIENT_DOMID), events: hypervisor.eventChannels(CLIENT_DOMID) },
      { path: VCHAN_PATH, serverDomid: SERVER_DOMID },
    );
    expect(decode(await client.read())).toBe('early');
    await client.close();
    expect(await pending).toBeNull();
    await server.close();
  });

  it('fails with LimitExceeded when the rings need more pages than the domain has, and frees what it took', async () => {
    const store = new XenstoreStore();
    const hypervisor = new SimulatedHypervisor({ pages: 4, grantEntries: 32, ports: 8 });
    const xenstore = new XenstoreClient(connectInProcess(store, 0));
    const grants = hypervisor.grantTable(SERVER_DOMID);
    const deps = { xenstore, grants, events: hypervisor.eventChannels(SERVER_DOMID) };
    // 16 KiB + 4 KiB of rings: 5 granted pages plus the control page.
    await expect(createVchanServer(deps, { path: VCHAN_PATH, peerDomid: CLIENT_DOMID, readMin: 16384, writeMin: 4096 })).rejects.toBeInstanceOf(LimitExceeded);
    const pages = [grants.allocatePage(), grants.allocatePage(), grants.allocatePage(), grants.allocatePage()];
    expect(pages.every((page) => page !== undefined)).toBe(true);
  });

  it('refuses to connect when the server has published nothing', async () => {
    const hypervisor = new SimulatedHypervisor({ pages: 4, grantEntries: 32, ports: 8 });
    const xenstore = new XenstoreClient(connectInProcess(new XenstoreStore(), 0));
    await expect(
      connectVchanClient({ xenstore, mapper: hypervisor.grantMapper(CLIENT_DOMID), events: hypervisor.eventChannels(CLIENT_DOMID) }, { path: VCHAN_PATH, serverDomid: SERVER_DOMID }),
    ).rejects.toThrow(/ENOENT/);
  });

  it('what is written is exactly what is read, for any write sizes, chunkings and read limits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.constantFrom(1024, 2048, 8192),
        fc.integer({ min: 0, max: 1000 }),
        async (upSizes, downSizes, maxReadBytes, readMin, seed) => {
          const { server, client } = await createVchanPair({ maxReadBytes, readMin, writeMin: readMin === 1024 ? 2048 : 1024 });
          const up = upSizes.map((n, i) => pattern(n, seed + i));
          const down = downSizes.map((n, i) => pattern(n, seed + 100 + i));
          const send = async (flow: typeof client, chunks: Uint8Array[]): Promise<void> => {
            for (let i = 0; i < chunks.length; i += 2) await flow.writev(chunks.slice(i, i + 2));
            await flow.shutdown();
          };
          const joined = (chunks: Uint8Array[]): Uint8Array => {
            const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
            let at = 0;
            for (const c of chunks) {
              out.set(c, at);
              at += c.length;
            }
            return out;
          };
          const [, , gotUp, gotDown] = await Promise.all([send(client, up), send(server, down), readAll(server), readAll(client)]);
          expect(sameBytes(gotUp, joined(up))).toBe(true);
          expect(sameBytes(gotDown, joined(down))).toBe(true);
          await client.close();
          await server.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});
