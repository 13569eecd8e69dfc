/**
 * Groups (OpenFlow 1.3.x §5.6, §7.3.4.2, §7.3.5.7-9): buckets, the GROUP_MOD body and the
 * group statistics, description and features multipart bodies.
 */
import { type ByteReader, type ByteWriter, DecodeError } from '@morgana/core';
import { type Action, emitActions, parseActions } from './actions.js';
import { OFP_VERSION_1_3 } from './constants.js';

/** ofp_bucket: 16 bytes, then actions. */
export const BUCKET = { LENGTH: 0, WEIGHT: 2, WATCH_PORT: 4, WATCH_GROUP: 8, SIZE: 16 } as const;

/**
 * One bucket. `weight` counts for SELECT groups only, `watchPort`/`watchGroup` for FAST_FAILOVER
 * only (OFPP_ANY / OFPG_ANY when unused); ALL and INDIRECT use just the actions (1.3.x §5.6.1).
 */
export interface Bucket {
  readonly weight: number;
  readonly watchPort: number;
  readonly watchGroup: number;
  readonly actions: readonly Action[];
}

/** The GROUP_MOD body (1.3.x §7.3.4.2). `groupType` is OFPGT_ALL, _SELECT, _INDIRECT or _FF. */
export interface GroupMod {
  readonly command: number;
  readonly groupType: number;
  readonly groupId: number;
  readonly buckets: readonly Bucket[];
}

/** Counters of one bucket. */
export interface BucketCounter {
  readonly packetCount: bigint;
  readonly byteCount: bigint;
}

/** ofp_group_stats (1.3.x §7.3.5.7). */
export interface GroupStatsEntry {
  readonly groupId: number;
  readonly refCount: number;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  readonly durationSec: number;
  readonly durationNsec: number;
  readonly bucketStats: readonly BucketCounter[];
}

/** ofp_group_desc (1.3.x §7.3.5.8). */
export interface GroupDescEntry {
  readonly groupType: number;
  readonly groupId: number;
  readonly buckets: readonly Bucket[];
}

/** ofp_group_features (1.3.x §7.3.5.9): `maxGroups` and `actions` are indexed by group type. */
export interface GroupFeatures {
  readonly types: number;
  readonly capabilities: number;
  readonly maxGroups: readonly number[];
  readonly actions: readonly number[];
}

/**
 * Reads a record's 16-bit length (found `before` bytes into the record, already read) and
 * returns a reader over the rest of the record. A length shorter than the record's fixed part
 * or running past the enclosing body is a lie, refused as `'bad-length'`.
 */
export function readRecord(reader: ByteReader, minimum: number, what: string, before = 0): ByteReader {
  const length = reader.u16();
  if (length < minimum) throw new DecodeError('bad-length', `${what} length ${length} is shorter than its ${minimum}-byte fixed part`);
  if (length - 2 - before > reader.remaining) throw new DecodeError('bad-length', `${what} length ${length} runs past its message`);
  return reader.sub(length - 2 - before);
}

export function parseBuckets(reader: ByteReader): Bucket[] {
  const buckets: Bucket[] = [];
  while (reader.remaining > 0) {
    const body = readRecord(reader, BUCKET.SIZE, 'bucket');
    const weight = body.u16();
    const watchPort = body.u32();
    const watchGroup = body.u32();
    body.skip(4);
    buckets.push({ weight, watchPort, watchGroup, actions: parseActions(OFP_VERSION_1_3, body) });
  }
  return buckets;
}

export function emitBuckets(writer: ByteWriter, buckets: readonly Bucket[]): void {
  for (const bucket of buckets) {
    const start = writer.length;
    writer.u16(0).u16(bucket.weight).u32(bucket.watchPort).u32(bucket.watchGroup).u32(0);
    emitActions(OFP_VERSION_1_3, writer, bucket.actions);
    writer.patchU16(start, writer.length - start);
  }
}

export function parseGroupMod(reader: ByteReader): GroupMod {
  const command = reader.u16();
  const groupType = reader.u8();
  reader.skip(1);
  const groupId = reader.u32();
  return { command, groupType, groupId, buckets: parseBuckets(reader) };
}

export function emitGroupMod(writer: ByteWriter, mod: GroupMod): void {
  writer.u16(mod.command).u8(mod.groupType).u8(0).u32(mod.groupId);
  emitBuckets(writer, mod.buckets);
}

/** Fixed part of ofp_group_stats. */
const GROUP_STATS_SIZE = 40;
const BUCKET_COUNTER_SIZE = 16;

export function parseGroupStats(reader: ByteReader): GroupStatsEntry {
  const body = readRecord(reader, GROUP_STATS_SIZE, 'group stats');
  body.skip(2);
  const groupId = body.u32();
  const refCount = body.u32();
  body.skip(4);
  const packetCount = body.u64();
  const byteCount = body.u64();
  const durationSec = body.u32();
  const durationNsec = body.u32();
  if (body.remaining % BUCKET_COUNTER_SIZE !== 0) throw new DecodeError('bad-length', 'group stats bucket counters are not whole');
  const bucketStats: BucketCounter[] = [];
  while (body.remaining > 0) bucketStats.push({ packetCount: body.u64(), byteCount: body.u64() });
  return { groupId, refCount, packetCount, byteCount, durationSec, durationNsec, bucketStats };
}

export function emitGroupStats(writer: ByteWriter, entry: GroupStatsEntry): void {
  writer.u16(GROUP_STATS_SIZE + BUCKET_COUNTER_SIZE * entry.bucketStats.length).u16(0).u32(entry.groupId).u32(entry.refCount).u32(0);
  writer.u64(entry.packetCount).u64(entry.byteCount).u32(entry.durationSec).u32(entry.durationNsec);
  for (const counter of entry.bucketStats) writer.u64(counter.packetCount).u64(counter.byteCount);
}

export function parseGroupDesc(reader: ByteReader): GroupDescEntry {
  const body = readRecord(reader, 8, 'group desc');
  const groupType = body.u8();
  body.skip(1);
  const groupId = body.u32();
  return { groupType, groupId, buckets: parseBuckets(body) };
}

export function emitGroupDesc(writer: ByteWriter, entry: GroupDescEntry): void {
  const start = writer.length;
  writer.u16(0).u8(entry.groupType).u8(0).u32(entry.groupId);
  emitBuckets(writer, entry.buckets);
  writer.patchU16(start, writer.length - start);
}

export function parseGroupFeatures(reader: ByteReader): GroupFeatures {
  const types = reader.u32();
  const capabilities = reader.u32();
  const maxGroups = [reader.u32(), reader.u32(), reader.u32(), reader.u32()];
  const actions = [reader.u32(), reader.u32(), reader.u32(), reader.u32()];
  return { types, capabilities, maxGroups, actions };
}

export function emitGroupFeatures(writer: ByteWriter, features: GroupFeatures): void {
  writer.u32(features.types).u32(features.capabilities);
  for (let index = 0; index < 4; index += 1) writer.u32(features.maxGroups[index] ?? 0);
  for (let index = 0; index < 4; index += 1) writer.u32(features.actions[index] ?? 0);
}
