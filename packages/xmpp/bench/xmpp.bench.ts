// XMPP throughput: the streaming XML parser on a chunked stream of chat messages (stanzas/s and
// MB/s), stanza serialization, and chat messages/s between two morgana clients through the
// morgana server over loopback TCP.
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import Benchmark from 'benchmark';
import { createSystemClock, createSystemRandom, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { type ScramCrypto, XmlStreamParser, connectXmpp, createMemoryStore, createXmppServer, el, serialize } from '@morgana/xmpp';

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>`;
const message = el('message', 'jabber:client', { to: 'bob@example.test/desk', from: 'alice@example.test/phone', type: 'chat', id: 'a1b2c3d4' }, [
  el('body', 'jabber:client', {}, ['Hello Bob, this is a typical chat line with a few words & an ampersand.']),
  el('active', 'http://jabber.org/protocol/chatstates'),
]);
const context = { defaultNs: 'jabber:client' };
const stanzaText = serialize(message, context);
const STANZAS = 100;
const streamBytes = new TextEncoder().encode(stanzaText.repeat(STANZAS));
const headerBytes = new TextEncoder().encode(HEADER);
const CHUNK = 1460;
const chunks: Uint8Array[] = [];
for (let i = 0; i < streamBytes.length; i += CHUNK) chunks.push(streamBytes.subarray(i, i + CHUNK));

let sink = 0;
const suite = new Benchmark.Suite('xmpp');
suite.add(`parse ${STANZAS} chat stanzas (${streamBytes.length} B in ${CHUNK} B chunks)`, () => {
  const parser = new XmlStreamParser();
  parser.push(headerBytes);
  for (const chunk of chunks) sink += parser.push(chunk).length;
});
suite.add('serialize one chat stanza', () => {
  sink += serialize(message, context).length;
});
suite.on('cycle', (event: Benchmark.Event) => {
  const bench = event.target as Benchmark.Target & { name: string; hz: number; stats: { rme: number } };
  const parse = bench.name.startsWith('parse');
  const derived = parse ? `  ${Math.round(bench.hz * STANZAS).toLocaleString('en-US')} stanzas/s  ${((bench.hz * streamBytes.length) / 1e6).toFixed(1)} MB/s` : '';
  console.log(`${bench.name.padEnd(60)} ${Math.round(bench.hz).toLocaleString('en-US').padStart(10)} ops/s ±${bench.stats.rme.toFixed(1)}%${derived}`);
});
suite.on('complete', () => {
  if (sink === -1) console.log('unreachable');
});
suite.run();

const crypto: ScramCrypto = {
  hmac: async (hash, key, data) => new Uint8Array(createHmac(hash, key).update(data).digest()),
  digest: async (hash, data) => new Uint8Array(createHash(hash).update(data).digest()),
  hi: async (hash, password, salt, iterations) => new Uint8Array(pbkdf2Sync(password, salt, iterations, hash === 'sha1' ? 20 : 32, hash)),
};

async function endToEnd(count: number): Promise<void> {
  const clock = createSystemClock();
  const random = createSystemRandom();
  const stack = createSocketStack();
  const store = createMemoryStore(crypto, random);
  await store.addUser('alice', 'a');
  await store.addUser('bob', 'b');
  const server = createXmppServer({ clock, random, crypto, store }, { domain: 'example.test' });
  const listener = stack.tcp.listen(0, { onConnection: (flow) => void server.handle(flow) });
  const loopback = parseIpv4('127.0.0.1');
  const options = { clock, random, crypto, keepaliveInterval: 0 };
  const alice = await connectXmpp(await stack.tcp.connect(loopback, listener.port), { ...options, jid: 'alice@example.test/a', password: 'a' });
  const bob = await connectXmpp(await stack.tcp.connect(loopback, listener.port), { ...options, jid: 'bob@example.test/b', password: 'b' });
  let received = 0;
  const done = new Promise<void>((resolve) =>
    bob.on('message', () => {
      if (++received === count) resolve();
    }),
  );
  const start = performance.now();
  for (let i = 0; i < count; i++) await alice.sendMessage('bob@example.test/b', `message ${i}`);
  await done;
  const seconds = (performance.now() - start) / 1000;
  console.log(`${`chat messages client→server→client over loopback (${count})`.padEnd(60)} ${Math.round(count / seconds).toLocaleString('en-US').padStart(10)} msgs/s`);
  await alice.close();
  await bob.close();
  listener.close();
  await stack.close();
}

await endToEnd(20_000);
