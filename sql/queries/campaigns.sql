-- Campaign automation (server/campaigns/, migration 016): budgets, campaigns, the optimisation log, metric
-- snapshots and tracked credits.

-- name: insert_budget
INSERT INTO ad_campaign_budgets (tenant_id, organizer_id, event_id, total_budget, currency, daily_budget_limit, allocation_strategy,
  platform_allocations, target_cpa, target_roas, payment_reference, paid_at, started_at, ends_at, notes, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16, $16)
RETURNING *;

-- name: get_budget
SELECT * FROM ad_campaign_budgets WHERE tenant_id = $1 AND id = $2;

-- name: list_budgets
-- $2: every organizer (admin); else only $3's. Keyset on id, newest first.
SELECT * FROM ad_campaign_budgets
WHERE tenant_id = $1 AND ($2::boolean OR organizer_id = ANY($3::text[]))
  AND ($4::text IS NULL OR organizer_id = $4::text)
  AND ($5::bigint IS NULL OR id < $5::bigint)
ORDER BY id DESC LIMIT $6;

-- name: override_budget
-- A manual override: total and/or daily limit (NULL keeps the current value; $5 clears the daily limit). A new total
-- must be above what was spent (no row when it is not: the caller answers 409), checked against the stored spend in
-- the same statement; only such a raise reopens an exhausted budget (a new daily limit alone never does). The caller
-- then applies the optimiser's stop rules to the new figures at once (service.ts overrideBudget).
UPDATE ad_campaign_budgets
SET total_budget = coalesce($3, total_budget),
    daily_budget_limit = CASE WHEN $5::boolean THEN NULL ELSE coalesce($4, daily_budget_limit) END,
    status = CASE WHEN status = 'exhausted' AND $3::numeric IS NOT NULL THEN 'active' ELSE status END,
    updated_at = $6
WHERE tenant_id = $1 AND id = $2 AND ($3::numeric IS NULL OR $3::numeric > spent_budget)
RETURNING *;

-- name: set_budget_status
UPDATE ad_campaign_budgets SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 RETURNING *;

