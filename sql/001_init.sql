-- Tenants, their sites/origins and API keys, raw events (hypertable, or monthly partitions on plain PostgreSQL), idempotency ledger, rejected events.

CREATE TABLE tenants (
  tenant_id   bigserial PRIMARY KEY,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per site; allowed_origins is what CORS and the Origin check accept ('*' or empty = any).
CREATE TABLE tenant_sites (
  tenant_id        bigint NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
  site_id          text NOT NULL,
  allowed_origins  text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, site_id)
);

-- Keys are stored as SHA-256 digests; the plaintext is shown once, at creation.
CREATE TABLE tenant_keys (
  key_hash    bytea PRIMARY KEY,
  tenant_id   bigint NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
  kind        text NOT NULL CHECK (kind IN ('write', 'secret')),
  key_hint    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX tenant_keys_tenant ON tenant_keys (tenant_id);

CREATE TABLE tx_events (
  id               bigserial,
  event_id         uuid NOT NULL,
  event_name       varchar(100) NOT NULL,
  event_version    smallint NOT NULL DEFAULT 1,
  occurred_at      timestamptz NOT NULL,
  received_at      timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  tenant_id        bigint NOT NULL,
  site_id          varchar(50),
  source_system    varchar(20) NOT NULL CHECK (source_system IN ('web','mobile','scanner','backend','payments','shop','wallet')),
  visitor_id       varchar(64),
  session_id       varchar(64),
  sequence_no      int,
  prev_event_id    uuid,
  person_id        bigint,
  consent_snapshot jsonb NOT NULL,
  context          jsonb NOT NULL DEFAULT '{}',
  entities         jsonb NOT NULL DEFAULT '{}',
  payload          jsonb NOT NULL DEFAULT '{}',
  idempotency_key  varchar(255),
  is_bot           boolean NOT NULL DEFAULT false
)
-- plain-only: PARTITION BY RANGE (occurred_at)
;
-- TimescaleDB: a hypertable in 7-day chunks. Plain PostgreSQL (server/store/migrate.ts markers): monthly
-- declarative partitions tx_events_pYYYYMM, created ahead and dropped by jobs (server/store/partitions.ts),
-- and a DEFAULT partition so that a row of a month without its partition is stored, never refused; the
-- store.partitions job moves such rows into their month's partition once it creates it.
-- timescale-only
SELECT create_hypertable('tx_events', 'occurred_at', chunk_time_interval => INTERVAL '7 days');
-- end timescale-only
-- plain-only: CREATE TABLE tx_events_default PARTITION OF tx_events DEFAULT;
-- A hypertable's (or a partitioned table's) unique key must contain the partitioning column; exact
-- idempotency is tx_event_ids' job.
CREATE UNIQUE INDEX tx_events_event_id ON tx_events (tenant_id, event_id, occurred_at);
CREATE INDEX tx_events_name_time ON tx_events (tenant_id, event_name, occurred_at DESC);
CREATE INDEX tx_events_person_time ON tx_events (tenant_id, person_id, occurred_at DESC) WHERE person_id IS NOT NULL;
CREATE INDEX tx_events_visitor_time ON tx_events (tenant_id, visitor_id, occurred_at DESC);
CREATE INDEX tx_events_time_brin ON tx_events USING brin (tenant_id, occurred_at);
CREATE INDEX tx_events_idem ON tx_events (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX tx_events_event_entity ON tx_events (tenant_id, (entities->>'event_entity_id'), occurred_at DESC);
CREATE INDEX tx_events_order ON tx_events (tenant_id, (entities->>'order_id'), occurred_at DESC);

-- Idempotency ledger: one row per accepted event id, whatever its (skew-corrected) occurred_at.
-- Rows older than the backfill window can be pruned: such events are rejected as too old anyway.
CREATE TABLE tx_event_ids (
  tenant_id    bigint NOT NULL,
  event_id     uuid NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX tx_event_ids_received ON tx_event_ids (received_at);

-- Snowplow-style failed events: the raw body as sent, with reason codes.
CREATE TABLE tx_rejected_events (
  id           bigserial PRIMARY KEY,
  tenant_id    bigint NOT NULL,
  event_id     text,
  event_name   text,
  raw_body     text NOT NULL,
  reasons      jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tx_rejected_tenant_time ON tx_rejected_events (tenant_id, received_at DESC);
