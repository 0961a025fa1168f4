-- Server-side conversions (server/conversions/): the outbox projector, the dispatcher's claims and marks,
-- the rate windows, the status API, the tenant's policy and the GDPR eraser/exporter.

-- name: listed_conversion_events
-- The event names the enabled conversion codes of these tenants ($1) list (a destination's
-- `conversion_events`, default order_completed): the writer sends project_outbox only the rows a destination
-- can take, and purchases (always attributed).
SELECT DISTINCT tc.tenant_id::text AS tenant_id, n.name AS event_name
FROM tracking_codes tc
CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof(tc.settings->'conversion_events') = 'array'
  THEN tc.settings->'conversion_events' ELSE '["order_completed"]'::jsonb END) AS n(name)
WHERE tc.tenant_id = ANY($1::bigint[]) AND tc.enabled AND tc.provider IN ('meta', 'tiktok', 'google_ads', 'ga4');

-- name: project_outbox
-- $1: JSON array of this commit's new rows whose event_name a code may list (order_completed, add_to_cart,
-- checkout_started, event_view). One statement per commit: the purchase's attribution, then one outbox row
-- per destination. Resolution (seed 002 §1.2): per provider, the event's code, else the organizer default;
-- plus the marketplace's code (organizer_id and event_id NULL) always. The event's organizer comes from the
-- catalog, else the live layer's owner (decided earlier in this transaction), else the row's own claim.
WITH r AS (
  SELECT * FROM json_to_recordset($1::json) AS x(
    tenant_id bigint, event_id uuid, event_name text, occurred_at timestamptz, person_id bigint, session_id text,
    visitor_id text, consent_snapshot jsonb, context jsonb, entities jsonb, payload jsonb)
),
ev AS (
  SELECT r.*,
    COALESCE(r.entities->>'event_entity_id', tt.event_id) AS event_entity_id,
    COALESCE(r.session_id, ls.session_id) AS att_session,
    CASE WHEN ft.context IS NOT NULL THEN jsonb_strip_nulls(jsonb_build_object(
      'utm', ft.context->'utm', 'click_ids', ft.context->'click_ids', 'referrer', ft.context->>'referrer',
      'landing_page', ft.context->'page'->>'url', 'at', ft.occurred_at)) END AS first_touch,
    COALESCE(ft.occurred_at, r.occurred_at) AS touch_at,
    -- An order's validated payload.consent_marketing wins over its snapshot; on any other event the payload is
    -- free-form (an undeclared "yes" must neither count as consent nor fail the cast and the commit).
    CASE WHEN r.event_name = 'order_completed' AND jsonb_typeof(r.payload->'consent_marketing') = 'boolean' THEN (r.payload->'consent_marketing')::boolean
         WHEN jsonb_typeof(r.consent_snapshot->'marketing') = 'boolean' THEN (r.consent_snapshot->'marketing')::boolean
         ELSE false END AS marketing,
    r.consent_snapshot->'analytics' = 'true'::jsonb AS analytics
  FROM r
  LEFT JOIN catalog_ticket_types tt
    ON r.entities->>'event_entity_id' IS NULL AND tt.tenant_id = r.tenant_id AND tt.id = r.payload->'items'->0->>'ticket_type_id'
  -- A purchase sent without its session: the visitor's latest session of the last day.
  LEFT JOIN LATERAL (
    SELECT x.session_id FROM tx_events x
    WHERE r.session_id IS NULL AND x.tenant_id = r.tenant_id AND x.visitor_id = r.visitor_id AND x.session_id IS NOT NULL
      AND x.occurred_at <= r.occurred_at AND x.occurred_at > r.occurred_at - interval '1 day'
    ORDER BY x.occurred_at DESC LIMIT 1
  ) ls ON true
  -- The session's first touch: its earliest browser or app event, read from the events themselves (the same
  -- definition and order as tx_sessions.first_touch, which is projected out of the commit and may lag behind it:
  -- occurred_at, then sequence_no without one last, then event id — identity/sessions.ts orderKey).
  LEFT JOIN LATERAL (
    SELECT x.context, x.occurred_at FROM tx_events x
    WHERE x.tenant_id = r.tenant_id AND x.visitor_id = r.visitor_id AND x.session_id = COALESCE(r.session_id, ls.session_id)
      AND x.source_system IN ('web', 'mobile') AND x.occurred_at <= r.occurred_at AND x.occurred_at > r.occurred_at - interval '1 day'
    ORDER BY x.occurred_at, x.sequence_no NULLS LAST, x.event_id LIMIT 1
  ) ft ON true
),
e AS (
  SELECT ev.*,
    COALESCE(ce.organizer_id, lo.organizer_id, ev.entities->>'organizer_id') AS organizer_id,
    COALESCE(ev.context->'click_ids', ev.first_touch->'click_ids', '{}'::jsonb) AS clicks,
    COALESCE(ev.context->'utm', ev.first_touch->'utm', '{}'::jsonb) AS utm
  FROM ev
  LEFT JOIN catalog_events ce ON ce.tenant_id = ev.tenant_id AND ce.id = ev.event_entity_id
  LEFT JOIN live_event_owners lo ON lo.tenant_id = ev.tenant_id AND lo.event_entity_id = ev.event_entity_id
),
att AS (
  INSERT INTO conversion_attributions (tenant_id, event_id, order_id, person_id, session_id, visitor_id, occurred_at, first_touch, click_ids, utm)
  SELECT tenant_id, event_id, entities->>'order_id', person_id, att_session, visitor_id, occurred_at, first_touch, clicks, utm
  FROM e WHERE event_name = 'order_completed'
  ON CONFLICT (tenant_id, event_id) DO NOTHING
  RETURNING 1
),
-- The winning code per (event, provider, marketplace or not): the event's own before the organizer default.
-- `sendable`: the code can send server-side (its provider's secret, which is the only one a code takes, and for
-- Google Ads the server-only account ids, adapter-google.ts): a pixel-only winner is no destination, so nothing
-- is queued (nor kept) for it, and the organizer's default does not stand in for the event's own pixel.
won AS (
  SELECT DISTINCT ON (e.tenant_id, e.event_id, tc.provider, tc.organizer_id IS NULL)
    e.tenant_id, e.event_id, tc.id AS code_id, tc.provider, tc.settings,
    CASE WHEN tc.organizer_id IS NULL THEN 'marketplace' WHEN tc.event_id IS NULL THEN 'organizer' ELSE 'event' END AS owner,
    tc.secrets_enc IS NOT NULL AND (tc.provider <> 'google_ads' OR (
      COALESCE(tc.settings->>'customer_id', tc.settings->'custom_params'->>'customer_id', '') <> ''
      AND COALESCE(tc.settings->>'conversion_action_id', tc.settings->'custom_params'->>'conversion_action_id', '') <> '')) AS sendable
  FROM e
  JOIN tracking_codes tc ON tc.tenant_id = e.tenant_id AND tc.enabled AND tc.provider IN ('meta', 'tiktok', 'google_ads', 'ga4')
    AND ((tc.organizer_id IS NULL AND tc.event_id IS NULL)
      OR (tc.organizer_id = e.organizer_id AND (tc.event_id IS NULL OR tc.event_id = e.event_entity_id)))
  ORDER BY e.tenant_id, e.event_id, tc.provider, tc.organizer_id IS NULL, tc.event_id IS NULL
),
-- The basis: marketing consent, else the tenant's legitimate interest for purchases (seed 002: for the ad
-- platforms' server-side APIs). GA4 is an analytics tool: it takes an event only with analytics consent as well
-- as marketing consent (what the pixel loader's hand-over of GA4's server_events assumes), never under
-- legitimate interest.
dest AS (
  SELECT e.*, w.code_id, w.provider, w.owner,
    CASE WHEN w.provider = 'ga4' THEN CASE WHEN e.marketing AND e.analytics THEN 'consent' END
         WHEN e.marketing THEN 'consent'
         WHEN cs.purchase_basis = 'legitimate_interest' AND e.event_name = 'order_completed' THEN 'legitimate_interest' END AS basis
  FROM e
  JOIN won w ON w.tenant_id = e.tenant_id AND w.event_id = e.event_id AND w.sendable
  LEFT JOIN conversion_settings cs ON cs.tenant_id = e.tenant_id
  WHERE COALESCE(w.settings->'conversion_events', '["order_completed"]'::jsonb) ? e.event_name
    -- A late event of an erased person (identity enricher) is kept for counts, never sent to an ad platform.
    AND e.context->'anonymised' IS DISTINCT FROM 'true'::jsonb
),
ins AS (
  INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, person_id,
    session_id, legal_basis, data, user_data)
  SELECT tenant_id, provider || ':' || code_id, provider, code_id, owner, event_id, event_name, occurred_at, person_id,
    COALESCE(session_id, att_session), basis,
    jsonb_strip_nulls(jsonb_build_object(
      'event_entity_id', event_entity_id, 'organizer_id', organizer_id,
      'order_id', entities->>'order_id', 'cart_id', entities->>'cart_id',
      'value', COALESCE(payload->'gross_amount', payload->'cart_value', payload->'price_from'),
      'currency', payload->>'currency', 'items', payload->'items',
      'url', COALESCE(context->'page'->>'url', first_touch->>'landing_page'),
      'ip', context->>'ip', 'user_agent', context->>'user_agent', 'visitor_id', visitor_id,
      -- The event's own _fbc cookie (a returning visitor's earlier ad click), else this session's ?fbclid, when it
      -- is a click id as Meta writes them (the fbc format README "Ingest API" checks on context.fbc): a page's
      -- query string is the visitor's to write, and a malformed fbc is worse for matching than none.
      'fbc', COALESCE(context->>'fbc', CASE WHEN clicks->>'fbclid' ~ '^[A-Za-z0-9._-]{1,240}$'
        THEN 'fb.1.' || (extract(epoch FROM touch_at) * 1000)::bigint || '.' || (clicks->>'fbclid') END),
      'fbp', context->>'fbp', 'gclid', clicks->>'gclid', 'ttclid', clicks->>'ttclid', 'ttp', context->>'ttp',
      'ga_client_id', context->>'ga_client_id', 'ga_session_ids', context->'ga_session_ids',
      'utm', NULLIF(utm, '{}'::jsonb))),
    payload->'customer'->'match_keys'->(CASE provider WHEN 'google_ads' THEN 'google' ELSE provider END)
  FROM (
    -- One purchase per order and destination: the first of this commit's rows for an order (by time, then id),
    -- and none when an earlier commit already queued the order for the destination (migration 023).
    SELECT DISTINCT ON (d.tenant_id, d.provider, d.code_id, CASE WHEN d.event_name = 'order_completed' THEN d.entities->>'order_id' END,
      CASE WHEN d.event_name = 'order_completed' AND d.entities->>'order_id' IS NOT NULL THEN NULL ELSE d.event_id END) d.*
    FROM dest d
    WHERE d.basis IS NOT NULL
      AND NOT (d.event_name = 'order_completed' AND d.entities->>'order_id' IS NOT NULL AND EXISTS (
        SELECT 1 FROM conversion_outbox o
        WHERE o.tenant_id = d.tenant_id AND o.destination = d.provider || ':' || d.code_id
          AND o.event_name = 'order_completed' AND o.data->>'order_id' = d.entities->>'order_id'))
    ORDER BY d.tenant_id, d.provider, d.code_id, CASE WHEN d.event_name = 'order_completed' THEN d.entities->>'order_id' END,
      CASE WHEN d.event_name = 'order_completed' AND d.entities->>'order_id' IS NOT NULL THEN NULL ELSE d.event_id END, d.occurred_at, d.event_id
  ) once
  ON CONFLICT (tenant_id, destination, event_id) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM att)::int AS attributed, (SELECT count(*) FROM ins)::int AS queued;

