// System benchmark: dnsperf against morgana (socket stack) and NSD, Knot, BIND 9 and the npm
// package dns2, same zone, same query file, same run; each server on core 0 (one process or
// thread), dnsperf on core 1. Also morgana with two processes (node:cluster) against BIND with
// two threads. Run: node tools/bench.mjs dnsperf
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystemClock } from '@morgana/core';
import { AuthoritativeServer, parseZone, serveDns } from '@morgana/dns';
import { createSocketStack } from '@morgana/socket';

const ORIGIN = 'bench.test';
const hosts = Array.from({ length: 200 }, (_, i) => `h${i}`);
const ZONE = [
  `$ORIGIN ${ORIGIN}.`,
  '$TTL 300',
  '@ SOA ns1 admin 1 3600 600 86400 60',
  '@ NS ns1',
  'ns1 A 127.0.0.1',
  '@ MX 10 mail',
  'mail A 10.0.0.25',
  ...hosts.map((h, i) => `${h} A 10.0.${Math.floor(i / 250)}.${i % 250}`),
  ...hosts.slice(0, 50).map((h, i) => `${h} AAAA 2001:db8::${i + 1}`),
].join('\n');
const QUERIES = [
  ...hosts.map((h) => `${h}.${ORIGIN} A`),
  ...hosts.slice(0, 50).map((h) => `${h}.${ORIGIN} AAAA`),
  ...Array.from({ length: 30 }, (_, i) => `missing${i}.${ORIGIN} A`),
  `${ORIGIN} MX`,
  `${ORIGIN} SOA`,
].join('\n');

