// Frames over sockets: the stream decoder alone (`benchmark`), then two devices joined over
// loopback, one writing bursts as fast as its queue allows for two seconds and the other
// counting: UDP datagrams, TCP stream and Unix stream, 60-byte and 1514-byte frames.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import Benchmark from 'benchmark';
import { STREAM_HEADER_LENGTH, StreamFrameDecoder, openDgramNetif, openStreamNetif, writeStreamHeader } from '../src/index.js';
import type { SocketNetif } from '../src/index.js';

const RUN_MS = 2000;
const BURST = 64;

function decoderBench(): Promise<void> {
  const frameLength = 60;
  const frames = Math.floor(65536 / (STREAM_HEADER_LENGTH + frameLength));
  const chunk = new Uint8Array(frames * (STREAM_HEADER_LENGTH + frameLength));
  for (let i = 0; i < frames; i++) writeStreamHeader(chunk, i * (STREAM_HEADER_LENGTH + frameLength), frameLength);
  let delivered = 0;
  const decoder = new StreamFrameDecoder(
    { maxFrameLength: 1518, maxLengthField: 69632, minFrameLength: 14 },
    { frame: () => delivered++, drop: () => undefined },
  );
  return new Promise((resolve) => {
    new Benchmark.Suite('stream decoder')
      .add(`StreamFrameDecoder.push, 64 KiB chunk of ${frames} 60-byte frames`, () => {
        decoder.push(chunk);
      })
      .on('cycle', (event: Benchmark.Event) => {
        const bench = event.target as Benchmark.Target & { name: string; hz: number };
        console.log(`${bench.name}: ${Math.round(bench.hz * frames).toLocaleString('en-US')} frames/s (${Math.round(bench.hz).toLocaleString('en-US')} chunks/s)`);
      })
      .on('complete', () => resolve())
      .run({ async: true });
  });
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

async function throughput(label: string, sender: SocketNetif, receiver: SocketNetif, frameLength: number): Promise<void> {
  let received = 0;
  receiver.listen(() => received++);
  const frame = new Uint8Array(frameLength).fill(0x42);
  const fill = (buffer: Uint8Array): number => {
    buffer.set(frame);
    return frameLength;
  };
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const burst = (): void => {
      if (performance.now() - start >= RUN_MS) return resolve();
      for (let i = 0; i < BURST; i++) if (sender.write(frameLength, fill)) sent++;
      setImmediate(burst);
    };
    burst();
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const seconds = (performance.now() - start - 200) / 1000;
  const rate = received / seconds;
  console.log(
    `${label}, ${frameLength}-byte frames: ${Math.round(rate).toLocaleString('en-US')} frames/s received, ` +
      `${((rate * frameLength * 8) / 1e9).toFixed(2)} Gbit/s (${sent} written, ${sender.stats().txDropped} dropped at the sender)`,
  );
  await sender.close();
  await receiver.close();
}

await decoderBench();
for (const length of [60, 1514]) {
  const [a, b] = [await freeUdpPort(), await freeUdpPort()];
  await throughput(
    'UDP datagrams over loopback',
    await openDgramNetif({ local: { address: '127.0.0.1', port: a }, remote: { address: '127.0.0.1', port: b } }),
    await openDgramNetif({ local: { address: '127.0.0.1', port: b }, remote: { address: '127.0.0.1', port: a } }),
    length,
  );
  const server = await openStreamNetif({ listen: { port: 0 } });
  const address = server.address();
  const client = await openStreamNetif({ connect: { port: 'port' in address ? address.port : 0 } });
  await server.waitForPeer();
  await throughput('TCP stream over loopback', client, server, length);
  const dir = mkdtempSync(join(tmpdir(), 'morgana-bench-'));
  const unixServer = await openStreamNetif({ listen: { path: join(dir, 'sock') } });
  const unixClient = await openStreamNetif({ connect: { path: join(dir, 'sock') } });
  await unixServer.waitForPeer();
  await throughput('Unix stream', unixClient, unixServer, length);
  rmSync(dir, { recursive: true, force: true });
}
