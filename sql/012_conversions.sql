-- Server-side conversions (issue 15 part 2, README "Server-side conversions", server/conversions/).
--
-- conversion_outbox: one row per (tenant, destination, tx event), written by the writer projector
-- `conversions.outbox` in the same transaction as the event, so a committed event never lacks its rows and a
-- rolled-back one never has them. destination = '<provider>:<tracking code id>': the organizer's code and the
-- marketplace's code are two destinations with their own rows (dual tracking). The unique key makes the
-- projector idempotent (spool replays, retried commits) and means a destination gets an event at most once
-- from this table; once `sent` a row is never claimed again.
--   status  pending  waiting for the dispatcher (next_at: not before)
--           sending  claimed by a dispatcher until lease_until (a crash leaves it; the lease then expires)
--           sent     acknowledged by the provider; user_data is cleared at that moment
--           dead     refused for good (last_error holds the provider's answer) or out of retry time (24 h)
--   legal_basis  the consent policy in force when the row was written: 'consent' (marketing consent on the
--           event) or 'legitimate_interest' (the tenant's policy; purchases only).
--   user_data  SHA-256 digests normalised for this row's provider (computed at ingest, server/conversions/
--           match-keys.ts): never plaintext contact data. Erased with the person (gdpr.ts).
-- GDPR: person_id, event ids, hashed contact data, truncated ip, user agent, click ids: erased per person.
CREATE TABLE conversion_outbox (
  id             bigserial PRIMARY KEY,
  tenant_id      bigint NOT NULL,
  destination    text NOT NULL,
  provider       text NOT NULL CHECK (provider IN ('meta', 'tiktok', 'google_ads', 'ga4')),
  code_id        bigint NOT NULL,
  owner          text NOT NULL CHECK (owner IN ('event', 'organizer', 'marketplace')),
  event_id       uuid NOT NULL,
  event_name     text NOT NULL,
  occurred_at    timestamptz NOT NULL,
  person_id      bigint,
  session_id     text,
  legal_basis    text NOT NULL CHECK (legal_basis IN ('consent', 'legitimate_interest')),
  -- What the adapters need from the event: value, currency, order and event ids, items, page url, ip, user
  -- agent, visitor id, click ids (fbc, gclid, ttclid) and the first touch.
  data           jsonb NOT NULL,
  user_data      jsonb,
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
  attempts       int NOT NULL DEFAULT 0,
  next_at        timestamptz NOT NULL DEFAULT now(),
  lease_until    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  sent_at        timestamptz,
  last_error     text,
  -- Set by POST /api/v1/conversions/{id}/retry: the 24 h retry budget starts again from here.
  retried_at     timestamptz,
  UNIQUE (tenant_id, destination, event_id)
);
-- The dispatcher's scan: due rows only (sent and dead rows are not in the index). A claimed row's next_at is
-- its lease's end, so a row left `sending` by a dead node becomes due again by the same index.
CREATE INDEX conversion_outbox_due ON conversion_outbox (tenant_id, destination, next_at) WHERE status IN ('pending', 'sending');
CREATE INDEX conversion_outbox_list ON conversion_outbox (tenant_id, id);
CREATE INDEX conversion_outbox_person ON conversion_outbox (tenant_id, person_id) WHERE person_id IS NOT NULL;

-- Attribution of each purchase (seed 002 attributeConversion): the session's first touch, the click ids and
-- UTMs, kept for the campaigns issue to credit a campaign. One row per order_completed event.
-- GDPR: person, session and visitor ids, click ids, landing page: erased per person.
CREATE TABLE conversion_attributions (
  tenant_id     bigint NOT NULL,
  event_id      uuid NOT NULL,
  order_id      text,
  person_id     bigint,
  session_id    text,
  visitor_id    text,
  occurred_at   timestamptz NOT NULL,
  first_touch   jsonb,
  click_ids     jsonb NOT NULL DEFAULT '{}',
  utm           jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX conversion_attributions_person ON conversion_attributions (tenant_id, person_id) WHERE person_id IS NOT NULL;

-- The tenant's legal basis for server-side purchases (seed 002 GDPR: "interes legitim / contract"):
-- 'consent' (default) sends only events with marketing consent; 'legitimate_interest' also sends
-- order_completed without it. GDPR: tenant setting, no person.
CREATE TABLE conversion_settings (
  tenant_id       bigint PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  purchase_basis  text NOT NULL DEFAULT 'consent' CHECK (purchase_basis IN ('consent', 'legitimate_interest')),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Calls per destination per fixed window (Meta: 200 per hour, seed 002), shared by every node.
-- GDPR: destination names, windows and counts, no person.
CREATE TABLE conversion_rate_windows (
  tenant_id     bigint NOT NULL,
  destination   text NOT NULL,
  window_start  timestamptz NOT NULL,
  calls         int NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, destination, window_start)
);
