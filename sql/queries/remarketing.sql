-- Remarketing audiences (server/remarketing/). Behaviour audiences read tx_events in the window; an event
-- without a person resolves through the visitor's newest identity link. Members are persons with marketing
-- consent; a refresh deletes the persons who left and inserts the new ones in one statement (added_at of the
-- persons who stay is kept, which the platform sync's deltas rely on).
-- fill_behaviour: $1 tenant, $2 now, $3 event id ('' = any), $4 window days, $5 min actions, $6 source events,
-- $7 exclude every purchaser in the window, $8 audience id, $9 cart mode (drop who ordered after their last cart).

-- name: fill_behaviour
WITH ev AS (
  SELECT COALESCE(e.person_id, l.person_id) AS person_id, e.occurred_at, e.entities->>'cart_id' AS cart_id
  FROM tx_events e
  LEFT JOIN LATERAL (
    SELECT person_id FROM tx_identity_links l WHERE l.tenant_id = e.tenant_id AND l.visitor_id = e.visitor_id ORDER BY l.linked_at DESC, l.id DESC LIMIT 1
  ) l ON e.person_id IS NULL AND e.visitor_id IS NOT NULL
  WHERE e.tenant_id = $1 AND e.event_name = ANY($6::text[]) AND NOT e.is_bot
    AND e.occurred_at >= $2::timestamptz - $4::int * interval '1 day' AND e.occurred_at <= $2::timestamptz
    AND ($3::text = '' OR e.entities->>'event_entity_id' = $3::text)
),
act AS (
  SELECT person_id, max(occurred_at) AS last_at FROM ev WHERE person_id IS NOT NULL GROUP BY person_id HAVING count(*) >= $5::int
),
ord AS (
  SELECT COALESCE(e.person_id, l.person_id) AS person_id, max(e.occurred_at) AS last_order
  FROM tx_events e
  LEFT JOIN LATERAL (
    SELECT person_id FROM tx_identity_links l WHERE l.tenant_id = e.tenant_id AND l.visitor_id = e.visitor_id ORDER BY l.linked_at DESC, l.id DESC LIMIT 1
  ) l ON e.person_id IS NULL AND e.visitor_id IS NOT NULL
  WHERE e.tenant_id = $1 AND e.event_name = 'order_completed'
    AND e.occurred_at >= $2::timestamptz - $4::int * interval '1 day' AND e.occurred_at <= $2::timestamptz
    -- An order that names no event is the event's when it completes one of the event's carts, or when its first
    -- line is one of the event's ticket types (as conversions resolve it): a backend that leaves event_entity_id
    -- out must not target its own buyers.
    AND ($3::text = '' OR e.entities->>'event_entity_id' = $3::text
      OR (e.entities->>'event_entity_id' IS NULL
        AND (e.entities->>'cart_id' IN (SELECT cart_id FROM ev WHERE cart_id IS NOT NULL)
          OR EXISTS (SELECT 1 FROM catalog_ticket_types tt WHERE tt.tenant_id = $1 AND tt.event_id = $3::text AND tt.id = e.payload->'items'->0->>'ticket_type_id'))))
  GROUP BY 1
),
keep AS (
  SELECT a.person_id FROM act a
  JOIN persons p ON p.person_id = a.person_id AND p.tenant_id = $1 AND p.marketing_consent IS TRUE
  LEFT JOIN ord o ON o.person_id = a.person_id
  WHERE NOT ($7::boolean AND o.person_id IS NOT NULL) AND NOT ($9::boolean AND COALESCE(o.last_order >= a.last_at, false))
),
del AS (DELETE FROM remarketing_members m WHERE m.audience_id = $8::bigint AND m.person_id NOT IN (SELECT person_id FROM keep)),
ins AS (INSERT INTO remarketing_members (tenant_id, audience_id, person_id, added_at) SELECT $1, $8::bigint, person_id, $2 FROM keep ON CONFLICT DO NOTHING)
SELECT count(*)::int AS n FROM keep

-- name: fill_from_segment
-- custom_segment: a segment version's members ($3 segment, $5 version; null = its current version), consented.
-- A segment or version that is gone changes nothing (`found` false): an empty source would remove every member
-- here and, at the next sync, on the platform (the caller records the error instead).
WITH v AS (
  SELECT s.version FROM (SELECT COALESCE($5::int, current_version) AS version FROM segments WHERE tenant_id = $1 AND id = $3::bigint) s
  WHERE EXISTS (SELECT 1 FROM segment_versions sv WHERE sv.segment_id = $3::bigint AND sv.version = s.version)
),
keep AS (
  SELECT m.person_id FROM segment_members m JOIN v ON m.version = v.version
  JOIN persons p ON p.person_id = m.person_id AND p.marketing_consent IS TRUE
  WHERE m.tenant_id = $1 AND m.segment_id = $3::bigint
),
del AS (DELETE FROM remarketing_members m WHERE m.audience_id = $4::bigint AND EXISTS (SELECT 1 FROM v) AND m.person_id NOT IN (SELECT person_id FROM keep)),
ins AS (INSERT INTO remarketing_members (tenant_id, audience_id, person_id, added_at) SELECT $1, $4::bigint, person_id, $2 FROM keep ON CONFLICT DO NOTHING)
SELECT (SELECT count(*)::int FROM keep) AS n, EXISTS (SELECT 1 FROM v) AS found

-- name: external_taken
-- Any tenant's (the id is the platform's); the caller names the audience only to its own tenant.
SELECT id, tenant_id, status FROM remarketing_audiences WHERE platform = $1 AND external_audience_id = $2

