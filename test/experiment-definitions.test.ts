// One definition, one variant everywhere: an experiment as a tenant writes it (weights summing to 0.99–1.01 but
// not exactly 1, or none) is stored by the server with its weights rescaled, and GET /api/tx/experiments assigns
// from the stored ones. The SDK's localExperiments / assignVariant took the same definition as written, with
// GrowthBook's bare bucket ranges: [0.5, 0.51] cut the second range at 1 (a 50/50 split), the server 49.5/50.5,
// and about 1 visitor in 250 got another variant in the page than from the server. Both now rescale with the
// one shared function (client/shared/experiment-hash.ts normalisedWeights), checked against the shared vectors'
// `definitions` (client/shared/experiment-vectors.json). No browser: the SDK's module with a stand-in tracker.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalisedWeights as sharedNormalised } from '../client/shared/experiment-hash.js';
import { assignmentsFor } from '../server/experiments/assign.js';
import { normalisedWeights as serverNormalised, parseExperiment } from '../server/experiments/schemas.js';

// Loaded by a computed path: the SDK is type-checked with the browser's types by its own build (client/sdk/
// tsconfig.json), which this project's Node-only tsconfig lacks.
const SDK = '../client/sdk/experiments.js';
type Tracker = { getIds(): { visitor_id: string; session_id: string } | null; track(name: string, payload: Record<string, unknown>): string };
type Def = { key: string; variants: { key: string; weight?: number }[]; coverage?: number };
const { localExperiments, assignVariant } = (await import(SDK)) as {
  localExperiments(tx: Tracker, defs: unknown): { assignments: Record<string, string>; variant(key: string): string | null };
  assignVariant(def: unknown, id: unknown): string | null;
};

const VECTORS = JSON.parse(fs.readFileSync(new URL('../client/shared/experiment-vectors.json', import.meta.url), 'utf8')) as {
  definitions: { experiment: Def; id: string; bucket: number; variant: string | null; unscaled: string | null }[];
};

const visitor = (id: string): Tracker => ({ getIds: () => ({ visitor_id: id, session_id: 's' }), track: () => 'e' });

/** The server's variant: the definition through the API's parser (what it stores), then the assignment it answers. */
function serverVariant(def: Def, id: string): string | null {
  const p = parseExperiment({ ...def, start: '2026-01-01T00:00:00Z' });
  if (!p.ok) throw new Error(p.error.message);
  return assignmentsFor([{ key: p.value.key, variants: p.value.variants, coverage: p.value.coverage }], id)[def.key] ?? null;
}

describe('experiment definitions with unnormalised weights (shared vectors)', () => {
  it('the vectors hold visitors whom GrowthBook\'s bare ranges would put in another variant', () => {
    const differ = VECTORS.definitions.filter((d) => d.variant !== d.unscaled);
    expect(new Set(differ.map((d) => d.experiment.key))).toEqual(new Set(['weights_over_one', 'weights_under_one', 'ten_variants']));
  });

  it('the server stores and assigns each vector\'s variant', () => {
    for (const d of VECTORS.definitions) expect(serverVariant(d.experiment, d.id), `${d.experiment.key}|${d.id}`).toBe(d.variant);
  });

  it('the SDK (localExperiments, assignVariant) gives the same variant for the same definition', () => {
    for (const d of VECTORS.definitions) {
      const at = `${d.experiment.key}|${d.id}`;
      expect(localExperiments(visitor(d.id), [d.experiment]).assignments[d.experiment.key] ?? null, at).toBe(d.variant);
      expect(assignVariant(d.experiment, d.id), at).toBe(d.variant);
    }
  });

  it('the server and the SDK rescale with one function', () => {
    expect(serverNormalised).toBe(sharedNormalised);
    // 0.1 + 0.2 + 0.7 sums to 1 up to rounding: kept as written (dividing would move the boundary at hash 0.3).
    const exact = [{ key: 'a', weight: 0.1 }, { key: 'b', weight: 0.2 }, { key: 'c', weight: 0.7 }];
    expect(sharedNormalised(exact)).toBe(exact);
    // Outside GrowthBook's tolerance the weights are not the experiment's (the API refuses them): left as written.
    const off = [{ key: 'a', weight: 1 }, { key: 'b', weight: 3 }];
    expect(sharedNormalised(off)).toBe(off);
  });

  it('the same agreement over 20,000 visitors for [0.5, 0.51] and ten of 0.101', () => {
    const defs: Def[] = [
      { key: 'weights_over_one', variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.51 }] },
      { key: 'ten_variants', variants: Array.from({ length: 10 }, (_, i) => ({ key: `v${i}`, weight: 0.101 })) },
    ];
    let differ = 0;
    for (const def of defs) for (let i = 0; i < 10_000; i++) if (assignVariant(def, `id-${i}`) !== serverVariant(def, `id-${i}`)) differ++;
    expect(differ).toBe(0);
  });
});

describe('the SDK\'s experiments take bad definitions without throwing', () => {
  it('null or a non-list is no definitions; a definition without variants is skipped; the others are assigned', () => {
    const tx = visitor('visitor-0');
    for (const defs of [null, undefined, 'x', 42, {}]) expect(localExperiments(tx, defs).assignments).toEqual({});
    const good = { key: 'good', variants: [{ key: 'only', weight: 1 }] };
    const xp = localExperiments(tx, [{ key: 'k' }, null, { variants: [{ key: 'a', weight: 1 }] }, { key: 'v', variants: 'ab' }, good]);
    expect({ ...xp.assignments }).toEqual({ good: 'only' });
    expect(xp.variant('k')).toBeNull();
    for (const def of [null, undefined, { key: 'k' }, { key: 'k', variants: null }, { key: 'k', variants: [null] }]) expect(assignVariant(def, 'visitor-0')).toBeNull();
    expect(assignVariant(good, 12345)).toBe('only');
  });
});
