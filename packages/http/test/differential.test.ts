// Differential test against Node's own HTTP parser (llhttp, through node:http): the same bytes
// go over a raw TCP connection to a node:http server that records what it read, and into our
// HttpParser. For generated valid requests both must read the same messages; for mutated,
// near-valid ones our parser may be stricter, but wherever both accept a message they must agree
// on what it says. Disagreements about acceptance are printed as findings.
import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concat, encodeRequest, meaning, type Reading, readWithOurs, requestArb } from './requests.js';

interface NodeReading {
  requests: Reading[];
  error: string | undefined;
}

let current: NodeReading = { requests: [], error: undefined };
const server = createServer({ requireHostHeader: true }, (req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  const into = current;
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const pairs = (raw: string[]): [string, string][] => raw.flatMap((_, i) => (i % 2 === 0 ? [[raw[i], raw[i + 1]] as [string, string]] : []));
    into.requests.push({
      method: req.method ?? '',
      target: req.url ?? '',
      minorVersion: req.httpVersionMinor,
      headers: pairs(req.rawHeaders),
      body: Buffer.concat(chunks).toString('latin1'),
      trailers: pairs(req.rawTrailers),
    });
    res.writeHead(200, { 'Content-Length': '2' });
    res.end('ok');
  });
});
server.on('clientError', (error: Error & { code?: string }, socket) => {
  current.error = error.code ?? error.message;
  socket.destroy();
});
server.keepAliveTimeout = 1000;
let port = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** Sends `bytes` (in pieces, then FIN) to the node:http server and returns what it read. */
async function readWithNode(bytes: Uint8Array, cuts: readonly number[] = []): Promise<NodeReading> {
  const reading: NodeReading = { requests: [], error: undefined };
  current = reading;
  await new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('connect', () => {
      let last = 0;
      for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
        socket.write(bytes.subarray(last, cut));
        last = cut;
      }
      socket.end(bytes.subarray(last));
    });
  });
  // The server may still be finishing the last request's bookkeeping.
  await new Promise((r) => setImmediate(r));
  return reading;
}

const show = (bytes: Uint8Array): string => JSON.stringify(Buffer.from(bytes).toString('latin1')).slice(0, 400);

describe('differential: our parser and node:http (llhttp) read the same requests', () => {
  it('read generated valid requests, pipelined and cut anywhere, identically', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestArb, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 4 }), async (requests, cuts) => {
        const bytes = concat(requests.map((r, i) => encodeRequest(r, i === requests.length - 1)));
        const ours = readWithOurs(bytes, cuts);
        const theirs = await readWithNode(bytes, cuts);
        const expected = requests.map((r, i) => meaning(r, i === requests.length - 1));
        expect(ours.error, show(bytes)).toBeUndefined();
        expect(ours.requests).toEqual(expected);
        expect(theirs.error, show(bytes)).toBeUndefined();
        expect(theirs.requests).toEqual(expected);
      }),
      { numRuns: 120 },
    );
  });

  it('agree on every message both accept among mutated requests; acceptance differences are reported', async () => {
    const findings = new Map<string, { count: number; example: string }>();
    const note = (kind: string, detail: string, bytes: Uint8Array, at: number): void => {
      const key = `${kind}: ${detail}`;
      const seen = findings.get(key);
      // The example shows the bytes around the (first) change.
      const from = Math.max(0, at - 50);
      if (seen === undefined) findings.set(key, { count: 1, example: `${from > 0 ? '…' : ''}${show(bytes.subarray(from, at + 60))}` });
      else seen.count++;
    };
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(requestArb, requestArb, fc.array(mutationArb, { minLength: 1, maxLength: 2 }), async (first, second, mutations) => {
        let bytes = concat([encodeRequest(first, false), encodeRequest(second, true)]);
        const applied: string[] = [];
        let at = -1;
        for (const mutation of mutations) {
          const result = mutation(bytes);
          bytes = result.bytes;
          applied.push(result.name);
          if (result.at >= 0 && at < 0) at = result.at;
        }
        const ours = readWithOurs(bytes);
        const theirs = await readWithNode(bytes);
        const both = Math.min(ours.requests.length, theirs.requests.length);
        // Where both accept, the reading must be the same: a difference is how requests are smuggled.
        for (let i = 0; i < both; i++) expect(ours.requests[i], `${applied.join(', ')}: ${show(bytes)}`).toEqual(theirs.requests[i]);
        compared += both;
        if (ours.requests.length > theirs.requests.length) note('we accept, node:http rejects', `${applied.join(', ')} (node: ${theirs.error ?? 'stopped reading'})`, bytes, Math.max(at, 0));
        if (ours.requests.length < theirs.requests.length) note('node:http accepts, we reject', `${applied.join(', ')} (ours: ${ours.error ?? 'stopped reading'})`, bytes, Math.max(at, 0));
      }),
      { numRuns: 400 },
    );
    console.log(`differential findings (${compared} messages read alike by both; node ${process.version}, llhttp ${process.versions.llhttp}):`);
    for (const [key, { count, example }] of [...findings].sort((a, b) => b[1].count - a[1].count)) console.log(`  ${count}× ${key}\n      e.g. ${example}`);
    expect(compared).toBeGreaterThan(100);
  });
});

