// A counting limit on concurrent work, first come first served. Store funnels go through it: on the embedded
// store every statement shares the one session ingest commits through, in the order they were queued, so three
// funnels queued at once made every ingest request wait for all three; queued here instead, ingest's commits
// slip in between two funnels and wait for at most the one running.

export interface Slots {
  /** Runs `fn` once a slot is free; the slot is released whatever `fn` does. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Running and waiting callers (for /metrics). */
  stats(): { running: number; waiting: number };
}

export function createSlots(size: number): Slots {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`slots: size must be a positive integer, got ${size}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };
  return {
    async run(fn) {
      if (running < size) running += 1;
      // The slot passes straight from the releasing caller to this one: `running` stays counted.
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await fn();
      } finally {
        release();
      }
    },
    stats: () => ({ running, waiting: waiting.length }),
  };
}
