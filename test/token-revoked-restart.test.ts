// A dashboard token whose minting key was revoked is refused on every route that takes tokens, also by a node
// that has not seen the key since it started (README "Tokens": the node reads the key's status before it answers).
// Before, the campaign and tracking-code routes checked only this node's memory of revocations, so after a
// restart such a token approved campaigns and created tracking codes until something else looked the key up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, request, type Tenant } from './helpers.js';

describe('a revoked key\'s dashboard token after a restart', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let token: string;

  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url);
    const key = await postJson(`${server.url}/api/v1/keys`, { role: 'admin' }, { authorization: `Bearer ${t.secret_key}` });
    expect(key.status).toBe(201);
    const minted = await postJson(`${server.url}/api/v1/tokens`, { role: 'admin' }, { authorization: `Bearer ${key.json.key}` });
    expect(minted.status).toBe(201);
    token = minted.json.token;
    const auth = { authorization: `Bearer ${token}` };
    // Valid before the revocation: the routes below answer it.
    expect((await request('GET', `${server.url}/api/v1/campaigns/review-queue`, undefined, auth)).status).toBe(200);
    expect((await request('DELETE', `${server.url}/api/v1/keys/${key.json.id}`, undefined, { authorization: `Bearer ${t.secret_key}` })).status).toBe(200);
    // A new process on the same DATA_DIR: nothing of the revocation is in its memory.
    const dataDir = server.dataDir;
    await server.close();
    server = await bootServer({ DATA_DIR: dataDir });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('is refused with 401 invalid_token on the campaign, tracking-code and analytics routes, and changes nothing', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const base = server.url;
    const calls = await Promise.all([
      request('GET', `${base}/api/v1/campaigns/review-queue`, undefined, auth),
      request('GET', `${base}/api/v1/tracking-codes`, undefined, auth),
      request('POST', `${base}/api/v1/tracking-codes`, { provider: 'ga4', organizer_id: 'O1', settings: { measurement_id: 'G-REVOKED01' } }, auth),
      request('GET', `${base}/api/v1/analytics/organizers/O1`, undefined, auth),
      request('GET', `${base}/api/v1/analytics/venues/V1`, undefined, auth),
    ]);
    for (const r of calls) {
      expect(r.status).toBe(401);
      expect(r.json.error).toMatchObject({ code: 'invalid_token', message: expect.stringContaining('revoked') });
    }
    const codes = await request('GET', `${base}/api/v1/tracking-codes`, undefined, { authorization: `Bearer ${t.secret_key}` });
    expect(codes.status).toBe(200);
    expect(JSON.stringify(codes.json)).not.toContain('G-REVOKED01');
  });
});