-- name: browser_ids
-- The ad platforms' browser ids of the visitors of a claimed batch whose rows lack them (a purchase from the
-- backend carries no cookie): per row, each id from the visitor's latest event that has it, within the day before
-- the conversion (and the hour after: the browser's batch may land after the backend's order). One statement
-- per batch. $1 tenant, $2 [{"id","visitor_id","occurred_at"}].
SELECT x.id,
  (SELECT e.context->>'fbp' FROM tx_events e WHERE e.tenant_id = $1 AND e.visitor_id = x.visitor_id AND e.context ? 'fbp'
     AND e.occurred_at > x.occurred_at - interval '1 day' AND e.occurred_at <= x.occurred_at + interval '1 hour' ORDER BY e.occurred_at DESC LIMIT 1) AS fbp,
  (SELECT e.context->>'fbc' FROM tx_events e WHERE e.tenant_id = $1 AND e.visitor_id = x.visitor_id AND e.context ? 'fbc'
     AND e.occurred_at > x.occurred_at - interval '1 day' AND e.occurred_at <= x.occurred_at + interval '1 hour' ORDER BY e.occurred_at DESC LIMIT 1) AS fbc,
  (SELECT e.context->>'ttp' FROM tx_events e WHERE e.tenant_id = $1 AND e.visitor_id = x.visitor_id AND e.context ? 'ttp'
     AND e.occurred_at > x.occurred_at - interval '1 day' AND e.occurred_at <= x.occurred_at + interval '1 hour' ORDER BY e.occurred_at DESC LIMIT 1) AS ttp,
  (SELECT e.context->>'ga_client_id' FROM tx_events e WHERE e.tenant_id = $1 AND e.visitor_id = x.visitor_id AND e.context ? 'ga_client_id'
     AND e.occurred_at > x.occurred_at - interval '1 day' AND e.occurred_at <= x.occurred_at + interval '1 hour' ORDER BY e.occurred_at DESC LIMIT 1) AS ga_client_id,
  (SELECT e.context->'ga_session_ids' FROM tx_events e WHERE e.tenant_id = $1 AND e.visitor_id = x.visitor_id AND e.context ? 'ga_session_ids'
     AND e.occurred_at > x.occurred_at - interval '1 day' AND e.occurred_at <= x.occurred_at + interval '1 hour' ORDER BY e.occurred_at DESC LIMIT 1) AS ga_session_ids
