// System benchmark: SSH channel throughput (MB/s) and handshake latency, same run, same machine:
// OpenSSH ssh → OpenSSH sshd, OpenSSH ssh → morgana server, morgana client → OpenSSH sshd, and
// the npm package ssh2 (client → sshd, client → ssh2 server; installed at bench time into a
// temporary folder, not a dependency). Servers are pinned to core 0, clients to core 1.
//
// Throughput, two modes per cipher (aes128-gcm@openssh.com, chacha20-poly1305@openssh.com):
// - "echo": the client sends N MB of zeros to a remote `cat`, reads all of it back and discards
//   it (the morgana server only has built-in commands, so this is the mode every pair can run);
// - "upload": `cat > /dev/null` on sshd (data flows one way).
// MB/s counts the bytes sent by the client (10^6 bytes), connection setup included.
// Handshake latency: TCP connect + key exchange + publickey auth + exec `echo hi` + close,
// the mean over several runs (for OpenSSH ssh this includes starting the ssh process).
// Run: node tools/bench.mjs ssh/bench/throughput   (MORGANA_BENCH_MB, default 200)
// MORGANA_BENCH_ONLY=<regex> runs only the measurements whose name matches (e.g.
// 'aes128-gcm.* echo (OpenSSH ssh|morgana client) → OpenSSH sshd'); MORGANA_BENCH_REPEAT=<n> runs
// each of them n times, interleaved, and prints each run and the median.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystemClock, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { type CipherName, connectSsh, parseAuthorizedKeys, parseOpenSshPrivateKey, serveSshConnection } from '@morgana/ssh';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';

const CIPHERS = ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'] as const;
const CHUNK = 256 * 1024;
const HANDSHAKES = Number(process.env.MORGANA_BENCH_HANDSHAKES ?? '10');
const ONLY = new RegExp(process.env.MORGANA_BENCH_ONLY ?? '');
const REPEAT = Math.max(1, Number(process.env.MORGANA_BENCH_REPEAT ?? '1'));

/** What a client child process prints: one JSON line. */
interface ClientResult {
  readonly seconds: number;
  readonly received: number;
  /** CPU time (user + system) the client process used, process start included. */
  readonly cpuSeconds?: number;
}

type Ssh2Module = {
  Client: new () => Ssh2Client;
  Server: new (config: { hostKeys: string[] }, onClient: (client: Ssh2ServerClient) => void) => { listen(port: number, host: string): void };
};
interface Ssh2Stream {
  on(event: string, listener: (arg: Buffer) => void): Ssh2Stream;
  write(data: Buffer): boolean;
  end(): void;
  once(event: string, listener: () => void): void;
  stderr: { on(event: string, listener: (arg: Buffer) => void): void };
  exit(status: number): void;
  pipe(to: Ssh2Stream, options: { end: boolean }): void;
}
interface Ssh2Client {
  on(event: string, listener: (arg?: Error) => void): Ssh2Client;
  connect(config: Record<string, unknown>): void;
  exec(command: string, callback: (error: Error | undefined, stream: Ssh2Stream) => void): void;
  end(): void;
}
interface Ssh2ServerClient {
  on(event: 'authentication', listener: (ctx: { accept: () => void }) => void): void;
  on(event: 'session', listener: (accept: () => Ssh2Session) => void): void;
  on(event: 'error', listener: () => void): void;
}
interface Ssh2Session {
  on(event: string, listener: (accept: () => Ssh2Stream, reject: () => void, info: { command: string }) => void): void;
}

const role = process.env.MORGANA_BENCH_ROLE;
const env = (name: string): string => process.env[name] as string;

