/** An SSH server: authentication (RFC 4252) and session channels with built-in commands (RFC 4254 §6). */
import {
  type Clock,
  CounterSet,
  type Counters,
  DecodeError,
  type Flow,
  LimitExceeded,
  ProtocolError,
  type Tcp,
  type Timer,
  TimeoutError,
  parseIpv4,
  utf8Encode,
} from '@morgana/core';
import { type ChannelConfig, OPEN_FAILURE, type SshChannel, SshConnection } from './channel.js';
import type { SshCrypto } from './crypto.js';
import { type AuthorizedKey, SIGNATURE_ALGORITHMS, type SshPrivateKey, blobAlgorithm, isAuthorizedKey, keyTypeOf, verifySignature } from './keys.js';
import { type RemoteForwardOptions, RemoteForwards, pipeBothWays } from './forward.js';
import { DISCONNECT, MSG } from './messages.js';
import { type SshTransport, type TransportConfig, createTransport } from './transport.js';
import { SshReader, encode } from './wire.js';

/** Server settings. */
export interface SshServerOptions {
  readonly crypto: SshCrypto;
  readonly clock: Clock;
  readonly hostKey: SshPrivateKey;
  /** The keys that may log in as `user` (e.g. from {@link parseAuthorizedKeys}). */
  readonly authorizedKeys?: (user: string) => readonly AuthorizedKey[];
  /** Password check; leave out to disable password authentication. */
  readonly checkPassword?: (user: string, password: string) => boolean;
  /** Failed authentication requests before disconnecting (sshd's MaxAuthTries default: 6). */
  readonly maxAuthAttempts?: number;
  /** Time from connection to successful authentication (sshd's LoginGraceTime default: 120 s). */
  readonly authTimeoutMs?: number;
  /** Where direct-tcpip channels connect; leave out to refuse forwarding. */
  readonly tcp?: Tcp;
  /** Remote forwarding (tcpip-forward, RFC 4254 §7.1) for authenticated users; leave out to refuse it. */
  readonly remoteForward?: RemoteForwardOptions;
  readonly transport?: Partial<TransportConfig>;
  readonly channels?: Partial<ChannelConfig>;
}

/** Defaults of the server's authentication limits. */
export const SERVER_DEFAULTS: { readonly maxAuthAttempts: number; readonly authTimeoutMs: number } = { maxAuthAttempts: 6, authTimeoutMs: 120_000 };

/** One server-side connection, for inspection. */
export interface SshServerConnection {
  readonly transport: SshTransport;
  /** The authenticated user, once there is one. */
  user(): string | undefined;
  /** Resolves when the connection is over. */
  readonly closed: Promise<Error | null>;
  stats(): Counters;
  /** Remote-forward listeners open now. */
  remoteForwards(): number;
}

