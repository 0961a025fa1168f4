// LiveBus: how nodes tell each other what they committed. One narrow interface, two implementations:
// in memory (one process; several buses on one MemoryNetwork behave like nodes) and Redis pub/sub
// (bus-redis.ts). Contract (bus.contract.ts): a message published on a topic reaches every subscriber of
// every bus on the same network, the publisher's own included, JSON round-tripped, in publish order.

export type BusHandler = (topic: string, msg: unknown) => void;

export interface LiveBus {
  publish(topic: string, msg: unknown): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(handler: BusHandler): () => void;
  /** Resolves once subscriptions are active (Redis SUBSCRIBE acknowledged). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Several in-memory buses sharing one network act like nodes sharing a Redis. */
export class MemoryNetwork {
  readonly handlers = new Set<BusHandler>();
}

export function createMemoryBus(network = new MemoryNetwork()): LiveBus {
  const mine = new Set<BusHandler>();
  let closed = false;
  return {
    async publish(topic, msg) {
      if (closed) throw new Error('bus closed');
      const copy = JSON.stringify(msg);
      const targets = [...network.handlers];
      // Asynchronous like a real network; one microtask per publish keeps the order.
      queueMicrotask(() => {
        for (const h of targets) if (network.handlers.has(h)) h(topic, JSON.parse(copy));
      });
    },
    subscribe(handler) {
      const h: BusHandler = (t, m) => handler(t, m);
      mine.add(h);
      network.handlers.add(h);
      return () => {
        mine.delete(h);
        network.handlers.delete(h);
      };
    },
    ready: async () => undefined,
    async close() {
      closed = true;
      for (const h of mine) network.handlers.delete(h);
      mine.clear();
    },
  };
}
