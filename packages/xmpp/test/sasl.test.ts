import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SaslError, ScramClient, ScramServer, deriveScramCredentials, fromBase64, toBase64 } from '../src/sasl.js';
import { nodeCrypto } from './helpers.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

describe('SASL', () => {
  it('SCRAM-SHA-1 matches the RFC 5802 §5 example', async () => {
    const client = new ScramClient(nodeCrypto, 'sha1', 'user', 'pencil', 'fyko+d2lbbFgONRv9qkxdawL');
    expect(text(client.first())).toBe('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    const final = await client.final(new TextEncoder().encode('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'));
    expect(text(final)).toBe('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    expect(() => client.verify(new TextEncoder().encode('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='))).not.toThrow();
    expect(() => client.verify(new TextEncoder().encode('v=AAAApqV8S7suAoZWja4dJRkFsKQ='))).toThrow(SaslError);
  });

  it('SCRAM-SHA-256 matches the RFC 7677 §3 example', async () => {
    const client = new ScramClient(nodeCrypto, 'sha256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
    const final = await client.final(new TextEncoder().encode('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'));
    expect(text(final)).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    expect(() => client.verify(new TextEncoder().encode('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='))).not.toThrow();
  });

  it('client and server agree for any user and password, and only the right password passes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s)), fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s)), fc.constantFrom('sha1' as const, 'sha256' as const), fc.boolean(), async (user, password, hash, cbFlag) => {
        const creds = await deriveScramCredentials(nodeCrypto, hash, password, new Uint8Array([1, 2, 3, 4]), 4096);
        const run = async (attempt: string): Promise<string> => {
          const server = new ScramServer(nodeCrypto, hash, async (name) => (name === user.normalize('NFKC') ? creds : undefined), 'SERVERNONCE');
          const client = new ScramClient(nodeCrypto, hash, user, attempt, 'clientnonce', cbFlag);
          const final = await client.final(await server.first(client.first()));
          const { message, username } = await server.final(final);
          client.verify(message);
          return username;
        };
        expect(await run(password)).toBe(user.normalize('NFKC'));
        await expect(run(`${password}x`)).rejects.toBeInstanceOf(SaslError);
      }),
      { numRuns: 15 },
    );
  });

  it("refuses channel binding ('p=') that was never offered (RFC 5802 §6)", async () => {
    const server = new ScramServer(nodeCrypto, 'sha1', async () => undefined, 'x');
    await expect(server.first(new TextEncoder().encode('p=tls-unique,,n=user,r=abc'))).rejects.toMatchObject({ condition: 'malformed-request' });
  });

  it('refuses iteration counts below 4096 (RFC 7677 §4)', async () => {
    const client = new ScramClient(nodeCrypto, 'sha256', 'user', 'pencil', 'abc');
    await expect(client.final(new TextEncoder().encode('r=abcdef,s=QSXCR+Q6sek8bf92,i=1'))).rejects.toBeInstanceOf(SaslError);
  });

  it('base64 round-trips and rejects garbage with incorrect-encoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(fromBase64(toBase64(bytes))).toEqual(bytes);
        expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      }),
    );
    expect(() => fromBase64('a$==')).toThrow(SaslError);
  });
});
