// End-to-end: the morgana command's appliances on the backends that need no root, with curl
// and dig as clients. (TAP backends are covered in tap.interop.test.ts, as root.)
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { main, parseForward } from '../src/index.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');
const site = mkdtempSync(join(tmpdir(), 'morgana-site-'));
const big = new Uint8Array(50 * 1024 * 1024);
for (let i = 0; i < big.length; i += 4096) big[i] = (i * 2654435761) >>> 24;
writeFileSync(join(site, 'index.html'), '<h1>hello from morgana</h1>\n');
writeFileSync(join(site, 'big.bin'), big);
writeFileSync(
  join(site, 'example.test.zone'),
  ['$ORIGIN example.test.', '$TTL 300', '@ SOA ns admin 1 3600 600 86400 60', '@ NS ns', 'ns A 10.0.2.15', 'www A 192.0.2.1', 'big TXT "' + 'x'.repeat(250) + '" "' + 'y'.repeat(250) + '"', 'big TXT "' + 'z'.repeat(250) + '"'].join('\n') + '\n',
);
afterAll(() => rmSync(site, { recursive: true, force: true }));

const haveCurl = await run('curl', ['--version']).then(() => true, () => false);
const haveDig = await run('dig', ['-v']).then(() => true, () => false);
for (const [tool, present] of [['curl', haveCurl], ['dig', haveDig]] as const) {
  if (!present && process.env.MORGANA_INTEROP === 'required') throw new Error(`${tool} is required for the CLI end-to-end tests`);
  if (!present) console.log(`skipping ${tool} checks: not installed`);
}

let nextPort = 21_000 + Math.floor(Math.random() * 20_000);
const port = () => nextPort++;

/** Starts `morgana ...` as a child process (the built bin through the TypeScript sources is not needed: main() runs in-process in other tests). */
async function start(args: string[]): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<number | null> }> {
  let output = '';
  const child = spawn(process.execPath, ['--import', join(root, 'tools', 'ts-loader.mjs'), join(root, 'packages', 'cli', 'src', 'bin.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; i < 100 && !output.includes('reachable at'); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!output.includes('reachable at')) throw new Error(`morgana did not start: ${output}`);
  return {
    child,
    output: () => output,
    stop: async () => {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('morgana www', () => {
  for (const net of ['socket', 'usernet'] as const) {
    it.skipIf(!haveCurl)(`serves a folder over --net ${net}; a 50 MB download arrives intact`, async () => {
      const p = port();
      const args = net === 'socket' ? ['--listen', `127.0.0.1:${p}`] : ['--forward', `${p}:80`];
      const appliance = await start(['www', site, '--net', net, ...args]);
      try {
        const page = await run('curl', ['-sS', '-m', '10', `http://127.0.0.1:${p}/`]);
        expect(page.stdout).toBe('<h1>hello from morgana</h1>\n');
        const download = await run('curl', ['-sS', '-m', '60', `http://127.0.0.1:${p}/big.bin`], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
        expect(createHash('sha256').update(download.stdout).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
      } finally {
        expect(await appliance.stop()).toBe(0);
      }
    });
  }
});

describe('morgana dns', () => {
  for (const net of ['socket', 'usernet'] as const) {
    it.skipIf(!haveDig)(`answers dig over UDP and TCP with --net ${net}`, async () => {
      const p = port();
      const args = net === 'socket' ? ['--listen', `127.0.0.1:${p}`] : ['--forward', `udp:${p}:53`, '--forward', `tcp:${p}:53`];
      const appliance = await start(['dns', join(site, 'example.test.zone'), '--net', net, ...args]);
      try {
        const udp = await run('dig', ['@127.0.0.1', '-p', String(p), '+tries=1', '+time=3', 'www.example.test', 'A']);
        expect(udp.stdout).toMatch(/www\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.1/);
        expect(udp.stdout).toMatch(/flags: qr aa/);
        const tcp = await run('dig', ['@127.0.0.1', '-p', String(p), '+tries=1', '+time=3', '+tcp', 'big.example.test', 'TXT']);
        expect(tcp.stdout.match(/^big\.example\.test\.\s+300\s+IN\s+TXT/gm)?.length).toBe(2);
        const refused = await run('dig', ['@127.0.0.1', '-p', String(p), '+tries=1', '+time=3', '+tcp', 'example.test', 'AXFR']);
        expect(refused.stdout).toMatch(/Transfer failed|REFUSED/);
      } finally {
        expect(await appliance.stop()).toBe(0);
      }
    });
  }
});

describe('command line', () => {
  it('explains bad options and exits 2', async () => {
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((text: string) => {
      errors.push(String(text));
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await main(['www'])).toBe(2);
      expect(await main(['www', site, '--net', 'tap'])).toBe(2);
      expect(await main(['www', site, '--net', 'tap', '--tap', 'x'])).toBe(2);
      expect(await main(['www', site, '--net', 'bogus'])).toBe(2);
      expect(await main(['www', site, '--listen', 'nowhere'])).toBe(2);
      expect(await main(['www', site, '--net', 'usernet', '--forward', '99999:80'])).toBe(2);
      expect(await main(['frobnicate'])).toBe(2);
      expect(await main(['dns', '--allow-transfer', 'x', join(site, 'example.test.zone')])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    const text = errors.join('');
    expect(text).toContain('www takes one folder');
    expect(text).toContain('--net tap needs --tap NAME');
    expect(text).toContain('needs --ip ADDR/PREFIX');
    expect(text).toContain('--net must be one of');
    expect(text).toContain('expected HOST:PORT');
    expect(text).toContain('unknown appliance');
    expect(text).toContain('--allow-transfer');
  });

  it('parses forwards', () => {
    expect(parseForward('8080:80')).toEqual({ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 });
    expect(parseForward('udp:0.0.0.0:5353:53')).toEqual({ protocol: 'udp', hostAddress: '0.0.0.0', hostPort: 5353, guestPort: 53 });
    expect(() => parseForward('80')).toThrow(/expected/);
  });
});
