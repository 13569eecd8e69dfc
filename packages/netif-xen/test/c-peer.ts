/** Builds the C ring peer against the host's Xen headers (Debian libxen-dev), once per test file. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CPeer {
  readonly path: string;
  readonly dir: string;
}

const SOURCE = fileURLToPath(new URL('../c/ring-peer.c', import.meta.url));

/** Why the peer cannot be built, or undefined when it can. */
export function cPeerMissing(): string | undefined {
  if (!existsSync('/usr/include/xen/io/netif.h')) return 'Xen public headers missing (apt-get install libxen-dev)';
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'gcc missing (apt-get install gcc)';
  }
  return undefined;
}

export function buildCPeer(): CPeer {
  const dir = mkdtempSync(join(tmpdir(), 'netif-xen-c-'));
  const path = join(dir, 'ring-peer');
  execFileSync('gcc', ['-Wall', '-Werror', '-O1', '-o', path, SOURCE], { stdio: 'pipe' });
  return { path, dir };
}

export function runCPeer(peer: CPeer, args: readonly string[]): string {
  return execFileSync(peer.path, args, { encoding: 'utf8' });
}

/** Interop tests must fail, not skip, when CI requires them. */
export const interopRequired: boolean = process.env.MORGANA_INTEROP === 'required';
