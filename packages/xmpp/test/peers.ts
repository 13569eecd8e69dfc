// Real XMPP peers on loopback: Debian's Prosody (run as the prosody user in a temporary folder
// it owns, no posix module) and slixmpp clients (Debian's python3). Stopped by PID.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when `binary` exists; with MORGANA_INTEROP=required a missing peer fails the test. */
export function requirePeer(binary: string, apt: string, check?: () => boolean): boolean {
  if (existsSync(binary) && (check === undefined || check())) return true;
  if (process.env.MORGANA_INTEROP === 'required') throw new Error(`${binary} is required for the XMPP interop tests (apt-get install -y ${apt})`);
  console.log(`skipping XMPP interop: ${binary} (${apt}) is not installed; apt-get install -y ${apt}`);
  return false;
}

export function hasSlixmpp(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import slixmpp'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function slixmppVersion(): string {
  return execFileSync('/usr/bin/python3', ['-c', 'import slixmpp; print(slixmpp.__version__)'], { encoding: 'utf8' }).trim();
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Prosody {
  readonly version: string;
  readonly port: number;
  /** XEP-0114 component port, when started with a component. */
  readonly componentPort: number | undefined;
  readonly host: string;
  readonly cert: string;
  register(user: string, password: string): void;
  log(): string;
  stop(): Promise<void>;
}

/** An external component Prosody accepts (XEP-0114): its domain and shared secret. */
export interface ProsodyComponent {
  readonly domain: string;
  readonly secret: string;
}

/**
 * Starts Prosody for `host` on a free loopback port, with STARTTLS offered (not required), and
 * with `component`, a component port on loopback for that domain.
 */
export async function startProsody(host: string, component?: ProsodyComponent): Promise<Prosody> {
  const dir = mkdtempSync(join(tmpdir(), 'morgana-prosody-'));
  mkdirSync(join(dir, 'data'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const port = await freePort();
  const componentPort = component === undefined ? undefined : await freePort();
  const config = join(dir, 'prosody.cfg.lua');
  writeFileSync(
    config,
    [
      `pidfile = "${dir}/prosody.pid"`,
      `data_path = "${dir}/data"`,
      `log = { debug = "${dir}/prosody.log" }`,
      `c2s_ports = { ${port} }`,
      `c2s_interfaces = { "127.0.0.1" }`,
      's2s_ports = { }',
      'http_ports = { }',
      'https_ports = { }',
      'c2s_direct_tls_ports = { }',
      ...(componentPort === undefined ? [] : [`component_ports = { ${componentPort} }`, 'component_interfaces = { "127.0.0.1" }']),
      'modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "smacks" }',
      'modules_disabled = { "s2s" }',
      'authentication = "internal_hashed"',
      'storage = "internal"',
      'c2s_require_encryption = false',
      'allow_unencrypted_plain_auth = true',
      `VirtualHost "${host}"`,
      `  ssl = { key = "${dir}/key.pem", certificate = "${dir}/cert.pem" }`,
      ...(component === undefined
        ? []
        : [`Component "${component.domain}"`, `  component_secret = "${component.secret}"`]),
      '',
    ].join('\n'),
  );
  chmodSync(dir, 0o755);
  const chown = (): void => void execFileSync('chown', ['-R', 'prosody:prosody', dir]);
  chown();
  const version = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'prosody'], { encoding: 'utf8' }).trim();
  const child: ChildProcess = spawn('runuser', ['-u', 'prosody', '--', 'prosody', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const log = (): string => output + (existsSync(join(dir, 'prosody.log')) ? readFileSync(join(dir, 'prosody.log'), 'utf8').slice(-4000) : '');
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`prosody exited with ${child.exitCode}: ${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = createServer();
      socket.once('error', () => resolve(true));
      socket.listen(port, '127.0.0.1', () => socket.close(() => resolve(false)));
    });
    if (up) break;
    if (attempt > 100) throw new Error(`prosody did not listen: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    version: `Prosody ${version}`,
    port,
    componentPort,
    host,
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    register(user, password) {
      execFileSync('prosodyctl', ['--config', config, 'register', user, host, password], { stdio: 'ignore' });
      chown();
    },
    log,
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the slixmpp chat script against a server; resolves with its JSON events. */
export function runSlixmpp(port: number, host: string, third: string): Promise<{ events: Record<string, unknown>[]; code: number | null; stderr: string }> {
  const script = join(tmpdir(), `morgana-slixmpp-${process.pid}.py`);
  copyFileSync(new URL('./fixtures/slixmpp-chat.py', import.meta.url), script);
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/python3', [script, String(port), host, third], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ events, code, stderr: err.slice(-3000) });
    });
  });
}
