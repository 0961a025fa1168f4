// The uWS app: routes of every domain, /health, /metrics and a landing page.
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Ingest } from '../ingest/index.js';
import type { EventSink } from '../ingest/writer.js';
import type { Db, StoreKind } from '../store/db.js';
import { bearer, safeEqual } from './auth.js';
import { fail } from './errors.js';
import { allowedMethods, withoutTrailingSlash } from './methods.js';
import { registeredRoutes, send, trackAbort, type LoadedUws, type TemplatedApp } from './uws.js';

export interface StatusDeps {
  config: Config;
  uws: LoadedUws;
  /** README "Plain PostgreSQL mode": embedded, a TimescaleDB server, or plain PostgreSQL. */
  storeKind: StoreKind;
  /**
   * The store's own reachability (store/db.ts): the outcome of its last statement, a `SELECT 1` when nothing ran for
   * a few seconds. /health is degraded when it or the writer says the store is away.
   */
  store?: Pick<Db, 'reachable' | 'checkReachable'>;
  sink: EventSink;
  ingest: Ingest;
  log: Logger;
  startedAt: number;
  /** The live layer's Redis (warm tier): 'off' without REDIS_URL. */
  redis?: () => 'up' | 'down' | 'off';
  /** Organizer claims ignored because the event has another owner (live/owners.ts), since start. */
  ownerConflicts?: () => number;
  /** The job runner's lines (jobs/index.ts jobMetricLines). */
  jobs?: () => string[];
  /** What the feature store's retention settings do on this store (features/retention.ts); "unsupported: …" says why not. */
  featureStore?: () => Record<string, string>;
  /** Tokens that see /metrics' series labelled with a tenant: the admin token and METRICS_TOKEN. */
  operatorTokens: string[];
}

/**
 * /metrics is scraped without credentials by default, so series that name a tenant (segment sizes and
 * timings) are kept for an operator: a competitor must not learn another tenant's audience sizes from it.
 */
