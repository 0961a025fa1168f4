import { describe, expect, it } from 'vitest';
import { forwardedFor, send, type AbortState, type HttpResponse } from './uws.js';

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

describe('send', () => {
  const fakeRes = () => {
    const out = { status: '', headers: {} as Record<string, string>, body: undefined as string | undefined };
    const res = {
      cork: (f: () => void) => f(),
      writeStatus: (s: string) => { out.status = s; return res; },
      writeHeader: (k: string, v: string) => { out.headers[k] = v; return res; },
      end: (b: string) => { out.body = b; return res; },
      endWithoutBody: () => res,
    };
    return { res: res as unknown as HttpResponse, out };
  };
  it('answers 500 internal (logged) when the reply cannot be serialised, instead of leaving the request open', () => {
    const { res, out } = fakeRes();
    const logged: unknown[] = [];
    const log = { error: (o: unknown) => { logged.push(o); } };
    const state = { aborted: false, done: false } as AbortState;
    // JSON.stringify throws on a BigInt as it does (RangeError: Invalid string length) on a reply too long for a string.
    send(res, state, { status: 200, body: { n: 1n } }, log);
    expect(out.status).toBe('500 Internal Server Error');
    expect(JSON.parse(out.body!)).toEqual({ error: { code: 'internal', message: 'Internal error.' } });
    expect(logged).toHaveLength(1);
    expect(state.done).toBe(true);
  });
  it('answers a serialisable reply as it is', () => {
    const { res, out } = fakeRes();
    send(res, { aborted: false, done: false } as AbortState, { status: 200, body: { a: 1 } });
    expect(out).toMatchObject({ status: '200 OK', body: '{"a":1}', headers: { 'Content-Type': 'application/json' } });
  });
});
