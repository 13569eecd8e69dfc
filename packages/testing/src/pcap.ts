/**
 * The classic libpcap file format: a 24-byte global header, then per frame a 16-byte record
 * header and the captured bytes. The writer produces little-endian, microsecond files with
 * LINKTYPE_ETHERNET (what tshark, tcpdump and Wireshark read everywhere); the reader accepts
 * either byte order and microsecond or nanosecond timestamps.
 *
 * Pure functions over Uint8Array: no file system here (see `@morgana/testing/node`).
 */
import { DecodeError } from '@morgana/core';

/** Magic of a microsecond-resolution file. */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
/** Magic of a nanosecond-resolution file. */
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
/** Ethernet II / 802.3 frames, starting at the destination address (no preamble, no FCS). */
export const LINKTYPE_ETHERNET = 1;
/** Length of the global (file) header. */
export const PCAP_HEADER_LENGTH = 24;
/** Length of each record header. */
export const PCAP_RECORD_HEADER_LENGTH = 16;
/** Default snapshot length: what tcpdump uses, enough for any frame a morgana stack makes. */
export const DEFAULT_SNAP_LENGTH = 262_144;

// Offsets in the global header.
const HEADER_MAGIC = 0;
const HEADER_VERSION_MAJOR = 4;
const HEADER_VERSION_MINOR = 6;
const HEADER_THISZONE = 8;
const HEADER_SIGFIGS = 12;
const HEADER_SNAPLEN = 16;
const HEADER_LINKTYPE = 20;
// Offsets in a record header.
const RECORD_SECONDS = 0;
const RECORD_FRACTION = 4;
const RECORD_CAPTURED = 8;
const RECORD_ORIGINAL = 12;

const VERSION_MAJOR = 2;
const VERSION_MINOR = 4;

/** The meaning of a global header. */
export interface PcapHeader {
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** Longest captured part of a frame. */
  readonly snapLength: number;
  readonly linkType: number;
  /** Resolution of record timestamps in the file. */
  readonly resolution: 'microsecond' | 'nanosecond';
  /** Byte order of the file's integer fields. */
  readonly littleEndian: boolean;
}

/** One captured frame. */
export interface PcapRecord {
  /** Capture time, integer microseconds since the Unix epoch (nanosecond files are truncated). */
  readonly timestampMicros: number;
  /** The captured bytes (at most the snapshot length). */
  readonly data: Uint8Array;
  /** Length of the frame on the wire; more than `data.length` when the capture was cut short. */
  readonly originalLength: number;
}

/** A record to write: `originalLength` defaults to the data's length. */
export interface PcapRecordInput {
  readonly timestampMicros: number;
  readonly data: Uint8Array;
  readonly originalLength?: number;
}

/** Options of the writer. */
export interface PcapWriteOptions {
  /** Default {@link DEFAULT_SNAP_LENGTH}; longer frames are truncated, keeping their original length. */
  readonly snapLength?: number;
  /** Default {@link LINKTYPE_ETHERNET}. */
  readonly linkType?: number;
}

/** Converts clock milliseconds (`clock.wallTime()`) to pcap microseconds. */
export function millisecondsToMicros(ms: number): number {
  return Math.round(ms * 1000);
}

/** The 24-byte global header of a little-endian microsecond file. */
export function encodePcapHeader(options: PcapWriteOptions = {}): Uint8Array {
  const snapLength = options.snapLength ?? DEFAULT_SNAP_LENGTH;
  if (!(Number.isInteger(snapLength) && snapLength > 0 && snapLength <= 0xffff_ffff)) {
    throw new RangeError(`pcap snapLength must be a positive 32-bit integer, got ${snapLength}`);
  }
  const bytes = new Uint8Array(PCAP_HEADER_LENGTH);
  const view = new DataView(bytes.buffer);
  view.setUint32(HEADER_MAGIC, PCAP_MAGIC_MICROSECONDS, true);
  view.setUint16(HEADER_VERSION_MAJOR, VERSION_MAJOR, true);
  view.setUint16(HEADER_VERSION_MINOR, VERSION_MINOR, true);
  view.setInt32(HEADER_THISZONE, 0, true);
  view.setUint32(HEADER_SIGFIGS, 0, true);
  view.setUint32(HEADER_SNAPLEN, snapLength, true);
  view.setUint32(HEADER_LINKTYPE, options.linkType ?? LINKTYPE_ETHERNET, true);
  return bytes;
}

/** One record (header and captured bytes), the data cut to `snapLength`. */
export function encodePcapRecord(record: PcapRecordInput, snapLength = DEFAULT_SNAP_LENGTH): Uint8Array {
  const micros = record.timestampMicros;
  if (!(Number.isSafeInteger(micros) && micros >= 0 && micros < 0x1_0000_0000 * 1_000_000)) {
    throw new RangeError(`pcap timestamp must be whole microseconds within 32-bit seconds, got ${micros}`);
  }
  const originalLength = record.originalLength ?? record.data.length;
  const captured = Math.min(record.data.length, snapLength);
  const bytes = new Uint8Array(PCAP_RECORD_HEADER_LENGTH + captured);
  const view = new DataView(bytes.buffer);
  view.setUint32(RECORD_SECONDS, Math.floor(micros / 1_000_000), true);
  view.setUint32(RECORD_FRACTION, micros % 1_000_000, true);
  view.setUint32(RECORD_CAPTURED, captured, true);
  view.setUint32(RECORD_ORIGINAL, Math.max(originalLength, captured), true);
  bytes.set(record.data.subarray(0, captured), PCAP_RECORD_HEADER_LENGTH);
  return bytes;
}

