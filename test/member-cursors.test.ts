// Member cursors of audiences and segments (issue 14 probe): a crafted cursor whose version or id is out of the
// columns' range is a 400 naming `cursor` (it reached Postgres as an int out of range: a 500), and a cursor of
// one version sent with another ?version= is refused instead of silently paging the cursor's version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';

const craft = (parts: string[]) => Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');

describe('audience and segment member cursors', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let audience: number;
  let segment: number;
  const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);

  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'cursors');
    const b = await call('POST', '/api/v1/audience/build', { name: 'c', event_hypothesis: { genres: ['rock'] }, min_propensity: 0 });
    expect(b.status).toBe(201);
    audience = b.json.id;
    expect((await call('POST', `/api/v1/audiences/${audience}/rebuild`)).json.version).toBe(2);
    const s = await call('POST', '/api/v1/segments', { name: 's', filters: { consent: 'marketing' } });
    expect(s.status).toBe(201);
    segment = s.json.id;
    expect((await call('PUT', `/api/v1/segments/${segment}`, { filters: { not: { consent: 'marketing' } } })).json.version).toBe(2);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('a decoded version or id out of range is a 400 naming cursor, not a 500', async () => {
    const cases = [
      `/api/v1/audiences/${audience}/members?cursor=${craft([`audience_${audience}`, '2147483648', '1'])}`,
      `/api/v1/audiences/${audience}/members?cursor=${craft([`audience_${audience}`, '0', '1'])}`,
      `/api/v1/segments/${segment}/members?cursor=${craft([`segment_${segment}`, '99999999999', '1'])}`,
      `/api/v1/segments/${segment}/members?cursor=${craft([`segment_${segment}`, '1000001', '1'])}`,
    ];
    for (const p of cases) {
      const r = await call('GET', p);
      expect(r.status, p).toBe(400);
      expect(r.json.error, p).toMatchObject({ code: 'invalid_field', field: 'cursor' });
    }
  });

  it('a cursor of another version than ?version= is refused; of the same version it pages', async () => {
    for (const [kind, id] of [['audience', audience], ['segment', segment]] as const) {
      const path = `/api/v1/${kind}s/${id}/members`;
      const other = await call('GET', `${path}?version=1&cursor=${craft([`${kind}_${id}`, '2', '0'])}`);
      expect(other.status, kind).toBe(400);
      expect(other.json.error, kind).toMatchObject({ code: 'invalid_field', field: 'cursor' });
      const same = await call('GET', `${path}?version=2&cursor=${craft([`${kind}_${id}`, '2', '0'])}`);
      expect(same.status, kind).toBe(200);
      expect(same.json.version, kind).toBe(2);
    }
  });
});
