import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectUnix } from '../src/unix-transport.js';
import { XenstoreClient } from '../src/xenstore-client.js';
import { startXenstored, type XenstoredServer } from '../src/xenstored.js';
import { interopRequired } from './c-peer.js';

const CLIENTS = ['xenstore-write', 'xenstore-read', 'xenstore-ls', 'xenstore-rm', 'xenstore-list', 'xenstore-watch', 'xenstore-exists', 'xenstore-chmod'];

function which(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      return statSync(join(dir, name)).isFile();
    } catch {
      return false;
    }
  });
}

const missingClients = CLIENTS.filter((name) => !which(name));
const missing = missingClients.length > 0 ? `xenstore clients missing: ${missingClients.join(', ')} (apt-get install xenstore-utils)` : undefined;
if (missing !== undefined) {
  if (interopRequired) throw new Error(`MORGANA_INTEROP=required but ${missing}`);
  console.log(`skipping xenstored simulator interop: ${missing}`);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(missing !== undefined)("xenstored simulator against the xenstore-utils clients", () => {
  let server: XenstoredServer;
  let env: NodeJS.ProcessEnv;

  const run = (cmd: string, ...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(cmd, args, { env, timeout: 10_000 }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      });
    });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netif-xen-xs-'));
    server = await startXenstored({ path: join(dir, 'xenstored.sock') });
    env = { ...process.env, XENSTORED_PATH: server.path };
  });
  afterAll(async () => {
    await server.close();
  });

  it('xenstore-write stores values that xenstore-read reads back', async () => {
    expect(await run('xenstore-write', '/a', '1', '/b/c/d', 'deep value')).toMatchObject({ code: 0 });
    expect(server.store.peek('/a')).toBe('1');
    expect(server.store.peek('/b/c/d')).toBe('deep value');
    const read = await run('xenstore-read', '/a', '/b/c/d');
    expect(read.code).toBe(0);
    expect(read.stdout).toBe('1\ndeep value\n');
  });

  it('xenstore-read of a missing node fails (ENOENT)', async () => {
    const read = await run('xenstore-read', '/does/not/exist');
    expect(read.code).not.toBe(0);
  });

  it('xenstore-list lists children and xenstore-ls prints the tree', async () => {
    await run('xenstore-write', '/tree/x', 'one', '/tree/y', 'two', '/tree/y/z', 'three');
    const list = await run('xenstore-list', '/tree');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').filter(Boolean).sort()).toEqual(['x', 'y']);
    const ls = await run('xenstore-ls', '/tree');
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^x = "one"$/m);
    expect(ls.stdout).toMatch(/^y = "two"$/m);
    expect(ls.stdout).toMatch(/^ z = "three"$/m);
  });

  it('xenstore-rm removes a subtree and xenstore-exists sees it gone', async () => {
    await run('xenstore-write', '/gone/a/b', 'v');
    expect((await run('xenstore-exists', '/gone/a/b')).code).toBe(0);
    expect((await run('xenstore-rm', '/gone/a')).code).toBe(0);
    expect(server.store.peek('/gone/a/b')).toBeUndefined();
    expect(server.store.peek('/gone/a')).toBeUndefined();
    expect((await run('xenstore-exists', '/gone/a/b')).code).not.toBe(0);
  });

  it('xenstore-chmod sets permissions that xenstore-ls -p shows', async () => {
    await run('xenstore-write', '/perm', 'v');
    expect((await run('xenstore-chmod', '/perm', 'n1', 'r2')).code).toBe(0);
    const ls = await run('xenstore-ls', '-p', '/');
    expect(ls.stdout).toMatch(/^perm = "v"[ .]+\(n1,r2\)$/m);
    expect(server.store.peek("/perm")).toBe("v");
  });

  it('xenstore-watch reports the initial event and every change under the path', async () => {
    const child = spawn('xenstore-watch', ['-n', '3', '/watched'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const until = async (condition: () => boolean): Promise<void> => {
      for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 25));
    };
    const lines = (): number => out.split('\n').filter(Boolean).length;
    // Fail instead of hanging if an event never comes.
    const killer = setTimeout(() => child.kill(), 15_000);
    await until(() => server.store.watchCount() > 0 && lines() >= 1);
    await run('xenstore-write', '/watched/child', 'x');
    await until(() => lines() >= 2);
    await run('xenstore-write', '/unrelated', 'y');
    await run('xenstore-rm', '/watched');
    const code = await exited;
    clearTimeout(killer);
    expect(code).toBe(0);
    expect(out.split('\n').filter(Boolean)).toEqual(['/watched', '/watched/child', '/watched']);
  });

  it('the morgana client and the xenstore tools see each other through the simulator', async () => {
    const client = new XenstoreClient(await connectUnix(server.path));
    try {
      const events: string[] = [];
      await client.watch('/shared', 'tok', (path) => events.push(path));
      await run('xenstore-write', '/shared/from-tool', 'tool');
      expect(await client.read('/shared/from-tool')).toBe('tool');
      await client.write('/shared/from-morgana', 'morgana');
      expect((await run('xenstore-read', '/shared/from-morgana')).stdout).toBe('morgana\n');
      expect(events).toEqual(['/shared', '/shared/from-tool', '/shared/from-morgana']);
    } finally {
      client.close();
    }
  });

  it('xenstore-list lists a directory too large for one reply (DIRECTORY_PART)', async () => {
    const names = Array.from({ length: 500 }, (_, i) => `child-number-${String(i).padStart(4, '0')}`);
    for (const name of names) server.store.forceWrite(`/big/${name}`, '');
    const list = await run('xenstore-list', '/big');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').filter(Boolean)).toEqual(names);
  });
});