-- name: take_budget_turn
-- A budget's turn across nodes (budget-turns.ts, migration 043): token $3 holds it until $5 unless another holder's
-- lease runs past now ($4). One row always: known false for no such budget (the turn's work answers not_found),
-- taken false while another holder has it.
WITH b AS (SELECT id FROM ad_campaign_budgets WHERE tenant_id = $1 AND id = $2),
taken AS (
  UPDATE ad_campaign_budgets SET turn_holder = $3, turn_until = $5
  WHERE tenant_id = $1 AND id = $2 AND (turn_until IS NULL OR turn_until <= $4)
  RETURNING id
)
SELECT EXISTS (SELECT 1 FROM b) AS known, EXISTS (SELECT 1 FROM taken) AS taken;

-- name: release_budget_turn
-- The turn of token $3 is over; a lease that ran out and was taken by another holder is left to it.
UPDATE ad_campaign_budgets SET turn_holder = NULL, turn_until = NULL WHERE tenant_id = $1 AND id = $2 AND turn_holder = $3;

-- name: mark_low_notified
UPDATE ad_campaign_budgets SET low_notified_at = $3 WHERE tenant_id = $1 AND id = $2 AND low_notified_at IS NULL RETURNING id;

-- name: rearm_low_notice
-- A total raised by hand to leave 20 % or more (rules.ts budgetLeft, service.ts overrideBudget): the low-budget
-- notice is sent again when the budget next falls below 20 %. No row when it was not sent.
UPDATE ad_campaign_budgets SET low_notified_at = NULL, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND low_notified_at IS NOT NULL RETURNING *;

-- name: insert_campaigns
-- The suite: one row per (budget, platform, type); a second call inserts nothing new.
INSERT INTO automated_campaigns (tenant_id, budget_id, organizer_id, event_id, platform, campaign_type, name, status, objective,
  targeting, creative, bid_strategy, bid_amount, ends_at, created_at, updated_at)
SELECT $1, $2, $3, $4, x.platform, x.campaign_type, x.name, 'draft', x.objective, x.targeting, x.creative, x.bid_strategy, x.bid_amount, $5, $6, $6
FROM jsonb_to_recordset($7::jsonb) AS x(platform text, campaign_type text, name text, objective text, targeting jsonb, creative jsonb, bid_strategy text, bid_amount numeric)
ON CONFLICT (budget_id, platform, campaign_type) DO NOTHING;

-- name: budget_campaigns
SELECT * FROM automated_campaigns WHERE tenant_id = $1 AND budget_id = $2 ORDER BY id;

-- name: get_campaign
SELECT * FROM automated_campaigns WHERE tenant_id = $1 AND id = $2;

-- name: move_campaigns
-- Status moves guarded by the expected current status ($3): a concurrent move wins once.
UPDATE automated_campaigns
SET status = $4, status_reason = $5, updated_at = $6,
    started_at = CASE WHEN $4 = 'active' THEN coalesce(started_at, $6) ELSE started_at END
WHERE tenant_id = $1 AND id = ANY($2::bigint[]) AND status = ANY($3::text[])
RETURNING *;

-- name: claim_publish
-- An approval takes a campaign for publishing, before any platform call: pending_review (or scheduled, once its
-- budget started) → publishing with the daily budget it starts with ($6) and the budget's total ($7), or a campaign
-- left publishing whose lease ran out (an attempt that crashed or lost its connection: resumed, keeping its budget
-- and the ids stored so far).
-- $3: this attempt's token, $4: now, $5: its lease. No row: another attempt holds it, or it is not to publish.
UPDATE automated_campaigns
SET status = 'publishing', publish_token = $3, publish_lease_until = $5, publish_attempts = publish_attempts + 1,
    publish_started_at = CASE WHEN status IN ('pending_review', 'scheduled') THEN $4 ELSE publish_started_at END,
    daily_budget = CASE WHEN status IN ('pending_review', 'scheduled') THEN $6 ELSE daily_budget END,
    budget_allocated = CASE WHEN status IN ('pending_review', 'scheduled') THEN $7 ELSE budget_allocated END,
    last_error = CASE WHEN status IN ('pending_review', 'scheduled') THEN NULL ELSE last_error END,
    status_reason = NULL, updated_at = $4
WHERE tenant_id = $1 AND id = $2
  AND (status IN ('pending_review', 'scheduled') OR (status = 'publishing' AND (publish_lease_until IS NULL OR publish_lease_until <= $4)))
RETURNING *;

-- name: scheduled_due
-- Campaigns approved before their budget's start (status scheduled) whose start has come ($1: now), any tenant:
-- campaigns.resume_publishing publishes them. Usually none.
SELECT c.* FROM automated_campaigns c JOIN ad_campaign_budgets b ON b.id = c.budget_id AND b.tenant_id = c.tenant_id
WHERE c.status = 'scheduled' AND (b.started_at IS NULL OR b.started_at <= $1)
ORDER BY c.budget_id, c.id LIMIT $2;

-- name: save_publish_step
-- A platform id, stored the moment the platform returned it (NULL keeps the stored one), and the lease renewed;
-- only by the attempt holding the campaign ($3). No row: the attempt lost it and stops. $8: the ads' list
-- (external_ads, migration 037), NULL to keep it.
UPDATE automated_campaigns
SET external_campaign_id = coalesce($4, external_campaign_id), external_adset_id = coalesce($5, external_adset_id),
    external_ads = coalesce($8::jsonb, external_ads),
    publish_lease_until = $6, updated_at = $7
WHERE tenant_id = $1 AND id = $2 AND status = 'publishing' AND publish_token = $3
RETURNING id;

-- name: set_published
UPDATE automated_campaigns
SET external_campaign_id = $3, external_adset_id = $4, status = 'active', status_reason = NULL, last_error = NULL,
    started_at = coalesce(started_at, $5), updated_at = $5, publish_token = NULL, publish_lease_until = NULL
WHERE tenant_id = $1 AND id = $2 AND status = 'publishing' AND publish_token = $6
RETURNING *;

-- name: set_publish_failed
-- The platform refused a step before the campaign could run: failed with its error (the ids stored so far stay,
-- so submitting and approving again continues with those objects).
UPDATE automated_campaigns
SET status = 'failed', last_error = $4, updated_at = $5, publish_token = NULL, publish_lease_until = NULL
WHERE tenant_id = $1 AND id = $2 AND status = 'publishing' AND publish_token = $3
RETURNING *;

-- name: release_publish
-- A platform call failed temporarily (a timeout, 429, a 5xx) at any step, starting it included (which may have taken
-- effect): it stays publishing with the error and the ids stored so far, and the lease ends now, so the resume job
-- tries again from what exists on the platform (starting is an absolute status).
UPDATE automated_campaigns
SET last_error = $4, updated_at = $5, publish_token = NULL, publish_lease_until = $5
WHERE tenant_id = $1 AND id = $2 AND status = 'publishing' AND publish_token = $3
RETURNING *;

-- name: publishing_due
-- Campaigns left publishing whose lease ran out (any tenant), oldest lease first: campaigns.resume_publishing.
SELECT * FROM automated_campaigns
WHERE status = 'publishing' AND (publish_lease_until IS NULL OR publish_lease_until <= $1)
ORDER BY publish_lease_until NULLS FIRST, id LIMIT $2;

-- name: set_error
UPDATE automated_campaigns SET last_error = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2;

-- name: set_error_many
UPDATE automated_campaigns SET last_error = $3, updated_at = $4 WHERE tenant_id = $1 AND id = ANY($2::bigint[]);

-- name: set_daily_budget
UPDATE automated_campaigns SET daily_budget = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 RETURNING *;

-- name: replace_daily_budget
-- A campaign's daily budget $4 where it is still $3 (daily-budgets.ts settleDaily): a raise the platform refused put
-- back, or a lowering the platform took written; a change made since is left alone.
UPDATE automated_campaigns SET daily_budget = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND daily_budget = $3 RETURNING id;

-- name: review_queue
-- The marketplace's approval queue across budgets, oldest first; $3: keyset (ids after it), NULL for the start.
SELECT * FROM automated_campaigns
WHERE tenant_id = $1 AND status = 'pending_review' AND ($3::bigint IS NULL OR id > $3::bigint)
ORDER BY id LIMIT $2;

-- name: review_budgets
-- The budgets of a page of the approval queue, with their event's title and their organizer's name from the catalog.
SELECT b.*, e.title AS event_title, o.name AS organizer_name FROM ad_campaign_budgets b
LEFT JOIN catalog_events e ON e.tenant_id = b.tenant_id AND e.id = b.event_id
LEFT JOIN catalog_organizers o ON o.tenant_id = b.tenant_id AND o.id = b.organizer_id
WHERE b.tenant_id = $1 AND b.id = ANY($2::bigint[]);

-- name: review_budget_campaigns
-- Every campaign of those budgets: a proposed daily budget is a share of the day next to the running and waiting ones.
SELECT * FROM automated_campaigns WHERE tenant_id = $1 AND budget_id = ANY($2::bigint[]) ORDER BY budget_id, id;

-- name: live_budgets
-- The budgets the jobs work on: active ones with campaigns on a platform (any tenant), with their tenant's time
-- zone (migration 041; a budget's days are its tenant's) and the 06:00 of their last completed rebalance.
SELECT b.*, COALESCE(t.time_zone, 'UTC') AS tenant_time_zone FROM ad_campaign_budgets b
LEFT JOIN tenants t ON t.tenant_id = b.tenant_id
WHERE b.status = 'active' AND EXISTS (SELECT 1 FROM automated_campaigns c WHERE c.budget_id = b.id AND c.external_campaign_id IS NOT NULL)
ORDER BY b.id;

-- name: set_rebalanced_for
-- $3: the tenant-local 06:00 whose rebalance of the budget completed (never moved back).
UPDATE ad_campaign_budgets SET rebalanced_for = $3 WHERE tenant_id = $1 AND id = $2 AND (rebalanced_for IS NULL OR rebalanced_for < $3) RETURNING id;

-- name: ended_budgets
-- Budgets whose ends_at has passed ($1: now) not yet marked ended, or with campaigns still active or paused (a
-- publish finished after the end), any tenant: campaigns.end_budgets completes and closes their campaigns and marks
-- them ended within a minute of the end (ends of the last 7 days; an older one the hourly optimiser ends, for an
-- active budget). Usually none.
SELECT b.* FROM ad_campaign_budgets b
WHERE b.ends_at <= $1 AND b.ends_at > $1::timestamptz - interval '7 days' AND b.status <> 'cancelled'
  AND (b.status <> 'ended'
       OR EXISTS (SELECT 1 FROM automated_campaigns c WHERE c.budget_id = b.id AND c.status IN ('active', 'paused') AND c.external_campaign_id IS NOT NULL))
ORDER BY b.id;

-- name: synced_campaigns
-- Campaigns whose figures the metrics sync reads: on a platform and not finished long ago (with their ads' last
-- figures and statuses, kept where the platform answers nothing new for an ad).
SELECT c.id, c.tenant_id, c.budget_id, c.platform, c.external_campaign_id, c.external_ads, c.performance_metrics->'variants' AS variants FROM automated_campaigns c
JOIN ad_campaign_budgets b ON b.id = c.budget_id
WHERE c.external_campaign_id IS NOT NULL AND c.status IN ('active', 'paused') AND b.status IN ('active', 'paused', 'exhausted', 'ended')
ORDER BY c.id;

-- name: write_metrics
-- One statement for a whole sync: campaigns' figures, their snapshot at $1, and the budgets' spent sums.
WITH m AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(id bigint, impressions bigint, clicks bigint, spend numeric, conversions numeric, revenue numeric, variants jsonb)
), upd AS (
  UPDATE automated_campaigns c
  SET budget_spent = round(m.spend, 3),
      performance_metrics = jsonb_build_object(
        'impressions', m.impressions, 'clicks', m.clicks, 'spend', round(m.spend, 3), 'conversions', m.conversions,
        'revenue_generated', round(m.revenue, 3),
        'ctr', CASE WHEN m.impressions > 0 THEN round(m.clicks::numeric / m.impressions, 5) END,
        'conversion_rate', CASE WHEN m.clicks > 0 THEN round(m.conversions / m.clicks, 5) END,
        'cpa', CASE WHEN m.conversions > 0 THEN round(m.spend / m.conversions, 2) END,
        'roas', CASE WHEN m.spend > 0 THEN round(m.revenue / m.spend, 3) END,
        'last_updated_at', $1::timestamptz)
        -- Per ad (creative rotation): this sync's figures, else those of the last sync that read them.
        || CASE WHEN m.variants IS NOT NULL THEN jsonb_build_object('variants', m.variants)
                WHEN c.performance_metrics->'variants' IS NOT NULL THEN jsonb_build_object('variants', c.performance_metrics->'variants')
                ELSE '{}'::jsonb END
  FROM m WHERE c.id = m.id
  RETURNING c.id, c.tenant_id, c.budget_id
), snap AS (
  INSERT INTO campaign_metric_snapshots (tenant_id, campaign_id, at, impressions, clicks, spend, conversions, revenue)
  SELECT u.tenant_id, m.id, $1, m.impressions, m.clicks, round(m.spend, 3), m.conversions, round(m.revenue, 3) FROM m JOIN upd u ON u.id = m.id
  ON CONFLICT (campaign_id, at) DO UPDATE SET impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks, spend = EXCLUDED.spend,
    conversions = EXCLUDED.conversions, revenue = EXCLUDED.revenue
  RETURNING campaign_id
)
UPDATE ad_campaign_budgets b
SET spent_budget = s.spent, updated_at = $1
FROM (
  SELECT c.budget_id, sum(coalesce(m.spend, c.budget_spent)) AS spent
  FROM automated_campaigns c LEFT JOIN m ON m.id = c.id
  WHERE c.budget_id IN (SELECT budget_id FROM upd)
  GROUP BY c.budget_id
) s
WHERE b.id = s.budget_id
RETURNING b.id;

