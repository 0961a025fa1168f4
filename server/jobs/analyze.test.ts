import { describe, expect, it } from 'vitest';
import { analyzeDue, analyzeStatement } from './analyze.js';

describe('store.analyze decisions', () => {
  it('analyzes a table that has data and was never analyzed, and not an empty one', () => {
    expect(analyzeDue({ analyzedPages: 0, reltuples: -1, pages: 1, hasStats: false })).toBe(true);
    expect(analyzeDue({ analyzedPages: 0, reltuples: -1, pages: 0, hasStats: false })).toBe(false);
  });

  it('analyzes again once the table grew by a fifth, and by at least 8 pages', () => {
    expect(analyzeDue({ analyzedPages: 1000, reltuples: 50_000, pages: 1199, hasStats: true })).toBe(false);
    expect(analyzeDue({ analyzedPages: 1000, reltuples: 50_000, pages: 1200, hasStats: true })).toBe(true);
    expect(analyzeDue({ analyzedPages: 10, reltuples: 300, pages: 17, hasStats: true })).toBe(false);
    expect(analyzeDue({ analyzedPages: 10, reltuples: 300, pages: 18, hasStats: true })).toBe(true);
    // Its statistics deleted by a GDPR purge: due again; an empty table has none to gather.
    expect(analyzeDue({ analyzedPages: 1000, reltuples: 50_000, pages: 1000, hasStats: false })).toBe(true);
    expect(analyzeDue({ analyzedPages: 3, reltuples: 0, pages: 3, hasStats: false })).toBe(false);
    // Emptied by retention but not truncated (its pages stay): not due again until it grows.
    expect(analyzeDue({ analyzedPages: 5000, reltuples: 0, pages: 5000, hasStats: true })).toBe(false);
  });

  it('leaves json/jsonb columns out of a table that has any (their statistics cost seconds a chunk)', () => {
    expect(analyzeStatement({ rel: '_timescaledb_internal._hyper_1_1_chunk', scalarColumns: 'id, event_name', hasJson: true })).toBe('ANALYZE _timescaledb_internal._hyper_1_1_chunk (id, event_name)');
    expect(analyzeStatement({ rel: 'tenants', scalarColumns: 'tenant_id, name', hasJson: false })).toBe('ANALYZE tenants');
    expect(analyzeStatement({ rel: '"Odd"', scalarColumns: null, hasJson: true })).toBe('ANALYZE "Odd"');
  });
});
