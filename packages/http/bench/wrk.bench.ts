// System benchmark: wrk against the morgana HTTP server (socket stack, static handler over
// files in memory), a minimal node:http server sending the same bytes with the same headers,
// and nginx (one worker process), in one run. Every server is pinned to core 0, wrk to core 1.
// Rounds alternate between the servers so that a burst of load elsewhere on the machine hits
// them all alike; the median of the rounds is reported.
// Run: node tools/bench.mjs wrk   (MORGANA_BENCH_SECONDS, MORGANA_BENCH_ROUNDS,
// MORGANA_BENCH_CONNECTIONS tune it; MORGANA_BENCH_CPU_PROF=DIR profiles the morgana server.)
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type OutgoingHttpHeaders } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystemClock, parseIpv4 } from '@morgana/core';
import { createMemorySource, createStaticHandler, Headers, type HttpRequest, HttpServer } from '@morgana/http';
import { createSocketStack } from '@morgana/socket';

const MTIME = Date.UTC(2026, 0, 1);
const SMALL = new TextEncoder().encode('hello, world\n');
const LARGE = new Uint8Array(10 * 1024).map((_, i) => 0x61 + (i % 26));
const FILES: Record<string, Uint8Array> = { 'small.txt': SMALL, '10k.txt': LARGE };
const PATHS = ['/small.txt', '/10k.txt'];
/** USER_HZ: the unit of the CPU times in /proc/PID/stat (100 on every Linux architecture Node runs on). */
const CLOCK_TICKS = Number(process.env.MORGANA_BENCH_CLK_TCK ?? '100');

const role = process.env.MORGANA_BENCH_ROLE;
const port = Number(process.env.MORGANA_BENCH_PORT);
if (role !== undefined) {
  // The parent ends a server with SIGTERM; exiting normally lets --cpu-prof write its profile.
  process.on('SIGTERM', () => process.exit(0));
}
if (role === 'morgana-server') {
  const stack = createSocketStack();
  const server = new HttpServer(createStaticHandler(createMemorySource(FILES, MTIME)), { clock: createSystemClock(), serverName: 'morgana' });
  server.listen(stack.tcp, port, parseIpv4('127.0.0.1'));
} else if (role === 'node-server') {
  // The same header fields the static handler sends, taken from it once, then node:http at its plainest.
  const handler = createStaticHandler(createMemorySource(FILES, MTIME), { precompressed: false });
  const answers = new Map<string, { headers: OutgoingHttpHeaders; body: Uint8Array }>();
  for (const path of PATHS) {
    const response = await handler(benchRequest(path));
    const headers: OutgoingHttpHeaders = { Server: 'morgana' };
    for (const [name, value] of response.headers as Headers) headers[name] = value;
    headers.Vary = 'Accept-Encoding';
    answers.set(path, { headers, body: response.body as Uint8Array });
  }
  const notFound = new TextEncoder().encode('not found\n');
  createServer((request, response) => {
    const answer = answers.get(request.url ?? '');
    if (answer === undefined) {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': notFound.length });
      response.end(notFound);
      return;
    }
    response.writeHead(200, answer.headers);
    response.end(answer.body);
  }).listen(port, '127.0.0.1');
} else {
  await main();
}

function benchRequest(path: string): HttpRequest {
  return {
    method: 'GET',
    target: path,
    path,
    query: '',
    minorVersion: 1,
    headers: new Headers({ Host: 'bench' }),
    remoteAddress: undefined,
    read: async () => null,
    bytes: async () => new Uint8Array(0),
    text: async () => '',
  };
}

interface Server {
  readonly name: string;
  start(port: number): ChildProcess;
}

