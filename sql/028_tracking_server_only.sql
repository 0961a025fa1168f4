-- Google Ads codes kept the Data Manager API's customer_id and conversion_action_id in custom_params (as README
-- said), which GET /api/tx/tracking-config and the page snippets publish (custom_params go into `config`).
-- They are server-only settings now: settings.customer_id (digits, dashes removed) and
-- settings.conversion_action_id (server/tracking/validate.ts SERVER_ONLY), never in a page. updated_at moves,
-- so every node's cached resolution is renewed (the tenant's codes fingerprint).
UPDATE tracking_codes
SET settings = (settings - 'custom_params')
    || jsonb_build_object('custom_params', (settings->'custom_params') - 'customer_id' - 'conversion_action_id')
    || jsonb_strip_nulls(jsonb_build_object(
      'customer_id', COALESCE(settings->>'customer_id', replace(settings->'custom_params'->>'customer_id', '-', '')),
      'conversion_action_id', COALESCE(settings->>'conversion_action_id', settings->'custom_params'->>'conversion_action_id'))),
  updated_at = now()
WHERE provider = 'google_ads' AND jsonb_typeof(settings->'custom_params') = 'object'
  AND (settings->'custom_params' ? 'customer_id' OR settings->'custom_params' ? 'conversion_action_id');
