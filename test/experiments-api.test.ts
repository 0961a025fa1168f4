// Experiments on a running server: CRUD with the secret key, GET /api/tx/experiments (write key, CORS) equal to
// what the shared hash computes, results per variant from exposure and conversion events, SRM flagged on a
// biased split, 4xx with the field on bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignVariant } from '../client/shared/experiment-hash.js';
import { bootServer, createTenant, getJson, postEvents, request, webEvent, type Tenant } from './helpers.js';

const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();

describe('experiments API', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const api = (method: string, p: string, body?: unknown, key = t.secret_key) => request(method, `${base}${p}`, body, { authorization: `Bearer ${key}` });
  const exp = (key: string, extra: Record<string, unknown> = {}) => ({
    key, variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.5 }], start: ago(86_400), success_metrics: ['ticket_link_click'], metric_window_s: 3600, ...extra,
  });

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'experiments', ['https://shop.example']);
  }, 120_000);
  afterAll(async () => server?.close());

  it('creates, reads, lists, replaces and deletes; a second create of a key is 409', async () => {
    const c = await api('POST', '/api/v1/experiments', exp('crud', { name: 'Button', coverage: 0.8 }));
    expect(c.status, c.text).toBe(201);
    expect(c.json).toMatchObject({ key: 'crud', name: 'Button', coverage: 0.8, variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.5 }], success_metrics: [{ name: 'ticket_link_click', steps: [{ event_name: 'ticket_link_click', filters: [] }] }], end: null });
    expect((await api('POST', '/api/v1/experiments', exp('crud'))).status).toBe(409);
    expect((await api('GET', '/api/v1/experiments/crud')).json.key).toBe('crud');
    const put = await api('PUT', '/api/v1/experiments/crud', { ...exp('crud'), coverage: 1, key: undefined });
    expect(put.status, put.text).toBe(200);
    expect(put.json.coverage).toBe(1);
    expect((await api('PUT', '/api/v1/experiments/crud', exp('other'))).json.error).toMatchObject({ code: 'invalid_field', field: 'key' });
    expect((await api('GET', '/api/v1/experiments')).json.experiments.map((e: { key: string }) => e.key)).toContain('crud');
    expect((await api('DELETE', '/api/v1/experiments/crud')).status).toBe(200);
    expect((await api('GET', '/api/v1/experiments/crud')).status).toBe(404);
    expect((await api('DELETE', '/api/v1/experiments/crud')).status).toBe(404);
    expect((await api('POST', '/api/v1/experiments', exp('w'), t.write_key)).status).toBe(403);
  });

  it('refuses new weights on a running experiment unless it is restarted; coverage changes freely', async () => {
    expect((await api('POST', '/api/v1/experiments', exp('split'))).status).toBe(201);
    const reweighted = { ...exp('split'), key: undefined, variants: [{ key: 'control', weight: 0.1 }, { key: 'green', weight: 0.9 }] };
    const refused = await api('PUT', '/api/v1/experiments/split', reweighted);
    expect(refused.status, refused.text).toBe(409);
    expect(refused.json.error).toMatchObject({ code: 'conflict', field: 'variants', message: expect.stringContaining('Restart it with start at or after now') });
    expect((await api('GET', '/api/v1/experiments/split')).json.variants[0].weight).toBe(0.5);
    expect((await api('PUT', '/api/v1/experiments/split', { ...exp('split'), key: undefined, coverage: 0.5 })).status).toBe(200);
    const restarted = await api('PUT', '/api/v1/experiments/split', { ...reweighted, start: new Date().toISOString() });
    expect(restarted.status, restarted.text).toBe(200);
    expect(restarted.json.variants[0].weight).toBe(0.1);
    expect((await api('DELETE', '/api/v1/experiments/split')).status).toBe(200);
  });

  it('refuses bad experiments with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [exp('bad key'), 'key'],
      [exp('x', { variants: [{ key: 'a', weight: 0.9 }, { key: 'b', weight: 0.9 }] }), 'variants'],
      [exp('x', { coverage: -1 }), 'coverage'],
      [exp('x', { end: ago(90_000) }), 'end'],
      [exp('x', { success_metrics: [{ event_name: 'event_view', filters: [{ field: 'payload.a', op: 'drop', value: 1 }] }] }), 'success_metrics[0].filters[0].op'],
      [exp('x', { surprise: true }), 'surprise'],
    ];
    for (const [body, field] of cases) {
      const r = await api('POST', '/api/v1/experiments', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'invalid_field', field });
    }
    // The path's key is named and echoed (decoded, cut to 40 characters).
    expect((await api('GET', '/api/v1/experiments/bad%20key')).json).toEqual({ error: { code: 'invalid_field', in: 'path', field: 'key', message: 'An experiment key is 1–64 letters, digits, _ . -; got "bad key".' } });
    expect((await api('GET', `/api/v1/experiments/${'k'.repeat(65)}`)).json.error.message).toBe(`An experiment key is 1–64 letters, digits, _ . -; got "${'k'.repeat(40)}".`);
  });

  it('assigns running experiments exactly as the shared hash does, with CORS for the page', async () => {
    const defs = [exp('button'), exp('ranking', { variants: [{ key: 'a', weight: 0.2 }, { key: 'b', weight: 0.3 }, { key: 'c', weight: 0.5 }], coverage: 0.5 })];
    for (const d of defs) expect((await api('POST', '/api/v1/experiments', d)).status).toBe(201);
    // Not running: starts tomorrow, or ended.
    expect((await api('POST', '/api/v1/experiments', exp('later', { start: new Date(Date.now() + 86_400_000).toISOString() }))).status).toBe(201);
    expect((await api('POST', '/api/v1/experiments', exp('over', { start: ago(7200), end: ago(3600) }))).status).toBe(201);
    for (let i = 0; i < 40; i++) {
      const vid = `visitor-${i}`;
      const r = await request('GET', `${base}/api/tx/experiments?visitor_id=${vid}&key=${t.write_key}`, undefined, { origin: 'https://shop.example' });
      expect(r.status).toBe(200);
      const want: Record<string, string> = {};
      for (const d of defs) {
        const v = assignVariant(d, vid);
        if (v) want[d.key] = v;
      }
      expect(r.json).toEqual({ assignments: want });
      if (i === 0) expect(r.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    }
    expect((await request('GET', `${base}/api/tx/experiments?key=${t.write_key}`)).json.error).toMatchObject({ code: 'invalid_field', field: 'visitor_id' });
    expect((await request('GET', `${base}/api/tx/experiments?visitor_id=${'x'.repeat(65)}&key=${t.write_key}`)).status).toBe(400);
    expect((await request('GET', `${base}/api/tx/experiments?visitor_id=v&extra=1&key=${t.write_key}`)).json.error).toMatchObject({ field: 'extra' });
    expect((await request('GET', `${base}/api/tx/experiments?visitor_id=v&key=${t.secret_key}`)).status).toBe(403);
    expect((await request('GET', `${base}/api/tx/experiments?visitor_id=v&key=${t.write_key}`, undefined, { origin: 'https://evil.example' })).status).toBe(403);
  });

  it('reports exposures, conversions and uplift per variant, and flags a biased split (SRM)', async () => {
    expect((await api('POST', '/api/v1/experiments', exp('srm'))).status).toBe(201);
    // 300 visitors saw control, 100 saw green (a 50/50 experiment): χ² = 100. Control converts 30, green 40; both
    // arms have the minimum sample (100 exposures) for an interval and a chance to beat control.
    const events: Record<string, unknown>[] = [];
    const visitor = (variant: string, i: number, converts: boolean) => {
      const v = `${variant}-${i}`;
      const base_ = { visitor_id: v, session_id: `s-${v}` };
      events.push(webEvent({ ...base_, event_name: 'experiment_exposure', occurred_at: ago(600), entities: {}, payload: { experiment_id: 'srm', variant } }));
      if (converts) events.push(webEvent({ ...base_, event_name: 'ticket_link_click', occurred_at: ago(300), payload: { ticket_url: 'https://t.example/x' } }));
    };
    for (let i = 0; i < 300; i++) visitor('control', i, i < 30);
    for (let i = 0; i < 100; i++) visitor('green', i, i < 40);
    // Another experiment's exposure and a click before any exposure are not counted.
    events.push(webEvent({ visitor_id: 'other', session_id: 's-o', event_name: 'experiment_exposure', occurred_at: ago(600), entities: {}, payload: { experiment_id: 'button', variant: 'green' } }));
    events.push(webEvent({ visitor_id: 'green-99', session_id: 's-green-99', event_name: 'ticket_link_click', occurred_at: ago(900), payload: { ticket_url: 'https://t.example/x' } }));
    for (let i = 0; i < events.length; i += 100) expect((await postEvents(base, t, events.slice(i, i + 100))).rejected).toEqual([]);
    const res = await getJson(`${base}/api/v1/experiments/srm/results`, { authorization: `Bearer ${t.secret_key}` });
    expect(res.status).toBe(200);
    const [control, green] = res.json.variants;
    expect(control).toMatchObject({ key: 'control', exposures: 300, metrics: { ticket_link_click: { conversions: 30, rate: 0.1, uplift: null, enough_data: true } } });
    expect(green).toMatchObject({ key: 'green', exposures: 100, metrics: { ticket_link_click: { conversions: 40, rate: 0.4, enough_data: true } } });
    expect(green.metrics.ticket_link_click.uplift).toBeCloseTo(3, 10);
    expect(green.metrics.ticket_link_click.uplift_ci95[0]).toBeGreaterThan(1);
    expect(green.metrics.ticket_link_click.uplift_ci95[0]).toBeLessThan(3);
    expect(green.metrics.ticket_link_click.uplift_ci95[1]).toBeGreaterThan(3);
    expect(res.json.min_exposures).toBe(100);
    expect(green.metrics.ticket_link_click.chance_to_beat_control).toBeGreaterThan(0.99);
    expect(res.json.srm.warning).toBe(true);
    expect(res.json.srm.p).toBeLessThan(0.001);
    expect(res.json.control).toBe('control');
  });

  it('stores weights rescaled to sum 1, and warns of SRM when one variant gets almost no exposures', async () => {
    const c = await api('POST', '/api/v1/experiments', exp('few', { variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.51 }] }));
    expect(c.status, c.text).toBe(201);
    expect(c.json.variants[0].weight).toBeCloseTo(0.5 / 1.01, 12);
    expect(c.json.variants[1].weight).toBeCloseTo(0.51 / 1.01, 12);
    expect((await api('GET', '/api/v1/experiments/few')).json.variants[1].weight).toBeCloseTo(0.51 / 1.01, 12);
    // 30 control exposures and 7 green: 37 ≥ 2 × 8 in total (GrowthBook's minimum), χ² ≈ 14.6, p < 0.001.
    const events: Record<string, unknown>[] = [];
    const exposed = (variant: string, i: number) => events.push(webEvent({ visitor_id: `few-${variant}-${i}`, session_id: `s-few-${variant}-${i}`, event_name: 'experiment_exposure', occurred_at: ago(600), entities: {}, payload: { experiment_id: 'few', variant } }));
    for (let i = 0; i < 30; i++) exposed('control', i);
    for (let i = 0; i < 7; i++) exposed('green', i);
    expect((await postEvents(base, t, events)).rejected).toEqual([]);
    const res = await getJson(`${base}/api/v1/experiments/few/results`, { authorization: `Bearer ${t.secret_key}` });
    expect(res.status).toBe(200);
    expect(res.json.variants.map((v: { exposures: number }) => v.exposures)).toEqual([30, 7]);
    expect(res.json.srm.p).toBeLessThan(0.001);
    expect(res.json.srm.warning).toBe(true);
  });

  it('keeps the stored ranges of an experiment saved before weights were rescaled: a PUT sending them again is no reallocation', async () => {
    expect((await api('POST', '/api/v1/experiments', exp('older'))).status).toBe(201);
    // As a server before the rescaling stored [0.5, 0.51].
    await server.db.query(`UPDATE experiments SET variants = '[{"key":"control","weight":0.5},{"key":"green","weight":0.51}]'::jsonb WHERE tenant_id = $1 AND key = 'older'`, [t.tenant_id]);
    const put = await api('PUT', '/api/v1/experiments/older', { ...exp('older'), key: undefined, name: 'Renamed', variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.51 }] });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({ name: 'Renamed', variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.51 }] });
  });

  it('attributes conversions to the window after the first exposure, counts exposures up to the end, and withholds verdicts on tiny samples', async () => {
    const end = 86_400;
    expect((await api('POST', '/api/v1/experiments', exp('attrib', { start: ago(4 * 86_400), end: ago(end) }))).status).toBe(201);
    const events: Record<string, unknown>[] = [];
    const exposed = (v: string, variant: string, agoS: number, session: string) =>
      events.push(webEvent({ visitor_id: v, session_id: session, event_name: 'experiment_exposure', occurred_at: ago(agoS), entities: {}, payload: { experiment_id: 'attrib', variant } }));
    const clicks = (v: string, agoS: number, session: string) =>
      events.push(webEvent({ visitor_id: v, session_id: session, event_name: 'ticket_link_click', occurred_at: ago(agoS), payload: { ticket_url: 'https://t.example/x' } }));
    // Exposed 3 days ago and again (a new session) 2 days ago, clicking 30 min after the second exposure: outside the
    // hour after the first, so no conversion.
    exposed('at-again', 'control', 3 * 86_400, 'sa1');
    exposed('at-again', 'control', 2 * 86_400, 'sa2');
    clicks('at-again', 2 * 86_400 - 1800, 'sa2');
    exposed('at-once', 'control', 3 * 86_400, 'so1');
    clicks('at-once', 3 * 86_400 - 1800, 'so1');
    // Exposed 10 min before the end, clicking 20 min after it: counts. Exposed 10 min after the end: does not.
    exposed('at-late', 'green', end + 600, 'sl1');
    clicks('at-late', end - 1200, 'sl1');
    exposed('at-ended', 'green', end - 600, 'se1');
    clicks('at-ended', end - 1200, 'se1');
    expect((await postEvents(base, t, events)).rejected).toEqual([]);
    const res = await getJson(`${base}/api/v1/experiments/attrib/results`, { authorization: `Bearer ${t.secret_key}` });
    expect(res.status).toBe(200);
    const [control, green] = res.json.variants;
    expect([control.exposures, control.metrics.ticket_link_click.conversions, green.exposures, green.metrics.ticket_link_click.conversions]).toEqual([2, 1, 1, 1]);
    // 1 of 1 against 1 of 2: far below 100 exposures per arm, so no interval and no chance to beat control.
    expect(green.metrics.ticket_link_click).toMatchObject({ uplift: 1, uplift_ci95: null, chance_to_beat_control: null, enough_data: false });
    expect(control.metrics.ticket_link_click.enough_data).toBe(false);
  });

  it('counts only the defined variants: made-up variant names posted with the public key do not blank the results', async () => {
    expect((await api('POST', '/api/v1/experiments', exp('junk'))).status).toBe(201);
    const events: Record<string, unknown>[] = [];
    const exposed = (variant: string, n: number) => {
      for (let i = 0; i < n; i++) events.push(webEvent({ visitor_id: `j-${variant}-${i}`, session_id: `sj-${variant}-${i}`, event_name: 'experiment_exposure', occurred_at: ago(600), entities: {}, payload: { experiment_id: 'junk', variant } }));
    };
    exposed('control', 3);
    exposed('green', 2);
    // 51 invented variants with more visitors each than the real ones.
    for (let k = 0; k < 51; k++) exposed(`fake${k}`, 4);
    for (let i = 0; i < events.length; i += 100) expect((await postEvents(base, t, events.slice(i, i + 100))).rejected).toEqual([]);
    const res = await getJson(`${base}/api/v1/experiments/junk/results`, { authorization: `Bearer ${t.secret_key}` });
    expect(res.status).toBe(200);
    expect(res.json.variants.map((v: { key: string; exposures: number }) => [v.key, v.exposures])).toEqual([['control', 3], ['green', 2]]);
  });
});
