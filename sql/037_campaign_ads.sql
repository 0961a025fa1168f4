-- Creative rotation (README "Campaigns" → "Creative rotation", issue 16 item 4): a Meta campaign gets one ad per
-- creative variant under its ad set; each ad's ids and status are kept here as a JSON list
-- [{variant, creative_id, ad_id, status}], written step by step while publishing (each id the moment Meta returns
-- it, as external_campaign_id / external_adset_id are) and by the optimiser when it pauses a losing variant's ad.
-- Seed 002's single external_ad_id column stays unused (a campaign has several ads). The ads' figures go into
-- performance_metrics.variants with the 30-minute metrics sync (no column).
-- GDPR: platform ids and statuses, no person.
ALTER TABLE automated_campaigns ADD COLUMN external_ads jsonb NOT NULL DEFAULT '[]';
