-- name: history
-- Per-minute funnel for GET /api/v1/live/events/{id}/history and /live/dashboard/{org}/history
-- (server/live/history.ts). $1 tenant, $2 event entity ids (text[]), $3 from, $4 to (both inclusive),
-- $5 organizer id or NULL: with an organizer, the rows of every event it owns count too, whatever organizer
-- a row names (ownership as the live layer decides it, server/live/owners.ts: the catalog's organizer, else the
-- stored first claim), so events with no row today (not in the live state's $2) are not left out, and a row
-- naming the organizer on another organizer's event never counts for it. Counts what the live layer counts
-- (server/live/facts.ts): non-bot rows only; minutes without rows are absent (history.ts zero-fills them).
-- A per-row amount or ticket count beyond 2^53 (stored before the registry bounded numbers) adds nothing,
-- as in the live sums (safeAdd in server/live/state.ts), so float8 never overflows.
-- date_bin (PostgreSQL ≥ 14, core) rather than TimescaleDB's time_bucket: one text for every store, plain
-- PostgreSQL included; the origin is time_bucket's (any whole minute gives the same buckets).
-- A row's minute is that of its live time (server/live/facts.ts liveTime): occurred_at, never more than 2 s after
-- received_at (a device clock running ahead), so a row dated in the future counts where the live numbers count it.
-- For one event this uses tx_events_event_entity (tenant_id, entities->>'event_entity_id', occurred_at) from $3 on.
-- $6 (NULL unless asked, ?totals=day): the start of the UTC day of $4; the answer then has one more row, ts NULL,
-- the counts of that day up to $4 (the live day's totals as the store has them). One statement, so one snapshot:
-- a row is in both the minutes and this row, or in neither (the dashboard rebases its live counting on it).
WITH r AS (
  SELECT date_bin(INTERVAL '1 minute', least(occurred_at, received_at + INTERVAL '2 seconds'), TIMESTAMPTZ '2000-01-03 00:00:00+00') AS ts,
    least(occurred_at, received_at + INTERVAL '2 seconds') AS live_at, event_name, visitor_id,
    CASE WHEN event_name = 'order_completed' THEN (
      SELECT CASE WHEN abs(t) <= 9007199254740991 THEN t ELSE 0 END FROM (
        SELECT coalesce(sum((it->>'qty')::numeric), 0) AS t
        FROM jsonb_array_elements(CASE jsonb_typeof(payload->'items') WHEN 'array' THEN payload->'items' ELSE '[]'::jsonb END) AS it
        WHERE jsonb_typeof(it->'qty') = 'number') q) END AS tickets,
    CASE jsonb_typeof(payload->'currency') WHEN 'string' THEN payload->>'currency' ELSE 'XXX' END AS currency,
    CASE WHEN jsonb_typeof(payload->'gross_amount') = 'number'
      AND abs(round((payload->>'gross_amount')::numeric * 1000)) <= 9007199254740991
      THEN round((payload->>'gross_amount')::numeric * 1000) ELSE 0 END AS milli
  FROM tx_events
  WHERE tenant_id = $1 AND NOT is_bot AND entities ? 'event_entity_id'
    AND entities->>'event_entity_id' = ANY($2::text[] || ARRAY(
      SELECT c.id FROM catalog_events c WHERE $5::text IS NOT NULL AND c.tenant_id = $1 AND c.organizer_id = $5
      UNION ALL
      SELECT o.event_entity_id FROM live_event_owners o
      WHERE $5::text IS NOT NULL AND o.tenant_id = $1 AND o.organizer_id = $5
        AND NOT EXISTS (SELECT 1 FROM catalog_events c WHERE c.tenant_id = $1 AND c.id = o.event_entity_id AND c.organizer_id IS NOT NULL)))
    AND occurred_at >= least($3::timestamptz, coalesce($6::timestamptz, $3::timestamptz))
    AND least(occurred_at, received_at + INTERVAL '2 seconds') BETWEEN least($3::timestamptz, coalesce($6::timestamptz, $3::timestamptz)) AND $4::timestamptz
), w AS (
  -- The window's rows by minute, and (with $6) the day's rows under ts NULL.
  SELECT ts, event_name, visitor_id, tickets, currency, milli FROM r WHERE live_at >= $3::timestamptz
  UNION ALL
  SELECT NULL::timestamptz, event_name, visitor_id, tickets, currency, milli FROM r WHERE $6::timestamptz IS NOT NULL AND live_at >= $6::timestamptz
), money AS (
  SELECT ts, jsonb_object_agg(currency, sum_milli) AS revenue_milli
  FROM (SELECT ts, currency, sum(milli)::float8 AS sum_milli FROM w WHERE event_name = 'order_completed' GROUP BY ts, currency) m
  GROUP BY ts
)
SELECT c.ts, c.views, c.unique_visitors, c.add_to_carts, c.checkouts_started, c.orders, c.tickets_sold,
  coalesce(money.revenue_milli, '{}'::jsonb) AS revenue_milli
FROM (
  SELECT ts,
    count(*) FILTER (WHERE event_name = 'event_view')::int AS views,
    count(DISTINCT visitor_id)::int AS unique_visitors,
    count(*) FILTER (WHERE event_name = 'add_to_cart')::int AS add_to_carts,
    count(*) FILTER (WHERE event_name = 'checkout_started')::int AS checkouts_started,
    count(*) FILTER (WHERE event_name = 'order_completed')::int AS orders,
    coalesce(sum(tickets), 0)::float8 AS tickets_sold
  FROM w GROUP BY ts
) c LEFT JOIN money ON money.ts IS NOT DISTINCT FROM c.ts
ORDER BY c.ts NULLS LAST;

-- name: recompute_page
-- One keyset page of the rows that rebuild a UTC day's live state from the store (server/live/recompute.ts).
-- $1 day start, $2 next day's start, $3/$4 the (occurred_at, id) of the previous page's last row ('-infinity', 0
-- for the first page), $5 the page size. Every non-bot row naming an event entity whose live time (occurred_at,
-- never more than 2 s after received_at: server/live/facts.ts liveTime) falls in the day. The event's owner is
-- the stored one (the catalog's organizer, else live_event_owners'), never a row's; `category` is an order's
-- distinct ticket categories, sorted, as the writer's projector reads them (server/live/catalog.ts orderCategory).
-- The sort keys are qualified (e.id): the select list re-types id as text.
SELECT e.id::text AS id, e.event_id::text AS event_id, e.event_name, e.occurred_at, e.received_at, e.tenant_id::text AS tenant_id,
       e.source_system, e.visitor_id, e.session_id, e.entities, e.payload,
       coalesce(c.organizer_id, o.organizer_id) AS owner, CASE WHEN c.organizer_id IS NOT NULL THEN 'catalog' ELSE o.source END AS owner_source,
       CASE WHEN e.event_name = 'order_completed' AND jsonb_typeof(e.payload->'items') = 'array' THEN (
         SELECT string_agg(DISTINCT t.category COLLATE "C", ', ' ORDER BY t.category COLLATE "C")
         FROM jsonb_array_elements(e.payload->'items') it
         JOIN catalog_ticket_types t ON t.tenant_id = e.tenant_id AND jsonb_typeof(it) = 'object' AND t.id = it->>'ticket_type_id'
         WHERE t.category IS NOT NULL) END AS category
FROM tx_events e
LEFT JOIN live_event_owners o ON o.tenant_id = e.tenant_id AND o.event_entity_id = e.entities->>'event_entity_id'
LEFT JOIN catalog_events c ON c.tenant_id = e.tenant_id AND c.id = e.entities->>'event_entity_id'
WHERE e.occurred_at >= $1 AND least(e.occurred_at, e.received_at + interval '2 seconds') < $2 AND NOT e.is_bot AND e.entities ? 'event_entity_id'
  AND (e.occurred_at, e.id) > ($3::timestamptz, $4::bigint)
ORDER BY e.occurred_at, e.id
LIMIT $5::int;

-- name: erased_tenants_since
-- The tenants with a GDPR erasure (committed on any node) dated at or after $1 (server/live/erase-protocol.ts
-- catchUp): a node cut off from Redis meanwhile may have missed their ERASE message on the bus, and rebuilds their
-- live state from the store. An erasure's time is when it started, before its commit. Read once per outage;
-- gdpr_erasures holds one small row per erased person.
SELECT DISTINCT tenant_id::text AS tenant_id FROM gdpr_erasures WHERE erased_at >= $1::timestamptz;
