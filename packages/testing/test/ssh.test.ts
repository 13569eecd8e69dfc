import { DecodeError, MorganaError, concatBytes, utf8Encode } from '@morgana/core';
import { createTransport, emitKexInit, parseKexInit } from '@morgana/ssh';
import type { SshTransport } from '@morgana/ssh';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { createScriptedFlow } from '../src/flow.js';
import { mutate } from '../src/mutators.js';
import { arbHostileSshPacket, arbSshKexInit, arbSshPacket, arbSshPacketBytes, emitSshPacket, sshPacketMutators } from '../src/ssh.js';

const crypto = createNodeSshCrypto();

/** Plays an SSH server that sends its version line, then `bytes`, then closes; returns how the client's transport ended. */
async function feedClient(bytes: Uint8Array): Promise<{ error: unknown; transport: SshTransport }> {
  const scripted = createScriptedFlow();
  const transport = createTransport(scripted.flow, { role: 'client', verifyHostKey: () => true }, { crypto, clock: new VirtualClock() });
  const ready = transport.start();
  scripted.push(concatBytes([utf8Encode('SSH-2.0-Peer_1.0\r\n'), bytes]));
  scripted.end();
  const error = await ready.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  return { error, transport };
}

describe('SSH arbitraries (@morgana/testing/ssh)', () => {
  it('yields KEXINIT messages that parse back to their repr (RFC 4253 §7.1)', () => {
    fc.assert(
      fc.property(arbSshKexInit(), (repr) => {
        expect(parseKexInit(emitKexInit(repr))).toEqual(repr);
      }),
      { numRuns: 200 },
    );
  });

  it('yields binary packets the transport reads whole: every ignorable message is counted, none is an error (RFC 4253 §6, §11.2)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbSshPacket(), { minLength: 1, maxLength: 4 }), async (packets) => {
        const { error, transport } = await feedClient(concatBytes(packets.map(emitSshPacket)));
        expect(transport.counters.get('ignored-message')).toBe(packets.length);
        // The only complaint is that the peer closed before the key exchange.
        expect((error as Error).name).toBe('ConnectionReset');
        for (const packet of packets) expect((4 + 1 + packet.payload.length + packet.padding.length) % 8).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('rejects packets whose length or padding fields lie with DecodeError', async () => {
    await fc.assert(
      fc.asyncProperty(mutate(arbSshPacketBytes(), sshPacketMutators()), async (mutant) => {
        const { error, transport } = await feedClient(mutant.bytes);
        if (mutant.invalid) {
          expect(error, mutant.mutation).toBeInstanceOf(DecodeError);
          expect(Object.keys(transport.counters.snapshot()).some((name) => name.startsWith('decode-'))).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('hostile packets end the transport with a typed error, never another exception', async () => {
    await fc.assert(
      fc.asyncProperty(arbHostileSshPacket(), async (mutant) => {
        const { error } = await feedClient(mutant.bytes);
        expect(error, mutant.mutation).toBeInstanceOf(MorganaError);
        if (mutant.invalid) expect(error, mutant.mutation).toBeInstanceOf(DecodeError);
      }),
      { numRuns: 150 },
    );
  });
});
