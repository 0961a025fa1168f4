-- Ad-hoc funnels over tx_events (server/analytics/, README "Funnels"). One statement per funnel.
--
-- Ordered steps inside a window, every start considered (not only an actor's first): for each event row e of
-- step j, b_j(e) is the latest start time of any chain step 0 → … → j that ends at e, taken over the rows that
-- come before e (occurred_at, then the row id: same-time events count in the order they were stored):
--   b_0(e) = t(e);  b_j(e) = max { b_{j-1}(e') : e' of step j-1 before e }
-- A later start leaves more of the window, so the latest one decides: e completes step j iff
-- t(e) - b_j(e) <= window.
--
-- $1 tenant_id, $2 steps jsonb [{event_name, filters:[{root,path,op,text,num,list}]}], $3 step names text[],
-- $4 from, $5 to, $6 window seconds, $7 'visitor' | 'person', $8 breakdown root (payload|context|entities,
-- null = no breakdown), $9 breakdown path text[], $10 breakdown values kept (the rest is "other"),
-- $11 scoped (false = the whole tenant), $12 the scope's event ids (funnel-index.sql `scope_events`).
-- `funnel` only (experiment results, README "Experiments"; the funnels API passes false and null): $13 true =
-- only the actor's first step-0 row starts the journey, $14 step-0 rows only before this time (null = $5).

-- name: funnel
-- One pass (measured against the statement below in bench/RESULTS.md "Funnels"): the matched rows are
-- sorted once, by actor then time, and folded by the funnel_fold aggregate (sql/017_funnel_fold.sql, since 039/040 the four-argument one), which
-- keeps per step the latest chain row (its start and time) and the fastest chain inside the window (with $13, the
-- first start only: the four-argument funnel_fold of sql/039_funnel_fold_first.sql). Times stay
-- timestamptz until the fold because the sort then compares 8-byte times, not numerics; date_part('epoch') is
-- the same float8 as extract(epoch)::float8 (both correctly rounded), so every figure equals the old one.
-- The actor sorts in the C collation: any order groups the same rows, and the default one is several times
-- slower in PGlite. steps and filt are MATERIALIZED so that their values are computed once, not once per
-- filter reference per row; an unfiltered step skips the filter test.
WITH steps AS MATERIALIZED (
  SELECT (s.ord - 1)::int AS idx, s.v->>'event_name' AS event_name, COALESCE(s.v->'filters', '[]'::jsonb) AS filters,
         COALESCE(jsonb_array_length(s.v->'filters'), 0) > 0 AS filtered
  FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS s(v, ord)
), filt AS MATERIALIZED (
  SELECT st.idx, f->>'root' AS root, ARRAY(SELECT jsonb_array_elements_text(f->'path')) AS path, f->>'op' AS op,
         f->>'text' AS txt, (f->>'num')::numeric AS num,
         ARRAY(SELECT jsonb_array_elements_text(COALESCE(f->'list', '[]'::jsonb))) AS list
  FROM steps st CROSS JOIN LATERAL jsonb_array_elements(st.filters) AS f
), matched AS (
  SELECT e.id AS uid, e.occurred_at AS at, st.idx,
         CASE WHEN $7::text = 'person' THEN e.person_id::text ELSE e.visitor_id END COLLATE "C" AS actor,
         CASE WHEN st.idx = 0 AND $8::text IS NOT NULL
              THEN (CASE $8::text WHEN 'payload' THEN e.payload WHEN 'context' THEN e.context ELSE e.entities END) #>> $9::text[] END AS bval
  FROM tx_events e JOIN steps st ON st.event_name = e.event_name
  WHERE e.tenant_id = $1 AND e.event_name = ANY($3::text[]) AND e.occurred_at >= $4 AND e.occurred_at < $5 AND NOT e.is_bot
    AND (CASE WHEN $7::text = 'person' THEN e.person_id::text ELSE e.visitor_id END) IS NOT NULL
    AND (NOT $11::boolean OR e.entities->>'event_entity_id' = ANY($12::text[]))
    AND (st.idx <> 0 OR $14::timestamptz IS NULL OR e.occurred_at < $14::timestamptz)
    AND (NOT st.filtered OR NOT EXISTS (
      SELECT 1 FROM filt f CROSS JOIN LATERAL (
        SELECT CASE f.root WHEN 'payload' THEN e.payload WHEN 'context' THEN e.context ELSE e.entities END AS doc
      ) d
      WHERE f.idx = st.idx AND NOT COALESCE(CASE f.op
        WHEN 'eq' THEN CASE WHEN f.num IS NULL THEN (d.doc #>> f.path) = f.txt
                            WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric = f.num END
        WHEN 'neq' THEN CASE WHEN f.num IS NULL THEN (d.doc #>> f.path) IS DISTINCT FROM f.txt
                             WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric <> f.num
                             ELSE true END
        WHEN 'in' THEN (d.doc #>> f.path) = ANY(f.list)
        WHEN 'not_in' THEN (d.doc #>> f.path) IS NULL OR (d.doc #>> f.path) <> ALL(f.list)
        WHEN 'contains' THEN strpos(lower(d.doc #>> f.path), lower(f.txt)) > 0
        WHEN 'exists' THEN COALESCE(jsonb_typeof(d.doc #> f.path), 'null') <> 'null'
        WHEN 'gt' THEN CASE WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric > f.num END
        WHEN 'gte' THEN CASE WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric >= f.num END
        WHEN 'lt' THEN CASE WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric < f.num END
        WHEN 'lte' THEN CASE WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric <= f.num END
      END, false)
    ))
), actors AS (
  SELECT funnel_fold(idx, date_part('epoch', at), $6::float8, $13::boolean ORDER BY at, uid, idx DESC) AS r,
         (array_agg(bval ORDER BY at, uid, idx DESC) FILTER (WHERE idx = 0 AND $8::text IS NOT NULL))[1] AS bval
  FROM matched GROUP BY actor
), entered AS (
  SELECT r, cardinality(r) / 2 AS n, bval FROM actors WHERE r IS NOT NULL
), top AS (
  SELECT bval FROM entered WHERE bval IS NOT NULL GROUP BY bval ORDER BY count(*) DESC, bval COLLATE "C" LIMIT $10
), reach AS (
  -- Per actor and step reached: the fastest chain's seconds from the start and from the previous step. Step 0
  -- is the entrants themselves (their times are 0: left null here, so no percentile sorts them; the final
  -- SELECT answers 0); only the few actors who got further unfold into more rows.
  SELECT 0 AS j, NULL::float8 AS from_first, NULL::float8 AS from_prev, bval FROM entered
  UNION ALL
  SELECT s.j, e.r[s.j + 1], e.r[e.n + s.j + 1], e.bval FROM entered e CROSS JOIN LATERAL generate_series(1, e.n - 1) AS s(j) WHERE e.n > 1
), labeled AS (
  SELECT j, from_first, from_prev,
         CASE WHEN $8::text IS NULL THEN NULL WHEN bval IS NULL THEN 'none' WHEN bval IN (SELECT bval FROM top) THEN 'value' ELSE 'other' END AS kind,
         CASE WHEN bval IS NOT NULL AND bval IN (SELECT bval FROM top) THEN bval END AS value
  FROM reach
)
SELECT GROUPING(kind) = 1 AS total, kind, value, j AS step, count(*)::int AS actors,
       CASE WHEN j = 0 THEN 0 ELSE percentile_cont(0.5) WITHIN GROUP (ORDER BY from_prev) END AS median_from_prev,
       CASE WHEN j = 0 THEN 0 ELSE percentile_cont(0.9) WITHIN GROUP (ORDER BY from_prev) END AS p90_from_prev,
       CASE WHEN j = 0 THEN 0 ELSE percentile_cont(0.5) WITHIN GROUP (ORDER BY from_first) END AS median_from_first,
       CASE WHEN j = 0 THEN 0 ELSE percentile_cont(0.9) WITHIN GROUP (ORDER BY from_first) END AS p90_from_first
FROM labeled
GROUP BY GROUPING SETS ((j), (kind, value, j))
ORDER BY total DESC, kind, value, j;

-- name: funnel_recursive
-- The previous engine, kept as bench/funnels.ts's baseline (same parameters, same rows out): a recursive CTE
-- that runs one window function per step over the union of the previous step's chains and the later steps'
-- rows (a sort per step). funnels.ts runs it only when asked (engine 'recursive').
WITH RECURSIVE steps AS (
  SELECT (s.ord - 1)::int AS idx, s.v->>'event_name' AS event_name, COALESCE(s.v->'filters', '[]'::jsonb) AS filters
  FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS s(v, ord)
), filt AS (
  SELECT st.idx, f->>'root' AS root, ARRAY(SELECT jsonb_array_elements_text(f->'path')) AS path, f->>'op' AS op,
         f->>'text' AS txt, (f->>'num')::numeric AS num,
         ARRAY(SELECT jsonb_array_elements_text(COALESCE(f->'list', '[]'::jsonb))) AS list
  FROM steps st CROSS JOIN LATERAL jsonb_array_elements(st.filters) AS f
), matched AS MATERIALIZED (
  SELECT e.id AS uid, extract(epoch FROM e.occurred_at)::float8 AS t, st.idx,
         CASE WHEN $7::text = 'person' THEN e.person_id::text ELSE e.visitor_id END AS actor,
         CASE WHEN st.idx = 0 AND $8::text IS NOT NULL
              THEN (CASE $8::text WHEN 'payload' THEN e.payload WHEN 'context' THEN e.context ELSE e.entities END) #>> $9::text[] END AS bval
  FROM tx_events e JOIN steps st ON st.event_name = e.event_name
  WHERE e.tenant_id = $1 AND e.event_name = ANY($3::text[]) AND e.occurred_at >= $4 AND e.occurred_at < $5 AND NOT e.is_bot
    AND (CASE WHEN $7::text = 'person' THEN e.person_id::text ELSE e.visitor_id END) IS NOT NULL
    AND (NOT $11::boolean OR e.entities->>'event_entity_id' = ANY($12::text[]))
    AND NOT EXISTS (
      SELECT 1 FROM filt f CROSS JOIN LATERAL (
        SELECT CASE f.root WHEN 'payload' THEN e.payload WHEN 'context' THEN e.context ELSE e.entities END AS doc
      ) d
      WHERE f.idx = st.idx AND NOT COALESCE(CASE f.op
        WHEN 'eq' THEN CASE WHEN f.num IS NULL THEN (d.doc #>> f.path) = f.txt
                            WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric = f.num END
        WHEN 'neq' THEN CASE WHEN f.num IS NULL THEN (d.doc #>> f.path) IS DISTINCT FROM f.txt
                             WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric <> f.num
                             ELSE true END
        WHEN 'in' THEN (d.doc #>> f.path) = ANY(f.list)
        WHEN 'not_in' THEN (d.doc #>> f.path) IS NULL OR (d.doc #>> f.path) <> ALL(f.list)
        WHEN 'contains' THEN strpos(lower(d.doc #>> f.path), lower(f.txt)) > 0
        WHEN 'exists' THEN COALESCE(jsonb_typeof(d.doc #> f.path), 'null') <> 'null'
        WHEN 'gt' THEN CASE WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric > f.num END
        WHEN 'gte' THEN CASE WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric >= f.num END
        WHEN 'lt' THEN CASE WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric < f.num END
        WHEN 'lte' THEN CASE WHEN jsonb_typeof(d.doc #> f.path) = 'number' THEN (d.doc #>> f.path)::numeric <= f.num END
      END, false)
    )
), chain(j, uid, actor, t, b, prev) AS (
  SELECT 0, uid, actor, t, t, t FROM matched WHERE idx = 0
  UNION ALL
  -- One iteration: the rows that completed step j (is_chain) and every row of a later step; a row of step
  -- j + 1 takes the best chain among the step-j rows before it. The same event as step j and step j + 1 sorts
  -- its candidate row first, so it never follows itself.
  SELECT x.j + 1, x.uid, x.actor, x.t, x.best[1], x.best[2]
  FROM (
    SELECT u.uid, u.actor, u.t, u.idx, u.is_chain,
           max(u.j) OVER (PARTITION BY u.actor) AS j,
           max(CASE WHEN u.is_chain THEN ARRAY[u.b, u.t] END)
             OVER (PARTITION BY u.actor ORDER BY u.t, u.uid, u.is_chain ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS best
    FROM (
      SELECT c.uid, c.actor, c.t, c.j AS idx, true AS is_chain, c.j, c.b FROM chain c
      UNION ALL
      SELECT m.uid, m.actor, m.t, m.idx, false, NULL::int, NULL::float8 FROM matched m WHERE m.idx > 0
    ) u
  ) x
  WHERE NOT x.is_chain AND x.idx = x.j + 1 AND x.best IS NOT NULL AND x.t - x.best[1] <= $6::float8
), reach AS (
  -- Per actor and step: the fastest qualifying path to it (time from its start, and from its previous step).
  SELECT j, actor, min(t - b) AS from_first, (min(ARRAY[t - b, t - prev]))[2] AS from_prev
  FROM chain GROUP BY j, actor
), actors AS (
  SELECT actor, (array_agg(bval ORDER BY t, uid))[1] AS bval FROM matched WHERE idx = 0 GROUP BY actor
), top AS (
  SELECT bval FROM actors WHERE bval IS NOT NULL GROUP BY bval ORDER BY count(*) DESC, bval COLLATE "C" LIMIT $10
), labeled AS (
  SELECT a.actor,
         CASE WHEN $8::text IS NULL THEN 'all' WHEN a.bval IS NULL THEN 'none' WHEN a.bval IN (SELECT bval FROM top) THEN 'value' ELSE 'other' END AS kind,
         CASE WHEN a.bval IN (SELECT bval FROM top) THEN a.bval END AS value
  FROM actors a
)
SELECT GROUPING(l.kind) = 1 AS total, l.kind, l.value, r.j AS step, count(*)::int AS actors,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.from_prev) AS median_from_prev,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY r.from_prev) AS p90_from_prev,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.from_first) AS median_from_first,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY r.from_first) AS p90_from_first
-- Without a breakdown the join's condition is false from the start and the breakdown CTEs never run.
FROM reach r LEFT JOIN labeled l ON $8::text IS NOT NULL AND l.actor = r.actor
GROUP BY GROUPING SETS ((r.j), (l.kind, l.value, r.j))
ORDER BY total DESC, l.kind, l.value, r.j;
