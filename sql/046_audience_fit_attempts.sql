-- The audiences.fit job's last attempt per tenant that stored no fit (README "Audiences"): why not (no past
-- event with buyers, every such event held out, no buyer with marketing consent…) and when it was tried, so
-- GET /api/v1/audience/model and a `model: "fitted"` request answer the reason instead of a log line. A stored
-- fit deletes the tenant's row. No person.
CREATE TABLE audience_fit_attempts (
  tenant_id   bigint PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  reason      text NOT NULL,
  tried_at    timestamptz NOT NULL
);
