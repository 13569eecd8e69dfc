/**
 * NOTIFY (RFC 1996): tell secondaries that a zone changed, so they transfer it now instead of
 * at the next SOA refresh. Each target is retried until it answers (RFC 1996 §3.6).
 */
import { type Clock, type Ipv4Address, type Random, type Udp } from '@morgana/core';
import type { DnsName } from './name.js';
import { type DnsMessage, Opcode, type ResourceRecord, RrClass, RrType } from './types.js';
import { decodeMessage, encodeMessage } from './wire.js';

/** A secondary to notify. */
export interface NotifyTarget {
  readonly address: Ipv4Address;
  readonly port?: number;
}

/** Options of {@link sendNotify}. */
export interface NotifyOptions {
  readonly zone: DnsName;
  /** The zone's new SOA, sent in the answer section as a hint (RFC 1996 §3.7). */
  readonly soa?: ResourceRecord;
  readonly targets: readonly NotifyTarget[];
  /** Tries per target; default 5. */
  readonly attempts?: number;
  /** Wait between tries, ms (RFC 1996 §3.6 suggests 60 s; we default to 2 s, doubling). */
  readonly interval?: number;
}

/** Sends NOTIFY to every target; resolves with which targets acknowledged. */
export async function sendNotify(deps: { readonly udp: Udp; readonly clock: Clock; readonly random: Random }, options: NotifyOptions): Promise<{ target: NotifyTarget; acknowledged: boolean }[]> {
  return Promise.all(
    options.targets.map(async (target) => {
      const port = target.port ?? 53;
      const socket = deps.udp.bind({});
      const id = deps.random.uint32() & 0xffff;
      const message: DnsMessage = {
        id,
        flags: { qr: false, opcode: Opcode.NOTIFY, aa: true, tc: false, rd: false, ra: false, ad: false, cd: false },
        rcode: 0,
        questions: [{ name: options.zone, type: RrType.SOA, class: RrClass.IN }],
        answers: options.soa === undefined ? [] : [options.soa],
        authorities: [],
        additionals: [],
        edns: undefined,
      };
      const bytes = encodeMessage(message);
      const acknowledged = await new Promise<boolean>((resolve) => {
        let tries = 0;
        let wait = options.interval ?? 2000;
        let timer = deps.clock.setTimer(0, function attempt() {
          if (tries >= (options.attempts ?? 5)) {
            resolve(false);
            return;
          }
          tries++;
          socket.send(bytes, target.address, port);
          timer = deps.clock.setTimer(wait, attempt);
          wait *= 2;
        });
        socket.onMessage((datagram) => {
          if (datagram.address !== target.address || datagram.port !== port) return;
          try {
            const answer = decodeMessage(datagram.data);
            if (!answer.flags.qr || answer.id !== id || answer.flags.opcode !== Opcode.NOTIFY) return;
          } catch {
            return;
          }
          timer.cancel();
          resolve(true);
        });
      });
      socket.close();
      return { target, acknowledged };
    }),
  );
}
