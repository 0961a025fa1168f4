import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPseudonymizer } from './pseudo.js';

// The HMAC the pseudonym is defined as (pseudo.ts), computed here without any memory in between.
const reference = (secret: string, tenant: number, kind: string, raw: string) => {
  const key = crypto.createHmac('sha256', secret).update('tixello-live/id-pseudonym/v1').digest();
  return crypto.createHmac('sha256', key).update(`${tenant}\u0000${kind}\u0000${kind === 'event' ? raw.toLowerCase() : raw}`).digest('base64url').slice(0, 22);
};

describe('pseudonyms', () => {
  it('are the keyed HMAC of tenant, kind and id, whether remembered or not, across the memory starting again', () => {
    const p = createPseudonymizer('s3cret');
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 45_000; i += 997) expect(p(3, 'visitor', `v${i}`)).toBe(reference('s3cret', 3, 'visitor', `v${i}`));
    }
    // Past the memory's bound (it starts again empty): still the same pseudonyms.
    for (let i = 0; i < 45_000; i++) p(3, 'session', `s${i}`);
    expect(p(3, 'session', 's1')).toBe(reference('s3cret', 3, 'session', 's1'));
    p.forget();
    expect(p(3, 'session', 's1')).toBe(reference('s3cret', 3, 'session', 's1'));
  });

  it('differ by tenant, kind and secret; event ids compare case-insensitively', () => {
    const p = createPseudonymizer('a');
    expect(p(1, 'visitor', 'x')).not.toBe(p(2, 'visitor', 'x'));
    expect(p(1, 'visitor', 'x')).not.toBe(p(1, 'session', 'x'));
    expect(p(1, 'visitor', 'x')).not.toBe(createPseudonymizer('b')(1, 'visitor', 'x'));
    expect(p(1, 'event', 'ABCDEF')).toBe(p(1, 'event', 'abcdef'));
    expect(p(1, 'event', 'ABCDEF')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
