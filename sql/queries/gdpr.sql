-- GDPR export and erasure of one person (server/gdpr/).

-- name: tombstone_for_person
SELECT erased_at, removed FROM gdpr_erasures WHERE tenant_id = $1 AND person_sha256 = $2;

-- name: person_events
-- Everything that is the person's: stamped with their id, or from one of their visitors and unattributed (unless
-- it names another customer: a shared till's other buyer, server/identity/persons.ts), or carrying their customer
-- id in the payload (e.g. an order placed without data-processing consent).
SELECT event_id::text, event_name, event_version, occurred_at, received_at, sent_at, tenant_id::text, site_id,
  source_system, visitor_id, session_id, sequence_no, prev_event_id::text, person_id::text, consent_snapshot,
  context, entities, payload, idempotency_key, is_bot
FROM tx_events
WHERE tenant_id = $1
  AND (person_id = $2
    OR (person_id IS NULL AND visitor_id = ANY($3::text[])
      AND COALESCE(payload->'customer'->>'external_id', payload->>'customer_external_id', $4) IS NOT DISTINCT FROM $4)
    OR (event_name IN ('order_completed', 'order_completed_shop') AND payload->'customer'->>'external_id' = $4)
    OR (event_name = 'points_earned' AND payload->>'customer_external_id' = $4))
ORDER BY occurred_at, tx_events.event_id;

-- name: delete_person_events
WITH d AS (
  DELETE FROM tx_events
  WHERE tenant_id = $1
    AND (person_id = $2
      OR (person_id IS NULL AND visitor_id = ANY($3::text[])
        AND COALESCE(payload->'customer'->>'external_id', payload->>'customer_external_id', $4) IS NOT DISTINCT FROM $4)
      OR (event_name IN ('order_completed', 'order_completed_shop') AND payload->'customer'->>'external_id' = $4)
      OR (event_name = 'points_earned' AND payload->>'customer_external_id' = $4))
  RETURNING event_id::text AS event_id, session_id, entities->>'order_id' AS order_id, tableoid::regclass::text AS chunk,
    to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
) SELECT event_id, session_id, order_id, chunk, day FROM d;

-- name: shared_person_ids
-- What of a person's ids ($2) another person holds too (server/gdpr/match.ts noteShared): their visitor ids ($3)
-- another person is linked to (a shared device), their contact digests ($4) another person has (a family's
-- email). Erased persons have neither row nor links left, so only persons still held count.
SELECT DISTINCT 'visitor' AS kind, l.visitor_id AS id
FROM tx_identity_links l
WHERE l.tenant_id = $1 AND l.person_id <> $2 AND l.visitor_id = ANY($3::text[])
UNION ALL
SELECT 'digest', d.digest
FROM unnest($4::text[]) d(digest)
WHERE EXISTS (SELECT 1 FROM persons p WHERE p.tenant_id = $1 AND p.person_id <> $2
  AND (p.email_sha256 = d.digest::bpchar OR p.phone_sha256 = d.digest::bpchar));

-- name: rejected_of_person
-- Rejected raw bodies about the person, whatever their shape (an array, {"events":{...}}, a lone server
-- event, text that is not JSON): the body's own event_id is one of theirs, or the text contains one of the
-- needles ($3: their ids as JSON strings, their contact digests no other person has) or matches one of the
-- patterns ($4: their customer, order or visitor id — one no other person is linked to — as the value of its
-- field, e.g. a numeric customer id; never a session id). One set-based scan (server/gdpr/match.ts rawSearch).
SELECT id::text AS id, event_id, event_name, raw_body, reasons, received_at
FROM tx_rejected_events
WHERE tenant_id = $1
  AND (event_id = ANY($2::text[])
    OR EXISTS (SELECT 1 FROM unnest($3::text[]) n WHERE strpos(raw_body, n) > 0)
    OR EXISTS (SELECT 1 FROM unnest($4::text[]) p WHERE raw_body ~ p))
ORDER BY received_at, tx_rejected_events.id;

-- name: delete_rejected
WITH d AS (DELETE FROM tx_rejected_events WHERE tenant_id = $1 AND id = ANY($2::bigint[]) RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: insert_tombstone
INSERT INTO gdpr_erasures (tenant_id, person_sha256, external_sha256, erased_at, removed)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, person_sha256) DO NOTHING;

