// The marketplace admin's approval queue (/dashboard#approvals, issue 16 items 2 and 6) in Chromium, against a real
// server and the mock ad platforms: two organizers' suites pending review across budgets; the reviewer's secret key
// sees each campaign with what a decision needs, approves several (each published with the daily budget the page
// proposed), sees a platform's refusal as failed with its error, rejects several with a note, and the queue
// refreshes after each. A dashboard token and a key without approve_campaigns get a readable message and no
// actions. Screenshot in test-output/.
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { accessMessage, isSecretKey, outcomeOf, readQueue, targetingSummary } from '../client/dashboard/approvals-data.js';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';
import { type bootServer, request, type Tenant } from './helpers.js';
import { closeAfterAll, serverOnMockPlatforms } from './campaigns-app-helpers.js';
import type { MockPlatforms } from './mock-ad-platforms/index.js';

declare const document: any;
declare const location: any;

describe('approval queue data (pure)', () => {
  const entry = (o: Record<string, unknown> = {}) => ({
    id: 7, name: 'Rock Night — Prospecting (meta)', organizer_id: 'O1', event_id: 'E1', event_title: 'Rock Night', platform: 'meta', campaign_type: 'prospecting',
    targeting: { age_min: 18, age_max: 65, locations: [{ city: 'Cluj', radius_km: 50 }], interests: ['rock'], custom_audiences: [], lookalike_audiences: [], excluded_audiences: [{ type: 'ticket_buyers', audience_id: null }] },
    creative: { headline: 'Rock Night: get your tickets' }, proposed_daily_budget: 12.5,
    budget: { id: 3, status: 'active', currency: 'EUR', total_budget: 600, spent_budget: 10, remaining: 590, daily_budget_limit: 150, day_target: 42.14, allocation_strategy: 'equal_split', running: 1, running_daily: 3.5, pending_review: 11 },
    ...o,
  });

  it('reads the queue across budgets and skips what is not a campaign with its budget', () => {
    const q = readQueue({ campaigns: [entry(), entry({ id: 8, budget: null }), { id: 'x' }, entry({ id: 9, event_title: null, event_id: null })], next_cursor: 'abc' })!;
    expect(q.more).toBe(true);
    expect(q.items.map((i) => i.id)).toEqual([7, 9]);
    expect(q.items[0]).toMatchObject({ organizer: 'O1', event: 'Rock Night', platform: 'meta', headline: 'Rock Night: get your tickets', proposed: 12.5, budget: { id: 3, total: 600, remaining: 590, dailyLimit: 150, dayTarget: 42.14, running: 1, pending: 11 } });
    expect(q.items[1].event).toBeNull();
    expect(readQueue({ campaigns: [], next_cursor: null })).toEqual({ items: [], more: false });
    expect(readQueue({ error: {} })).toBeNull();
  });

  it('summarises targeting in words', () => {
    expect(targetingSummary(entry().targeting)).toBe('Ages 18–65 · Cluj +50 km · Interests: rock · Excludes: ticket buyers');
    expect(targetingSummary({ custom_audiences: [{ type: 'event_viewers', audience_id: 4 }], lookalike_audiences: [{ type: 'lookalike', ratio: 0.02, audience_id: null }] }))
      .toBe('Audiences: event viewers (synced), lookalike 2 %');
    expect(targetingSummary(null)).toBe('No targeting');
  });

  it('turns each answer into a result: published, failed with the platform\'s error, rejected with the note, refused', () => {
    expect(outcomeOf('approve', 7, 200, { campaign: { status: 'active', platform: 'meta', external_campaign_id: '120', daily_budget: 12.5 } }))
      .toEqual({ id: 7, verb: 'approve', state: 'published', text: 'Published on Meta (campaign 120), daily budget 12.50.' });
    expect(outcomeOf('approve', 7, 200, { campaign: { status: 'failed', platform: 'tiktok', last_error: 'TikTok code 40002: budget too low' } }))
      .toMatchObject({ state: 'failed', text: 'Failed: TikTok refused it: TikTok code 40002: budget too low.' });
    expect(outcomeOf('approve', 7, 200, { campaign: { status: 'publishing', platform: 'meta', last_error: 'HTTP 500: unavailable' } }))
      .toMatchObject({ state: 'retrying', text: 'Approved, being published on Meta (it answered: HTTP 500: unavailable); retried every minute until it runs.' });
    expect(outcomeOf('reject', 7, 200, { campaign: { status: 'draft', status_reason: 'New artwork' } })).toMatchObject({ state: 'rejected', text: 'Rejected: back to draft for the organizer (note: New artwork).' });
    expect(outcomeOf('approve', 7, 409, { error: { message: 'None of these campaigns is pending review.' } })).toMatchObject({ state: 'refused', text: 'Not pending review any more: None of these campaigns is pending review.' });
    expect(outcomeOf('reject', 7, 0, null).state).toBe('refused');
  });

  it('says why a principal sees no actions', () => {
    expect(accessMessage('token', 403)).toMatch(/^This token may not approve campaigns\. .*admin token/);
    expect(accessMessage('key', 403, { error: { message: 'Your role lacks approve_campaigns.' } })).toBe('This key may not approve campaigns (Your role lacks approve_campaigns.). Ask the tenant\'s admin for a key allowed to (permission approve_campaigns), or an admin token.');
    expect(accessMessage('key', 401)).toMatch(/does not accept this key/);
    expect([isSecretKey('tx_sk_abcdefgh1234'), isSecretKey('v1.abc.def'), isSecretKey('tx_pk_abcdefgh1234')]).toEqual([true, false, false]);
  });
});

