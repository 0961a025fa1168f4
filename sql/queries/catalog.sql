-- The tenant's catalog (server/catalog/): set-based upserts from one jsonb array per request, keyset lists,
-- deletes, the live layer's event metadata and the persons' derived stats.
-- Upserts: $1 tenant id, $2 the validated items (a jsonb array; dates as ISO strings). An item without
-- updated_at is stamped now() (that is how `EXCLUDED.updated_at <> now()` tells an explicit one). A row is
-- written only when the item is not older than the stored one and changes something; the row's synced_at
-- moves to now() only when its content changed, so `changed` tells upserted from unchanged.

-- name: upsert_organizers
INSERT INTO catalog_organizers AS t (tenant_id, id, name, updated_at)
SELECT $1, x.id, x.name, COALESCE(x.updated_at, now())
FROM jsonb_to_recordset($2::jsonb) AS x(id text, name text, updated_at timestamptz)
ON CONFLICT (tenant_id, id) DO UPDATE SET
  name = EXCLUDED.name, updated_at = EXCLUDED.updated_at,
  synced_at = CASE WHEN ROW(t.name) IS DISTINCT FROM ROW(EXCLUDED.name) THEN now() ELSE t.synced_at END
WHERE (EXCLUDED.updated_at >= t.updated_at OR t.updated_at IS NULL)
  -- Same content: no write (no dead row), unless an explicit, newer updated_at moves the ordering forward.
  AND (ROW(t.name) IS DISTINCT FROM ROW(EXCLUDED.name)
    OR (EXCLUDED.updated_at > t.updated_at AND EXCLUDED.updated_at <> now()))
RETURNING t.id, t.synced_at = now() AS changed;

-- name: upsert_venues
INSERT INTO catalog_venues AS t (tenant_id, id, name, city, country, lat, lon, capacity, gates, updated_at)
SELECT $1, x.id, x.name, x.city, x.country, x.lat, x.lon, x.capacity, COALESCE(x.gates, '[]'), COALESCE(x.updated_at, now())
FROM jsonb_to_recordset($2::jsonb) AS x(id text, name text, city text, country text, lat float8, lon float8, capacity int, gates jsonb, updated_at timestamptz)
ON CONFLICT (tenant_id, id) DO UPDATE SET
  name = EXCLUDED.name, city = EXCLUDED.city, country = EXCLUDED.country, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
  capacity = EXCLUDED.capacity, gates = EXCLUDED.gates, updated_at = EXCLUDED.updated_at,
  synced_at = CASE WHEN ROW(t.name, t.city, t.country, t.lat, t.lon, t.capacity, t.gates)
    IS DISTINCT FROM ROW(EXCLUDED.name, EXCLUDED.city, EXCLUDED.country, EXCLUDED.lat, EXCLUDED.lon, EXCLUDED.capacity, EXCLUDED.gates)
    THEN now() ELSE t.synced_at END
WHERE (EXCLUDED.updated_at >= t.updated_at OR t.updated_at IS NULL)
  -- Same content: no write (no dead row), unless an explicit, newer updated_at moves the ordering forward.
  AND (ROW(t.name, t.city, t.country, t.lat, t.lon, t.capacity, t.gates)
    IS DISTINCT FROM ROW(EXCLUDED.name, EXCLUDED.city, EXCLUDED.country, EXCLUDED.lat, EXCLUDED.lon, EXCLUDED.capacity, EXCLUDED.gates)
    OR (EXCLUDED.updated_at > t.updated_at AND EXCLUDED.updated_at <> now()))
RETURNING t.id, t.synced_at = now() AS changed;

-- name: upsert_artists
INSERT INTO catalog_artists AS t (tenant_id, id, name, genres, updated_at)
SELECT $1, x.id, x.name, COALESCE(x.genres, '{}'), COALESCE(x.updated_at, now())
FROM jsonb_to_recordset($2::jsonb) AS x(id text, name text, genres text[], updated_at timestamptz)
ON CONFLICT (tenant_id, id) DO UPDATE SET
  name = EXCLUDED.name, genres = EXCLUDED.genres, updated_at = EXCLUDED.updated_at,
  synced_at = CASE WHEN ROW(t.name, t.genres) IS DISTINCT FROM ROW(EXCLUDED.name, EXCLUDED.genres) THEN now() ELSE t.synced_at END