if (role === 'morgana-server') {
  const crypto = createNodeSshCrypto();
  const stack = createSocketStack();
  const hostKey = parseOpenSshPrivateKey(crypto, readFileSync(env('MORGANA_HOST_KEY'), 'utf8'));
  const authorized = parseAuthorizedKeys(readFileSync(env('MORGANA_AUTHORIZED'), 'utf8'));
  stack.tcp.listen(Number(env('MORGANA_BENCH_PORT')), {
    address: parseIpv4('127.0.0.1'),
    onConnection: (flow) => {
      serveSshConnection(flow, { crypto, clock: createSystemClock(), hostKey, authorizedKeys: () => authorized });
    },
  });
} else if (role === 'ssh2-server') {
  const { Server } = (await import(env('MORGANA_SSH2_PATH'))).default as Ssh2Module;
  new Server({ hostKeys: [readFileSync(env('MORGANA_HOST_KEY'), 'utf8')] }, (client) => {
    // The harness's port probe connects and hangs up: ssh2 reports that as an error event.
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => ctx.accept());
    client.on('session', (accept) => {
      const session = accept();
      session.on('exec', (accept, _reject, info) => {
        const stream = accept();
        if (info.command.startsWith('echo')) {
          stream.write(Buffer.from(`${info.command.slice(5)}\n`));
          stream.exit(0);
          stream.end();
          return;
        }
        stream.pipe(stream, { end: false });
        stream.once('end', () => {
          stream.exit(0);
          stream.end();
        });
      });
    });
  }).listen(Number(env('MORGANA_BENCH_PORT')), '127.0.0.1');
} else if (role === 'morgana-client') {
  const crypto = createNodeSshCrypto();
  const stack = createSocketStack();
  const privateKey = parseOpenSshPrivateKey(crypto, readFileSync(env('MORGANA_USER_KEY'), 'utf8'));
  const connect = async () =>
    connectSsh(await stack.tcp.connect(parseIpv4('127.0.0.1'), Number(env('MORGANA_BENCH_PORT'))), {
      crypto,
      clock: createSystemClock(),
      user: 'root',
      privateKey,
      verifyHostKey: () => true,
      transport: { ciphers: [env('MORGANA_CIPHER') as CipherName] },
    });
  const start = performance.now();
  if (env('MORGANA_BENCH_MODE') === 'handshake') {
    const client = await connect();
    const result = await client.exec('echo hi');
    if (result.exitStatus !== 0) throw new Error('echo failed');
    await client.close();
  } else {
    const bytes = Number(env('MORGANA_BENCH_BYTES'));
    const client = await connect();
    const channel = await client.startExec(env('MORGANA_BENCH_COMMAND'));
    const zeros = new Uint8Array(CHUNK);
    const writing = (async () => {
      for (let sent = 0; sent < bytes; sent += CHUNK) await channel.write(sent + CHUNK <= bytes ? zeros : zeros.subarray(0, bytes - sent));
      await channel.shutdown();
    })();
    let received = 0;
    for (let chunk = await channel.read(); chunk !== null; chunk = await channel.read()) received += chunk.length;
    await writing;
    await channel.close();
    await client.close();
    const cpu = process.cpuUsage();
    console.log(JSON.stringify({ seconds: (performance.now() - start) / 1000, received, cpuSeconds: (cpu.user + cpu.system) / 1e6 } satisfies ClientResult));
  }
  if (env('MORGANA_BENCH_MODE') === 'handshake') console.log(JSON.stringify({ seconds: (performance.now() - start) / 1000, received: 0 } satisfies ClientResult));
  await stack.close();
  process.exit(0);
} else if (role === 'ssh2-client') {
  const { Client } = (await import(env('MORGANA_SSH2_PATH'))).default as Ssh2Module;
  const start = performance.now();
  const bytes = Number(process.env.MORGANA_BENCH_BYTES ?? '0');
  const handshake = env('MORGANA_BENCH_MODE') === 'handshake';
  const conn = new Client();
  const received = await new Promise<number>((resolve, reject) => {
    conn.on('error', reject);
    conn.on('ready', () => {
      conn.exec(handshake ? 'echo hi' : env('MORGANA_BENCH_COMMAND'), (error, stream) => {
        if (error) return reject(error);
        let count = 0;
        stream.on('data', (chunk) => (count += chunk.length));
        stream.on('close', () => resolve(count));
        if (handshake) return;
        const zeros = Buffer.alloc(CHUNK);
        let sent = 0;
        const pump = (): void => {
          while (sent < bytes) {
            const piece = sent + CHUNK <= bytes ? zeros : zeros.subarray(0, bytes - sent);
            sent += piece.length;
            if (!stream.write(piece)) {
              stream.once('drain', pump);
              return;
            }
          }
          stream.end();
        };
        pump();
      });
    });
    conn.connect({
      host: '127.0.0.1',
      port: Number(env('MORGANA_BENCH_PORT')),
      username: 'root',
      privateKey: readFileSync(env('MORGANA_USER_KEY'), 'utf8'),
      hostVerifier: () => true,
      algorithms: { cipher: [env('MORGANA_CIPHER')] },
    });
  });
  conn.end();
  console.log(JSON.stringify({ seconds: (performance.now() - start) / 1000, received } satisfies ClientResult));
  process.exit(0);
} else {
  await main();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'morgana-ssh-bench-'));
  const megabytes = Number(process.env.MORGANA_BENCH_MB ?? '200');
  const bytes = megabytes * 1_000_000;
  const self = process.argv[1];
  const hostKey = join(dir, 'host_ed25519');
  const userKey = join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`));
  console.log(`peer: ${spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim()}, ${process.version}`);

  const ssh2Dir = join(dir, 'ssh2');
  let ssh2Path: string | undefined;
  // A selection that names no ssh2 measurement skips installing it.
  const wantSsh2 = process.env.MORGANA_BENCH_ONLY === undefined || process.env.MORGANA_BENCH_ONLY.includes('ssh2');
  try {
    if (wantSsh2) {
      execFileSync('npm', ['install', '--prefix', ssh2Dir, '--no-save', '--no-audit', '--no-fund', 'ssh2@1'], { stdio: 'ignore' });
      ssh2Path = join(ssh2Dir, 'node_modules', 'ssh2', 'lib', 'index.js');
      console.log(`ssh2 ${JSON.parse(readFileSync(join(ssh2Dir, 'node_modules', 'ssh2', 'package.json'), 'utf8')).version as string} installed in ${ssh2Dir}`);
    }
  } catch {
    console.log('ssh2: could not be installed from the npm registry');
  }

  const pinned = (cpu: string, command: string, args: string[], extra: Record<string, string> = {}): ChildProcess =>
    spawn('taskset', ['-c', cpu, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...extra } });
  const randomPort = (): number => 25_000 + Math.floor(Math.random() * 20_000);
  /** Waits until `child` listens on `port`; a child that exits first fails with its stderr. */
  const waitPort = async (port: number, child: ChildProcess): Promise<void> => {
    const { connect } = await import('node:net');
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for (let i = 0; i < 400; i++) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before listening on ${port}: ${stderr.trim()}`);
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`nothing listens on ${port}: ${stderr.trim()}`);
  };

  interface Server {
    readonly name: string;
    readonly port: number;
    readonly child: ChildProcess;
  }
  const startSshd = async (): Promise<Server> => {
    mkdirSync('/run/sshd', { recursive: true });
    const port = randomPort();
    writeFileSync(
      join(dir, 'sshd_config'),
      [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, `PidFile ${join(dir, 'sshd.pid')}`, 'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', 'LogLevel ERROR', ''].join('\n'),
    );
    const child = pinned('0', '/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')]);
    await waitPort(port, child);
    return { name: 'OpenSSH sshd', port, child };
  };
  const startNode = async (name: string, serverRole: string): Promise<Server> => {
    const port = randomPort();
    const child = pinned('0', process.execPath, [self], { MORGANA_BENCH_ROLE: serverRole, MORGANA_BENCH_PORT: String(port), MORGANA_HOST_KEY: hostKey, MORGANA_AUTHORIZED: join(dir, 'authorized_keys'), MORGANA_SSH2_PATH: ssh2Path ?? '' });
    await waitPort(port, child);
    return { name, port, child };
  };

  const collect = (child: ChildProcess): Promise<string> =>
    new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
    });

  type Client = 'OpenSSH ssh' | 'morgana client' | 'ssh2 client';
  /** One transfer (or, with bytes 0, one handshake): its seconds and, for a morgana client, its CPU time. */
  const runClient = async (client: Client, server: Server, cipher: string, command: string, size: number): Promise<ClientResult> => {
    const handshake = size === 0;
    if (client === 'OpenSSH ssh') {
      const ssh = ['ssh', '-p', String(server.port), '-i', userKey, '-c', cipher, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', 'root@127.0.0.1', `'${handshake ? 'echo hi' : command}'`].join(' ');
      const script = handshake ? `${ssh} > /dev/null` : `head -c ${size} /dev/zero | ${ssh} > /dev/null`;
      const start = performance.now();
      await collect(pinned('1', 'sh', ['-c', script]));
      return { seconds: (performance.now() - start) / 1000, received: size };
    }
    const out = await collect(
      pinned('1', process.execPath, [self], {
        MORGANA_BENCH_ROLE: client === 'morgana client' ? 'morgana-client' : 'ssh2-client',
        MORGANA_BENCH_PORT: String(server.port),
        MORGANA_BENCH_MODE: handshake ? 'handshake' : 'transfer',
        MORGANA_BENCH_BYTES: String(size),
        MORGANA_BENCH_COMMAND: command,
        MORGANA_CIPHER: cipher,
        MORGANA_USER_KEY: userKey,
        MORGANA_SSH2_PATH: ssh2Path ?? '',
      }),
    );
    const result = JSON.parse(out.trim().split('\n').pop() as string) as ClientResult;
    if (!handshake && command === 'cat' && result.received !== size) throw new Error(`echoed ${result.received} of ${size} bytes`);
    return result;
  };

  const servers: Server[] = [await startSshd(), await startNode('morgana server', 'morgana-server')];
  if (ssh2Path !== undefined) servers.push(await startNode('ssh2 server', 'ssh2-server'));
  const pairs: [Client, string][] = [
    ['OpenSSH ssh', 'OpenSSH sshd'],
    ['OpenSSH ssh', 'morgana server'],
    ['morgana client', 'OpenSSH sshd'],
    ['morgana client', 'morgana server'],
    ...(ssh2Path !== undefined ? ([['ssh2 client', 'OpenSSH sshd'], ['ssh2 client', 'ssh2 server'], ['OpenSSH ssh', 'ssh2 server']] as [Client, string][]) : []),
  ];
  const results = new Map<string, number>();
  const report = (key: string, value: number, unit: string, baseline: string, higherIsBetter: boolean): void => {
    results.set(key, value);
    const base = results.get(baseline);
    const ratio = base === undefined || key === baseline ? '' : ` (${(value / base).toFixed(2)}x OpenSSH→OpenSSH${higherIsBetter ? '' : ' time'})`;
    console.log(`${key}: ${value.toFixed(unit === 'ms' ? 1 : 0)} ${unit}${ratio}`);
  };
  try {
    for (const cipher of CIPHERS) {
      for (const [mode, command] of [
        ['echo', 'cat'],
        ['upload', 'cat > /dev/null'],
      ] as const) {
        const chosen = pairs.filter(([client, serverName]) => (mode === 'echo' || serverName === 'OpenSSH sshd') && ONLY.test(`${cipher} ${mode} ${client} → ${serverName}`));
        if (chosen.length === 0) continue;
        console.log(`\n### ${cipher}, ${mode} (${megabytes} MB${mode === 'echo' ? ' sent and echoed back' : ' sent'})`);
        const runs = new Map<string, number[]>();
        for (let round = 0; round < REPEAT; round++) {
          for (const [client, serverName] of chosen) {
            const server = servers.find((s) => s.name === serverName) as Server;
            const key = `${cipher} ${mode} ${client} → ${serverName}`;
            try {
              const { seconds, cpuSeconds } = await runClient(client, server, cipher, command, bytes);
              const rate = bytes / 1e6 / seconds;
              runs.set(key, [...(runs.get(key) ?? []), rate]);
              const cpu = cpuSeconds === undefined ? '' : `, client CPU ${cpuSeconds.toFixed(2)} s`;
              if (REPEAT > 1) console.log(`  run ${round + 1}: ${key}: ${rate.toFixed(0)} MB/s${cpu}`);
            } catch (error) {
              console.log(`${key}: failed (${(error as Error).message.trim().slice(0, 200)})`);
            }
          }
        }
        for (const [key, rates] of runs) report(key, median(rates), 'MB/s', `${cipher} ${mode} OpenSSH ssh → OpenSSH sshd`, true);
      }
      const handshakePairs = pairs.filter(([client, serverName]) => ONLY.test(`${cipher} handshake ${client} → ${serverName}`));
      if (handshakePairs.length === 0) continue;
      console.log(`\n### ${cipher}, handshake latency (connect + kex + auth + exec echo, mean of ${HANDSHAKES})`);
      for (const [client, serverName] of handshakePairs) {
        const server = servers.find((s) => s.name === serverName) as Server;
        const key = `${cipher} handshake ${client} → ${serverName}`;
        try {
          let total = 0;
          for (let i = 0; i < HANDSHAKES; i++) total += (await runClient(client, server, cipher, '', 0)).seconds;
          report(key, (total / HANDSHAKES) * 1000, 'ms', `${cipher} handshake OpenSSH ssh → OpenSSH sshd`, false);
        } catch (error) {
          console.log(`${key}: failed (${(error as Error).message.trim().slice(0, 200)})`);
        }
      }
    }
  } finally {
    for (const server of servers) server.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The middle value (the mean of the two middle ones for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
