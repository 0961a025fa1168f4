import { describe, expect, it } from 'vitest';
import { normalOrigin, parseOrigins } from './api-routes.js';

describe('allowed origins', () => {
  it('stores each origin as a browser sends it: lower-case host, no default port, IDN as punycode', () => {
    expect(parseOrigins(['https://Shop.Example.com', 'https://a.example:443', 'http://b.example:80', 'https://c.example:8443', '*'])).toEqual({
      ok: true, value: ['https://shop.example.com', 'https://a.example', 'http://b.example', 'https://c.example:8443', '*'],
    });
    expect(normalOrigin('https://bücher.example')).toEqual({ ok: true, origin: 'https://xn--bcher-kva.example' });
    expect(parseOrigins(['https://a.example', 'https://A.example:443'])).toEqual({ ok: true, value: ['https://a.example'] });
  });
  it('refuses what can never match an Origin header, saying why', () => {
    for (const [o, why] of [['https://*.example.com', /wildcard/], ['https://a.example/path', /no path/], ['ftp://a.example', /scheme/], ['https://u:p@a.example', /credentials/], ['https://a.example:99999', /not a valid URL/]] as const) {
      const p = parseOrigins([o]);
      expect(p.ok, o).toBe(false);
      if (!p.ok) expect(p.error.message, o).toMatch(why);
    }
  });
});
