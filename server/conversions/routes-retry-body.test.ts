// POST /api/v1/conversions/retry's body: a destination of another type than a string is answered as such (the
// type it was sent as), not as missing.
import { describe, expect, it } from 'vitest';
import { parseBulkRetry } from './routes.js';

const SHAPE = 'Send {"destination":"<provider>:<tracking code id>"} (e.g. {"destination":"meta:12"}).';

describe('POST /api/v1/conversions/retry {"destination": <not a string>}', () => {
  it('says the destination is the wrong type, naming the type it was sent as', () => {
    const shown: [unknown, string][] = [[123, 'a number (123)'], [null, 'null'], [['meta:12'], 'an array'], [{ id: 12 }, 'an object'], [true, 'true']];
    for (const [value, kind] of shown) {
      const r = parseBulkRetry({ destination: value });
      expect(!r.ok && r.error, JSON.stringify(value)).toEqual({ code: 'invalid_field', in: 'body', field: 'destination', message: `destination must be a string; got ${kind}. ${SHAPE}` });
    }
  });
  it('says it is required only when it is missing or empty', () => {
    for (const missing of [{}, { destination: '' }]) {
      const r = parseBulkRetry(missing);
      expect(!r.ok && r.error, JSON.stringify(missing)).toEqual({ code: 'invalid_field', in: 'body', field: 'destination', message: `destination is required. ${SHAPE}` });
    }
  });
});
