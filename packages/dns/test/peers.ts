// Starting and stopping the real DNS servers used as peers (Debian's NSD, BIND and Knot), each
// in a temporary folder, on loopback, on a port of its own. See shared PEERS notes: NSD's
// rate limiting is switched off, BIND runs one thread in the foreground as root.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Peer {
  readonly name: string;
  readonly version: string;
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** A UDP and TCP port that is free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

function version(binary: string, args: string[]): string {
  try {
    return execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0].trim();
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.split('\n')[0].trim();
  }
}

/** True when `binary` exists; in CI (MORGANA_INTEROP=required) a missing peer is an error. */
export function requirePeer(binary: string, apt: string): boolean {
  if (existsSync(binary)) return true;
  if (process.env.MORGANA_INTEROP === 'required') throw new Error(`${binary} is required for the DNS interop tests (apt-get install ${apt})`);
  console.log(`skipping: ${binary} is not installed (apt-get install ${apt})`);
  return false;
}

/** Waits until something answers DNS on the port (any response counts). */
async function waitForDns(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const query = Buffer.from('abcd01000001000000000000076578616d706c6503636f6d0000060001', 'hex');
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`peer exited with ${child.exitCode}: ${log()}`);
    const answered = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      const timer = setTimeout(() => {
        socket.close();
        resolve(false);
      }, 100);
      socket.on('message', () => {
        clearTimeout(timer);
        socket.close();
        resolve(true);
      });
      socket.send(query, port, '127.0.0.1');
    });
    if (answered) return;
  }
  throw new Error(`peer did not answer on port ${port}: ${log()}`);
}

function startProcess(binary: string, args: string[], dir: string): { child: ChildProcess; log: () => string } {
  let output = '';
  const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return { child, log: () => output.slice(-2000) };
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/** NSD serving `zones` (origin → zone file text). */
export async function startNsd(zones: Record<string, string>): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'morgana-nsd-'));
  const port = await freePort();
  let config = `server:\n  ip-address: 127.0.0.1@${port}\n  port: ${port}\n  username: ""\n  zonesdir: "${dir}"\n  database: ""\n  pidfile: "${dir}/nsd.pid"\n  xfrdfile: "${dir}/xfrd.state"\n  xfrdir: "${dir}"\n  zonelistfile: "${dir}/zone.list"\n  rrl-ratelimit: 0\n  server-count: 1\n  verbosity: 1\n  logfile: "${dir}/nsd.log"\n  chroot: ""\nremote-control:\n  control-enable: no\n`;
  for (const [origin, text] of Object.entries(zones)) {
    const file = `${origin}.zone`;
    writeFileSync(join(dir, file), text);
    config += `zone:\n  name: "${origin}"\n  zonefile: "${file}"\n  provide-xfr: 127.0.0.1 NOKEY\n`;
  }
  writeFileSync(join(dir, 'nsd.conf'), config);
  const { child, log } = startProcess('/usr/sbin/nsd', ['-c', join(dir, 'nsd.conf'), '-d'], dir);
  await waitForDns(port, child, log);
  return { name: 'NSD', version: version('/usr/sbin/nsd', ['-v']), port, dir, stop: stopper(child, dir) };
}

/** BIND 9 serving `zones` as primary, or as a secondary of `primary` (address:port). */
export async function startBind(zones: Record<string, string>, secondaries: Record<string, number> = {}): Promise<Peer & { log: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'morgana-bind-'));
  const port = await freePort();
  let config = `options {\n  directory "${dir}";\n  listen-on port ${port} { 127.0.0.1; };\n  listen-on-v6 { none; };\n  recursion no;\n  pid-file "${dir}/named.pid";\n  allow-transfer { any; };\n  allow-notify { 127.0.0.1; };\n  dnssec-validation no;\n  notify no;\n};\ncontrols { };\n`;
  for (const [origin, text] of Object.entries(zones)) {
    writeFileSync(join(dir, `${origin}.zone`), text);
    config += `zone "${origin}" { type primary; file "${dir}/${origin}.zone"; };\n`;
  }
  for (const [origin, primaryPort] of Object.entries(secondaries)) {
    config += `zone "${origin}" { type secondary; primaries port ${primaryPort} { 127.0.0.1; }; file "${dir}/${origin}.secondary"; };\n`;
  }
  writeFileSync(join(dir, 'named.conf'), config);
  const { child, log } = startProcess('/usr/sbin/named', ['-c', join(dir, 'named.conf'), '-g', '-n', '1', '-u', 'root'], dir);
  await waitForDns(port, child, log);
  return { name: 'BIND', version: version('/usr/sbin/named', ['-v']), port, dir, stop: stopper(child, dir), log };
}
