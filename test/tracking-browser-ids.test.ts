// The pixel loader reads the ad platforms' first-party cookies into the event context (README "The envelope"), with
// the consent each needs and the patterns the server checks. Pure, no browser.
import { describe, expect, it } from 'vitest';
import { browserIds } from '../client/sdk/pixel-events.js';

const JAR = '_fbp=fb.1.1596403881668.1116446470; _ttp=2Ho2bOEhL4lXgNMaEwmJbEIUpH3; _ga=GA1.1.1234567890.1700000000; '
  + '_ga_AB12CD34=GS1.1.1700000123.3.1.1700000200.0.0.0; _ga_ZZ99ZZ99=GS2.1.s1700000456$o3$g1$t1700000500$j0$l0$h0; other=1';

describe('browserIds (the platforms\' cookies → context)', () => {
  it('reads Meta\'s and TikTok\'s with marketing consent, GA4\'s client and session ids with analytics consent', () => {
    expect(browserIds(JAR, { marketing: true, analytics: true }, ['G-AB12CD34', 'G-ZZ99ZZ99', 'G-NOCOOKIE'])).toEqual({
      fbp: 'fb.1.1596403881668.1116446470', ttp: '2Ho2bOEhL4lXgNMaEwmJbEIUpH3', ga_client_id: '1234567890.1700000000',
      ga_session_ids: { 'G-AB12CD34': '1700000123', 'G-ZZ99ZZ99': '1700000456' },
    });
    expect(browserIds(JAR, { marketing: true }, ['G-AB12CD34'])).toEqual({ fbp: 'fb.1.1596403881668.1116446470', ttp: '2Ho2bOEhL4lXgNMaEwmJbEIUpH3' });
    expect(browserIds(JAR, { analytics: true }, [])).toEqual({ ga_client_id: '1234567890.1700000000' });
    expect(browserIds(JAR, {}, ['G-AB12CD34'])).toEqual({});
  });
  it('reads Meta\'s click id cookie _fbc (fb.<n>.<ms>.<fbclid>) with marketing consent only, and only well-formed', () => {
    const jar = '_fbp=fb.1.1596403881668.1116446470; _fbc=fb.1.1796000000000.OLDCLICK';
    expect(browserIds(jar, { marketing: true }, [])).toEqual({ fbp: 'fb.1.1596403881668.1116446470', fbc: 'fb.1.1796000000000.OLDCLICK' });
    expect(browserIds(jar, { analytics: true }, [])).toEqual({});
    for (const bad of ['OLDCLICK', 'fb.1.1796000000000.', 'fb.1.x.OLDCLICK', 'fb.1.1796000000000.a<b', 'fb.1.1796000000000.' + 'x'.repeat(241)]) {
      expect(browserIds(`_fbc=${bad}`, { marketing: true }, []), bad).toEqual({});
    }
  });
  it('leaves malformed values out (the server would refuse the event)', () => {
    expect(browserIds('_fbp=fb.1.x<y; _ttp=a b; _ga=GA1.1.abc.def', { marketing: true, analytics: true }, [])).toEqual({});
  });
});
