/**
 * A Linux TAP device as a {@link Netif}. Frames are read by the native addon in batches (one
 * JavaScript call per readable event, up to `rxBatchFrames` frames) and written synchronously
 * on the nonblocking fd.
 */
import { constants } from 'node:os';
import { ClosedError, CounterSet, UnsupportedError, emptyNetifStats, localMac, parseMac } from '@morgana/core';
import type { Counters, Fill, FrameHandler, MacAddress, Netif, NetifStats, OffloadFlags, RxOffload, TxOffload } from '@morgana/core';
import { loadBinding } from './native.js';
import type { NativeTapDevice, TapBinding } from './native.js';
import { VNET_HEADER_LENGTH, VNET_HEADER_NONE, VnetFlags, VnetGso, emitVnetHeader } from './vnet.js';

/** Ethernet header without a VLAN tag. */
const ETHERNET_HEADER = 14;
/** An 802.1Q tag may ride on top of the MTU-sized payload. */
const VLAN_TAG = 4;
/** TUN_F_CSUM (linux/if_tun.h): the kernel may hand us frames whose checksum is still partial. */
const TUN_F_CSUM = 0x01;
/**
 * Largest TCP payload one TSO write may carry: an IPv4 datagram is at most 65535 bytes
 * (RFC 791), less a 20-byte IP header and a TCP header of up to 60 bytes.
 */
export const TAP_TSO_MAX_SIZE = 65535 - 20 - 60;

/** Offloads through the virtio-net header (IFF_VNET_HDR). */
export interface TapOffloadOptions {
  /**
   * Transmit: the kernel finishes TCP/UDP checksums we mark as partial. Receive: the kernel
   * skips computing checksums of the frames it sends us and we report them as verified.
   */
  readonly checksum?: boolean;
  /** Transmit: the kernel accepts TCP segments up to {@link TAP_TSO_MAX_SIZE} and segments them (needs `checksum`). */
  readonly tso?: boolean;
}

/** Options of {@link openTap}. */
export interface TapOptions {
  /** Device name (at most 15 bytes). Without one the kernel creates `tapN`. */
  readonly name?: string;
  /**
   * Create the device when it does not exist (it then lives while this process holds it open).
   * Default: true without a name, false with one (attaching to a device set up beforehand,
   * e.g. with `ip tuntap add dev NAME mode tap`).
   */
  readonly create?: boolean;
  /** The stack's MAC address (not the kernel side's). Default: a random locally administered one. */
  readonly mac?: MacAddress | string;
  /** Sets the device's MTU (both sides then agree). Default: keep the device's MTU (1500 for a new one). */
  readonly mtu?: number;
  /**
   * Network namespace of the device: a name under /run/netns (`ip netns add NAME`) or a path
   * such as /proc/PID/ns/net. The device is looked up and created there while this process
   * stays where it is. Needs CAP_SYS_ADMIN. Default: this process's namespace.
   */
  readonly netns?: string;
  /** Checksum and segmentation offload through the virtio-net header. Default: none. */
  readonly offload?: TapOffloadOptions;
  /** Most frames drained per readable event before JavaScript runs. Default 64. */
  readonly rxBatchFrames?: number;
}

/** A TAP device as a {@link Netif}. */
export interface TapNetif extends Netif {
  /** The device name in its namespace. */
  readonly name: string;
  /** The device's interface index in its namespace. */
  readonly ifindex: number;
  /** Drop and error reasons, kebab-case (`'too-large'`, `'queue-full'`, `'link-down'`, ...). */
  counters(): Counters;
}

/** Default of {@link TapOptions.rxBatchFrames}: enough to amortise the JavaScript call (measured in the package README). */
export const DEFAULT_RX_BATCH_FRAMES = 64;

const VERIFIED: RxOffload = Object.freeze({ checksumVerified: true });
const UNVERIFIED: RxOffload = Object.freeze({ checksumVerified: false });

const errno = constants.errno;
/** Linux's EBADFD ("file descriptor in bad state"), which node's errno constants leave out: tun returns it once the device is gone. */
const EBADFD = 77;

/** The handler before listen() and after close(): reading only runs between the two. */
function ignoreFrame(): void {}

function netnsPath(netns: string): string {
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}

