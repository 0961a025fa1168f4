// The SDK's helpers chunk (dist/tx-helpers.js) in Chromium against the real server: impressions (≥ 50 % visible,
// once per card per page view), detail-view duration, UTM-decorated ticket links, and experiments: the
// GrowthBook vectors and frozen assignments the server's unit test reads, the server's assignments equal to
// the SDK's, one exposure per (experiment, variant, visitor) per session, across the site's tabs.
import fs from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { assignVariant } from '../client/shared/experiment-hash.js';
import { getJson, postJson, until } from './helpers.js';
import { sdkSuite } from './sdk-suite-helpers.js';

declare const window: any, document: any, localStorage: any;

const VECTORS = JSON.parse(fs.readFileSync(new URL('../client/shared/experiment-vectors.json', import.meta.url), 'utf8'));

const cards = Array.from({ length: 8 }, (_, i) => `<div class="card" data-tx-event="E${i}" style="height:300px;border:1px solid #ccc">Event E${i}</div>`).join('');
const PAGE = () => `<!doctype html><html><head><meta charset="utf-8"><title>helpers</title><style>body{margin:0}</style></head><body>
<h1 style="height:100px;margin:0">helpers</h1>
<div id="modal"><button id="like">like</button></div>
<a id="keep" data-tx-ticket="E1" data-tx-provider="ticketmaster" href="https://tickets.example/buy?e=1&utm_source=seller">Tickets</a>
<a id="plain" data-tx-ticket="E2" href="https://tickets.example/buy?e=2">Tickets</a>
<div id="list">${cards}</div><div style="height:3000px"></div>
<script src="/tx.js"></script><script>${env.helpers}</script>
<script>window.tx = new TxTracker(window.TX_CONFIG); document.querySelectorAll('a').forEach((a) => a.addEventListener('click', (e) => e.preventDefault()));</script>
</body></html>`;

// Ticket links as sellers hand them out: a signed query the seller checks byte for byte, an anchor whose link is
// not known yet. Clicks and middle clicks do not leave the page.
const SIGNED = 'https://tickets.example/buy?e=1&flag&tok=a~b&path=/x/y&sp=a%20b#frag';
const LINKS = () => `<!doctype html><html><head><meta charset="utf-8"><title>links</title></head><body>
<a id="signed" data-tx-ticket="E1" href="${SIGNED}">Tickets</a>
<a id="bare" data-tx-ticket="E4">Tickets soon</a>
<a id="mid" data-tx-ticket="E3" data-tx-provider="dice" href="https://tickets.example/buy?e=3">Tickets</a>
<script src="/tx.js"></script><script>${env.helpers}</script>
<script>window.tx = new TxTracker(window.TX_CONFIG); for (const t of ['click', 'auxclick']) document.querySelectorAll('a').forEach((a) => a.addEventListener(t, (e) => e.preventDefault()));</script>
</body></html>`;
// An event page of the site whose checkout is on the site itself, next to an outbound seller link.
const EVENT_PAGE = () => `<!doctype html><html><head><meta charset="utf-8"><title>event</title></head><body>
<a id="checkout" data-tx-ticket="E5" href="/checkout/E5">Buy</a>
<a id="out" data-tx-ticket="E5" href="https://tickets.example/buy?e=5">Buy at the seller</a>
<script src="/tx.js"></script><script>${env.helpers}</script>
<script>window.tx = new TxTracker(window.TX_CONFIG);</script>
</body></html>`;

const env = sdkSuite({ tenant: 'helpers', pages: () => ({ '/h': PAGE(), '/links': LINKS(), '/event/E5': EVENT_PAGE() }) });

async function open(consent: Record<string, boolean> | null = { analytics: true }, at = '/h'): Promise<{ page: Page; vid: string; ctx: BrowserContext; close: () => Promise<void> }> {
  const ctx = await env.profile({ flushInterval: 200, ...(consent ? { consent } : {}) });
  const page = await ctx.newPage();
  await page.goto(`${env.site.origin}${at}`);
  const vid = (await page.evaluate(() => window.tx.getIds()?.visitor_id ?? '')) as string;
  return { page, vid, ctx, close: () => ctx.close() };
}

const stored = (vid: string, name: string) => env.byVisitor(vid, name);
const flush = (page: Page) => page.evaluate(() => window.tx.flush());

