/**
 * The switch side's meter table (OpenFlow 1.3.x §5.7): per-flow rate limits with DROP bands,
 * measured in kb/s or packets/s by a token bucket per band, and counters. DSCP_REMARK bands
 * are refused (OFPMMFC_BAD_BAND).
 */
import {
  OFPM_MAX, OFPMMFC_BAD_BAND, OFPMMFC_BAD_BURST, OFPMMFC_BAD_FLAGS, OFPMMFC_BAD_RATE, OFPMMFC_INVALID_METER, OFPMMFC_METER_EXISTS,
  OFPMMFC_OUT_OF_BANDS, OFPMMFC_OUT_OF_METERS, OFPMMFC_UNKNOWN_METER, OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS,
} from './constants.js';

/** One band (ofp_meter_band_header, 1.3.x §7.3.4.4); the codec's band reprs fit it. */
export interface MeterBandSpec {
  /** 'drop' is executed; every other type is refused. */
  readonly type: string;
  /** kb/s or packets/s, per the meter's flags. */
  readonly rate: number;
  /** kilobits or packets; used only with OFPMF_BURST. */
  readonly burstSize: number;
}

export interface MeterEntry<B extends MeterBandSpec = MeterBandSpec> {
  readonly meterId: number;
  readonly flags: number;
  readonly bands: readonly B[];
  /** Tokens left in each band's bucket (bits or packets) and when they were last refilled. */
  tokens: number[];
  refilledAt: number;
  flowCount: number;
  packetCount: bigint;
  byteCount: bigint;
  bandCounts: { packets: bigint; bytes: bigint }[];
  readonly installedAt: number;
}

/** ofp_meter_mod_failed_code values the table returns (1.3.x §7.4.4). */
export const OFPMMFC = {
  METER_EXISTS: OFPMMFC_METER_EXISTS, INVALID_METER: OFPMMFC_INVALID_METER, UNKNOWN_METER: OFPMMFC_UNKNOWN_METER, BAD_FLAGS: OFPMMFC_BAD_FLAGS,
  BAD_RATE: OFPMMFC_BAD_RATE, BAD_BURST: OFPMMFC_BAD_BURST, BAD_BAND: OFPMMFC_BAD_BAND, OUT_OF_METERS: OFPMMFC_OUT_OF_METERS, OUT_OF_BANDS: OFPMMFC_OUT_OF_BANDS,
} as const;

export interface MeterTableConfig {
  /** Meters held; more fail with OFPMMFC_OUT_OF_METERS; default 256. */
  readonly maxMeters?: number;
  /** Bands per meter; more fail with OFPMMFC_OUT_OF_BANDS; default 4. */
  readonly maxBands?: number;
}

export const METER_TABLE_DEFAULTS: Required<MeterTableConfig> = { maxMeters: 256, maxBands: 4 };

/** What a meter does to one packet. */
export type MeterVerdict = 'pass' | 'drop';

/** Meters by number with the checks of meter-mod (1.3.x §6.6). */
export class MeterTable<B extends MeterBandSpec = MeterBandSpec> {
  private readonly meters = new Map<number, MeterEntry<B>>();
  private readonly limits: Required<MeterTableConfig>;

  constructor(config: MeterTableConfig = {}) {
    this.limits = { ...METER_TABLE_DEFAULTS, ...config };
  }

  get size(): number {
    return this.meters.size;
  }

  get maxMeters(): number {
    return this.limits.maxMeters;
  }

  get maxBands(): number {
    return this.limits.maxBands;
  }

  get(meterId: number): MeterEntry<B> | undefined {
    return this.meters.get(meterId);
  }

  all(): MeterEntry<B>[] {
    return [...this.meters.values()].sort((a, b) => a.meterId - b.meterId);
  }