describe('approval queue in Chromium', { timeout: 600_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let mock: MockPlatforms;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let t: Tenant;
  let b1: number;
  let b2: number;
  const api = (method: string, p: string, body?: unknown, auth = t.secret_key) => request(method, `${server.url}${p}`, body, { authorization: `Bearer ${auth}` });
  const queue = async () => (await api('GET', '/api/v1/campaigns/review-queue')).json.campaigns as any[];
  const rowIds = () => page.$$eval('#ap-rows tr[data-id]', (trs: any[]) => trs.map((tr) => Number(tr.dataset.id)));
  const waitRows = (n: number) => page.waitForFunction((k: number) => document.querySelectorAll('#ap-rows tr[data-id]').length === k && !document.querySelector('#ap-approve').disabled, n, { timeout: 120_000 });
  const results = () => page.$$eval('#ap-results li', (lis: any[]) => lis.map((li) => ({ id: Number(li.dataset.id), state: li.dataset.state, text: li.textContent })));
  const signIn = async (p: Page, secret: string) => {
    await p.goto(`${server.url}/dashboard#approvals`);
    await p.fill('#token-input', secret);
    await p.click('#signin-form button[type="submit"]');
  };

  beforeAll(async () => {
    ({ mock, server, t } = await serverOnMockPlatforms({ seed: 3, startMs: Date.now(), rates: () => ({ cpm: 6, ctr: 0.01, cvr: 0.02, aov: 60, claimFactor: 1.2 }) }, 'campaigns-approvals'));
    expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1', title: 'Rock Night', genres: ['rock'], city: 'Cluj' }, { id: 'E2', organizer_id: 'O2', title: 'Jazz Evening' }] })).status).toBe(200);
    b1 = (await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O1', event_id: 'E1', total_budget: 600, daily_budget_limit: 150, allocation_strategy: 'equal_split' })).json.id;
    b2 = (await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O2', event_id: 'E2', total_budget: 300, allocation_strategy: 'manual', platform_allocations: { meta: { percentage: 100 } } })).json.id;
    for (const b of [b1, b2]) {
      expect((await api('POST', `/api/v1/campaigns/budgets/${b}/suite`, {})).status).toBe(201);
      expect((await api('POST', `/api/v1/campaigns/budgets/${b}/submit`)).status).toBe(200);
    }
    browser = await launchChromium();
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await ctx.newPage();
    errors = pageErrors(page);
  }, 600_000);
  closeAfterAll(() => [browser, server, mock], 120_000);

  it('lists every campaign pending review across budgets with what a decision needs', async () => {
    const q = await queue();
    expect(q).toHaveLength(16);
    await signIn(page, t.secret_key);
    await waitRows(16);
    expect(await rowIds()).toEqual(q.map((c) => c.id));
    const rows = await page.$$eval('#ap-rows tr[data-id]', (trs: any[]) => trs.map((tr) => ({
      id: Number(tr.dataset.id), org: tr.querySelector('.ap-org').textContent, event: tr.querySelector('.ap-event').textContent, targeting: tr.querySelector('.ap-targeting').textContent,
      headline: tr.querySelector('.ap-headline').textContent, proposed: Number(tr.querySelector('.ap-proposed').dataset.value), total: Number(tr.querySelector('.ap-budget').dataset.total),
    })));
    for (const c of q) {
      const r = rows.find((x) => x.id === c.id)!;
      expect(r).toMatchObject({ org: c.organizer_id, event: c.event_title, headline: c.creative.headline, proposed: c.proposed_daily_budget, total: c.budget.total_budget });
      expect(r.proposed).toBeGreaterThan(0);
    }
    expect(new Set(rows.map((r) => r.org))).toEqual(new Set(['O1', 'O2']));
    // Approve and Reject stay whole words on one line: the cell rule (white-space: normal) no longer outranks the
    // actions' nowrap, which let the body's overflow-wrap: anywhere break "Appr-ove" in a narrow table.
    const actions = await page.$eval('#ap-rows tr[data-id] .ap-row-actions', (td: any) => {
      const cs = (globalThis as any).getComputedStyle;
      const btn = td.querySelector('.ap-one-approve');
      const lines = Math.round((btn.getBoundingClientRect().height - parseFloat(cs(btn).paddingTop) - parseFloat(cs(btn).paddingBottom)) / parseFloat(cs(btn).lineHeight));
      return { whiteSpace: cs(td).whiteSpace, lines };
    });
    expect(actions).toEqual({ whiteSpace: 'nowrap', lines: 1 });
    expect(rows.find((r) => r.id === q.find((c) => c.budget_id === b1 && c.campaign_type === 'prospecting').id)!.targeting).toContain('Interests: rock');
    expect(await page.textContent('#who')).toMatch(/^Campaign review · key …/);
  });

  it('pages the queue with a cursor and answers bad paging input with 400', async () => {
    const all = await queue();
    const first = (await api('GET', '/api/v1/campaigns/review-queue?limit=5')).json;
    expect(first.campaigns.map((c: any) => c.id)).toEqual(all.slice(0, 5).map((c) => c.id));
    const next = (await api('GET', `/api/v1/campaigns/review-queue?limit=5&cursor=${first.next_cursor}`)).json;
    expect(next.campaigns.map((c: any) => c.id)).toEqual(all.slice(5, 10).map((c) => c.id));
    const other = Buffer.from(JSON.stringify(['campaign_budgets', '1'])).toString('base64url');
    for (const q of ['limit=0', 'limit=abc', 'limit=501', 'cursor=%21%21', `cursor=${other}`]) {
      const r = await api('GET', `/api/v1/campaigns/review-queue?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.json.error.code, q).toBe('invalid_field');
    }
  });

  it('approves several: each published with the proposed daily budget, then the queue refreshes', async () => {
    const before = await queue();
    const picked = before.filter((c) => c.budget_id === b1 && c.platform === 'meta');
    expect(picked).toHaveLength(4);
    for (const c of picked) await page.check(`#ap-rows tr[data-id="${c.id}"] input.ap-pick`);
    await page.click('#ap-approve');
    await waitRows(12);
    const res = await results();
    expect(res.map((r) => r.id)).toEqual(picked.map((c) => c.id));
    expect(res.every((r) => r.state === 'published' && /Published on Meta \(campaign \d+\), daily budget/.test(r.text))).toBe(true);
    for (const c of picked) {
      const now = (await api('GET', `/api/v1/campaigns/budgets/${b1}`)).json.campaigns.find((x: any) => x.id === c.id);
      expect(now.status).toBe('active');
      expect(now.daily_budget).toBe(c.proposed_daily_budget);
    }
    expect(await rowIds()).toEqual((await queue()).map((c) => c.id));
  });

  it('shows a platform\'s refusal as failed with its error', async () => {
    const tk = (await queue()).find((c) => c.budget_id === b1 && c.platform === 'tiktok')!;
    mock.failOn((k) => k.path === '/open_api/v1.3/campaign/create/', { status: 200, body: { code: 40002, message: 'campaign name breaks the naming policy', data: {} } });
    await page.click(`#ap-rows tr[data-id="${tk.id}"] .ap-one-approve`);
    await waitRows(11);
    const [r] = await results();
    expect(r).toMatchObject({ id: tk.id, state: 'failed' });
    expect(r.text).toContain('TikTok refused it');
    expect(r.text).toContain('naming policy');
    const now = (await api('GET', `/api/v1/campaigns/budgets/${b1}`)).json.campaigns.find((x: any) => x.id === tk.id);
    expect(now.status).toBe('failed');
    expect(now.last_error).toContain('naming policy');
  });

  it('rejects several with a note: back to draft with the note, out of the queue', async () => {
    const picked = (await queue()).filter((c) => c.budget_id === b2).slice(0, 2);
    for (const c of picked) await page.check(`#ap-rows tr[data-id="${c.id}"] input.ap-pick`);
    await page.fill('#ap-note', 'Use the new artwork');
    await page.click('#ap-reject');
    await waitRows(9);
    const res = await results();
    expect(res.map((r) => [r.id, r.state])).toEqual(picked.map((c) => [c.id, 'rejected']));
    expect(res[0].text).toContain('note: Use the new artwork');
    const mine = (await api('GET', `/api/v1/campaigns/budgets/${b2}`)).json.campaigns;
    for (const c of picked) expect(mine.find((x: any) => x.id === c.id)).toMatchObject({ status: 'draft', status_reason: 'Use the new artwork' });
    const audit = (await api('GET', '/api/v1/audit?limit=200')).json.audit.map((a: any) => [a.action, a.target]);
    for (const c of picked) expect(audit).toContainEqual(['campaigns.rejected', `campaign:${c.id}`]);
    expect(await page.inputValue('#ap-note')).toBe('');
    await screenshot(page, 'campaigns-approvals.png');
    expect(errors).toEqual([]);
  });

  it('an admin dashboard token runs the queue without a secret key in the browser; only an admin key mints one', async () => {
    const adKey = (await api('POST', '/api/v1/keys', { role: 'ad_account', scope: { organizers: ['O1'] } })).json.key;
    expect((await api('POST', '/api/v1/tokens', { role: 'admin' }, adKey)).status).toBe(403);
    const minted = await api('POST', '/api/v1/tokens', { role: 'admin', ttl_s: 600 });
    expect(minted.status).toBe(201);
    expect(minted.json.role).toBe('admin');
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const p = await ctx.newPage();
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(minted.json.token)}`);
    const n = (await queue()).length;
    await p.waitForFunction((k: number) => document.querySelectorAll('#ap-rows tr[data-id]').length === k, n, { timeout: 120_000 });
    expect(await p.textContent('#who')).toBe('Admin');
    const one = (await queue())[0];
    await p.click(`#ap-rows tr[data-id="${one.id}"] .ap-one-approve`);
    await p.waitForFunction((k: number) => document.querySelectorAll('#ap-rows tr[data-id]').length === k && !(document.querySelector('#ap-approve') as any).disabled, n - 1, { timeout: 120_000 });
    const now = (await api('GET', `/api/v1/campaigns/budgets/${one.budget_id}`)).json.campaigns.find((x: any) => x.id === one.id);
    expect(['active', 'failed']).toContain(now.status);
    // The audit log names the token's key as the actor of the approval.
    const audit = (await api('GET', '/api/v1/audit?limit=200')).json;
    expect(JSON.stringify(audit)).toContain(`campaign:${one.id}`);
    await ctx.close();
  });

  it('shows no actions to a principal that may not approve, and says why', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    const noActions = async () => {
      await p.waitForSelector('#ap-access:not([hidden])');
      expect(await p.isVisible('#ap-approve')).toBe(false);
      expect(await p.$$('#ap-rows tr[data-id]')).toHaveLength(0);
      return p.textContent('#ap-access');
    };
    // An organizer dashboard token: the server refuses it (no approve_campaigns), the page says so in words.
    const token = (await api('POST', '/api/v1/tokens', { role: 'organizer', org_id: 'O1' })).json.token;
    expect((await api('POST', '/api/v1/campaigns/1/approve', {}, token)).status).toBe(403);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(token)}#approvals`);
    expect(await noActions()).toMatch(/^This token may not approve campaigns .*admin token/);
    await p.click('#signout');
    // A key whose role lacks approve_campaigns: the server's 403, in words.
    const adKey = (await api('POST', '/api/v1/keys', { role: 'ad_account', scope: { organizers: ['O1'] } })).json.key;
    expect(isSecretKey(adKey)).toBe(true);
    await signIn(p, adKey);
    expect(await noActions()).toMatch(/^This key may not approve campaigns .*approve_campaigns/);
    // A secret key in a link is not taken.
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(t.secret_key)}#approvals`);
    await p.waitForSelector('#signin:not([hidden])');
    expect(await p.textContent('#error')).toMatch(/never put in a link/);
    expect(await p.evaluate(() => location.search)).toBe('');
    await ctx.close();
  });
});