-- name: spend_since
-- Per campaign of budget $2: spend since $3 (the latest snapshot minus the last one at or before $3).
SELECT c.id,
  coalesce((SELECT s.spend FROM campaign_metric_snapshots s WHERE s.campaign_id = c.id ORDER BY s.at DESC LIMIT 1), 0)
  - coalesce((SELECT s.spend FROM campaign_metric_snapshots s WHERE s.campaign_id = c.id AND s.at <= $3 ORDER BY s.at DESC LIMIT 1), 0) AS spend
FROM automated_campaigns c WHERE c.tenant_id = $1 AND c.budget_id = $2;

-- name: insert_decisions
-- The decisions of one window; those already logged for the same (campaign, window, rule) come back as not new.
INSERT INTO campaign_optimization_log (tenant_id, budget_id, campaign_id, window_start, job, rule, action, inputs, params, reason, created_at)
SELECT $1, $2, x.campaign_id, $3, $4, x.rule, x.action, x.inputs, x.params, x.reason, $5
FROM jsonb_to_recordset($6::jsonb) AS x(campaign_id bigint, rule text, action text, inputs jsonb, params jsonb, reason text)
ON CONFLICT (tenant_id, budget_id, campaign_id, window_start, rule) DO NOTHING;

-- name: unapplied_decisions
-- What a window ($3) of budget $2 carries out, oldest first: the window's decisions not yet carried out (new ones,
-- or left by an attempt that stopped half-way: neither applied nor superseded, migration 034) and, while the budget
-- is stopped (any status but active), its budget_exhausted pauses that any earlier window or override left
-- unapplied (a platform refused them). Such a budget is in no live_budgets window again, so those pauses would
-- otherwise never be sent again and the campaign would spend past the total (stopped_budgets, migration 053).
SELECT l.id, l.campaign_id, l.rule, l.action, l.params FROM campaign_optimization_log l
WHERE l.tenant_id = $1 AND l.budget_id = $2 AND l.window_start = $3 AND l.applied_at IS NULL AND l.outcome IS NULL
UNION
SELECT l.id, l.campaign_id, l.rule, l.action, l.params FROM campaign_optimization_log l
JOIN ad_campaign_budgets b ON b.tenant_id = l.tenant_id AND b.id = l.budget_id AND b.status <> 'active'
WHERE l.tenant_id = $1 AND l.budget_id = $2 AND l.rule = 'budget_exhausted' AND l.action = 'pause' AND l.applied_at IS NULL AND l.outcome IS NULL
ORDER BY id;

