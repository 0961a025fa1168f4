// The browser ids a backend purchase takes from its visitor's earlier events, per provider. Pure.
import { describe, expect, it } from 'vitest';
import type { OutboxItem } from './adapter.js';
import { lackingBrowserIds, withBrowserIds } from './browser-ids.js';

const item = (id: number, data: OutboxItem['data']): OutboxItem => ({ id, event_id: `e${id}`, event_name: 'order_completed', occurred_at: '2026-11-30T12:00:00.000Z', legal_basis: 'consent', data, user_data: null, attempts: 1 });
const found = (id: number) => ({ id: String(id), fbp: 'fb.1.1.2', fbc: null as string | null, ttp: 'TTP', ga_client_id: '1.2', ga_session_ids: { 'G-AB12CD34': '77' } });

describe('browser ids for a conversion', () => {
  it('looks up only the rows that lack the provider\'s ids and have a visitor', () => {
    const rows = [item(1, { visitor_id: 'v' }), item(2, { visitor_id: 'v', fbp: 'fb.1.9.9' }), item(3, {}), item(4, { visitor_id: 'v', fbp: 'fb.1.9.9', fbc: 'fb.1.9.C' })];
    // Meta: fbp and fbc (a returning visitor's ad click, its _fbc cookie) are both looked up.
    expect(lackingBrowserIds('meta', rows).map((r) => r.id)).toEqual([1, 2]);
    expect(lackingBrowserIds('tiktok', rows).map((r) => r.id)).toEqual([1, 2, 4]);
    expect(lackingBrowserIds('google_ads', rows)).toEqual([]);
  });
  it('fills the provider\'s fields only, the event\'s own winning', () => {
    const rows = [item(1, { visitor_id: 'v' }), item(2, { visitor_id: 'v', fbp: 'fb.1.9.9' })];
    expect(withBrowserIds('meta', rows, [found(1), found(2)]).map((r) => r.data)).toEqual([{ visitor_id: 'v', fbp: 'fb.1.1.2' }, { visitor_id: 'v', fbp: 'fb.1.9.9' }]);
    expect(withBrowserIds('ga4', rows, [found(1)])[0].data).toEqual({ visitor_id: 'v', ga_client_id: '1.2', ga_session_ids: { 'G-AB12CD34': '77' } });
    expect(withBrowserIds('tiktok', rows, [{ ...found(1), ttp: null }])[0].data).toEqual({ visitor_id: 'v' });
    expect(withBrowserIds('meta', rows, [{ ...found(1), fbc: 'fb.1.5.CLICK' }, { ...found(2), fbc: 'fb.1.5.CLICK' }]).map((r) => r.data)).toEqual([
      { visitor_id: 'v', fbp: 'fb.1.1.2', fbc: 'fb.1.5.CLICK' }, { visitor_id: 'v', fbp: 'fb.1.9.9', fbc: 'fb.1.5.CLICK' }]);
  });
});