describe('SDK helpers in Chromium', () => {
  it('counts an impression once per card per page view, at ≥ 50 % visible', async () => {
    const { page, vid, close } = await open();
    const perCard = async () => {
      await flush(page);
      const out: Record<string, number> = {};
      for (const e of await stored(vid, 'event_card_impression')) out[e.entities.event_entity_id] = (out[e.entities.event_entity_id] ?? 0) + 1;
      return Object.fromEntries(Object.entries(out).sort());
    };
    const reach = (want: Record<string, number>) => until(async () => JSON.stringify(await perCard()) === JSON.stringify(Object.fromEntries(Object.entries(want).sort())) && want, 30_000);
    // Viewport 720 px: cards start at 160 px (heading, modal, links); E0 and E1 are whole, E2 shows 20 px.
    const top = (await page.evaluate(() => document.getElementById('list').getBoundingClientRect().top)) as number;
    await page.evaluate(() => window.TxHelpers.trackImpressions(window.tx, { list_name: 'home' }));
    const visibleAt = (scroll: number) => Array.from({ length: 8 }, (_, i) => i).filter((i) => {
      const a = top + i * 300 - scroll;
      const seen = Math.max(0, Math.min(a + 300, 720) - Math.max(a, 0));
      return seen >= 150;
    });
    const first = visibleAt(0);
    expect(first.length).toBeGreaterThan(0);
    await reach(Object.fromEntries(first.map((i) => [`E${i}`, 1])));
    // Scrolled down: the newly visible cards count once; scrolling back up counts nothing again.
    await page.evaluate(() => window.scrollTo(0, 900));
    const second = visibleAt(900);
    const counts: Record<string, number> = Object.fromEntries(first.map((i) => [`E${i}`, 1]));
    for (const i of second) counts[`E${i}`] = 1;
    await reach(counts);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))'); // two frames: the observer has run
    // A new page view counts the visible cards again.
    await page.evaluate(() => window.tx.pageView());
    for (const i of first) counts[`E${i}`] += 1;
    const rows = await reach(counts);
    await flush(page);
    expect(await perCard()).toEqual(Object.fromEntries(Object.entries(counts).sort()));
    expect(Object.keys(rows).length).toBe(new Set([...first, ...second]).size);
    const one = (await stored(vid, 'event_card_impression'))[0];
    expect(one.payload).toMatchObject({ list_name: 'home' });
    expect(typeof one.payload.position).toBe('number');
    await close();
  });

  it('counts a card seen before consent once it is seen again after consent (it was marked counted, never sent)', async () => {
    const { page, close } = await open(null);
    await page.evaluate(() => window.TxHelpers.trackImpressions(window.tx, { list_name: 'pre' }));
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    await page.evaluate(() => window.tx.setConsent({ analytics: true }));
    const vid = (await page.evaluate(() => window.tx.getIds().visitor_id)) as string;
    // Out of view and back, no page view between: E0 must count now.
    await page.evaluate(() => window.scrollTo(0, 2600));
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    await page.evaluate(() => window.scrollTo(0, 0));
    await until(async () => {
      await flush(page);
      return (await stored(vid, 'event_card_impression')).some((e) => e.entities.event_entity_id === 'E0' && e.payload.list_name === 'pre');
    }, 30_000);
    await close();
  });

  it('sends the detail view open and its close with the visible duration and interaction', async () => {
    const { page, vid, close } = await open();
    await page.evaluate(async () => {
      const v = window.TxHelpers.trackDetailView(window.tx, { event_entity_id: 'E5', source: 'event_modal' }, document.getElementById('modal'));
      document.getElementById('like').click();
      await new Promise((r) => setTimeout(r, 300));
      v.close({ viewed_setlist: true });
      v.close();
    });
    await flush(page);
    const rows = await until(async () => {
      const e = await stored(vid, 'event_detail_view');
      return e.length >= 2 ? e : null;
    }, 20_000);
    expect(rows.map((e) => e.payload.action).sort()).toEqual(['close', 'open']);
    const c = rows.find((e) => e.payload.action === 'close')!;
    expect(c.entities.event_entity_id).toBe('E5');
    expect(c.payload).toMatchObject({ interacted: true, viewed_setlist: true, source: 'event_modal' });
    expect(c.payload.duration_ms).toBeGreaterThanOrEqual(250);
    await close();
  });

  it('decorates ticket links with UTM parameters (keeping the seller\'s own) and records the click', async () => {
    const { page, vid, close } = await open();
    const hrefs = (await page.evaluate(() => {
      window.TxHelpers.trackTicketLinks(window.tx, { utm: { source: 'tixello', campaign: 'spring' }, source: 'event_modal' });
      return [document.getElementById('keep').href, document.getElementById('plain').href];
    })) as string[];
    const keep = new URL(hrefs[0]);
    expect(Object.fromEntries(keep.searchParams)).toEqual({ e: '1', utm_source: 'seller', utm_medium: 'referral', utm_campaign: 'spring' });
    expect(Object.fromEntries(new URL(hrefs[1]).searchParams)).toEqual({ e: '2', utm_source: 'tixello', utm_medium: 'referral', utm_campaign: 'spring' });
    expect(await page.evaluate(() => window.TxHelpers.decorateUrl('mailto:x@example.com', { source: 'a' }))).toBe('mailto:x@example.com');
    await page.click('#keep');
    const [click] = await until(async () => {
      const e = await stored(vid, 'ticket_link_click');
      return e.length ? e : null;
    }, 20_000);
    expect(click.entities.event_entity_id).toBe('E1');
    expect(click.payload).toMatchObject({ ticket_url: hrefs[0], ticket_provider: 'ticketmaster', source: 'event_modal' });
    await close();
  });

  it('adds the missing utm_* to a ticket link and leaves the seller\'s query string byte for byte (a signed link stays valid)', async () => {
    const { page, close } = await open(undefined, '/links');
    const hrefs = (await page.evaluate(() => {
      window.TxHelpers.trackTicketLinks(window.tx, { utm: { source: 'tixello', campaign: 'spring' } });
      return [document.getElementById('signed').getAttribute('href'), window.TxHelpers.decorateUrl('https://tickets.example/buy?', { source: 'a b' })];
    })) as string[];
    expect(hrefs[0]).toBe('https://tickets.example/buy?e=1&flag&tok=a~b&path=/x/y&sp=a%20b&utm_source=tixello&utm_medium=referral&utm_campaign=spring#frag');
    expect(hrefs[1]).toBe('https://tickets.example/buy?utm_source=a%20b');
    await close();
  });

  it('leaves a ticket anchor without an href without one (no href="" that reloads the page)', async () => {
    const { page, close } = await open(undefined, '/links');
    const bare = await page.evaluate(() => {
      window.TxHelpers.trackTicketLinks(window.tx, { utm: { source: 'tixello' } });
      const a = document.getElementById('bare');
      return { has: a.hasAttribute('href'), attrs: a.getAttributeNames() };
    });
    expect(bare).toEqual({ has: false, attrs: ['id', 'data-tx-ticket'] });
    await close();
  });

  it('records a middle click on a ticket link like a Ctrl+click, once per click; a right click records nothing', async () => {
    const { page, vid, close } = await open(undefined, '/links');
    await page.evaluate(() => {
      // Every ticket_link_click the helper sends, as it sends it.
      window.sent = [];
      const orig = window.tx.track;
      window.tx.track = function (this: unknown, name: string, props: Record<string, unknown>, ...rest: unknown[]) {
        if (name === 'ticket_link_click') window.sent.push(props.event_entity_id);
        return orig.call(this, name, props, ...rest);
      };
      window.TxHelpers.trackTicketLinks(window.tx, { utm: { source: 'tixello' }, source: 'event_card' });
    });
    await page.click('#mid', { button: 'middle' });
    expect(await page.evaluate(() => window.sent)).toEqual(['E3']);
    await page.click('#mid', { modifiers: ['Control'] });
    await page.click('#mid', { button: 'right' });
    expect(await page.evaluate(() => window.sent)).toEqual(['E3', 'E3']);
    const rows = await until(async () => {
      await flush(page);
      const e = await stored(vid, 'ticket_link_click');
      return e.length >= 2 ? e : null;
    }, 20_000);
    expect(rows.map((e) => [e.entities.event_entity_id, e.payload.ticket_url, e.payload.ticket_provider, e.payload.source])).toEqual([
      ['E3', 'https://tickets.example/buy?e=3&utm_source=tixello&utm_medium=referral', 'dice', 'event_card'],
      ['E3', 'https://tickets.example/buy?e=3&utm_source=tixello&utm_medium=referral', 'dice', 'event_card'],
    ]);
    await close();
  });

  it('decorates only links to another origin: a checkout on the site keeps the visit\'s campaign', async () => {
    const landing = '/event/E5?utm_source=newsletter&utm_medium=email&utm_campaign=spring';
    const { page, vid, close } = await open(undefined, landing);
    const hrefs = await page.evaluate(() => {
      window.TxHelpers.trackTicketLinks(window.tx);
      return [document.getElementById('checkout').getAttribute('href'), document.getElementById('out').getAttribute('href')];
    });
    // The outbound link still gets the defaults (utm_source = this host).
    expect(hrefs).toEqual(['/checkout/E5', 'https://tickets.example/buy?e=5&utm_source=127.0.0.1&utm_medium=referral']);
    await Promise.all([page.waitForURL(`${env.site.origin}/checkout/E5*`), page.click('#checkout')]);
    expect(page.url()).toBe(`${env.site.origin}/checkout/E5`);
    // The click is tracked, with the link as it is.
    const [click] = await until(async () => {
      const e = await stored(vid, 'ticket_link_click');
      return e.length ? e : null;
    }, 20_000);
    expect(click.entities.event_entity_id).toBe('E5');
    expect(click.payload.ticket_url).toBe(`${env.site.origin}/checkout/E5`);
    // The checkout page's page view carries the campaign the visit came with.
    await page.waitForFunction(() => !!window.tx);
    await page.evaluate(() => window.tx.pageView());
    const [pv] = await until(async () => {
      await flush(page);
      const e = (await stored(vid, 'page_view')).filter((x) => x.context?.page?.path === '/checkout/E5');
      return e.length ? e : null;
    }, 20_000);
    expect(pv.context.utm).toMatchObject({ source: 'newsletter', medium: 'email', campaign: 'spring' });
    await close();
  });

  it('hashes like the server (shared vectors) and gets the server\'s assignments; one exposure per variant per session', async () => {
    const { page, vid, close } = await open();
    const got = (await page.evaluate((v: any) => ({
      hash: v.hash.map(([seed, value, version]: [string, string, number]) => window.TxHelpers.gbHash(seed, value, version)),
      assign: v.assign.map((a: any) => window.TxHelpers.assignVariant(a.experiment, a.id)),
    }), VECTORS)) as { hash: (number | null)[]; assign: (string | null)[] };
    expect(got.hash).toEqual(VECTORS.hash.map((h: unknown[]) => h[3]));
    expect(got.assign).toEqual(VECTORS.assign.map((a: { variant: string | null }) => a.variant));

    const defs = [
      { key: 'sdk_button', variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.5 }] },
      { key: 'sdk_ranking', variants: [{ key: 'a', weight: 0.2 }, { key: 'b', weight: 0.3 }, { key: 'c', weight: 0.5 }], coverage: 0.9 },
    ];
    for (const d of defs) {
      const r = await postJson(`${env.base}/api/v1/experiments`, { ...d, start: new Date(Date.now() - 60_000).toISOString() }, { authorization: `Bearer ${env.t.secret_key}` });
      expect(r.status, r.text).toBe(201);
    }
    const res = (await page.evaluate(async ([key, endpoint, d]: [string, string, unknown[]]) => {
      const xp = await window.TxHelpers.loadExperiments(window.tx, { writeKey: key, endpoint });
      const local = window.TxHelpers.localExperiments(window.tx, d);
      const first = xp.variant('sdk_button');
      xp.variant('sdk_button');
      xp.variant('sdk_button');
      // A new session (the old one removed): the same variant is exposed once more.
      localStorage.removeItem('tx_session');
      xp.variant('sdk_button');
      xp.variant('sdk_button');
      await window.tx.flush();
      return { server: xp.assignments, local: local.assignments, first };
    }, [env.t.write_key, env.base, defs] as [string, string, unknown[]])) as { server: Record<string, string>; local: Record<string, string>; first: string };
    const want: Record<string, string> = {};
    for (const d of defs) {
      const v = assignVariant(d, vid);
      if (v) want[d.key] = v;
    }
    expect(res.server).toMatchObject(want);
    expect(Object.keys(res.server).filter((k) => k.startsWith('sdk_')).sort()).toEqual(Object.keys(want).sort());
    expect(res.local).toEqual(want);
    expect(res.first).toBe(want.sdk_button);
    const exposures = await until(async () => {
      await flush(page);
      const e = await stored(vid, 'experiment_exposure');
      return e.length >= 2 ? e : null;
    }, 20_000);
    expect(exposures.map((e) => e.payload)).toEqual([{ experiment_id: 'sdk_button', variant: want.sdk_button }, { experiment_id: 'sdk_button', variant: want.sdk_button }]);
    expect(new Set(exposures.map((e) => e.session_id)).size).toBe(2);
    await close();
  });

  it('assigns a definition whose weights do not sum to exactly 1 as the server does once it stored it (shared vectors)', async () => {
    // The server stores [0.5, 0.51] rescaled; the page used to assign from the weights as written (GrowthBook's bare
    // ranges cut the last at 1), and about 1 visitor in 250 saw another variant than GET /api/tx/experiments said.
    const defs = new Map<string, { key: string }>(VECTORS.definitions.map((d: { experiment: { key: string } }) => [d.experiment.key, d.experiment]));
    for (const d of defs.values()) {
      const r = await postJson(`${env.base}/api/v1/experiments`, { ...d, start: new Date(Date.now() - 60_000).toISOString() }, { authorization: `Bearer ${env.t.secret_key}` });
      expect(r.status, r.text).toBe(201);
    }
    const { page, close } = await open();
    for (const v of VECTORS.definitions as { experiment: { key: string }; id: string; variant: string | null }[]) {
      const key = v.experiment.key;
      const server = (await getJson(`${env.base}/api/tx/experiments?visitor_id=${encodeURIComponent(v.id)}&key=${env.t.write_key}`)).json.assignments[key] ?? null;
      const local = await page.evaluate(([def, id]: [unknown, string]) => window.TxHelpers.assignVariant(def, id), [v.experiment, v.id] as [unknown, string]);
      expect({ server, local }, `${key}|${v.id}`).toEqual({ server: v.variant, local: v.variant });
    }
    await close();
  });

  it('sends one exposure per (experiment, variant) per session across the site\'s tabs, and keeps no session id after consent is withdrawn', async () => {
    const def = { key: 'sdk_tabs', variants: [{ key: 'a', weight: 0.5 }, { key: 'b', weight: 0.5 }] };
    const r = await postJson(`${env.base}/api/v1/experiments`, { ...def, start: new Date(Date.now() - 60_000).toISOString() }, { authorization: `Bearer ${env.t.secret_key}` });
    expect(r.status, r.text).toBe(201);
    const { page: one, vid, ctx, close } = await open();
    const two = await ctx.newPage();
    await two.goto(`${env.site.origin}/h`);
    const ids = await one.evaluate(() => window.tx.getIds());
    expect(await two.evaluate(() => window.tx.getIds())).toEqual(ids); // one visitor, one session (client/README "Tabs")
    const expose = (page: Page) =>
      page.evaluate(async ([key, endpoint]: [string, string]) => {
        const xp = await window.TxHelpers.loadExperiments(window.tx, { writeKey: key, endpoint });
        const v = xp.variant('sdk_tabs');
        await window.tx.flush();
        return v;
      }, [env.t.write_key, env.base] as [string, string]) as Promise<string>;
    const v = await expose(one);
    expect(v).toBe(assignVariant(def, vid));
    await until(async () => (await stored(vid, 'experiment_exposure')).length > 0, 20_000);
    // The tabs dedupe through the key tab one wrote to localStorage, which Chromium copies to the other tab
    // asynchronously (a loaded machine takes a while): tab two asks once it sees that key.
    await two.waitForFunction(([k, sid]: [string, string]) => localStorage.getItem(k) === sid, [`tx_session_xp.sdk_tabs|${v}`, ids.session_id] as [string, string], { timeout: 20_000 });
    // The second tab: same variant, no exposure; a page view it records afterwards marks the end of its queue.
    expect(await expose(two)).toBe(v);
    expect(await two.evaluate((x: string) => window.TxHelpers.exposure(window.tx, 'sdk_tabs', x), v)).toBe(false);
    await two.evaluate(() => window.tx.pageView());
    await until(async () => {
      await flush(two);
      return (await stored(vid, 'page_view')).length > 0;
    }, 20_000);
    const exposures = await stored(vid, 'experiment_exposure');
    expect(exposures.map((e) => [e.session_id, e.payload])).toEqual([[ids.session_id, { experiment_id: 'sdk_tabs', variant: v }]]);
    // Withdrawn consent: neither storage keeps the session's id (the dedupe list included).
    await one.evaluate(() => window.tx.setConsent({ analytics: false }));
    const kept = (page: Page) =>
      page.evaluate((sid: string) => {
        const out: string[] = [];
        for (const s of [localStorage, window.sessionStorage]) for (const k of Object.keys(s)) if (String(s.getItem(k)).includes(sid)) out.push(k);
        return out;
      }, ids.session_id);
    expect(await kept(one)).toEqual([]);
    await close();
  });
});
