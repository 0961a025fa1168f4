import { describe, expect, it } from 'vitest';
import { device, fillWebDetection, fromSdk, liftEntities, pageType } from './web-fill.js';

describe('page type and device (the tables SDK 1.1 shipped)', () => {
  it('detects page types as the seed does', () => {
    const table: [string, string][] = [
      ['/', 'home'], ['/home', 'home'], ['/events', 'listing'], ['/events/', 'listing'], ['/events/rock-night', 'event'],
      ['/event/123', 'event'], ['/checkout', 'checkout'], ['/events/12/checkout', 'checkout'], ['/cart', 'cart'],
      ['/artist/queen', 'artist'], ['/venues/arena', 'venue'], ['/search', 'search'], ['/shop/tees', 'shop'],
      ['/product/9', 'shop'], ['/account', 'account'], ['/about', 'other'],
    ];
    for (const [path, type] of table) expect(pageType(path), path).toBe(type);
  });

  it('detects device type, OS and browser', () => {
    const table: [string, string, string, string][] = [
      ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0', 'desktop', 'Windows', 'Edge'],
      ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'mobile', 'iOS', 'Safari'],
      ['Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1', 'tablet', 'iOS', 'Chrome'],
      ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36', 'mobile', 'Android', 'Chrome'],
      ['Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0 Safari/537.36', 'tablet', 'Android', 'Samsung Internet'],
      ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5; rv:127.0) Gecko/20100101 Firefox/127.0', 'desktop', 'macOS', 'Firefox'],
      ['Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36', 'desktop', 'ChromeOS', 'Chrome'],
      ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 OPR/111.0', 'desktop', 'Linux', 'Opera'],
    ];
    for (const [ua, device_type, os, browser] of table) expect(device(ua), ua).toEqual({ device_type, os, browser });
  });
});

describe('fillWebDetection', () => {
  const UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
  const MOBILE = { device_type: 'mobile', os: 'iOS', browser: 'Safari' };

  it('fills device, the page type and a page_view payload page_type where the SDK left them out', () => {
    const context = { page: { url: 'https://s.example/events/E1', path: '/events/E1', title: 'E1' }, locale: 'en' };
    const payload = { navigation_type: 'navigate' };
    const out = fillWebDetection('page_view', context, payload, UA);
    expect(out).toEqual({ context: { page: { url: 'https://s.example/events/E1', path: '/events/E1', title: 'E1', page_type: 'event' }, locale: 'en', device: MOBILE }, payload: { navigation_type: 'navigate', page_type: 'event' } });
    expect(context.page).not.toHaveProperty('page_type'); // the arguments are left alone
    expect(payload).not.toHaveProperty('page_type');
    // Another event: only the context.
    expect(fillWebDetection('add_to_cart', context, {}, UA).payload).toEqual({});
  });

  it('keeps what the client sent: SDK 1.1 detection, a site override, an explicit payload page_type', () => {
    const sent = { page: { path: '/fest/1', page_type: 'festival' }, device: { device_type: 'desktop', os: 'Linux', browser: 'Chrome' } };
    const out = fillWebDetection('page_view', sent, {}, UA);
    expect(out.context).toEqual(sent);
    expect(out.payload).toEqual({ page_type: 'festival' }); // SDK 1.2 puts a site's override in context.page only
    expect(fillWebDetection('page_view', sent, { page_type: 'mine' }, UA).payload).toEqual({ page_type: 'mine' });
    expect(fillWebDetection('page_view', { page: { path: '/', page_type: null } }, {}, UA).payload).toEqual({});
  });

  it('derives nothing it has no input for', () => {
    expect(fillWebDetection('page_view', {}, {}, null)).toEqual({ context: {}, payload: {} });
    expect(fillWebDetection('page_view', { page: { url: 'x' } }, {}, null).context).toEqual({ page: { url: 'x' } });
    expect(fillWebDetection('page_view', { page: 'nope' }, {}, null).context).toEqual({ page: 'nope' });
  });
});

describe('liftEntities', () => {
  const declared = { ticket_type_id: { type: 'string' }, qty: 'number' };
  const sdk = { library: 'tx-sdk/1.2.0' };

  it('moves entity ids from the payload to entities, keeping a declared one in both', () => {
    const ev = { event_name: 'ticket_type_selected', context: sdk, entities: { organizer_id: 'O9' }, payload: { event_entity_id: 'E1', organizer_id: 'O1', ticket_type_id: 'GA', qty: 2 } };
    const out = liftEntities(ev, declared);
    expect(out.entities).toEqual({ organizer_id: 'O1', event_entity_id: 'E1', ticket_type_id: 'GA' }); // props win, as in SDK 1.1
    expect(out.payload).toEqual({ ticket_type_id: 'GA', qty: 2 });
    expect(ev.payload).toHaveProperty('event_entity_id'); // the argument is left alone
    expect(liftEntities({ context: sdk, payload: { cart_id: null } }, {})).toEqual({ context: sdk, entities: { cart_id: null }, payload: {} });
  });

  it("leaves another sender's web event as sent: its payload is its own", () => {
    const payload = { event_entity_id: 'E1', organizer_id: 'O1', ticket_type_id: 'GA', qty: 2 };
    for (const context of [undefined, {}, { library: 'posthog-js/1.0' }, { library: 'my-tx-sdk/1' }, { library: 7 }, 'tx-sdk/1.2.0']) {
      const ev = { event_name: 'ticket_type_selected', context, entities: { organizer_id: 'O9' }, payload };
      const out = liftEntities(ev, declared);
      expect(out, JSON.stringify(context)).toBe(ev);
      expect(out.payload).toEqual({ event_entity_id: 'E1', organizer_id: 'O1', ticket_type_id: 'GA', qty: 2 });
      expect(out.entities).toEqual({ organizer_id: 'O9' });
    }
    expect(fromSdk({ context: { library: 'tx-sdk/1.1.0' } })).toBe(true);
  });

  it('leaves an event without flat ids, or with a broken shape, to the validator as sent', () => {
    const plain = { context: sdk, entities: { cart_id: 'C1' }, payload: { cart_value: 1 } };
    expect(liftEntities(plain, declared)).toBe(plain);
    const broken = { context: sdk, entities: 'C1', payload: { cart_id: 'C1' } };
    expect(liftEntities(broken, declared)).toBe(broken);
    const noPayload = { context: sdk, payload: ['cart_id'] };
    expect(liftEntities(noPayload, declared)).toBe(noPayload);
    // A key on the prototype chain is not the payload's own.
    expect(liftEntities({ context: sdk, payload: JSON.parse('{"__proto__": {"cart_id": "x"}}') }, {}).entities).toBeUndefined();
  });
});
