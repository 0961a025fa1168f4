-- Catalog deletions of customers (kind persons) were audited with the customer's own id as the target
-- ("persons:CUST-1"), kept for a year in a table the GDPR registry holds free of tracked persons' data, so an
-- erased customer's id stayed there as plain text. They now name the customer by the keyed digest an erasure's
-- tombstone keeps (server/catalog/routes.ts catalogAuditTarget: sha256 of "{tenant}:external:{id}", hex); the
-- rows written before are rewritten the same way.
UPDATE audit_log
SET target = 'persons:sha256:' || encode(sha256(convert_to(tenant_id::text || ':external:' || substr(target, length('persons:') + 1), 'UTF8')), 'hex')
WHERE action = 'catalog.delete' AND tenant_id IS NOT NULL AND target LIKE 'persons:%' AND target !~ '^persons:sha256:[0-9a-f]{64}$';
