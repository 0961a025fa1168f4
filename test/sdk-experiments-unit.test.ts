// The SDK's experiments helper (client/sdk/experiments.ts) without a browser: `variant(key)` answers an own
// assignment or null, whatever the key; an inherited member of Object.prototype (`constructor`, `toString`, …
// are valid experiment keys) was returned as the "variant" and sent as an exposure.
import { describe, expect, it } from 'vitest';

// Loaded by a computed path: the SDK is type-checked with the browser's types by its own build (client/sdk/
// tsconfig.json), which this project's Node-only tsconfig lacks.
const SDK = '../client/sdk/experiments.js';
type Tracker = { getIds(): { visitor_id: string; session_id: string } | null; track(name: string, payload: Record<string, unknown>): string };
const { localExperiments } = (await import(SDK)) as { localExperiments(tx: Tracker, defs: unknown[]): { variant(key: string): string | null } };

function tracker() {
  const sent: [string, Record<string, unknown>][] = [];
  const tx = {
    getIds: () => ({ visitor_id: 'v-unit-1', session_id: 's-unit-1' }),
    track: (name: string, payload: Record<string, unknown>) => (sent.push([name, payload]), 'id'),
  };
  return { tx, sent };
}

describe('SDK experiments: variant(key)', () => {
  it('is null for a key the visitor has no assignment for, inherited member names included, and sends nothing', () => {
    const { tx, sent } = tracker();
    const xp = localExperiments(tx, [{ key: 'checkout', variants: [{ key: 'a', weight: 1 }] }]);
    for (const key of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf', 'missing']) expect(xp.variant(key)).toBeNull();
    expect(sent).toEqual([]);
    expect(xp.variant('checkout')).toBe('a');
    expect(sent).toEqual([['experiment_exposure', { experiment_id: 'checkout', variant: 'a', experiment_name: undefined }]]);
  });

  it('answers experiments keyed like Object.prototype members as any other', () => {
    const { tx, sent } = tracker();
    const xp = localExperiments(tx, [
      { key: 'constructor', variants: [{ key: 'b', weight: 1 }] },
      { key: '__proto__', variants: [{ key: 'c', weight: 1 }] },
    ]);
    expect(xp.variant('constructor')).toBe('b');
    expect(xp.variant('__proto__')).toBe('c');
    expect(xp.variant('toString')).toBeNull();
    expect(sent.map(([, p]) => [p.experiment_id, p.variant])).toEqual([['constructor', 'b'], ['__proto__', 'c']]);
  });
});
