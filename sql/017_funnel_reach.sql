-- Funnels in one pass (sql/queries/funnels.sql, README "Funnels"): funnel_reach folds an actor's matched rows,
-- in (occurred_at, id) order and, inside one event, the later step first (an event is never its own
-- predecessor), into per-step results. The state is float8[40]:
--   [1..10]  b: for step k-1, the start time of the latest row that completes a chain 0 → … → k-1 (null: none yet)
--   [11..20] that row's own time (the "previous step" time of a row that follows it)
--   [21..30] for step k-1, the fastest chain inside the window: seconds from its start (null: not reached)
--   [31..40] and seconds from its previous step (ties on the first broken by the second)
-- Why the latest row is enough: a running maximum never decreases, so the latest chain row of step k-1 carries
-- both the latest start and the latest previous-step time; and a row outside the window from that start is
-- outside from every earlier one, so the window is checked only where a step is completed.
CREATE FUNCTION funnel_step(s float8[], idx int, t float8, w float8) RETURNS float8[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  b float8;
BEGIN
  IF idx = 0 THEN
    s[1] := t;
    s[11] := t;
    s[21] := 0;
    s[31] := 0;
    RETURN s;
  END IF;
  b := s[idx];
  IF b IS NULL THEN
    RETURN s;
  END IF;
  IF t - b <= w AND (s[idx + 21] IS NULL OR t - b < s[idx + 21] OR (t - b = s[idx + 21] AND t - s[idx + 10] < s[idx + 31])) THEN
    s[idx + 21] := t - b;
    s[idx + 31] := t - s[idx + 10];
  END IF;
  s[idx + 1] := b;
  s[idx + 11] := t;
  RETURN s;
END $$;

CREATE AGGREGATE funnel_reach(int, float8, float8) (
  SFUNC = funnel_step, STYPE = float8[],
  INITCOND = '{NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL}'
);
