// A tracking-code PUT is audited only when it changes something: one that sets what was there, or removes a
// token the code never had, leaves no "tracking_code.updated" row (it was audited with `changed: []`, or as
// "removed"). Embedded store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, getJson, request, type Tenant } from './helpers.js';

const META = '123456789012345';

describe('tracking-code updates in the audit log', { timeout: 120_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const as = () => ({ authorization: `Bearer ${t.secret_key}` });
  const api = (method: string, p: string, body?: unknown) => request(method, `${server.url}${p}`, body, as());
  const updates = async (id: number) => (await getJson(`${server.url}/api/v1/audit`, as())).json.audit
    .filter((a: any) => a.target === `tracking_code:${id}` && a.action === 'tracking_code.updated').map((a: any) => a.details.changed);

  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'tracking-audit');
  }, 600_000);
  afterAll(async () => server?.close(), 120_000);

  it('records only the PUTs that changed the code, naming what changed', async () => {
    const c = await api('POST', '/api/v1/tracking-codes', { provider: 'meta', organizer_id: 'O1', settings: { pixel_id: META } });
    expect(c.status, c.text).toBe(201);
    const id = c.json.id;
    const put = async (body: unknown) => {
      const r = await api('PUT', `/api/v1/tracking-codes/${id}`, body);
      expect(r.status, r.text).toBe(200);
    };
    await put({});
    await put({ enabled: true });
    await put({ settings: { pixel_id: META } });
    // The code never had a token: removing it changes nothing.
    await put({ secrets: { access_token: null } });
    expect(await updates(id)).toEqual([]);

    await put({ enabled: false, secrets: { access_token: 'EAAB-1' } });
    await put({ secrets: { access_token: null } });
    const log = await updates(id);
    expect(log).toHaveLength(2);
    expect(log).toEqual(expect.arrayContaining([['enabled', 'secrets.access_token'], ['secrets.access_token (removed)']]));
  });
});
