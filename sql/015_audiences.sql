-- Audiences, segments and remarketing audiences (issue 14; README "Audiences", "Segments", "Remarketing
-- audiences"; server/audiences/, server/segments/, server/remarketing/). Members are stored per version as
-- (person_id) rows written by one INSERT … SELECT each; nothing here is filled by a per-person loop.
-- GDPR: every table with a person_id is erased per person (each domain's gdpr.ts); the definitions (names,
-- filters, coefficients, fitted weights) hold no person.

-- Per-tenant overrides of seed_v1's coefficients a…g (absent: the seed's values).
CREATE TABLE audience_coefficients (
  tenant_id   bigint PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  a float8 NOT NULL, b float8 NOT NULL, c float8 NOT NULL, d float8 NOT NULL,
  e float8 NOT NULL, f float8 NOT NULL, g float8 NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The `fitted` model of a tenant: intercept + the seven weights, refitted by the audiences.fit job from past
-- events' actual buyers; `fit` holds its quality on held-out events (log_loss, auc, rows, events).
CREATE TABLE audience_models (
  tenant_id   bigint PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  intercept   float8 NOT NULL,
  weights     float8[] NOT NULL,
  fit         jsonb NOT NULL,
  fitted_at   timestamptz NOT NULL
);

CREATE TABLE audiences (
  id          bigserial PRIMARY KEY,
  tenant_id   bigint NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  name        text NOT NULL,
  -- {"event_hypothesis":{…}} or {"event_id":"…"}, min_propensity, model: what a rebuild recomputes.
  definition  jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audiences_tenant ON audiences (tenant_id, id);

-- One row per build; a version stays readable until it is deleted (deleted_at; its members go at once).
CREATE TABLE audience_versions (
  tenant_id       bigint NOT NULL,
  audience_id     bigint NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
  version         int NOT NULL,
  model           text NOT NULL,
  -- The hypothesis as scored (an event_id resolved from the catalog at build time) and the model's weights.
  hypothesis      jsonb NOT NULL,
  intercept       float8 NOT NULL,
  weights         float8[] NOT NULL,
  min_propensity  float8 NOT NULL,
  member_count    int NOT NULL,
  expected_buyers float8 NOT NULL,
  expected_gmv    float8 NOT NULL,
  built_at        timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz,
  PRIMARY KEY (audience_id, version)
);

CREATE TABLE audience_members (
  tenant_id    bigint NOT NULL,
  audience_id  bigint NOT NULL,
  version      int NOT NULL,
  person_id    bigint NOT NULL,
  propensity   float8 NOT NULL,
  PRIMARY KEY (audience_id, version, person_id),
  FOREIGN KEY (audience_id, version) REFERENCES audience_versions (audience_id, version) ON DELETE CASCADE
);
CREATE INDEX audience_members_person ON audience_members (tenant_id, person_id);

-- Segments (seed 004 AudienceSegment): a name and the current version; each edit is a new version.
CREATE TABLE segments (
  id               bigserial PRIMARY KEY,
  tenant_id        bigint NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  current_version  int NOT NULL DEFAULT 1,
  auto_refresh     boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX segments_tenant ON segments (tenant_id, id);

-- A version's definition never changes; its membership is recomputed by segments.refresh and swapped in one
-- transaction (DELETE + INSERT, then computed_at): readers see the old members or the new, never a mix.
CREATE TABLE segment_versions (
  tenant_id         bigint NOT NULL,
  segment_id        bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
  version           int NOT NULL,
  name              text NOT NULL,
  filters           jsonb NOT NULL,
  marketing_only    boolean NOT NULL DEFAULT true,
  size_estimate     int,
  member_count      int,
  computed_at       timestamptz,
  eval_ms           float8,
  -- The last refresh attempt (success or not): the job takes each version once per run, oldest first.
  attempted_at      timestamptz,
  -- Consecutive failed refreshes (0 after a success); past 20 the job stops trying until the next edit.
  error_count       int NOT NULL DEFAULT 0,
  last_error        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (segment_id, version)
);

CREATE TABLE segment_members (
  tenant_id   bigint NOT NULL,
  segment_id  bigint NOT NULL,
  version     int NOT NULL,
  person_id   bigint NOT NULL,
  PRIMARY KEY (segment_id, version, person_id),
  FOREIGN KEY (segment_id, version) REFERENCES segment_versions (segment_id, version) ON DELETE CASCADE
);
CREATE INDEX segment_members_person ON segment_members (tenant_id, person_id);

-- Remarketing audiences (seed 002 §2.3), person-based: members are persons with marketing consent, resolved
-- from visitors through identity links; exported to platforms as normalised SHA-256 email/phone only.
CREATE TABLE remarketing_audiences (
  id                    bigserial PRIMARY KEY,
  tenant_id             bigint NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  organizer_id          text,
  event_id              text,
  platform              text NOT NULL CHECK (platform IN ('meta', 'google_ads', 'tiktok')),
  audience_type         text NOT NULL CHECK (audience_type IN ('website_visitors', 'event_viewers', 'cart_abandoners', 'ticket_buyers', 'lookalike', 'custom_segment')),
  name                  text NOT NULL,
  criteria              jsonb NOT NULL,
  -- The platform's audience id and the ad account it lives in (default: the marketplace's account, config).
  external_audience_id  text,
  account_id            text,
  member_count          int NOT NULL DEFAULT 0,
  status                text NOT NULL DEFAULT 'building' CHECK (status IN ('building', 'ready', 'syncing', 'active', 'expired')),
  auto_refresh          boolean NOT NULL DEFAULT true,
  refreshed_at          timestamptz,
  last_synced_at        timestamptz,
  expires_at            timestamptz,
  error_count           int NOT NULL DEFAULT 0,
  last_error            text,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (platform, external_audience_id)
);
CREATE INDEX remarketing_audiences_tenant ON remarketing_audiences (tenant_id, id);

CREATE TABLE remarketing_members (
  tenant_id    bigint NOT NULL,
  audience_id  bigint NOT NULL REFERENCES remarketing_audiences (id) ON DELETE CASCADE,
  person_id    bigint NOT NULL,
  added_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (audience_id, person_id)
);
CREATE INDEX remarketing_members_person ON remarketing_members (tenant_id, person_id);

-- What the platform holds for an audience (the last acknowledged sync), so a sync sends only deltas: members
-- whose digests are not here are added, rows here whose person left (or was erased: person_id NULL) are
-- removed and then deleted. Digests only, normalised for the platform.
CREATE TABLE remarketing_synced (
  tenant_id    bigint NOT NULL,
  audience_id  bigint NOT NULL REFERENCES remarketing_audiences (id) ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN ('email', 'phone')),
  digest       char(64) NOT NULL,
  person_id    bigint,
  synced_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (audience_id, kind, digest)
);
CREATE INDEX remarketing_synced_person ON remarketing_synced (tenant_id, person_id) WHERE person_id IS NOT NULL;

-- The estimate filters the feature store's affinity rows by the hypothesis' artists / genres across the whole
-- tenant; their primary keys lead with the person. Conditional so this file also applies before the feature
-- store's migration exists in a tree.
DO $$
BEGIN
  IF to_regclass('fs_person_affinity_artist_raw') IS NOT NULL THEN
    CREATE INDEX IF NOT EXISTS audiences_fs_artist ON fs_person_affinity_artist_raw (tenant_id, artist_id);
  END IF;
  IF to_regclass('fs_person_affinity_genre_raw') IS NOT NULL THEN
    CREATE INDEX IF NOT EXISTS audiences_fs_genre ON fs_person_affinity_genre_raw (tenant_id, genre);
  END IF;
END $$;
