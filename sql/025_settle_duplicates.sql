-- Data an older version left that today's rules would not have written:
-- 1. Orders queued twice for one destination (under two event ids, before 023): every row of such an order but
--    the first (lowest id) that is not sent yet is settled dead, naming the first, so neither the dispatcher nor
--    a retry sends the order again (POST /api/v1/conversions/{id}/retry refuses such a row too).
UPDATE conversion_outbox o
SET status = 'dead', lease_until = NULL, next_at = now(), user_data = NULL,
  last_error = 'duplicate of conversion ' || f.first_id || ' (the same order for this destination)'
FROM (
  SELECT tenant_id, destination, data->>'order_id' AS order_id, min(id) AS first_id
  FROM conversion_outbox WHERE event_name = 'order_completed' AND data ? 'order_id'
  GROUP BY tenant_id, destination, data->>'order_id' HAVING count(*) > 1
) f
WHERE o.tenant_id = f.tenant_id AND o.destination = f.destination AND o.event_name = 'order_completed'
  AND o.data->>'order_id' = f.order_id AND o.id <> f.first_id AND o.status IN ('pending', 'sending', 'dead');

-- 2. A campaign rejection was audited as `campaigns.rejectd` (a typo fixed since): the documented name.
UPDATE audit_log SET action = 'campaigns.rejected' WHERE action = 'campaigns.rejectd';
