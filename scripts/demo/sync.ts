// The demo's catalog, synced before any traffic (README "npm run demo") with the tenant's secret key through
// PUT /api/v1/catalog/{kind}: the organizer, the venues with their gates, the events and their ticket types.
// The live layer then links both events to the organizer before the first visitor and the dashboard shows
// names ("Summer Fest 2026", gate names, ticket categories on the ticker) instead of ids.
import { DEMO_EVENTS, DEMO_ORG_NAME, type DemoEvent } from './catalog.js';

/** The items of each kind, in the order they are sent (events name their organizer and venue). Pure. */
export function demoCatalog(org: string, now: number, events: DemoEvent[] = DEMO_EVENTS): [kind: string, items: Record<string, unknown>[]][] {
  const day = new Date(now).toISOString().slice(0, 10);
  const at = (hour: number) => `${day}T${String(hour).padStart(2, '0')}:00:00Z`;
  return [
    ['organizers', [{ id: org, name: DEMO_ORG_NAME }]],
    ['venues', events.map((e) => ({
      id: e.venueId, name: e.venueName, city: e.city, country: e.country, capacity: e.venueCapacity,
      gates: e.gates.map((g) => ({ id: g.id, name: g.name, capacity: g.capacity })),
    }))],
    ['events', events.map((e) => ({
      id: e.id, organizer_id: org, venue_id: e.venueId, title: e.name, starts_at: at(e.startsHourUtc), ends_at: at(Math.min(23, e.startsHourUtc + 5)),
      status: 'on_sale', capacity: e.venueCapacity, city: e.city,
    }))],
    ['ticket_types', events.flatMap((e) => e.tickets.map((t) => ({ id: t.id, event_id: e.id, name: t.name, category: t.category, price: t.price, currency: e.currency })))],
  ];
}

/** Sends the demo catalog; returns how many items were upserted or unchanged, or throws with the server's answer. */
export async function syncDemoCatalog(url: string, secretKey: string, org: string, now = Date.now()): Promise<number> {
  let n = 0;
  for (const [kind, items] of demoCatalog(org, now)) {
    const r = await fetch(`${url}/api/v1/catalog/${kind}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items }),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`PUT /api/v1/catalog/${kind} answered ${r.status}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as { upserted: number; unchanged: number; rejected: unknown[] };
    if (body.rejected.length > 0) throw new Error(`PUT /api/v1/catalog/${kind} refused items: ${JSON.stringify(body.rejected).slice(0, 300)}`);
    n += body.upserted + body.unchanged;
  }
  return n;
}
