-- The three-argument funnel_fold of sql/017_funnel_fold.sql has had no caller since sql/039_funnel_fold_first.sql:
-- the funnels API and experiment results both call the four-argument one (`first` false for funnels), whose step
-- function is 017's with the first-start rule added. Dropped so that one definition of the fold is in use.
DROP AGGREGATE funnel_fold(int, float8, float8);
DROP FUNCTION funnel_fold_step(float8[], int, float8, float8);
