-- Segments (server/segments/): versions and their memberships. fill_members embeds the compiled filter where it
-- says /*filter*/ (segments/store.ts): $1 tenant, $2 now, $3 segment id, $4 version, $5 marketing_only, and the
-- filter's own parameters from $6 (segments/grammar.ts compileFilter).

-- name: insert_segment
INSERT INTO segments (tenant_id, auto_refresh) VALUES ($1, $2) RETURNING id

-- name: insert_version
INSERT INTO segment_versions (tenant_id, segment_id, version, name, filters, marketing_only) VALUES ($1, $2, $3, $4, $5, $6)

-- name: lock_segment
SELECT id, current_version, auto_refresh FROM segments WHERE tenant_id = $1 AND id = $2 FOR UPDATE

-- name: set_current
UPDATE segments SET current_version = $3, auto_refresh = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2

-- name: get_version
SELECT s.id, s.current_version, s.auto_refresh, s.created_at, s.updated_at,
  v.version, v.name, v.filters, v.marketing_only, v.size_estimate, v.member_count, v.computed_at, v.attempted_at, v.eval_ms,
  v.error_count, v.last_error, v.created_at AS version_created_at
FROM segments s JOIN segment_versions v ON v.segment_id = s.id AND v.version = COALESCE($3::int, s.current_version)
WHERE s.tenant_id = $1 AND s.id = $2

-- name: list_current
-- The current version of each of the tenant's segments after id $2, by id (the list and the Redis cache's entry).
SELECT s.id, s.current_version, s.auto_refresh, s.created_at, s.updated_at,
  v.version, v.name, v.filters, v.marketing_only, v.size_estimate, v.member_count, v.computed_at, v.attempted_at, v.eval_ms,
  v.error_count, v.last_error, v.created_at AS version_created_at
FROM segments s JOIN segment_versions v ON v.segment_id = s.id AND v.version = s.current_version
WHERE s.tenant_id = $1 AND s.id > $2
ORDER BY s.id
LIMIT $3

-- name: list_versions
SELECT version, name, filters, marketing_only, size_estimate, member_count, computed_at, eval_ms, error_count, last_error, created_at
FROM segment_versions WHERE tenant_id = $1 AND segment_id = $2 ORDER BY version DESC

-- name: delete_segment
DELETE FROM segments WHERE tenant_id = $1 AND id = $2 RETURNING id

-- name: clear_members
DELETE FROM segment_members WHERE segment_id = $1 AND version = $2

-- name: fill_members
WITH ins AS (
  INSERT INTO segment_members (tenant_id, segment_id, version, person_id)
  SELECT $1, $3::bigint, $4::int, p.person_id FROM persons p
  -- $2 typed here too: a filter without a time window does not mention it.
  WHERE p.tenant_id = $1 AND $2::timestamptz IS NOT NULL AND ($5::boolean IS FALSE OR p.marketing_consent IS TRUE) AND /*filter*/
  RETURNING 1
)
SELECT count(*)::int AS n FROM ins

-- name: finish_version
UPDATE segment_versions SET member_count = $3, size_estimate = $3, computed_at = $4, attempted_at = $4, eval_ms = $5, error_count = 0
WHERE segment_id = $1 AND version = $2

-- name: fail_version
UPDATE segment_versions SET attempted_at = $3, error_count = error_count + 1, last_error = $4 WHERE segment_id = $1 AND version = $2

-- name: due_versions
-- Versions of auto-refreshing segments not attempted since $1, oldest first; a version failing 20 times in a
-- row waits for an edit (a new version).
SELECT v.tenant_id, v.segment_id, v.version, v.filters, v.marketing_only
FROM segment_versions v JOIN segments s ON s.id = v.segment_id
WHERE s.auto_refresh AND (v.attempted_at IS NULL OR v.attempted_at < $1) AND v.error_count < 20
ORDER BY v.attempted_at NULLS FIRST, v.segment_id, v.version
LIMIT $2

-- name: members_page
SELECT person_id FROM segment_members WHERE tenant_id = $1 AND segment_id = $2 AND version = $3 AND person_id > $4 ORDER BY person_id LIMIT $5

-- name: erase_person
-- The versions the person left, with how many rows each lost (one; recount_versions then recounts them).
WITH m AS (DELETE FROM segment_members WHERE tenant_id = $1 AND person_id = $2 RETURNING segment_id, version)
SELECT segment_id, version, count(*)::int AS n FROM m GROUP BY segment_id, version

-- name: recount_versions
-- After an erasure, in its transaction: the versions' counts from their members as they now are (a statement of
-- its own, so it sees the erasure's deletes and any refresh committed meanwhile). size_estimate is the count an
-- evaluation stored, so it follows; computed_at stays (no evaluation ran).
UPDATE segment_versions v SET member_count = c.n, size_estimate = c.n
FROM (
  SELECT u.segment_id, u.version, (SELECT count(*)::int FROM segment_members m WHERE m.segment_id = u.segment_id AND m.version = u.version) AS n
  FROM unnest($2::bigint[], $3::int[]) AS u(segment_id, version)
) c
WHERE v.tenant_id = $1 AND v.segment_id = c.segment_id AND v.version = c.version

-- name: export_person
SELECT m.segment_id, v.name, m.version FROM segment_members m JOIN segment_versions v ON v.segment_id = m.segment_id AND v.version = m.version
WHERE m.tenant_id = $1 AND m.person_id = $2 ORDER BY m.segment_id, m.version
