// The HTTP error-code catalogue: every `{"error":{"code",…}}` an HTTP route answers, its status and its
// default message. Routes build replies with `fail(code, …)` instead of writing a status next to a code, so a
// code always has the same status, and the README's "Error codes" table is rendered from this list
// (`renderErrorTable`, checked by errors.test.ts). Add a code here first, then use it.
//
// Usage:
//   fail('unknown_key', { id: 5 })                       → 404 "No key 5." (template filled from vars)
//   fail('invalid_field', 'name must be …', { field: 'name', in: 'body' })   → 400 with a specific message
//   throw new NotFoundError('not_found', 'No such session for this tenant.')  (in a router handler)
// Typed errors thrown by handlers are turned into replies in one place: `errorToReply`.
import type { Logger } from 'pino';
import { isUnavailable, ShuttingDownError } from '../store/db.js';
import { SpoolFullError } from '../store/spool.js';
import { BODY_ROOT, type ParamError } from './params.js';
import type { Reply } from './uws.js';

interface Entry {
  status: number;
  /** Default message; `{name}` is filled from the vars passed to `fail`. Routes may send a more specific one. */
  message: string;
  /** When it is answered (the README table's last column). */
  when: string;
}

export const ERRORS = {
  malformed_request: { status: 400, message: 'The request is ambiguous (a framing, Host or key header appears twice or is malformed).', when: 'duplicated or malformed `Content-Length` / `Transfer-Encoding` / `Host`, or `Authorization` / `X-Tx-Key` given twice; the connection is closed' },
  invalid_json: { status: 400, message: 'The body is not valid JSON: {detail}', when: 'the body is not JSON, or not valid UTF-8 (malformed bytes are refused, never replaced)' },
  invalid_body: { status: 400, message: 'Send one event object or {"events":[...]}.', when: 'the body is JSON but not the shape the route takes: not a JSON object (`error.field` `$`, the whole body), or a part of it (`error.field` names the part)' },
  invalid_field: { status: 400, message: 'A field of the request is invalid.', when: 'a query, path or body value is refused; `error.in` and `error.field` name it' },
  too_deep: { status: 400, message: 'The body nests too deep.', when: 'a JSON body nests more than 64 levels' },
  webhook_not_configured: { status: 400, message: 'No Stripe webhook secret is set for this tenant: PUT /api/v1/settings/stripe {"webhook_secret":"whsec_…"} first.', when: 'a Stripe webhook for a tenant without a signing secret' },
  missing_signature: { status: 400, message: 'The Stripe-Signature header is missing.', when: 'Stripe webhook without its signature header' },
  malformed_signature: { status: 400, message: 'The Stripe-Signature header is malformed.', when: 'Stripe-Signature without a timestamp or a v1 signature' },
  invalid_signature: { status: 400, message: 'No v1 signature matches the payload for this endpoint secret.', when: 'the Stripe signature does not match the body' },
  timestamp_outside_tolerance: { status: 400, message: 'The signature timestamp is too far from the server clock.', when: 'a Stripe signature older or newer than the tolerance (replay protection)' },
  missing_key: { status: 401, message: 'Send the tenant secret key as Authorization: Bearer <secret_key>.', when: 'no key sent' },
  invalid_key: { status: 401, message: 'Unknown key: send the tenant secret key (tx_sk_…) shown when the tenant or key was created.', when: 'unknown key' },
  revoked_key: { status: 401, message: 'This key was revoked; ask whoever issued it for a new one (a tenant admin key: POST /api/v1/keys; the operator: POST /api/admin/tenants/{tenant_id}/keys).', when: 'a revoked key' },
  invalid_admin_token: { status: 401, message: 'Send Authorization: Bearer <ADMIN_TOKEN>.', when: 'an operator route without the `ADMIN_TOKEN`' },
  invalid_token: { status: 401, message: 'The dashboard token is invalid or expired.', when: 'a dashboard token that does not verify' },
  token_expired: { status: 401, message: 'The dashboard token is invalid or expired.', when: 'an expired dashboard token' },
  missing_token: { status: 401, message: 'Pass a dashboard token as /ws?token=… (POST /api/v1/tokens).', when: 'a live connection (`/ws` upgrade, Socket.IO handshake) without a dashboard token' },
  wrong_key_kind: { status: 403, message: 'This is a secret key (tx_sk_…), which must never be sent from a browser or put in a page.', when: 'a secret key sent where the write key belongs' },
  origin_not_allowed: { status: 403, message: 'Origin {origin} is not in this tenant\'s allowed origins.', when: '`Origin` not in the tenant\'s allowed origins' },
  write_key_not_allowed: { status: 403, message: 'A write key can only send events; use the secret key for /api/v1.', when: 'a write key sent where the secret key belongs' },
  forbidden: { status: 403, message: 'This key or token does not give access to that topic.', when: 'the key or token does not cover the requested topic; on a declared route also `permission` (the one its role lacks), `role` and, for a resource outside its scope, `scope`' },
  not_found: { status: 404, message: 'Not found.', when: 'no such route, or no such row for this tenant' },
  unknown_tenant: { status: 404, message: 'No tenant {id}.', when: 'no such tenant' },
  unknown_key: { status: 404, message: 'No key {id}.', when: 'no such key' },
  unknown_job: { status: 404, message: 'No job named {name}; GET /api/admin/jobs lists them.', when: 'no job of that name (`/api/admin/jobs/{name}`)' },
  method_not_allowed: { status: 405, message: 'This path does not answer that method.', when: 'a path that exists asked with another method; `Allow` (and `error.allow`) lists the methods it answers. `OPTIONS` on such a path is 204 with `Allow`' },
  conflict: { status: 409, message: 'The request conflicts with the current state.', when: 'the request conflicts with the current state' },
  job_running: { status: 409, message: 'Job {name} is already running; follow it in GET /api/admin/jobs/{name}/runs (error.run_id is the run).', when: 'a manual run of a job that could not start within 30 s because an attempt of it runs (`error.run_id`)' },
  person_erased: { status: 410, message: 'This person was erased; nothing is held about them.', when: 'the person was erased (`error.erased_at`)' },
  body_too_large: { status: 413, message: 'Request body exceeds {limit} bytes.', when: 'the body is over the route\'s limit, checked while reading; `error.limit` names it in bytes (not on the Stripe webhook)' },
  too_many_events: { status: 413, message: 'A batch holds at most {limit} events (MAX_BATCH_EVENTS); got {got}.', when: 'more than `MAX_BATCH_EVENTS` events' },
  too_many_items: { status: 413, message: 'A catalog sync holds at most {limit} items; got {got}.', when: 'a catalog sync (`PUT /api/v1/catalog/{kind}`) with more than 1000 items' },
  unsupported_media_type: { status: 415, message: 'Content-Type must be application/json or text/plain.', when: 'ingest with a content type other than `application/json` / `text/plain`; on any route with a body, a `Content-Encoding` other than `gzip` / `deflate` or a `charset` other than UTF-8' },
  upgrade_required: { status: 426, message: '/ws is a websocket endpoint: connect with a websocket client (new WebSocket("ws://host/ws?token=…")), or use the REST mirror under /api/v1/live.', when: 'a plain HTTP request to `/ws`' },
  rate_limited: { status: 429, message: 'Rate limit exceeded; retry after {retry} s.', when: 'the key\'s token bucket is empty; `Retry-After` says when to retry' },
  platform_error: { status: 502, message: 'The ad platform refused or failed the request: {detail}', when: 'an ad platform refused or failed the call: a sync that failed part-way (a remarketing audience sync; what was sent comes along), or a campaign\'s pause, resume or daily budget (`platform`, `retriable`; `Retry-After` when retriable: send it again)' },
  internal: { status: 500, message: 'Internal error.', when: 'an unexpected failure (logged; no details are sent)' },
  dashboard_unavailable: { status: 500, message: 'The dashboard {what} is missing from this installation (client/dashboard).', when: 'the dashboard page or bundle is missing' },
  dashboard_build_failed: { status: 500, message: 'Building the dashboard failed.', when: 'the dashboard bundle did not build' },
  store_unavailable: { status: 503, message: 'The database is unavailable; retry later.', when: 'the database (and, for events, the local spool) is unavailable; `Retry-After: 5`' },
  shutting_down: { status: 503, message: 'The server is shutting down and did not process this request; send it again.', when: 'a request that arrives after the server began shutting down (SIGTERM), e.g. on a kept-alive connection: nothing was done; `Retry-After: 1` and the connection is closed' },
  encryption_not_configured: { status: 503, message: 'ENCRYPTION_KEY is not set on this server, so secrets cannot be stored.', when: 'storing a secret without `ENCRYPTION_KEY`' },
} as const satisfies Record<string, Entry>;