FROM json_to_recordset($2::json) AS x(id bigint, visitor_id text, occurred_at timestamptz);

-- name: due_destinations
-- Destinations with due rows, except the held ones: a hold is in force until held_until, or until the code is
-- updated (its updated_at is no longer the version that was refused), whichever comes first.
WITH due AS (
  SELECT tenant_id, destination, provider, code_id, count(*)::int AS due, min(next_at) AS first_at
  FROM conversion_outbox WHERE status IN ('pending', 'sending') AND next_at <= now()
  GROUP BY tenant_id, destination, provider, code_id
)
SELECT d.tenant_id, d.destination, d.provider, d.code_id, d.due FROM due d
WHERE NOT EXISTS (
  SELECT 1 FROM conversion_holds h JOIN tracking_codes tc ON tc.tenant_id = h.tenant_id AND tc.id = h.code_id
  WHERE h.tenant_id = d.tenant_id AND h.destination = d.destination AND h.held_until > now() AND tc.updated_at = h.code_updated_at
)
ORDER BY d.first_at LIMIT $1;

-- name: code_for_destination
-- The code, its version (updated_at as text: exact to the microsecond, compared in SQL later) and the
-- destination's hold, if any ($3 the destination).
SELECT tc.id, tc.tenant_id, tc.provider, tc.organizer_id, tc.event_id, tc.enabled, tc.settings, tc.secrets_enc,
  tc.updated_at::text AS version, h.holds, h.code_updated_at::text AS held_version
