import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodeError, LimitExceeded } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XenstoreClient } from '../src/xenstore-client.js';
import { XenstoreStore } from '../src/xenstore-store.js';
import { connectInProcess } from '../src/xenstore-transport.js';
import { startXenstored } from '../src/xenstored.js';
import { connectUnix } from '../src/unix-transport.js';
import {
  XS_HEADER_LENGTH,
  XenstoreError,
  XsMessageReader,
  XsType,
  decodeXsMessage,
  encodeXsMessage,
  nulTerminated,
  splitNul,
} from '../src/xs-wire.js';

const messageArb = fc.record({
  type: fc.integer({ min: 0, max: 0xffff_ffff }),
  reqId: fc.integer({ min: 0, max: 0xffff_ffff }),
  txId: fc.integer({ min: 0, max: 0xffff_ffff }),
  payload: fc.uint8Array({ maxLength: 200 }),
});

describe('xs_wire codec', () => {
  it('decode(encode(m)) is m', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeXsMessage(encodeXsMessage(m))).toEqual(m);
      }),
    );
  });

  it('reassembles messages split at any byte boundaries', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1 }), (ms, cuts) => {
        const bytes = ms.map(encodeXsMessage);
        const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
        let at = 0;
        for (const b of bytes) {
          all.set(b, at);
          at += b.length;
        }
        const reader = new XsMessageReader();
        const got = [];
        let pos = 0;
        for (let i = 0; pos < all.length; i++) {
          const n = cuts[i % cuts.length] ?? 1;
          got.push(...reader.push(all.subarray(pos, pos + n)));
          pos += n;
        }
        expect(got).toEqual(ms);
        expect(reader.buffered).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('arbitrary bytes throw nothing but DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeXsMessage(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
        try {
          new XsMessageReader(32).push(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });

  it('rejects a header announcing more than maxPayload (the reader never buffers it)', () => {
    const header = encodeXsMessage({ type: XsType.READ, reqId: 1, txId: 0, payload: new Uint8Array(0) });
    new DataView(header.buffer).setUint32(12, 4097, true);
    expect(() => new XsMessageReader().push(header)).toThrow(DecodeError);
    expect(header.length).toBe(XS_HEADER_LENGTH);
  });

  it('splits NUL-separated strings, a trailing NUL ending the last one', () => {
    expect(splitNul(nulTerminated('a', 'b'))).toEqual(['a', 'b']);
    expect(splitNul(new Uint8Array(0))).toEqual([]);
  });
});

function pair(config: ConstructorParameters<typeof XenstoreStore>[0] = {}): { store: XenstoreStore; dom0: XenstoreClient; client: (domid: number) => XenstoreClient } {
  const store = new XenstoreStore(config);
  return { store, dom0: new XenstoreClient(connectInProcess(store, 0)), client: (domid) => new XenstoreClient(connectInProcess(store, domid)) };
}

