import { busContract } from './bus.contract.js';
import { createMemoryBus, MemoryNetwork } from './bus.js';
import { createRedisBus } from './bus-redis.js';
import { deletePrefix, randomPrefix, REDIS_URL } from './redis-test-utils.js';

busContract('memory', async () => {
  const net = new MemoryNetwork();
  return { bus: () => createMemoryBus(net), cleanup: async () => undefined };
});

busContract('redis', async () => {
  const prefix = randomPrefix();
  return { bus: () => createRedisBus({ url: REDIS_URL, prefix }), cleanup: async () => void (await deletePrefix(prefix)) };
});