/** Serves SSH on one accepted flow. */
export function serveSshConnection(flow: Flow, options: SshServerOptions): SshServerConnection {
  const counters = new CounterSet();
  const transport = createTransport(flow, { role: 'server', hostKey: options.hostKey }, { crypto: options.crypto, clock: options.clock }, options.transport);
  const connection = new SshConnection(transport, options.channels);
  const maxAttempts = options.maxAuthAttempts ?? SERVER_DEFAULTS.maxAuthAttempts;
  let state: 'service' | 'auth' | 'connection' = 'service';
  let attempts = 0;
  let user: string | undefined;
  let resolveClosed!: (error: Error | null) => void;
  const closed = new Promise<Error | null>((resolve) => {
    resolveClosed = resolve;
  });
  const authTimer: Timer = options.clock.setTimer(options.authTimeoutMs ?? SERVER_DEFAULTS.authTimeoutMs, () => {
    counters.add('auth-timeout');
    void transport.disconnect(DISCONNECT.BY_APPLICATION, new TimeoutError('authentication timed out').message);
  });
  const send = (message: Uint8Array): void => {
    transport.send(message).catch(() => undefined);
  };
  const methods = [...(options.authorizedKeys ? ['publickey'] : []), ...(options.checkPassword ? ['password', 'keyboard-interactive'] : [])];
  /** The user of a keyboard-interactive exchange waiting for its INFO_RESPONSE (RFC 4256 §3.2). */
  let pendingInteractive: string | undefined;
  const failure = (): void => {
    attempts++;
    counters.add('auth-failure');
    if (attempts >= maxAttempts) {
      counters.add('auth-attempts-exceeded');
      void transport.disconnect(DISCONNECT.NO_MORE_AUTH_METHODS_AVAILABLE, 'too many authentication failures');
      return;
    }
    send(encode((w) => w.u8(MSG.USERAUTH_FAILURE).nameList(methods).boolean(false)));
  };

  const onUserauth = (payload: Uint8Array): void => {
    // RFC 4256 §3.1: a new request abandons a keyboard-interactive exchange in progress.
    pendingInteractive = undefined;
    const reader = new SshReader(payload, 1);
    const name = reader.text();
    const service = reader.text();
    const method = reader.text();
    if (service !== 'ssh-connection') throw new ProtocolError(`unknown service ${service}`);
    if (method === 'publickey' && options.authorizedKeys) {
      const signed = reader.boolean();
      const algorithm = reader.text();
      const blob = reader.string();
      const known = (SIGNATURE_ALGORITHMS as readonly string[]).includes(algorithm) && blobAlgorithm(blob) === keyTypeOf(algorithm);
      const authorized = known && isAuthorizedKey(options.authorizedKeys(name), algorithm, blob);
      if (!signed) {
        // RFC 4252 §7: a query without a signature; answer PK_OK if the key would do.
        if (authorized) send(encode((w) => w.u8(MSG.USERAUTH_PK_OK).string(algorithm).string(blob)));
        else failure();
        return;
      }
      const signature = reader.string();
      reader.expectEnd();
      const signedData = encode((w) => w.string(transport.sessionId).bytes(payload.subarray(0, payload.length - 4 - signature.length)));
      if (authorized && verifySignature(options.crypto, algorithm, blob, signedData, signature)) {
        succeed(name);
        return;
      }
      failure();
      return;
    }
    if (method === 'password' && options.checkPassword) {
      if (reader.boolean()) {
        // Password change requests are not supported.
        failure();
        return;
      }
      const password = reader.text();
      if (options.checkPassword(name, password)) succeed(name);
      else failure();
      return;
    }
    if (method === 'keyboard-interactive' && options.checkPassword) {
      reader.text(); // language tag (deprecated, RFC 4256 §3.1)
      reader.text(); // submethods: hints only
      pendingInteractive = name;
      // One prompt, the password, not echoed (RFC 4256 §3.2).
      send(encode((w) => w.u8(MSG.USERAUTH_INFO_REQUEST).string('').string('').string('').u32(1).string('Password: ').boolean(false)));
      return;
    }
    // "none" and unknown methods list what can continue (RFC 4252 §5.2); "none" costs no attempt.
    if (method === 'none') send(encode((w) => w.u8(MSG.USERAUTH_FAILURE).nameList(methods).boolean(false)));
    else failure();
  };

  const onInfoResponse = (payload: Uint8Array): void => {
    const name = pendingInteractive;
    if (name === undefined) throw new ProtocolError('INFO_RESPONSE without a keyboard-interactive request');
    pendingInteractive = undefined;
    const reader = new SshReader(payload, 1);
    const count = reader.u32();
    // RFC 4256 §3.4: the response count must match the prompts sent (one).
    if (count !== 1) throw new ProtocolError(`expected 1 keyboard-interactive response, got ${count}`);
    const password = reader.text();
    reader.expectEnd();
    if (options.checkPassword?.(name, password)) succeed(name);
    else failure();
  };

  const succeed = (name: string): void => {
    user = name;
    state = 'connection';
    authTimer.cancel();
    counters.add('auth-success');
    send(Uint8Array.of(MSG.USERAUTH_SUCCESS));
  };

  connection.onOpen = (type, data) => {
    if (type === 'session') return (channel) => runSession(channel, transport, counters);
    if (type === 'direct-tcpip') {
      const tcp = options.tcp;
      if (!tcp) return { failure: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED, description: 'forwarding is disabled' };
      const host = data.text();
      const port = data.u32();
      let address: ReturnType<typeof parseIpv4>;
      try {
        address = parseIpv4(host);
      } catch {
        return { failure: OPEN_FAILURE.CONNECT_FAILED, description: `only IPv4 addresses can be forwarded to: ${host}` };
      }
      return (channel) => {
        void forward(channel, tcp, address, port);
      };
    }
    return { failure: OPEN_FAILURE.UNKNOWN_CHANNEL_TYPE, description: `unsupported channel type ${type}` };
  };

  const remoteForwards = options.remoteForward ? new RemoteForwards(connection, options.remoteForward, options.clock, counters) : undefined;
  // Global requests reach the connection only after authentication, so `user` is set.
  connection.onGlobalRequest = (name, data) => (user === undefined ? false : (remoteForwards?.handle(name, data, user) ?? false));

  transport.handler = {
    onMessage(payload) {
      try {
        const type = payload[0];
        if (state === 'service') {
          if (type !== MSG.SERVICE_REQUEST) throw new ProtocolError(`expected SERVICE_REQUEST, got ${type}`);
          const service = new SshReader(payload, 1).text();
          if (service !== 'ssh-userauth') {
            void transport.disconnect(DISCONNECT.SERVICE_NOT_AVAILABLE, `service ${service} not available`);
            return;
          }
          state = 'auth';
          send(encode((w) => w.u8(MSG.SERVICE_ACCEPT).string(service)));
          return;
        }
        if (state === 'auth') {
          if (type === MSG.USERAUTH_INFO_RESPONSE) onInfoResponse(payload);
          else if (type === MSG.USERAUTH_REQUEST) onUserauth(payload);
          else throw new ProtocolError(`message ${type} before authentication`);
          return;
        }
        if (type === MSG.USERAUTH_REQUEST) return;
        connection.handle(payload);
      } catch (error) {
        if (error instanceof DecodeError || error instanceof ProtocolError || error instanceof LimitExceeded) {
          counters.add('protocol-error');
          void transport.disconnect(DISCONNECT.PROTOCOL_ERROR, error.message);
          return;
        }
        throw error;
      }
    },
    onClose(error) {
      authTimer.cancel();
      remoteForwards?.closeAll();
      connection.fail(error ?? new ProtocolError('connection closed'));
      resolveClosed(error);
    },
  };
  transport.start().catch(() => undefined);
  return {
    transport,
    user: () => user,
    closed,
    stats: () => ({ ...counters.snapshot(), ...transport.stats() }),
    remoteForwards: () => remoteForwards?.size ?? 0,
  };
}