WHERE (EXCLUDED.updated_at >= t.updated_at OR t.updated_at IS NULL)
  -- Same content: no write (no dead row), unless an explicit, newer updated_at moves the ordering forward.
  AND (ROW(t.name, t.genres) IS DISTINCT FROM ROW(EXCLUDED.name, EXCLUDED.genres)
    OR (EXCLUDED.updated_at > t.updated_at AND EXCLUDED.updated_at <> now()))
RETURNING t.id, t.synced_at = now() AS changed;

-- name: upsert_events
-- genres absent (null) → the union of the artists' genres (at most 50, below), marked genres_derived (re-derived when an artist
-- changes or is deleted); computed once per distinct artist list of the batch (see rederive_event_genres). The union costs a row
-- per (event, artist, genre): store.ts sends a sync whose derived genres cost more than GENRE_REFS_PER_TX in several batches.
WITH x AS MATERIALIZED (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(id text, organizer_id text, venue_id text, artist_ids text[], genres text[], title text,
    starts_at timestamptz, ends_at timestamptz, status text, capacity int, city text, url text, updated_at timestamptz)
), dup AS MATERIALIZED (  -- see rederive_event_genres
  SELECT a.id FROM catalog_artists a
  WHERE a.tenant_id = $1 AND catalog_genres_repeat(a.genres) AND a.id = ANY(ARRAY(SELECT unnest(artist_ids) FROM x WHERE genres IS NULL))
), u AS MATERIALIZED (
  SELECT s.artist_ids,
    -- At most 50 (the documented cap of a genres list): those carried by the most of the event's artists, then by
    -- name; stored by name. 200 artists × 50 distinct genres once gave 10,000, and a page of such events overflowed the reply.
    ARRAY(SELECT g FROM (
      SELECT g, count(*) AS n FROM catalog_artists a,
        unnest(CASE WHEN a.id IN (SELECT id FROM dup) THEN ARRAY(SELECT DISTINCT unnest(a.genres)) ELSE a.genres END) g
      WHERE a.tenant_id = $1 AND a.id = ANY(s.artist_ids) GROUP BY g ORDER BY n DESC, g LIMIT 50) top ORDER BY g) AS genres
  FROM (SELECT DISTINCT artist_ids FROM x WHERE genres IS NULL AND artist_ids IS NOT NULL) s
)
INSERT INTO catalog_events AS t (tenant_id, id, organizer_id, venue_id, artist_ids, genres, genres_derived, title, starts_at, ends_at, status, capacity, city, url, updated_at)
SELECT $1, x.id, x.organizer_id, x.venue_id, COALESCE(x.artist_ids, '{}'), COALESCE(x.genres, u.genres, '{}'),
  x.genres IS NULL, x.title, x.starts_at, x.ends_at, x.status, x.capacity, x.city, x.url, COALESCE(x.updated_at, now())
FROM x LEFT JOIN u ON u.artist_ids = x.artist_ids
-- In id order whatever the join's plan: the rows are locked in the order lock_events takes them.
ORDER BY x.id COLLATE "C"
ON CONFLICT (tenant_id, id) DO UPDATE SET
  organizer_id = EXCLUDED.organizer_id, venue_id = EXCLUDED.venue_id, artist_ids = EXCLUDED.artist_ids, genres = EXCLUDED.genres,
  genres_derived = EXCLUDED.genres_derived, title = EXCLUDED.title, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
  status = EXCLUDED.status, capacity = EXCLUDED.capacity, city = EXCLUDED.city, url = EXCLUDED.url, updated_at = EXCLUDED.updated_at,
  synced_at = CASE WHEN ROW(t.organizer_id, t.venue_id, t.artist_ids, t.genres, t.genres_derived, t.title, t.starts_at, t.ends_at, t.status, t.capacity, t.city, t.url)
    IS DISTINCT FROM ROW(EXCLUDED.organizer_id, EXCLUDED.venue_id, EXCLUDED.artist_ids, EXCLUDED.genres, EXCLUDED.genres_derived, EXCLUDED.title,
      EXCLUDED.starts_at, EXCLUDED.ends_at, EXCLUDED.status, EXCLUDED.capacity, EXCLUDED.city, EXCLUDED.url)
    THEN now() ELSE t.synced_at END
