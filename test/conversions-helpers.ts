// Shared plumbing of the conversions tests and benchmark: the env that points every provider at the local
// stand-ins, tracking codes through the tracking-codes API, and a purchase with contact data and a session.
import crypto from 'node:crypto';
import { ADMIN, postJson, request, type Tenant } from './helpers.js';
import type { MockPlatforms } from './mock-platforms/index.js';
import type { Queryable } from '../server/store/db.js';

export const ENCRYPTION_KEY = 'ab'.repeat(32);

export const providerEnv = (mock: MockPlatforms): Record<string, string> => ({
  META_GRAPH_URL: mock.url, TIKTOK_API_URL: mock.url, GOOGLE_DATAMANAGER_URL: mock.url, GA4_MP_URL: mock.url, ENCRYPTION_KEY,
});

export const auth = (t: Tenant) => ({ authorization: `Bearer ${t.secret_key}` });

export async function addCode(base: string, t: Tenant, code: Record<string, unknown>): Promise<number> {
  const r = await postJson(`${base}/api/v1/tracking-codes`, code, auth(t));
  if (r.status !== 201 && r.status !== 200) throw new Error(`tracking code: ${r.status} ${r.text}`);
  return Number(r.json.id ?? r.json.code?.id);
}

export const metaCode = (pixel: string, organizer: string | null, extra: Record<string, unknown> = {}) => ({
  provider: 'meta', organizer_id: organizer, settings: { pixel_id: pixel, ...extra }, secrets: { access_token: `token-${pixel}` },
});

/** Runs the dispatcher now (the admin API) and answers when the run finished. */
export async function dispatchNow(base: string) {
  const r = await request('POST', `${base}/api/admin/jobs/conversions-dispatch/run`, undefined, { authorization: `Bearer ${ADMIN}` });
  if (r.status !== 200 && r.status !== 202) throw new Error(`dispatch: ${r.status} ${r.text}`);
  return r.json;
}

export const CUSTOMER = { external_id: 'C-1', email: 'John_Smith@gmail.com', phone: '+1 (616) 954-78 88', city: 'New York' };

/** A purchase from the tenant's backend, with the buyer's browser details forwarded. */
export function purchase(overrides: Record<string, unknown> = {}, payload: Record<string, unknown> = {}): Record<string, any> {
  return {
    event_id: crypto.randomUUID(),
    event_name: 'order_completed',
    occurred_at: new Date().toISOString(),
    source_system: 'backend',
    visitor_id: 'v-1',
    session_id: 's-1',
    consent_snapshot: { analytics: true, marketing: true, data_processing: true },
    context: { user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0', ip: '203.0.113.0', page: { url: 'https://tickets.example/e/E1/checkout' } },
    entities: { order_id: `O-${crypto.randomUUID().slice(0, 8)}`, event_entity_id: 'E1', organizer_id: 'O1' },
    payload: { gross_amount: 120, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 60 }], consent_marketing: true, consent_data_processing: true, customer: CUSTOMER, ...payload },
    ...overrides,
  };
}

/** A tenant straight in the store (the dispatcher tests run without a server): its id. */
export const storeTenant = async (db: Queryable, name: string): Promise<number> =>
  Number((await db.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING tenant_id::text AS id', [name])).rows[0].id);

/** A tracking code straight in the store, its secrets a placeholder (the tests' adapters read none): its id. */
export const storeCode = async (db: Queryable, t: number, provider: string, settings: Record<string, unknown>): Promise<number> =>
  Number((await db.query<{ id: string }>(
    "INSERT INTO tracking_codes (tenant_id, provider, settings, secrets_enc) VALUES ($1, $2, $3, 'enc') RETURNING id::text AS id", [t, provider, JSON.stringify(settings)],
  )).rows[0].id);