const text = (value: string): Uint8Array => utf8Encode(value);

/** Runs a session channel: only `exec` of a built-in command (no shell, no pty). */
function runSession(channel: SshChannel, transport: SshTransport, counters: CounterSet): void {
  let started = false;
  channel.onRequest = (request) => {
    if (request.type !== 'exec' || started) return false;
    started = true;
    const command = new SshReader(request.data).text();
    counters.add('exec');
    // Reply first (the caller sends CHANNEL_SUCCESS after onRequest returns), then run.
    queueMicrotask(() => void runCommand(channel, command, transport).catch(() => channel.abort()));
    return true;
  };
}

/** The built-in commands: echo, cat, stats. */
async function runCommand(channel: SshChannel, command: string, transport: SshTransport): Promise<void> {
  const [name, ...args] = command.trim().split(/\s+/);
  let status = 0;
  if (name === 'echo') {
    await channel.write(text(`${args.join(' ')}\n`));
  } else if (name === 'cat') {
    for (let chunk = await channel.read(); chunk !== null; chunk = await channel.read()) await channel.write(chunk);
  } else if (name === 'stats') {
    await channel.write(text(`${JSON.stringify(transport.stats())}\n`));
  } else {
    await channel.writeStderr(text(`${name}: command not found\n`));
    status = 127;
  }
  await channel.request('exit-status', false, encode((w) => w.u32(status)));
  await channel.shutdown();
  await channel.close();
}

/** direct-tcpip (RFC 4254 §7.2): pipe the channel to a TCP connection both ways. */
async function forward(channel: SshChannel, tcp: Tcp, address: ReturnType<typeof parseIpv4>, port: number): Promise<void> {
  let flow: Flow;
  try {
    flow = await tcp.connect(address, port);
  } catch {
    channel.abort();
    return;
  }
  await pipeBothWays(channel, flow);
}
