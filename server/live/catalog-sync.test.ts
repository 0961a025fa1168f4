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
  it('names the events of event and capacity topics by tenant', () => {
    expect(topicEvents([
      { tenant: 1, topic: { kind: 'event', event: 'E1' } }, { tenant: 1, topic: { kind: 'capacity', event: 'E2' } },
      { tenant: 2, topic: { kind: 'dashboard', org: 'O1' } }, { tenant: 2, topic: { kind: 'event', event: 'E3', revenue: false } },
    ])).toEqual(new Map([[1, ['E1', 'E2']], [2, ['E3']]]));
  });
});
