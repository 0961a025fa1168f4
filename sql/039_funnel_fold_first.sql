-- Experiment results count a visitor's conversions within the metric window after the FIRST exposure (README
-- "Experiments", GrowthBook's attribution), where a funnel lets every step-0 row start the journey again (README
-- "Funnels"). funnel_fold gains a fourth argument, `first`: when true, a step-0 row after the actor's first one
-- is ignored (the chain keeps the first start); when false it folds exactly as the three-argument funnel_fold of
-- sql/017_funnel_fold.sql, whose step function this copies (funnels.sql `funnel` uses this one for both).
CREATE FUNCTION funnel_fold_step(s float8[], idx int, t float8, w float8, first boolean) RETURNS float8[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  o int;
  b float8;
BEGIN
  IF idx = 0 THEN
    IF first AND s[1] IS NOT NULL THEN
      RETURN s;
    END IF;
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

CREATE AGGREGATE funnel_fold(int, float8, float8, boolean) (
  SFUNC = funnel_fold_step, STYPE = float8[], FINALFUNC = funnel_fold_final, INITCOND = '{}'
);
