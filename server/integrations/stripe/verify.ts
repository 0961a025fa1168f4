// Stripe webhook signatures, exactly as Stripe documents them: HMAC-SHA256 of "<t>.<raw body>" with the
// endpoint's signing secret, any of several v1 signatures, timestamp tolerance.
import crypto from 'node:crypto';

export const STRIPE_TOLERANCE_S = 300;

/** Why a signature is refused: error codes of the catalogue (http/errors.ts), each answered 400. */
export type SignatureRefusal = 'missing_signature' | 'malformed_signature' | 'invalid_signature' | 'timestamp_outside_tolerance';
export type VerifyResult = { ok: true; timestamp: number } | { ok: false; code: SignatureRefusal; message: string };

/** Stripe's own test helper computes the same value: hex HMAC-SHA256(secret, `${t}.${payload}`). */
export function stripeSignature(secret: string, t: number | string, rawBody: Buffer | string): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  return crypto.createHmac('sha256', secret).update(`${t}.`, 'utf8').update(body).digest('hex');
}

/**
 * Verifies a `Stripe-Signature` header (`t=…,v1=…[,v1=…][,v0=…]`) against the raw request bytes.
 * Every v1 value is compared in constant time (several are sent while a secret is being rolled); other
 * schemes (v0 is test-mode only) are ignored. `nowS` is the current Unix time in seconds.
 */
export function verifyStripeSignature(rawBody: Buffer, header: string | undefined, secret: string, nowS: number, toleranceS = STRIPE_TOLERANCE_S): VerifyResult {
  if (!header) return { ok: false, code: 'missing_signature', message: 'The Stripe-Signature header is missing.' };
  let t: number | null = null;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    if (k === 't') t = /^\d{1,12}$/.test(v) ? Number(v) : NaN;
    else if (k === 'v1') v1.push(v);
  }
  if (t === null || Number.isNaN(t)) return { ok: false, code: 'malformed_signature', message: 'The Stripe-Signature header has no valid timestamp (t=…).' };
  if (v1.length === 0) return { ok: false, code: 'malformed_signature', message: 'The Stripe-Signature header has no v1 signature.' };
  const expected = Buffer.from(stripeSignature(secret, t, rawBody), 'hex');
  let match = false;
  for (const sig of v1) {
    const got = /^[0-9a-f]{64}$/i.test(sig) ? Buffer.from(sig, 'hex') : null;
    // Keep comparing after a hit so the time taken does not depend on which value matched.
    if (got && got.length === expected.length && crypto.timingSafeEqual(got, expected)) match = true;
  }
  if (!match) return { ok: false, code: 'invalid_signature', message: 'No v1 signature matches the payload for this endpoint secret (was the body modified or re-serialised?).' };
  if (Math.abs(nowS - t) > toleranceS) {
    return { ok: false, code: 'timestamp_outside_tolerance', message: `The signature timestamp is more than ${toleranceS} s away from the server clock (replay protection).` };
  }
  return { ok: true, timestamp: t };
}
