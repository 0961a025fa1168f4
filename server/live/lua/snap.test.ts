// txSnap (snap.lua) against a real Redis: the scans a snapshot lets it drop are the ones capacity.ts prune drops,
// so a node restoring from the mirror shows the numbers the writing node holds in memory.
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toFact, utcDay, type Fact } from '../facts.js';
import type { Mirror } from '../core.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../redis-test-utils.js';
import { NOW, row } from '../rows.fixture.js';
import { LiveState } from '../state.js';
import { createRedisMirror, keys } from '../warm.js';

const DAY = utcDay(NOW);
const log = pino({ level: 'silent' });

const scan = (name: string, at: number, payload: Record<string, unknown>): Fact =>
  toFact(row(name, at, { source_system: 'scanner', entities: { event_entity_id: 'RE1', ticket_id: 't' }, payload }), DAY)!;
const gateWide = (at: number, inside: number, entries: number | null) =>
  scan('capacity_snapshot', at, { gate_id: 'MX', current_inside: inside, total_entries: entries, total_denied: 0 });
const session = (at: number, n: number) =>
  scan('capacity_snapshot', at, { gate_id: 'MX', scanner_session_id: 'SA', current_inside: n, total_entries: n, total_denied: 0 });
const grants = (at: number, n: number) => Array.from({ length: n }, (_, i) => scan('entry_granted', at + i, { gate_id: 'MX', scanner_session_id: 'SA' }));

describe('txSnap: scans dropped in Redis as in memory', () => {
  let prefix: string;
  const conns: Redis[] = [];
  const open = (): { mirror: Mirror; redis: Redis } => {
    const redis = new Redis(REDIS_URL);
    conns.push(redis);
    return { redis, mirror: createRedisMirror({ redis, prefix, log, now: () => NOW, orgEvents: () => [] }) };
  };
  beforeEach(() => {
    prefix = randomPrefix();
  });
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.quit()));
    await deletePrefix(prefix);
  });

  /** Writes each batch (in memory and to the mirror, viewing the hot state between batches as a node would), then restores a second node. */
  async function roundTrip(batches: Fact[][]): Promise<{ hot: LiveState; restored: LiveState; scans: string[] }> {
    const hot = new LiveState(DAY);
    const a = open();
    expect(await a.mirror.restore(hot, DAY)).toBe('seed');
    for (const batch of batches) {
      for (const f of batch) hot.applyShared(f);
      hot.capacityData(1, 'RE1', NOW);
      a.mirror.write(batch, () => undefined);
    }
    await a.mirror.seeded(DAY);
    const restored = new LiveState(DAY);
    const b = open();
    expect(await b.mirror.restore(restored, DAY)).toBe('restored');
    await b.mirror.prefetch([{ tenant: 1, topic: { kind: 'event', event: 'RE1' } }]);
    return { hot, restored, scans: await b.redis.zrange(keys(prefix, 1).scans('RE1'), '0', '-1') };
  }

  it('a session snapshot under a gate-wide one keeps the session scans the gate-wide snapshot does not count', async () => {
    const { hot, restored, scans } = await roundTrip([[gateWide(NOW - 300_000, 100, 100)], grants(NOW - 200_000, 4), [session(NOW - 100_000, 4)]]);
    expect(hot.capacityData(1, 'RE1', NOW)).toMatchObject({ gates: { MX: { inside: 104, entries: 104, denied: 0 } } });
    expect(restored.capacityData(1, 'RE1', NOW)).toEqual(hot.capacityData(1, 'RE1', NOW));
    expect(scans).toHaveLength(4);
  });

  it('a gate-wide snapshot drops the session scans it covers, as prune does', async () => {
    const { hot, restored, scans } = await roundTrip([grants(NOW - 200_000, 4), [gateWide(NOW - 100_000, 90, 104)]]);
    expect(hot.capacityData(1, 'RE1', NOW)).toMatchObject({ gates: { MX: { inside: 90, entries: 104 } } });
    expect(restored.capacityData(1, 'RE1', NOW)).toEqual(hot.capacityData(1, 'RE1', NOW));
    expect(scans).toEqual([]);
  });

  it('a gate-wide snapshot without total_entries keeps the grants (they are its entries)', async () => {
    const { hot, restored, scans } = await roundTrip([grants(NOW - 200_000, 4), [gateWide(NOW - 100_000, 3, null)], [session(NOW - 90_000, 4)]]);
    expect(hot.capacityData(1, 'RE1', NOW)).toMatchObject({ gates: { MX: { inside: 3, entries: 4 } } });
    expect(restored.capacityData(1, 'RE1', NOW)).toEqual(hot.capacityData(1, 'RE1', NOW));
    expect(scans).toHaveLength(4);
  });
});
