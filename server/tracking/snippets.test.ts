import { describe, expect, it } from 'vitest';
import { nonceOk, publicCode, renderSnippets, scriptJson, type PublicCode } from './snippets.js';

const code = (provider: PublicCode['provider'], id: string, extra: Partial<PublicCode> = {}): PublicCode => ({
  provider, owner: 'organizer', consent: provider === 'ga4' ? 'analytics' : 'marketing', id, conversion_events: ['order_completed'], custom_params: {}, ...extra,
});
const ALL = [
  code('meta', '123456789012345'), code('ga4', 'G-AB12CD34'), code('gtm', 'GTM-AB12CD3'),
  code('google_ads', 'AW-123456789', { conversion_label: 'AbC' }), code('tiktok', 'CABCDEFGHIJ123456789'), code('meta', '999999999999999', { owner: 'marketplace' }),
];
const NONCE = 'rAnd0m+n0nce/Val==';

/** Every <script …> opening tag of some HTML. */
const scriptTags = (html: string) => html.match(/<script\b[^>]*>/g) ?? [];

describe('renderSnippets', () => {
  it('puts the nonce on every script tag, and the scripts the stubs create get it too', () => {
    const s = renderSnippets(ALL, NONCE);
    const tags = scriptTags(s.head + s.body);
    expect(tags.length).toBeGreaterThanOrEqual(6);
    for (const t of tags) expect(t).toContain(`nonce="${NONCE}"`);
    // TikTok's loader sets the nonce on the script it inserts; GTM copies it from the page's first nonce'd element.
    expect(s.head).toContain(`s.setAttribute("nonce","${NONCE}")`);
    expect(s.head).toContain("j.setAttribute('nonce',n.nonce||n.getAttribute('nonce'))");
    for (const c of s.codes) for (const t of scriptTags(c.head)) expect(t).toContain(`nonce="${NONCE}"`);
  });

  it('has no inline event handler attribute and no javascript: URL', () => {
    const s = renderSnippets(ALL, NONCE);
    expect(s.head + s.body).not.toMatch(/<[^>]*\son[a-z]+\s*=/i);
    expect(s.head + s.body).not.toMatch(/javascript:/i);
  });

  it('loads a library once for several codes, and fires each Meta pixel\'s PageView on that pixel only', () => {
    const s = renderSnippets(ALL, NONCE);
    expect(s.head.split('fbevents.js').length - 1).toBe(1);
    expect(s.head).toContain('fbq(\'trackSingle\',"123456789012345",\'PageView\',{})');
    expect(s.head).toContain('fbq(\'trackSingle\',"999999999999999",\'PageView\',{})');
    expect(s.codes.map((c) => `${c.provider}:${c.owner}:${c.consent}`)).toEqual([
      'meta:organizer:marketing', 'ga4:organizer:analytics', 'gtm:organizer:marketing', 'google_ads:organizer:marketing', 'tiktok:organizer:marketing', 'meta:marketplace:marketing',
    ]);
    expect(s.body).toContain('https://www.facebook.com/tr?id=123456789012345&amp;ev=PageView&amp;noscript=1');
    expect(s.body).toContain('https://www.googletagmanager.com/ns.html?id=GTM-AB12CD3');
  });

  it('leaves out a code whose id does not match its provider (a quote in it) instead of interpolating it', () => {
    const evil = code('ga4', "G-AB12'+alert(1)+'");
    const s = renderSnippets([evil, code('meta', '123456789012345"><script>alert(1)</script>')], NONCE);
    expect(s.codes).toEqual([]);
    expect(s.refused).toHaveLength(2);
    expect(s.head + s.body).toBe('');
  });

  it('escapes custom params so no value can close the script element', () => {
    const s = renderSnippets([code('ga4', 'G-AB12CD34', { custom_params: { x: '</script><img src=x>', y: "it's & more" } })], NONCE);
    expect(s.head).not.toContain('</script><img');
    expect(s.head).toContain('\\u003c/script\\u003e');
    expect(JSON.parse(scriptJson({ a: '</script>\u2028&\'' }))).toEqual({ a: '</script>\u2028&\'' });
  });

  it('refuses to render with an unchecked nonce', () => {
    expect(() => renderSnippets(ALL, 'abc"><')).toThrow();
  });
});

describe('nonceOk', () => {
  it('takes base64 / base64url of 8-128 characters only', () => {
    for (const n of ['abcdefgh', 'rAnd0m+n0nce/Val==', 'a-b_c-d_e', 'x'.repeat(128)]) expect(nonceOk(n), n).toBe(true);
    for (const n of ['', 'short', 'abc"defgh', "abcd'efgh", 'abcd efgh', 'abcd<efgh', 'x'.repeat(129), 'abcdefgh===', 'abc\u0000defgh']) expect(nonceOk(n), n).toBe(false);
  });
});

describe('publicCode', () => {
  it('shows the id, consent and options, never a test event code', () => {
    const p = publicCode({ provider: 'meta', owner: 'event', settings: { pixel_id: '123456789012345', test_event_code: 'TEST1', advanced_matching: true, conversion_events: ['add_to_cart'], custom_params: { a: 1 } } });
    expect(p).toEqual({ provider: 'meta', owner: 'event', consent: 'marketing', id: '123456789012345', advanced_matching: true, conversion_events: ['add_to_cart'], custom_params: { a: 1 } });
  });
});

describe('publicCode', () => {
  it('never publishes Google Ads\' server-only settings, even left in custom_params by an older version', () => {
    const pub = publicCode({ provider: 'google_ads', owner: 'organizer', settings: { conversion_id: 'AW-123456789', customer_id: '1234567890', conversion_action_id: '5', custom_params: { customer_id: '123-456-7890', conversion_action_id: '555', x: 1 } } });
    expect(pub).toEqual({ provider: 'google_ads', owner: 'organizer', consent: 'marketing', id: 'AW-123456789', conversion_events: ['order_completed'], custom_params: { x: 1 } });
    expect(renderSnippets([pub], 'abcdefgh12').head).not.toMatch(/customer_id|conversion_action_id/);
  });
});

