/**
 * `morgana xmpp`: an XMPP server appliance (RFC 6120, RFC 6121) for one domain, its accounts
 * from a users file, STARTTLS with the given certificate or one generated in process.
 */
import { X509Certificate, createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TLSSocket, createSecureContext } from 'node:tls';
import { type Clock, type Flow, type Random, createSystemClock, createSystemRandom } from '@morgana/core';
import { duplexToFlow, flowToDuplex } from '@morgana/socket';
import { type ScramCrypto, type StartTls, createMemoryStore, createXmppServer, prepareDomain, prepareLocal } from '@morgana/xmpp';
import type { Appliance } from './appliance.js';
import { type BackendOptions, openBackend, UsageError } from './backend.js';
import type { Logger } from './log.js';
import { generateSelfSignedCertificate } from './xmpp-cert.js';

/** SCRAM's primitives from node:crypto. */
export const nodeScramCrypto: ScramCrypto = {
  hmac: async (hash, key, data) => new Uint8Array(createHmac(hash, key).update(data).digest()),
  digest: async (hash, data) => new Uint8Array(createHash(hash).update(data).digest()),
  hi: async (hash, password, salt, iterations) => new Uint8Array(pbkdf2Sync(password, salt, iterations, hash === 'sha1' ? 20 : 32, hash)),
};

/** One account of the users file. */
export interface XmppUser {
  readonly name: string;
  readonly password: string;
}

/**
 * Parses a users file: one `name:password` per line (the password is everything after the
 * first colon); blank lines and lines starting with `#` are skipped. Throws a {@link UsageError}
 * naming the file and line for a line without a colon, an invalid or repeated name, or an
 * empty password.
 */
export function parseUsersFile(text: string, file: string): XmppUser[] {
  const users: XmppUser[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].replace(/\r$/, '');
    const number = index + 1;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw new UsageError(`${file}:${number}: expected name:password`);
    let name: string;
    try {
      name = prepareLocal(line.slice(0, colon));
    } catch (error) {
      throw new UsageError(`${file}:${number}: ${JSON.stringify(line.slice(0, colon))} is not a valid user name (${(error as Error).message})`);
    }
    if (name === '') throw new UsageError(`${file}:${number}: the user name is empty`);
    const password = line.slice(colon + 1);
    if (password === '') throw new UsageError(`${file}:${number}: the password of ${name} is empty`);
    const first = seen.get(name);
    if (first !== undefined) throw new UsageError(`${file}:${number}: ${name} is already defined on line ${first}`);
    seen.set(name, number);
    users.push({ name, password });
  }
  if (users.length === 0) throw new UsageError(`${file} defines no users (one name:password per line)`);
  return users;
}

/** Server-side STARTTLS with node:tls over any morgana Flow. */
function serverStartTls(key: string, cert: string): StartTls {
  const secureContext = createSecureContext({ key, cert, minVersion: 'TLSv1.2' });
  return (flow: Flow) =>
    new Promise((resolve, reject) => {
      const socket = new TLSSocket(flowToDuplex(flow) as never, { isServer: true, secureContext });
      socket.once('secure', () => resolve(duplexToFlow(socket)));
      socket.once('error', reject);
    });
}

/** Starts the XMPP appliance. */
export async function startXmpp(options: {
  readonly domain: string | undefined;
  readonly usersFile: string | undefined;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly backend: BackendOptions;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
}): Promise<Appliance> {
  if (options.domain === undefined) throw new UsageError('xmpp needs --domain D (the domain it serves, e.g. example.test)');
  if (options.usersFile === undefined) throw new UsageError('xmpp needs --users FILE (one name:password per line)');
  if ((options.tlsCertFile === undefined) !== (options.tlsKeyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  let domain: string;
  try {
    domain = prepareDomain(options.domain);
  } catch (error) {
    throw new UsageError(`--domain ${JSON.stringify(options.domain)}: ${(error as Error).message}`);
  }
  const clock = options.clock ?? createSystemClock();
  const random = options.random ?? createSystemRandom();
  const users = parseUsersFile(await readFile(options.usersFile, 'utf8'), options.usersFile);
  let key: string;
  let cert: string;
  if (options.tlsCertFile !== undefined && options.tlsKeyFile !== undefined) {
    cert = await readFile(options.tlsCertFile, 'utf8');
    key = await readFile(options.tlsKeyFile, 'utf8');
    let names: string | undefined;
    try {
      names = new X509Certificate(cert).checkHost(domain);
    } catch (error) {
      throw new UsageError(`--tls-cert ${options.tlsCertFile}: ${(error as Error).message}`);
    }
    // Clients check the certificate against the domain (RFC 6120 §13.7.2): say so at start.
    if (names === undefined) options.log.warn(`xmpp: ${options.tlsCertFile} does not name ${domain}; clients that check certificates will refuse it`);
  } else {
    ({ key, cert } = generateSelfSignedCertificate(domain));
    options.log.info(`xmpp: self-signed certificate for ${domain}, SHA-256 fingerprint ${new X509Certificate(cert).fingerprint256}`);
  }
  let startTls: StartTls;
  try {
    startTls = serverStartTls(key, cert);
  } catch (error) {
    throw new UsageError(`--tls-cert/--tls-key: ${(error as Error).message}`);
  }
  const store = createMemoryStore(nodeScramCrypto, random);
  for (const user of users) await store.addUser(user.name, user.password);
  const backend = await openBackend(options.backend, { port: 5222, defaultListen: '127.0.0.1:5222', defaultForwards: ['5222:5222'], protocols: ['tcp'] }, options.log, clock, random);
  const server = createXmppServer({ clock, random, crypto: nodeScramCrypto, store, startTls }, { domain });
  const listener = backend.stack.tcp.listen(backend.port, { address: backend.address, onConnection: (flow) => void server.handle(flow) });
  options.log.info(`xmpp: ${domain} with ${users.length} user(s), STARTTLS required`);
  return {
    backend,
    stats: () => ({ ...server.stats(), sessions: server.sessions().length }),
    async close() {
      listener.close();
      await server.close();
      await backend.close();
    },
  };
}
