-- Tracking codes (server/tracking/, migration 011): CRUD of a tenant's codes and their resolution for a page.

-- name: insert_code
-- The unique owner+provider index answers a second code for the same owner and provider: nothing inserted.
INSERT INTO tracking_codes (tenant_id, organizer_id, event_id, provider, enabled, settings, secrets_enc)
VALUES ($1, $2::text, $3::text, $4, $5, $6::jsonb, $7::text)
ON CONFLICT DO NOTHING
RETURNING id::text, organizer_id, event_id, provider, enabled, settings, secrets_enc, created_at, updated_at;

-- name: existing_code
SELECT id::text FROM tracking_codes
WHERE tenant_id = $1 AND coalesce(organizer_id, '') = coalesce($2::text, '') AND coalesce(event_id, '') = coalesce($3::text, '') AND provider = $4;

-- name: get_code
SELECT id::text, organizer_id, event_id, provider, enabled, settings, secrets_enc, created_at, updated_at
FROM tracking_codes WHERE tenant_id = $1 AND id = $2;

-- name: update_code
UPDATE tracking_codes SET enabled = $3, settings = $4::jsonb, secrets_enc = $5::text, updated_at = clock_timestamp()
WHERE tenant_id = $1 AND id = $2
RETURNING id::text, organizer_id, event_id, provider, enabled, settings, secrets_enc, created_at, updated_at;

-- name: delete_code
DELETE FROM tracking_codes WHERE tenant_id = $1 AND id = $2
RETURNING id::text, organizer_id, event_id, provider, enabled, settings, secrets_enc, created_at, updated_at;

-- name: list_codes
-- $2: the whole tenant (admin); else only codes of the organizers $3 or the events $4 (the key's scope).
-- $8 owner: 'marketplace' | 'organizer' | 'event' | NULL. Keyset on the bigint c.id (not the text it prints).
SELECT c.id::text, organizer_id, event_id, provider, enabled, settings, secrets_enc, created_at, updated_at
FROM tracking_codes c
WHERE tenant_id = $1
  AND ($2::boolean OR organizer_id = ANY($3::text[]) OR event_id = ANY($4::text[]))
  AND ($5::text IS NULL OR organizer_id = $5::text)
  AND ($6::text IS NULL OR event_id = $6::text)
  AND ($7::text IS NULL OR provider = $7::text)
  AND ($8::text IS NULL
       OR ($8::text = 'marketplace' AND organizer_id IS NULL)
       OR ($8::text = 'organizer' AND organizer_id IS NOT NULL AND event_id IS NULL)
       OR ($8::text = 'event' AND event_id IS NOT NULL))
  AND ($9::bigint IS NULL OR c.id > $9::bigint)
ORDER BY c.id
LIMIT $10;

-- name: resolve_codes
-- Seed 002 §1.2: per provider, the event's own code, else the organizer's default; the marketplace's codes
-- always. Disabled codes count as absent (a disabled event code lets the organizer default apply).
-- $2 NULL (an event without a known organizer, or none asked): the marketplace's codes only.
SELECT DISTINCT ON (coalesce(organizer_id, ''), provider)
  id::text, organizer_id, event_id, provider, enabled, settings, secrets_enc, created_at, updated_at,
  CASE WHEN organizer_id IS NULL THEN 'marketplace' WHEN event_id IS NULL THEN 'organizer' ELSE 'event' END AS owner
FROM tracking_codes
WHERE tenant_id = $1 AND enabled
  AND ((organizer_id IS NULL AND event_id IS NULL)
       OR (organizer_id = $2::text AND (event_id IS NULL OR event_id = $3::text)))
ORDER BY coalesce(organizer_id, ''), provider, event_id IS NULL, tracking_codes.id;

-- name: codes_version
-- A fingerprint of what the tenant's resolutions read: its codes (any insert (count, max id), update (updated_at)
-- or delete (count) changes it), its catalog events (an upsert that changes an event sets its synced_at; a delete
-- changes the count) and the live owners (a first claim, a secret claim replacing a public one). Each node
-- re-reads it at most every 5 s to drop cached resolutions another node made stale.
SELECT (SELECT count(*)::text || ':' || coalesce(max(id), 0)::text || ':' || coalesce(sum(extract(epoch FROM updated_at)), 0)::text
        FROM tracking_codes WHERE tenant_id = $1)
  || '/' || (SELECT count(*)::text || ':' || coalesce(sum(extract(epoch FROM synced_at)), 0)::text FROM catalog_events WHERE tenant_id = $1)
  || '/' || (SELECT count(*)::text || ':' || coalesce(sum(extract(epoch FROM claimed_at)), 0)::text FROM live_event_owners WHERE tenant_id = $1) AS v;

-- name: page_organizer
-- The organizer of an event page $2, read from the store each time a resolution is computed (never from a cache a
-- catalog change may not have reached yet): the catalog's row when it has one (the catalog wins whole: an empty
-- organizer stays empty), else the live owner, else the organizer the event's own codes name when they all name
-- the same one (an event the catalog does not know yet; two organizers' codes for it: none is guessed).
SELECT CASE WHEN c.id IS NOT NULL THEN c.organizer_id
            WHEN o.organizer_id IS NOT NULL THEN o.organizer_id
            ELSE (SELECT min(t.organizer_id) FROM tracking_codes t WHERE t.tenant_id = $1 AND t.event_id = k.id
                  HAVING count(DISTINCT t.organizer_id) = 1) END AS organizer_id
FROM (SELECT $2::text AS id) k
LEFT JOIN catalog_events c ON c.tenant_id = $1 AND c.id = k.id
LEFT JOIN live_event_owners o ON o.tenant_id = $1 AND o.event_entity_id = k.id;
