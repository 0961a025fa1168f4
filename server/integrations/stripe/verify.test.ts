// The webhook answers a refused signature with fail(v.code, …): every code verifyStripeSignature gives must be
// in the error catalogue, at the 400 the webhook has always answered it with.
import { describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../http/errors.js';
import { stripeSignature, verifyStripeSignature } from './verify.js';

describe('verifyStripeSignature codes', () => {
  it('are catalogued at 400', () => {
    const body = Buffer.from('{"id":"evt_1"}');
    const secret = 'whsec_test';
    const now = 1_800_000_000;
    const old = now - 3600;
    const results = [
      verifyStripeSignature(body, undefined, secret, now),
      verifyStripeSignature(body, 'v1=abc', secret, now),
      verifyStripeSignature(body, `t=${now}`, secret, now),
      verifyStripeSignature(body, `t=${now},v1=${'0'.repeat(64)}`, secret, now),
      verifyStripeSignature(body, `t=${old},v1=${stripeSignature(secret, old, body)}`, secret, now),
    ];
    const codes = results.map((r) => (r.ok ? 'ok' : r.code));
    expect(codes).toEqual(['missing_signature', 'malformed_signature', 'malformed_signature', 'invalid_signature', 'timestamp_outside_tolerance']);
    for (const code of codes) expect(ERRORS[code as ErrorCode]?.status, code).toBe(400);
  });
});
