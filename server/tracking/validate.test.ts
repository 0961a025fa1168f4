import { describe, expect, it } from 'vitest';
import { applySecrets, checkProviderId, parseCodePatch, parseNewCode, parseSettings } from './validate.js';

const field = (p: { ok: boolean; error?: { field: string } }) => (p.ok ? null : p.error!.field);

describe('tracking code ids per provider (the XSS guard)', () => {
  it('accepts the documented formats', () => {
    for (const [provider, id] of [
      ['meta', '123456789012345'], ['meta', '1234567890123456'], ['ga4', 'G-AB12CD34EF'], ['gtm', 'GTM-AB12CD3'],
      ['google_ads', 'AW-123456789'], ['tiktok', 'CABCDEFGHIJ123456789'], ['tiktok', 'D17TA5JC77UDOT6CA5FG'],
    ] as const) expect(checkProviderId(provider, id)).toEqual({ ok: true, value: id });
  });

  it('refuses anything else, quotes and markup first, with a message saying what the id looks like', () => {
    for (const [provider, id] of [
      ['meta', '12345678901234'], ['meta', '12345678901234567'], ['meta', "123456789012345'"], ['ga4', 'g-ab12cd34'], ['ga4', 'G-AB12"><script>'],
      ['ga4', 'UA-1234-1'], ['gtm', 'GTM-ab12'], ['gtm', "GTM-AB12');alert(1)//"], ['google_ads', 'AW-12a45678'], ['google_ads', '123456789'],
      ['tiktok', 'cabcdefghij123456789'], ['tiktok', 'CABCDEFGHIJ12345678'], ['tiktok', 'CABCDEFGHIJ1234567890'], ['meta', 123456789012345],
    ] as const) {
      const r = checkProviderId(provider, id);
      expect(r.ok, `${provider} ${String(id)}`).toBe(false);
      if (!r.ok) expect(r.message).toMatch(/e\.g\./);
    }
  });
});

describe('parseNewCode', () => {
  it('fills the defaults: enabled, conversion_events order_completed, no custom params', () => {
    const r = parseNewCode({ provider: 'ga4', organizer_id: 'O1', settings: { measurement_id: 'G-AB12CD34' } });
    expect(r).toEqual({ ok: true, value: { provider: 'ga4', organizer_id: 'O1', event_id: null, enabled: true, settings: { measurement_id: 'G-AB12CD34', conversion_events: ['order_completed'], custom_params: {} }, secrets: {} } });
  });

  it('names the field at fault', () => {
    const meta = { pixel_id: '123456789012345' };
    expect(field(parseNewCode(null))).toBe('$');
    expect(field(parseNewCode({ provider: 'meta', settings: meta, extra: 1 }))).toBe('extra');
    expect(field(parseNewCode({ provider: 'facebook', settings: meta }))).toBe('provider');
    expect(field(parseNewCode({ provider: 'meta', event_id: 'E1', settings: meta }))).toBe('organizer_id');
    expect(field(parseNewCode({ provider: 'meta', organizer_id: 'O\u0000', settings: meta }))).toBe('organizer_id');
    expect(field(parseNewCode({ provider: 'meta', organizer_id: 'x'.repeat(129), settings: meta }))).toBe('organizer_id');
    expect(field(parseNewCode({ provider: 'meta', settings: { pixel_id: '1' } }))).toBe('settings.pixel_id');
    expect(field(parseNewCode({ provider: 'meta', settings: { ...meta, measurement_id: 'G-AB12CD34' } }))).toBe('settings.measurement_id');
    expect(field(parseNewCode({ provider: 'meta', settings: { ...meta, conversion_events: ['order_completed', 'page_view'] } }))).toBe('settings.conversion_events[1]');
    expect(field(parseNewCode({ provider: 'meta', settings: { ...meta, custom_params: { 'a b': 1 } } }))).toBe('settings.custom_params.a b');
    expect(field(parseNewCode({ provider: 'meta', settings: { ...meta, custom_params: { a: { nested: 1 } } } }))).toBe('settings.custom_params.a');
    expect(field(parseNewCode({ provider: 'meta', settings: { ...meta, custom_params: { a: 'x'.repeat(101) } } }))).toBe('settings.custom_params.a');
    expect(field(parseNewCode({ provider: 'meta', settings: { ...meta, custom_params: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`p${i}`, i])) } }))).toBe('settings.custom_params');
    expect(field(parseNewCode({ provider: 'meta', settings: { ...meta, advanced_matching: 'yes' } }))).toBe('settings.advanced_matching');
    expect(field(parseNewCode({ provider: 'meta', settings: { ...meta, test_event_code: 'TEST 1' } }))).toBe('settings.test_event_code');
    expect(field(parseNewCode({ provider: 'google_ads', settings: { conversion_id: 'AW-123456789', conversion_label: 'a/b' } }))).toBe('settings.conversion_label');
    expect(field(parseNewCode({ provider: 'meta', settings: meta, secrets: { api_secret: 'x' } }))).toBe('secrets.api_secret');
    expect(field(parseNewCode({ provider: 'gtm', settings: { container_id: 'GTM-AB12CD3' }, secrets: { access_token: 'x' } }))).toBe('secrets.access_token');
    expect(field(parseNewCode({ provider: 'ga4', settings: { measurement_id: 'G-AB12CD34' }, secrets: { api_secret: '' } }))).toBe('secrets.api_secret');
    expect(field(parseNewCode({ provider: 'meta', settings: meta, enabled: 'true' }))).toBe('enabled');
    expect(parseNewCode({ provider: 'meta', settings: meta, enabled: 'true' })).toMatchObject({ ok: false, error: { message: 'enabled is true or false; got a string ("true").' } });
    expect(parseCodePatch('meta', { enabled: 1 })).toMatchObject({ ok: false, error: { field: 'enabled', message: 'enabled is true or false; got a number (1).' } });
  });

  it('keeps each provider\'s extras and dedupes conversion events', () => {
    const r = parseNewCode({
      provider: 'meta', organizer_id: 'O1', event_id: 'E1', enabled: false, secrets: { access_token: 'EAAB' },
      settings: { pixel_id: '123456789012345', advanced_matching: true, test_event_code: 'TEST123', conversion_events: ['add_to_cart', 'add_to_cart', 'order_completed'], custom_params: { content_type: 'product', value: 2, x: true } },
    });
    expect(r.ok && r.value).toMatchObject({ enabled: false, event_id: 'E1', secrets: { access_token: 'EAAB' }, settings: { advanced_matching: true, test_event_code: 'TEST123', conversion_events: ['add_to_cart', 'order_completed'] } });
  });
});

