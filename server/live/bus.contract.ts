// The LiveBus contract, run against every implementation (bus.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import type { LiveBus } from './bus.js';

/** `network()` returns a factory of buses that share one network (one Redis prefix, one MemoryNetwork). */
export function busContract(name: string, network: () => Promise<{ bus(): LiveBus; cleanup(): Promise<void> }>) {
  describe(`LiveBus contract: ${name}`, () => {
    const open: LiveBus[] = [];
    const cleanups: (() => Promise<void>)[] = [];
    const setup = async (n: number) => {
      const net = await network();
      cleanups.push(net.cleanup);
      const buses = Array.from({ length: n }, () => net.bus());
      open.push(...buses);
      await Promise.all(buses.map((b) => b.ready()));
      return buses;
    };
    const collect = (b: LiveBus) => {
      const got: [string, unknown][] = [];
      b.subscribe((t, m) => got.push([t, m]));
      return got;
    };
    const settle = async (pred: () => boolean) => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
      for (const c of cleanups.splice(0)) await c();
    });

    it('delivers to every bus on the network, the publisher included, JSON round-tripped', async () => {
      const [a, b] = await setup(2);
      const ga = collect(a);
      const gb = collect(b);
      const msg = { n: 'x', f: [{ id: 'e', at: 1, nested: { ok: true }, none: null }] };
      await a.publish('facts', msg);
      await settle(() => ga.length === 1 && gb.length === 1);
      expect(ga).toEqual([['facts', msg]]);
      expect(gb).toEqual([['facts', msg]]);
      expect(gb[0][1]).not.toBe(msg);
    });

    it('keeps the order of one publisher', async () => {
      const [a, b] = await setup(2);
      const gb = collect(b);
      for (let i = 0; i < 100; i++) await a.publish('seq', i);
      await settle(() => gb.length === 100);
      expect(gb.map(([, m]) => m)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    });

    it('stops delivering after unsubscribe and close', async () => {
      const [a, b] = await setup(2);
      const got: unknown[] = [];
      const off = b.subscribe((_t, m) => got.push(m));
      await a.publish('x', 1);
      await settle(() => got.length === 1);
      off();
      await a.publish('x', 2);
      await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual([1]);
      await b.close();
      await expect(a.publish('x', 3)).resolves.toBeUndefined();
    });

    it('buses on different networks do not hear each other', async () => {
      const [a] = await setup(1);
      const [c] = await setup(1);
      const gc = collect(c);
      await a.publish('x', 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(gc).toEqual([]);
    });
  });
}