-- name: stopped_budgets
-- The stopped budgets (any status but active, any tenant) with a budget_exhausted pause left unapplied (a platform
-- refused it: the campaign still runs): campaigns.optimize carries those pauses out again every window
-- (unapplied_decisions), whichever window or override logged them, until the platform takes them. The open pauses
-- are read from their partial index (migration 053): usually none. $1: at most this many budgets.
SELECT b.* FROM ad_campaign_budgets b
JOIN (SELECT DISTINCT tenant_id, budget_id FROM campaign_optimization_log
      WHERE rule = 'budget_exhausted' AND action = 'pause' AND applied_at IS NULL AND outcome IS NULL) l
  ON l.tenant_id = b.tenant_id AND l.budget_id = b.id
WHERE b.status <> 'active'
ORDER BY b.id LIMIT $1;

-- name: mark_applied
UPDATE campaign_optimization_log SET applied_at = $2, outcome = 'applied', params = params || $3::jsonb WHERE id = $1;

-- name: mark_superseded
-- Nothing to carry out (the campaign's state already says otherwise): never marked applied; $2 says why.
UPDATE campaign_optimization_log SET outcome = 'superseded', outcome_note = $2 WHERE id = $1 AND outcome IS NULL;

-- name: last_raises
SELECT campaign_id, max(window_start) AS at FROM campaign_optimization_log
WHERE tenant_id = $1 AND budget_id = $2 AND rule = 'roas_above_target' GROUP BY campaign_id;

-- name: campaign_log
-- One campaign's own decisions (GET /api/v1/campaigns/{id}), newest first; $3: keyset (ids below it).
SELECT id, campaign_id, window_start, job, rule, action, inputs, params, reason, applied_at, outcome, outcome_note, created_at
FROM campaign_optimization_log WHERE tenant_id = $1 AND budget_id = $2 AND campaign_id = $3 AND ($4::bigint IS NULL OR id < $4::bigint)
ORDER BY id DESC LIMIT $5;

-- name: list_campaigns
-- GET /api/v1/campaigns: $2 every organizer (admin), else only $3's; optional budget ($4) and status ($5). Keyset on
-- id, newest first.
SELECT * FROM automated_campaigns
WHERE tenant_id = $1 AND ($2::boolean OR organizer_id = ANY($3::text[]))
  AND ($4::bigint IS NULL OR budget_id = $4::bigint)
  AND ($5::text IS NULL OR status = $5::text)
  AND ($6::bigint IS NULL OR id < $6::bigint)
ORDER BY id DESC LIMIT $7;

-- name: budget_log
SELECT id, campaign_id, window_start, job, rule, action, inputs, params, reason, applied_at, outcome, outcome_note, created_at
FROM campaign_optimization_log WHERE tenant_id = $1 AND budget_id = $2 AND ($3::bigint IS NULL OR id < $3::bigint)
ORDER BY id DESC LIMIT $4;

-- name: insert_credits
-- Purchases handed in directly (the simulation's tracking): the same rules as credit_from_attributions, an order
-- in another currency than the budget's (when it names one) or before the campaign started is not credited.
INSERT INTO campaign_credits (tenant_id, order_id, campaign_id, revenue, tickets, matched_by, occurred_at)
SELECT $1, x.order_id, c.id, x.revenue, x.tickets, 'utm', x.occurred_at
FROM jsonb_to_recordset($2::jsonb) AS x(order_id text, utm_campaign text, revenue numeric, tickets int, occurred_at timestamptz, currency text)
JOIN automated_campaigns c ON c.tenant_id = $1 AND x.utm_campaign = 'txc-' || c.budget_id || '-' || c.platform || '-' || c.campaign_type
JOIN ad_campaign_budgets b ON b.id = c.budget_id AND b.tenant_id = c.tenant_id
WHERE (x.currency IS NULL OR x.currency = b.currency) AND c.started_at IS NOT NULL AND x.occurred_at >= c.started_at
ON CONFLICT (tenant_id, order_id) DO NOTHING
RETURNING order_id;

-- name: has_attributions
SELECT to_regclass('conversion_attributions') IS NOT NULL AS present;

-- name: credit_tenants
-- The tenants whose campaigns can be credited (started on a platform): credit_from_attributions runs once per
-- tenant, so one tenant's order that cannot be written stops neither the other tenants' credits nor the jobs.
SELECT DISTINCT tenant_id FROM automated_campaigns WHERE started_at IS NOT NULL ORDER BY tenant_id;

-- name: credit_from_attributions
-- Purchases of tenant $2 attributed by the conversions domain (issue 15: UTMs and first touch per order) since $1 whose
-- utm_campaign names one of our campaigns; value and tickets from the order_completed event itself. Only orders in
-- the campaign's budget currency (payload.currency; amounts in different currencies never add up: an order in
-- another currency, or without one, is not credited) and placed at or after the campaign started running
-- (started_at: an order before the campaign was published cannot be its sale).
INSERT INTO campaign_credits (tenant_id, order_id, campaign_id, revenue, tickets, matched_by, occurred_at)
SELECT a.tenant_id, coalesce(a.order_id, a.event_id::text), c.id,
  CASE WHEN jsonb_typeof(e.payload->'gross_amount') = 'number' THEN (e.payload->>'gross_amount')::numeric ELSE 0 END,
  coalesce((SELECT sum((i->>'qty')::int) FROM jsonb_array_elements(CASE WHEN jsonb_typeof(e.payload->'items') = 'array' THEN e.payload->'items' ELSE '[]'::jsonb END) i
            WHERE jsonb_typeof(i->'qty') = 'number'), 0),
  'utm', a.occurred_at
FROM conversion_attributions a
JOIN tx_events e ON e.tenant_id = a.tenant_id AND e.event_id = a.event_id AND e.occurred_at = a.occurred_at
JOIN automated_campaigns c ON c.tenant_id = a.tenant_id
  -- The order's own utm_campaign, else its session's first touch's (first_touch holds the touch's context.utm
  -- under "utm"; `first_touch->>'utm_campaign'` was always null, so an order with UTMs of its own but no campaign
  -- — a newsletter link back — never credited the ad that brought the visitor).
  AND coalesce(a.utm->>'utm_campaign', a.utm->>'campaign', a.first_touch->'utm'->>'utm_campaign', a.first_touch->'utm'->>'campaign')
    = 'txc-' || c.budget_id || '-' || c.platform || '-' || c.campaign_type
