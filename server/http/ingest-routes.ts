// Public ingest API: POST /api/tx/events, /api/tx/events/batch, /api/tx/validate, GET /api/tx/schema.
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Ingest } from '../ingest/index.js';
import type { RateLimiter } from '../ingest/ratelimit.js';
import type { Validation } from '../ingest/validate.js';
import { SERVER_SOURCES, SOURCE_SYSTEMS } from '../ingest/registry.js';
import type { KeyCheck } from '../store/tenants.js';
import { KeyUncheckedError, type KeyResolver } from './auth.js';
import { bodyText, charsetProblem, encodingOf, inflate, jsonSyntaxMessage } from './body.js';
import { errorToReply, fail, invalidJson, storeUnavailable } from './errors.js';
import { BODY_ROOT, describeJson, queryProblem } from './params.js';
import { writeKeyOf, writeKeyRefusal } from './router.js';
import { readBody, send, snapshot, trackAbort, type HttpRequest, type HttpResponse, type Reply, type TemplatedApp } from './uws.js';

export interface IngestRouteDeps {
  config: Config;
  ingest: Ingest;
  keys: KeyResolver;
  rateLimiter: RateLimiter;
  validation: Validation;
  log: Logger;
}

type Mode = 'single' | 'batch' | 'validate';

const ACCEPTED_TYPES = ['application/json', 'text/plain'];
const UNAVAILABLE = 'The event store and the local spool are both unavailable; retry later. Nothing from this request was kept.';
/** The write key is not cached on this node and the store that holds it cannot be asked: the spool is not the issue. */
const KEY_UNCHECKED = 'The write key could not be checked: it is not cached on this node and the event store is unreachable; retry later. Nothing from this request was kept.';
const INTERNAL = 'Internal error; nothing from this request was acknowledged.';

export function corsHeaders(origin: string | undefined): Record<string, string> {
  // Retry-After must be exposed or browser SDKs cannot honour a 429's back-off.
  return origin ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Access-Control-Expose-Headers': 'Retry-After' } : {};
}

