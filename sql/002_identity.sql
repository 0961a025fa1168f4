-- Sessions, persons and identity links, GDPR tombstones, encrypted tenant secrets, Stripe object → order map.
-- (README "Sessions, identity and GDPR": `tx_sessions` under "Sessions", `tx_identity_links` and persons, the
-- tenant's customers, under "Identity stitching".)

-- Number of integers missing inside the span of a set of sequence numbers (events lost client side).
-- Order independent: it depends only on which numbers were seen, never on the order they arrived in.
CREATE FUNCTION tx_seq_gaps(r int4multirange) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN isempty(r) THEN 0
    ELSE (upper(r) - lower(r)) - COALESCE((SELECT sum(upper(x) - lower(x)) FROM unnest(r) x), 0)::int END
$$;

-- One row per client session id, upserted by the writer's projector from every newly stored event.
-- Every "first"/"last" attribute carries the ordering key of the event it came from
-- (occurred_at ISO | sequence_no | event_id, compared with COLLATE "C"), so merging two partial
-- aggregates is commutative and associative: the result is the same whatever order events arrive in.
CREATE TABLE tx_sessions (
  tenant_id             bigint NOT NULL,
  session_id            varchar(64) NOT NULL,
  visitor_id            varchar(64),
  person_id             bigint,
  site_id               varchar(50),
  first_seen_at         timestamptz NOT NULL,
  last_seen_at          timestamptz NOT NULL,
  events_count          int NOT NULL DEFAULT 0,
  page_views            int NOT NULL DEFAULT 0,
  orders_count          int NOT NULL DEFAULT 0,
  -- Every sequence_no seen, as ranges ({[0,12),[14,20)}); gaps = holes inside [min, max].
  sequence_ranges       int4multirange NOT NULL DEFAULT '{}',
  min_sequence_no       int,
  max_sequence_no       int,
  sequence_gaps         int NOT NULL DEFAULT 0,
  -- Earliest / latest client-side (web, mobile) event: first touch, consent at start and latest consent.
  first_key             text COLLATE "C",
  first_touch           jsonb,
  landing_page          text,
  consent_initial       jsonb,
  last_key              text COLLATE "C",
  consent_latest        jsonb,
  -- Earliest / latest event that carried a page; earliest that carried a device.
  entry_key             text COLLATE "C",
  entry_page            text,
  exit_key              text COLLATE "C",
  exit_page             text,
  device_key            text COLLATE "C",
  device                jsonb,
  engagement_active_ms  bigint NOT NULL DEFAULT 0,
  engagement_total_ms   bigint NOT NULL DEFAULT 0,
  is_bot                boolean NOT NULL DEFAULT false,
  updated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_id)
);
CREATE INDEX tx_sessions_visitor ON tx_sessions (tenant_id, visitor_id, first_seen_at DESC);
CREATE INDEX tx_sessions_person ON tx_sessions (tenant_id, person_id) WHERE person_id IS NOT NULL;
CREATE INDEX tx_sessions_last_seen ON tx_sessions (last_seen_at);

-- The platform's customer (seed "core_customers"), resolved from the tenant's own customer id.
-- Contact data is kept only normalised + SHA-256 hashed.
CREATE TABLE persons (
  person_id     bigserial PRIMARY KEY,
  tenant_id     bigint NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
  external_id   varchar(128) NOT NULL,
  email_sha256  char(64),
  phone_sha256  char(64),
  city          varchar(128),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, external_id)
);

-- Visitor → person links (README "Identity stitching"). A visitor may be linked to several persons (shared device):
-- every link is kept and the one with the newest linked_at wins attribution of new events.
CREATE TABLE tx_identity_links (
  id               bigserial PRIMARY KEY,
  tenant_id        bigint NOT NULL,
  visitor_id       varchar(64) NOT NULL,
  person_id        bigint NOT NULL REFERENCES persons(person_id) ON DELETE CASCADE,
  confidence       numeric(3,2) NOT NULL DEFAULT 1.0,
  link_source      varchar(50) NOT NULL CHECK (link_source IN ('order_completed', 'login', 'manual')),
  order_id         varchar(128),
  first_linked_at  timestamptz NOT NULL DEFAULT now(),
  linked_at        timestamptz NOT NULL DEFAULT now(),
  metadata         jsonb NOT NULL DEFAULT '{}',
  UNIQUE (tenant_id, visitor_id, person_id)
);
CREATE INDEX tx_identity_links_visitor ON tx_identity_links (tenant_id, visitor_id, linked_at DESC);
CREATE INDEX tx_identity_links_person ON tx_identity_links (tenant_id, person_id);

-- GDPR erasure tombstones. Only digests are kept (sha256 of "tenant:id"), never the ids themselves:
-- enough to refuse re-linking the erased person and to anonymise late copies of their old events.
CREATE TABLE gdpr_erasures (
  tenant_id        bigint NOT NULL,
  person_sha256    char(64) NOT NULL,
  external_sha256  char(64) NOT NULL,
  erased_at        timestamptz NOT NULL DEFAULT now(),
  removed          jsonb NOT NULL,
  PRIMARY KEY (tenant_id, person_sha256)
);
CREATE INDEX gdpr_erasures_external ON gdpr_erasures (tenant_id, external_sha256);

-- Visitor ids of erased persons (digests): events that occurred before the erasure and arrive later
-- (offline queues, spool replay) are stored anonymised instead of re-creating the person's trail.
CREATE TABLE gdpr_erased_visitors (
  tenant_id       bigint NOT NULL,
  visitor_sha256  char(64) NOT NULL,
  erased_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, visitor_sha256)
);

-- Per-tenant secrets (Stripe webhook signing secret, ...), AES-256-GCM encrypted with ENCRYPTION_KEY.
CREATE TABLE tenant_secrets (
  tenant_id   bigint NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
  name        varchar(64) NOT NULL,
  ciphertext  text NOT NULL,
  hint        varchar(32) NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name)
);

-- Stripe object id (payment intent, charge) → the tenant's order id, learned from metadata.order_id, so
-- refunds and disputes (whose objects rarely carry the metadata) land on the right order.
CREATE TABLE stripe_objects (
  tenant_id   bigint NOT NULL,
  object_id   varchar(255) NOT NULL,
  order_id    varchar(128) NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, object_id)
);
