// The funnel statement (sql/queries/funnels.sql) on scripted journeys, on the embedded store and on plain
// PostgreSQL 15: steps out of order, outside the window, repeated steps, a step name used twice, filters,
// breakdowns (top values, none, other), person mode, bots and an organizer's scope.
import crypto from 'node:crypto';
import { expect, it } from 'vitest';
import { runFunnel } from '../server/analytics/funnels.js';
import { parseFunnel, type FunnelSpec } from '../server/analytics/spec.js';
import type { Db } from '../server/store/db.js';
import { onBothStores } from './store-suites.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const S0 = 'event_card_impression';
const S1 = 'event_card_click';
const S2 = 'ticket_link_click';

interface Ev { v: string; name: string; s: number; payload?: object; context?: object; entity?: string; person?: number; bot?: boolean }

// v1 completes; v2 clicks before the impression; v3 clicks outside the window; v4 starts again and completes
// from its second start; v5 reaches the click, the ticket click comes too late; bot completes but is a bot.
const JOURNEYS: Ev[] = [
  { v: 'v1', name: S0, s: 0, payload: { source: 'feed', position: 1 }, context: { utm: { source: 'google' } }, entity: 'E1', person: 7 },
  { v: 'v1', name: S1, s: 60, entity: 'E1', person: 7 },
  { v: 'v1', name: S2, s: 120, payload: { ticket_url: 'https://t.example/1' }, entity: 'E1', person: 7 },
  { v: 'v2', name: S1, s: 0 },
  { v: 'v2', name: S0, s: 10, payload: { source: 'search', position: 5 }, context: { utm: { source: 'google' } } },
  { v: 'v2', name: S2, s: 20, payload: { ticket_url: 'https://t.example/2' } },
  { v: 'v3', name: S0, s: 0, payload: { source: 'search', position: 5 }, context: { utm: { source: 'fb' } } },
  { v: 'v3', name: S1, s: 7200 },
  { v: 'v4', name: S0, s: 0, payload: { source: 'search', position: 5 } },
  { v: 'v4', name: S0, s: 5000, payload: { source: 'search', position: 5 } },
  { v: 'v4', name: S1, s: 5100 },
  { v: 'v4', name: S2, s: 5200, payload: { ticket_url: 'https://t.example/4' } },
  { v: 'v5', name: S0, s: 0, payload: { source: 'search', position: 5 }, context: { utm: { source: 'fb' } } },
  { v: 'v5', name: S1, s: 100 },
  { v: 'v5', name: S1, s: 200 },
  { v: 'v5', name: S2, s: 4000, payload: { ticket_url: 'https://t.example/5' } },
  { v: 'bot', name: S0, s: 0, bot: true },
  { v: 'bot', name: S1, s: 1, bot: true },
  { v: 'bot', name: S2, s: 2, bot: true },
  // Before the range: never counted.
  { v: 'v1', name: S0, s: -86_400 * 3 },
  // One page view, and two: a step name used twice needs two events.
  { v: 'v6', name: 'page_view', s: 0 },
  { v: 'v7', name: 'page_view', s: 0 },
  { v: 'v7', name: 'page_view', s: 30 },
];

function spec(body: Record<string, unknown>): FunnelSpec {
  const p = parseFunnel({ steps: [{ event_name: S0 }, { event_name: S1 }, { event_name: S2 }], window_s: 3600, from: '2026-03-01', to: '2026-03-05', ...body });
  if (!p.ok) throw new Error(JSON.stringify(p.error));
  return p.value;
}
const counts = (r: { steps: { count: number }[] }) => r.steps.map((s) => s.count);

async function seed(db: Db): Promise<number> {
  const tenant = Number((await db.query<{ tenant_id: string }>("INSERT INTO tenants (name) VALUES ('funnels') RETURNING tenant_id")).rows[0].tenant_id);
  const rows = JOURNEYS.map((e) => ({
    event_id: crypto.randomUUID(), event_name: e.name, occurred_at: new Date(T0 + e.s * 1000).toISOString(), visitor_id: e.v,
    person_id: e.person ?? null, payload: e.payload ?? {}, context: e.context ?? {}, entities: { event_entity_id: e.entity ?? 'E2' }, is_bot: e.bot ?? false,
  }));
  await db.query(
    `INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, person_id, consent_snapshot, context, entities, payload, is_bot)
     SELECT x.event_id, x.event_name, x.occurred_at, $1, 'web', x.visitor_id, x.person_id, '{}', x.context, x.entities, x.payload, x.is_bot
     FROM jsonb_to_recordset($2::jsonb) AS x(event_id uuid, event_name text, occurred_at timestamptz, visitor_id text, person_id bigint, context jsonb, entities jsonb, payload jsonb, is_bot boolean)`,
    [tenant, JSON.stringify(rows)],
  );
  await db.query("INSERT INTO catalog_events (tenant_id, id, organizer_id) VALUES ($1, 'E1', 'O1'), ($1, 'E2', 'O2')", [tenant]);
  return tenant;
}

