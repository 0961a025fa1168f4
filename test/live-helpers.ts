// Live-layer test plumbing: tokens, websocket clients that record what they receive, scripted funnels.
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { expect } from 'vitest';
import { getJson, postEvents, postJson, webEvent, type Tenant } from './helpers.js';

export async function mintToken(base: string, t: Tenant, body: Record<string, unknown>): Promise<string> {
  const r = await postJson(`${base}/api/v1/tokens`, body, { authorization: `Bearer ${t.secret_key}` });
  if (r.status !== 201) throw new Error(`mintToken: ${r.status} ${r.text}`);
  return r.json.token as string;
}

/** Posts in order; orders and payments go with the secret key to /api/v1/server-events, as a tenant's backend does. */
export async function sendEvents(base: string, t: Tenant, events: Record<string, unknown>[], headers: Record<string, string> = {}) {
  const r = await postEvents(base, t, events, headers);
  if (r.status !== 200 || r.rejected.length > 0) throw new Error(`sendEvents: ${r.status} ${r.texts.join('\n').slice(0, 2000)}`);
  return { accepted: r.accepted, duplicates: r.duplicates };
}

export interface LiveMessage {
  topic?: string;
  type: string;
  seq?: number;
  ts?: number;
  data?: any;
  code?: string;
  receivedAt: number;
}

