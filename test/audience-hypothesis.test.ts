// A hypothesis' catalog references and name matching (issue 14 probe), over the store's SQL (fresh estimates)
// and builds: venue_id supplies the venue's city as an event_id does; ticket_category the category's prices and
// currency; references naming nothing are 400s naming the field; cities and genres match case-insensitively.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLANK } from '../server/audiences/personas.fixture.js';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { seedPersons } from './audiences-helpers.js';

describe('audience hypotheses', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);
  const estimate = async (h: Record<string, unknown>) => {
    const r = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: h, min_propensity: 0, fresh: true });
    expect(r.status, JSON.stringify(h)).toBe(200);
    return r.json;
  };

  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'hypotheses');
    await seedPersons(server.url, t, server.db, {
      h1: { facts: { ...BLANK, city: 'Cluj', avgOrderValue: 100, genreAffinity: { Rock: 80 } } },
      h2: { facts: { ...BLANK, city: 'Iasi', avgOrderValue: 20, genreAffinity: { jazz: 60 } } },
    });
    await call('PUT', '/api/v1/catalog/venues', { items: [{ id: 'V1', name: 'Arena', city: 'Cluj' }] });
    await call('PUT', '/api/v1/catalog/events', { items: [{ id: 'EF1', venue_id: 'V1', title: 'Fest', starts_at: new Date(Date.now() + 30 * 86_400_000).toISOString() }] });
    await call('PUT', '/api/v1/catalog/ticket_types', { items: [{ id: 'T1', event_id: 'EF1', category: 'GA', price: 40, currency: 'RON' }, { id: 'T2', event_id: 'EF1', category: 'VIP', price: 100, currency: 'RON' }] });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('venue_id gives the venue\'s city its weight, as event_id does', async () => {
    const none = await estimate({});
    const city = await estimate({ city: 'Cluj' });
    const venue = await estimate({ venue_id: 'V1' });
    expect(city.expected_buyers).not.toBe(none.expected_buyers);
    expect(venue.expected_buyers).toBe(city.expected_buyers);
    expect(venue.event_hypothesis.city).toBe('Cluj');
  });

  it('ticket_category takes the category\'s prices and currency; a category or venue naming nothing is a 400', async () => {
    const vip = await estimate({ ticket_category: 'VIP' });
    const priced = await estimate({ price_from: 100, price_to: 100 });
    expect(vip).toMatchObject({ currency: 'RON', event_hypothesis: { price_from: 100, price_to: 100 }, expected_buyers: priced.expected_buyers });
    expect(vip.expected_gmv).toBe(priced.expected_gmv);
    const bad: [unknown, string][] = [
      [{ event_hypothesis: { ticket_category: 'NOPE' } }, 'event_hypothesis.ticket_category'],
      [{ event_hypothesis: { venue_id: 'V9' } }, 'event_hypothesis.venue_id'],
      [{ event_id: 'EF1', ticket_category: 'NOPE' }, 'ticket_category'],
    ];
    for (const [body, field] of bad) {
      for (const path of ['/api/v1/audience/estimate', '/api/v1/audience/build']) {
        const r = await call('POST', path, { ...(path.endsWith('build') ? { name: 'x' } : {}), ...(body as object) });
        expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
        expect(r.json.error.field).toBe(field);
      }
    }
  });

  it('cities and genres match case-insensitively, the same in the estimate and the build', async () => {
    const exact = await estimate({ city: 'Cluj', genres: ['Rock'] });
    const lower = await estimate({ city: ' cluj', genres: ['ROCK'] });
    expect(lower.expected_buyers).toBe(exact.expected_buyers);
    expect(exact.expected_buyers).not.toBe((await estimate({})).expected_buyers);
    const members = async (h: Record<string, unknown>) => {
      const b = await call('POST', '/api/v1/audience/build', { name: 'b', event_hypothesis: h, min_propensity: 0 });
      expect(b.status).toBe(201);
      return (await call('GET', `/api/v1/audiences/${b.json.id}/members`)).json.members;
    };
    expect(await members({ city: 'cluj', genres: ['rock'] })).toEqual(await members({ city: 'Cluj', genres: ['Rock'] }));
  });
});
