import { describe, expect, it } from 'vitest';
import { FREEZE_AGE, vacuumPlan, vacuumStatement, xidsUsed, type VacuumCandidate } from './vacuum.js';

const c = (rel: string, o: Partial<VacuumCandidate> = {}): VacuumCandidate => ({ rel, app: true, xidAge: 1000, lastVacuumMs: null, ...o });

describe('store.vacuum plan', () => {
  it('vacuums the server\'s tables never vacuumed first, then those vacuumed longest ago', () => {
    const plan = vacuumPlan([c('b', { lastVacuumMs: 2000 }), c('a', { lastVacuumMs: 1000 }), c('z'), c('y')]);
    expect(plan).toEqual(['y', 'z', 'a', 'b'].map((rel) => ({ rel, freeze: false })));
  });

  it('leaves system catalogs alone until their transaction id age nears wraparound', () => {
    expect(vacuumPlan([c('pg_catalog.pg_class', { app: false, xidAge: FREEZE_AGE - 1 })])).toEqual([]);
    expect(vacuumPlan([c('pg_catalog.pg_class', { app: false, xidAge: FREEZE_AGE })])).toEqual([{ rel: 'pg_catalog.pg_class', freeze: true }]);
  });

  it('freezes every table past the age first, the oldest first, before any routine vacuum', () => {
    const plan = vacuumPlan([
      c('fresh'),
      c('old', { xidAge: 150_000_000, lastVacuumMs: 5 }),
      c('pg_catalog.pg_type', { app: false, xidAge: 120_000_000 }),
    ]);
    expect(plan).toEqual([{ rel: 'old', freeze: true }, { rel: 'pg_catalog.pg_type', freeze: true }, { rel: 'fresh', freeze: false }]);
    expect(plan.map(vacuumStatement)).toEqual(['VACUUM (FREEZE) old', 'VACUUM (FREEZE) pg_catalog.pg_type', 'VACUUM fresh']);
  });

  it('reads the transaction ids used from the checkpoint\'s next_xid, epoch included', () => {
    expect(xidsUsed('0:738')).toBe(738);
    expect(xidsUsed('1:5')).toBe(2 ** 32 + 5);
    expect(xidsUsed('')).toBeNull();
    expect(xidsUsed(null)).toBeNull();
  });
});
