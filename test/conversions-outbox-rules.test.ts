// What the outbox projector queues (sql/queries/conversions.sql project_outbox), on the embedded store with the
// projector called directly: which codes are server-side destinations at all, and which consent each provider
// needs under the tenant's legal basis.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxProjector } from '../server/conversions/outbox.js';
import type { Db } from '../server/store/db.js';
import type { EventRow } from '../server/store/events.js';
import { scratchEmbedded } from './store-suites.js';

const KEYS = { meta: { em: 'a'.repeat(64) }, google: { em: 'b'.repeat(64) }, tiktok: { em: 'c'.repeat(64) } };

/** A purchase of event E1 (organizer O1) with the given consent. */
function order(tenant: number, consent: { analytics: boolean; marketing: boolean }): EventRow {
  return {
    event_id: crypto.randomUUID(), event_name: 'order_completed', event_version: 1, occurred_at: new Date().toISOString(), received_at: new Date().toISOString(),
    sent_at: null, tenant_id: tenant, site_id: null, source_system: 'backend', visitor_id: 'v-1', session_id: 's-1', sequence_no: null, prev_event_id: null,
    person_id: null, consent_snapshot: { ...consent, data_processing: true }, context: { ip: '203.0.113.0', user_agent: 'UA' },
    entities: { order_id: `O-${crypto.randomUUID().slice(0, 8)}`, event_entity_id: 'E1', organizer_id: 'O1' },
    payload: { gross_amount: 10, currency: 'EUR', consent_marketing: consent.marketing, customer: { match_keys: KEYS } },
    idempotency_key: null, is_bot: false,
  };
}

describe('the outbox projector', () => {
  let db: Db;
  let store: Awaited<ReturnType<typeof scratchEmbedded>> | undefined;
  beforeAll(async () => {
    store = await scratchEmbedded('conv-outbox-rules');
    db = store.db;
  }, 180_000);
  afterAll(async () => store?.close());

  const tenant = async (name: string, basis?: 'legitimate_interest'): Promise<number> => {
    const t = Number((await db.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ($1) RETURNING tenant_id::text AS id`, [name])).rows[0].id);
    if (basis) await db.query(`INSERT INTO conversion_settings (tenant_id, purchase_basis) VALUES ($1, $2)`, [t, basis]);
    return t;
  };
  /** A code; `secret`: whether it has its provider's secret (stored encrypted: any text stands for it here). */
  const code = async (t: number, provider: string, settings: Record<string, unknown>, secret: boolean, owner: { organizer_id?: string; event_id?: string } = {}) =>
    Number((await db.query<{ id: string }>(
      `INSERT INTO tracking_codes (tenant_id, provider, organizer_id, event_id, settings, secrets_enc) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text AS id`,
      [t, provider, owner.organizer_id ?? null, owner.event_id ?? null, JSON.stringify(settings), secret ? 'enc' : null],
    )).rows[0].id);
  const queued = async (t: number, ev: EventRow) => (await db.query<{ destination: string; legal_basis: string }>(
    `SELECT destination, legal_basis FROM conversion_outbox WHERE tenant_id = $1 AND event_id = $2 ORDER BY destination`, [t, ev.event_id],
  )).rows;

  it('queues nothing for a code that cannot send server-side (a pixel without its token, GA4 without api_secret, Google Ads without its account)', { timeout: 60_000 }, async () => {
    const t = await tenant('pixel-only');
    await code(t, 'meta', { pixel_id: '111111111111111' }, false);
    await code(t, 'ga4', { measurement_id: 'G-PIXEL1' }, false);
    await code(t, 'google_ads', { conversion_id: 'AW-1234567' }, true);
    await code(t, 'tiktok', { pixel_id: 'D17TA5JC77UDOT6CA5FG' }, false);
    // The event's own Meta code wins the resolution; without a token it is no destination (the organizer's is not used instead).
    await code(t, 'meta', { pixel_id: '222222222222222' }, true, { organizer_id: 'O1' });
    await code(t, 'meta', { pixel_id: '333333333333333' }, false, { organizer_id: 'O1', event_id: 'E1' });
    const ev = order(t, { analytics: true, marketing: true });
    await outboxProjector.run(db, [ev]);
    expect(await queued(t, ev)).toEqual([]);

    // The same codes once they can send: one row each.
    await db.query(`UPDATE tracking_codes SET secrets_enc = 'enc' WHERE tenant_id = $1`, [t]);
    await db.query(`UPDATE tracking_codes SET settings = settings || '{"customer_id":"1234567890","conversion_action_id":"42"}' WHERE tenant_id = $1 AND provider = 'google_ads'`, [t]);
    const again = order(t, { analytics: true, marketing: true });
    await outboxProjector.run(db, [again]);
    expect((await queued(t, again)).map((r) => r.destination.split(':')[0])).toEqual(['ga4', 'google_ads', 'meta', 'meta', 'tiktok']);
  });

  it('sends GA4 (an analytics tool) a purchase only with analytics and marketing consent, legitimate interest or not', { timeout: 60_000 }, async () => {
    const t = await tenant('ga4-consent', 'legitimate_interest');
    await code(t, 'meta', { pixel_id: '444444444444444' }, true);
    await code(t, 'ga4', { measurement_id: 'G-CONSENT1' }, true);
    const cases = [
      { consent: { analytics: false, marketing: false }, want: [['meta', 'legitimate_interest']] },
      { consent: { analytics: true, marketing: false }, want: [['meta', 'legitimate_interest']] },
      { consent: { analytics: false, marketing: true }, want: [['meta', 'consent']] },
      { consent: { analytics: true, marketing: true }, want: [['ga4', 'consent'], ['meta', 'consent']] },
    ];
    for (const c of cases) {
      const ev = order(t, c.consent);
      await outboxProjector.run(db, [ev]);
      expect((await queued(t, ev)).map((r) => [r.destination.split(':')[0], r.legal_basis]), JSON.stringify(c.consent)).toEqual(c.want);
    }
  });
});
