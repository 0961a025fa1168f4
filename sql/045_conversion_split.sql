-- Rows of a conversion batch the provider refused as a whole for its content (README "Server-side conversions",
-- server/conversions/dispatch.ts): the batch is split in two and each half sent again until the bad row is alone.
-- Each half is a call of the destination's rate budget, so a split often outlives a run (Meta: one call per
-- 22.6 s once the burst is spent). batch_cap keeps the split's progress on the rows themselves: NULL for a row
-- never refused with its batch, else the largest batch it may be sent in next (half the batch last refused with
-- it). The dispatcher sends such rows only among themselves (claim_split, at most the smallest cap at a time),
-- never with rows queued since, and gives them every other slot of the rate budget when both are waiting.
-- A row the dispatcher marks dead forgets it (a retry by hand starts over). No personal data.
ALTER TABLE conversion_outbox ADD COLUMN batch_cap int;
CREATE INDEX conversion_outbox_split ON conversion_outbox (tenant_id, destination, batch_cap, next_at)
  WHERE batch_cap IS NOT NULL AND status IN ('pending', 'sending');
