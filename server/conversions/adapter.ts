// What every provider adapter implements, and the HTTP call they share. An adapter turns claimed outbox rows
// into one request (at most `maxBatch` rows), checks each row first (a row the provider would refuse is dead
// before it can fail a whole batch), and classifies the answer as a value:
//   ok       acknowledged: the rows are marked sent
//   retry    429, 5xx, a network error, or the provider's throttle codes: backoff (backoff.ts). A request that
//            left without an answer (the timeout, a connection cut after sending: `unanswered`) may have been
//            taken: an adapter whose provider deduplicates nothing (GA4) names those rows `unconfirmed`, and
//            the dispatcher does not send them again (dead, saying so); the others' copies are deduplicated
//   invalid  the request was refused as a whole for its content: the dispatcher bisects to find the bad row
//   held     refused for the destination itself (token, permissions, unknown pixel or account): not the rows'
//            fault, so they stay pending and the destination is held (dispatch.ts) until its code is fixed
// Adapters are replaceable per provider (README): the dispatcher only sees this interface.

export const PROVIDERS = ['meta', 'tiktok', 'google_ads', 'ga4'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** What the outbox projector stored for the adapters (conversion_outbox.data). */
export interface ConversionData {
  event_entity_id?: string;
  organizer_id?: string;
  order_id?: string;
  cart_id?: string;
  value?: number;
  currency?: string;
  items?: { ticket_type_id: string | number; qty: number; price?: number; ticket_type_name?: string }[];
  url?: string;
  ip?: string;
  user_agent?: string;
  visitor_id?: string;
  fbc?: string;
  fbp?: string;
  gclid?: string;
  ttclid?: string;
  ttp?: string;
  /** GA4's client id (the _ga cookie's "<a>.<b>") and session id per measurement id (README "The envelope"). */
  ga_client_id?: string;
  ga_session_ids?: Record<string, string>;
  utm?: Record<string, string>;
}

export interface OutboxItem {
  id: number;
  event_id: string;
  event_name: string;
  /** ISO time the event occurred. */
  occurred_at: string;
  legal_basis: 'consent' | 'legitimate_interest';
  data: ConversionData;
  /** This provider's digests (match-keys.ts); null when none were sent with the event. */
  user_data: Record<string, string> | null;
  attempts: number;
}

export interface CodeSecrets {
  access_token?: string;
  api_secret?: string;
}

export interface Destination {
  tenantId: number;
  /** '<provider>:<code id>' */
  name: string;
  provider: Provider;
  codeId: number;
  settings: Record<string, unknown>;
  secrets: CodeSecrets;
}

/**
 * `retry`'s `unconfirmed`: the rows (OutboxItem ids) whose request left and got no answer (`unanswered`), set
 * only by an adapter whose provider deduplicates nothing (GA4): the provider may have counted them, so they are
 * not sent again (dispatch.ts); the outcome's other rows never left and are retried.
 * `deferred`: rows not sent because the dispatcher had no time left for the destination in this run
 * (`nextRequest` answered false): not a failure, they go in the next run.
 */
export type FailedOutcome =
  | { kind: 'retry'; error: string; retryAfterMs?: number; unconfirmed?: number[] }
  | { kind: 'invalid'; error: string }
  | { kind: 'held'; error: string }
  | { kind: 'deferred'; error: string };

/**
 * `partial`: a batch sent as several requests where some went through: the rows in `sent` (OutboxItem ids) are
 * delivered and must not be sent again; `rest` is the answer for the others. (GA4 reports each acknowledged
 * request through Adapter.send's `sent` callback instead, and returns only the answer for the rest.)
 */
export type SendOutcome = { kind: 'ok' } | FailedOutcome | { kind: 'partial'; sent: number[]; rest: FailedOutcome };

export interface Adapter {
  provider: Provider;
  /** The provider's limit of events per request. */
  maxBatch: number;
  /**
   * The oldest event the provider takes (Meta 7 days, GA4 72 h), when it publishes a limit: a held destination's
   * rows wait that long. Without one they wait the outbox's retry budget (backoff.ts RETRY_FOR_MS).
   */
  maxAgeMs?: number;
  /** The code's secret the provider authenticates with (what to renew when it is refused). */
  secret: 'access_token' | 'api_secret';
  /** Why this destination cannot send at all (missing id or secret), or null. */
  configProblem(dest: Destination): string | null;
  /** Why the provider would refuse this row (checked before sending), or null. */
  check(dest: Destination, item: OutboxItem, now: number): string | null;
  /**
   * Sends the rows. An adapter that sends them as several requests (GA4: one per client) calls `sent` with each
   * request's rows as soon as that request is acknowledged and waits for it before the next request: the
   * dispatcher marks those rows sent there, so a crash (or a failure of that mark, which then throws out of
   * send) between two requests never sends an acknowledged request again. Rows reported through `sent` are
   * settled: the outcome returned is for the others only. Such an adapter also calls `nextRequest` with the rows
   * not yet sent before each request after the first: the dispatcher extends their lease, so rows waiting
   * behind slow requests (up to 25 × the timeout) are not claimed and sent again by another node meanwhile;
   * when it answers false (the destination's time in this run is up) the adapter sends nothing more and
   * returns `deferred` for the rows not sent.
   */
  send(dest: Destination, items: OutboxItem[], http: HttpPost, sent?: SentCallback, nextRequest?: NextRequestCallback): Promise<SendOutcome>;
}

/** Called before each further request of a batch with the rows still to send (their lease is extended); false: stop. */
export type NextRequestCallback = (ids: number[]) => Promise<boolean | void>;

/** Records rows as delivered (marked sent in the outbox) before the adapter sends its next request. */
export type SentCallback = (ids: number[]) => Promise<void>;

export interface HttpAnswer {
  status: number;
  json: unknown;
  text: string;
  retryAfterMs?: number;
  /**
   * Status 0 only: the request never left (no connection: refused, DNS, unreachable, TLS handshake, a bad URL),
   * so the provider cannot have it. Absent on a status 0: it may have arrived (the timeout, a connection cut
   * after the request was written): see `unanswered`.
   */
  notSent?: boolean;
}

/** A POST with a JSON body; a network failure or timeout resolves to status 0 (never throws). */
export type HttpPost = (url: string, body: unknown, headers?: Record<string, string>) => Promise<HttpAnswer>;

/** RudderStack's router uses 10 s; a hung provider holds one batch at most this long. */
export const HTTP_TIMEOUT_MS = 10_000;

/**
 * The failures of fetch that happen before the request is written: no connection was made. Anything else
 * (the timeout, whose abort cannot tell connecting from waiting for the answer, a reset, "other side closed")
 * may come after the provider received the request.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', 'ERR_INVALID_URL', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_NOT_YET_VALID',
]);

/** Whether a fetch error shows the request never left (its cause, or every cause of an AggregateError). */
export function neverSent(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | null)?.cause ?? err;
  const c = cause as { code?: unknown; message?: unknown; errors?: unknown } | null;
  if (Array.isArray(c?.errors) && c.errors.length) return c.errors.every((e) => neverSent({ cause: e }));
  const code = typeof c?.code === 'string' ? c.code : '';
  if (NOT_SENT_CODES.has(code) || code.startsWith('ERR_SSL_')) return true;
  // fetch refuses some ports itself ("bad port"), before any connection.
  return code === '' && c?.message === 'bad port';
}

