/**
 * Meters (OpenFlow 1.3.x §5.7, §7.3.4.4, §7.3.5.10-12): bands, the METER_MOD body and the
 * meter statistics, configuration and features multipart bodies.
 */
import { type ByteReader, type ByteWriter, DecodeError } from '@morgana/core';
import { OFPMBT_DROP, OFPMBT_DSCP_REMARK, OFPMBT_EXPERIMENTER } from './constants.js';
import { readRecord } from './group.js';

/** ofp_meter_band_header: type, len, rate, burst_size; every band defined by 1.3 is 16 bytes. */
export const METER_BAND = { TYPE: 0, LENGTH: 2, RATE: 4, BURST_SIZE: 8, SIZE: 16 } as const;

/**
 * A meter band: `rate` in kb/s or packets/s and `burstSize` per the meter's flags. DSCP_REMARK
 * raises the drop precedence by `precLevel`; EXPERIMENTER bands carry their data opaquely.
 */
export type MeterBand =
  | { readonly type: 'drop'; readonly rate: number; readonly burstSize: number }
  | { readonly type: 'dscp-remark'; readonly rate: number; readonly burstSize: number; readonly precLevel: number }
  | { readonly type: 'experimenter'; readonly rate: number; readonly burstSize: number; readonly experimenter: number; readonly data: Uint8Array };

/** The METER_MOD body (1.3.x §7.3.4.4). */
export interface MeterMod {
  readonly command: number;
  readonly flags: number;
  readonly meterId: number;
  readonly bands: readonly MeterBand[];
}

/** Counters of one band. */
export interface BandCounter {
  readonly packetCount: bigint;
  readonly byteCount: bigint;
}

/** ofp_meter_stats (1.3.x §7.3.5.10). */
export interface MeterStatsEntry {
  readonly meterId: number;
  readonly flowCount: number;
  readonly packetInCount: bigint;
  readonly byteInCount: bigint;
  readonly durationSec: number;
  readonly durationNsec: number;
  readonly bandStats: readonly BandCounter[];
}

/** ofp_meter_config (1.3.x §7.3.5.11). */
export interface MeterConfigEntry {
  readonly flags: number;
  readonly meterId: number;
  readonly bands: readonly MeterBand[];
}

/** ofp_meter_features (1.3.x §7.3.5.12). */
export interface MeterFeatures {
  readonly maxMeter: number;
  readonly bandTypes: number;
  readonly capabilities: number;
  readonly maxBands: number;
  readonly maxColor: number;
}

export function parseBands(reader: ByteReader): MeterBand[] {
  const bands: MeterBand[] = [];
  while (reader.remaining > 0) {
    const type = reader.u16();
    const body = readRecord(reader, METER_BAND.SIZE, 'meter band', 2);
    const rate = body.u32();
    const burstSize = body.u32();
    switch (type) {
      case OFPMBT_DROP:
        if (body.remaining !== 4) throw new DecodeError('bad-length', 'a drop band is 16 bytes');
        body.skip(4);
        bands.push({ type: 'drop', rate, burstSize });
        break;
      case OFPMBT_DSCP_REMARK: {
        if (body.remaining !== 4) throw new DecodeError('bad-length', 'a dscp-remark band is 16 bytes');
        const precLevel = body.u8();
        body.skip(3);
        bands.push({ type: 'dscp-remark', rate, burstSize, precLevel });
        break;
      }
      case OFPMBT_EXPERIMENTER:
        bands.push({ type: 'experimenter', rate, burstSize, experimenter: body.u32(), data: body.bytesCopy(body.remaining) });
        break;
      default:
        throw new DecodeError('bad-meter-band', `unknown meter band type ${type}`);
    }
  }
  return bands;
}

export function emitBands(writer: ByteWriter, bands: readonly MeterBand[]): void {
  for (const band of bands) {
    switch (band.type) {
      case 'drop': writer.u16(OFPMBT_DROP).u16(METER_BAND.SIZE).u32(band.rate).u32(band.burstSize).u32(0); break;
      case 'dscp-remark': writer.u16(OFPMBT_DSCP_REMARK).u16(METER_BAND.SIZE).u32(band.rate).u32(band.burstSize).u8(band.precLevel).u8(0).u16(0); break;
      case 'experimenter':
        writer.u16(OFPMBT_EXPERIMENTER).u16(METER_BAND.SIZE + band.data.length).u32(band.rate).u32(band.burstSize).u32(band.experimenter).bytes(band.data);
        break;
    }
  }
}

export function parseMeterMod(reader: ByteReader): MeterMod {
  const command = reader.u16();
  const flags = reader.u16();
  const meterId = reader.u32();
  return { command, flags, meterId, bands: parseBands(reader) };
}

export function emitMeterMod(writer: ByteWriter, mod: MeterMod): void {
  writer.u16(mod.command).u16(mod.flags).u32(mod.meterId);
  emitBands(writer, mod.bands);
}

const METER_STATS_SIZE = 40;
const BAND_COUNTER_SIZE = 16;

export function parseMeterStats(reader: ByteReader): MeterStatsEntry {
  const meterId = reader.u32();
  // ofp_meter_stats puts its length after the meter id.
  const body = readRecord(reader, METER_STATS_SIZE, 'meter stats', 4);
  body.skip(6);
  const flowCount = body.u32();
  const packetInCount = body.u64();
  const byteInCount = body.u64();
  const durationSec = body.u32();
  const durationNsec = body.u32();
  if (body.remaining % BAND_COUNTER_SIZE !== 0) throw new DecodeError('bad-length', 'meter stats band counters are not whole');
  const bandStats: BandCounter[] = [];
  while (body.remaining > 0) bandStats.push({ packetCount: body.u64(), byteCount: body.u64() });
  return { meterId, flowCount, packetInCount, byteInCount, durationSec, durationNsec, bandStats };
}

export function emitMeterStats(writer: ByteWriter, entry: MeterStatsEntry): void {
  writer.u32(entry.meterId).u16(METER_STATS_SIZE + BAND_COUNTER_SIZE * entry.bandStats.length).u16(0).u32(0);
  writer.u32(entry.flowCount).u64(entry.packetInCount).u64(entry.byteInCount).u32(entry.durationSec).u32(entry.durationNsec);
  for (const counter of entry.bandStats) writer.u64(counter.packetCount).u64(counter.byteCount);
}

export function parseMeterConfig(reader: ByteReader): MeterConfigEntry {
  const body = readRecord(reader, 8, 'meter config');
  const flags = body.u16();
  const meterId = body.u32();
  return { flags, meterId, bands: parseBands(body) };
}

export function emitMeterConfig(writer: ByteWriter, entry: MeterConfigEntry): void {
  const start = writer.length;
  writer.u16(0).u16(entry.flags).u32(entry.meterId);
  emitBands(writer, entry.bands);
  writer.patchU16(start, writer.length - start);
}

export function parseMeterFeatures(reader: ByteReader): MeterFeatures {
  const maxMeter = reader.u32();
  const bandTypes = reader.u32();
  const capabilities = reader.u32();
  const maxBands = reader.u8();
  const maxColor = reader.u8();
  reader.skip(2);
  return { maxMeter, bandTypes, capabilities, maxBands, maxColor };
}

export function emitMeterFeatures(writer: ByteWriter, features: MeterFeatures): void {
  writer.u32(features.maxMeter).u32(features.bandTypes).u32(features.capabilities).u8(features.maxBands).u8(features.maxColor).u16(0);
}
