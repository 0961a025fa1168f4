-- GDPR export and erasure of one person (server/gdpr/).

-- name: tombstone_for_person
SELECT erased_at, removed FROM gdpr_erasures WHERE tenant_id = $1 AND person_sha256 = $2;

-- name: person_events
-- Everything that is the person's: stamped with their id, or from one of their visitors and unattributed,
-- or carrying their customer id in the payload (e.g. an order placed without data-processing consent).
SELECT event_id::text, event_name, event_version, occurred_at, received_at, sent_at, tenant_id::text, site_id,
  source_system, visitor_id, session_id, sequence_no, prev_event_id::text, person_id::text, consent_snapshot,
  context, entities, payload, idempotency_key, is_bot
FROM tx_events
WHERE tenant_id = $1
  AND (person_id = $2
    OR (person_id IS NULL AND visitor_id = ANY($3::text[]))
    OR (event_name IN ('order_completed', 'order_completed_shop') AND payload->'customer'->>'external_id' = $4)
    OR (event_name = 'points_earned' AND payload->>'customer_external_id' = $4))
ORDER BY occurred_at, tx_events.event_id;

-- name: delete_person_events
WITH d AS (
  DELETE FROM tx_events
  WHERE tenant_id = $1
    AND (person_id = $2
      OR (person_id IS NULL AND visitor_id = ANY($3::text[]))
      OR (event_name IN ('order_completed', 'order_completed_shop') AND payload->'customer'->>'external_id' = $4)
      OR (event_name = 'points_earned' AND payload->>'customer_external_id' = $4))
  RETURNING event_id::text AS event_id, session_id, entities->>'order_id' AS order_id, tableoid::regclass::text AS chunk,
    to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
) SELECT event_id, session_id, order_id, chunk, day FROM d;

-- name: rejected_of_person
-- Rejected raw bodies about the person, whatever their shape (an array, {"events":{...}}, a lone server
-- event, text that is not JSON): the body's own event_id is one of theirs, or the text contains one of the
-- needles ($3: their ids as JSON strings, their contact digests) or matches one of the patterns ($4: their
-- customer or order id as the value of its field, e.g. a numeric customer id). One set-based scan.
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
INSERT INTO gdpr_erased_visitors (tenant_id, visitor_sha256, erased_at)
SELECT $1, v, $3 FROM unnest($2::text[]) v
ON CONFLICT (tenant_id, visitor_sha256) DO UPDATE SET erased_at = GREATEST(gdpr_erased_visitors.erased_at, EXCLUDED.erased_at);

-- name: update_tombstone_report
-- After the external stores and the disk purge: the tombstone keeps the full report (counts only, no ids).
UPDATE gdpr_erasures SET removed = $3 WHERE tenant_id = $1 AND person_sha256 = $2;

-- name: erased_since
-- The persons of the tenant erased (on any node) at or after $2, as digests: a per-node copy of store data read
-- before then may still hold them unless this node's eraser already took them out (gdpr/erased.ts).
SELECT person_sha256 FROM gdpr_erasures WHERE tenant_id = $1 AND erased_at >= $2;