interface Mutated {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Where the change is (-1: nothing changed). */
  readonly at: number;
}
type Mutation = (bytes: Uint8Array) => Mutated;

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
const bytesOf = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'latin1'));

/** Replaces the first match of `pattern` (a near-valid spelling of something valid). */
const rewrite = (name: string, pattern: RegExp, replacement: string): Mutation => (bytes) => {
  const before = text(bytes);
  const match = pattern.exec(before);
  if (match === null) return { name: `${name} (no match)`, bytes, at: -1 };
  return { name, bytes: bytesOf(before.replace(pattern, replacement)), at: match.index };
};

const interesting = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x3b, 0x7f, 0x80, 0xff, 0x30, 0x61, 0x41];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.constantFrom(...interesting)).map(([at, value]): Mutation => (bytes) => {
    const out = bytes.slice();
    out[at % out.length] = value;
    return { name: `octet set to 0x${value.toString(16)}`, bytes: out, at: at % out.length };
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...interesting)).map(([at, value]): Mutation => (bytes) => {
    const i = at % (bytes.length + 1);
    return { name: `0x${value.toString(16)} inserted`, bytes: concat([bytes.subarray(0, i), Uint8Array.of(value), bytes.subarray(i)]), at: i };
  }),
  fc.nat().map((at): Mutation => (bytes) => {
    const i = at % bytes.length;
    return { name: 'octet deleted', bytes: concat([bytes.subarray(0, i), bytes.subarray(i + 1)]), at: i };
  }),
  fc.constantFrom<Mutation>(
    rewrite('space before colon', /\r\nHost:/, '\r\nHost :'),
    rewrite('obs-fold', /\r\nHost: ?example\.test\r\n/, '\r\nHost: example.test\r\n continued\r\n'),
    rewrite('bare LF line end', /\r\nHost:/, '\nHost:'),
    rewrite('bare LF end of head', /\r\n\r\n/, '\r\n\n'),
    rewrite('bare CR', /\r\nHost:/, '\rHost:'),
    rewrite('two Host fields', /\r\nHost:/, '\r\nHost: other.test\r\nHost:'),
    rewrite('no Host field', /\r\nHost:[^\r]*/, ''),
    rewrite('duplicate equal Content-Length', /\r\nContent-Length: (\d+)/, '\r\nContent-Length: $1\r\nContent-Length: $1'),
    rewrite('duplicate different Content-Length', /\r\nContent-Length: (\d+)/, '\r\nContent-Length: $1\r\nContent-Length: 1$1'),
    rewrite('Content-Length list', /\r\nContent-Length: (\d+)/, '\r\nContent-Length: $1, $1'),
    rewrite('Content-Length with sign', /\r\nContent-Length: (\d+)/, '\r\nContent-Length: +$1'),
    rewrite('Content-Length in hex', /\r\nContent-Length: (\d+)/, '\r\nContent-Length: 0x$1'),
    rewrite('Content-Length leading zeros', /\r\nContent-Length: (\d+)/, '\r\nContent-Length: 00$1'),
    rewrite('Content-Length and Transfer-Encoding', /\r\nTransfer-Encoding: chunked/, '\r\nContent-Length: 3\r\nTransfer-Encoding: chunked'),
    rewrite('Transfer-Encoding chunked twice', /\r\nTransfer-Encoding: chunked/, '\r\nTransfer-Encoding: chunked, chunked'),
    rewrite('Transfer-Encoding identity, chunked', /\r\nTransfer-Encoding: chunked/, '\r\nTransfer-Encoding: identity, chunked'),
    rewrite('Transfer-Encoding in capitals', /\r\nTransfer-Encoding: chunked/, '\r\nTransfer-Encoding: CHUNKED'),
    rewrite('Transfer-Encoding with a tab', /\r\nTransfer-Encoding: chunked/, '\r\nTransfer-Encoding:\tchunked\t'),
    rewrite('Transfer-Encoding xchunked', /\r\nTransfer-Encoding: chunked/, '\r\nTransfer-Encoding: xchunked'),
    rewrite('Transfer-Encoding split over two fields', /\r\nTransfer-Encoding: chunked/, '\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked'),
    rewrite('chunk size with trailing space', /\r\n\r\n([0-9a-fA-F]+)\r\n/, '\r\n\r\n$1 \r\n'),
    rewrite('chunk size in 0x form', /\r\n\r\n([0-9a-fA-F]+)\r\n/, '\r\n\r\n0x$1\r\n'),
    rewrite('chunk size negative', /\r\n\r\n([0-9a-fA-F]+)\r\n/, '\r\n\r\n-$1\r\n'),
    rewrite('chunk size overflow', /\r\n\r\n([0-9a-fA-F]+)\r\n/, '\r\n\r\nffffffffffffffffff$1\r\n'),
    rewrite('chunk data without CRLF', /\r\n0\r\n/, '0\r\n'),
    rewrite('whitespace before a chunk extension', /\r\n0\r\n/, '\r\n0 ;a=b\r\n'),
    rewrite('chunk extension with bare LF', /\r\n0\r\n/, '\r\n0;a\n\r\n'),
    rewrite('HTTP/1.10', / HTTP\/1\.1\r\n/, ' HTTP/1.10\r\n'),
    rewrite('HTTP/1.2', / HTTP\/1\.1\r\n/, ' HTTP/1.2\r\n'),
    rewrite('HTTP/2.0', / HTTP\/1\.1\r\n/, ' HTTP/2.0\r\n'),
    rewrite('lower-case version', / HTTP\/1\.1\r\n/, ' http/1.1\r\n'),
    rewrite('two spaces in the request line', / HTTP\/1\.1\r\n/, '  HTTP/1.1\r\n'),
    rewrite('tab in the request line', / HTTP\/1\.1\r\n/, '\tHTTP/1.1\r\n'),
    rewrite('trailing space after the version', / HTTP\/1\.1\r\n/, ' HTTP/1.1 \r\n'),
    rewrite('absolute-form target', /^(\w+) \//, '$1 http://example.test/'),
    rewrite('unknown method', /^\w+ /, 'BREW '),
    rewrite('lower-case method', /^GET /, 'get '),
    rewrite('leading empty lines', /^/, '\r\n\r\n'),
    rewrite('name with a space', /\r\nHost:/, '\r\nX Y: z\r\nHost:'),
    rewrite('empty field name', /\r\nHost:/, '\r\n: z\r\nHost:'),
    rewrite('DEL in a value', /\r\nHost: ?example/, '\r\nHost: exa\x7fmple'),
    rewrite('NUL in a value', /\r\nHost: ?example/, '\r\nHost: exa\x00mple'),
    rewrite('request line only LF', /^([^\r]*)\r\n/, '$1\n'),
  ),
);