async function main(): Promise<void> {
  const seconds = Number(process.env.MORGANA_BENCH_SECONDS ?? '4');
  const rounds = Number(process.env.MORGANA_BENCH_ROUNDS ?? '5');
  const connections = Number(process.env.MORGANA_BENCH_CONNECTIONS ?? '50');
  const profileDir = process.env.MORGANA_BENCH_CPU_PROF;
  const wrkVersion = tool('wrk', ['-v']);
  if (wrkVersion === undefined) {
    console.log('wrk is not installed (apt-get install wrk): nothing measured');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'morgana-wrk-'));
  const self = process.argv[1];
  const pinned = (command: string, args: string[], env: Record<string, string> = {}): ChildProcess =>
    spawn('taskset', ['-c', '0', command, ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
  const servers: Server[] = [
    {
      name: 'morgana (socket stack)',
      start: (p) => pinned(process.execPath, [...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]), self], { MORGANA_BENCH_ROLE: 'morgana-server', MORGANA_BENCH_PORT: String(p) }),
    },
    { name: `node:http (${process.version})`, start: (p) => pinned(process.execPath, [self], { MORGANA_BENCH_ROLE: 'node-server', MORGANA_BENCH_PORT: String(p) }) },
  ];
  const site = join(dir, 'site');
  mkdirSync(site);
  for (const [name, bytes] of Object.entries(FILES)) writeFileSync(join(site, name), bytes);
  const nginxVersion = existsSync('/usr/sbin/nginx') ? tool('/usr/sbin/nginx', ['-v']) : undefined;
  if (nginxVersion !== undefined) {
    servers.push({
      name: `${nginxVersion.replace('nginx version: ', '')} (1 worker)`,
      start: (p) => {
        writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, site, p));
        return pinned('/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')]);
      },
    });
  } else console.log('nginx: skipped (not installed; apt-get install nginx)');
  // The `morgana www` appliance as users run it: files from a folder, over the host's sockets
  // and over the pure TypeScript stack (usernet: two morgana stacks joined in memory).
  const cli = join(process.cwd(), 'packages', 'cli', 'dist', 'bin.js');
  if (existsSync(cli)) {
    servers.push(
      { name: 'morgana www (folder, socket)', start: (p) => pinned(process.execPath, [cli, 'www', site, '--log-level', 'error', '--net', 'socket', '--listen', `127.0.0.1:${p}`]) },
      { name: 'morgana www (folder, usernet)', start: (p) => pinned(process.execPath, [cli, 'www', site, '--log-level', 'error', '--net', 'usernet', '--forward', `127.0.0.1:${p}:80`]) },
    );
  } else console.log('morgana www appliance: skipped (packages/cli is not built)');

  console.log(`${wrkVersion.split('\n')[0]}; ${connections} connections, 1 thread on core 1; servers on core 0; ${rounds} rounds of ${seconds} s`);
  console.log(`load average before: ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
  const results = new Map<string, number[]>();
  // Requests answered per second of CPU the server used (user + system): on a machine shared
  // with other work this says more about the server than requests per wall-clock second.
  const efficiency = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const server of servers) {
      const p = await freePort();
      const child = server.start(p);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        // The server must be up and be ours (another program may have taken the port meanwhile).
        const answer = await firstAnswer(p, child);
        if (!answer.includes(new TextDecoder().decode(SMALL))) {
          console.log(`  ${server.name}: did not come up on port ${p} (${answer.slice(0, 80) || 'no answer'}); round skipped`);
          continue;
        }
        for (const path of PATHS) {
          const before = cpuSeconds(child.pid);
          const out = execFileSync('taskset', ['-c', '1', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, `http://127.0.0.1:${p}${path}`], { encoding: 'utf8' });
          const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
          const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
          if (errors !== null) console.log(`  ${server.name} ${path}: ${errors[0]}`);
          const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
          const cpu = cpuSeconds(child.pid) - before;
          const key = `${server.name}\t${path}`;
          results.set(key, [...(results.get(key) ?? []), rate]);
          efficiency.set(key, [...(efficiency.get(key) ?? []), cpu > 0 ? requests / cpu : 0]);
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      }
    }
  }
  console.log(`load average after: ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const path of PATHS) {
    console.log(`\n${path} (${FILES[path.slice(1)].length} bytes of body)`);
    const ours = median(results.get(`${servers[0].name}\t${path}`) ?? [0]);
    const oursPerCpu = median(efficiency.get(`${servers[0].name}\t${path}`) ?? [0]);
    for (const server of servers) {
      const values = results.get(`${server.name}\t${path}`) ?? [0];
      const rate = median(values);
      const perCpu = median(efficiency.get(`${server.name}\t${path}`) ?? [0]);
      const ratio = server === servers[0] ? '' : `; morgana / this: ${(ours / rate).toFixed(2)} (per CPU second ${(oursPerCpu / perCpu).toFixed(2)})`;
      const perCpuRounds = efficiency.get(`${server.name}\t${path}`) ?? [];
      const rounds = values.map((v, i) => `${v.toFixed(0)}/${(perCpuRounds[i] ?? 0).toFixed(0)}`).join(', ');
      console.log(`  ${server.name.padEnd(30)} ${rate.toFixed(0).padStart(6)} requests/s, ${perCpu.toFixed(0).padStart(6)} per CPU second${ratio}\n      rounds (requests/s / per CPU second): ${rounds}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** nginx in the foreground, one process, no logs per request, files kept open, keep-alive unbounded like the others. */
function nginxConfig(dir: string, site: string, p: number): string {
  return `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  types { text/plain txt; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=100;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${p};
    root ${site};
    add_header Cache-Control "public, max-age=0, must-revalidate";
    add_header Vary Accept-Encoding;
  }
}
`;
}

/** CPU time a process has used so far, user and system, in seconds (Linux /proc). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), the 12th and 13th after the command.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function tool(command: string, args: string[]): string | undefined {
  // nginx -v writes to stderr; wrk -v exits 1 after printing its version.
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error !== undefined) return undefined;
  const text = `${result.stdout}${result.stderr}`.trim();
  return text === '' ? undefined : text;
}

/** A port the kernel says is free now (another program could still take it before the server binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** The first answer to GET /small.txt once the server accepts connections, or '' if it exits or never answers. */
async function firstAnswer(p: number, child: ChildProcess): Promise<string> {
  for (let attempt = 0; attempt < 200 && child.exitCode === null && child.signalCode === null; attempt++) {
    const answer = await new Promise<string | undefined>((resolve) => {
      let text = '';
      const socket = connect(p, '127.0.0.1', () => socket.end('GET /small.txt HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n'));
      socket.setTimeout(2000, () => socket.destroy());
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('close', () => resolve(text === '' ? undefined : text));
      socket.on('error', () => undefined);
    });
    if (answer !== undefined) return answer;
    await new Promise((r) => setTimeout(r, 50));
  }
  return '';
}
