// Local stand-ins for the ad platforms' conversion endpoints, for tests and the benchmark. One HTTP server
// answers Meta (/{version}/{pixel}/events), TikTok (/open_api/v1.3/event/track/), Google Data Manager
// (/v1/events:ingest) and GA4 (/mp/collect, and /debug/mp/collect's validation format). Every request is
// checked against the documented format (problems are recorded, and answered as the provider would: 400, and
// GA4, which never answers an error status, 200 with its validation server's {"validationMessages": […]});
// accepted events are deduplicated by event id per destination, as the providers do, so a test can tell a
// delivery from a redelivery. Answers can be scripted: `script('meta', [429, 200])`, `hold('meta')` (keeps
// requests open until `release()`), `rejectEvent(id)` (a whole-batch 400 while that event is in it).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type MockProvider = 'meta' | 'tiktok' | 'google' | 'ga4';

export interface Received {
  provider: MockProvider;
  /** pixel id, TikTok pixel code, Google conversion action, GA4 measurement id */
  destination: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: any;
  status: number;
  /** The event ids in this request. */
  ids: string[];
  /** Whether the platform took the request (a GA4 answer of 200 with validationMessages is not taken). */
  accepted: boolean;
}

export interface MockPlatforms {
  url: string;
  received: Received[];
  /** Format problems found, per request (empty when everything matched the documentation). */
  problems: string[];
  /** event id → times a request containing it was accepted (first acceptance counted as 1 per destination). */
  accepted: Map<string, number>;
  /** Per provider+destination, the event ids accepted once (the platform's dedup). */
  unique(provider: MockProvider): Set<string>;
  script(provider: MockProvider, statuses: number[]): void;
  hold(provider: MockProvider): void;
  release(): void;
  rejectEvent(id: string): void;
  /** Resolves when a request for the provider has arrived and is being held. */
  held(provider: MockProvider): Promise<void>;
  close(): Promise<void>;
}

const HEX64 = /^[a-f0-9]{64}$/;
const GA4_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

function checkMeta(body: any, query: Record<string, string>, now: number): string[] {
  const p: string[] = [];
  if (!query.access_token) p.push('meta: access_token query parameter missing');
  if (!Array.isArray(body?.data) || body.data.length === 0 || body.data.length > 1000) return [...p, 'meta: data must hold 1..1000 events'];
  for (const e of body.data) {
    if (typeof e.event_name !== 'string') p.push('meta: event_name missing');
    if (!Number.isInteger(e.event_time) || now / 1000 - e.event_time > 7 * 86400) p.push('meta: event_time must be unix seconds within 7 days');
    if (typeof e.event_id !== 'string') p.push('meta: event_id missing');
    if (!['website', 'system_generated', 'app', 'email', 'phone_call', 'chat', 'physical_store', 'business_messaging', 'other'].includes(e.action_source)) p.push('meta: bad action_source');
    if (e.action_source === 'website' && (!e.client_user_agent && !e.user_data?.client_user_agent)) p.push('meta: website events need client_user_agent');
    if (e.action_source === 'website' && !e.event_source_url) p.push('meta: website events need event_source_url');
    const u = e.user_data ?? {};
    if (typeof u !== 'object') p.push('meta: user_data missing');
    for (const k of ['em', 'ph', 'fn', 'ln', 'ct', 'st', 'zp', 'country', 'db', 'ge', 'external_id']) {
      for (const v of [u[k]].flat()) if (v !== undefined && !HEX64.test(String(v))) p.push(`meta: user_data.${k} must be a lower-case SHA-256 hex digest`);
    }
    if (u.fbc !== undefined && !/^fb\.1\.\d+\..+$/.test(u.fbc)) p.push('meta: fbc must be fb.1.{ms}.{fbclid}');
    if (u.client_ip_address !== undefined && HEX64.test(u.client_ip_address)) p.push('meta: client_ip_address must not be hashed');
  }
  return p;
}

function checkTiktok(body: any, headers: http.IncomingHttpHeaders): string[] {
  const p: string[] = [];
  if (!headers['access-token']) p.push('tiktok: Access-Token header missing');
  if (body?.event_source !== 'web') p.push('tiktok: event_source must be web');
  if (!/^[A-Z0-9]{20}$/.test(String(body?.event_source_id))) p.push('tiktok: event_source_id must be the pixel code');
  if (!Array.isArray(body?.data) || body.data.length === 0 || body.data.length > 1000) return [...p, 'tiktok: data must hold 1..1000 events'];
  for (const e of body.data) {
    if (typeof e.event !== 'string' || !Number.isInteger(e.event_time) || typeof e.event_id !== 'string') p.push('tiktok: event, event_time and event_id are required');
    for (const k of ['email', 'phone', 'external_id']) if (e.user?.[k] !== undefined && !HEX64.test(e.user[k])) p.push(`tiktok: user.${k} must be SHA-256`);
  }
  return p;
}

