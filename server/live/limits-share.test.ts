// A node past LIVE_MAX_EVENTS leaves a new event out of everything it does live: its own numbers, and what it
// shares (over the bus, and so Redis, which is written from the same facts). A node with room would otherwise
// count an event the committing node refused, and the nodes would disagree.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import type { Db } from '../store/db.js';
import { createMemoryBus, MemoryNetwork } from './bus.js';
import { createLive } from './index.js';
import { row } from './rows.fixture.js';

const SECRET = 'limits-share-test-secret-0123456789abcdef012345';
const log = pino({ level: 'silent' });
const noStore = { kind: 'embedded', query: async () => ({ rows: [] }) } as unknown as Db;
const settle = () => new Promise((r) => setTimeout(r, 100));

describe('an event past LIVE_MAX_EVENTS', () => {
  it('is neither counted by the committing node nor shared with the others', async () => {
    const now = Date.now();
    const net = new MemoryNetwork();
    const dirs: string[] = [];
    const node = async (maxEvents: string) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-limits-'));
      dirs.push(dir);
      const config = loadConfig({ DATA_DIR: dir, LIVE_TOKEN_SECRET: SECRET, PORT: '0', LIVE_MAX_EVENTS: maxEvents });
      return createLive({ config, db: noStore, log, now: () => now, bus: createMemoryBus(net), mirror: null });
    };
    const [a, b] = [await node('2'), await node('10')];
    try {
      const views = (l: typeof a, event: string) => l.core.state.getEvent(1, event)?.counters.views;
      a.onCommitted(['E1', 'E2', 'E3'].map((e) => row('event_view', now - 1000, { visitor_id: `v-${e}`, entities: { event_entity_id: e } })));
      await settle();
      expect(['E1', 'E2', 'E3'].map((e) => views(a, e))).toEqual([1, 1, undefined]);
      expect(['E1', 'E2', 'E3'].map((e) => views(b, e))).toEqual([1, 1, undefined]);
    } finally {
      await a.close();
      await b.close();
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