WHERE (EXCLUDED.updated_at >= t.updated_at OR t.updated_at IS NULL)
  -- Same content: no write (no dead row), unless an explicit, newer updated_at moves the ordering forward.
  AND (ROW(t.organizer_id, t.venue_id, t.artist_ids, t.genres, t.genres_derived, t.title, t.starts_at, t.ends_at, t.status, t.capacity, t.city, t.url)
    IS DISTINCT FROM ROW(EXCLUDED.organizer_id, EXCLUDED.venue_id, EXCLUDED.artist_ids, EXCLUDED.genres, EXCLUDED.genres_derived, EXCLUDED.title,
      EXCLUDED.starts_at, EXCLUDED.ends_at, EXCLUDED.status, EXCLUDED.capacity, EXCLUDED.city, EXCLUDED.url)
    OR (EXCLUDED.updated_at > t.updated_at AND EXCLUDED.updated_at <> now()))
RETURNING t.id, t.synced_at = now() AS changed;

-- name: upsert_ticket_types
INSERT INTO catalog_ticket_types AS t (tenant_id, id, event_id, name, category, price, currency, quota, updated_at)
SELECT $1, x.id, x.event_id, x.name, x.category, x.price, x.currency, x.quota, COALESCE(x.updated_at, now())
FROM jsonb_to_recordset($2::jsonb) AS x(id text, event_id text, name text, category text, price numeric, currency text, quota int, updated_at timestamptz)
ON CONFLICT (tenant_id, id) DO UPDATE SET
  event_id = EXCLUDED.event_id, name = EXCLUDED.name, category = EXCLUDED.category, price = EXCLUDED.price,
  currency = EXCLUDED.currency, quota = EXCLUDED.quota, updated_at = EXCLUDED.updated_at,
  synced_at = CASE WHEN ROW(t.event_id, t.name, t.category, t.price, t.currency, t.quota)
    IS DISTINCT FROM ROW(EXCLUDED.event_id, EXCLUDED.name, EXCLUDED.category, EXCLUDED.price, EXCLUDED.currency, EXCLUDED.quota)
    THEN now() ELSE t.synced_at END
WHERE (EXCLUDED.updated_at >= t.updated_at OR t.updated_at IS NULL)
  -- Same content: no write (no dead row), unless an explicit, newer updated_at moves the ordering forward.
  AND (ROW(t.event_id, t.name, t.category, t.price, t.currency, t.quota)
    IS DISTINCT FROM ROW(EXCLUDED.event_id, EXCLUDED.name, EXCLUDED.category, EXCLUDED.price, EXCLUDED.currency, EXCLUDED.quota)
    OR (EXCLUDED.updated_at > t.updated_at AND EXCLUDED.updated_at <> now()))
RETURNING t.id, t.synced_at = now() AS changed;

-- name: upsert_products
INSERT INTO catalog_products AS t (tenant_id, id, name, price, currency, updated_at)
SELECT $1, x.id, x.name, x.price, x.currency, COALESCE(x.updated_at, now())
FROM jsonb_to_recordset($2::jsonb) AS x(id text, name text, price numeric, currency text, updated_at timestamptz)
ON CONFLICT (tenant_id, id) DO UPDATE SET
  name = EXCLUDED.name, price = EXCLUDED.price, currency = EXCLUDED.currency, updated_at = EXCLUDED.updated_at,
  synced_at = CASE WHEN ROW(t.name, t.price, t.currency) IS DISTINCT FROM ROW(EXCLUDED.name, EXCLUDED.price, EXCLUDED.currency) THEN now() ELSE t.synced_at END
