// The deferred projection runner against a fake store: its lag is the age of the oldest commit not yet
// projected (not the time since load began), a failed pass keeps its commits the oldest, and projected()
// resolves only after a pass that started after the call. (Exactly once across kill -9: test/projector-crash.)
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Db } from '../store/db.js';
import { createProjectionRunner } from './projector.js';

const log = pino({ level: 'silent' });

/** An embedded-kind store with an empty tx_events; each transaction waits for `gate` when one is set. */
function fakeDb() {
  const state = { gate: null as Promise<void> | null, fail: false, txs: 0 };
  const db = {
    kind: 'embedded',
    query: async () => ({ rows: [{ h: '0' }] }),
    exec: async () => undefined,
    tx: async <T>(fn: (q: never) => Promise<T>) => {
      state.txs++;
      if (state.gate) await state.gate;
      if (state.fail) throw new Error('store down: test');
      return fn({ query: async () => ({ rows: [] }) } as never);
    },
    close: async () => undefined,
  } as unknown as Db;
  return { db, state };
}

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('deferred projection runner', () => {
  it('reports the age of the oldest commit not yet projected, and the largest it saw', async () => {
    const { db, state } = fakeDb();
    let t = 0;
    let open!: () => void;
    state.gate = new Promise((r) => (open = r));
    const p = createProjectionRunner({ db, log, name: 'x', projectors: [], now: () => t });
    p.kick(); // commit at t=0: a pass starts and waits on the gate
    await tick();
    t = 5;
    p.kick(); // commit at t=5, during the pass
    t = 10;
    expect(p.stats().lagSeconds).toBeCloseTo(0.01);
    let open2!: () => void;
    state.gate = new Promise((r) => (open2 = r));
    t = 12;
    open();
    while (p.stats().passes < 1) await tick();
    // The first pass covered the commit of t=0 (12 ms); the second, now waiting, covers t=5: the lag is its age.
    expect(p.stats()).toMatchObject({ maxLagSeconds: 0.012, lagSeconds: 0.007 });
    t = 20;
    open2();
    await p.projected();
    expect(p.stats()).toMatchObject({ lagSeconds: 0, maxLagSeconds: 0.015 });
    await p.close();
  });

  it('keeps the commits of a failed pass the oldest, and projected() waits for a pass started after it', async () => {
    const { db, state } = fakeDb();
    let t = 0;
    state.fail = true;
    const p = createProjectionRunner({ db, log, name: 'x', projectors: [], now: () => t, retryMs: 5 });
    p.kick();
    await tick();
    t = 3;
    expect(p.stats()).toMatchObject({ errors: 1, lagSeconds: 0.003 });
    state.fail = false;
    const before = state.txs;
    await p.projected();
    expect(state.txs).toBeGreaterThan(before);
    expect(p.stats().lagSeconds).toBe(0);
    await p.close();
  });
});
