// The embedded store's disk purge after an erasure (README GDPR "What stays on disk") works for every erasure of a
// process, not only the first: a table with columns added with a default (persons) left PGlite with a stale copy
// of its pg_attribute rows after its first rewrite, and each later VACUUM FULL failed ("tuple concurrently deleted").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';

describe('GDPR disk purge, erasure after erasure (embedded store)', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'purge-repeat');
  });
  afterAll(async () => server?.close());

  it('rewrites the tables and checkpoints for each of three erasures in a row', async () => {
    for (let i = 0; i < 3; i++) {
      const who = await api(server.url, t, 'POST', '/api/v1/identify', { visitor_id: `pr-v${i}`, external_id: `pr-p${i}` });
      expect(who.status).toBe(200);
      const erased = await api(server.url, t, 'DELETE', `/api/v1/persons/${who.json.person_id}`);
      expect(erased.status).toBe(200);
      expect(erased.json.removed.disk).toMatchObject({ wal: 'switched_and_checkpointed' });
      expect((erased.json.removed.disk).vacuumed).toBeGreaterThan(0);
    }
  });
});
