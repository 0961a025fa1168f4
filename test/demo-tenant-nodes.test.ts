// Two nodes started together on one empty PostgreSQL database (README "Several nodes with Redis": `PORT=8081 npm
// start & PORT=8082 npm start &`) each counted no tenant and each created a "demo" tenant, printing two sets of
// live keys. The first start's demo tenant is now created under a transaction-scoped lock: the second node waits
// for the first's commit, sees its tenant and creates none.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { createTenantStore } from '../server/store/tenants.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const silent = pino({ level: 'silent' });

describe('the demo tenant of an empty database shared by two nodes', () => {
  let scratch: ScratchDatabase;
  let a: Db;
  let b: Db;
  beforeAll(async () => {
    scratch = await scratchDatabase('txl_demo_nodes');
    a = await openPostgres(scratch.url, 2, silent, { plain: true });
    b = await openPostgres(scratch.url, 2, silent, { plain: true });
    await migrate(a, silent);
  }, 120_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await scratch?.drop();
  });

  it('is created once: the node that starts while the first is still creating it creates none', async () => {
    const tenants = createTenantStore();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let firstCreated!: () => void;
    const created = new Promise<void>((r) => (firstCreated = r));
    // Node A has created its tenant and not yet committed when node B looks.
    const first = a.tx(async (q) => {
      const t = await tenants.createFirst(q, 'demo');
      firstCreated();
      await held;
      return t;
    });
    await created;
    const second = b.tx((q) => tenants.createFirst(q, 'demo'));
    await new Promise((r) => setTimeout(r, 200));
    release();
    const [x, y] = await Promise.all([first, second]);
    expect(x).toMatchObject({ name: 'demo' });
    expect(y).toBeNull();
    expect(await tenants.count(a)).toBe(1);
    // A later start of either node creates none either.
    expect(await b.tx((q) => tenants.createFirst(q, 'demo'))).toBeNull();
  });
});