JOIN ad_campaign_budgets b ON b.id = c.budget_id AND b.tenant_id = c.tenant_id
WHERE a.tenant_id = $2 AND a.occurred_at >= $1
  AND e.payload->>'currency' = b.currency
  AND c.started_at IS NOT NULL AND a.occurred_at >= c.started_at
ON CONFLICT (tenant_id, order_id) DO NOTHING
RETURNING order_id;

-- name: credits_by_campaign
-- tickets as bigint: an order may carry 200 lines of 10 000 tickets (ingest's bounds), so a campaign's sum passes an
-- int after about a thousand such orders ("integer out of range" stopped the optimiser's loop over every budget).
SELECT campaign_id, count(*)::int AS orders, coalesce(sum(tickets), 0)::bigint AS tickets, coalesce(sum(revenue), 0) AS revenue
FROM campaign_credits WHERE tenant_id = $1 AND campaign_id = ANY($2::bigint[]) GROUP BY campaign_id;

-- name: organizer_report
SELECT b.id AS budget_id, b.currency, b.total_budget, b.spent_budget, b.status, b.target_roas, c.id AS campaign_id, c.name, c.platform, c.campaign_type,
  c.status AS campaign_status, c.status_reason, c.daily_budget, c.budget_spent, c.performance_metrics
FROM ad_campaign_budgets b LEFT JOIN automated_campaigns c ON c.budget_id = b.id
WHERE b.tenant_id = $1 AND b.organizer_id = $2 ORDER BY b.id, c.id;

-- name: snapshot_series
-- The performance-over-time chart: the budget's cumulative platform figures per sync time (conversions and revenue
-- are the platforms' claim; the route adds our tracked sales and revenue from budget_credits).
SELECT s.at, sum(s.spend) AS spend, sum(s.clicks)::bigint AS clicks, sum(s.conversions) AS conversions, sum(s.revenue) AS revenue
FROM campaign_metric_snapshots s JOIN automated_campaigns c ON c.id = s.campaign_id
WHERE s.tenant_id = $1 AND c.budget_id = $2 GROUP BY s.at ORDER BY s.at DESC LIMIT $3;

-- name: budget_credits
-- The budget's tracked sales (campaign_credits) by the time of the order: the chart's tracked revenue per sync.
SELECT cr.occurred_at, cr.revenue FROM campaign_credits cr JOIN automated_campaigns c ON c.id = cr.campaign_id
WHERE cr.tenant_id = $1 AND c.tenant_id = $1 AND c.budget_id = $2 ORDER BY cr.occurred_at;

-- name: admin_overview
-- One row per organizer and budget currency: amounts in different currencies are never added up. conversions and
-- revenue are the platforms' claim; sales and tracked_revenue our own credits (campaign_credits) of the same campaigns.
SELECT b.organizer_id, b.currency, count(DISTINCT b.id)::int AS budgets,
  (SELECT sum(b2.total_budget) FROM ad_campaign_budgets b2 WHERE b2.tenant_id = $1 AND b2.organizer_id = b.organizer_id AND b2.currency = b.currency) AS total_budget,
  count(c.id) FILTER (WHERE c.status = 'active')::int AS active, count(c.id) FILTER (WHERE c.status = 'pending_review')::int AS pending_review,
  coalesce(sum(c.budget_spent), 0) AS spend, coalesce(sum((c.performance_metrics->>'conversions')::numeric), 0) AS conversions,
  coalesce(sum((c.performance_metrics->>'revenue_generated')::numeric), 0) AS revenue,
  (SELECT count(*) FROM campaign_credits cr JOIN automated_campaigns c3 ON c3.id = cr.campaign_id JOIN ad_campaign_budgets b3 ON b3.id = c3.budget_id
   WHERE cr.tenant_id = $1 AND b3.tenant_id = $1 AND b3.organizer_id = b.organizer_id AND b3.currency = b.currency)::int AS sales,
  (SELECT coalesce(sum(cr.revenue), 0) FROM campaign_credits cr JOIN automated_campaigns c3 ON c3.id = cr.campaign_id JOIN ad_campaign_budgets b3 ON b3.id = c3.budget_id
   WHERE cr.tenant_id = $1 AND b3.tenant_id = $1 AND b3.organizer_id = b.organizer_id AND b3.currency = b.currency) AS tracked_revenue
FROM ad_campaign_budgets b LEFT JOIN automated_campaigns c ON c.budget_id = b.id
WHERE b.tenant_id = $1 GROUP BY b.organizer_id, b.currency ORDER BY b.organizer_id, b.currency;

-- name: event_for_suite
-- The event's city (else its venue's) and its venue's country when it is an ISO alpha-2 code (the ads' location).
SELECT e.id, e.title, e.genres, coalesce(e.city, v.city) AS city, e.url,
  CASE WHEN upper(btrim(v.country)) ~ '^[A-Z]{2}$' THEN upper(btrim(v.country)) END AS country