  private check(meterId: number, flags: number, bands: readonly MeterBandSpec[]): number | undefined {
    if (meterId === 0 || meterId > OFPM_MAX) return OFPMMFC.INVALID_METER;
    // Exactly one unit: kb/s or packets/s.
    if (((flags & OFPMF_KBPS) !== 0) === ((flags & OFPMF_PKTPS) !== 0)) return OFPMMFC.BAD_FLAGS;
    if (bands.length > this.limits.maxBands) return OFPMMFC.OUT_OF_BANDS;
    for (const band of bands) {
      if (band.type !== 'drop') return OFPMMFC.BAD_BAND;
      if (band.rate === 0) return OFPMMFC.BAD_RATE;
      if ((flags & OFPMF_BURST) !== 0 && band.burstSize === 0) return OFPMMFC.BAD_BURST;
    }
    return undefined;
  }

  private entry(meterId: number, flags: number, bands: readonly B[], now: number, base?: MeterEntry<B>): MeterEntry<B> {
    return {
      meterId, flags, bands, tokens: bands.map((band) => this.depth(flags, band)), refilledAt: now, flowCount: base?.flowCount ?? 0,
      packetCount: base?.packetCount ?? 0n, byteCount: base?.byteCount ?? 0n, bandCounts: bands.map(() => ({ packets: 0n, bytes: 0n })), installedAt: base?.installedAt ?? now,
    };
  }

  /** Bucket depth: the burst size with OFPMF_BURST, else one second at the band's rate (in bits or packets). */
  private depth(flags: number, band: MeterBandSpec): number {
    const packets = (flags & OFPMF_PKTPS) !== 0;
    const amount = (flags & OFPMF_BURST) !== 0 ? band.burstSize : band.rate;
    return packets ? amount : amount * 1000;
  }

  /** OFPMC_ADD: undefined on success, else an OFPMMFC code. */
  add(meterId: number, flags: number, bands: readonly B[], now: number): number | undefined {
    if (this.meters.has(meterId)) return OFPMMFC.METER_EXISTS;
    if (this.meters.size >= this.limits.maxMeters) return OFPMMFC.OUT_OF_METERS;
    const problem = this.check(meterId, flags, bands);
    if (problem !== undefined) return problem;
    this.meters.set(meterId, this.entry(meterId, flags, bands, now));
    return undefined;
  }

  /** OFPMC_MODIFY: new flags and bands, keeping the meter's counters. */
  modify(meterId: number, flags: number, bands: readonly B[], now: number): number | undefined {
    const existing = this.meters.get(meterId);
    if (existing === undefined) return OFPMMFC.UNKNOWN_METER;
    const problem = this.check(meterId, flags, bands);
    if (problem !== undefined) return problem;
    this.meters.set(meterId, this.entry(meterId, flags, bands, now, existing));
    return undefined;
  }

  /** OFPMC_DELETE: removes one meter, or every one with OFPM_ALL; returns the removed numbers. */
  delete(meterId: number, all: boolean): number[] {
    if (all) {
      const removed = [...this.meters.keys()];
      this.meters.clear();
      return removed;
    }
    return this.meters.delete(meterId) ? [meterId] : [];
  }

  /**
   * Meters one packet (1.3.x §5.7): refills every band's bucket for the time passed, then the
   * band with the highest rate whose bucket cannot pay for the packet applies (a drop).
   */
  apply(meter: MeterEntry<B>, length: number, now: number): MeterVerdict {
    const packets = (meter.flags & OFPMF_PKTPS) !== 0;
    const elapsed = Math.max(0, now - meter.refilledAt) / 1000;
    meter.refilledAt = now;
    meter.packetCount += 1n;
    meter.byteCount += BigInt(length);
    const cost = packets ? 1 : length * 8;
    let chosen = -1;
    meter.bands.forEach((band, index) => {
      const depth = this.depth(meter.flags, band);
      const perSecond = packets ? band.rate : band.rate * 1000;
      const tokens = Math.min(depth, (meter.tokens[index] ?? 0) + elapsed * perSecond);
      if (tokens >= cost) meter.tokens[index] = tokens - cost;
      else {
        meter.tokens[index] = tokens;
        if (chosen < 0 || band.rate > (meter.bands[chosen]?.rate ?? 0)) chosen = index;
      }
    });
    if (chosen < 0) return 'pass';
    const counts = meter.bandCounts[chosen];
    if (counts !== undefined) {
      counts.packets += 1n;
      counts.bytes += BigInt(length);
    }
    return 'drop';
  }
}
