/**
 * Queues (OpenFlow 1.0.0 §5.2.2, §5.3.6; 1.3.x §7.2.3, §7.3.6): queue descriptions with their
 * properties, the QUEUE_GET_CONFIG reply body and queue statistics.
 */
import { type ByteReader, type ByteWriter, DecodeError, UnsupportedError } from '@morgana/core';
import { OFPQT_EXPERIMENTER, OFPQT_MAX_RATE, OFPQT_MIN_RATE, OFPQT_NONE, OFP_VERSION_1_0, type OfpVersion } from './constants.js';
import { readRecord } from './group.js';
import { portFrom16, portTo16 } from './match.js';

/** A queue property. `rate` is in 1/10 of a percent; above 1000 means disabled. */
export type QueueProperty =
  /** OFPQT_NONE (1.0 only): no property. */
  | { readonly type: 'none' }
  | { readonly type: 'min-rate'; readonly rate: number }
  /** 1.3 only. */
  | { readonly type: 'max-rate'; readonly rate: number }
  /** 1.3 only; carried opaquely. */
  | { readonly type: 'experimenter'; readonly experimenter: number; readonly data: Uint8Array };

/** ofp_packet_queue. `port` is 1.3 only (0 from 1.0). */
export interface PacketQueue {
  readonly queueId: number;
  readonly port: number;
  readonly properties: readonly QueueProperty[];
}

/** ofp_queue_stats. `durationSec`/`durationNsec` are 1.3 only. */
export interface QueueStatsEntry {
  readonly portNo: number;
  readonly queueId: number;
  readonly txBytes: bigint;
  readonly txPackets: bigint;
  readonly txErrors: bigint;
  readonly durationSec: number;
  readonly durationNsec: number;
}

/** ofp_queue_prop_header: property, len, 4 bytes of padding. */
const PROPERTY_HEADER_SIZE = 8;
/** ofp_queue_prop_min_rate / max_rate: the header, rate, 6 bytes of padding. */
const RATE_PROPERTY_SIZE = 16;

function parseProperty(version: OfpVersion, reader: ByteReader): QueueProperty {
  const property = reader.u16();
  const body = readRecord(reader, PROPERTY_HEADER_SIZE, 'queue property', 2);
  body.skip(4);
  const exact = (size: number): void => {
    if (body.remaining !== size - PROPERTY_HEADER_SIZE) throw new DecodeError('bad-length', `queue property ${property} is ${size} bytes`);
  };
  if (property === OFPQT_NONE && version === OFP_VERSION_1_0) {
    exact(PROPERTY_HEADER_SIZE);
    return { type: 'none' };
  }
  if (property === OFPQT_MIN_RATE || (property === OFPQT_MAX_RATE && version !== OFP_VERSION_1_0)) {
    exact(RATE_PROPERTY_SIZE);
    const rate = body.u16();
    body.skip(6);
    return { type: property === OFPQT_MIN_RATE ? 'min-rate' : 'max-rate', rate };
  }
  if (property === OFPQT_EXPERIMENTER && version !== OFP_VERSION_1_0) {
    const experimenter = body.u32();
    body.skip(4);
    return { type: 'experimenter', experimenter, data: body.bytesCopy(body.remaining) };
  }
  throw new DecodeError('bad-queue-property', `unknown queue property ${property} in OpenFlow version ${version}`);
}

function emitProperty(version: OfpVersion, writer: ByteWriter, property: QueueProperty): void {
  // OFPQT_NONE is 1.0's alone; MAX_RATE and EXPERIMENTER came with 1.2.
  const v10 = version === OFP_VERSION_1_0;
  if (!(property.type === 'min-rate' || (property.type === 'none' ? v10 : !v10))) {
    throw new UnsupportedError(`queue property ${property.type} has no encoding in OpenFlow version ${version}`);
  }
  switch (property.type) {
    case 'none': writer.u16(OFPQT_NONE).u16(PROPERTY_HEADER_SIZE).u32(0); return;
    case 'min-rate': case 'max-rate':
      writer.u16(property.type === 'min-rate' ? OFPQT_MIN_RATE : OFPQT_MAX_RATE).u16(RATE_PROPERTY_SIZE).u32(0).u16(property.rate).u16(0).u32(0);
      return;
    case 'experimenter':
      writer.u16(OFPQT_EXPERIMENTER).u16(PROPERTY_HEADER_SIZE + 8 + property.data.length).u32(0).u32(property.experimenter).u32(0).bytes(property.data);
  }
}

export function parseQueue(version: OfpVersion, reader: ByteReader): PacketQueue {
  const queueId = reader.u32();
  const v10 = version === OFP_VERSION_1_0;
  const port = v10 ? 0 : reader.u32();
  const body = v10 ? readRecord(reader, 8, 'queue', 4) : readRecord(reader, 16, 'queue', 8);
  body.skip(v10 ? 2 : 6);
  const properties: QueueProperty[] = [];
  while (body.remaining > 0) properties.push(parseProperty(version, body));
  return { queueId, port, properties };
}

export function emitQueue(version: OfpVersion, writer: ByteWriter, queue: PacketQueue): void {
  const start = writer.length;
  writer.u32(queue.queueId);
  if (version === OFP_VERSION_1_0) writer.u16(0).u16(0);
  else writer.u32(queue.port).u16(0).u16(0).u32(0);
  const lengthAt = version === OFP_VERSION_1_0 ? start + 4 : start + 8;
  for (const property of queue.properties) emitProperty(version, writer, property);
  writer.patchU16(lengthAt, writer.length - start);
}

/** Reads a port number in the version's width (1.0's 16-bit ports widen, see `portFrom16`). */
export function readPort(version: OfpVersion, reader: ByteReader): number {
  return version === OFP_VERSION_1_0 ? portFrom16(reader.u16()) : reader.u32();
}

export function writePort(version: OfpVersion, writer: ByteWriter, port: number): void {
  if (version === OFP_VERSION_1_0) writer.u16(portTo16(port));
  else writer.u32(port);
}

export function parseQueueStats(version: OfpVersion, reader: ByteReader): QueueStatsEntry {
  const portNo = readPort(version, reader);
  if (version === OFP_VERSION_1_0) reader.skip(2);
  const queueId = reader.u32();
  const txBytes = reader.u64();
  const txPackets = reader.u64();
  const txErrors = reader.u64();
  if (version === OFP_VERSION_1_0) return { portNo, queueId, txBytes, txPackets, txErrors, durationSec: 0, durationNsec: 0 };
  return { portNo, queueId, txBytes, txPackets, txErrors, durationSec: reader.u32(), durationNsec: reader.u32() };
}

export function emitQueueStats(version: OfpVersion, writer: ByteWriter, entry: QueueStatsEntry): void {
  writePort(version, writer, entry.portNo);
  if (version === OFP_VERSION_1_0) writer.u16(0);
  writer.u32(entry.queueId).u64(entry.txBytes).u64(entry.txPackets).u64(entry.txErrors);
  if (version !== OFP_VERSION_1_0) writer.u32(entry.durationSec).u32(entry.durationNsec);
}
