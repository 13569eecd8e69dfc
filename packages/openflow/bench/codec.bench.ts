// Codec benchmark: parse and emit of the messages on a controller's hot path (PACKET_IN with
// a 64-byte frame, FLOW_MOD with an OXM match and one output action), and the stream framer
// over a buffer of back-to-back PACKET_INs. Run: node tools/bench.mjs openflow
import Benchmark from 'benchmark';
import { MessageFramer, type OfpMessage, emitMessage, parseMessage } from '@morgana/openflow';

const packetIn: OfpMessage = {
  version: 4, xid: 0, type: 'packet-in', bufferId: 0xffffffff, totalLen: 64, reason: 0, tableId: 0, cookie: 0n,
  match: { inPort: 3 }, data: new Uint8Array(64),
};
const flowMod: OfpMessage = {
  version: 4, xid: 9, type: 'flow-mod', cookie: 0n, cookieMask: 0n, tableId: 0, command: 0, idleTimeout: 60, hardTimeout: 0,
  priority: 100, bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0,
  match: { inPort: 3, ethSrc: 0x020000000001, ethDst: 0x020000000002 },
  instructions: [{ type: 'apply-actions', actions: [{ type: 'output', port: 1, maxLen: 0 }] }],
};
const packetInBytes = emitMessage(packetIn);
const flowModBytes = emitMessage(flowMod);
const STREAM_MESSAGES = 64;
const stream = new Uint8Array(packetInBytes.length * STREAM_MESSAGES);
for (let index = 0; index < STREAM_MESSAGES; index += 1) stream.set(packetInBytes, index * packetInBytes.length);
const CHUNK = 1460;

const suite = new Benchmark.Suite('openflow codec');
suite
  .add('parse packet-in (1.3, 64-byte frame)', () => { parseMessage(packetInBytes); })
  .add('emit packet-in (1.3)', () => { emitMessage(packetIn); })
  .add('parse flow-mod (1.3, 3 OXM fields, 1 action)', () => { parseMessage(flowModBytes); })
  .add('emit flow-mod (1.3)', () => { emitMessage(flowMod); })
  .add(`frame ${STREAM_MESSAGES} packet-ins in ${CHUNK}-byte chunks`, () => {
    const framer = new MessageFramer();
    let count = 0;
    for (let offset = 0; offset < stream.length; offset += CHUNK) count += framer.push(stream.subarray(offset, offset + CHUNK)).length;
    if (count !== STREAM_MESSAGES) throw new Error('framer lost messages');
  })
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target as Benchmark.Target & { name: string; hz: number };
    const extra = bench.name.startsWith('frame') ? ` (${Math.round(bench.hz * STREAM_MESSAGES).toLocaleString()} messages/s, ${((bench.hz * stream.length * 8) / 1e9).toFixed(2)} Gbit/s)` : '';
    console.log(`${String(event.target)}${extra}`);
  })
  .run();
