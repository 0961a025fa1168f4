-- Campaign automation (issue 16, seed 002 §2.1-2.2, README "Campaigns", server/campaigns/).
--
-- ad_campaign_budgets: the ad budget an organizer transfers to the marketplace (seed §2.1), optionally for one
-- event. status active | paused | exhausted | cancelled. spent_budget is the sum of its campaigns' spend as the
-- platforms last reported it (the metrics sync). target_cpa / target_roas drive the optimiser's rules (seed §2.4
-- "CPA > 2x target_cpa"); low_notified_at: the "below 20 % left" notice was sent (once per budget).
-- GDPR: tenant business data (amounts, organizer and event ids, a payment reference), no person.
CREATE TABLE ad_campaign_budgets (
  id                   bigserial PRIMARY KEY,
  tenant_id            bigint NOT NULL,
  organizer_id         text NOT NULL,
  event_id             text,
  total_budget         numeric(12,2) NOT NULL CHECK (total_budget > 0),
  spent_budget         numeric(12,2) NOT NULL DEFAULT 0,
  currency             text NOT NULL DEFAULT 'EUR',
  daily_budget_limit   numeric(10,2),
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'exhausted', 'cancelled')),
  allocation_strategy  text NOT NULL CHECK (allocation_strategy IN ('equal_split', 'performance_based', 'manual')),
  platform_allocations jsonb NOT NULL DEFAULT '{}',
  target_cpa           numeric(10,2),
  target_roas          numeric(10,2),
  payment_reference    text,
  paid_at              timestamptz,
  started_at           timestamptz,
  ends_at              timestamptz,
  notes                text,
  low_notified_at      timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ad_campaign_budgets_organizer ON ad_campaign_budgets (tenant_id, organizer_id, status);
CREATE INDEX ad_campaign_budgets_event ON ad_campaign_budgets (tenant_id, event_id, status);

-- automated_campaigns: one campaign of a budget's suite on one platform (seed §2.2). One per
-- (budget, platform, campaign_type): creating the suite twice creates nothing new.
-- status draft → pending_review (the marketplace admin's approval queue) → active → paused | completed | failed.
-- targeting holds the audience definitions (type + criteria, issue 14 item 4) and, once linked, their ids.
-- performance_metrics: the platform's cumulative figures at the last sync (its own conversion claim included).
-- GDPR: campaign configuration and platform totals, no person.
CREATE TABLE automated_campaigns (
  id                    bigserial PRIMARY KEY,
  tenant_id             bigint NOT NULL,
  budget_id             bigint NOT NULL REFERENCES ad_campaign_budgets (id) ON DELETE CASCADE,
  organizer_id          text NOT NULL,
  event_id              text,
  platform              text NOT NULL CHECK (platform IN ('meta', 'google_ads', 'tiktok')),
  campaign_type         text NOT NULL CHECK (campaign_type IN ('prospecting', 'retargeting', 'lookalike', 'dynamic_remarketing')),
  external_campaign_id  text,
  external_adset_id     text,
  external_ad_id        text,
  name                  text NOT NULL,
  status                text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'pending_review', 'active', 'paused', 'completed', 'failed')),
  objective             text NOT NULL DEFAULT 'conversions' CHECK (objective IN ('conversions', 'traffic', 'awareness')),
  targeting             jsonb NOT NULL DEFAULT '{}',
  creative              jsonb NOT NULL DEFAULT '{}',
  budget_allocated      numeric(10,2) NOT NULL DEFAULT 0,
  budget_spent          numeric(10,2) NOT NULL DEFAULT 0,
  daily_budget          numeric(10,2) NOT NULL DEFAULT 0,
  bid_strategy          text NOT NULL DEFAULT 'lowest_cost' CHECK (bid_strategy IN ('lowest_cost', 'cost_cap', 'bid_cap')),
  bid_amount            numeric(10,2),
  performance_metrics   jsonb NOT NULL DEFAULT '{}',
  status_reason         text,
  last_error            text,
  started_at            timestamptz,
  ends_at               timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (budget_id, platform, campaign_type)
);
CREATE INDEX automated_campaigns_budget ON automated_campaigns (tenant_id, budget_id, status);
CREATE INDEX automated_campaigns_event ON automated_campaigns (tenant_id, event_id, platform, status);
CREATE INDEX automated_campaigns_status ON automated_campaigns (status, platform);

-- The optimisation log (seed §2.2 optimization_log, kept as rows rather than one growing JSON array): every
-- decision of the jobs with its inputs, the rule and the action. One row per (budget, campaign, window, rule):
-- a window run again (at-least-once execution, a restart) finds its decisions already there and does not act
-- twice. campaign_id 0 = a decision about the whole budget. applied_at: the platform call succeeded.
-- GDPR: figures and decisions, no person.
CREATE TABLE campaign_optimization_log (
  id            bigserial PRIMARY KEY,
  tenant_id     bigint NOT NULL,
  budget_id     bigint NOT NULL,
  campaign_id   bigint NOT NULL DEFAULT 0,
  window_start  timestamptz NOT NULL,
  job           text NOT NULL,
  rule          text NOT NULL,
  action        text NOT NULL,
  inputs        jsonb NOT NULL DEFAULT '{}',
  params        jsonb NOT NULL DEFAULT '{}',
  reason        text NOT NULL,
  applied_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, budget_id, campaign_id, window_start, rule)
);
CREATE INDEX campaign_optimization_log_budget ON campaign_optimization_log (tenant_id, budget_id, id);

-- The platforms' cumulative figures per campaign at each metrics sync: spend per day (pacing), the trailing
-- windows of the rules and the performance-over-time chart. One row per (campaign, sync time).
-- GDPR: platform totals, no person.
CREATE TABLE campaign_metric_snapshots (
  tenant_id    bigint NOT NULL,
  campaign_id  bigint NOT NULL,
  at           timestamptz NOT NULL,
  impressions  bigint NOT NULL,
  clicks       bigint NOT NULL,
  spend        numeric(12,2) NOT NULL,
  conversions  numeric(12,2) NOT NULL,
  revenue      numeric(12,2) NOT NULL,
  PRIMARY KEY (campaign_id, at)
);
CREATE INDEX campaign_metric_snapshots_tenant ON campaign_metric_snapshots (tenant_id, campaign_id, at);

-- Sales credited to a campaign from our own tracking (issue 15: a purchase's click ids, UTMs, first touch):
-- the "tracked" ROAS next to the platform's claim. One row per order: an order credits one campaign.
-- GDPR: order ids and amounts, no person (the person behind an order is in the conversions domain).
CREATE TABLE campaign_credits (
  tenant_id    bigint NOT NULL,
  order_id     text NOT NULL,
  campaign_id  bigint NOT NULL,
  revenue      numeric(12,2) NOT NULL,
  tickets      int NOT NULL DEFAULT 0,
  matched_by   text NOT NULL,
  occurred_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, order_id)
);
CREATE INDEX campaign_credits_campaign ON campaign_credits (tenant_id, campaign_id);
