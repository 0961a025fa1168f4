-- Daily analytics of seed 003 §2.2 (server/analytics-daily/, README "Daily analytics"), read at request time:
-- the event figures come from the feature store's fs_event_daily (continuous aggregate or job-refreshed table);
-- what no aggregate carries (a person's interactions, artist/venue clicks, follows, reviews) is one set-based
-- pass over tx_events bounded by the requested days. Days are UTC (date_bin from a Monday, as features-read.sql).
-- Bots never count. $1 tenant; $3, $4 the [from, to) day bounds.

-- name: person_exists
SELECT 1 FROM persons WHERE tenant_id = $1 AND person_id = $2;

-- name: user_daily
-- seed 003 analytics_user_daily of person $2, one row per day of the range. Session time: the span of each
-- session on that day (first to last event), summed, because the seed's max-min over the whole day counts the
-- gaps between sessions.
WITH days AS (
  SELECT generate_series($3::timestamptz, $4::timestamptz - INTERVAL '24 hours', INTERVAL '24 hours') AS date
), ev AS (
  SELECT date_bin(INTERVAL '1 day', occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS date, event_name, payload, session_id, occurred_at
  FROM tx_events
  WHERE tenant_id = $1 AND person_id = $2 AND occurred_at >= $3 AND occurred_at < $4 AND NOT is_bot
), counts AS (
  SELECT date,
    count(*) FILTER (WHERE event_name = 'event_view') AS events_viewed,
    count(*) FILTER (WHERE event_name = 'event_card_click') AS events_clicked,
    count(*) FILTER (WHERE event_name = 'event_interest_marked' AND coalesce(payload->>'interested', 'true') <> 'false') AS events_interested,
    count(*) FILTER (WHERE event_name = 'ticket_link_click') AS ticket_links_clicked,
    count(*) FILTER (WHERE event_name = 'review_submitted') AS reviews_written,
    count(*) FILTER (WHERE event_name = 'review_liked' AND coalesce(payload->>'liked', 'true') <> 'false') AS reviews_liked,
    count(*) FILTER (WHERE event_name = 'review_commented') AS reviews_commented,
    count(*) FILTER (WHERE event_name = 'share') AS shares_sent,
    count(*) FILTER (WHERE event_name = 'search_performed') AS searches_performed
  FROM ev GROUP BY date
), sessions AS (
  SELECT date, count(*) AS sessions_count, sum(span_s) AS total_time_seconds
  FROM (SELECT date, session_id, extract(epoch FROM max(occurred_at) - min(occurred_at)) AS span_s FROM ev WHERE session_id IS NOT NULL GROUP BY date, session_id) s
  GROUP BY date
)
SELECT d.date,
  coalesce(c.events_viewed, 0)::int AS events_viewed, coalesce(c.events_clicked, 0)::int AS events_clicked,
  coalesce(c.events_interested, 0)::int AS events_interested, coalesce(c.ticket_links_clicked, 0)::int AS ticket_links_clicked,
  coalesce(c.reviews_written, 0)::int AS reviews_written, coalesce(c.reviews_liked, 0)::int AS reviews_liked,
  coalesce(c.reviews_commented, 0)::int AS reviews_commented, coalesce(c.shares_sent, 0)::int AS shares_sent,
  coalesce(s.sessions_count, 0)::int AS sessions_count, coalesce(round(s.total_time_seconds), 0)::int AS total_time_seconds,
  round(s.total_time_seconds / nullif(s.sessions_count, 0))::int AS avg_session_duration_seconds,
  coalesce(c.searches_performed, 0)::int AS searches_performed
FROM days d LEFT JOIN counts c ON c.date = d.date LEFT JOIN sessions s ON s.date = d.date
ORDER BY d.date;

-- name: entity_daily
-- seed 003 analytics_artist_daily / analytics_venue_daily of artist or venue $2 ($5 = 'artist_id' or 'venue_id',
-- $6 its click event, $7 its follow event), one row per day; the caller keeps the columns of its table.
-- Followers are each follower's state (a person, else a visitor): a follow counts when it was not following, an
-- unfollow (followed=false) when it was; a repeated follow or an unfollow without a follow before it changes
-- nothing, so total_followers (every change before $3 too) is never below 0 and counts a follower once.
-- Events of one instant go in the order they were stored (id), as the funnels take them. Reviews: review_submitted naming the entity (target_type absent or equal to the entity's).
-- Engagement: likes and comments on those reviews (any time they were written) plus shares naming the entity.
WITH days AS (
  SELECT generate_series($3::timestamptz, $4::timestamptz - INTERVAL '24 hours', INTERVAL '24 hours') AS date
), evs AS (
  SELECT id, starts_at FROM catalog_events
  WHERE tenant_id = $1 AND CASE WHEN $5 = 'artist_id' THEN $2 = ANY(artist_ids) ELSE venue_id = $2 END
), own AS (
  SELECT date_bin(INTERVAL '1 day', occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS date, event_name, payload
  FROM tx_events
  WHERE tenant_id = $1 AND event_name IN ($6, $7, 'review_submitted', 'share') AND occurred_at >= $3 AND occurred_at < $4
    AND NOT is_bot AND entities->>$5 = $2
), own_d AS (
  SELECT date,
    count(*) FILTER (WHERE event_name = $6) AS profile_views,
    count(*) FILTER (WHERE event_name = 'review_submitted' AND coalesce(payload->>'target_type', $8) = $8) AS reviews_received,
    round(avg(fs_num(payload->'rating')) FILTER (WHERE event_name = 'review_submitted' AND coalesce(payload->>'target_type', $8) = $8), 2) AS avg_rating,
    count(*) FILTER (WHERE event_name = 'share') AS shares
  FROM own GROUP BY date
), follow_changes AS (
  SELECT occurred_at, CASE WHEN now_on AND NOT coalesce(was_on, false) THEN 1 WHEN NOT now_on AND coalesce(was_on, false) THEN -1 ELSE 0 END AS d
  FROM (
    SELECT occurred_at, coalesce(payload->>'followed', 'true') <> 'false' AS now_on,
      lag(coalesce(payload->>'followed', 'true') <> 'false') OVER (PARTITION BY coalesce(person_id::text, 'v:' || visitor_id, event_id::text) ORDER BY occurred_at, id) AS was_on
    FROM tx_events
    WHERE tenant_id = $1 AND event_name = $7 AND occurred_at < $4 AND NOT is_bot AND entities->>$5 = $2
  ) s
), followers_before AS (
  SELECT coalesce(sum(d), 0) AS n FROM follow_changes WHERE occurred_at < $3
), follows_d AS (
  SELECT date_bin(INTERVAL '1 day', occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS date,
    count(*) FILTER (WHERE d = 1) AS new_followers, sum(d) AS net
  FROM follow_changes WHERE occurred_at >= $3 GROUP BY 1
), reviews AS (
  SELECT DISTINCT payload->>'review_id' AS review_id
  FROM tx_events
  WHERE tenant_id = $1 AND event_name = 'review_submitted' AND occurred_at < $4 AND NOT is_bot AND entities->>$5 = $2
    AND coalesce(payload->>'target_type', $8) = $8 AND payload->>'review_id' IS NOT NULL
), engagement AS (
  SELECT date_bin(INTERVAL '1 day', occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS date, count(*) AS n
  FROM tx_events
  WHERE tenant_id = $1 AND event_name IN ('review_liked', 'review_commented') AND occurred_at >= $3 AND occurred_at < $4 AND NOT is_bot
    AND (event_name <> 'review_liked' OR coalesce(payload->>'liked', 'true') <> 'false')
    AND payload->>'review_id' IN (SELECT review_id FROM reviews)
  GROUP BY 1
), agg AS (
  SELECT date, sum(impressions) AS event_impressions, sum(clicks) AS event_clicks
  FROM fs_event_daily
  WHERE tenant_id = $1 AND event_entity_id IN (SELECT id FROM evs) AND date >= $3 AND date < $4
  GROUP BY date
), entered AS (
  -- The events with an entry in the range (an exit scan is no attendance, README "Live layer").
  SELECT DISTINCT entities->>'event_entity_id' AS ev
  FROM tx_events
  WHERE tenant_id = $1 AND entities->>'event_entity_id' IN (SELECT id FROM evs) AND event_name = 'entry_granted'
    AND payload->>'scan_type' IS DISTINCT FROM 'exit' AND occurred_at >= $3 AND occurred_at < $4 AND NOT is_bot
), entries AS (
  -- Attendance as the feature store's attendance.entries (features.sql insert_attendance): distinct tickets per
  -- event (a row without ticket_id its own), exit scans none; each ticket on the day of its first entry to the
  -- event, read back before $3 for those events, so a re-entry or a later day's entry is no new attendee and the
  -- days add up to entries.
  SELECT date_bin(INTERVAL '1 day', first_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS date, count(*) AS n
  FROM (
    SELECT min(occurred_at) AS first_at
    FROM tx_events
    WHERE tenant_id = $1 AND entities->>'event_entity_id' IN (SELECT ev FROM entered) AND event_name = 'entry_granted'
      AND payload->>'scan_type' IS DISTINCT FROM 'exit' AND occurred_at < $4 AND NOT is_bot
    GROUP BY entities->>'event_entity_id', coalesce(entities->>'ticket_id', event_id::text)
  ) f
  WHERE first_at >= $3
  GROUP BY 1
)
SELECT d.date,
  coalesce(o.profile_views, 0)::int AS profile_views,
  coalesce(f.new_followers, 0)::int AS new_followers,
  ((SELECT n FROM followers_before) + sum(coalesce(f.net, 0)) OVER (ORDER BY d.date))::int AS total_followers,
  (SELECT count(*) FROM evs WHERE evs.starts_at >= d.date)::int AS active_events,
  (SELECT count(*) FROM evs WHERE evs.starts_at >= d.date AND evs.starts_at < d.date + INTERVAL '24 hours')::int AS events_hosted,
  coalesce(a.event_impressions, 0)::int AS event_impressions,
  coalesce(a.event_clicks, 0)::int AS event_clicks,
  coalesce(e.n, 0)::int AS event_attendance,
  coalesce(o.reviews_received, 0)::int AS reviews_received,
  o.avg_rating::float8 AS avg_rating,
  (coalesce(g.n, 0) + coalesce(o.shares, 0))::int AS total_engagement
FROM days d LEFT JOIN own_d o ON o.date = d.date LEFT JOIN follows_d f ON f.date = d.date LEFT JOIN agg a ON a.date = d.date
  LEFT JOIN entries e ON e.date = d.date LEFT JOIN engagement g ON g.date = d.date
ORDER BY d.date;