-- name: insert_erased_visitors
-- The erased person's ($2) visitor ids ($3, their digests $4) no other person is linked to: a shared device
-- still linked to another person is theirs now (its late events are stored for them, not as late copies).
INSERT INTO gdpr_erased_visitors (tenant_id, visitor_sha256, erased_at)
SELECT $1, v.digest, $5 FROM unnest($3::text[], $4::text[]) v(visitor_id, digest)
WHERE NOT EXISTS (SELECT 1 FROM tx_identity_links l WHERE l.tenant_id = $1 AND l.visitor_id = v.visitor_id AND l.person_id <> $2)
ON CONFLICT (tenant_id, visitor_sha256) DO UPDATE SET erased_at = GREATEST(gdpr_erased_visitors.erased_at, EXCLUDED.erased_at);

-- name: insert_erased_orders
INSERT INTO gdpr_erased_orders (tenant_id, order_sha256, erased_at)
SELECT $1, o, $3 FROM unnest($2::text[]) o
ON CONFLICT (tenant_id, order_sha256) DO UPDATE SET erased_at = GREATEST(gdpr_erased_orders.erased_at, EXCLUDED.erased_at);

-- name: erased_since
-- The persons of the tenant erased (on any node) at or after $2, as digests: a per-node copy of store data read
-- before then may still hold them unless this node's eraser already took them out (gdpr/erased.ts).
SELECT person_sha256 FROM gdpr_erasures WHERE tenant_id = $1 AND erased_at >= $2;

-- name: insert_erasure_steps
-- In the erasure's transaction: the post-commit steps still to do, leased to the node that runs them now.
INSERT INTO gdpr_erasure_steps (tenant_id, person_sha256, todo, ids, touched, lease_owner, lease_until)
VALUES ($1, $2, $3::text[], $4, $5::text[], $6, now() + make_interval(secs => $7))
ON CONFLICT (tenant_id, person_sha256) DO NOTHING;

-- name: erasure_steps_of
SELECT todo FROM gdpr_erasure_steps WHERE tenant_id = $1 AND person_sha256 = $2;

-- name: claim_erasure_steps
-- Takes the steps over when no node holds them (lease ended), this node already does, or $5 (the embedded
-- store: one process only, so a lease of another owner is one of a process that died).
UPDATE gdpr_erasure_steps
SET lease_owner = $3, lease_until = now() + make_interval(secs => $4), attempts = attempts + 1
WHERE tenant_id = $1 AND person_sha256 = $2
  AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $3 OR $5::boolean)
RETURNING todo, ids, touched, report, attempts;

-- name: save_erasure_steps
-- Progress: what is left, the ids (NULL once the spool and external steps ran), the report so far; the
-- tombstone's report gets it too, with `pending` = what is left. No row back: another node took the lease.
WITH s AS (
  UPDATE gdpr_erasure_steps SET todo = $3::text[], ids = $4, report = $5, lease_until = now() + make_interval(secs => $6)
  WHERE tenant_id = $1 AND person_sha256 = $2 AND lease_owner = $7
  RETURNING 1
), t AS (
  UPDATE gdpr_erasures SET removed = (removed - 'pending') || $5::jsonb || jsonb_build_object('pending', to_jsonb($3::text[]))
  WHERE tenant_id = $1 AND person_sha256 = $2 AND EXISTS (SELECT 1 FROM s)
  RETURNING 1
) SELECT count(*)::int AS n FROM s;

-- name: finish_erasure_steps
-- Every step done: the tombstone keeps the full report (counts only, no ids) and the list goes.
WITH s AS (
  DELETE FROM gdpr_erasure_steps WHERE tenant_id = $1 AND person_sha256 = $2 AND lease_owner = $4
  RETURNING 1
), t AS (
  UPDATE gdpr_erasures SET removed = (removed - 'pending') || $3::jsonb
  WHERE tenant_id = $1 AND person_sha256 = $2 AND EXISTS (SELECT 1 FROM s)
  RETURNING 1
) SELECT count(*)::int AS n FROM s;

-- name: release_erasure_steps
-- Not finished (a store or the purge failed): free the lease, try again after $4 seconds.
UPDATE gdpr_erasure_steps SET lease_owner = NULL, lease_until = NULL, next_at = now() + make_interval(secs => $4)
WHERE tenant_id = $1 AND person_sha256 = $2 AND lease_owner = $3;

-- name: due_erasure_steps
-- For the `gdpr.resume` job: interrupted or failed erasures whose next try is due and whose lease is free ($2:
-- the embedded store, where any lease is this process's or a dead one's).
SELECT tenant_id::text AS tenant_id, person_sha256 FROM gdpr_erasure_steps
WHERE next_at <= now() AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $1 OR $2::boolean)
ORDER BY next_at LIMIT $3;