export type ErrorCode = keyof typeof ERRORS;

/** Fills `{name}` placeholders; an unknown name stays as written. Pure. */
export function fillTemplate(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{([a-z_]+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

/**
 * The reply for `code`: the catalogue's status, and either the given message or the catalogue's template
 * filled from `vars`. The body is `{"error":{"code","message",…extra}}` like every error this server sends.
 */
export function fail(code: ErrorCode, message?: string | Record<string, string | number>, extra?: Record<string, unknown>, headers?: Record<string, string>): Reply {
  const e = ERRORS[code];
  const text = typeof message === 'string' ? message : message ? fillTemplate(e.message, message) : e.message;
  return { status: e.status, body: { error: { code, message: text, ...extra } }, headers };
}

/**
 * `field` and `in` of a refused value as answered. A body refusal whose schema named no field (`''`: the body
 * as a whole, e.g. "send at least one of …") concerns the whole body: its field is BODY_ROOT (`$`), never empty.
 */
const fieldOf = (e: ParamError) => ({ field: e.in === 'body' && e.field === '' ? BODY_ROOT : e.field, in: e.in });

/** The 400 of a refused query, path or body value (params.ts): `{"code","message","field","in"}`. */
export const paramFail = (e: ParamError): Reply => fail(e.code, e.message, fieldOf(e));

/** The 400 of a body that is not JSON or not UTF-8 (body.ts says why): the whole body, `in` body, `field` `$`. */
export const invalidJson = (message: string, headers?: Record<string, string>): Reply => fail('invalid_json', message, { in: 'body', field: BODY_ROOT }, headers);

// --- typed errors a handler may throw; errorToReply maps them --------------------------------------------

/** An error that already knows its reply: code from the catalogue, message, extra body fields. */
export class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A refused input value (400 with `in` and `field`). */
export class ValidationError extends HttpError {
  constructor(readonly problem: ParamError) {
    super(problem.code, problem.message, fieldOf(problem));
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends HttpError {
  constructor(code: 'not_found' | 'unknown_tenant' | 'unknown_key', message: string) {
    super(code, message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends HttpError {
  constructor(message: string, extra: Record<string, unknown> = {}) {
    super('conflict', message, extra);
    this.name = 'ConflictError';
  }
}

/** The store cannot take or answer the request now: the database is away, or the spool is full too. */
export const storeUnavailable = (err: unknown): boolean => err instanceof SpoolFullError || isUnavailable(err);

export interface ErrorReplyOpts {
  /** The 503's message (ingest says nothing was kept; the Stripe webhook says Stripe will retry). */
  unavailable?: string;
  /** The 500's message; never the error's own text. */
  internal?: string;
  /** Headers on the 503 (CORS on ingest). */
  headers?: Record<string, string>;
  /** Log line of a 500. */
  logMessage?: string;
}

/** The 503 of a request the server will not process because it is shutting down: the connection is closed after it. */
export const shuttingDown = (headers?: Record<string, string>): Reply => ({ ...fail('shutting_down', undefined, {}, { 'Retry-After': '1', ...headers }), close: true });

/**
 * The one mapping from a thrown error to a reply: a typed HttpError → its catalogued status; the server shutting
 * down → 503 shutting_down, connection closed (not logged); store unavailable → 503 with Retry-After; anything
 * else → 500 without details (logged with the stack).
 */
export function errorToReply(err: unknown, log: Logger, opts: ErrorReplyOpts = {}): Reply {
  if (err instanceof HttpError) return fail(err.code, err.message, err.extra);
  if (err instanceof ShuttingDownError) return shuttingDown(opts.headers);
  if (storeUnavailable(err)) {
    return fail('store_unavailable', opts.unavailable, {}, opts.headers ? { 'Retry-After': '5', ...opts.headers } : { 'Retry-After': '5' });
  }
  log.error({ err }, opts.logMessage ?? 'request failed');
  return fail('internal', opts.internal);
}

/** The README's "Error codes" table, one row per code. Pure; errors.test.ts compares it with README.md. */
export function renderErrorTable(): string {
  const rows = Object.entries(ERRORS).map(([code, e]) => `| ${e.status} | \`${code}\` | ${e.when} |`);
  return ['| status | `error.code` | when |', '|---|---|---|', ...rows].join('\n');
}
