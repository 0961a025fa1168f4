-- Funnels in one pass (sql/queries/funnels.sql `funnel`, README "Funnels"): funnel_fold folds one actor's
-- matched rows — in (occurred_at, id) order and, inside one event, the later step first, so that an event is
-- never its own predecessor — into what each step needs. The state holds four float8 per step k, at 4k+1…4k+4
-- (the array grows only as far as the actor gets):
--   b   the start of the latest row that completes a chain 0 → … → k (null: none yet)
--   p   that row's own time: the "previous step" time of a row of step k + 1 that follows it
--   ff  of the chains to step k inside the window, the fastest: seconds from its start (null: step not reached)
--   fp  and its seconds from the previous step (ties on ff broken by the smaller fp)
-- Why the latest row is enough: b is a running maximum, so it never decreases, and the latest chain row of a
-- step carries both the latest start and the latest previous-step time; a row outside the window from that
-- start is outside from every earlier one too, so the window is checked only where a step is completed.
CREATE FUNCTION funnel_fold_step(s float8[], idx int, t float8, w float8) RETURNS float8[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  o int;
  b float8;
BEGIN
  IF idx = 0 THEN
    s[1] := t;
    s[2] := t;
    IF s[3] IS NULL THEN
      s[3] := 0;
      s[4] := 0;
    END IF;
    RETURN s;
  END IF;
  o := 4 * idx;
  b := s[o - 3];
  IF b IS NULL THEN
    RETURN s;
  END IF;
  IF t - b <= w AND (s[o + 3] IS NULL OR t - b < s[o + 3] OR (t - b = s[o + 3] AND t - s[o - 2] < s[o + 4])) THEN
    s[o + 3] := t - b;
    s[o + 4] := t - s[o - 2];
  END IF;
  s[o + 1] := b;
  s[o + 2] := t;
  RETURN s;
END $$;

-- The reached steps are a prefix (a chain to step k passes one to k - 1 inside the same window): the result is
-- [ff_0 … ff_{n-1}, fp_0 … fp_{n-1}] for the n steps reached, null when the actor never entered the funnel.
CREATE FUNCTION funnel_fold_final(s float8[]) RETURNS float8[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  n int := 0;
  ff float8[] := '{}';
  fp float8[] := '{}';
BEGIN
  WHILE s[4 * n + 3] IS NOT NULL LOOP
    ff := ff || s[4 * n + 3];
    fp := fp || s[4 * n + 4];
    n := n + 1;
  END LOOP;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  RETURN ff || fp;
END $$;

CREATE AGGREGATE funnel_fold(int, float8, float8) (
  SFUNC = funnel_fold_step, STYPE = float8[], FINALFUNC = funnel_fold_final, INITCOND = '{}'
);
