/** An SSH client: authentication (RFC 4252) and sessions, exec, direct-tcpip and remote forwarding (RFC 4254). */
import { type Clock, ConnectionReset, DecodeError, type Flow, ProtocolError, concatBytes, utf8Decode } from '@morgana/core';
import { type ChannelConfig, OPEN_FAILURE, type SshChannel, SshConnection } from './channel.js';
import type { SshCrypto } from './crypto.js';
import type { SshPrivateKey } from './keys.js';
import { DISCONNECT, MSG } from './messages.js';
import { type SshTransport, type TransportConfig, createTransport } from './transport.js';
import { SshReader, type SshWriter, encode } from './wire.js';

/** Messages held unread during authentication before the client gives up on the server. */
const MAX_UNREAD_AUTH_MESSAGES = 64;
/** INFO_REQUEST rounds of one keyboard-interactive attempt before the client gives up. */
const MAX_INTERACTIVE_ROUNDS = 16;
/** Prompts accepted in one INFO_REQUEST. */
const MAX_INTERACTIVE_PROMPTS = 32;

/** One prompt of a keyboard-interactive INFO_REQUEST (RFC 4256 §3.2). */
export interface InteractivePrompt {
  readonly prompt: string;
  /** Whether the answer may be shown while typed. */
  readonly echo: boolean;
}

/** Client settings. */
export interface SshClientOptions {
  readonly crypto: SshCrypto;
  readonly clock: Clock;
  readonly user: string;
  /** A key for publickey authentication (tried first). */
  readonly privateKey?: SshPrivateKey;
  /** A password for password authentication (tried after the key). */
  readonly password?: string;
  /**
   * Answers keyboard-interactive prompts (RFC 4256), tried after the password; returns one
   * answer per prompt.
   */
  readonly keyboardInteractive?: (prompts: readonly InteractivePrompt[], name: string, instruction: string) => readonly string[];
  /** Decides whether to trust the server's host key (RFC 4251 §4.1); required, no default trust. */
  readonly verifyHostKey: (algorithm: string, blob: Uint8Array) => boolean;
  readonly transport?: Partial<TransportConfig>;
  readonly channels?: Partial<ChannelConfig>;
}

/** The result of {@link SshClient.exec}. */
export interface ExecResult {
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
  /** The exit status, or undefined when the server sent none. */
  readonly exitStatus: number | undefined;
}

/** Where a connection to a remote forward came from (RFC 4254 §7.2 forwarded-tcpip). */
export interface ForwardedOrigin {
  /** The address and port the server accepted the connection on. */
  readonly address: string;
  readonly port: number;
  /** The connecting peer. */
  readonly originatorAddress: string;
  readonly originatorPort: number;
}

/** A port the server listens on for us (RFC 4254 §7.1 tcpip-forward). */
export interface RemoteForward {
  readonly address: string;
  /** The port the server listens on: the requested one, or the one it chose for 0. */
  readonly port: number;
  /** Asks the server to stop listening (cancel-tcpip-forward); open channels stay open. */
  cancel(): Promise<void>;
}

/** An authenticated client connection. */
export interface SshClient {
  readonly transport: SshTransport;
  readonly connection: SshConnection;
  /** Opens a session channel and starts `command`; the channel carries its stdin/stdout. */
  startExec(command: string, onStderr?: (data: Uint8Array) => void): Promise<SshChannel>;
  /** Runs `command`, sends `stdin` (then EOF), and collects its output and exit status. */
  exec(command: string, stdin?: Uint8Array): Promise<ExecResult>;
  /** Opens a direct-tcpip channel to `host:port` through the server (RFC 4254 §7.2). */
  forward(host: string, port: number): Promise<SshChannel>;
  /**
   * Asks the server to listen on `address:port` (0: a port of its choice) and to open a
   * forwarded-tcpip channel for each connection it accepts there (RFC 4254 §7.1), which
   * `onConnection` receives. Rejects when the server refuses.
   */
  remoteForward(address: string, port: number, onConnection: (channel: SshChannel, origin: ForwardedOrigin) => void): Promise<RemoteForward>;
  close(): Promise<void>;
}

