/**
 * Test hosts for interop tests and system benchmarks: network namespaces made by tools/netns.sh
 * with unique names, so test files running in parallel never clash, torn down by the caller
 * (and on process exit if it never got that far). tools/interop.ts holds the vitest gate.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';

/** tools/netns.sh next to this file, or under the working folder when this file was bundled elsewhere (benchmarks). */
const script = [join(import.meta.dirname ?? '', 'netns.sh'), join(process.cwd(), 'tools', 'netns.sh')].find((path) => existsSync(path)) ?? 'netns.sh';

/** What {@link createTestNetns} sets up. */
export interface TestNetnsOptions {
  /** A persistent TAP device of this name inside the namespace (default, with a generated name). */
  readonly tap?: string | boolean;
  /** A veth pair instead: this end inside the namespace, `${name}p` in `${namespace}-peer`. */
  readonly veth?: string;
  /** Move this existing device (e.g. one QEMU created) into the namespace instead. */
  readonly adopt?: string;
  /** Kernel-side address with prefix length. Default 10.77.0.1/24. */
  readonly address?: string;
  /** With veth: the peer end's address. */
  readonly peerAddress?: string;
  readonly mtu?: number;
  /** `ip route add` specs inside the namespace. */
  readonly routes?: readonly string[];
  /** tc netem arguments on the kernel's egress (needs sch_netem in the kernel). */
  readonly netem?: string;
  /** tc netem arguments on the kernel's ingress, through an ifb device. */
  readonly netemIngress?: string;
  /** Keep IPv6 on inside the namespace (off by default: no router solicitations or MLD noise). */
  readonly ipv6?: boolean;
}

/** Output of a command run inside the namespace. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A live test namespace. */
export interface TestNetns {
  readonly name: string;
  /** The device inside it (TAP, veth end or adopted device). */
  readonly device: string;
  /** Kernel-side address (no prefix). */
  readonly kernelAddress: string;
  /** Runs a command inside the namespace and collects its output (never rejects on a non-zero exit). */
  exec(command: string, args: readonly string[], options?: { timeoutMs?: number; input?: string }): Promise<ExecResult>;
  /** Starts a long-running command inside the namespace; {@link destroy} stops what is left. */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Stops the processes inside and deletes the namespace with its devices. Idempotent. */
  destroy(): Promise<void>;
}

let sequence = 0;
const live = new Set<string>();
let exitHookInstalled = false;

function destroyLive(): void {
  for (const name of live) {
    try {
      execFileSync(script, ['down', name], { stdio: 'ignore' });
    } catch {
      // best effort while the process is going away
    }
  }
  live.clear();
}

/**
 * Namespaces outlive a process that dies without tearing them down, so delete them on exit and
 * on the signals that end a test run (a killed runner, Ctrl-C), then let the signal do its work.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', destroyLive);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      destroyLive();
      process.kill(process.pid, signal);
    });
  }
}

/** A name unique to this process and call, short enough for an interface name (15 bytes). */
export function uniqueName(prefix: string): string {
  sequence += 1;
  const random = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0');
  return `${prefix}${(process.pid % 0x10000).toString(16)}${sequence.toString(16)}${random}`.slice(0, 15);
}

/** Creates a namespace with a device, per {@link TestNetnsOptions}. */
export async function createTestNetns(options: TestNetnsOptions = {}): Promise<TestNetns> {
  const name = uniqueName('mg');
  const args = ['up', '--name', name];
  let device: string;
  if (options.veth !== undefined) {
    device = options.veth;
    args.push('--veth', device);
  } else if (options.adopt !== undefined) {
    device = options.adopt;
    args.push('--adopt', device);
  } else {
    device = typeof options.tap === 'string' ? options.tap : uniqueName('mt');
    args.push('--tap', device);
  }
  const address = options.address ?? '10.77.0.1/24';
  args.push('--address', address);
  if (options.peerAddress !== undefined) args.push('--peer-address', options.peerAddress);
  if (options.mtu !== undefined) args.push('--mtu', String(options.mtu));
  for (const route of options.routes ?? []) args.push('--route', route);
  if (options.netem !== undefined) args.push('--netem', options.netem);
  if (options.netemIngress !== undefined) args.push('--netem-ingress', options.netemIngress);
  if (options.ipv6 === true) args.push('--ipv6');
  installExitHook();
  live.add(name);
  try {
    await run(script, args, 60_000);
  } catch (error) {
    live.delete(name);
    throw error;
  }
  let destroyed = false;
  return {
    name,
    device,
    kernelAddress: address.split('/')[0],
    exec: (command, commandArgs, execOptions) =>
      collect('ip', ['netns', 'exec', name, command, ...commandArgs], execOptions?.timeoutMs ?? 30_000, execOptions?.input),
    spawn: (command, commandArgs, spawnOptions) => spawn('ip', ['netns', 'exec', name, command, ...commandArgs], spawnOptions ?? {}),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(name);
      await run(script, ['down', name], 30_000);
    },
  };
}

function run(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/** Runs a command and collects its output; resolves with the exit code instead of rejecting. */
export function collect(command: string, args: readonly string[], timeoutMs = 30_000, input?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr: stderr || (error !== null && code === -1 ? error.message : '') });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Full path of an executable on PATH, or undefined. */
export function which(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** Why interop tests cannot run here, or undefined when they can. */
export function interopUnavailable(commands: readonly string[] = []): string | undefined {
  if (process.platform !== 'linux') return 'interop tests need Linux';
  if (process.getuid?.() !== 0) return 'interop tests need root (network namespaces, TAP devices)';
  if (!existsSync('/dev/net/tun')) return 'interop tests need /dev/net/tun';
  const missing = ['ip', ...commands].filter((command) => which(command) === undefined);
  if (missing.length > 0) return `interop tests need ${missing.join(', ')} on PATH`;
  return undefined;
}

/** The version line a peer prints, for test output ("interop tests name the peer and its version"). */
export function peerVersion(command: string, args: readonly string[] = ['--version']): string {
  try {
    const output = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return output.split('\n')[0].trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    return stderr.split('\n')[0].trim() || command;
  }
}
