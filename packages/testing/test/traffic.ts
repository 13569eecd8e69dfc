// A small simulated LAN with a wiretap on every device, driven by a list of sends: the
// common ground of the determinism and tshark tests.
import { MAC_BROADCAST, type Ipv4Address } from '@morgana/core';
import {
  createPcapCollector,
  createSeededRandom,
  createWiretap,
  SimulatedNetwork,
  VirtualClock,
  type LinkConditions,
  type Wiretap,
} from '../src/index.js';
import { udpFrame } from './frames.js';

/** One datagram: from device `from` to device `to` (or everyone), `at` ms into the run. */
export interface Send {
  readonly from: number;
  readonly to: number | 'broadcast';
  readonly at: number;
  readonly size: number;
}

export interface TrafficResult {
  /** One pcap file per device, in device order. */
  readonly pcaps: Uint8Array[];
  /** Frames each wiretap recorded. */
  readonly recorded: number[];
  /** Frames the devices accepted for sending. */
  readonly sent: number;
}

const address = (index: number): Ipv4Address => ((10 << 24) | (index + 1)) as Ipv4Address;

export function simulateTraffic(seed: number, devices: number, sends: readonly Send[], link: LinkConditions): TrafficResult {
  const clock = new VirtualClock();
  const net = new SimulatedNetwork({ clock, random: createSeededRandom(seed) });
  const collectors = [];
  const taps: Wiretap[] = [];
  for (let i = 0; i < devices; i++) {
    const collector = createPcapCollector();
    const tap = createWiretap(net.attach({ name: `host${i}`, link }), { clock, sink: collector.sink });
    tap.listen(() => {});
    collectors.push(collector);
    taps.push(tap);
  }
  let sent = 0;
  let last = 0;
  sends.forEach((send, index) => {
    last = Math.max(last, send.at);
    clock.setTimer(send.at, () => {
      const from = taps[send.from % devices];
      const to = send.to === 'broadcast' ? undefined : taps[send.to % devices];
      const payload = new Uint8Array(send.size).fill(index & 0xff);
      const frame = udpFrame({
        sourceMac: from.mac,
        destinationMac: to === undefined ? MAC_BROADCAST : to.mac,
        source: address(send.from % devices),
        destination: to === undefined ? (0xffff_ffff as Ipv4Address) : address((send.to as number) % devices),
        sourcePort: 40_000 + (index % 1000),
        destinationPort: 9,
        payload,
        identification: index & 0xffff,
      });
      const accepted = from.write(frame.length, (buffer) => {
        buffer.set(frame);
        return frame.length;
      });
      if (accepted) sent++;
    });
  });
  clock.advance(last + 10_000);
  return { pcaps: collectors.map((c) => c.bytes()), recorded: taps.map((t) => t.recorded), sent };
}
