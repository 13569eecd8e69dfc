import { HttpError } from '@morgana/http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  arbHostileHttpRequest,
  arbHostileHttpVariant,
  arbHttpRequest,
  arbHttpResponse,
  encodeHttpRequest,
  encodeHttpResponse,
  httpRequestMeaning,
  httpResponseMeaning,
  readHttpMessages,
} from '../src/http.js';
import type { Mutant } from '../src/mutators.js';

function expectHttpRejected(mutant: Mutant): void {
  // The parser reports errors through onError; a throw out of push/finish is a bug.
  const { error } = readHttpMessages('request', mutant.bytes);
  if (error !== undefined) expect(error).toBeInstanceOf(HttpError);
  if (mutant.invalid) expect(error, `${mutant.mutation} was accepted`).toBeInstanceOf(HttpError);
}

describe('HTTP arbitraries (@morgana/testing/http)', () => {
  it('yields requests the parser reads as they mean, however the bytes are cut', () => {
    fc.assert(
      fc.property(arbHttpRequest(), fc.array(fc.nat(), { maxLength: 4 }), (request, cuts) => {
        const { messages, error } = readHttpMessages('request', encodeHttpRequest(request), cuts);
        expect(error).toBeUndefined();
        expect(messages).toEqual([httpRequestMeaning(request)]);
      }),
      { numRuns: 200 },
    );
  });

  it('yields responses the parser reads as they mean', () => {
    fc.assert(
      fc.property(arbHttpResponse(), (response) => {
        const { messages, error } = readHttpMessages('response', encodeHttpResponse(response));
        expect(error).toBeUndefined();
        expect(messages).toEqual([httpResponseMeaning(response)]);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses CL+TE, bare CR/LF, obs-fold, huge or too many fields, bad chunk sizes, unknown codings and versions (RFC 9112)', () => {
    fc.assert(
      fc.property(arbHttpRequest({ maxBody: 50 }).chain(arbHostileHttpVariant), (mutant) => {
        expect(mutant.invalid).toBe(true);
        expectHttpRejected(mutant);
      }),
      { numRuns: 300 },
    );
  });

  it('hostile requests never make the parser throw, only report an HttpError', () => {
    fc.assert(
      fc.property(arbHostileHttpRequest(), (mutant) => {
        expectHttpRejected(mutant);
      }),
      { numRuns: 300 },
    );
  });
});