export function registerIngestRoutes(app: TemplatedApp, deps: IngestRouteDeps): void {
  const { config, log } = deps;
  const limits = config.limits;

  const handler = (mode: Mode) => (res: HttpResponse, req: HttpRequest) => {
    const state = trackAbort(res);
    const info = snapshot(res, req, config.trustProxy);
    const origin = info.headers.origin;
    const reply = (r: Reply) => send(res, state, r, log);

    // Everything decidable from the headers is answered before the body is read.
    // A key given twice (?key=A&key=B, or a header and a query value that differ) is refused: which one
    // counts would be a guess, and the answer would go to a tenant the sender may not have meant.
    const badQuery = queryProblem(info.rawQuery ?? '', info.query);
    if (badQuery) return reply({ ...fail(badQuery.code, badQuery.message, { field: badQuery.field, in: badQuery.in }, corsHeaders(origin)), close: true });
    const k = writeKeyOf(info, corsHeaders(origin));
    if (!k.ok) return reply(k.reply);
    const key = k.key;
    const contentType = (info.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!ACCEPTED_TYPES.includes(contentType)) {
      return reply({ ...fail('unsupported_media_type', `Content-Type must be application/json or text/plain (got ${JSON.stringify(contentType || 'none')}).`, {}, corsHeaders(origin)), close: true });
    }
    const charset = charsetProblem(info.headers['content-type']);
    if (charset) return reply({ ...fail('unsupported_media_type', charset, {}, corsHeaders(origin)), close: true });
    const enc = encodingOf(info.headers['content-encoding']);
    if (!enc.ok) return reply({ ...fail('unsupported_media_type', enc.message, {}, corsHeaders(origin)), close: true });
    const encoding = enc.encoding;
    const tooLarge = () =>
      reply({ ...fail('body_too_large', `Request body exceeds ${limits.maxBodyBytes} bytes (MAX_BODY_BYTES).`, { limit: limits.maxBodyBytes }, corsHeaders(origin)), close: true });
    const bodyP = readBody(res, state, info.headers['content-length'], limits.maxBodyBytes);

    (async () => {
      // Not the router's generic path: this is the hot endpoint, and the refusal carries CORS headers and closes.
      const found = await deps.keys.check(key);
      const refused = writeKeyRefusal(found, origin, corsHeaders);
      if (refused !== null) return reply(refused);
      const { tenant, site_id: siteId, sources } = (found as Extract<KeyCheck, { ok: true }>).lookup;
      const cors = corsHeaders(origin);
      const body = await bodyP;
      if (!body.ok) return body.reason === 'too_large' ? tooLarge() : undefined;
      const receivedAt = new Date();

      const limited = (d: { retryAfterS: number }) =>
        reply(fail('rate_limited', `Rate limit of ${limits.rateLimitPerSec} events/s per key exceeded; retry after ${d.retryAfterS} s.`, {}, { ...cors, 'Retry-After': String(d.retryAfterS) }));
      // A body is charged to the key's rate at least like the events its size could hold (decompressed: a
      // gzipped body is kept and parsed at that size), so bad bodies and oversized events, kept as rejected,
      // fill the store no faster than good ones (they were kept without any limit).
      const sizeUnits = (bytes: number) => Math.min(limits.rateLimitBurst, Math.max(1, Math.ceil(bytes / limits.maxEventBytes)));
      const keepBad = async (text: string, error: { code: string; field: string; message: string }): Promise<boolean> => {
        const d = deps.rateLimiter.take(key, sizeUnits(Buffer.byteLength(text)));
        if (!d.allowed) {
          limited(d);
          return false;
        }
        await deps.ingest.recordBadBody(tenant.tenant_id, text, error);
        return true;
      };

      const raw = inflate(body.body, encoding, limits.maxBodyBytes);
      if (!raw.ok) return raw.reason === 'too_large' ? tooLarge() : reply(fail('invalid_body', `The body is not valid ${encoding} data: ${raw.message}`, { in: 'body', field: BODY_ROOT }, cors));
      let parsed: unknown;
      const decoded = bodyText(raw.body);
      // Kept as rejected like unparsable JSON (with U+FFFD where the bytes were malformed), for the tenant to see.
      const text = decoded.ok ? decoded.text : raw.body.toString('utf8');
      try {
        if (!decoded.ok) throw new Error(decoded.message);
        parsed = JSON.parse(text);
      } catch (err) {
        const message = decoded.ok ? jsonSyntaxMessage(err, text) : decoded.message;
        if (mode !== 'validate' && !(await keepBad(text, { code: 'invalid_json', field: BODY_ROOT, message }))) return;
        return reply(invalidJson(message, cors));
      }

      let events: unknown[];
      if (mode === 'single') {
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          const got = describeJson(parsed);
          const hint = Array.isArray(parsed) ? '; use /api/tx/events/batch for several' : ' like {"event_name":"page_view",…}';
          return reply(fail('invalid_body', `POST /api/tx/events takes one event object (got ${got})${hint}.`, { in: 'body', field: BODY_ROOT }, cors));
        }
        events = [parsed];
      } else {
        const list = Array.isArray(parsed) ? parsed : (parsed as { events?: unknown } | null)?.events;
        if (!Array.isArray(list)) {
          const whole = parsed === null || typeof parsed !== 'object';
          const inner = whole ? undefined : (parsed as { events?: unknown }).events;
          const got = whole ? describeJson(parsed) : inner === undefined ? 'an object without "events"' : `"events": ${describeJson(inner)}`;
          const message = `Body must be {"events":[...]} (or an array of events); got ${got}.`;
          // Not an object at all: the whole body is at fault (`$`); an object: its "events".
          const field = whole ? BODY_ROOT : 'events';
          if (mode === 'batch' && !(await keepBad(text, { code: 'invalid_body', field, message }))) return;
          return reply(fail('invalid_body', message, { in: 'body', field }, cors));
        }
        events = list;
      }
      if (events.length > limits.maxBatchEvents) {
        return reply(fail('too_many_events', `A batch holds at most ${limits.maxBatchEvents} events (MAX_BATCH_EVENTS); got ${events.length}.`, { limit: limits.maxBatchEvents }, cors));
      }
      // A validation is charged like the batch it checks: it looks every event id up in the store, so an
      // uncharged public key could keep the store busy without limit.
      // An event over MAX_EVENT_BYTES is rejected but kept (truncated): it costs its size too, as invalid JSON does.
      const d = deps.rateLimiter.take(key, Math.max(events.length, sizeUnits(raw.body.length)));
      if (!d.allowed) return limited(d);
      const ctx = { tenantId: tenant.tenant_id, siteId, sources, receivedAt, ip: info.ip, userAgent: info.headers['user-agent'] ?? null, channel: 'public' as const };
      const result = await deps.ingest.ingest(events, ctx, { dryRun: mode === 'validate' });
      reply({ status: 200, body: result, headers: cors });
    })().catch((err: unknown) => {
      if (storeUnavailable(err)) log.error({ err: (err as Error).message }, 'ingest unavailable');
      const unavailable = err instanceof KeyUncheckedError ? KEY_UNCHECKED : UNAVAILABLE;
      reply(errorToReply(err, log, { unavailable, internal: INTERNAL, headers: corsHeaders(origin), logMessage: 'ingest failed' }));
    });
  };

  app.post('/api/tx/events', handler('single'));
  app.post('/api/tx/events/batch', handler('batch'));
  app.post('/api/tx/validate', handler('validate'));

  // Preflight is answered for any origin: the real request is checked against the tenant's origins.
  app.options('/api/tx/*', (res, req) => {
    const state = trackAbort(res);
    const origin = req.getHeader('origin');
    send(res, state, {
      status: 204,
      headers: {
        ...corsHeaders(origin || undefined),
        'Access-Control-Allow-Methods': 'POST, GET, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, Content-Encoding, X-Tx-Key',
        'Access-Control-Max-Age': '86400',
      },
    });
  });

  const schemaBody = JSON.stringify({
    version: 1,
    envelope: {
      required: ['event_id (or idempotency_key)', 'event_name', 'occurred_at', 'source_system', 'consent_snapshot'],
      source_systems: [...SOURCE_SYSTEMS],
      // Refused here with the write key; they take the secret key on /api/v1/server-events.
      server_sources: [...SERVER_SOURCES],
      limits: { max_event_bytes: limits.maxEventBytes, max_batch_events: limits.maxBatchEvents, max_body_bytes: limits.maxBodyBytes, backfill_days: limits.backfillDays, future_hours: limits.futureHours },
    },
    events: [...deps.validation.definitions.values()],
  });
  app.get('/api/tx/schema', (res, req) => {
    const state = trackAbort(res);
    send(res, state, { status: 200, text: { body: schemaBody, type: 'application/json' }, headers: { ...corsHeaders(req.getHeader('origin') || undefined), 'Cache-Control': 'public, max-age=300' } });
  });
}