-- name: insert_audience
INSERT INTO remarketing_audiences (tenant_id, organizer_id, event_id, platform, audience_type, name, criteria, external_audience_id, account_id, auto_refresh, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id

-- name: get_audience
-- An audience being deleted (its platform removals pending) is no longer the tenant's to read. Its organizer
-- (current_organizer_id) is its event's in the catalog now, else the one stored at its creation: a catalog move of
-- the event moves the audience (the view and the token of its next sync).
SELECT a.*, COALESCE(c.organizer_id, a.organizer_id) AS current_organizer_id
FROM remarketing_audiences a LEFT JOIN catalog_events c ON c.tenant_id = a.tenant_id AND c.id = a.event_id
WHERE a.tenant_id = $1 AND a.id = $2 AND a.status <> 'deleting'

-- name: get_any
SELECT a.*, COALESCE(c.organizer_id, a.organizer_id) AS current_organizer_id
FROM remarketing_audiences a LEFT JOIN catalog_events c ON c.tenant_id = a.tenant_id AND c.id = a.event_id
WHERE a.tenant_id = $1 AND a.id = $2

-- name: list_audiences
-- A page of the tenant's remarketing audiences, oldest first (keyset on id), with their organizer as get_audience.
SELECT a.*, COALESCE(c.organizer_id, a.organizer_id) AS current_organizer_id
FROM remarketing_audiences a LEFT JOIN catalog_events c ON c.tenant_id = a.tenant_id AND c.id = a.event_id
WHERE a.tenant_id = $1 AND a.id > $2 AND a.status <> 'deleting' ORDER BY a.id LIMIT $3

-- name: set_built
UPDATE remarketing_audiences SET member_count = $3, refreshed_at = $4, updated_at = $4,
  status = CASE WHEN status = 'building' THEN 'ready' ELSE status END, error_count = 0
WHERE tenant_id = $1 AND id = $2

-- name: set_status
-- Neither this nor set_failed / set_synced brings back an audience that expired (or is being deleted) meanwhile.
UPDATE remarketing_audiences SET status = CASE WHEN status IN ('expired', 'deleting') THEN status ELSE $3 END, updated_at = now() WHERE tenant_id = $1 AND id = $2

-- name: set_failed
UPDATE remarketing_audiences SET status = CASE WHEN status IN ('expired', 'deleting') THEN status ELSE $3 END, error_count = error_count + 1, last_error = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2

-- name: set_external
-- The platform audience a sync created (a Meta lookalike): its id, once.
UPDATE remarketing_audiences SET external_audience_id = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2 AND external_audience_id IS NULL

-- name: set_cleaned
-- A removal-only sync went through: the error is cleared, the status (expired, deleting, …) stays.
UPDATE remarketing_audiences SET last_error = NULL, error_count = 0, updated_at = $3 WHERE tenant_id = $1 AND id = $2

-- name: set_synced
UPDATE remarketing_audiences SET status = CASE WHEN status IN ('expired', 'deleting') THEN status ELSE 'active' END, last_synced_at = $3, last_error = NULL, error_count = 0, updated_at = $3 WHERE tenant_id = $1 AND id = $2

-- name: expire_due
UPDATE remarketing_audiences SET status = 'expired', updated_at = $1 WHERE expires_at IS NOT NULL AND expires_at <= $1 AND status NOT IN ('expired', 'deleting') RETURNING id

-- name: due_refresh
SELECT tenant_id, id FROM remarketing_audiences
WHERE auto_refresh AND status NOT IN ('expired', 'deleting') AND (refreshed_at IS NULL OR refreshed_at < $1) AND id > $2
ORDER BY id LIMIT $3

-- name: due_removals
-- Audiences whose platform copy must lose digests whatever their auto_refresh or status: erased persons'
-- (rows without a person) and every digest of an audience being deleted. Keyset on id.
SELECT a.tenant_id, a.id FROM remarketing_audiences a
WHERE a.id > $1 AND (a.status = 'deleting' OR EXISTS (SELECT 1 FROM remarketing_synced s WHERE s.audience_id = a.id AND s.person_id IS NULL))
ORDER BY a.id LIMIT $2

-- name: mark_deleting
-- A deletion whose platform copy holds digests: hidden at once, its members gone (so every synced digest is a
-- removal), kept until the platform was told. No synced digest: the row goes now (drop_drained).
WITH m AS (DELETE FROM remarketing_members WHERE tenant_id = $1 AND audience_id = $2)
UPDATE remarketing_audiences SET status = 'deleting', member_count = 0, updated_at = now()
WHERE tenant_id = $1 AND id = $2 AND status <> 'deleting' RETURNING id

-- name: drop_drained
-- The row of a deleted audience once the platform holds nothing of it ($3: only one marked 'deleting').
DELETE FROM remarketing_audiences a WHERE a.tenant_id = $1 AND a.id = $2 AND (NOT $3::boolean OR a.status = 'deleting')
  AND NOT EXISTS (SELECT 1 FROM remarketing_synced s WHERE s.audience_id = a.id) RETURNING id

-- name: claim_sync
-- One sync per audience across nodes: claimed when no lease holds ($3 the claim id, $4 the lease in ms).
UPDATE remarketing_audiences SET sync_claim = $3, sync_lease_until = now() + $4::int * interval '1 millisecond'
WHERE tenant_id = $1 AND id = $2 AND (sync_lease_until IS NULL OR sync_lease_until <= now()) RETURNING id

-- name: renew_sync
UPDATE remarketing_audiences SET sync_lease_until = now() + $3::int * interval '1 millisecond' WHERE id = $1 AND sync_claim = $2 RETURNING id

-- name: release_sync
UPDATE remarketing_audiences SET sync_claim = NULL, sync_lease_until = NULL WHERE id = $1 AND sync_claim = $2

-- name: members_page
SELECT m.person_id, m.added_at FROM remarketing_members m WHERE m.tenant_id = $1 AND m.audience_id = $2 AND m.person_id > $3 ORDER BY m.person_id LIMIT $4

-- name: export_page
-- What a platform receives: the members' normalised SHA-256 digests, nothing else.
SELECT m.person_id, p.email_sha256, p.phone_sha256 FROM remarketing_members m JOIN persons p ON p.person_id = m.person_id AND p.marketing_consent IS TRUE
WHERE m.tenant_id = $1 AND m.audience_id = $2 AND m.person_id > $3 AND (p.email_sha256 IS NOT NULL OR p.phone_sha256 IS NOT NULL)
ORDER BY m.person_id LIMIT $4

-- name: sync_adds
-- Digests of current members the platform does not hold yet ($3: the kinds this platform takes), consented
-- now (a withdrawal counts before the next refresh drops the member). Each (kind, digest) once, for the
-- lowest person holding it: members sharing an email are one identifier on the platform.
SELECT kind, digest, person_id FROM (
  SELECT DISTINCT ON (d.kind, d.digest) d.kind, d.digest, p.person_id
  FROM remarketing_members m JOIN persons p ON p.person_id = m.person_id AND p.marketing_consent IS TRUE,
    LATERAL (VALUES ('email', p.email_sha256), ('phone', p.phone_sha256)) d(kind, digest)
  WHERE m.audience_id = $2 AND d.digest IS NOT NULL AND d.kind = ANY($3::text[]) AND NOT EXISTS (SELECT 1 FROM remarketing_synced s WHERE s.audience_id = $2 AND s.kind = d.kind AND s.digest = d.digest)
    AND $1::bigint IS NOT NULL
  ORDER BY d.kind, d.digest, p.person_id
) a
ORDER BY person_id, kind
LIMIT $4

-- name: relink_synced
-- A digest the platform holds whose person left the audience, withdrew consent or was erased, while another
-- current consented member holds the same (kind, digest): it passes to that member (the lowest person id)
-- instead of being removed and sent again (sync_removes then leaves it).
UPDATE remarketing_synced s SET person_id = h.person_id
FROM (
  SELECT DISTINCT ON (d.kind, d.digest) d.kind, d.digest, p.person_id
  FROM remarketing_members m JOIN persons p ON p.person_id = m.person_id AND p.marketing_consent IS TRUE,
    LATERAL (VALUES ('email', p.email_sha256), ('phone', p.phone_sha256)) d(kind, digest)
  WHERE m.audience_id = $2 AND d.digest IS NOT NULL
  ORDER BY d.kind, d.digest, p.person_id
) h
WHERE s.tenant_id = $1 AND s.audience_id = $2 AND s.kind = h.kind AND s.digest = h.digest
  AND (s.person_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM remarketing_members m JOIN persons p ON p.person_id = m.person_id AND p.marketing_consent IS TRUE
    WHERE m.audience_id = s.audience_id AND m.person_id = s.person_id))