/** A websocket client that keeps every message it gets. */
export class LiveClient {
  readonly messages: LiveMessage[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  /** The close code the server ended the connection with (4001 token expired, 4003 key revoked, …). */
  closeCode: number | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (buf) => {
      const m = JSON.parse(buf.toString()) as LiveMessage;
      m.receivedAt = Date.now();
      this.messages.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('error', () => undefined);
  }

  static open(base: string, token: string): Promise<LiveClient> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new LiveClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`ws upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** Waits for the first message (from index `from`) matching `pred`. */
  async next(pred: (m: LiveMessage) => boolean, timeoutMs = 10_000, from = 0): Promise<LiveMessage> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.messages.slice(from).find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error('socket closed while waiting');
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out; last messages: ${JSON.stringify(this.messages.slice(-3)).slice(0, 1500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async subscribe(topic: string, timeoutMs = 10_000): Promise<LiveMessage> {
    const from = this.messages.length;
    this.send({ op: 'subscribe', topic });
    return this.next((m) => m.topic === topic && (m.type === 'snapshot' || m.type === 'error'), timeoutMs, from);
  }

  /** The newest data seen on a topic (snapshot or update). */
  latest(topic: string): any {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const m = this.messages[i];
      if (m.topic === topic && (m.type === 'snapshot' || m.type === 'update')) return m.data;
    }
    return undefined;
  }

  /** Waits until the newest data of `topic` satisfies `pred`. */
  async until(topic: string, pred: (data: any) => boolean, timeoutMs = 15_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const d = this.latest(topic);
      if (d !== undefined && pred(d)) return d;
      if (Date.now() > end) throw new Error(`until(${topic}) timed out; latest: ${JSON.stringify(d).slice(0, 1500)}`);
      await this.next(() => true, Math.max(1, end - Date.now()), this.messages.length).catch(() => undefined);
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

const CONSENT = { analytics: true, marketing: false, data_processing: true };

export interface FunnelPlan {
  event: string;
  org: string;
  visitors: number;
  views: number;
  selects: number;
  carts: number;
  checkouts: number;
  attempts: number;
  failures: number;
  orders: number;
  qty: number;
  price: number;
  currency: string;
}

/** The envelopes of visitors walking an event's funnel; visitor i reaches a step when i < its count. */
export function funnelEvents(p: FunnelPlan, at = Date.now()): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const ts = (ms: number) => new Date(at - 60_000 + ms).toISOString();
  const web = (name: string, i: number, ms: number, entities: Record<string, unknown>, payload: Record<string, unknown>) =>
    out.push({
      event_id: crypto.randomUUID(), event_name: name, occurred_at: ts(ms), source_system: 'web', visitor_id: `${p.event}-v${i}`, session_id: `${p.event}-s${i}`,
      consent_snapshot: CONSENT, entities: { event_entity_id: p.event, organizer_id: p.org, ...entities }, payload,
    });
  const backend = (name: string, ms: number, entities: Record<string, unknown>, payload: Record<string, unknown>) =>
    out.push({
      event_id: crypto.randomUUID(), event_name: name, occurred_at: ts(ms), source_system: 'backend',
      consent_snapshot: { analytics: false, marketing: false, data_processing: true }, entities: { event_entity_id: p.event, organizer_id: p.org, ...entities }, payload,
    });
  for (let i = 0; i < p.visitors; i++) {
    const cart = `${p.event}-cart${i}`;
    const order = `${p.event}-order${i}`;
    if (i < p.views) web('event_view', i, 0, {}, { price_from: p.price, currency: p.currency });
    if (i < p.selects) web('ticket_type_selected', i, 1000, {}, { ticket_type_id: 'GA', qty: p.qty });
    if (i < p.carts) web('add_to_cart', i, 2000, { cart_id: cart }, { items: [{ ticket_type_id: 'GA', qty: p.qty, price: p.price }], cart_value: p.qty * p.price, currency: p.currency });
    if (i < p.checkouts) web('checkout_started', i, 3000, { cart_id: cart }, { cart_value: p.qty * p.price, currency: p.currency });
    if (i < p.attempts) web('payment_attempted', i, 4000, { order_id: order }, { amount: p.qty * p.price, currency: p.currency });
    if (i < p.failures) backend('payment_failed', 5000, { order_id: order }, { provider: 'stripe' });
    if (i < p.orders) backend('order_completed', 6000, { order_id: order, cart_id: cart }, { gross_amount: p.qty * p.price, currency: p.currency, items: [{ ticket_type_id: 'GA', qty: p.qty, price: p.price }] });
  }
  return out;
}

export async function liveRest(base: string, path: string, auth: string) {
  return getJson(`${base}${path}`, { authorization: `Bearer ${auth}` });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A day of one organizer for restart tests: two funnels, an event without organizer, gate capacity.
const PLAN: FunnelPlan = { event: 'RE1', org: 'ORG-R', visitors: 50, views: 50, selects: 30, carts: 20, checkouts: 12, attempts: 8, failures: 1, orders: 6, qty: 3, price: 25.5, currency: 'EUR' };

export function restartScript(): Record<string, unknown>[] {
  const now = Date.now();
  const scan = (name: string, payload: Record<string, unknown>, at: number) => ({
    event_id: crypto.randomUUID(), event_name: name, occurred_at: new Date(at).toISOString(), source_system: 'scanner',
    consent_snapshot: { analytics: false, marketing: false, data_processing: true },
    entities: { event_entity_id: 'RE1', organizer_id: 'ORG-R', ticket_id: crypto.randomUUID() }, payload,
  });
  return [
    ...funnelEvents(PLAN),
    ...funnelEvents({ ...PLAN, event: 'RE2', orders: 3, currency: 'RON' }),
    webEvent({ visitor_id: 'no-org', entities: { event_entity_id: 'RE3' } }),
    scan('capacity_snapshot', { gate_id: 'G1', current_inside: 10, total_entries: 12, total_denied: 1, capacity: 100 }, now - 3000),
    scan('entry_granted', { gate_id: 'G1' }, now - 1000),
    scan('entry_granted', { gate_id: 'G2' }, now - 1000),
  ];
}

const PATHS = ['/api/v1/live/events/RE1', '/api/v1/live/events/RE2', '/api/v1/live/events/RE3', '/api/v1/live/events/RE1/capacity', '/api/v1/live/dashboard/ORG-R'];

export async function readAll(base: string, key: string) {
  const out: Record<string, unknown> = {};
  for (const p of PATHS) {
    const r = await liveRest(base, p, key);
    expect(r.status).toBe(200);
    out[p] = r.json.data;
  }
  return out;
}

/**
 * `readAll`'s numbers apart from their entry rates (rate_per_minute: entries of the last 60 s, so they fall as
 * time passes), and those rates by where they are (`path.to.rate_per_minute`). A restart that takes longer than
 * a minute on a loaded machine changes the rates and nothing else.
 */
export function splitRates(data: unknown): { rest: unknown; rates: Record<string, number> } {
  const rates: Record<string, number> = {};
  const walk = (x: unknown, at: string): unknown => {
    if (Array.isArray(x)) return x.map((v, i) => walk(v, `${at}[${i}]`));
    if (x === null || typeof x !== 'object') return x;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) {
      if (k === 'rate_per_minute' && typeof v === 'number') rates[`${at}.${k}`] = v;
      else out[k] = walk(v, `${at}.${k}`);
    }
    return out;
  };
  return { rest: walk(data, ''), rates };
}

/**
 * `readAll`'s numbers after a restart equal those before it. The entry rates (entries of the last 60 s;
 * restartScript's entries are a second old when sent at `sentAt`) are equal too while those entries are within
 * the minute; a restart that took longer (a loaded machine) may only have lowered them.
 */
export function expectSameAfterRestart(before: Record<string, unknown>, after: Record<string, unknown>, sentAt: number) {
  const b = splitRates(before);
  const a = splitRates(after);
  expect(a.rest).toEqual(b.rest);
  expect(Object.keys(a.rates)).toEqual(Object.keys(b.rates));
  if (Date.now() < sentAt + 55_000) expect(a.rates).toEqual(b.rates);
  else for (const [at, rate] of Object.entries(a.rates)) expect([at, rate <= b.rates[at]]).toEqual([at, true]);
}
