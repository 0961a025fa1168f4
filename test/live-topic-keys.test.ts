// Topic keys a client cannot spell (probe: collide.mjs, collide2.mjs). The hub keys its entries, and uWS its
// channels, by a key built from the topic; ids may hold `|`, `#` and `:`, so a key made by joining the topic's
// name with such characters let one topic name another's entry: an organizer subscribing to a made-up event
// `E1|norevenue` was handed E1's revenue-free funnel, an entry made that way answered the venue staff of E2 with
// the made-up event's numbers, and a dashboard `O1#view_ad_analytics` received O1's notices.
import { describe, expect, it } from 'vitest';
import { webEvent } from './helpers.js';
import { api } from './identity-helpers.js';
import { funnelEvents, mintToken, sendEvents, sleep } from './live-helpers.js';
import { liveServer } from './live-server-helpers.js';

describe('topic keys no client id can spell', () => {
  const live = liveServer('topic-keys', async (base, t) => {
    expect((await api(base, t, 'PUT', '/api/v1/catalog/events', {
      items: [
        { id: 'E1', organizer_id: 'O1', venue_id: 'V1', title: 'One' },
        { id: 'E2', organizer_id: 'O3', venue_id: 'V1', title: 'Two' },
      ],
    })).status).toBe(200);
    await sendEvents(base, t, funnelEvents({ event: 'E1', org: 'O1', visitors: 5, views: 5, selects: 4, carts: 3, checkouts: 2, attempts: 2, failures: 0, orders: 2, qty: 1, price: 40, currency: 'EUR' }));
    await sendEvents(base, t, funnelEvents({ event: 'E2', org: 'O3', visitors: 3, views: 3, selects: 1, carts: 1, checkouts: 1, attempts: 1, failures: 0, orders: 1, qty: 1, price: 10, currency: 'EUR' }));
  });
  const open = live.open;
  const views = (event: string, org: string, n: number, tag: string) =>
    Array.from({ length: n }, (_, i) => webEvent({ visitor_id: `${tag}-${i}`, entities: { event_entity_id: event, organizer_id: org } }));

  it('an organizer subscribing to a made-up `E1|norevenue` gets that event\'s own data, nothing of E1', async () => {
    // Venue staff at V1 hold E1's revenue-free variant: the entry the made-up name collided with.
    const venue = await open(await mintToken(live.base, live.t, { role: 'venue', venue_ids: ['V1'] }));
    expect((await venue.subscribe('analytics:event:E1')).data).toMatchObject({ event_id: 'E1', funnel: { views: 5 } });
    // The attacker: the public write key names itself organizer of a made-up event, then reads it with its token.
    await sendEvents(live.base, live.t, views('E1|norevenue', 'O2', 1, 'att1'));
    const o2 = await open(await mintToken(live.base, live.t, { role: 'organizer', org_id: 'O2' }));
    const topic = 'analytics:event:E1|norevenue';
    let snap = await o2.subscribe(topic);
    for (let i = 0; snap.type === 'error' && snap.code === 'forbidden' && i < 50; i++) {
      await sleep(100); // the made-up event reaches the live state a moment after its POST
      snap = await o2.subscribe(topic);
    }
    expect(snap.type).toBe('snapshot');
    expect(snap.data).toMatchObject({ event_id: 'E1|norevenue', organizer_id: 'O2', funnel: { views: 1 } });
    // E1 changes: the venue sees it, the attacker's topic carries nothing of E1.
    await sendEvents(live.base, live.t, views('E1', 'O1', 2, 'more-e1'));
    await venue.until('analytics:event:E1', (d) => d.funnel.views === 7);
    await sleep(600);
    const theirs = o2.messages.filter((m) => m.topic === topic && (m.type === 'snapshot' || m.type === 'update'));
    expect(theirs.length).toBeGreaterThan(0);
    for (const m of theirs) expect(m.data).toMatchObject({ event_id: 'E1|norevenue', revenue: {} });
    expect(JSON.stringify(o2.messages)).not.toContain('"One"'); // E1's catalog title
  });

  it('venue staff of E2 see E2\'s real numbers after an attacker subscribed to `E2|norevenue` first', async () => {
    await sendEvents(live.base, live.t, views('E2|norevenue', 'O1', 7, 'att2'));
    const attacker = await open(await mintToken(live.base, live.t, { role: 'organizer', org_id: 'O1' }));
    const topic = 'analytics:event:E2|norevenue';
    let snap = await attacker.subscribe(topic);
    for (let i = 0; snap.type === 'error' && i < 50; i++) {
      await sleep(100);
      snap = await attacker.subscribe(topic);
    }
    expect(snap.data).toMatchObject({ event_id: 'E2|norevenue', funnel: { views: 7 } });
    const venue = await open(await mintToken(live.base, live.t, { role: 'venue', venue_ids: ['V1'] }));
    const e2 = await venue.subscribe('analytics:event:E2');
    expect(e2.type).toBe('snapshot');
    expect(e2.data).toMatchObject({ event_id: 'E2', organizer_id: 'O3', funnel: { views: 3, orders: 1 } });
    expect(e2.data.revenue).toBeUndefined();
    // Its updates are E2's too.
    await sendEvents(live.base, live.t, views('E2', 'O3', 1, 'more-e2'));
    expect(await venue.until('analytics:event:E2', (d) => d.funnel.views === 4)).toMatchObject({ event_id: 'E2' });
    for (const m of venue.messages.filter((m) => m.topic === 'analytics:event:E2' && m.data)) expect(m.data.event_id).toBe('E2');
  });

  it('a dashboard whose id ends in `#view_ad_analytics` receives no notice of the dashboard it names', async () => {
    const owner = await open(await mintToken(live.base, live.t, { role: 'organizer', org_id: 'O1' }));
    expect((await owner.subscribe('analytics:dashboard:O1')).type).toBe('snapshot');
    const spoof = await open(await mintToken(live.base, live.t, { role: 'organizer', org_id: 'O1#view_ad_analytics' }));
    expect((await spoof.subscribe('analytics:dashboard:O1#view_ad_analytics')).type).toBe('snapshot');
    await live.server.live.notice(live.t.tenant_id, { kind: 'dashboard', org: 'O1' }, 'view_ad_analytics', { kind: 'campaign_budget_low', budget_id: 1 });
    await owner.next((m) => m.type === 'notice');
    spoof.send({ op: 'ping' });
    await spoof.next((m) => m.type === 'pong');
    await sleep(200);
    expect(spoof.messages.filter((m) => m.type === 'notice')).toEqual([]);
  });
});
