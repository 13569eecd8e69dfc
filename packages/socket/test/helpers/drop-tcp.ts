/** A Netif in front of another that drops every received IPv4 frame carrying TCP. */
import type { Netif } from '@morgana/core';

/** Ethernet II header length and the offsets of the EtherType and of the IPv4 protocol field. */
const ETHERTYPE_OFFSET = 12;
const IPV4_PROTOCOL_OFFSET = 14 + 9;
const ETHERTYPE_IPV4 = 0x0800;
const PROTOCOL_TCP = 6;

export function dropTcp(inner: Netif): Netif {
  return {
    get mac() {
      return inner.mac;
    },
    get mtu() {
      return inner.mtu;
    },
    get offload() {
      return inner.offload;
    },
    listen(onFrame, onBatchEnd) {
      inner.listen((frame, offload) => {
        const etherType = (frame[ETHERTYPE_OFFSET] << 8) | frame[ETHERTYPE_OFFSET + 1];
        if (etherType === ETHERTYPE_IPV4 && frame[IPV4_PROTOCOL_OFFSET] === PROTOCOL_TCP) return;
        onFrame(frame, offload);
      }, onBatchEnd);
    },
    write: (size, fill, offload) => inner.write(size, fill, offload),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
}
