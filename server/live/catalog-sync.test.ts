import { describe, expect, it } from 'vitest';
import { silent } from '../../test/helpers.js';
import { createCatalogSync, topicEvents } from './catalog-sync.js';
import type { LiveCatalog } from './catalog.js';
import type { Hub } from './hub.js';
import type { OwnerClaims } from './owners.js';
import type { LiveState } from './state.js';
import type { Topic } from './topics.js';

describe('catalog sync', () => {
  it('marks a renamed organizer\'s dashboard, also when the organizer has no events to carry the change', async () => {
    const touched: [number, Topic][] = [];
    const catalog = { reload: async () => ({ metas: [], removed: [] }), get: () => undefined } as unknown as LiveCatalog;
    const hub = { touch: () => undefined, touchTopic: (tenant: number, topic: Topic) => void touched.push([tenant, topic]) } as unknown as Hub;
    const sync = createCatalogSync({ catalog, state: { getEvent: () => undefined } as unknown as LiveState, hub, owners: {} as OwnerClaims, db: {} as never, bus: null, nodeId: 'n1', log: silent });
    await sync.onChange({ tenantId: 7, kind: 'organizers', ids: ['O3'] });
    await sync.onChange({ tenantId: 7, kind: 'venues', ids: ['V1'] });
    expect(touched).toEqual([[7, { kind: 'dashboard', org: 'O3' }]]);
  });
  it('reads the catalog once for a storm of topics: one query per tick, an id it lacks not again for a minute or until a change names it', async () => {
    const reads: string[][] = [];
    let release: () => void = () => undefined;
    let gate: Promise<void> = Promise.resolve();
    // The store holds E1 only; a read waits for `gate` (a change can then land while it runs).
    const catalog = {
      reload: async (_q: unknown, c: { ids: string[] }) => {
        reads.push([...c.ids]);
        await gate;
        return { metas: [], removed: c.ids.filter((id) => id !== 'E1') };
      },
      get: () => undefined,
      lacks: () => false,
    } as unknown as LiveCatalog;
    const hub = { touch: () => undefined, touchTopic: () => undefined } as unknown as Hub;
    const owners = { forget: () => undefined, learn: () => undefined } as unknown as OwnerClaims;
    let clock = 1_000_000;
    const sync = createCatalogSync({ catalog, state: { getEvent: () => undefined, day: '2026-12-02' } as unknown as LiveState, hub, owners, db: {} as never, bus: null, nodeId: 'n1', log: silent, now: () => clock });
    // 300 subscribes of one tick, each its own fill, 100 distinct ids: one query.
    await Promise.all(Array.from({ length: 300 }, (_, i) => sync.fill(1, [`X${i % 100}`])));
    expect(reads.length).toBe(1);
    expect(reads[0]).toHaveLength(100);
    // Known absent: not read again, for any number of subscribes.
    await Promise.all(Array.from({ length: 100 }, (_, i) => sync.fill(1, [`X${i}`])));
    expect(reads.length).toBe(1);
    // Another tenant's X0 is its own.
    await sync.fill(2, ['X0']);
    expect(reads.length).toBe(2);
    // The catalog gains X5: the change names it (its reread is a read too) and the next topic of X5 reads it again.
    await sync.onChange({ tenantId: 1, kind: 'events', ids: ['X5'] });
    await sync.fill(1, ['X5']);
    expect(reads.slice(2)).toEqual([['X5'], ['X5']]);
    // A change landing while a fill's read runs: that read's "absent" may predate it, so nothing is remembered.
    gate = new Promise<void>((r) => (release = r));
    const filling = sync.fill(1, ['Y1']);
    await new Promise((r) => setImmediate(r));
    const changing = sync.onChange({ tenantId: 1, kind: 'events', ids: ['Z9'] });
    release();
    await Promise.all([filling, changing]);
    gate = Promise.resolve();
    await sync.fill(1, ['Y1']);
    expect(reads.filter((r) => r.includes('Y1'))).toHaveLength(2);
    // Remembered a minute: a change this node never heard of (the bus down) hides an event no longer than that.
    const before = reads.length;
    clock += 59_000;
    await sync.fill(1, ['X1']);
    expect(reads.length).toBe(before);
    clock += 1_000;
    await sync.fill(1, ['X1']);
    expect(reads.at(-1)).toEqual(['X1']);
  });
  it('names the events of event and capacity topics by tenant', () => {
    expect(topicEvents([
      { tenant: 1, topic: { kind: 'event', event: 'E1' } }, { tenant: 1, topic: { kind: 'capacity', event: 'E2' } },
      { tenant: 2, topic: { kind: 'dashboard', org: 'O1' } }, { tenant: 2, topic: { kind: 'event', event: 'E3', revenue: false } },
    ])).toEqual(new Map([[1, ['E1', 'E2']], [2, ['E3']]]));
  });
});
