// The write key's rate limit covers bodies kept as rejected (invalid JSON, a batch without "events"), not only
// events: anyone holding the public key could otherwise fill the store with bad bodies at no cost. Each 400
// answer is a kept body, each 429 is not; the limit is reached whatever the machine's speed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, getJson, postJson, type Tenant } from './helpers.js';

describe('rate limit on bad bodies', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '1', RATE_LIMIT_BURST: '3' });
    t = await createTenant(server.url, 'limits');
  }, 60_000);
  afterAll(async () => server?.close());

  it('charges invalid JSON and shapeless batches to the key: past the burst they are refused with 429 and not kept', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const body = i % 2 === 0 ? `{"events": [ broken ${i}` : JSON.stringify({ events: null, n: i });
      const r = await postJson(`${server.url}/api/tx/events/batch`, body, { 'x-tx-key': t.write_key });
      statuses.push(r.status);
      if (r.status === 429) expect(r.json.error.code).toBe('rate_limited');
    }
    expect(statuses).toContain(429);
    const kept = (await getJson(`${server.url}/api/v1/tx/rejected?limit=100`, { authorization: `Bearer ${t.secret_key}` })).json.rejected;
    expect(kept).toHaveLength(statuses.filter((s) => s === 400).length);
  });
});