describe('parseCodePatch and applySecrets', () => {
  it('refuses a change of owner or provider, and validates settings against the stored provider', () => {
    expect(field(parseCodePatch('meta', { provider: 'ga4' }))).toBe('provider');
    expect(field(parseCodePatch('meta', { organizer_id: 'O2' }))).toBe('organizer_id');
    expect(field(parseCodePatch('meta', { settings: { measurement_id: 'G-AB12CD34' } }))).toBe('settings.measurement_id');
    expect(parseCodePatch('meta', { enabled: false })).toEqual({ ok: true, value: { enabled: false, settings: undefined, secrets: {} } });
  });

  it('sets, keeps and removes secrets per key', () => {
    expect(applySecrets({ access_token: 'a' }, {})).toEqual({ access_token: 'a' });
    expect(applySecrets({ access_token: 'a' }, { access_token: 'b' })).toEqual({ access_token: 'b' });
    expect(applySecrets({ access_token: 'a' }, { access_token: null })).toBeNull();
    expect(applySecrets({}, { api_secret: 's' })).toEqual({ api_secret: 's' });
  });

  it('parseSettings refuses a settings value that is not an object', () => {
    expect(field(parseSettings('tiktok', 'CABCDEFGHIJ123456789'))).toBe('settings');
  });
});

describe('Google Ads server-only settings', () => {
  it('moves customer_id and conversion_action_id out of custom_params (pages get custom_params) and checks them', () => {
    const r = parseSettings('google_ads', { conversion_id: 'AW-123456789', custom_params: { customer_id: '123-456-7890', conversion_action_id: 555, currency: 'EUR' } });
    expect(r).toEqual({ ok: true, value: { conversion_id: 'AW-123456789', conversion_events: ['order_completed'], custom_params: { currency: 'EUR' }, customer_id: '1234567890', conversion_action_id: '555' } });
    expect(parseSettings('google_ads', { conversion_id: 'AW-123456789', customer_id: '1234567890', conversion_action_id: '9' }).ok).toBe(true);
    expect(field(parseSettings('google_ads', { conversion_id: 'AW-123456789', customer_id: '12345' }))).toBe('settings.customer_id');
    expect(field(parseSettings('google_ads', { conversion_id: 'AW-123456789', custom_params: { conversion_action_id: 'x<' } }))).toBe('settings.custom_params.conversion_action_id');
    // Other providers: ordinary custom params (and no such settings).
    expect(parseSettings('ga4', { measurement_id: 'G-AB12CD34', custom_params: { customer_id: 'c1' } })).toMatchObject({ ok: true, value: { custom_params: { customer_id: 'c1' } } });
    expect(field(parseSettings('ga4', { measurement_id: 'G-AB12CD34', customer_id: '1234567890' }))).toBe('settings.customer_id');
  });
});

