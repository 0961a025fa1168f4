// scrubBody: a body kept as sent (a rejected event, a body of the wrong shape, text that is not JSON) keeps
// no clear contact data, names or full IP: what a stored event keeps of them (digests, an IP cut to /24 or /48).
import { describe, expect, it } from 'vitest';
import { scrubBody } from './pii.js';

describe('scrubBody', () => {
  it('truncates IPs and hashes names and postal codes wherever they sit, whatever the shape', () => {
    const body = '{"events":[{"context":{"ip":"203.0.113.77"},"payload":{"customer":{"first_name":"Ana","last_name":"Pop","zip":"700001"}}}],"x":{"ip" : "2001:db8:1:2::5"}';
    const out = scrubBody(body);
    for (const clear of ['203.0.113.77', '"Ana"', '"Pop"', '700001', '2001:db8:1:2::5']) expect(out).not.toContain(clear);
    expect(out).toContain('"ip":"203.0.113.0"');
    expect(out).toContain('"ip" : "2001:db8:1::"');
    expect(out).toMatch(/"first_name":"sha256:[0-9a-f]{64}"/);
    // Not an IP at all: nothing is kept of it.
    expect(scrubBody('{"ip":"not-an-ip"}')).toBe('{"ip":null}');
  });
});
