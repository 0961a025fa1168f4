-- Issue 12 (throughput of the durable ingest path): deferred projectors read committed rows after a durable
-- cursor (server/ingest/projector.ts) instead of running inside the commit.

-- One row per deferred projector: the last tx_events.id it has folded in. Moved in the same transaction as the
-- projection, so a crash can neither skip nor repeat rows. tenant_id: cursors are global (NULL); the column is
-- there for a tenant-scoped projector. GDPR: a projector name and a position, no personal data.
CREATE TABLE tx_projector_cursors (
  projector   text PRIMARY KEY,
  tenant_id   bigint,
  position    bigint NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The rows after a cursor, in id order (ids grow with time: new entries land on the index's rightmost page).
CREATE INDEX tx_events_id ON tx_events (id);

-- Sessions of events stored before this migration were projected inside their commits: start after them.
INSERT INTO tx_projector_cursors (projector, position) SELECT 'identity.sessions', COALESCE(max(id), 0) FROM tx_events;

-- Only events that belong to an order are looked up by order id (persons.sql: persons_for_orders,
-- backfill_events_by_order; both imply order_id IS NOT NULL): page views and carts no longer pay for an entry.
DROP INDEX tx_events_order;
CREATE INDEX tx_events_order ON tx_events (tenant_id, (entities->>'order_id'), occurred_at DESC) WHERE (entities->>'order_id') IS NOT NULL;