WHERE (EXCLUDED.updated_at >= t.updated_at OR t.updated_at IS NULL)
  -- Same content: no write (no dead row), unless an explicit, newer updated_at moves the ordering forward.
  AND (ROW(t.name, t.price, t.currency) IS DISTINCT FROM ROW(EXCLUDED.name, EXCLUDED.price, EXCLUDED.currency)
    OR (EXCLUDED.updated_at > t.updated_at AND EXCLUDED.updated_at <> now()))
RETURNING t.id, t.synced_at = now() AS changed;

-- name: events_of_artists
-- The events deriving their genres from the artists $2 (ids: changed or deleted), in id order, with what their
-- re-derivation costs: n their artists, k a hash of their artist list (events sharing a list, a tour's, derive it once
-- per batch). store.ts re-derives them in batches of bounded work (rederive_event_genres), each its own transaction.
SELECT id, cardinality(artist_ids) AS n, hash_array(artist_ids) AS k FROM catalog_events
WHERE tenant_id = $1 AND genres_derived AND artist_ids && $2::text[]
ORDER BY id;

-- name: lock_events
-- Locks the events $2 (ids) in one order, before rederive_event_genres writes them in its join's order: two artist
-- syncs whose events overlap otherwise locked them in crossing orders (deadlock detected, a 500). Its own statement
-- so that rederive_event_genres, run after it, reads the artists as committed by a sync it waited for here (a
-- snapshot taken before the wait would derive from that sync's old genres). COLLATE "C": the order of upsert_events.
SELECT count(*)::int AS n FROM (
  SELECT id FROM catalog_events WHERE tenant_id = $1 AND id = ANY($2::text[]) ORDER BY id COLLATE "C" FOR UPDATE
) s;

-- name: rederive_event_genres
-- The events $2 (ids; those whose genres are derived) take the union of their artists' genres again, after an artist
-- changed or was deleted (a deleted one no longer counts; its id stays in artist_ids). Same union as upsert_events,
-- computed once per distinct artist list (a tour's events share one), not once per event: 2000 events of the same
-- 200 artists with 50 genres each took 25 s per-event on the embedded store, holding it. Only changed rows are written.
WITH e AS MATERIALIZED (
  SELECT id, artist_ids FROM catalog_events
  WHERE tenant_id = $1 AND id = ANY($2::text[]) AND genres_derived
), dup AS MATERIALIZED (
  -- The artists listing a genre twice (rare; a partial index, migration 044): they count once for it, so their genres
  -- are made distinct before the count; the others' are counted as they are (count(*), a hash). count(DISTINCT a.id)
  -- sorted all of an event's artists' genres: 1.4–2.5× the time (bench/catalog-genres.ts).
  SELECT a.id FROM catalog_artists a
  WHERE a.tenant_id = $1 AND catalog_genres_repeat(a.genres) AND a.id = ANY(ARRAY(SELECT unnest(artist_ids) FROM e))
), u AS MATERIALIZED (  -- else inlined: the union is computed again per event, twice
  SELECT s.artist_ids,
    -- At most 50 (the documented cap of a genres list): those carried by the most of the event's artists, then by
    -- name; stored by name. 200 artists × 50 distinct genres once gave 10,000, and a page of such events overflowed the reply.
    ARRAY(SELECT g FROM (
      SELECT g, count(*) AS n FROM catalog_artists a,
        unnest(CASE WHEN a.id IN (SELECT id FROM dup) THEN ARRAY(SELECT DISTINCT unnest(a.genres)) ELSE a.genres END) g
      WHERE a.tenant_id = $1 AND a.id = ANY(s.artist_ids) GROUP BY g ORDER BY n DESC, g LIMIT 50) top ORDER BY g) AS genres
  FROM (SELECT DISTINCT artist_ids FROM e) s
)
UPDATE catalog_events c SET genres = u.genres, synced_at = now()
FROM e JOIN u ON u.artist_ids = e.artist_ids
WHERE c.tenant_id = $1 AND c.id = e.id AND c.genres IS DISTINCT FROM u.genres
RETURNING c.id;

-- name: lock_persons
-- The same per-(tenant, external id) lock as identity stitching (persons.sql lock_external_id), taken in id
-- order so two syncs of overlapping persons cannot deadlock.
SELECT count(pg_advisory_xact_lock(hashtextextended('tx-person:' || $1::text || ':' || i, 0)))::int AS n
FROM (SELECT i FROM unnest($2::text[]) i ORDER BY i) s;

-- name: erased_persons
-- Erasure tombstones of the synced external ids ($2 their keyed digests): a sync older than the erasure is refused.
SELECT external_sha256, max(erased_at) AS erased_at FROM gdpr_erasures
WHERE tenant_id = $1 AND external_sha256 = ANY($2::text[]) GROUP BY external_sha256;

-- name: insert_persons
-- New persons first (a CTE would not see them): $2 external ids; returns the ones created.
INSERT INTO persons (tenant_id, external_id)
SELECT $1, i FROM unnest($2::text[]) i
ON CONFLICT (tenant_id, external_id) DO NOTHING
RETURNING external_id AS id;

-- name: upsert_persons
-- Persons are shared with identity stitching, so a synced item changes only the fields it carries. city, a
-- stat (total_orders, events_attended, last_purchase_at, avg_order_value) or marketing_consent sent with a
-- value overrides its derivation (its name joins synced_fields); sent as null, the override is removed (city:
-- none until an order or login brings one). Marketing consent: the newest statement wins. A synced one is
-- stated at its marketing_consent_at, else the item's updated_at (else now); one older than the person's
-- consent (stated by an order or by an earlier sync, whatever the items' updated_at) is not taken, and
-- recompute_person_stats drops a synced one that a later order supersedes.
WITH x AS (
  SELECT e AS j, e->>'id' AS id, COALESCE((e->>'updated_at')::timestamptz, now()) AS u,
    CASE WHEN jsonb_typeof(e->'marketing_consent') = 'boolean'
      THEN COALESCE((e->>'marketing_consent_at')::timestamptz, (e->>'updated_at')::timestamptz, now()) END AS mc_at,
    ARRAY(SELECT f FROM unnest(ARRAY['city', 'marketing_consent', 'total_orders', 'events_attended', 'last_purchase_at', 'avg_order_value']) f WHERE e ? f) AS sent,
    ARRAY(SELECT f FROM unnest(ARRAY['city', 'marketing_consent', 'total_orders', 'events_attended', 'last_purchase_at', 'avg_order_value']) f WHERE jsonb_typeof(e->f) IS DISTINCT FROM 'null' AND e ? f) AS pinned
  FROM jsonb_array_elements($2::jsonb) e
),
v AS (
  SELECT p.person_id, x.u, x.sent, x.pinned,
    -- An item whose only field is a stale consent (not taken) is not the person's latest statement: its time is not kept.
    (k.mc_stale AND x.sent <@ ARRAY['marketing_consent']) AS ignored,
    CASE WHEN x.j ? 'city' THEN x.j->>'city' ELSE p.city END AS city,
    CASE WHEN x.j ? 'marketing_consent' AND NOT k.mc_stale THEN (x.j->>'marketing_consent')::boolean ELSE p.marketing_consent END AS mc,
    CASE WHEN k.mc_stale THEN p.marketing_consent_at
      WHEN x.j ? 'marketing_consent_at' THEN (x.j->>'marketing_consent_at')::timestamptz
      -- A value stated again moves its time only when the item is dated (an undated resend is the same statement).
      WHEN x.j ? 'marketing_consent' AND (jsonb_typeof(x.j->'updated_at') = 'string'
        OR (x.j->>'marketing_consent')::boolean IS DISTINCT FROM p.marketing_consent) THEN x.u
      ELSE p.marketing_consent_at END AS mca,
    CASE WHEN jsonb_typeof(x.j->'total_orders') = 'number' THEN (x.j->>'total_orders')::int ELSE p.total_orders END AS total_orders,
    CASE WHEN jsonb_typeof(x.j->'events_attended') = 'number' THEN (x.j->>'events_attended')::int ELSE p.events_attended END AS events_attended,
    CASE WHEN x.j ? 'last_purchase_at' AND jsonb_typeof(x.j->'last_purchase_at') <> 'null' THEN (x.j->>'last_purchase_at')::timestamptz ELSE p.last_purchase_at END AS lpa,
    CASE WHEN jsonb_typeof(x.j->'avg_order_value') = 'number' THEN (x.j->>'avg_order_value')::numeric ELSE p.avg_order_value END AS aov,
    -- A stale consent leaves marketing_consent in synced_fields as it was (a synced one stays synced).
    ARRAY(SELECT DISTINCT f FROM unnest(array_cat(ARRAY(SELECT s FROM unnest(p.synced_fields) s WHERE s <> ALL(x.sent)), x.pinned)) f
      WHERE NOT (k.mc_stale AND f = 'marketing_consent')
      UNION SELECT 'marketing_consent' WHERE k.mc_stale AND 'marketing_consent' = ANY(p.synced_fields) ORDER BY 1) AS fields
  FROM x JOIN persons p ON p.tenant_id = $1 AND p.external_id = x.id
  -- Stale: stated before the person's consent, synced or from an order. A newer updated_at does not make an older
  -- statement newer (true at 11-20 then false at 11-19, sent later: true stays).
  CROSS JOIN LATERAL (SELECT COALESCE(x.mc_at < p.marketing_consent_at AND p.marketing_consent IS NOT NULL, false) AS mc_stale) k
  WHERE p.catalog_updated_at IS NULL OR x.u >= p.catalog_updated_at
)
UPDATE persons p SET
  city = v.city, marketing_consent = v.mc, marketing_consent_at = v.mca, total_orders = v.total_orders,
  events_attended = v.events_attended, last_purchase_at = v.lpa, avg_order_value = v.aov, synced_fields = v.fields,
  catalog_updated_at = CASE WHEN v.ignored THEN p.catalog_updated_at ELSE v.u END,
  synced_at = CASE WHEN ROW(p.city, p.marketing_consent, p.marketing_consent_at, p.total_orders, p.events_attended, p.last_purchase_at, p.avg_order_value, p.synced_fields)
    IS DISTINCT FROM ROW(v.city, v.mc, v.mca, v.total_orders, v.events_attended, v.lpa, v.aov, v.fields) THEN now() ELSE p.synced_at END,
  updated_at = now()
FROM v WHERE p.person_id = v.person_id
RETURNING p.external_id AS id, p.person_id::text AS person_id, p.synced_at = now() AS changed;

-- name: recompute_person_stats
-- Derived person attributes from the stored events, set-based: $1 a tenant (null: all), $2 person ids (null:
-- all of them). Fields in synced_fields keep their synced value, but marketing consent is the newest statement:
-- a synced one (at its marketing_consent_at) gives way to a later order's consent_marketing and leaves
-- synced_fields. An order stored more than once (sent again under a new event_id) counts once, as its first row
-- (by time, then event id), in the average order value and the last purchase as in total_orders. Returns how many persons changed.
WITH e AS (
  SELECT p.person_id, e.event_id, e.event_name, e.occurred_at, e.entities, e.payload,
    row_number() OVER (PARTITION BY p.person_id, e.event_name, e.entities->>'order_id' ORDER BY e.occurred_at, e.event_id) AS nth
  FROM persons p
  LEFT JOIN tx_events e ON e.tenant_id = p.tenant_id AND e.person_id = p.person_id AND e.event_name IN ('order_completed', 'entry_granted')
  WHERE ($1::bigint IS NULL OR p.tenant_id = $1) AND ($2::bigint[] IS NULL OR p.person_id = ANY($2::bigint[]))
),
s AS (
  SELECT person_id,
    count(DISTINCT entities->>'order_id') FILTER (WHERE event_name = 'order_completed')::int AS total_orders,
    count(DISTINCT entities->>'event_entity_id') FILTER (WHERE event_name = 'entry_granted' AND payload->>'scan_type' IS DISTINCT FROM 'exit')::int AS events_attended,
    max(occurred_at) FILTER (WHERE event_name = 'order_completed' AND nth = 1) AS last_purchase_at,
    round(avg((payload->>'gross_amount')::numeric) FILTER (WHERE event_name = 'order_completed' AND nth = 1), 3) AS avg_order_value,
    (array_agg((payload->>'consent_marketing')::boolean ORDER BY occurred_at DESC, event_id DESC)
      FILTER (WHERE event_name = 'order_completed' AND jsonb_typeof(payload->'consent_marketing') = 'boolean'))[1] AS mc,
    max(occurred_at) FILTER (WHERE event_name = 'order_completed' AND jsonb_typeof(payload->'consent_marketing') = 'boolean') AS mca
  FROM e
  GROUP BY person_id
),
n AS (
  SELECT p.person_id,
    CASE WHEN 'total_orders' = ANY(p.synced_fields) THEN p.total_orders ELSE s.total_orders END AS total_orders,
    CASE WHEN 'events_attended' = ANY(p.synced_fields) THEN p.events_attended ELSE s.events_attended END AS events_attended,
    CASE WHEN 'last_purchase_at' = ANY(p.synced_fields) THEN p.last_purchase_at ELSE s.last_purchase_at END AS last_purchase_at,
    CASE WHEN 'avg_order_value' = ANY(p.synced_fields) THEN p.avg_order_value ELSE s.avg_order_value END AS avg_order_value,
    CASE WHEN k.held OR s.mc IS NULL THEN p.marketing_consent ELSE s.mc END AS mc,
    CASE WHEN k.held OR s.mc IS NULL THEN p.marketing_consent_at ELSE s.mca END AS mca,
    CASE WHEN k.held OR s.mc IS NULL THEN p.synced_fields ELSE array_remove(p.synced_fields, 'marketing_consent') END AS fields
  FROM s JOIN persons p ON p.person_id = s.person_id
  -- A synced consent holds against orders stated no later than it (a tie keeps the sync).
  CROSS JOIN LATERAL (SELECT 'marketing_consent' = ANY(p.synced_fields) AND COALESCE(p.marketing_consent_at >= s.mca, s.mca IS NULL) AS held) k
),
u AS (
  UPDATE persons p SET total_orders = n.total_orders, events_attended = n.events_attended, last_purchase_at = n.last_purchase_at,
    avg_order_value = n.avg_order_value, marketing_consent = n.mc, marketing_consent_at = n.mca, synced_fields = n.fields
  FROM n WHERE p.person_id = n.person_id
    AND ROW(p.total_orders, p.events_attended, p.last_purchase_at, p.avg_order_value, p.marketing_consent, p.marketing_consent_at, p.synced_fields)
      IS DISTINCT FROM ROW(n.total_orders, n.events_attended, n.last_purchase_at, n.avg_order_value, n.mc, n.mca, n.fields)
  RETURNING 1
)
SELECT count(*)::int AS n FROM u;

-- name: persons_of_events
-- The persons of newly stored order/entry events (the writer projector), read after identity stitching stamped them.
SELECT DISTINCT person_id::text AS person_id FROM tx_events
WHERE (tenant_id, event_id) IN (SELECT * FROM unnest($1::bigint[], $2::uuid[])) AND person_id IS NOT NULL;

-- Lists: $1 tenant, $2 the last id of the previous page (null: first page), $3 one id (null: all), $4 limit.

-- name: list_organizers
SELECT id, name, updated_at, synced_at FROM catalog_organizers
WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2) AND ($3::text IS NULL OR id = $3) ORDER BY id LIMIT $4;

-- name: list_venues
SELECT id, name, city, country, lat, lon, capacity, gates, updated_at, synced_at FROM catalog_venues
WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2) AND ($3::text IS NULL OR id = $3) ORDER BY id LIMIT $4;

-- name: list_venue_sizes
-- The page's stored size per venue (gates: up to 500 each, a page of 1000 is 20 MB of JSON): store.ts reads a page
-- of venues in parts of bounded size. pg_column_size reads no gates (the stored, compressed size).
SELECT id, pg_column_size(gates) AS b FROM catalog_venues
WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3;

-- name: list_artists
SELECT id, name, genres, updated_at, synced_at FROM catalog_artists
WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2) AND ($3::text IS NULL OR id = $3) ORDER BY id LIMIT $4;

