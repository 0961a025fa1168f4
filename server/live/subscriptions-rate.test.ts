// One connection's flood of messages (subscriptions.ts with rate.ts): bounded work, refusals, then the end.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Hub } from './hub.js';
import { MAX_IN_FLIGHT, OPS_BURST, OPS_REFUSED_MAX } from './rate.js';
import { createSubscriptions, type Link, type Reply, type Subscriber, type SubscriptionCore } from './subscriptions.js';
import type { Scope } from './token.js';

const NOW = Date.parse('2026-11-21T19:00:00Z');

describe('a connection that floods subscribes', () => {
  it('has at most MAX_IN_FLIGHT access checks under way; the rest is refused rate_limited, and the flood ends it', async () => {
    let running = 0;
    let max = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const core: SubscriptionCore = {
      hub: new Hub({ build: () => ({ data: {}, updatedAt: 0 }), send: () => undefined, intervalMs: 0 }),
      log: pino({ level: 'silent' }),
      now: () => NOW,
      allowed: () => true,
      prepare: async () => undefined,
      access: async (_scope, topic) => {
        running++;
        max = Math.max(max, running);
        await gate;
        running--;
        return { ok: true, topic };
      },
    };
    const subs = createSubscriptions(core);
    const sub: Subscriber = { scope: { role: 'organizer', tenant: 1, org: 'O1' } as Scope, exp: NOW / 1000 + 60, topics: new Set() };
    const sent: Reply[] = [];
    let violated = 0;
    const link: Link = { isOpen: () => true, join: () => undefined, leave: () => undefined, send: (r) => sent.push(r), expire: () => undefined, violate: () => violated++ };
    // 50,000 subscribes to one topic in one go (the clock stands still: no token comes back).
    const all = Array.from({ length: 50_000 }, () => subs.handle(sub, link, { op: 'subscribe', topic: 'analytics:event:E1' }));
    await new Promise((r) => setImmediate(r));
    expect(max).toBe(MAX_IN_FLIGHT);
    release();
    await Promise.all(all);
    const codes = sent.map((r) => r.code ?? r.type);
    // The burst: MAX_IN_FLIGHT checked, the rest of it refused for being under way; then refusals until the end.
    expect(codes.filter((c) => c === 'rate_limited').length).toBe(OPS_BURST - MAX_IN_FLIGHT + OPS_REFUSED_MAX);
    expect(violated).toBe(1);
  });
});
