-- Event → organizer ownership for the live layer (issue 8.3). Who may read an event's live topic and which
-- dashboard it joins used to follow the first row in occurred_at order, so a forged, back-dated row sent with
-- the public write key could take an event over at the next restart. Ownership is now a claim recorded when
-- the row commits (server/live/owners.ts), in receive (commit) order, and read back at restart:
--   * the first claim stays: a later row naming another organizer is recorded in live_owner_conflicts and ignored;
--   * a claim from a secret-key source (source_system backend, payments or shop: /api/v1/server-events and
--     Stripe) replaces a claim from a public source once; a secret claim is final.
-- GDPR: these tables hold tenant, event entity and organizer ids (business entities), the claim's source and
-- times: no personal data, nothing for an erasure to remove.
CREATE TABLE live_event_owners (
  tenant_id        bigint NOT NULL,
  event_entity_id  text NOT NULL,
  organizer_id     text NOT NULL,
  -- 'public': the write key could have sent it; 'secret': only the secret key can.
  source           text NOT NULL CHECK (source IN ('public', 'secret')),
  claimed_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, event_entity_id)
);

-- Claims that did not hold: one row per (event, organizer named, source), counted. A public owner displaced
-- by a secret claim is recorded here too (owner_id is then the secret owner that replaced it).
CREATE TABLE live_owner_conflicts (
  tenant_id        bigint NOT NULL,
  event_entity_id  text NOT NULL,
  organizer_id     text NOT NULL,
  source           text NOT NULL CHECK (source IN ('public', 'secret')),
  owner_id         text NOT NULL,
  claims           bigint NOT NULL DEFAULT 1,
  first_at         timestamptz NOT NULL,
  last_at          timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, event_entity_id, organizer_id, source)
);

-- Rows stored before this migration: the same rules over the rows in insertion (id) order, which is the
-- commit order. Conflicts among those old rows are not recorded.
INSERT INTO live_event_owners (tenant_id, event_entity_id, organizer_id, source, claimed_at)
SELECT DISTINCT ON (tenant_id, entities->>'event_entity_id')
  tenant_id, entities->>'event_entity_id', entities->>'organizer_id',
  CASE WHEN source_system IN ('backend', 'payments', 'shop') THEN 'secret' ELSE 'public' END, received_at
FROM tx_events
WHERE NOT is_bot
  AND jsonb_typeof(entities->'event_entity_id') IN ('string', 'number') AND entities->>'event_entity_id' <> ''
  AND jsonb_typeof(entities->'organizer_id') IN ('string', 'number') AND entities->>'organizer_id' <> ''
ORDER BY tenant_id, entities->>'event_entity_id', (source_system IN ('backend', 'payments', 'shop')) DESC, id;
