/**
 * `@morgana/testing/node`: pcap files on disk. The only module of the package that imports
 * Node; everything else runs on any JavaScript runtime.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { writePcap, type PcapRecordInput, type PcapWriteOptions } from './pcap.js';
import type { ByteSink } from './wiretap.js';

/** Writes a whole pcap file (header and records), replacing any file at `path`. */
export function writePcapFile(path: string, records: Iterable<PcapRecordInput>, options: PcapWriteOptions = {}): void {
  writeFileSync(path, writePcap(records, options));
}

/** A {@link ByteSink} that appends to a file as frames are recorded, so a crashed test still leaves a readable capture. */
export interface PcapFileSink {
  readonly sink: ByteSink;
  /** Closes the file; chunks written later are ignored. Idempotent. */
  close(): void;
}

/** Creates (or truncates) `path` and returns a sink writing to it. */
export function createPcapFileSink(path: string): PcapFileSink {
  let descriptor: number | undefined = openSync(path, 'w');
  return {
    sink(chunk) {
      if (descriptor === undefined) return;
      let offset = 0;
      while (offset < chunk.length) offset += writeSync(descriptor, chunk, offset, chunk.length - offset);
    },
    close() {
      if (descriptor === undefined) return;
      closeSync(descriptor);
      descriptor = undefined;
    },
  };
}