/** The request left and no answer came (the timeout, a connection cut): the provider may have taken it. */
export const unanswered = (a: HttpAnswer): boolean => a.status === 0 && !a.notSent;

export function createHttpPost(timeoutMs = HTTP_TIMEOUT_MS): HttpPost {
  return async (url, body, headers = {}) => {
    try {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await r.text();
      let json: unknown = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = null;
      }
      const ra = Number(r.headers.get('retry-after'));
      return { status: r.status, json, text: text.slice(0, 2000), retryAfterMs: Number.isFinite(ra) && ra > 0 ? ra * 1000 : undefined };
    } catch (err) {
      const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why = cause?.code ? ` (${String(cause.code)})` : typeof cause?.message === 'string' ? ` (${cause.message})` : '';
      return { status: 0, json: null, text: `network error: ${(err as Error).message}${why}`, ...(neverSent(err) ? { notSent: true } : {}) };
    }
  };
}

/** The shared part of every classification: network errors, 429 and 5xx retry. Null: the adapter decides. */
export function transient(a: HttpAnswer): FailedOutcome | null {
  if (a.status === 0) return { kind: 'retry', error: a.text };
  if (a.status === 429 || a.status >= 500) return { kind: 'retry', error: `HTTP ${a.status}: ${a.text.slice(0, 500)}`, retryAfterMs: a.retryAfterMs };
  return null;
}

/** Joins a configured base URL and a path without doubling or losing the slash. */
export const joinUrl = (base: string, path: string): string => `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;

/**
 * The event_id Meta and TikTok deduplicate by, with the browser pixel's eventID and with a copy sent before:
 * a purchase's order id (the ad platforms' guidance: "use order/transaction id as event_id where one exists"),
 * so the same order reported twice (under two tx event ids, or a thank-you page passing another id) counts once;
 * any other event's tx event id. The pixel loader's purchase() sends the order id too (client/sdk/pixels.ts).
 */
export function platformEventId(item: Pick<OutboxItem, 'event_id' | 'event_name' | 'data'>): string {
  const order = item.data?.order_id as unknown;
  if (item.event_name === 'order_completed' && (typeof order === 'string' || typeof order === 'number') && String(order) !== '') return String(order);
  return item.event_id;
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
export const seconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);
