// The tick loop with a fake hub and an injected clock: refresh every REFRESH_MS, flush at once without Redis,
// prefetch then flush only the fetched topics with Redis, one turn at a time, a failing turn logged.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { TopicEntry } from './hub.js';
import { createTick, REFRESH_MS, tickIntervalMs, type TickDeps } from './tick.js';
import { parseTopic, topicKey, type Topic } from './topics.js';

/** A topic's key inside the server (topics.ts topicKey), from its name; `revenue: false` for an event topic's revenue-free variant. */
const key = (tenant: number, name: string, revenue?: false): string => topicKey(tenant, { ...parseTopic(name)!, ...(revenue === false ? { revenue } : {}) } as Topic);

function setup(o: { prefetch?: TickDeps['prefetch']; pending?: TopicEntry[]; flush?: () => number } = {}) {
  let t = 1_000_000;
  const calls: string[] = [];
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
  const tick = createTick({
    hub: {
      markAll: () => void calls.push('markAll'),
      pending: (at) => (calls.push(`pending@${at}`), o.pending ?? []),
      flush: (at, only) => (calls.push(`flush@${at}${only ? `:${only.length}` : ''}`), o.flush ? o.flush() : 0),
    },
    now: () => t,
    rollover: (at) => void calls.push(`rollover@${at}`),
    prefetch: o.prefetch ?? null,
    log,
    coalesceMs: 250,
  });
  return { tick, calls, warnings, advance: (ms: number) => (t += ms) };
}

describe('tick loop', () => {
  it('without Redis flushes every turn and marks every topic once per REFRESH_MS', async () => {
    const { tick, calls, advance } = setup();
    await tick();
    advance(REFRESH_MS);
    await tick();
    expect(calls).toEqual(['rollover@1000000', 'flush@1000000', 'rollover@1005000', 'markAll', 'flush@1005000']);
    expect(tickIntervalMs(250)).toBe(25);
    expect(tickIntervalMs(10)).toBe(5);
  });

  it('with Redis prefetches the pending topics, flushes just those, and skips a turn while one waits', async () => {
    const entry = { key: key(1, 'analytics:event:E1') } as TopicEntry;
    let release = () => undefined as void;
    const s = setup({ pending: [entry], prefetch: () => new Promise<void>((r) => (release = r)) });
    const first = s.tick();
    await s.tick();
    s.advance(7);
    release();
    await first;
    expect(s.calls).toEqual(['rollover@1000000', 'pending@1000000', 'flush@1000007:1']);
  });

  it('logs a failed turn and keeps turning', async () => {
    let fail = true;
    const s = setup({
      flush: () => {
        if (!fail) return 0;
        fail = false;
        throw new Error('boom');
      },
    });
    await s.tick();
    await s.tick();
    expect(s.warnings).toEqual(['live: flush failed']);
    expect(s.calls.filter((c) => c.startsWith('flush'))).toHaveLength(2);
  });
});
