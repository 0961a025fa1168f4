// The browser SDK's build and the parts its size work introduced: the min+gzip budget is enforced by the
// build itself, private members are mangled without touching the wire or storage names, and the request
// bodies shared by fetch and sendBeacon are cut by count and by size. No browser, no server.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bodies, roll, type SessionState } from '../client/sdk/core.js';
import type { Envelope } from '../client/shared/types.js';
import { buildClients, SDK_BUDGET_GZIP } from '../scripts/build-clients.js';
import { tmpDir } from './helpers.js';

const build = (budget?: number) => buildClients({ outDir: tmpDir('txl-sdk-build-'), quiet: true, regenerate: false, typecheck: false, budget });

describe('SDK build', () => {
  it('fails when tx-sdk.js is over its min+gzip budget, and passes at exactly its size', async () => {
    const ok = await build();
    expect(ok.sdk.gzip).toBeLessThanOrEqual(SDK_BUDGET_GZIP);
    await expect(build(ok.sdk.gzip - 1)).rejects.toThrow(`tx-sdk.js is ${ok.sdk.gzip} B min+gzip; the budget is ${ok.sdk.gzip - 1} B`);
    expect((await build(ok.sdk.gzip)).sdk.gzip).toBe(ok.sdk.gzip);
  });

  it('mangles the private members (names ending in _) and keeps the public, wire and storage names', async () => {
    const r = await build();
    const js = fs.readFileSync(path.join(r.outDir, 'tx-sdk.js'), 'utf8');
    const src = ['tracker.ts', 'tab-queue.ts', 'tabs.ts', 'core.ts', 'consent-store.ts'].map((f) => fs.readFileSync(new URL(`../client/sdk/${f}`, import.meta.url), 'utf8')).join('\n');
    const privates = [...new Set(src.match(/\b[a-zA-Z]+_(?=[\s(:;=?.,<)])/g))].filter((n) => !n.startsWith('tx_'));
    expect(privates.length).toBeGreaterThan(20);
    for (const n of privates) expect(js, n).not.toMatch(new RegExp(`[.{,]${n}\\b`));
    for (const name of ['sequence_no', 'prev_event_id', 'consent_snapshot', 'sent_at', 'tx_session', 'tx_q.', 'tx_n.', 'tx_tab.', 'setConsent', 'getIds', 'observeImpressions', 'pending'])
      expect(js, name).toContain(name);
  });
});

const ev = (n: number, numbered = true, pad = 0): Envelope => ({
  event_id: 'e' + n,
  event_name: 'page_view',
  event_version: 1,
  occurred_at: '2026-11-30T00:00:00.000Z',
  source_system: 'web',
  consent_snapshot: { analytics: true, marketing: false, data_processing: false },
  entities: {},
  payload: { pad: 'x'.repeat(pad) },
  ...(numbered ? { sequence_no: n } : {}),
});
const ids = (b: [string, Envelope[], number]) => b[1].map((e) => e.event_id);

describe('request bodies', () => {
  it('holds at most `max` numbered events per body, skips the unnumbered ones and stamps sent_at', () => {
    const out = [...bodies([ev(0), ev(1, false), ev(2), ev(3), ev(4)], 'T', 2, 1e6)];
    expect(out.map(ids)).toEqual([['e0', 'e2'], ['e3', 'e4']]);
    const sent = JSON.parse(out[0][0]).events;
    expect(sent.map((e: Envelope) => [e.event_id, e.sent_at])).toEqual([['e0', 'T'], ['e2', 'T']]);
  });

  it('cuts by size, a single larger event getting a body of its own, and yields nothing for nothing numbered', () => {
    const size = JSON.stringify({ ...ev(0, true, 100), sent_at: 'T' }).length;
    const out = [...bodies([ev(0, true, 100), ev(1, true, 100), ev(2, true, 5000), ev(3, true, 100)], 'T', 100, 2 * size + 2)];
    expect(out.map(ids)).toEqual([['e0', 'e1'], ['e2'], ['e3']]);
    for (const b of out) expect(JSON.parse(b[0]).events).toHaveLength(b[1].length);
    expect([...bodies([ev(0, false)], 'T', 20, 1e6)]).toEqual([]);
  });
});

describe('session rolling', () => {
  const open = () => ({ id: 'new' });
  const s: SessionState = { id: 'old', start: 0, last: 1000, seq: 7, prev: 'p' };
  it('keeps the stored session while it is alive (its last activity untouched) and opens a fresh one after the timeout', () => {
    expect(roll(s, 1000 + 59_999, 60_000, open)).toEqual({ s, fresh_: false });
    expect(roll(s, 1000 + 60_000, 60_000, open)).toEqual({ s: { id: 'new', start: 61_000, last: 61_000, seq: 0 }, fresh_: true });
    expect(roll({ ...s, seq: 'x' as unknown as number }, 1001, 60_000, open).fresh_).toBe(true);
    expect(roll(null, 5, 60_000, open)).toEqual({ s: { id: 'new', start: 5, last: 5, seq: 0 }, fresh_: true });
  });
});