-- name: list_events
SELECT id, organizer_id, venue_id, artist_ids, genres, genres_derived, title, starts_at, ends_at, status, capacity, city, url, updated_at, synced_at
FROM catalog_events
WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2) AND ($3::text IS NULL OR id = $3) ORDER BY id LIMIT $4;

-- name: list_ticket_types
SELECT id, event_id, name, category, price::text AS price, currency, quota, updated_at, synced_at FROM catalog_ticket_types
WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2) AND ($3::text IS NULL OR id = $3) ORDER BY id LIMIT $4;

-- name: list_products
SELECT id, name, price::text AS price, currency, updated_at, synced_at FROM catalog_products
WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2) AND ($3::text IS NULL OR id = $3) ORDER BY id LIMIT $4;

-- name: list_persons
SELECT external_id AS id, person_id::text AS person_id, city, marketing_consent, marketing_consent_at, total_orders, events_attended,
  last_purchase_at, avg_order_value::text AS avg_order_value, synced_fields, catalog_updated_at AS updated_at, synced_at
FROM persons
WHERE tenant_id = $1 AND ($2::text IS NULL OR external_id > $2) AND ($3::text IS NULL OR external_id = $3) ORDER BY external_id LIMIT $4;

-- Deletes: $1 tenant, $2 id.

