// Helpers for the audience, segment and remarketing suites: persons with scripted facts, synced through the
// catalog API (persons kind, so their totals are overrides that orders do not change), their affinities
// written to the feature store's *_raw tables, and their discount share sent as real orders (fs_person_daily
// is an aggregate of tx_events).
import type { Db } from '../server/store/db.js';
import type { PersonFacts } from '../server/audiences/score.js';
import { ADMIN, orderEvent, postEvents, request, until, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';

/**
 * Affinity rows anchored a day ahead: the feature store's views decay score_at_last from last_interaction_at
 * to now() and clamp a future anchor to no decay, so the scores read back exactly as scripted.
 */
async function writeAffinities(db: Db, tenantId: number, kind: 'artist' | 'genre', rows: [number, string, number][]): Promise<void> {
  if (!rows.length) return;
  const col = kind === 'artist' ? 'artist_id' : 'genre';
  await db.query(
    `INSERT INTO fs_person_affinity_${kind}_raw (tenant_id, person_id, ${col}, score_at_last, views_count, purchases_count, attendance_count, last_interaction_at)
     SELECT $1, p, k, s, 0, 0, 0, now() + interval '1 day' FROM unnest($2::bigint[], $3::text[], $4::float8[]) AS u(p, k, s)
     ON CONFLICT (tenant_id, person_id, ${col}) DO UPDATE SET score_at_last = EXCLUDED.score_at_last, last_interaction_at = EXCLUDED.last_interaction_at`,
    [tenantId, rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])],
  );
}

export interface Scripted {
  facts: PersonFacts;
  consent?: boolean;
}

/** Syncs persons (external id → facts) and their feature rows; answers external id → person_id. */
export async function seedPersons(base: string, t: Tenant, db: Db, people: Record<string, Scripted>, opts: { afterOrders?: () => Promise<unknown> } = {}): Promise<Record<string, number>> {
  const items = Object.entries(people).map(([id, { facts: f, consent }]) => ({
    id, city: f.city, marketing_consent: consent ?? true, total_orders: f.totalOrders, events_attended: f.eventsAttended,
    last_purchase_at: f.lastPurchaseAt?.toISOString() ?? null, avg_order_value: f.avgOrderValue,
  }));
  for (let i = 0; i < items.length; i += 1000) {
    const r = await api(base, t, 'PUT', '/api/v1/catalog/persons', { items: items.slice(i, i + 1000) });
    if (r.status !== 200 || r.json.rejected.length) throw new Error(`persons sync: ${r.status} ${r.text.slice(0, 400)}`);
  }
  const ids = Object.fromEntries((await db.query<{ external_id: string; person_id: string }>('SELECT external_id, person_id FROM persons WHERE tenant_id = $1', [t.tenant_id])).rows.map((r) => [r.external_id, Number(r.person_id)]));
  const artists: [number, string, number][] = [];
  const genres: [number, string, number][] = [];
  const orders: Record<string, unknown>[] = [];
  for (const [ext, { facts }] of Object.entries(people)) {
    for (const [a, s] of Object.entries(facts.artistAffinity)) artists.push([ids[ext], a, s]);
    for (const [g, s] of Object.entries(facts.genreAffinity)) genres.push([ids[ext], g, s]);
    if (facts.discountRate <= 0) continue;
    // n orders of which round(rate·n) used a code: the scripted rates are multiples of 1/n.
    const n = Math.max(facts.totalOrders, 1);
    for (let i = 0; i < n; i++) {
      const discount_code = i < Math.round(facts.discountRate * n) ? 'SPRING' : undefined;
      orders.push(orderEvent({
        occurred_at: new Date(Date.now() - 3_600_000).toISOString(), entities: { order_id: `O-${ext}-${i}`, event_entity_id: 'E-hist' },
        payload: { gross_amount: 40, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], discount_code, consent_data_processing: true, customer: { external_id: ext } },
      }));
    }
  }
  if (orders.length) {
    const r = await postEvents(base, t, orders);
    if (r.accepted !== orders.length) throw new Error(`orders: ${JSON.stringify(r.rejected).slice(0, 400)}`);
  }
  // Plain PostgreSQL: the feature jobs fill fs_person_daily from the orders (and rewrite affinities from events,
  // so the scripted affinities are written after them).
  await opts.afterOrders?.();
  await writeAffinities(db, t.tenant_id, 'artist', artists);
  await writeAffinities(db, t.tenant_id, 'genre', genres);
  return ids;
}

/**
 * Runs the feature store's incremental person job by hand: once it has seen every event posted so far, its
 * scheduled runs leave the scripted affinity rows alone (they recompute only persons with newer events).
 */
export async function featuresCaughtUp(base: string, job = 'features.persons'): Promise<void> {
  const admin = { authorization: `Bearer ${ADMIN}` };
  const r = await request('POST', `${base}/api/admin/jobs/${job}/run`, undefined, admin);
  // A busy machine may take longer than the route waits (202): follow the run until it ends.
  const status = r.status === 202
    ? await until(async () => {
      const runs = await request('GET', `${base}/api/admin/jobs/${job}/runs?limit=20`, undefined, admin);
      const run = runs.json.runs.find((x: { id: number }) => x.id === r.json.id);
      return run && run.status !== 'running' ? run.status : null;
    }, 300_000, 500)
    : r.json?.status;
  if (status !== 'succeeded') throw new Error(`${job}: ${r.status} ${status} ${r.text.slice(0, 300)}`);
}