describe('xenstore client against the simulator', () => {
  it('reads, writes, lists and removes over a Unix socket', async () => {
    const server = await startXenstored({ path: join(mkdtempSync(join(tmpdir(), 'netif-xen-')), 'xs.sock') });
    const client = new XenstoreClient(await connectUnix(server.path));
    await client.write('/vm/name', 'guest');
    await client.mkdir('/vm/empty');
    expect(await client.read('/vm/name')).toBe('guest');
    expect(await client.directory('/vm')).toEqual(['empty', 'name']);
    await client.rm('/vm');
    await expect(client.read('/vm/name')).rejects.toMatchObject({ errno: 'ENOENT' });
    expect(await client.tryRead('/vm/name')).toBeUndefined();
    expect(await client.getDomainPath(7)).toBe('/local/domain/7');
    client.close();
    await server.close();
  });

  it('resolves relative paths under the domain home', async () => {
    const { store, client } = pair();
    store.forceWrite('/local/domain/5', '');
    store.forcePermissions('/local/domain/5', [{ domid: 5, access: 'n' }]);
    const guest = client(5);
    await guest.write('device/vif/0/state', '1');
    expect(store.peek('/local/domain/5/device/vif/0/state')).toBe('1');
  });

  it('enforces permissions for unprivileged domains: owner full, others per the default entry', async () => {
    const { store, dom0, client } = pair();
    await dom0.write('/secret', 'x');
    await dom0.setPermissions('/secret', ['n0', 'r3']);
    const reader = client(3);
    const stranger = client(4);
    expect(await reader.read('/secret')).toBe('x');
    await expect(reader.write('/secret', 'y')).rejects.toMatchObject({ errno: 'EACCES' });
    await expect(stranger.read('/secret')).rejects.toMatchObject({ errno: 'EACCES' });
    expect(await dom0.getPermissions('/secret')).toEqual(['n0', 'r3']);
    expect(store.peek('/secret')).toBe('x');
  });

  it('fires watches on the node and below, with the changed path, until unwatched', async () => {
    const { dom0, client } = pair();
    const watcher = client(0);
    const events: string[] = [];
    const unwatch = await watcher.watch('/w', 'tok', (path) => events.push(path));
    await dom0.write('/w/a', '1');
    await dom0.write('/other', '1');
    await dom0.rm('/w');
    await unwatch();
    await dom0.write('/w', 'again');
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['/w', '/w/a', '/w']);
  });

  it('reports changes under a relative watch with relative paths', async () => {
    const { store, dom0, client } = pair();
    store.forceWrite('/local/domain/5', '');
    store.forcePermissions('/local/domain/5', [{ domid: 5, access: 'n' }]);
    const guest = client(5);
    const events: string[] = [];
    await guest.watch('device', 'tok', (path) => events.push(path));
    await dom0.write('/local/domain/5/device/vif/0/state', '4');
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['device', 'device/vif/0/state']);
  });

  it('transactions are isolated until commit and then fire watches', async () => {
    const { dom0, client } = pair();
    const other = client(0);
    const seen: string[] = [];
    await other.watch('/t', 'tok', (path) => seen.push(path));
    const tx = await dom0.transactionStart();
    await dom0.ops(tx).write('/t/x', 'inside');
    expect(await other.tryRead('/t/x')).toBeUndefined();
    expect(await dom0.ops(tx).read('/t/x')).toBe('inside');
    await dom0.transactionEnd(tx, true);
    expect(await other.read('/t/x')).toBe('inside');
    expect(seen).toContain('/t/x');
  });

  it('an aborted transaction changes nothing', async () => {
    const { dom0 } = pair();
    const tx = await dom0.transactionStart();
    await dom0.ops(tx).write('/gone', 'v');
    await dom0.transactionEnd(tx, false);
    expect(await dom0.tryRead('/gone')).toBeUndefined();
  });

  it('a conflicting commit answers EAGAIN and transaction() retries from scratch', async () => {
    const { dom0, client } = pair();
    const rival = client(0);
    await dom0.write('/counter', '0');
    let attempts = 0;
    await dom0.transaction(async (ops) => {
      attempts += 1;
      const value = Number(await ops.read('/counter'));
      // The rival commits in between on the first attempt only.
      if (attempts === 1) await rival.write('/counter', String(value + 10));
      await ops.write('/counter', String(value + 1));
    });
    expect(attempts).toBe(2);
    expect(await dom0.read('/counter')).toBe('11');
  });

  it('gives up after maxTransactionAttempts EAGAINs', async () => {
    const store = new XenstoreStore();
    const dom0 = new XenstoreClient(connectInProcess(store, 0), { maxTransactionAttempts: 3 });
    const rival = new XenstoreClient(connectInProcess(store, 0));
    await dom0.write('/c', '0');
    let attempts = 0;
    await expect(
      dom0.transaction(async (ops) => {
        attempts += 1;
        await ops.read('/c');
        await rival.write('/c', String(attempts));
        await ops.write('/c', 'mine');
      }),
    ).rejects.toMatchObject({ errno: 'EAGAIN' });
    expect(attempts).toBe(3);
  });

  it('answers ENOSPC at maxNodes', async () => {
    const { store, dom0 } = pair({ maxNodes: 10 });
    const before = store.size;
    for (let i = 0; i < 10 - before; i++) await dom0.write(`/n${i}`, '');
    await expect(dom0.write('/one-too-many', '')).rejects.toMatchObject({ errno: 'ENOSPC' });
    expect(store.size).toBe(10);
  });

  it('answers E2BIG at maxWatchesPerConnection and ENOSPC at maxTransactionsPerConnection', async () => {
    const { dom0 } = pair({ maxWatchesPerConnection: 2, maxTransactionsPerConnection: 2 });
    await dom0.watch('/a', 'a', () => undefined);
    await dom0.watch('/b', 'b', () => undefined);
    await expect(dom0.watch('/c', 'c', () => undefined)).rejects.toMatchObject({ errno: 'E2BIG' });
    await dom0.transactionStart();
    await dom0.transactionStart();
    await expect(dom0.transactionStart()).rejects.toMatchObject({ errno: 'ENOSPC' });
  });

  it('rejects requests beyond maxPendingRequests with LimitExceeded', async () => {
    const store = new XenstoreStore();
    const dom0 = new XenstoreClient(connectInProcess(store, 0), { maxPendingRequests: 2 });
    const first = dom0.read('/local');
    const second = dom0.read('/local');
    await expect(dom0.read('/local')).rejects.toBeInstanceOf(LimitExceeded);
    await Promise.all([first, second]);
  });

  it('lists directories larger than one reply through DIRECTORY_PART', async () => {
    const { store, dom0 } = pair();
    const names = Array.from({ length: 400 }, (_, i) => `entry-${String(i).padStart(5, '0')}`);
    for (const name of names) store.forceWrite(`/many/${name}`, '');
    expect(await dom0.directory('/many')).toEqual(names);
    store.forceWrite('/few/a', '');
    expect(await dom0.directory('/few')).toEqual(['a']);
  });

  it('answers E2BIG for a path longer than maxPathLength', async () => {
    const { dom0 } = pair({ maxPathLength: 20 });
    await dom0.write('/a/b/c/d/e/f/g/h/i/j', 'ok');
    await expect(dom0.write('/a/b/c/d/e/f/g/h/i/jk', 'no')).rejects.toMatchObject({ errno: 'E2BIG' });
  });

  it('rejects malformed paths with EINVAL and errors are XenstoreError values', async () => {
    const { dom0 } = pair();
    for (const bad of ['/a//b', '/a/', '/a b']) {
      await expect(dom0.write(bad, 'x')).rejects.toBeInstanceOf(XenstoreError);
    }
  });

  it('closing the transport rejects pending requests', async () => {
    const store = new XenstoreStore();
    const dom0 = new XenstoreClient(connectInProcess(store, 0));
    const pending = dom0.read('/local');
    dom0.close();
    await expect(pending).rejects.toMatchObject({ code: 'RESET' });
  });

  it('a garbage stream closes the simulator connection without crashing the store', () => {
    const store = new XenstoreStore();
    const out: Uint8Array[] = [];
    const conn = store.connect(0, (b) => out.push(b));
    const bad = encodeXsMessage({ type: XsType.READ, reqId: 1, txId: 0, payload: new Uint8Array(0) });
    new DataView(bad.buffer).setUint32(12, 0xffff_ffff, true);
    conn.receive(bad);
    expect(conn.decodeErrors).toBe(1);
    conn.receive(encodeXsMessage({ type: XsType.READ, reqId: 2, txId: 0, payload: nulTerminated('/local') }));
    expect(out).toHaveLength(0);
  });

  it('arbitrary requests never crash the simulator: every one is answered or the stream closed', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ type: fc.integer({ min: 0, max: 30 }), txId: fc.integer({ min: 0, max: 3 }), payload: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 30 }), (requests) => {
        const store = new XenstoreStore({ maxNodes: 50 });
        const replies: Uint8Array[] = [];
        const conn = store.connect(0, (b) => replies.push(b));
        let reqId = 1;
        for (const r of requests) conn.receive(encodeXsMessage({ ...r, reqId: reqId++ }));
        const answered = new XsMessageReader().push(concat(replies)).filter((m) => m.type !== XsType.WATCH_EVENT);
        expect(answered.map((m) => m.reqId)).toEqual(requests.map((_, i) => i + 1));
        expect(store.size).toBeLessThanOrEqual(50);
      }),
      { numRuns: 200 },
    );
  });
});

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
