// SSH packet protection throughput: seal + open of one 32 KiB channel-data packet per cipher
// (ops/s and Gbit/s of payload), and a full curve25519-sha256 + ed25519 handshake between the
// morgana client and server over an in-memory flow pair (handshakes/s).
// Run: node tools/bench.mjs ssh
import Benchmark from 'benchmark';
import { type Flow, createSystemClock } from '@morgana/core';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import { CIPHER_NAMES, type CipherName, type MacName, cipherKeySizes, connectSsh, createPacketCipher, framePacket, generateEd25519Key, isAeadCipher, macKeySize, serveSshConnection } from '@morgana/ssh';

const crypto = createNodeSshCrypto();
const PAYLOAD = 32 * 1024;
const payload = crypto.randomBytes(PAYLOAD);
let sink = 0;

function flowPair(): [Flow, Flow] {
  const queues: Uint8Array[][] = [[], []];
  const readers: (((chunk: Uint8Array | null) => void) | undefined)[] = [undefined, undefined];
  const make = (self: number): Flow => {
    const peer = 1 - self;
    const deliver = (chunk: Uint8Array | null): void => {
      const reader = readers[peer];
      readers[peer] = undefined;
      if (reader) reader(chunk);
      else if (chunk) queues[peer].push(chunk);
    };
    return {
      read: () => {
        const chunk = queues[self].shift();
        return chunk ? Promise.resolve(chunk) : new Promise((resolve) => (readers[self] = resolve));
      },
      write: async (data) => deliver(data.slice()),
      writev: async (chunks) => chunks.forEach((chunk) => deliver(chunk.slice())),
      shutdown: async () => deliver(null),
      close: async () => deliver(null),
      abort: () => deliver(null),
    };
  };
  return [make(0), make(1)];
}

const suite = new Benchmark.Suite('ssh');
const modes = CIPHER_NAMES.flatMap((name): { name: CipherName; mac: MacName | undefined }[] =>
  isAeadCipher(name) ? [{ name, mac: undefined }] : [{ name, mac: 'hmac-sha2-256-etm@openssh.com' }, { name, mac: 'hmac-sha2-256' }],
);
for (const { name, mac } of modes) {
  const sizes = cipherKeySizes(name);
  const key = crypto.randomBytes(sizes.key);
  const iv = crypto.randomBytes(sizes.iv);
  const macKey = mac === undefined ? undefined : { name: mac, key: crypto.randomBytes(macKeySize(mac)) };
  const sender = createPacketCipher(crypto, name, key, iv, macKey);
  const receiver = createPacketCipher(crypto, name, key, iv, macKey);
  let sequence = 0;
  suite.add(`${name}${mac ? ` ${mac}` : ''} seal+open 32768 B`, () => {
    const sealed = sender.seal(sequence, framePacket(sender, payload, (n) => new Uint8Array(n)));
    receiver.packetLength(sequence, sealed);
    const body = receiver.open(sequence, sealed);
    sequence++;
    sink ^= body === null ? 1 : body[0];
  });
}

const hostKey = generateEd25519Key(crypto);
const userKey = generateEd25519Key(crypto);
suite.add('handshake + publickey auth (in memory)', {
  defer: true,
  fn: (deferred: { resolve(): void }) => {
    const [a, b] = flowPair();
    serveSshConnection(b, { crypto, clock: createSystemClock(), hostKey, authorizedKeys: () => [{ algorithm: 'ssh-ed25519', blob: userKey.publicBlob, comment: '' }] });
    void connectSsh(a, { crypto, clock: createSystemClock(), user: 'bench', privateKey: userKey, verifyHostKey: () => true }).then(async (client) => {
      await client.close();
      deferred.resolve();
    });
  },
});

suite.on('cycle', (event: Benchmark.Event) => {
  const bench = event.target as Benchmark.Target & { name: string; hz: number; stats: { rme: number } };
  const rate = bench.name.includes('32768') ? `  ${((bench.hz * PAYLOAD * 8) / 1e9).toFixed(2)} Gbit/s` : '';
  console.log(`${bench.name.padEnd(64)} ${Math.round(bench.hz).toLocaleString('en-US').padStart(10)} ops/s ±${bench.stats.rme.toFixed(1)}%${rate}`);
});
suite.on('complete', () => {
  if (sink === 0x1_0000_0000) console.log('unreachable');
});
suite.run();
