// A real browser: headless Chromium loads a small site (HTML, CSS, JavaScript, an image and a
// JSON file the script fetches) from HttpServer + createStaticHandler on the socket stack.
// The server's log must show every asset asked for and answered 200, and the DOM Chromium
// dumps must show that the script ran and saw the stylesheet, the image and the JSON.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflateSync } from 'node:zlib';
import { createSystemClock } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemorySource, createStaticHandler, HttpServer } from '../src/index.js';
import { listenOnLoopback } from './loopback.js';

const run = promisify(execFile);
const chromiumPath = '/usr/bin/chromium';
const version = await run(chromiumPath, ['--version']).then((r) => r.stdout.trim(), () => undefined);
if (version === undefined && process.env.MORGANA_INTEROP === 'required') throw new Error('Chromium is required for the browser test (apt-get install chromium)');
if (version === undefined) console.log('skipping the browser test: Chromium is not installed (apt-get install chromium)');
else console.log(`peer: ${version}`);

/** A PNG of one colour (RFC 2083): signature, IHDR, one zlib IDAT, IEND. */
function png(width: number, height: number, rgb: readonly [number, number, number]): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes: Uint8Array): number => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.of(0), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', pixels), chunk('IEND', new Uint8Array(0))]);
}

const enc = (text: string) => new TextEncoder().encode(text);
const site = {
  'index.html': enc(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>morgana</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/style.css">
<script defer src="/assets/app.js"></script>
</head>
<body>
<h1 id="title">served by morgana</h1>
<img id="logo" src="/assets/logo.png" alt="logo">
<p id="status">the script has not run</p>
</body>
</html>
`),
  'assets/style.css': enc('#title { color: rgb(0, 128, 128); }\n'),
  'assets/app.js': enc(`window.addEventListener('load', async () => {
  const image = document.getElementById('logo');
  const colour = getComputedStyle(document.getElementById('title')).color;
  const data = await (await fetch('/assets/data.json')).json();
  document.getElementById('status').textContent = 'script ran; image ' + image.naturalWidth + 'x' + image.naturalHeight + '; title ' + colour + '; data ' + data.greeting;
});
`),
  'assets/logo.png': png(16, 8, [200, 30, 60]),
  'assets/data.json': enc('{"greeting":"hello from the static handler"}\n'),
};

const stack = createSocketStack();
const log: string[] = [];
const statics = createStaticHandler(createMemorySource(site, Date.UTC(2026, 0, 1)));
const server = new HttpServer(async (request) => {
  const response = await statics(request);
  log.push(`${request.method} ${request.target} ${response.status}`);
  return response;
}, { clock: createSystemClock(), serverName: 'morgana' });
let port = 0;

beforeAll(async () => {
  port = await listenOnLoopback(server, stack.tcp);
});
afterAll(async () => {
  server.closeAll();
  await stack.close();
});

describe.skipIf(version === undefined)('a real browser (headless Chromium) against the static website', () => {
  it('loads the page and every asset, all answered 200, and runs its script', async () => {
    const profile = mkdtempSync(join(tmpdir(), 'morgana-chromium-'));
    try {
      const { stdout } = await run(
        chromiumPath,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${profile}`,
          // Let the page's load handler and its fetch finish before the DOM is dumped.
          '--virtual-time-budget=10000',
          '--dump-dom',
          `http://127.0.0.1:${port}/`,
        ],
        { timeout: 45_000, maxBuffer: 1 << 20 },
      );
      expect(stdout).toContain('script ran; image 16x8; title rgb(0, 128, 128); data hello from the static handler');
      for (const asset of ['/', '/assets/style.css', '/assets/app.js', '/assets/logo.png', '/assets/data.json']) expect(log, asset).toContain(`GET ${asset} 200`);
      expect(log.filter((line) => !line.endsWith(' 200')), 'every answer was 200').toEqual([]);
      expect(server.stats()['handler-errors']).toBeUndefined();
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