-- name: delete_organizers
DELETE FROM catalog_organizers WHERE tenant_id = $1 AND id = $2 RETURNING id;

-- name: delete_venues
DELETE FROM catalog_venues WHERE tenant_id = $1 AND id = $2 RETURNING id;

-- name: delete_artists
DELETE FROM catalog_artists WHERE tenant_id = $1 AND id = $2 RETURNING id;

-- name: delete_events
DELETE FROM catalog_events WHERE tenant_id = $1 AND id = $2 RETURNING id;

-- name: delete_ticket_types
DELETE FROM catalog_ticket_types WHERE tenant_id = $1 AND id = $2 RETURNING id;

-- name: delete_products
DELETE FROM catalog_products WHERE tenant_id = $1 AND id = $2 RETURNING id;

-- name: delete_persons
-- Not an erasure (DELETE /api/v1/persons/{id} is): the person's synced attributes are dropped, the derived
-- ones come back with the recompute that follows. The person, its city and identity links stay. A person with
-- nothing synced (never, or deleted already) is not matched: a second delete answers 0.
UPDATE persons SET marketing_consent = NULL, marketing_consent_at = NULL, synced_fields = '{}', catalog_updated_at = NULL,
  synced_at = NULL, updated_at = now()
WHERE tenant_id = $1 AND external_id = $2 AND (catalog_updated_at IS NOT NULL OR synced_fields <> '{}')
RETURNING external_id AS id, person_id::text AS person_id;

-- name: event_meta
-- The live layer's view of events: organizer name, capacity (the event's, else its venue's) and the venue's gates.
SELECT e.id, e.organizer_id, o.name AS organizer_name, e.title, e.venue_id, COALESCE(e.capacity, v.capacity) AS capacity,
  COALESCE(v.gates, '[]'::jsonb) AS gates, e.starts_at, e.status
FROM catalog_events e
LEFT JOIN catalog_organizers o ON o.tenant_id = e.tenant_id AND o.id = e.organizer_id
LEFT JOIN catalog_venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
WHERE e.tenant_id = $1 AND e.id = ANY($2::text[]);

-- name: event_known
-- An event id a segment or remarketing audience may filter on: in the tenant's catalog, or named by one of its tracked events.
SELECT (EXISTS (SELECT 1 FROM catalog_events c WHERE c.tenant_id = $1 AND c.id = $2::text)
  OR EXISTS (SELECT 1 FROM tx_events e WHERE e.tenant_id = $1 AND e.entities->>'event_entity_id' = $2::text)) AS known
