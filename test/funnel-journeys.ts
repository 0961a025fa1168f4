// Scripted random journeys for the funnel tests (test/funnels-one-pass.test.ts, test/funnel-index.test.ts): many
// events share a time, visitors restart, steps repeat, a few rows are bots.
import crypto from 'node:crypto';
import { prng } from '../server/campaigns/rng.js';
import type { Db } from '../server/store/db.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
export const FUNNEL_NAMES = ['event_card_impression', 'event_card_click', 'ticket_link_click', 'page_view'];

/** 250 visitors, 2–14 events each within 2 hours; whole seconds often, so many events share a time. */
export function journeys(seed: number, visitors = 250): Record<string, unknown>[] {
  const rand = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const rows: Record<string, unknown>[] = [];
  for (let v = 0; v < visitors; v++) {
    const n = 2 + Math.floor(rand() * 13);
    const person = rand() < 0.5 ? 1 + Math.floor(v / 3) : null;
    for (let i = 0; i < n; i++) {
      const ms = Math.floor(rand() * 7200) * 1000 + (rand() < 0.3 ? Math.floor(rand() * 1000) : 0);
      rows.push({
        event_id: crypto.randomUUID(), event_name: pick(FUNNEL_NAMES), occurred_at: new Date(T0 + ms).toISOString(), visitor_id: `v${v}`, person_id: person,
        payload: { source: pick(['feed', 'search']), position: Math.floor(rand() * 10) },
        context: rand() < 0.8 ? { utm: { source: pick(['google', 'fb', 'newsletter']) }, device: { device_type: pick(['mobile', 'desktop']) } } : {},
        entities: { event_entity_id: pick(['E1', 'E2']) }, is_bot: rand() < 0.02,
      });
    }
  }
  return rows;
}

/**
 * experiment_exposure rows for the journeys' visitors (README "Experiments"): experiments xp1 and xp2, the defined
 * variants (control, green, blue) and an invented one, no variant now and then; most visitors exposed once, some
 * again (to another variant, often in the same second: the stored order decides the first), some never, a few bots.
 */
export function exposures(seed: number, visitors = 250): Record<string, unknown>[] {
  const rand = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const rows: Record<string, unknown>[] = [];
  for (let v = 0; v < visitors; v++) {
    if (rand() < 0.15) continue;
    const n = 1 + Math.floor(rand() * 3);
    const first = Math.floor(rand() * 7200);
    for (let i = 0; i < n; i++) {
      const s = i > 0 && rand() < 0.4 ? first : Math.floor(rand() * 7200);
      const variant = rand() < 0.05 ? undefined : pick(['control', 'green', 'blue', 'control', 'green', 'made_up']);
      rows.push({
        event_id: crypto.randomUUID(), event_name: 'experiment_exposure', occurred_at: new Date(T0 + s * 1000).toISOString(), visitor_id: `v${v}`, person_id: null,
        payload: { experiment_id: rand() < 0.8 ? 'xp1' : 'xp2', ...(variant ? { variant } : {}) }, context: {}, entities: {}, is_bot: rand() < 0.02,
      });
    }
  }
  return rows;
}

/** A new tenant with journeys(17) stored and two catalog events (E1 of O1, E2 of O2). */
export async function seedJourneys(db: Db, name: string): Promise<number> {
  const tenant = Number((await db.query<{ tenant_id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING tenant_id', [name])).rows[0].tenant_id);
  await insertJourneys(db, tenant, journeys(17));
  await db.query("INSERT INTO catalog_events (tenant_id, id, organizer_id) VALUES ($1, 'E1', 'O1'), ($1, 'E2', 'O2')", [tenant]);
  return tenant;
}

/** Stores the rows straight into tx_events (one statement). */
export async function insertJourneys(db: Db, tenant: number, rows: Record<string, unknown>[]): Promise<void> {
  await db.query(
    `INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, person_id, consent_snapshot, context, entities, payload, is_bot)
     SELECT x.event_id, x.event_name, x.occurred_at, $1, 'web', x.visitor_id, x.person_id, '{}', x.context, x.entities, x.payload, x.is_bot
     FROM jsonb_to_recordset($2::jsonb) AS x(event_id uuid, event_name text, occurred_at timestamptz, visitor_id text, person_id bigint, context jsonb, entities jsonb, payload jsonb, is_bot boolean)`,
    [tenant, JSON.stringify(rows)],
  );
}


const [S0, S1, S2, PV] = FUNNEL_NAMES;
export const step = (event_name: string, filters?: unknown[]) => (filters ? { event_name, filters } : { event_name });

/** Funnels over the journeys that test order alone: windows from 1 s to a day, repeated names, restarts. */
export const ORDER_BODIES: Record<string, unknown>[] = [
  { steps: [step(S0), step(S1), step(S2)], window_s: 600 },
  { steps: [step(S0), step(S1), step(S2)], window_s: 1 },
  { steps: [step(S0), step(S1), step(S2), step(PV)], window_s: 86_400 },
  { steps: [step(PV), step(PV), step(PV)], window_s: 900 },
  { steps: [step(S0), step(S0), step(S1), step(S0)], window_s: 1800 },
  { steps: [step(S1), step(S0)], window_s: 300 },
];