RETURNING 1

-- name: sync_removes
-- Digests the platform holds whose person left the audience, withdrew consent or was erased (person_id NULL: `erased`).
SELECT s.kind, s.digest, s.person_id IS NULL AS erased FROM remarketing_synced s
WHERE s.tenant_id = $1 AND s.audience_id = $2
  AND (s.person_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM remarketing_members m JOIN persons p ON p.person_id = m.person_id AND p.marketing_consent IS TRUE
    WHERE m.audience_id = s.audience_id AND m.person_id = s.person_id))
ORDER BY s.kind, s.digest
LIMIT $3

-- name: mark_added
INSERT INTO remarketing_synced (tenant_id, audience_id, kind, digest, person_id, synced_at)
SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::bigint[], $6::timestamptz[]) ON CONFLICT DO NOTHING

-- name: mark_removed
DELETE FROM remarketing_synced WHERE audience_id = $1 AND (kind, digest) IN (SELECT * FROM unnest($2::text[], $3::text[]))

-- name: erase_members
-- Each audience the person was in counts one member fewer at once (member_count would otherwise stay stale
-- until the next refresh while /members already lists one fewer).
WITH m AS (DELETE FROM remarketing_members WHERE tenant_id = $1 AND person_id = $2 RETURNING audience_id),
counted AS (
  UPDATE remarketing_audiences a SET member_count = GREATEST(a.member_count - c.n, 0)
  FROM (SELECT audience_id, count(*)::int AS n FROM m GROUP BY audience_id) c
  WHERE a.tenant_id = $1 AND a.id = c.audience_id
  RETURNING 1
)
SELECT count(*)::int AS n FROM m

