import { describe, expect, it } from 'vitest';
import { forwardedFor } from './uws.js';

describe('forwardedFor (TRUST_PROXY=1)', () => {
  it('takes the entry the trusted proxy appended, the last one, not what the client wrote before it', () => {
    expect(forwardedFor('6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
    expect(forwardedFor('203.0.113.9')).toBe('203.0.113.9');
    expect(forwardedFor(' 2001:db8::1 ')).toBe('2001:db8::1');
  });
  it('ignores a last entry that is not an IP address (the socket address is used instead)', () => {
    for (const h of ['not-an-ip', '1.2.3.4, nope', '', undefined, '1.2.3.4,', '999.1.1.1']) expect(forwardedFor(h)).toBeNull();
  });
});