FROM tracking_codes tc
LEFT JOIN conversion_holds h ON h.tenant_id = tc.tenant_id AND h.destination = $3
WHERE tc.tenant_id = $1 AND tc.id = $2;

-- name: hold_destination
-- $1 tenant, $2 destination, $3 code id, $4 the code's version that was refused, $5 refusals in a row, $6 held
-- until, $7 the error. A new version of the code starts a new hold (held_since).
INSERT INTO conversion_holds AS h (tenant_id, destination, code_id, held_since, held_until, holds, code_updated_at, last_error)
VALUES ($1, $2, $3, now(), $6, $5, $4::timestamptz, $7)
ON CONFLICT (tenant_id, destination) DO UPDATE SET code_id = EXCLUDED.code_id, held_until = EXCLUDED.held_until, holds = EXCLUDED.holds,
  last_error = EXCLUDED.last_error, code_updated_at = EXCLUDED.code_updated_at,
  held_since = CASE WHEN h.code_updated_at IS NOT DISTINCT FROM EXCLUDED.code_updated_at THEN h.held_since ELSE now() END;

-- name: release_hold
DELETE FROM conversion_holds WHERE tenant_id = $1 AND destination = $2;

-- name: expire_held
-- A held destination's pending rows: those that waited past the provider's limit are dead: $4 its maximum event
-- age in seconds (Meta, GA4: the row would be refused by then, its digests go), else (null) the outbox's retry
-- budget $3 from the row's first try or retry (the digests stay, for a retry after the fix); $5 the error.
-- With an age limit the others' retry budget starts again now: a row held for days is not dead at the first
-- 5xx after its destination is fixed.
WITH d AS (
  UPDATE conversion_outbox SET status = 'dead', lease_until = NULL, last_error = $5, batch_cap = NULL,
    user_data = CASE WHEN $4::int IS NULL THEN user_data END
  WHERE tenant_id = $1 AND destination = $2 AND status = 'pending'
    AND CASE WHEN $4::int IS NULL THEN COALESCE(retried_at, created_at) < now() - make_interval(secs => $3::int)
             ELSE occurred_at < now() - make_interval(secs => $4::int) END
  RETURNING 1
), r AS (
  UPDATE conversion_outbox SET retried_at = now()
  WHERE $4::int IS NOT NULL AND tenant_id = $1 AND destination = $2 AND status = 'pending'
    AND occurred_at >= now() - make_interval(secs => $4::int)
  RETURNING 1
) SELECT (SELECT count(*) FROM d)::int AS n;