FROM catalog_events e LEFT JOIN catalog_venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
WHERE e.tenant_id = $1 AND e.id = $2;

-- name: organizer_countries
-- The countries (ISO alpha-2) of the venues of an organizer's catalog events: a suite whose event names none targets
-- the organizer's country when its venues agree on one (service.ts createSuite).
SELECT DISTINCT upper(btrim(v.country)) AS country
FROM catalog_events e JOIN catalog_venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
WHERE e.tenant_id = $1 AND e.organizer_id = $2 AND upper(btrim(v.country)) ~ '^[A-Z]{2}$'
LIMIT 2;

-- name: budget_event
-- A budget's event as the catalog has it (its organizer): a budget names a catalog event of its own organizer.
SELECT organizer_id FROM catalog_events WHERE tenant_id = $1 AND id = $2;

-- name: audience_candidates
-- Built remarketing audiences (issue 14, synced to a platform) an organizer's campaigns can use. An audience's
-- organizer is its event's in the catalog now, else the one it was created with (as remarketing.sql get_audience).
SELECT a.id, a.platform, a.audience_type, COALESCE(c.organizer_id, a.organizer_id) AS organizer_id, a.event_id, a.external_audience_id
FROM remarketing_audiences a LEFT JOIN catalog_events c ON c.tenant_id = a.tenant_id AND c.id = a.event_id
WHERE a.tenant_id = $1 AND COALESCE(c.organizer_id, a.organizer_id) = $2 AND a.status IN ('ready', 'syncing', 'active') AND a.external_audience_id IS NOT NULL
ORDER BY a.id DESC;