/** A whole file: the header, then every record in order. */
export function writePcap(records: Iterable<PcapRecordInput>, options: PcapWriteOptions = {}): Uint8Array {
  const snapLength = options.snapLength ?? DEFAULT_SNAP_LENGTH;
  const chunks = [encodePcapHeader(options)];
  let length = PCAP_HEADER_LENGTH;
  for (const record of records) {
    const chunk = encodePcapRecord(record, snapLength);
    chunks.push(chunk);
    length += chunk.length;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** A decoded file. */
export interface PcapFile {
  readonly header: PcapHeader;
  readonly records: PcapRecord[];
}

/** Decodes a global header; throws {@link DecodeError} (`pcap-truncated`, `pcap-bad-magic`, `pcap-bad-version`). */
export function parsePcapHeader(bytes: Uint8Array): PcapHeader {
  if (bytes.length < PCAP_HEADER_LENGTH) throw new DecodeError('pcap-truncated', `pcap header needs ${PCAP_HEADER_LENGTH} bytes, got ${bytes.length}`, 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let littleEndian: boolean;
  let resolution: PcapHeader['resolution'];
  const magicLittle = view.getUint32(HEADER_MAGIC, true);
  const magicBig = view.getUint32(HEADER_MAGIC, false);
  if (magicLittle === PCAP_MAGIC_MICROSECONDS || magicLittle === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = true;
    resolution = magicLittle === PCAP_MAGIC_MICROSECONDS ? 'microsecond' : 'nanosecond';
  } else if (magicBig === PCAP_MAGIC_MICROSECONDS || magicBig === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = false;
    resolution = magicBig === PCAP_MAGIC_MICROSECONDS ? 'microsecond' : 'nanosecond';
  } else {
    throw new DecodeError('pcap-bad-magic', `not a classic pcap file (magic 0x${magicBig.toString(16).padStart(8, '0')})`, 0);
  }
  const versionMajor = view.getUint16(HEADER_VERSION_MAJOR, littleEndian);
  const versionMinor = view.getUint16(HEADER_VERSION_MINOR, littleEndian);
  if (versionMajor !== VERSION_MAJOR) {
    throw new DecodeError('pcap-bad-version', `unsupported pcap version ${versionMajor}.${versionMinor}`, HEADER_VERSION_MAJOR);
  }
  return {
    versionMajor,
    versionMinor,
    snapLength: view.getUint32(HEADER_SNAPLEN, littleEndian),
    linkType: view.getUint32(HEADER_LINKTYPE, littleEndian),
    resolution,
    littleEndian,
  };
}

/**
 * Decodes a whole file. Throws {@link DecodeError} for a bad header (see {@link parsePcapHeader}),
 * a record cut short (`pcap-truncated`), or a record whose captured length exceeds its
 * original length or the snapshot length (`pcap-bad-length`). Record data are copies.
 */
export function readPcap(bytes: Uint8Array): PcapFile {
  const header = parsePcapHeader(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.littleEndian;
  const records: PcapRecord[] = [];
  let offset = PCAP_HEADER_LENGTH;
  while (offset < bytes.length) {
    if (bytes.length - offset < PCAP_RECORD_HEADER_LENGTH) {
      throw new DecodeError('pcap-truncated', `record header at byte ${offset} is cut short`, offset);
    }
    const seconds = view.getUint32(offset + RECORD_SECONDS, le);
    const fraction = view.getUint32(offset + RECORD_FRACTION, le);
    const captured = view.getUint32(offset + RECORD_CAPTURED, le);
    const originalLength = view.getUint32(offset + RECORD_ORIGINAL, le);
    const fractionLimit = header.resolution === 'microsecond' ? 1_000_000 : 1_000_000_000;
    if (fraction >= fractionLimit) {
      throw new DecodeError('pcap-bad-timestamp', `record at byte ${offset} has a sub-second field of ${fraction}`, offset + RECORD_FRACTION);
    }
    if (captured > originalLength || captured > header.snapLength) {
      throw new DecodeError(
        'pcap-bad-length',
        `record at byte ${offset} captures ${captured} bytes of ${originalLength} (snapshot length ${header.snapLength})`,
        offset + RECORD_CAPTURED,
      );
    }
    const start = offset + PCAP_RECORD_HEADER_LENGTH;
    if (bytes.length - start < captured) {
      throw new DecodeError('pcap-truncated', `record at byte ${offset} needs ${captured} bytes, ${bytes.length - start} left`, offset);
    }
    const micros = header.resolution === 'microsecond' ? fraction : Math.floor(fraction / 1000);
    records.push({ timestampMicros: seconds * 1_000_000 + micros, data: bytes.slice(start, start + captured), originalLength });
    offset = start + captured;
  }
  return { header, records };
}