-- name: erase_synced
-- The platform still holds the digests: unlink them from the person; the next sync removes them there.
WITH s AS (UPDATE remarketing_synced SET person_id = NULL WHERE tenant_id = $1 AND person_id = $2 RETURNING 1)
SELECT count(*)::int AS n FROM s

-- name: export_person
SELECT m.audience_id, a.platform, a.audience_type, m.added_at FROM remarketing_members m JOIN remarketing_audiences a ON a.id = m.audience_id
WHERE m.tenant_id = $1 AND m.person_id = $2 ORDER BY m.audience_id

-- name: export_synced
-- What was uploaded about the person: the contact digests each platform audience holds.
SELECT s.audience_id, a.platform, s.kind, s.digest, s.synced_at FROM remarketing_synced s JOIN remarketing_audiences a ON a.id = s.audience_id
WHERE s.tenant_id = $1 AND s.person_id = $2 ORDER BY s.audience_id, s.kind

-- name: tracking_code
-- Where the platform token comes from: the organizer's code for this provider, else the marketplace's (event
-- codes are for pixels, not for audience uploads).
SELECT tenant_id, provider, organizer_id, event_id, secrets_enc FROM tracking_codes
WHERE tenant_id = $1 AND provider = $2 AND event_id IS NULL AND enabled AND secrets_enc IS NOT NULL
  AND (organizer_id = $3::text OR organizer_id IS NULL)
ORDER BY organizer_id NULLS LAST LIMIT 1

-- name: segment_ref
-- Whether a custom_segment's reference names something: the tenant's segment and, when given ($3), its version.
SELECT s.current_version, ($3::int IS NULL OR EXISTS (SELECT 1 FROM segment_versions v WHERE v.segment_id = s.id AND v.version = $3::int)) AS has_version
FROM segments s WHERE s.tenant_id = $1 AND s.id = $2::bigint

-- name: segment_users
-- The tenant's audiences built on segment $2 (custom_segment), but those being deleted: the segment may not be
-- deleted while one of them refers to it.
SELECT id FROM remarketing_audiences
WHERE tenant_id = $1 AND audience_type = 'custom_segment' AND criteria->>'segment_id' = $2::bigint::text AND status <> 'deleting'
ORDER BY id

-- name: event_organizer
-- The organizer the catalog gives an event (null: not in the catalog, or no organizer there).
SELECT organizer_id FROM catalog_events WHERE tenant_id = $1 AND id = $2::text
