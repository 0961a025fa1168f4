// Google Ads through the Data Manager API (which replaced click-conversion uploads for new adopters in 2026):
// POST {GOOGLE_DATAMANAGER_URL}/v1/events:ingest with an OAuth bearer token, {"destinations":[{operatingAccount,
// productDestinationId}],"encoding":"HEX","events":[…≤2000]}. No partial failure: one invalid field rejects
// the whole request (bisection finds it). Each event: transactionId, eventTimestamp, conversionValue, currency,
// the gclid and the digests normalised the Google way (normalise-google.ts). Replaceable: only this file knows
// the format (the legacy UploadClickConversions mapping is in README).
import { joinUrl, str, transient, type Adapter, type Destination, type HttpAnswer, type OutboxItem, type SendOutcome } from './adapter.js';

// The code's server-only settings (never in a page: tracking/validate.ts SERVER_ONLY); a code stored before
// migration 028 had them in custom_params.
const params = (dest: Destination) => {
  const s = dest.settings;
  const c = (typeof s.custom_params === 'object' && s.custom_params !== null ? s.custom_params : {}) as Record<string, unknown>;
  return { customer: String(s.customer_id ?? c.customer_id ?? '').replace(/-/g, ''), action: String(s.conversion_action_id ?? c.conversion_action_id ?? '') };
};

export function googleEvent(item: OutboxItem): Record<string, unknown> {
  const d = item.data;
  const u = item.user_data ?? {};
  const ids = [u.em ? { emailAddress: u.em } : null, u.ph ? { phoneNumber: u.ph } : null].filter((x) => x !== null);
  // Legitimate interest is not consent: Google is told so, per event.
  const granted = item.legal_basis === 'consent' ? 'CONSENT_GRANTED' : 'CONSENT_DENIED';
  return {
    transactionId: d.order_id ?? item.event_id,
    eventTimestamp: new Date(item.occurred_at).toISOString(),
    eventSource: 'WEB',
    ...(d.value !== undefined ? { conversionValue: d.value } : {}),
    ...(d.currency ? { currency: d.currency } : {}),
    ...(d.gclid ? { adIdentifiers: { gclid: d.gclid } } : {}),
    ...(ids.length ? { userData: { userIdentifiers: ids } } : {}),
    consent: { adUserData: granted, adPersonalization: granted },
  };
}

export function classifyGoogle(a: HttpAnswer): SendOutcome {
  const t = transient(a);
  if (t) return t;
  if (a.status >= 200 && a.status < 300) return { kind: 'ok' };
  const err = (a.json as { error?: { status?: string; message?: string } } | null)?.error;
  const text = `Google ${a.status}${err?.status ? ` ${err.status}` : ''}: ${err?.message ?? a.text.slice(0, 500)}`;
  // UNAUTHENTICATED (an expired or revoked OAuth token), PERMISSION_DENIED, NOT_FOUND (the account or the
  // conversion action): the destination's fault, not the rows'.
  const destination = a.status === 401 || a.status === 403 || a.status === 404
    || err?.status === 'UNAUTHENTICATED' || err?.status === 'PERMISSION_DENIED' || err?.status === 'NOT_FOUND';
  return { kind: destination ? 'held' : 'invalid', error: text };
}

/** base: GOOGLE_DATAMANAGER_URL (https://datamanager.googleapis.com). */
export const googleAdapter = (base: string): Adapter => ({
  provider: 'google_ads',
  maxBatch: 2000,
  secret: 'access_token',
  configProblem(dest) {
    const p = params(dest);
    if (!/^\d{6,12}$/.test(p.customer) || !/^\d{1,20}$/.test(p.action)) return 'the Google Ads code needs settings.customer_id and settings.conversion_action_id for server-side conversions';
    if (!str(dest.secrets.access_token)) return 'the Google Ads code has no access_token (Data Manager API, OAuth) set';
    return null;
  },
  check(_dest, item) {
    if (!item.data.gclid && !item.user_data?.em && !item.user_data?.ph) return 'Google: neither a gclid nor a hashed email or phone to match';
    return null;
  },
  async send(dest, items, http) {
    const p = params(dest);
    const body = {
      destinations: [{ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: p.customer }, productDestinationId: p.action }],
      encoding: 'HEX',
      events: items.map(googleEvent),
    };
    return classifyGoogle(await http(joinUrl(base, 'v1/events:ingest'), body, { authorization: `Bearer ${dest.secrets.access_token}` }));
  },
});