function checkGoogle(body: any, headers: http.IncomingHttpHeaders): string[] {
  const p: string[] = [];
  if (!/^Bearer .+/.test(String(headers.authorization))) p.push('google: OAuth bearer token missing');
  if (body?.encoding !== 'HEX' && body?.encoding !== 'BASE64') p.push('google: encoding is required (HEX or BASE64)');
  const d = body?.destinations?.[0];
  if (!d?.operatingAccount?.accountId || !d?.productDestinationId) p.push('google: destinations[].operatingAccount.accountId and productDestinationId are required');
  if (!Array.isArray(body?.events) || body.events.length === 0 || body.events.length > 2000) return [...p, 'google: events must hold 1..2000 events'];
  for (const e of body.events) {
    if (!e.transactionId || Number.isNaN(Date.parse(e.eventTimestamp))) p.push('google: transactionId and eventTimestamp are required');
    for (const id of e.userData?.userIdentifiers ?? []) for (const v of Object.values(id)) if (!HEX64.test(String(v))) p.push('google: user identifiers must be hex SHA-256 (encoding HEX)');
    if (!e.adIdentifiers?.gclid && !(e.userData?.userIdentifiers?.length > 0)) p.push('google: an event needs a gclid or user identifiers');
  }
  return p;
}

/** The rules of GA4's validation server (/debug/mp/collect) that a conversion can break. */
export function ga4ValidationMessages(body: any, query: Record<string, string>): { fieldPath: string; description: string; validationCode: string }[] {
  const m: { fieldPath: string; description: string; validationCode: string }[] = [];
  const add = (fieldPath: string, description: string, validationCode = 'VALUE_INVALID') => m.push({ fieldPath, description, validationCode });
  if (!/^G-[A-Z0-9]+$/.test(query.measurement_id ?? '')) add('measurement_id', 'Measurement ID is invalid', 'VALUE_REQUIRED');
  if (typeof body?.client_id !== 'string' || !body.client_id) add('client_id', 'client_id is required', 'VALUE_REQUIRED');
  if (!Array.isArray(body?.events) || body.events.length === 0 || body.events.length > 25) add('events', 'between 1 and 25 events per request', 'VALUE_INVALID');
  for (const [i, e] of (body?.events ?? []).entries()) {
    if (!GA4_NAME.test(String(e.name))) add(`events[${i}].name`, 'event name is invalid', 'NAME_INVALID');
    const params = e.params ?? {};
    if (Object.keys(params).length > 25) add(`events[${i}].params`, 'at most 25 parameters', 'VALUE_INVALID');
    for (const [k, v] of Object.entries(params)) {
      if (!GA4_NAME.test(k)) add(`events[${i}].params.${k}`, 'parameter name is invalid', 'NAME_INVALID');
      if (typeof v === 'string' && v.length > 100) add(`events[${i}].params.${k}`, 'value is longer than 100 characters', 'VALUE_INVALID');
    }
  }
  return m;
}

