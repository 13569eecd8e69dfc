// Platform pieces the protocol package takes by injection: node:crypto for SCRAM, node:tls for
// STARTTLS (through the socket package's Flow/Duplex adapters), and a loopback server harness.
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, TLSSocket, createSecureContext } from 'node:tls';
import { type Flow, createSystemClock, createSystemRandom, parseIpv4 } from '@morgana/core';
import { createSocketStack, duplexToFlow, flowToDuplex } from '@morgana/socket';
import type { ScramCrypto, StartTls } from '../src/index.js';

export const nodeCrypto: ScramCrypto = {
  hmac: async (hash, key, data) => new Uint8Array(createHmac(hash, key).update(data).digest()),
  digest: async (hash, data) => new Uint8Array(createHash(hash).update(data).digest()),
  hi: async (hash, password, salt, iterations) => new Uint8Array(pbkdf2Sync(password, salt, iterations, hash === 'sha1' ? 20 : 32, hash)),
};

export interface Certificate {
  readonly key: string;
  readonly cert: string;
}

/** A self-signed certificate for `host`, made by openssl in a temporary folder. */
export function selfSigned(host: string): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'morgana-xmpp-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), dir } as Certificate;
}

/** Client-side STARTTLS trusting exactly `ca` for `host`. */
export function clientTls(host: string, ca: string): StartTls {
  return (flow: Flow) =>
    new Promise((resolve, reject) => {
      const socket = tlsConnect({ socket: flowToDuplex(flow) as never, servername: host, ca, minVersion: 'TLSv1.2' }, () => resolve(duplexToFlow(socket)));
      socket.once('error', reject);
    });
}

/** Server-side STARTTLS with `cert`. */
export function serverTls(cert: Certificate): StartTls {
  const secureContext = createSecureContext({ key: cert.key, cert: cert.cert });
  return (flow: Flow) =>
    new Promise((resolve, reject) => {
      const socket = new TLSSocket(flowToDuplex(flow) as never, { isServer: true, secureContext });
      socket.once('secure', () => resolve(duplexToFlow(socket)));
      socket.once('error', reject);
    });
}

export const clock = createSystemClock();
export const random = createSystemRandom();
export const LOOPBACK = parseIpv4('127.0.0.1');

/** A socket stack whose TCP the tests use on loopback. */
export function loopbackStack(): ReturnType<typeof createSocketStack> {
  return createSocketStack();
}