-- name: unpublished_with_audiences
-- Campaigns not on a platform yet (their targeting can still change; approved and waiting for their budget's start
-- included), per tenant and organizer.
SELECT * FROM automated_campaigns WHERE status IN ('draft', 'pending_review', 'scheduled') ORDER BY tenant_id, organizer_id, id LIMIT $1;

-- name: set_targeting
UPDATE automated_campaigns SET targeting = $3::jsonb, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND status IN ('draft', 'pending_review', 'scheduled');

-- name: person_credits
-- GDPR export (server/campaigns/index.ts): the credits of the person's orders ($2: order ids and, for a credit of an
-- order without an order id, event ids; both are what campaign_credits.order_id holds).
SELECT order_id, campaign_id::text AS campaign_id, revenue::float8 AS revenue, tickets, matched_by, occurred_at
FROM campaign_credits WHERE tenant_id = $1 AND order_id = ANY($2::text[]) ORDER BY occurred_at, order_id;

-- name: delete_person_credits
-- GDPR erasure ("Policy: delete"): the campaign's tracked sales and revenue drop the person's orders with them.
WITH d AS (DELETE FROM campaign_credits WHERE tenant_id = $1 AND order_id = ANY($2::text[]) RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: set_external_ads
-- A campaign's ads after the optimiser paused a losing variant's ad (creative rotation, migration 037).
UPDATE automated_campaigns SET external_ads = $3::jsonb, updated_at = $4 WHERE tenant_id = $1 AND id = $2 RETURNING id;

-- name: last_rotations
-- Per campaign of budget $2: the window of its last creative_rotation decision (the "keeps rotating" note is
-- logged at most once a day).
SELECT campaign_id, max(window_start) AS at FROM campaign_optimization_log
WHERE tenant_id = $1 AND budget_id = $2 AND rule = 'creative_rotation' GROUP BY campaign_id;
