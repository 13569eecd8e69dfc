/**
 * `morgana ssh`: an SSH appliance. A jump host that forwards TCP (direct-tcpip, `ssh -J`/`-W`)
 * through the appliance's own stack, plus the built-in exec commands (echo, cat, stats); it
 * never starts a host shell.
 */
import { readFile } from 'node:fs/promises';
import { type Clock, createSystemClock } from '@morgana/core';
import { parseAuthorizedKeys, parseOpenSshPrivateKey, serveSshConnection } from '@morgana/ssh';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import type { Appliance } from './appliance.js';
import { type BackendOptions, openBackend, UsageError } from './backend.js';
import type { Logger } from './log.js';

/** Starts the SSH appliance. */
export async function startSsh(options: {
  readonly hostKeyFile: string | undefined;
  readonly authorizedKeysFile: string | undefined;
  readonly backend: BackendOptions;
  readonly log: Logger;
  readonly clock?: Clock;
}): Promise<Appliance> {
  if (options.hostKeyFile === undefined) throw new UsageError('ssh needs --host-key FILE (an OpenSSH private key, e.g. from ssh-keygen -t ed25519)');
  if (options.authorizedKeysFile === undefined) throw new UsageError('ssh needs --authorized-keys FILE (public keys allowed to log in)');
  const clock = options.clock ?? createSystemClock();
  const crypto = createNodeSshCrypto();
  const hostKey = parseOpenSshPrivateKey(crypto, await readFile(options.hostKeyFile, 'utf8'));
  const keys = parseAuthorizedKeys(await readFile(options.authorizedKeysFile, 'utf8'));
  if (keys.length === 0) throw new UsageError(`${options.authorizedKeysFile} holds no ssh-ed25519 or ssh-rsa key`);
  const backend = await openBackend(options.backend, { port: 22, defaultListen: '127.0.0.1:2222', defaultForwards: ['2222:22'], protocols: ['tcp'] }, options.log, clock);
  let connections = 0;
  let open = 0;
  const listener = backend.stack.tcp.listen(backend.port, {
    address: backend.address,
    onConnection: (flow) => {
      connections++;
      open++;
      const session = serveSshConnection(flow, { crypto, clock, hostKey, authorizedKeys: () => keys, tcp: backend.stack.tcp });
      void session.closed.finally(() => {
        open--;
        options.log.debug(`ssh session of ${session.user() ?? '(not logged in)'} ended`);
      });
    },
  });
  options.log.info(`ssh: ${keys.length} authorized key(s), host key ${hostKey.algorithm}`);
  return {
    backend,
    stats: () => ({ connections, open }),
    async close() {
      listener.close();
      await backend.close();
    },
  };
}
