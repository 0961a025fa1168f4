// LiveBus over Redis pub/sub: one channel per prefix, a publisher connection and a separate subscriber
// connection (a subscribed ioredis connection cannot run other commands).
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { BusHandler, LiveBus } from './bus.js';

export interface RedisBusOptions {
  url: string;
  /** Key/channel prefix (LIVE_REDIS_PREFIX); the channel is `{prefix}live:bus`. */
  prefix: string;
  log?: Logger;
  /**
   * Called once the subscriber is subscribed again after a reconnect, with when it went away (epoch ms):
   * messages published meanwhile were missed (Redis pub/sub keeps nothing).
   */
  onResubscribed?: (downSince: number) => void;
}

export function createRedisBus(opts: RedisBusOptions): LiveBus {
  const channel = `${opts.prefix}live:bus`;
  // Publishing must never wait for an absent Redis (the caller keeps what failed and sends it again): no
  // offline queue, a short command timeout. The subscriber keeps ioredis' queue without a retry limit: it only
  // SUBSCRIBEs (the first one may wait for a Redis that is away at start), and ioredis subscribes again by
  // itself after each reconnect.
  const pub = new Redis(opts.url, { lazyConnect: false, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
  const sub = new Redis(opts.url, { lazyConnect: false, maxRetriesPerRequest: null });
  const handlers = new Set<BusHandler>();
  let connectedOnce = false;
  pub.on('error', (err: Error) => opts.log?.warn({ err: err.message }, 'live bus (publisher): redis error'));
  sub.on('error', (err: Error) => opts.log?.warn({ err: err.message }, 'live bus (subscriber): redis error'));
  const subscribed = sub.subscribe(channel).then(() => {
    connectedOnce = true;
  });
  subscribed.catch(() => undefined);
  let downSince: number | null = null;
  sub.on('close', () => {
    downSince ??= Date.now();
  });
  sub.on('ready', () => {
    if (!connectedOnce) return;
    const since = downSince ?? Date.now();
    downSince = null;
    // ioredis subscribes again by itself after a reconnect; subscribing here too (idempotent) tells when it
    // is active, so what the owner asks for next (other nodes resending) cannot arrive before it.
    sub
      .subscribe(channel)
      .then(() => opts.onResubscribed?.(since))
      .catch((err: Error) => opts.log?.warn({ err: err.message }, 'live bus (subscriber): subscribing again failed'));
  });
  sub.on('message', (ch: string, raw: string) => {
    if (ch !== channel) return;
    let m: { t: string; m: unknown };
    try {
      m = JSON.parse(raw);
    } catch {
      return;
    }
    for (const h of handlers) h(m.t, m.m);
  });

  return {
    async publish(topic, msg) {
      await pub.publish(channel, JSON.stringify({ t: topic, m: msg }));
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    // The publisher connects on its own; a publish before it is ready would fail for nothing.
    ready: () => subscribed.then(() => (pub.status === 'ready' ? undefined : new Promise<void>((r) => pub.once('ready', () => r())))),
    async close() {
      handlers.clear();
      // QUIT waits for a connection that may not come back: a disconnected client is just dropped.
      await Promise.allSettled([sub, pub].map((c) => (c.status === 'ready' ? c.quit() : Promise.resolve(c.disconnect()))));
    },
  };
}
