-- A purchase is forwarded once per destination per order (issue 15): an order sent twice under two event ids
-- (a backend retry without idempotency_key) reached Meta and TikTok twice, each with its own event_id, so
-- both counted it. project_outbox skips an order_completed whose order already has a row for the destination;
-- this index makes that look-up cheap. Rows pruned after 30 days take their order with them (the providers'
-- own deduplication windows are shorter: Meta 48 h).
CREATE INDEX conversion_outbox_order ON conversion_outbox (tenant_id, destination, (data->>'order_id'))
  WHERE event_name = 'order_completed';