function journeys(store: () => { db: Db; tenant: number }) {
  const run = (body: Record<string, unknown>, scope: Parameters<typeof runFunnel>[3] = null) => runFunnel(store().db, store().tenant, spec(body), scope);

  it('counts ordered steps inside the window: out of order, too late, restarted and repeated journeys', async () => {
    const r = await run({});
    expect(counts(r)).toEqual([5, 3, 2]);
    const [s0, s1, s2] = r.steps;
    expect(s0).toMatchObject({ conversion_from_previous: 1, conversion_from_first: 1, drop_off: 0, median_time_from_previous_s: null });
    expect(s1).toMatchObject({ conversion_from_previous: 0.6, drop_off: 2, drop_off_rate: 0.4, median_time_from_previous_s: 100 });
    expect(s2).toMatchObject({ conversion_from_previous: 0.666667, conversion_from_first: 0.4, drop_off: 1 });
    // v1 took 120 s from its impression, v4 200 s from its second one: median 160, p90 192 (linear interpolation).
    expect(s2.median_time_from_first_s).toBe(160);
    expect(s2.p90_time_from_first_s).toBe(192);
    expect(s2.median_time_from_previous_s).toBe(80);
  });

  it('needs two events for a step name used twice', async () => {
    expect(counts(await run({ steps: [{ event_name: 'page_view' }, { event_name: 'page_view' }] }))).toEqual([2, 1]);
  });

  it('a wider window lets v3 and v5 through', async () => {
    expect(counts(await run({ window_s: 86_400 }))).toEqual([5, 4, 3]);
  });

  it('applies step filters (numeric and text)', async () => {
    expect(counts(await run({ steps: [{ event_name: S0, filters: [{ field: 'payload.position', op: 'lte', value: 3 }] }, { event_name: S1 }, { event_name: S2 }] }))).toEqual([1, 1, 1]);
    expect(counts(await run({ steps: [{ event_name: S0, filters: [{ field: 'payload.source', op: 'in', value: ['search'] }] }, { event_name: S1 }] }))).toEqual([4, 2]);
    expect(counts(await run({ steps: [{ event_name: S0 }, { event_name: S1 }, { event_name: S2, filters: [{ field: 'payload.ticket_url', op: 'contains', value: 'EXAMPLE/4' }] }] }))).toEqual([5, 3, 1]);
    expect(counts(await run({ steps: [{ event_name: S0, filters: [{ field: 'context.utm.source', op: 'exists' }, { field: 'context.utm.source', op: 'neq', value: 'fb' }] }, { event_name: S1 }] }))).toEqual([2, 1]);
  });

  it('breaks down by the first step\'s value: top values, none, other', async () => {
    const r = await run({ breakdown: 'context.utm.source' });
    expect(counts(r)).toEqual([5, 3, 2]);
    const g = r.breakdown!.groups.map((x) => [x.kind, x.value, counts(x)]);
    expect(g).toEqual([['value', 'fb', [2, 1, 0]], ['value', 'google', [2, 1, 1]], ['none', null, [1, 1, 1]]]);
    const one = await run({ breakdown: 'context.utm.source', breakdown_limit: 1 });
    expect(one.breakdown!.groups.map((x) => [x.kind, x.value, counts(x)])).toEqual([['value', 'fb', [2, 1, 0]], ['none', null, [1, 1, 1]], ['other', null, [2, 1, 1]]]);
  });

  it('counts persons in person mode, and only the scope\'s events for a scoped principal', async () => {
    expect(counts(await run({ by: 'person' }))).toEqual([1, 1, 1]);
    expect(counts(await run({}, { organizers: ['O1'] }))).toEqual([1, 1, 1]);
    expect(counts(await run({}, { organizers: ['nobody'] }))).toEqual([0, 0, 0]);
    expect(counts(await run({}, { events: ['E2'] }))).toEqual([4, 2, 1]);
  });
}

onBothStores('funnels', 'funnels', seed, journeys);
