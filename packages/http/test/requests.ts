// Generated HTTP/1.1 requests as raw bytes, for the differential and server property tests.
// The generator is @morgana/testing/http's; this file adapts it to the shape node:http reports.
import { concatBytes } from '@morgana/core';
import { arbHttpRequest, encodeHttpRequest, httpRequestMeaning } from '@morgana/testing/http';
import type { HttpRequestRepr } from '@morgana/testing/http';
import fc from 'fast-check';
import { HttpParser, type MessageHead } from '../src/index.js';

export type GeneratedRequest = HttpRequestRepr;

export const requestArb: fc.Arbitrary<GeneratedRequest> = arbHttpRequest();

/** The request's bytes. `last` says whether a later request follows (then the connection must persist). */
export const encodeRequest: (r: GeneratedRequest, last?: boolean) => Uint8Array = encodeHttpRequest;

export const concat: (parts: readonly Uint8Array[]) => Uint8Array = concatBytes;

/** A request as a parser read it. */
export interface Reading {
  method: string;
  target: string;
  minorVersion: number;
  headers: [string, string][];
  body: string;
  trailers: [string, string][];
}

/** What our parser reads from `bytes`: the complete requests, and the error that stopped it, if any. */
export function readWithOurs(bytes: Uint8Array, cuts: readonly number[] = []): { requests: Reading[]; error: string | undefined } {
  const requests: Reading[] = [];
  let current: { head: MessageHead; body: string } | undefined;
  let error: string | undefined;
  const parser = new HttpParser('request', {
    onHead: (head) => {
      current = { head, body: '' };
    },
    onData: (data) => {
      if (current !== undefined) for (const b of data) current.body += String.fromCharCode(b);
    },
    onEnd: (trailers) => {
      if (current === undefined) return;
      const { head, body } = current;
      requests.push({ method: head.method, target: head.target, minorVersion: head.minorVersion, headers: [...head.headers], body, trailers: [...trailers] });
      current = undefined;
      // A server reads nothing after a message that ends the connection (RFC 9112 §9.6).
      if (!head.keepAlive) parser.pause();
    },
    onError: (e) => {
      error = `${e.status} ${e.message}`;
    },
  });
  let last = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    parser.push(bytes.subarray(last, cut));
    last = cut;
  }
  parser.push(bytes.subarray(last));
  parser.finish();
  return { requests, error };
}

/** What a generated request means, in the form a parser reports. */
export function meaning(r: GeneratedRequest, last = true): Reading {
  const { method, target, minorVersion, headers, body, trailers } = httpRequestMeaning(r, last);
  return { method, target, minorVersion, headers: headers.map(([n, v]) => [n, v]), body, trailers: trailers.map(([n, v]) => [n, v]) };
}
