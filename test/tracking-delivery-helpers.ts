// A tracking code's server-side destination made held the way the dispatcher holds it (the hold_destination query
// of a provider's credential refusal, at the code's current version) with outbox rows in each state: for the
// tests of the codes' `delivery` summary (README "Tracking codes").
import crypto from 'node:crypto';
import type { Db } from '../server/store/db.js';
import { queries } from '../server/store/queries.js';

const Q = queries('conversions.sql', ['hold_destination']);

/** Holds `provider:code` with `reason`; rows: 2 pending (1 retrying after an error), 1 dead now, 1 dead 2 days ago, 1 sent. */
export async function holdWithRows(db: Db, tenant: number, provider: string, code: number, owner: string, reason: string): Promise<void> {
  const dest = `${provider}:${code}`;
  const version = (await db.query<{ v: string }>('SELECT updated_at::text AS v FROM tracking_codes WHERE tenant_id = $1 AND id = $2', [tenant, code])).rows[0].v;
  await db.query(Q.hold_destination, [tenant, dest, code, version, 1, new Date(Date.now() + 3_600_000), reason]);
  const rows: [string, string | null, string, string | null][] = [
    ['dead', 'an old refusal', '2 days', null],
    ['sent', null, '1 hour', 'now'],
    ['pending', null, '10 minutes', null],
    ['pending', 'HTTP 503 from the platform', '5 minutes', null],
    ['dead', 'TikTok 40002: event refused', '1 minute', null],
  ];
  for (const [status, error, age, sent] of rows) {
    await db.query(`INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data, status, last_error, created_at, sent_at)
      VALUES ($1, $2, $3, $4, $5, $6, 'order_completed', now() - $7::interval, 'consent', '{}', $8, $9, now() - $7::interval, CASE WHEN $10::text = 'now' THEN now() END)`,
    [tenant, dest, provider, code, owner, crypto.randomUUID(), age, status, error, sent]);
  }
}