/** Turns the addon's errno errors into messages that say what is missing (exported for tests). */
export function explainOpenError(error: unknown, name: string | undefined, netns: string | undefined): Error {
  if (!(error instanceof Error)) return new UnsupportedError(`cannot open TAP device: ${String(error)}`);
  const code = (error as NodeJS.ErrnoException).code;
  const syscall = (error as NodeJS.ErrnoException).syscall ?? '';
  const device = name ?? '(new device)';
  const where = netns === undefined ? '' : ` in network namespace ${netns}`;
  if (syscall === 'open' && error.message.startsWith('cannot open /dev/net/tun')) {
    if (code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV') {
      return new UnsupportedError(
        '/dev/net/tun is missing: load the tun module (`modprobe tun`) or, in a container, pass the device in (`--device /dev/net/tun`)',
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return new UnsupportedError(`/dev/net/tun is not accessible to this user (${code}): run as root or make it readable and writable`);
    }
  }
  if (syscall === 'open' || syscall === 'setns') {
    if (code === 'ENOENT') return new UnsupportedError(`no network namespace ${netns ?? ''} (${netnsPath(netns ?? '')} does not exist)`);
    return new UnsupportedError(`cannot enter network namespace ${netns ?? ''} (${code}): needs CAP_SYS_ADMIN (root)`);
  }
  if (code === 'ENODEV') {
    return new UnsupportedError(
      `no TAP device named ${device}${where}: create it (\`ip tuntap add dev ${device} mode tap\`) or pass create: true`,
    );
  }
  if (code === 'EPERM' || code === 'EACCES') {
    return new UnsupportedError(
      `not permitted to attach TAP device ${device}${where} (${code} on ${syscall}): needs CAP_NET_ADMIN (root), ` +
        `or a persistent device owned by this user (\`ip tuntap add dev ${device} mode tap user $USER\`)`,
    );
  }
  if (code === 'EINVAL' && syscall === 'ioctl(TUNSETIFF)') {
    return new UnsupportedError(`${device}${where} exists but is not a TAP device (a TUN device or another kind of link?)`);
  }
  if (code === 'EBUSY') {
    return new UnsupportedError(`TAP device ${device}${where} is already attached to another file descriptor`);
  }
  if (code === 'EINVAL' && syscall === 'ioctl(SIOCSIFMTU)') {
    return new UnsupportedError(`the kernel refused the MTU for ${device}${where} (tap devices take 68 to 65521)`);
  }
  return new UnsupportedError(`cannot open TAP device ${device}${where}: ${error.message}`);
}

function toMac(mac: MacAddress | string | undefined): MacAddress {
  if (typeof mac === 'string') return parseMac(mac);
  if (mac !== undefined) return mac;
  const bits = new Uint32Array(1);
  crypto.getRandomValues(bits);
  return localMac(bits[0]);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Opens (or creates) a TAP device. Throws {@link UnsupportedError} with what is missing when
 * the addon is not built, /dev/net/tun is absent, or the process lacks the permission.
 */
export async function openTap(options: TapOptions = {}): Promise<TapNetif> {
  const binding = loadBinding();
  const checksum = options.offload?.checksum === true;
  const tso = options.offload?.tso === true;
  if (tso && !checksum) throw new RangeError('offload.tso needs offload.checksum (TSO frames carry partial checksums)');
  const mtu = options.mtu === undefined ? 0 : positiveInteger(options.mtu, 'mtu');
  const batch = positiveInteger(options.rxBatchFrames ?? DEFAULT_RX_BATCH_FRAMES, 'rxBatchFrames');
  const mac = toMac(options.mac);
  let device: NativeTapDevice;
  try {
    device = binding.open(
      options.name ?? null,
      options.create ?? options.name === undefined,
      checksum,
      checksum ? TUN_F_CSUM : 0,
      options.netns === undefined ? null : netnsPath(options.netns),
      mtu,
    );
  } catch (error) {
    throw explainOpenError(error, options.name, options.netns);
  }
  return new Tap(binding, device, mac, batch, checksum, tso);
}

class Tap implements TapNetif {
  readonly name: string;
  readonly ifindex: number;
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly offload: OffloadFlags;

  private readonly binding: TapBinding;
  private readonly device: NativeTapDevice;
  private readonly headerLength: number;
  /** Largest frame accepted in either direction without TSO (header + MTU + VLAN tag). */
  private readonly maxFrame: number;
  private readonly maxTsoFrame: number;
  private readonly rx: Uint8Array;
  private readonly meta: Uint32Array;
  private readonly tx: Uint8Array;
  private readonly counterSet = new CounterSet();
  private readonly netifStats: NetifStats = emptyNetifStats();
  private onFrame: FrameHandler = ignoreFrame;
  private onBatchEnd: (() => void) | undefined;
  private reading = false;
  private closed = false;

  constructor(binding: TapBinding, device: NativeTapDevice, mac: MacAddress, batch: number, checksum: boolean, tso: boolean) {
    this.binding = binding;
    this.device = device;
    this.name = device.name;
    this.ifindex = device.ifindex;
    this.mac = mac;
    this.mtu = device.mtu;
    this.offload = { txChecksum: checksum, rxChecksum: checksum, tsoMaxSize: tso ? TAP_TSO_MAX_SIZE : 0 };
    this.headerLength = checksum ? VNET_HEADER_LENGTH : 0;
    this.maxFrame = ETHERNET_HEADER + VLAN_TAG + device.mtu;
    this.maxTsoFrame = tso ? ETHERNET_HEADER + VLAN_TAG + 65535 : this.maxFrame;
    // One read needs room for the largest frame plus one byte, so an oversized frame shows up
    // as longer than maxFrame instead of being silently cut to fit.
    const frameRoom = this.headerLength + this.maxFrame + 1;
    const stride = (frameRoom + 7) & ~7;
    this.rx = new Uint8Array(stride * batch);
    this.meta = new Uint32Array(2 * batch);
    this.tx = new Uint8Array(this.headerLength + this.maxTsoFrame);
    binding.attach(device.handle, this.rx, this.meta, batch, frameRoom, this.tx);
  }

  listen(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    if (this.closed) throw new ClosedError(`TAP device ${this.name} is closed`);
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
    if (!this.reading) {
      this.binding.start(this.device.handle, this.onBatch);
      this.reading = true;
    }
  }

  write(size: number, fill: Fill, offload?: TxOffload): boolean {
    if (this.closed) return this.dropTx('closed');
    const segmenting = offload !== undefined && offload.segmentSize > 0;
    const limit = segmenting ? this.maxTsoFrame : this.maxFrame;
    if (size > limit) return this.dropTx('too-large');
    const header = this.headerLength;
    const used = fill(this.tx.subarray(header, header + size));
    if (!(used >= ETHERNET_HEADER && used <= size)) return this.dropTx('bad-fill-length');
    if (header > 0) {
      if (offload === undefined) {
        emitVnetHeader(VNET_HEADER_NONE, this.tx, 0);
      } else {
        if (segmenting && this.offload.tsoMaxSize === 0) return this.dropTx('tso-unsupported');
        emitVnetHeader(
          {
            flags: VnetFlags.needsChecksum,
            gsoType: segmenting ? VnetGso.tcpv4 : VnetGso.none,
            // The TCP data offset (header length in 32-bit words) is the high nibble of byte 12.
            headerLength: segmenting ? offload.checksumStart + ((this.tx[header + offload.checksumStart + 12] >>> 4) << 2) : 0,
            gsoSize: segmenting ? offload.segmentSize : 0,
            checksumStart: offload.checksumStart,
            checksumOffset: offload.checksumOffset,
          },
          this.tx,
          0,
        );
      }
    } else if (offload !== undefined) {
      return this.dropTx('offload-unsupported');
    }
    const written = this.binding.write(this.device.handle, header + used);
    if (written === header + used) {
      this.netifStats.txFrames++;
      this.netifStats.txBytes += used;
      return true;
    }
    if (written === -errno.EAGAIN || written === -errno.ENOBUFS) return this.dropTx('queue-full');
    if (written === -errno.EIO) return this.dropTx('link-down');
    if (written === -errno.EINVAL) return this.dropTx('rejected-by-kernel');
    if (written === -EBADFD || written === -errno.EBADF) return this.dropTx('device-gone');
    return this.dropTx(written < 0 ? 'write-error' : 'short-write');
  }

  stats(): NetifStats {
    return { ...this.netifStats };
  }

  counters(): Counters {
    return this.counterSet.snapshot();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.reading = false;
      this.binding.close(this.device.handle);
      this.onFrame = ignoreFrame;
      this.onBatchEnd = undefined;
    }
    return Promise.resolve();
  }

  private dropTx(reason: string): false {
    this.netifStats.txDropped++;
    this.counterSet.add(reason);
    return false;
  }

  private dropRx(reason: string): void {
    this.netifStats.rxDropped++;
    this.counterSet.add(reason);
  }

  /** One drained batch from the addon: frames at meta[2i] (offset) and meta[2i+1] (length). */
  private readonly onBatch = (count: number, error: number): void => {
    const header = this.headerLength;
    for (let i = 0; i < count && !this.closed; i++) {
      const offset = this.meta[2 * i];
      const length = this.meta[2 * i + 1] - header;
      if (length > this.maxFrame) {
        this.dropRx('too-large');
        continue;
      }
      if (length < ETHERNET_HEADER) {
        this.dropRx('too-short');
        continue;
      }
      let info = UNVERIFIED;
      if (header > 0) {
        // Only TUN_F_CSUM is offered, so the kernel sends no GSO frames: anything else is a bug
        // on its side, dropped rather than handed up as a frame larger than the MTU.
        if (this.rx[offset + 1] !== VnetGso.none) {
          this.dropRx('unexpected-gso');
          continue;
        }
        if ((this.rx[offset] & (VnetFlags.needsChecksum | VnetFlags.dataValid)) !== 0) info = VERIFIED;
      }
      this.netifStats.rxFrames++;
      this.netifStats.rxBytes += length;
      this.onFrame(this.rx.subarray(offset + header, offset + header + length), info);
    }
    if (count > 0 && !this.closed) this.onBatchEnd?.();
    if (error !== 0) this.readFailed(error);
  };

  private readFailed(error: number): void {
    // EBADF/EBADFD: the device was deleted under us (ip link del); polling again would spin.
    if (error === errno.EBADF || error === EBADFD) {
      this.counterSet.add('device-gone');
      if (this.reading) {
        this.binding.stop(this.device.handle);
        this.reading = false;
      }
      return;
    }
    this.counterSet.add('read-error');
  }
}
