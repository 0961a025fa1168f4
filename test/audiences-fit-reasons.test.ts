// The fitted model's reasons reach the user (README "Audiences"): when the audiences.fit job stores no fit (the
// only past event is held out, or no buyer has marketing consent) GET /api/v1/audience/model and the 409 of
// `model: "fitted"` say why and when it was tried; a build with the fit answers its status and reason as the
// estimate does; and a cancelled past event is not training data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHeldOut } from '../server/audiences/fit.js';
import { BLANK, HYPOTHESIS } from '../server/audiences/personas.fixture.js';
import { ADMIN, bootServer, createTenant, orderEvent, postEvents, request, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { seedPersons } from './audiences-helpers.js';

const admin = { authorization: `Bearer ${ADMIN}` };

describe('audiences: fit reasons', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  const tenants: Record<'held' | 'noConsent' | 'cancelled', Tenant> = {} as never;
  const call = (who: Tenant, method: string, p: string, body?: unknown) => api(base, who, method, p, body);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString();
  const held = Array.from({ length: 200 }, (_, i) => `EV${i}`).filter((n) => isHeldOut(n));
  const trained = Array.from({ length: 200 }, (_, i) => `EV${i}`).filter((n) => !isHeldOut(n));

  /** 40 persons p0…p39 (consent as given), the catalog events, and p0, p2, … p38 buying each event in `bought`. */
  async function setup(name: string, events: { id: string; status?: string }[], bought: string[], consent: (i: number) => boolean): Promise<Tenant> {
    const t = await createTenant(base, name);
    const crowd = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, { facts: { ...BLANK, genreAffinity: { rock: i % 2 ? 10 : 90 }, avgOrderValue: 20 + i }, consent: consent(i) }]));
    await seedPersons(base, t, server.db, crowd);
    const put = await call(t, 'PUT', '/api/v1/catalog/events', { items: events.map((e) => ({ id: e.id, genres: ['rock'], city: 'Cluj', starts_at: yesterday, ...(e.status ? { status: e.status } : {}) })) });
    expect(put.status).toBe(200);
    const orders = bought.flatMap((id) => Array.from({ length: 20 }, (_, i) => orderEvent({
      occurred_at: new Date(Date.now() - 3_600_000).toISOString(), entities: { order_id: `O-${id}-${i}`, event_entity_id: id },
      payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, consent_marketing: consent(i * 2), customer: { external_id: `p${i * 2}` } },
    })));
    expect((await postEvents(base, t, orders)).accepted).toBe(orders.length);
    return t;
  }

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    // The only past event with buyers hashes to the held-out side: nothing to train on.
    tenants.held = await setup('fit-reasons-held', [{ id: held[0] }], [held[0]], () => true);
    // A training event whose buyers all lack marketing consent (the non-buyers have it).
    tenants.noConsent = await setup('fit-reasons-consent', [{ id: trained[0] }], [trained[0]], (i) => i % 2 === 1);
    // One training event that took place and one that was cancelled, both with orders.
    tenants.cancelled = await setup('fit-reasons-cancelled', [{ id: trained[0], status: 'ended' }, { id: trained[1], status: 'cancelled' }], [trained[0], trained[1]], () => true);
    const run = await request('POST', `${base}/api/admin/jobs/audiences.fit/run`, undefined, admin);
    expect(run.status).toBe(200);
    expect(run.json.status).toBe('succeeded');
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('GET /api/v1/audience/model and the 409 of model "fitted" say why the job stored no fit when every past event is held out', async () => {
    const t = tenants.held;
    const m = await call(t, 'GET', '/api/v1/audience/model');
    expect(m.status).toBe(200);
    expect(m.json).toMatchObject({ model: 'fitted', available: false });
    expect(m.json.reason).toContain('held-out set');
    expect(Date.parse(m.json.tried_at)).not.toBeNaN();
    const e = await call(t, 'POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS, model: 'fitted' });
    expect(e.status).toBe(409);
    expect(e.json.error.message).toContain(m.json.reason);
    expect(e.json.error.message).not.toContain('runs it now');
    const b = await call(t, 'POST', '/api/v1/audience/build', { name: 'x', event_hypothesis: HYPOTHESIS, model: 'fitted' });
    expect(b.status).toBe(409);
    expect(b.json.error.message).toContain(m.json.reason);
    // Side by side, the estimate says the same.
    const s = await call(t, 'POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS });
    expect(s.json.compare).toMatchObject({ model: 'fitted', available: false, reason: m.json.reason, tried_at: m.json.tried_at });
  });

  it('says so when the training buyers lack marketing consent', async () => {
    const m = await call(tenants.noConsent, 'GET', '/api/v1/audience/model');
    expect(m.json).toMatchObject({ model: 'fitted', available: false });
    expect(m.json.reason).toContain('marketing consent');
    const e = await call(tenants.noConsent, 'POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS, model: 'fitted' });
    expect(e.status).toBe(409);
    expect(e.json.error.message).toContain('marketing consent');
  });

  it('trains only on past events that took place: a cancelled one is left out', async () => {
    const m = await call(tenants.cancelled, 'GET', '/api/v1/audience/model');
    expect(m.json).toMatchObject({ available: true, status: 'insufficient_holdout', fit: { train: { events: 1 }, held_out: { events: 0 } } });
    expect(m.json.last_attempt).toBeUndefined();
  });

  it('a build with model "fitted" answers the fit\'s status and reason, as the estimate does', async () => {
    const t = tenants.cancelled;
    const e = await call(t, 'POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS, model: 'fitted' });
    expect(e.status).toBe(200);
    const b = await call(t, 'POST', '/api/v1/audience/build', { name: 'with fit', event_hypothesis: HYPOTHESIS, model: 'fitted' });
    expect(b.status).toBe(201);
    expect(b.json).toMatchObject({ model: 'fitted', fit: { status: 'insufficient_holdout' }, fitted_at: e.json.fitted_at });
    expect(b.json.fit).toEqual(e.json.fit);
    expect(b.json.fit.reason).toContain('held-out events');
    const r = await call(t, 'POST', `/api/v1/audiences/${b.json.id}/rebuild`);
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ version: 2, fit: { status: 'insufficient_holdout' } });
    // seed_v1 builds carry no fit.
    expect((await call(t, 'POST', '/api/v1/audience/build', { name: 'seed', event_hypothesis: HYPOTHESIS })).json.fit).toBeUndefined();
  });

  it('a later attempt that stores no fit keeps the stored one and is shown next to it', async () => {
    const t = tenants.cancelled;
    const before = await call(t, 'GET', '/api/v1/audience/model');
    // The event it was trained on is cancelled after all: no past event is left to fit from.
    expect((await call(t, 'PUT', '/api/v1/catalog/events', { items: [{ id: trained[0], genres: ['rock'], city: 'Cluj', starts_at: yesterday, status: 'cancelled' }] })).status).toBe(200);
    const run = await request('POST', `${base}/api/admin/jobs/audiences.fit/run`, undefined, admin);
    expect(run.json.status).toBe('succeeded');
    const m = await call(t, 'GET', '/api/v1/audience/model');
    expect(m.json).toMatchObject({ available: true, fitted_at: before.json.fitted_at, last_attempt: { reason: expect.stringContaining('no past event') } });
    expect(Date.parse(m.json.last_attempt.tried_at)).toBeGreaterThanOrEqual(Date.parse(before.json.fitted_at));
  });
});
