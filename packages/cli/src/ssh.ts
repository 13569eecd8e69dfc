/**
 * `morgana ssh`: an SSH appliance. A jump host that forwards TCP (direct-tcpip, `ssh -J`/`-W`)
 * through the appliance's own stack, plus the built-in exec commands (echo, cat, stats); it
 * never starts a host shell. With `allowRemoteForward`, users may also listen through the stack
 * (`ssh -R`, tcpip-forward): on loopback addresses only, or on any with `gatewayPorts`.
 */
import { readFile } from 'node:fs/promises';
import { type Clock, createSystemClock } from '@morgana/core';
import { type RemoteForwardOptions, loopbackOnly, parseAuthorizedKeys, parseOpenSshPrivateKey, serveSshConnection } from '@morgana/ssh';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import type { Appliance } from './appliance.js';
import { type BackendOptions, openBackend, UsageError } from './backend.js';
import type { Logger } from './log.js';

/** Starts the SSH appliance. */
export async function startSsh(options: {
  readonly hostKeyFile: string | undefined;
  readonly authorizedKeysFile: string | undefined;
  /** Grants tcpip-forward (RFC 4254 §7.1) to authenticated users; default false. */
  readonly allowRemoteForward?: boolean;
  /** With allowRemoteForward: any address the client names, not only loopback ones (sshd's GatewayPorts clientspecified). */
  readonly gatewayPorts?: boolean;
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
  if (options.gatewayPorts === true && options.allowRemoteForward !== true) throw new UsageError('--gateway-ports needs --allow-remote-forward');
  if (keys.length === 0) throw new UsageError(`${options.authorizedKeysFile} holds no ssh-ed25519 or ssh-rsa key`);
  const backend = await openBackend(options.backend, { port: 22, defaultListen: '127.0.0.1:2222', defaultForwards: ['2222:22'], protocols: ['tcp'] }, options.log, clock);
  const remoteForward: RemoteForwardOptions | undefined =
    options.allowRemoteForward === true ? { tcp: backend.stack.tcp, allow: options.gatewayPorts === true ? () => true : loopbackOnly } : undefined;
  let connections = 0;
  let open = 0;
  const listener = backend.stack.tcp.listen(backend.port, {
    address: backend.address,
    onConnection: (flow) => {
      connections++;
      open++;
      const session = serveSshConnection(flow, { crypto, clock, hostKey, authorizedKeys: () => keys, tcp: backend.stack.tcp, remoteForward });
      void session.closed.finally(() => {
        open--;
        options.log.debug(`ssh session of ${session.user() ?? '(not logged in)'} ended`);
      });
    },
  });
  options.log.info(
    `ssh: ${keys.length} authorized key(s), host key ${hostKey.algorithm}, remote forwarding ${remoteForward ? (options.gatewayPorts === true ? 'on any address' : 'on loopback') : 'off'}`,
  );
  return {
    backend,
    stats: () => ({ connections, open }),
    async close() {
      listener.close();
      await backend.close();
    },
  };
}