-- name: prune_holds
-- Holds whose destination has had nothing to try for a long while (no pending row holds them any more).
WITH d AS (DELETE FROM conversion_holds WHERE held_until < $1 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: claim_batch
-- A claimed row is `sending` until its lease ends; next_at = the lease's end, so if this node dies the row
-- is due again then (the same index), and its attempt was counted. Rows being split (batch_cap set: a batch
-- they were in was refused as a whole, migration 045) are not taken here but by claim_split.
UPDATE conversion_outbox o
SET status = 'sending', attempts = o.attempts + 1, lease_until = now() + make_interval(secs => $4), next_at = now() + make_interval(secs => $4)
WHERE o.id IN (
  SELECT id FROM conversion_outbox
  WHERE tenant_id = $1 AND destination = $2 AND status IN ('pending', 'sending') AND next_at <= now() AND batch_cap IS NULL
  ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED
)
RETURNING o.id, o.event_id::text AS event_id, o.event_name, o.occurred_at, o.legal_basis, o.data, o.user_data, o.attempts,
  COALESCE(o.retried_at, o.created_at) AS first_at, o.batch_cap, o.last_error;

-- name: claim_split
-- The next batch of a split: due rows being split only (never with rows queued since), as claim_batch does, the
-- smallest caps first (the split nearest to its bad row) and at most the smallest cap among them ($3: the
-- provider's limit), so a split goes on where the last run stopped.
UPDATE conversion_outbox o
SET status = 'sending', attempts = o.attempts + 1, lease_until = now() + make_interval(secs => $4), next_at = now() + make_interval(secs => $4)
WHERE o.id IN (
  SELECT id FROM conversion_outbox
  WHERE tenant_id = $1 AND destination = $2 AND status IN ('pending', 'sending') AND next_at <= now() AND batch_cap IS NOT NULL
  ORDER BY batch_cap, next_at, id
  LIMIT LEAST($3::int, (SELECT min(batch_cap) FROM conversion_outbox
    WHERE tenant_id = $1 AND destination = $2 AND status IN ('pending', 'sending') AND next_at <= now() AND batch_cap IS NOT NULL))
  FOR UPDATE SKIP LOCKED
)
RETURNING o.id, o.event_id::text AS event_id, o.event_name, o.occurred_at, o.legal_basis, o.data, o.user_data, o.attempts,
  COALESCE(o.retried_at, o.created_at) AS first_at, o.batch_cap, o.last_error;

-- name: mark_sent
UPDATE conversion_outbox SET status = 'sent', sent_at = now(), user_data = NULL, lease_until = NULL, last_error = NULL
WHERE id = ANY($1::bigint[]) AND status = 'sending';

-- name: mark_failed
-- $1: [{"id","dead","next_at","error","clear","cap"}]: back to pending at next_at, or dead with the provider's error;
-- `clear`: the row was refused for itself (a retry cannot help), its digests go at once; `cap`: the row's batch
-- was refused as a whole, it is sent next in a batch of at most this many (never more than before; a dead row
-- forgets it).
UPDATE conversion_outbox o
SET status = CASE WHEN x.dead THEN 'dead' ELSE 'pending' END, next_at = COALESCE(x.next_at, o.next_at), lease_until = NULL, last_error = x.error,
  user_data = CASE WHEN x.dead AND x.clear THEN NULL ELSE o.user_data END,
  batch_cap = CASE WHEN x.dead THEN NULL ELSE LEAST(x.cap, o.batch_cap) END
FROM json_to_recordset($1::json) AS x(id bigint, dead boolean, next_at timestamptz, error text, clear boolean, cap int)
WHERE o.id = x.id AND o.status = 'sending';

-- name: pending_by_provider
SELECT provider, count(*)::int AS n FROM conversion_outbox WHERE status IN ('pending', 'sending') GROUP BY provider;

-- name: take_call
-- One call of a destination in its fixed window; no row back = the window's limit is reached.
INSERT INTO conversion_rate_windows AS w (tenant_id, destination, window_start, calls) VALUES ($1, $2, $3, 1)
ON CONFLICT (tenant_id, destination, window_start) DO UPDATE SET calls = w.calls + 1 WHERE w.calls < $4
RETURNING calls;

-- name: prune_windows
WITH d AS (DELETE FROM conversion_rate_windows WHERE window_start < $1 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: list_conversions
SELECT id, destination, provider, code_id, owner, event_id::text AS event_id, event_name, occurred_at, legal_basis, data->>'order_id' AS order_id,
  CASE WHEN status = 'sending' THEN 'pending' ELSE status END AS status, attempts, next_at, created_at, sent_at, last_error
FROM conversion_outbox
WHERE tenant_id = $1
  AND ($2::text IS NULL OR status = $2 OR ($2 = 'pending' AND status = 'sending'))
  AND ($3::text IS NULL OR destination = $3)
  AND ($4::bigint IS NULL OR id < $4)
ORDER BY id DESC LIMIT $5;

-- name: count_conversions
-- Per destination: its rows by status, and whether it is held (its credential or permission refused, the code
-- not updated since) with the provider's answer and when it is tried again.
WITH c AS (
  SELECT destination, provider, code_id,
    count(*) FILTER (WHERE status IN ('pending', 'sending'))::int AS pending,
    count(*) FILTER (WHERE status = 'sent')::int AS sent,
    count(*) FILTER (WHERE status = 'dead')::int AS dead
  FROM conversion_outbox WHERE tenant_id = $1 GROUP BY destination, provider, code_id
)
SELECT c.destination, c.provider, c.pending, c.sent, c.dead,
  CASE WHEN h.tenant_id IS NOT NULL AND tc.updated_at = h.code_updated_at THEN 'held' ELSE 'active' END AS status,
  CASE WHEN tc.updated_at = h.code_updated_at THEN h.held_since END AS held_since,
  CASE WHEN tc.updated_at = h.code_updated_at THEN h.held_until END AS next_attempt_at,
  CASE WHEN tc.updated_at = h.code_updated_at THEN h.last_error END AS last_error
FROM c
LEFT JOIN conversion_holds h ON h.tenant_id = $1 AND h.destination = c.destination
LEFT JOIN tracking_codes tc ON tc.tenant_id = $1 AND tc.id = h.code_id
ORDER BY c.destination;

-- name: retry_dead
UPDATE conversion_outbox SET status = 'pending', next_at = now(), retried_at = now(), attempts = 0, last_error = NULL, batch_cap = NULL
WHERE tenant_id = $1 AND id = $2 AND status = 'dead'
RETURNING id, status;

-- name: retry_destination
-- Every dead row of a destination back to pending (POST /api/v1/conversions/retry), except the duplicates of an
-- order the destination already has an earlier row for (the single retry refuses those: first_of_order).
WITH r AS (
  UPDATE conversion_outbox o SET status = 'pending', next_at = now(), retried_at = now(), attempts = 0, last_error = NULL, batch_cap = NULL
  WHERE o.tenant_id = $1 AND o.destination = $2 AND o.status = 'dead'
    AND NOT (o.event_name = 'order_completed' AND EXISTS (
      SELECT 1 FROM conversion_outbox f WHERE f.tenant_id = o.tenant_id AND f.destination = o.destination AND f.event_name = 'order_completed'
        AND f.data->>'order_id' = o.data->>'order_id' AND f.id < o.id))
  RETURNING 1
)
SELECT (SELECT count(*) FROM r)::int AS retried,
  ((SELECT count(*) FROM conversion_outbox WHERE tenant_id = $1 AND destination = $2 AND status = 'dead') - (SELECT count(*) FROM r))::int AS duplicates;

-- name: status_of
SELECT status FROM conversion_outbox WHERE tenant_id = $1 AND id = $2;

-- name: first_of_order
-- For a purchase row: the destination's first row of the same order when it is another one (a duplicate an older
-- version queued under a second event id; migration 025), else no row.
SELECT f.id FROM conversion_outbox o
JOIN conversion_outbox f ON f.tenant_id = o.tenant_id AND f.destination = o.destination AND f.event_name = 'order_completed'
  AND f.data->>'order_id' = o.data->>'order_id' AND f.id < o.id
WHERE o.tenant_id = $1 AND o.id = $2 AND o.event_name = 'order_completed'
ORDER BY f.id LIMIT 1;

-- name: get_settings
SELECT purchase_basis, updated_at FROM conversion_settings WHERE tenant_id = $1;

-- name: put_settings
INSERT INTO conversion_settings (tenant_id, purchase_basis, updated_at) VALUES ($1, $2, now())
ON CONFLICT (tenant_id) DO UPDATE SET purchase_basis = EXCLUDED.purchase_basis, updated_at = now()
RETURNING purchase_basis, updated_at;

-- name: erase_outbox
-- The person's rows (which they are: export_outbox) not yet acknowledged go; acknowledged ones keep only where and when
-- (no data, no hashes). $3: the person's event ids, $4: their visitor ids.
WITH d AS (
  DELETE FROM conversion_outbox o
  WHERE o.tenant_id = $1 AND o.status <> 'sent'
    AND (o.person_id = $2 OR (o.person_id IS NULL AND (o.event_id = ANY($3::uuid[])
      OR (o.data->>'visitor_id' = ANY($4::text[])
        AND NOT EXISTS (SELECT 1 FROM tx_events e WHERE e.tenant_id = $1 AND e.event_id = o.event_id)))))
  RETURNING 1
), u AS (
  UPDATE conversion_outbox o SET user_data = NULL, data = '{}'::jsonb, person_id = NULL, session_id = NULL
  WHERE o.tenant_id = $1 AND o.status = 'sent'
    AND (o.person_id = $2 OR (o.person_id IS NULL AND (o.event_id = ANY($3::uuid[])
      OR (o.data->>'visitor_id' = ANY($4::text[])
        AND NOT EXISTS (SELECT 1 FROM tx_events e WHERE e.tenant_id = $1 AND e.event_id = o.event_id)))))
    AND (o.data <> '{}'::jsonb OR o.person_id IS NOT NULL OR o.session_id IS NOT NULL)
  RETURNING 1
)
SELECT (SELECT count(*) FROM d)::int + (SELECT count(*) FROM u)::int AS n;

-- name: erase_attributions
-- The attributions of the person's purchases: as erase_outbox ($4: their visitor ids).
WITH d AS (
  DELETE FROM conversion_attributions a
  WHERE a.tenant_id = $1
    AND (a.person_id = $2 OR (a.person_id IS NULL AND (a.event_id = ANY($3::uuid[])
      OR (a.visitor_id = ANY($4::text[])
        AND NOT EXISTS (SELECT 1 FROM tx_events e WHERE e.tenant_id = $1 AND e.event_id = a.event_id)))))
  RETURNING 1
) SELECT count(*)::int AS n FROM d;

-- name: export_outbox
-- A person's outbox rows are those of their own events: stamped with them ($2: the row's person is its event's as
-- its commit resolved it); unstamped, of one of their events ($3: the events export and erasure gather, stamped,
-- unattributed of their visitors, or their orders) or, once that event is gone (retention), of one of their
-- visitors ($4). Never by session (a box-office till's or a shared device's session holds other buyers'
-- purchases), and a row stamped with another person, or whose event is someone else's, is never theirs, whatever
-- visitor id it shares.
SELECT o.id, o.destination, o.event_id::text AS event_id, o.event_name, o.occurred_at, o.legal_basis, o.status, o.data, o.user_data, o.sent_at, o.last_error
FROM conversion_outbox o
WHERE o.tenant_id = $1
  AND (o.person_id = $2 OR (o.person_id IS NULL AND (o.event_id = ANY($3::uuid[])
    OR (o.data->>'visitor_id' = ANY($4::text[])
      AND NOT EXISTS (SELECT 1 FROM tx_events e WHERE e.tenant_id = $1 AND e.event_id = o.event_id)))))
ORDER BY o.id;

-- name: export_attributions
-- As export_outbox ($4: their visitor ids).
SELECT a.event_id::text AS event_id, a.order_id, a.session_id, a.visitor_id, a.occurred_at, a.first_touch, a.click_ids, a.utm
FROM conversion_attributions a
WHERE a.tenant_id = $1
  AND (a.person_id = $2 OR (a.person_id IS NULL AND (a.event_id = ANY($3::uuid[])
    OR (a.visitor_id = ANY($4::text[])
      AND NOT EXISTS (SELECT 1 FROM tx_events e WHERE e.tenant_id = $1 AND e.event_id = a.event_id)))))
ORDER BY a.occurred_at;

-- name: extend_lease
UPDATE conversion_outbox SET lease_until = now() + make_interval(secs => $2), next_at = now() + make_interval(secs => $2)
WHERE id = ANY($1::bigint[]) AND status = 'sending';

-- name: clear_dead_digests
-- Dead rows keep their digests (for a retry after a fix) until the cut-off after they were queued or last
-- retried; a retry after that sends the conversion without them. A chunk at a time.
WITH d AS (
  UPDATE conversion_outbox SET user_data = NULL WHERE id IN (
    SELECT id FROM conversion_outbox WHERE status = 'dead' AND user_data IS NOT NULL AND COALESCE(retried_at, created_at) < $1 ORDER BY id LIMIT $2
  ) RETURNING 1
) SELECT count(*)::int AS n FROM d;

-- name: prune_settled
-- Settled rows (sent or dead) older than the cut-off, oldest ids first, a chunk at a time.
WITH d AS (
  DELETE FROM conversion_outbox WHERE id IN (
    SELECT id FROM conversion_outbox WHERE status IN ('sent', 'dead') AND COALESCE(sent_at, created_at) < $1 ORDER BY id LIMIT $2
  ) RETURNING 1
) SELECT count(*)::int AS n FROM d;

-- name: code_delivery
-- The server-side delivery of tracking codes $2 (their destination '<provider>:<id>'), for the codes' own readers
-- (GET /api/v1/tracking-codes, an organizer's key too; README "Tracking codes"): held (the provider refused the
-- code's credential or permission and the code was not updated since) with the provider's answer; the rows
-- waiting (pending), those of them retrying after an error (failing), the rows dead in the last 24 h, the latest
-- error and the latest send, both among the rows waiting or written in the last 24 h. One statement per page.
WITH c AS (
  SELECT tc.id, tc.provider || ':' || tc.id AS destination, tc.updated_at
  FROM tracking_codes tc WHERE tc.tenant_id = $1 AND tc.id = ANY($2::bigint[])
), o AS (
  SELECT o.destination,
    count(*) FILTER (WHERE o.status IN ('pending', 'sending'))::int AS pending,
    count(*) FILTER (WHERE o.status IN ('pending', 'sending') AND o.last_error IS NOT NULL)::int AS failing,
    count(*) FILTER (WHERE o.status = 'dead')::int AS dead_24h,
    (array_agg(o.last_error ORDER BY o.id DESC) FILTER (WHERE o.last_error IS NOT NULL AND o.status <> 'sent'))[1] AS last_error,
    max(o.sent_at) AS last_sent_at
  FROM conversion_outbox o
  WHERE o.tenant_id = $1 AND o.destination IN (SELECT destination FROM c)
    AND (o.status IN ('pending', 'sending') OR o.created_at > now() - interval '24 hours' OR o.retried_at > now() - interval '24 hours')
  GROUP BY o.destination
)
SELECT c.id::text AS code_id,
  CASE WHEN h.tenant_id IS NOT NULL AND c.updated_at = h.code_updated_at THEN 'held' ELSE 'ok' END AS status,
  CASE WHEN c.updated_at = h.code_updated_at THEN h.last_error END AS held_reason,
  CASE WHEN c.updated_at = h.code_updated_at THEN h.held_since END AS held_since,
  COALESCE(o.pending, 0) AS pending, COALESCE(o.failing, 0) AS failing, COALESCE(o.dead_24h, 0) AS dead_24h,
  COALESCE(o.last_error, CASE WHEN c.updated_at = h.code_updated_at THEN h.last_error END) AS last_error, o.last_sent_at
FROM c
LEFT JOIN o ON o.destination = c.destination
LEFT JOIN conversion_holds h ON h.tenant_id = $1 AND h.destination = c.destination;