export async function startMockPlatforms(): Promise<MockPlatforms> {
  const received: Received[] = [];
  const problems: string[] = [];
  const accepted = new Map<string, number>();
  const uniques = new Map<string, Set<string>>();
  const scripts = new Map<MockProvider, number[]>();
  const holding = new Set<MockProvider>();
  const heldQueue: (() => void)[] = [];
  const heldWaiters = new Map<MockProvider, (() => void)[]>();
  const bad = new Set<string>();

  const route = (pathname: string): { provider: MockProvider; destination: string } | null => {
    let m = /^\/v\d+\.\d+\/(\d+)\/events$/.exec(pathname);
    if (m) return { provider: 'meta', destination: m[1] };
    if (pathname === '/open_api/v1.3/event/track/') return { provider: 'tiktok', destination: '' };
    if (pathname === '/v1/events:ingest') return { provider: 'google', destination: '' };
    m = /^\/(debug\/)?mp\/collect$/.exec(pathname);
    if (m) return { provider: 'ga4', destination: '' };
    return null;
  };
  const idsOf = (provider: MockProvider, body: any): string[] => {
    if (provider === 'meta' || provider === 'tiktok') return (body?.data ?? []).map((e: any) => String(e.event_id));
    if (provider === 'google') return (body?.events ?? []).map((e: any) => String(e.transactionId));
    return (body?.events ?? []).map((e: any) => String(e.params?.transaction_id ?? `${body.client_id}:${e.name}:${e.timestamp_micros}`));
  };

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      const u = new URL(req.url ?? '/', 'http://mock');
      const r = route(u.pathname);
      const query = Object.fromEntries(u.searchParams);
      if (!r || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      let body: any = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      const ids = idsOf(r.provider, body);
      const destination = r.provider === 'tiktok' ? String(body?.event_source_id) : r.provider === 'google' ? String(body?.destinations?.[0]?.productDestinationId) : r.provider === 'ga4' ? query.measurement_id ?? '' : r.destination;
      if (r.provider === 'ga4' && u.pathname.startsWith('/debug')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ validationMessages: ga4ValidationMessages(body, query) }));
        return;
      }
      const ga4Messages = r.provider === 'ga4' ? ga4ValidationMessages(body, query) : [];
      const found =
        r.provider === 'meta' ? checkMeta(body, query, Date.now())
          : r.provider === 'tiktok' ? checkTiktok(body, req.headers)
            : r.provider === 'google' ? checkGoogle(body, req.headers)
              : ga4Messages.map((v) => `ga4: ${v.fieldPath}: ${v.description}`);
      problems.push(...found);
      if (holding.has(r.provider)) {
        for (const w of heldWaiters.get(r.provider) ?? []) w();
        heldWaiters.delete(r.provider);
        await new Promise<void>((resolve) => heldQueue.push(resolve));
      }
      const scripted = scripts.get(r.provider)?.shift();
      const rejected = ids.some((id) => bad.has(id));
      // GA4 answers 2xx whatever it thinks of a request: a problem comes back as its validation format.
      if (r.provider === 'ga4' && rejected) {
        for (const [i, e] of (body?.events ?? []).entries()) {
          if (bad.has(ids[i])) ga4Messages.push({ fieldPath: `events[${i}].params.transaction_id`, description: `mock: event ${String(e?.params?.transaction_id)} refused`, validationCode: 'VALUE_INVALID' });
        }
      }
      const status = scripted ?? (r.provider === 'ga4' ? 200 : found.length || rejected ? 400 : 200);
      const refusedGa4 = scripted === undefined && ga4Messages.length > 0;
      received.push({ provider: r.provider, destination, path: u.pathname, query, headers: req.headers, body, status, ids, accepted: status === 200 && !refusedGa4 });
      if (refusedGa4) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ validationMessages: ga4Messages }));
        return;
      }
      if (status === 200) {
        for (const id of ids) {
          const key = `${r.provider}|${destination}`;
          const set = uniques.get(key) ?? new Set<string>();
          uniques.set(key, set);
          if (!set.has(id)) {
            set.add(id);
            accepted.set(id, (accepted.get(id) ?? 0) + 1);
          }
        }
      }
      res.writeHead(status === 204 ? 204 : status, { 'content-type': 'application/json' });
      res.end(answer(r.provider, status, ids.length));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    problems,
    accepted,
    unique: (provider) => new Set([...uniques.entries()].filter(([k]) => k.startsWith(`${provider}|`)).flatMap(([, v]) => [...v])),
    script: (provider, statuses) => void scripts.set(provider, [...statuses]),
    hold: (provider) => void holding.add(provider),
    release() {
      holding.clear();
      for (const r of heldQueue.splice(0)) r();
    },
    rejectEvent: (id) => void bad.add(id),
    held: (provider) => new Promise<void>((resolve) => heldWaiters.set(provider, [...(heldWaiters.get(provider) ?? []), resolve])),
    close: () =>
      new Promise<void>((resolve) => {
        holding.clear();
        for (const r of heldQueue.splice(0)) r();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The provider's success or error envelope for a status. */
function answer(provider: MockProvider, status: number, n: number): string {
  if (provider === 'meta') {
    if (status === 200) return JSON.stringify({ events_received: n, messages: [], fbtrace_id: 'mock' });
    if (status === 429) return JSON.stringify({ error: { message: 'Application request limit reached', type: 'OAuthException', code: 4, fbtrace_id: 'mock' } });
    return JSON.stringify({ error: { message: status === 400 ? 'Invalid parameter' : 'An unexpected error has occurred.', type: 'OAuthException', code: status === 400 ? 100 : 2, error_subcode: status === 400 ? 2804003 : undefined, fbtrace_id: 'mock' } });
  }
  if (provider === 'tiktok') return JSON.stringify(status === 200 ? { code: 0, message: 'OK', request_id: 'mock', data: {} } : { code: status === 429 ? 40100 : 40000, message: 'mock error' });
  if (provider === 'google') return JSON.stringify(status === 200 ? { requestId: 'mock' } : { error: { code: status, status: status === 400 ? 'INVALID_ARGUMENT' : 'UNAVAILABLE', message: 'mock error' } });
  return '';
}
