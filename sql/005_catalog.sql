-- The tenant's catalog (issue 11, README "Catalog"): organizers, venues with their gates, artists, events,
-- ticket types and shop products, synced from the tenant's ticketing system with PUT /api/v1/catalog/{kind}
-- and keyed by the tenant's own ids. `updated_at` is the tenant's modification time of the item (an older
-- update never overwrites a newer one); `synced_at` is when this server last changed the row.
-- GDPR: these rows describe business entities (events, venues, prices), no person: nothing for an erasure.
-- A person's catalog attributes live on `persons` (below) and go with the persons row.
CREATE TABLE catalog_organizers (
  tenant_id   bigint NOT NULL,
  id          text NOT NULL,
  name        text,
  updated_at  timestamptz,
  synced_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE catalog_venues (
  tenant_id   bigint NOT NULL,
  id          text NOT NULL,
  name        text,
  city        text,
  country     text,
  lat         double precision,
  lon         double precision,
  capacity    int,
  -- [{"id","name","capacity"}]
  gates       jsonb NOT NULL DEFAULT '[]',
  updated_at  timestamptz,
  synced_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE catalog_artists (
  tenant_id   bigint NOT NULL,
  id          text NOT NULL,
  name        text,
  genres      text[] NOT NULL DEFAULT '{}',
  updated_at  timestamptz,
  synced_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE catalog_events (
  tenant_id       bigint NOT NULL,
  id              text NOT NULL,
  organizer_id    text,
  venue_id        text,
  artist_ids      text[] NOT NULL DEFAULT '{}',
  -- Sent by the tenant, or (genres_derived) the union of the artists' genres, re-derived when an artist changes.
  genres          text[] NOT NULL DEFAULT '{}',
  genres_derived  boolean NOT NULL DEFAULT false,
  title           text,
  starts_at       timestamptz,
  ends_at         timestamptz,
  status          text,
  capacity        int,
  city            text,
  url             text,
  updated_at      timestamptz,
  synced_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX catalog_events_organizer ON catalog_events (tenant_id, organizer_id);
CREATE INDEX catalog_events_artists ON catalog_events USING gin (artist_ids) WHERE genres_derived;

CREATE TABLE catalog_ticket_types (
  tenant_id   bigint NOT NULL,
  id          text NOT NULL,
  event_id    text,
  name        text,
  category    text,
  price       numeric,
  currency    char(3),
  quota       int,
  updated_at  timestamptz,
  synced_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX catalog_ticket_types_event ON catalog_ticket_types (tenant_id, event_id);

CREATE TABLE catalog_products (
  tenant_id   bigint NOT NULL,
  id          text NOT NULL,
  name        text,
  price       numeric,
  currency    char(3),
  updated_at  timestamptz,
  synced_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

-- What the audience formula needs of a person (`city` exists since 002). The four stats are derived from the
-- stored events (server/catalog/person-stats.ts: the writer projector and recompute_person_stats); a value
-- synced with kind `persons` overrides its derivation: its name is then in `synced_fields`, which the
-- recompute leaves alone (syncing null removes the override). Erased and exported with the persons row.
ALTER TABLE persons
  ADD COLUMN marketing_consent     boolean,
  ADD COLUMN marketing_consent_at  timestamptz,
  ADD COLUMN total_orders          int NOT NULL DEFAULT 0,
  ADD COLUMN events_attended       int NOT NULL DEFAULT 0,
  ADD COLUMN last_purchase_at      timestamptz,
  ADD COLUMN avg_order_value       numeric,
  ADD COLUMN synced_fields         text[] NOT NULL DEFAULT '{}',
  -- The tenant's modification time of the last synced person item (persons.updated_at is this server's).
  ADD COLUMN catalog_updated_at    timestamptz,
  ADD COLUMN synced_at             timestamptz;