const role = process.env.MORGANA_BENCH_ROLE;
if (role === 'morgana-server') {
  const port = Number(process.env.MORGANA_BENCH_PORT);
  const workers = Number(process.env.MORGANA_BENCH_WORKERS ?? '1');
  if (workers > 1 && cluster.isPrimary) {
    for (let i = 0; i < workers; i++) cluster.fork();
  } else {
    const clock = createSystemClock();
    const stack = createSocketStack();
    const server = new AuthoritativeServer({ zones: [parseZone(ZONE, { origin: `${ORIGIN}.` })], clock, rateLimit: false });
    serveDns({ server, clock, udp: stack.udp, port });
  }
} else if (role === 'dns2-server') {
  const port = Number(process.env.MORGANA_BENCH_PORT);
  const dns2 = (await import(process.env.MORGANA_DNS2_PATH as string)) as { default: { createServer: (o: unknown) => { listen: (o: unknown) => void }; Packet: { TYPE: Record<string, number>; CLASS: Record<string, number>; createResponseFromRequest: (r: unknown) => { answers: unknown[]; header: { rcode: number; aa: number } } } } };
  const { Packet } = dns2.default;
  const table = new Map(hosts.map((h, i) => [`${h}.${ORIGIN}`, `10.0.${Math.floor(i / 250)}.${i % 250}`]));
  const server = dns2.default.createServer({
    udp: true,
    handle: (request: { questions: { name: string; type: number }[] }, send: (r: unknown) => void) => {
      const response = Packet.createResponseFromRequest(request);
      const [question] = request.questions;
      const address = table.get(question.name.toLowerCase());
      if (address !== undefined && question.type === Packet.TYPE.A) response.answers.push({ name: question.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 300, address });
      else if (address === undefined) response.header.rcode = 3;
      response.header.aa = 1;
      send(response);
    },
  });
  server.listen({ udp: { port, address: '127.0.0.1' } });
} else {
  await main();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'morgana-dnsperf-'));
  const queries = join(dir, 'queries.txt');
  writeFileSync(queries, QUERIES + '\n');
  writeFileSync(join(dir, `${ORIGIN}.zone`), ZONE + '\n');
  const seconds = Number(process.env.MORGANA_BENCH_SECONDS ?? '10');
  const results: { name: string; qps: number; latency: number; lost: number }[] = [];

  async function measure(name: string, start: (port: number) => ChildProcess | undefined): Promise<void> {
    const port = 25_000 + Math.floor(Math.random() * 20_000);
    const child = start(port);
    if (child === undefined) {
      console.log(`${name}: skipped (not installed)`);
      return;
    }
    await new Promise((r) => setTimeout(r, 1500));
    try {
      const out = execFileSync('taskset', ['-c', '1', 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds), '-c', '4', '-q', '200'], { encoding: 'utf8' });
      const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
      const latency = Number(/Average Latency \(s\):\s+([\d.]+)/.exec(out)?.[1] ?? 0) * 1000;
      const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? 0);
      results.push({ name, qps, latency, lost });
      console.log(`${name}: ${qps.toFixed(0)} queries/s, average latency ${latency.toFixed(3)} ms, lost ${lost}`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  const pinned = (cpu: string, command: string, args: string[], env: Record<string, string> = {}) =>
    spawn('taskset', ['-c', cpu, command, ...args], { stdio: 'ignore', env: { ...process.env, ...env } });

  const self = process.argv[1];
  await measure('morgana (socket stack, 1 process)', (port) => pinned('0', process.execPath, [self], { MORGANA_BENCH_ROLE: 'morgana-server', MORGANA_BENCH_PORT: String(port) }));
  await measure('NSD 4 (1 server process)', (port) => {
    if (!existsSync('/usr/sbin/nsd')) return undefined;
    writeFileSync(join(dir, 'nsd.conf'), `server:\n  ip-address: 127.0.0.1@${port}\n  port: ${port}\n  username: ""\n  zonesdir: "${dir}"\n  database: ""\n  pidfile: "${dir}/nsd.pid"\n  xfrdfile: "${dir}/xfrd.state"\n  xfrdir: "${dir}"\n  zonelistfile: "${dir}/zone.list"\n  rrl-ratelimit: 0\n  server-count: 1\n  logfile: "${dir}/nsd.log"\n  chroot: ""\nremote-control:\n  control-enable: no\nzone:\n  name: "${ORIGIN}"\n  zonefile: "${ORIGIN}.zone"\n`);
    return pinned('0', '/usr/sbin/nsd', ['-c', join(dir, 'nsd.conf'), '-d']);
  });
  await measure('Knot DNS 3 (1 UDP worker)', (port) => {
    if (!existsSync('/usr/sbin/knotd')) return undefined;
    writeFileSync(join(dir, 'knot.conf'), `server:\n  listen: 127.0.0.1@${port}\n  rundir: "${dir}"\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\ndatabase:\n  storage: "${dir}"\nzone:\n  - domain: ${ORIGIN}\n    file: "${dir}/${ORIGIN}.zone"\n`);
    return pinned('0', '/usr/sbin/knotd', ['-c', join(dir, 'knot.conf')]);
  });
  const bind = (port: number, threads: number, cpus: string): ChildProcess | undefined => {
    if (!existsSync('/usr/sbin/named')) return undefined;
    writeFileSync(join(dir, 'named.conf'), `options {\n  directory "${dir}";\n  listen-on port ${port} { 127.0.0.1; };\n  listen-on-v6 { none; };\n  recursion no;\n  pid-file "${dir}/named.pid";\n  dnssec-validation no;\n};\ncontrols { };\nzone "${ORIGIN}" { type primary; file "${dir}/${ORIGIN}.zone"; };\n`);
    return pinned(cpus, '/usr/sbin/named', ['-c', join(dir, 'named.conf'), '-g', '-n', String(threads), '-u', 'root']);
  };
  await measure('BIND 9 (1 thread)', (port) => bind(port, 1, '0'));
  const dns2Dir = join(dir, 'dns2');
  let dns2Path: string | undefined;
  try {
    execFileSync('npm', ['install', '--prefix', dns2Dir, '--no-save', '--no-audit', '--no-fund', 'dns2@2'], { stdio: 'ignore' });
    dns2Path = join(dns2Dir, 'node_modules', 'dns2', 'index.js');
  } catch {
    console.log('dns2: could not be installed from the npm registry');
  }
  if (dns2Path !== undefined) {
    await measure('dns2 (npm, 1 process)', (port) => pinned('0', process.execPath, [self], { MORGANA_BENCH_ROLE: 'dns2-server', MORGANA_BENCH_PORT: String(port), MORGANA_DNS2_PATH: dns2Path as string }));
  }
  await measure('morgana (socket stack, 2 processes, node:cluster)', (port) => pinned('0,1', process.execPath, [self], { MORGANA_BENCH_ROLE: 'morgana-server', MORGANA_BENCH_PORT: String(port), MORGANA_BENCH_WORKERS: '2' }));
  await measure('BIND 9 (2 threads)', (port) => bind(port, 2, '0,1'));
  const single = results.find((r) => r.name.startsWith('morgana (socket stack, 1'));
  const double = results.find((r) => r.name.startsWith('morgana (socket stack, 2'));
  for (const r of results) {
    if (r.name.startsWith('morgana')) continue;
    const ours = r.name.includes('2 threads') ? double : single;
    if (ours !== undefined && r.qps > 0) console.log(`ratio ${ours.name} / ${r.name}: ${(ours.qps / r.qps).toFixed(2)}`);
  }
  rmSync(dir, { recursive: true, force: true });
}
