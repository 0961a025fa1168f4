// A tracking code's server-side delivery as GET /api/v1/tracking-codes reports it. A leaf module without imports:
// the dashboard (client/dashboard/tracking.ts) reads the same type, so the two cannot drift apart.

/**
 * How the code's server-side conversions are delivered: `held` when the provider refused its credential or
 * permission (held_reason: the provider's answer and the fix) until the code is updated; the rows waiting, those
 * of them retrying after an error (failing), dead in the last 24 h, the latest error and send.
 */
export interface Delivery {
  status: 'ok' | 'held';
  held_reason: string | null;
  held_since: string | null;
  pending: number;
  failing: number;
  dead_24h: number;
  last_error: string | null;
  last_sent_at: string | null;
}
