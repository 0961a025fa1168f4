import { describe, expect, it } from 'vitest';
import { createSlots } from './slots.js';

const deferred = () => {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};
const tick = () => new Promise((r) => setImmediate(r));

describe('slots', () => {
  it('runs at most `size` at once and starts the waiting ones in arrival order', async () => {
    const slots = createSlots(1);
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((g, i) => slots.run(async () => {
      started.push(i);
      await g.promise;
      return i;
    }));
    await tick();
    expect(started).toEqual([0]);
    expect(slots.stats()).toEqual({ running: 1, waiting: 2 });
    gates[0].resolve();
    await tick();
    expect(started).toEqual([0, 1]);
    gates[2].resolve(); // finishing before its turn changes nothing: it has not started
    await tick();
    expect(started).toEqual([0, 1]);
    gates[1].resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(slots.stats()).toEqual({ running: 0, waiting: 0 });
  });

  it('releases the slot when the work fails, and passes the failure to its caller', async () => {
    const slots = createSlots(2);
    const failing = slots.run(async () => {
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    expect(slots.stats()).toEqual({ running: 0, waiting: 0 });
    expect(await Promise.all([slots.run(async () => 'a'), slots.run(async () => 'b'), slots.run(async () => 'c')])).toEqual(['a', 'b', 'c']);
  });

  it('refuses a size that is not a positive integer', () => {
    for (const size of [0, -1, 1.5, Number.NaN]) expect(() => createSlots(size)).toThrow(RangeError);
  });
});