export function publicMetricLines(lines: string[]): string[] {
  const out = lines.filter((l) => l.startsWith('#') || !/[{,]tenant="/.test(l));
  if (out.length < lines.length) out.push('# per-tenant series omitted: send Authorization: Bearer <METRICS_TOKEN or ADMIN_TOKEN>');
  return out;
}

const isOperator = (authorization: string, tokens: string[]): boolean => {
  const token = bearer(authorization);
  return token !== null && tokens.some((t) => t !== '' && safeEqual(token, t));
};

// The landing page's counters follow /metrics (the same figures Prometheus scrapes), once a second.
/** The dashboard's icon, inline: without one the browser asks for /favicon.ico, a 404 in the page's console. */
const ICON = `<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='6' fill='%23e4572e'/%3E%3C/svg%3E">`;
const LANDING_POLL = `
const ids = ['accepted', 'duplicates', 'rejected', 'consent_refused'];
async function poll() {
  try {
    const text = await (await fetch('/metrics', { cache: 'no-store' })).text();
    for (const line of text.split('\\n')) {
      const id = ids.find((k) => line.startsWith('tx_ingest_events_total{outcome="' + k + '"} '));
      if (id) document.getElementById(id).textContent = line.slice(line.lastIndexOf(' ') + 1);
    }
    document.getElementById('live').textContent = '(updated ' + new Date().toLocaleTimeString() + ')';
  } catch (err) {
    document.getElementById('live').textContent = '(server unreachable: ' + err.message + ')';
  }
}
setInterval(poll, 1000);`;

export function registerStatusRoutes(app: TemplatedApp, deps: StatusDeps): void {
  /** Waited for at most this long by /health when it asks the store itself; it then answers with what it knows. */
  const PROBE_WAIT_MS = 1_000;
  // checkReachable never throws; a store without it (tests' stand-ins) is taken as reachable.
  const storeReachable = async (): Promise<boolean> => (await deps.store?.checkReachable?.(PROBE_WAIT_MS)) ?? true;
  // The writer learns of an outage only from a failed commit; the store learns of it from any statement (reads
  // included) or its own `SELECT 1`: either saying the store is away is an outage.
  const storeUp = (writerUp: boolean, dbUp: boolean = deps.store?.reachable?.() ?? true) => writerUp && dbUp;
  const health = (dbUp?: boolean) => {
    const s = deps.sink.status();
    const up = storeUp(s.storeUp, dbUp);
    return {
      status: up ? 'ok' : 'degraded',
      store: deps.storeKind,
      store_reachable: up,
      // Informative only: with Redis down the node keeps serving its own live numbers (status stays "ok").
      redis: deps.redis?.() ?? 'off',
      spool_bytes: s.spoolBytes,
      uws: deps.uws.native ? 'native' : 'fallback',
      uptime_s: Math.round((Date.now() - deps.startedAt) / 1000),
      ...(deps.featureStore ? { feature_store: deps.featureStore() } : {}),
    };
  };
  app.get('/health', (res) => {
    const state = trackAbort(res);
    storeReachable()
      .then((dbUp) => send(res, state, { status: 200, body: health(dbUp) }))
      .catch((err: unknown) => {
        deps.log.error({ err }, '/health failed');
        send(res, state, fail('internal'));
      });
  });
  // HEAD /health (load balancers, uptime checks) is this GET without the body: guardRequests registers it.

  app.get('/metrics', (res, req) => {
    const state = trackAbort(res);
    const operator = isOperator(req.getHeader('authorization'), deps.operatorTokens);
    const m = deps.ingest.metrics();
    const s = deps.sink.status();
    const lines = [
      '# TYPE tx_ingest_events_total counter',
      ...(['accepted', 'duplicates', 'rejected', 'consent_refused', 'spooled', 'bots'] as const).map((k) => `tx_ingest_events_total{outcome="${k}"} ${m[k]}`),
      '# TYPE tx_ingest_rejections_total counter',
      ...Object.entries(m.rejected_by_code).map(([code, n]) => `tx_ingest_rejections_total{code="${code}"} ${n}`),
      '# TYPE tx_store_up gauge',
      `tx_store_up ${storeUp(s.storeUp) ? 1 : 0}`,
      '# TYPE tx_spool_bytes gauge',
      `tx_spool_bytes ${s.spoolBytes}`,
      '# TYPE tx_writer_queued gauge',
      `tx_writer_queued ${s.queued}`,
      '# HELP tx_writer_commit_seconds Group commits into the store (one transaction each).',
      '# TYPE tx_writer_commit_seconds summary',
      `tx_writer_commit_seconds_count ${s.commits.count}`,
      `tx_writer_commit_seconds_sum ${s.commits.seconds.toFixed(6)}`,
      '# TYPE tx_writer_commit_seconds_max gauge',
      `tx_writer_commit_seconds_max ${s.commits.maxSeconds.toFixed(6)}`,
      '# TYPE tx_writer_committed_rows_total counter',
      `tx_writer_committed_rows_total ${s.commits.rows}`,
      '# TYPE tx_writer_committed_requests_total counter',
      `tx_writer_committed_requests_total ${s.commits.requests}`,
      '# HELP tx_writer_hook_seconds Time in each writer hook (ingest/hooks.ts), runs that threw included.',
      '# TYPE tx_writer_hook_seconds summary',
      ...s.hooks.flatMap((h) => [
        `tx_writer_hook_seconds_count{hook="${h.name}",stage="${h.stage}"} ${h.count}`,
        `tx_writer_hook_seconds_sum{hook="${h.name}",stage="${h.stage}"} ${h.seconds.toFixed(6)}`,
      ]),
      '# TYPE tx_writer_hook_errors_total counter',
      ...s.hooks.map((h) => `tx_writer_hook_errors_total{hook="${h.name}",stage="${h.stage}"} ${h.errors}`),
      '# HELP tx_projector_lag_seconds How long the oldest commit not yet projected by a deferred projector has waited (ingest/projector.ts).',
      '# TYPE tx_projector_lag_seconds gauge',
      ...s.projections.map((p) => `tx_projector_lag_seconds{projector="${p.name}"} ${p.lagSeconds.toFixed(3)}`),
      '# TYPE tx_projector_lag_seconds_max gauge',
      ...s.projections.map((p) => `tx_projector_lag_seconds_max{projector="${p.name}"} ${p.maxLagSeconds.toFixed(3)}`),
      '# TYPE tx_projector_position gauge',
      ...s.projections.map((p) => `tx_projector_position{projector="${p.name}"} ${p.position}`),
      '# TYPE tx_projector_rows_total counter',
      ...s.projections.map((p) => `tx_projector_rows_total{projector="${p.name}"} ${p.rows}`),
      '# TYPE tx_projector_errors_total counter',
      ...s.projections.map((p) => `tx_projector_errors_total{projector="${p.name}"} ${p.errors}`),
      '# HELP tx_live_owner_conflicts_total Organizer claims ignored because the event has another owner (live_owner_conflicts).',
      '# TYPE tx_live_owner_conflicts_total counter',
      `tx_live_owner_conflicts_total ${deps.ownerConflicts?.() ?? 0}`,
      ...(deps.jobs?.() ?? []),
    ];
    const shown = operator ? lines : publicMetricLines(lines);
    send(res, state, { status: 200, text: { body: shown.join('\n') + '\n', type: 'text/plain; version=0.0.4' } });
  });

  app.get('/', (res) => {
    const state = trackAbort(res);
    const h = health();
    const m = deps.ingest.metrics();
    const html = `<!doctype html><meta charset="utf-8"><title>Tixello Live</title>${ICON}
<style>body{font:15px system-ui;margin:2rem;max-width:48rem}code{background:#f3f3f3;padding:2px 4px}</style>
<h1>Tixello Live</h1>
<p>Status: <b>${h.status}</b> · store: ${h.store} · uWS: ${h.uws} · up ${h.uptime_s} s</p>
<p>Events accepted since start: <b id="accepted">${m.accepted}</b> · duplicates: <span id="duplicates">${m.duplicates}</span> · rejected: <span id="rejected">${m.rejected}</span> · refused for consent: <span id="consent_refused">${m.consent_refused}</span> <small id="live">(updates every second)</small></p>
<p><a href="/dashboard"><b>Live dashboard</b></a> — run <code>npm run demo</code> for demo traffic and a sign-in link.</p>
<ul><li><a href="/health">/health</a></li><li><a href="/metrics">/metrics</a> (Prometheus)</li><li><a href="/api/tx/schema">/api/tx/schema</a> (event registry)</li></ul>
<script>${LANDING_POLL}</script>`;
    send(res, state, { status: 200, text: { body: html, type: 'text/html; charset=utf-8' } });
  });

  app.any('/*', (res, req) => {
    const state = trackAbort(res);
    const method = req.getMethod().toUpperCase();
    const url = req.getUrl();
    const routes = registeredRoutes(app);
    const allow = allowedMethods(routes, url);
    if (allow.length > 0) {
      const headers = { Allow: allow.join(', ') };
      if (method === 'OPTIONS') return send(res, state, { status: 204, headers });
      return send(res, state, { ...fail('method_not_allowed', `${url} answers ${allow.join(', ')}, not ${method}.`, { allow }, headers), close: true });
    }
    const bare = withoutTrailingSlash(routes, url);
    send(res, state, { ...fail('not_found', `No route for ${method} ${url}${bare ? ` (did you mean ${bare}, without the trailing slash?)` : ''}.`), close: true });
  });
}
