-- A/B experiments (issue 17 item 4, README "Experiments", server/experiments/). Assignment is not stored: it is
-- GrowthBook hash v2 of (key, visitor id) against the variants' ranges (client/shared/experiment-hash.ts),
-- computed the same way by the server and the SDK. Exposures are experiment_exposure events in tx_events.
-- variants: [{"key","weight"}] (the first is the control, weights sum to 1); success_metrics:
-- [{"name","steps":[{"event_name","filters"}]}]. GDPR: tenant configuration, no person.
CREATE TABLE experiments (
  tenant_id        bigint NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  key              text NOT NULL,
  name             text,
  variants         jsonb NOT NULL,
  coverage         double precision NOT NULL DEFAULT 1 CHECK (coverage >= 0 AND coverage <= 1),
  start_at         timestamptz NOT NULL,
  end_at           timestamptz,
  success_metrics  jsonb NOT NULL DEFAULT '[]',
  metric_window_s  int NOT NULL DEFAULT 604800,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);
CREATE INDEX experiments_running ON experiments (tenant_id, start_at);