/** Connects over `flow`: key exchange, then authentication; rejects if no method succeeds. */
export async function connectSsh(flow: Flow, options: SshClientOptions): Promise<SshClient> {
  const transport = createTransport(flow, { role: 'client', verifyHostKey: options.verifyHostKey }, { crypto: options.crypto, clock: options.clock }, options.transport);
  const connection = new SshConnection(transport, options.channels);
  const inbox: Uint8Array[] = [];
  let waiter: { resolve: (payload: Uint8Array) => void; reject: (error: Error) => void } | undefined;
  let authenticated = false;
  let closedError: Error | undefined;
  transport.handler = {
    onMessage(payload) {
      if (authenticated) {
        try {
          connection.handle(payload);
        } catch (error) {
          if (error instanceof DecodeError || error instanceof ProtocolError) {
            void transport.disconnect(DISCONNECT.PROTOCOL_ERROR, error.message);
            return;
          }
          throw error;
        }
        return;
      }
      if (payload[0] === MSG.USERAUTH_BANNER) return;
      if (waiter) {
        const current = waiter;
        waiter = undefined;
        current.resolve(payload);
      } else if (inbox.length >= MAX_UNREAD_AUTH_MESSAGES) {
        // Authentication is one request, one answer: a server flooding us is broken or hostile.
        void transport.disconnect(DISCONNECT.PROTOCOL_ERROR, 'too many unsolicited messages during authentication');
      } else {
        inbox.push(payload);
      }
    },
    onClose(error) {
      closedError = error ?? new ConnectionReset('SSH connection closed');
      connection.fail(closedError);
      waiter?.reject(closedError);
      waiter = undefined;
    },
  };
  const next = (): Promise<Uint8Array> => {
    const queued = inbox.shift();
    if (queued) return Promise.resolve(queued);
    if (closedError) return Promise.reject(closedError);
    return new Promise((resolve, reject) => {
      waiter = { resolve, reject };
    });
  };

  await transport.start();
  await transport.send(encode((w) => w.u8(MSG.SERVICE_REQUEST).string('ssh-userauth')));
  const accept = await next();
  if (accept[0] !== MSG.SERVICE_ACCEPT) throw new ProtocolError('server refused the ssh-userauth service');

  const attempt = async (request: Uint8Array): Promise<boolean> => {
    await transport.send(request);
    const reply = await next();
    if (reply[0] === MSG.USERAUTH_SUCCESS) return true;
    if (reply[0] === MSG.USERAUTH_FAILURE) return false;
    throw new ProtocolError(`unexpected message ${reply[0]} during authentication`);
  };
  const header = (method: string) => (w: SshWriter): SshWriter => w.u8(MSG.USERAUTH_REQUEST).string(options.user).string('ssh-connection').string(method);

  let success = false;
  if (options.privateKey) {
    const key = options.privateKey;
    // RFC 4252 §7: the signature covers session_id and the request up to the signature.
    const unsigned = encode((w) => header('publickey')(w).boolean(true).string(key.algorithm).string(key.publicBlob));
    const signature = key.sign(encode((w) => w.string(transport.sessionId).bytes(unsigned)));
    success = await attempt(encode((w) => w.bytes(unsigned).string(signature)));
  }
  if (!success && options.password !== undefined) {
    const password = options.password;
    success = await attempt(encode((w) => header('password')(w).boolean(false).string(password)));
  }
  /** One keyboard-interactive attempt (RFC 4256 §3): INFO_REQUEST rounds until SUCCESS or FAILURE. */
  const interactive = async (answer: NonNullable<SshClientOptions['keyboardInteractive']>): Promise<boolean> => {
    await transport.send(encode((w) => header('keyboard-interactive')(w).string('').string('')));
    for (let round = 0; ; round++) {
      const reply = await next();
      if (reply[0] === MSG.USERAUTH_SUCCESS || reply[0] === MSG.USERAUTH_FAILURE) return reply[0] === MSG.USERAUTH_SUCCESS;
      if (reply[0] !== MSG.USERAUTH_INFO_REQUEST || round >= MAX_INTERACTIVE_ROUNDS) throw new ProtocolError(`unexpected message ${reply[0]} during keyboard-interactive authentication`);
      const reader = new SshReader(reply, 1);
      const name = reader.text();
      const instruction = reader.text();
      reader.text(); // language tag
      const count = reader.u32();
      if (count > MAX_INTERACTIVE_PROMPTS) throw new ProtocolError(`too many keyboard-interactive prompts: ${count}`);
      const prompts: InteractivePrompt[] = [];
      for (let i = 0; i < count; i++) prompts.push({ prompt: reader.text(), echo: reader.boolean() });
      reader.expectEnd();
      const answers = answer(prompts, name, instruction);
      // RFC 4256 §3.4: exactly one response per prompt.
      if (answers.length !== count) throw new ProtocolError(`expected ${count} keyboard-interactive answers, got ${answers.length}`);
      await transport.send(encode((w) => answers.reduce((acc, text) => acc.string(text), w.u8(MSG.USERAUTH_INFO_RESPONSE).u32(count))));
    }
  };

  if (!success && options.keyboardInteractive) {
    try {
      success = await interactive(options.keyboardInteractive);
    } catch (error) {
      if (error instanceof ProtocolError || error instanceof DecodeError) await transport.disconnect(DISCONNECT.PROTOCOL_ERROR, error.message);
      throw error;
    }
  }
  if (!success) {
    await transport.disconnect(DISCONNECT.NO_MORE_AUTH_METHODS_AVAILABLE, 'no authentication method succeeded');
    throw new ProtocolError('SSH authentication failed');
  }
  /** Active remote forwards by "address port" as the server reports them back. */
  const remoteForwards = new Map<string, (channel: SshChannel, origin: ForwardedOrigin) => void>();
  const forwardKey = (address: string, port: number): string => `${address} ${port}`;
  connection.onOpen = (type, data) => {
    if (type !== 'forwarded-tcpip') return { failure: OPEN_FAILURE.UNKNOWN_CHANNEL_TYPE, description: `unsupported channel type ${type}` };
    const origin: ForwardedOrigin = { address: data.text(), port: data.u32(), originatorAddress: data.text(), originatorPort: data.u32() };
    data.expectEnd();
    // RFC 4254 §7.2: a forwarded-tcpip open for a port we did not ask for must be refused.
    const onConnection = remoteForwards.get(forwardKey(origin.address, origin.port));
    if (!onConnection) return { failure: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED, description: `no forward requested for ${origin.address}:${origin.port}` };
    return (channel) => onConnection(channel, origin);
  };

  authenticated = true;
  for (const payload of inbox.splice(0)) connection.handle(payload);

  const startExec = async (command: string, onStderr?: (data: Uint8Array) => void): Promise<SshChannel> => {
    const channel = await connection.open('session');
    // Set before the request: output may arrive in the same read as the reply.
    channel.onStderr = onStderr;
    if (!(await channel.request('exec', true, encode((w) => w.string(command))))) {
      await channel.close();
      throw new ProtocolError(`server refused to run ${command}`);
    }
    return channel;
  };

  return {
    transport,
    connection,
    startExec,
    async exec(command, stdin) {
      const stderr: Uint8Array[] = [];
      const channel = await startExec(command, (data) => stderr.push(data));
      // A failed write also fails the reads below, which report it.
      const writing = (async () => {
        if (stdin) await channel.write(stdin);
        await channel.shutdown();
      })().catch(() => undefined);
      const stdout: Uint8Array[] = [];
      for (let chunk = await channel.read(); chunk !== null; chunk = await channel.read()) stdout.push(chunk);
      await writing;
      await channel.close();
      return { stdout: concatBytes(stdout), stderr: concatBytes(stderr), exitStatus: channel.exitStatus };
    },
    forward(host, port) {
      return connection.open('direct-tcpip', encode((w) => w.string(host).u32(port).string('127.0.0.1').u32(0)));
    },
    async remoteForward(address, port, onConnection) {
      let bound = port;
      const response = await connection.globalRequest('tcpip-forward', encode((w) => w.string(address).u32(port)), (data) => {
        // RFC 4254 §7.1: only a request for port 0 gets the chosen port back.
        if (port === 0) {
          const reader = new SshReader(data);
          bound = reader.u32();
          reader.expectEnd();
        }
        // Registered before the next message: the first connection may be in the same read.
        remoteForwards.set(forwardKey(address, bound), onConnection);
      });
      if (response === null) throw new ProtocolError(`server refused to listen on ${address}:${port}`);
      const key = forwardKey(address, bound);
      return {
        address,
        port: bound,
        async cancel() {
          remoteForwards.delete(key);
          await connection.globalRequest('cancel-tcpip-forward', encode((w) => w.string(address).u32(bound)));
        },
      };
    },
    close: () => transport.disconnect(),
  };
}

/** UTF-8 text of an exec result's stdout. */
export function stdoutText(result: ExecResult): string {
  return utf8Decode(result.stdout);
}
