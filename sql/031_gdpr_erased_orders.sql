-- Order ids of erased persons (digests, like gdpr_erased_visitors): a Stripe event about such an order arriving after
-- the erasure (a redelivery, a later dispute or refund) must not map its payment intent and charge to the order
-- again (stripe_objects), which would link later events to the erased order (server/integrations/stripe/store.ts).
CREATE TABLE gdpr_erased_orders (
  tenant_id     bigint NOT NULL,
  order_sha256  char(64) NOT NULL,
  erased_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, order_sha256)
);
