-- Who else holds a person's contact digest (sql/queries/gdpr.sql shared_person_ids): every GDPR export and erasure
-- asks, so that a family's shared email keeps the other member's data. Without these it scanned all of the
-- tenant's persons per request. Partial: most persons of a ticketing tenant have an email, fewer a phone.
CREATE INDEX IF NOT EXISTS persons_email_sha256 ON persons (tenant_id, email_sha256) WHERE email_sha256 IS NOT NULL;
CREATE INDEX IF NOT EXISTS persons_phone_sha256 ON persons (tenant_id, phone_sha256) WHERE phone_sha256 IS NOT NULL;
