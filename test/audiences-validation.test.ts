// Audience bodies (README "Audiences"): the top-level ticket_category belongs to event_id (the category the
// catalog event must sell). Next to an event_hypothesis it was silently ignored — estimates and builds priced at
// the default 50, a category naming nothing passing — so it is a 400 invalid_field naming it and pointing to
// event_hypothesis.ticket_category, in the parser and over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBuild, parseEstimateRequest } from '../server/audiences/schemas.js';
import { BLANK } from '../server/audiences/personas.fixture.js';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { seedPersons } from './audiences-helpers.js';

describe('audience body validation', () => {
  it('refuses a top-level ticket_category next to an event_hypothesis', () => {
    for (const ticket_category of ['NOPE', 'VIP', '']) {
      const e = parseEstimateRequest({ event_hypothesis: { genres: ['rock'] }, ticket_category });
      expect(e.ok ? null : e.error.field).toBe('ticket_category');
      expect(e.ok ? '' : e.error.message).toContain('event_hypothesis.ticket_category');
      const b = parseBuild({ name: 'y', event_hypothesis: { genres: ['rock'] }, ticket_category });
      expect(b.ok ? null : b.error.field).toBe('ticket_category');
    }
    // Where it belongs, it is read.
    const inside = parseEstimateRequest({ event_hypothesis: { ticket_category: 'VIP' } });
    expect(inside.ok && 'hypothesis' in inside.value.target ? inside.value.target.hypothesis.ticket_category : null).toBe('VIP');
    const withEvent = parseBuild({ name: 'y', event_id: 'E1', ticket_category: 'VIP' });
    expect(withEvent.ok ? withEvent.value.target : null).toEqual({ eventId: 'E1', ticketCategory: 'VIP' });
  });

  describe('over HTTP', () => {
    let server: Awaited<ReturnType<typeof bootServer>>;
    let t: Tenant;
    const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);

    beforeAll(async () => {
      server = await bootServer();
      t = await createTenant(server.url, 'audiences-validation');
      await seedPersons(server.url, t, server.db, { a1: { facts: { ...BLANK, city: 'Cluj', genreAffinity: { rock: 80 } } } });
      await call('PUT', '/api/v1/catalog/events', { items: [{ id: 'EF1', title: 'Fest', starts_at: new Date(Date.now() + 30 * 86_400_000).toISOString() }] });
      await call('PUT', '/api/v1/catalog/ticket_types', { items: [{ id: 'T1', event_id: 'EF1', category: 'VIP', price: 100, currency: 'RON' }] });
    }, 120_000);
    afterAll(async () => {
      await server?.close();
    });

    it('estimate and build answer 400 naming ticket_category; nothing is built', async () => {
      for (const ticket_category of ['NOPE', 'VIP']) {
        const est = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: { genres: ['rock'] }, ticket_category, fresh: true });
        expect(est.status).toBe(400);
        expect(est.json.error).toMatchObject({ code: 'invalid_field', in: 'body', field: 'ticket_category' });
        const build = await call('POST', '/api/v1/audience/build', { name: 'y', event_hypothesis: { genres: ['rock'] }, ticket_category });
        expect(build.status).toBe(400);
        expect(build.json.error.field).toBe('ticket_category');
        expect(build.json.error.message).toContain('event_hypothesis.ticket_category');
      }
      expect((await call('GET', '/api/v1/audiences')).json.audiences).toEqual([]);
      // Inside the hypothesis the category prices the estimate; with event_id it still selects the event's tickets.
      const inside = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: { genres: ['rock'], ticket_category: 'VIP' }, fresh: true });
      expect(inside.status).toBe(200);
      expect(inside.json).toMatchObject({ currency: 'RON', event_hypothesis: { price_from: 100, price_to: 100 } });
      expect((await call('POST', '/api/v1/audience/build', { name: 'z', event_id: 'EF1', ticket_category: 'VIP' })).status).toBe(201);
    });
  });
});
