-- GDPR erasure of a person's fs_person_daily rows (server/features/gdpr.ts). On plain PostgreSQL it is a table and
-- the rows are deleted. On TimescaleDB it is a continuous aggregate, which cannot be deleted from: its rows were
-- left to the refresh of the erased days after the erasure, which missed the days that refresh cannot recount
-- (raw rows dropped by RETENTION_MONTHS while AGGREGATE_RETENTION_MONTHS keeps their aggregates, or rows no
-- longer carrying the person's id) although the erasure reported them removed. The rows are deleted from the
-- aggregate's materialization hypertable instead (as 019 wrote into it): the real-time part above its watermark
-- is read from tx_events, whose rows of the person the erasure deletes in the same transaction. Answers the
-- rows deleted.
CREATE OR REPLACE FUNCTION fs_erase_person_daily(p_tenant bigint, p_person bigint) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  mat text;
  n int;
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = 'fs_person_daily'::regclass) <> 'v' THEN
    DELETE FROM fs_person_daily WHERE tenant_id = p_tenant AND person_id = p_person;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
  END IF;
  SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) INTO mat
  FROM timescaledb_information.continuous_aggregates WHERE view_name = 'fs_person_daily';
  EXECUTE format('DELETE FROM %s WHERE tenant_id = $1 AND person_id = $2', mat) USING p_tenant, p_person;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
