// The audience SQL on plain PostgreSQL 15 (no TimescaleDB; fs_person_daily is a table the feature jobs fill):
// seed_v1 for the six scripted personas equals the hand computation, a segment and a remarketing audience build.
// A fresh database per run, dropped after (scratchDatabase, test/store-suites.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HYPOTHESIS, personas, type Persona } from '../server/audiences/personas.fixture.js';
import { ADMIN, bootServer, createTenant, request, tmpDir, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { seedPersons } from './audiences-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

describe('audiences on plain PostgreSQL', () => {
  let scratch: ScratchDatabase | undefined;
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let ids: Record<string, number>;
  let people: Record<string, Persona>;
  const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);

  beforeAll(async () => {
    scratch = await scratchDatabase('plain_aud');
    server = await bootServer({ DATABASE_URL: scratch.url, DATA_DIR: tmpDir() });
    t = await createTenant(server.url, 'aud-pg');
    people = personas(Date.now());
    const full = async () => expect((await request('POST', `${server.url}/api/admin/jobs/features.full/run`, undefined, { authorization: `Bearer ${ADMIN}` })).json.status).toBe('succeeded');
    ids = await seedPersons(server.url, t, server.db, people, { afterOrders: full });
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  it('scores every persona as by hand and builds audience, segment and remarketing memberships', async () => {
    const b = await call('POST', '/api/v1/audience/build', { name: 'pg', event_hypothesis: HYPOTHESIS, min_propensity: 0 });
    expect(b.json).toMatchObject({ version: 1, member_count: 6 });
    const m = await call('GET', `/api/v1/audiences/${b.json.id}/members`);
    for (const [k, p] of Object.entries(people)) expect(m.json.members.find((x: { person_id: number }) => x.person_id === ids[k]).propensity).toBeCloseTo(p.p, 9);
    const s = await call('POST', '/api/v1/segments', { name: 'bought', filters: { and: [{ activity: 'purchases', within_days: 2, gte: 1 }, { not: { attribute: 'city', op: 'eq', value: 'Cluj' } }] } });
    expect(s.json.size_estimate).toBe(1); // discount_hunter: the only persona with orders outside Cluj
    const r = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'ticket_buyers', criteria: { time_window_days: 2 } });
    expect(r.json).toMatchObject({ status: 'ready', member_count: 2 }); // fan and discount_hunter ordered
  });
});
