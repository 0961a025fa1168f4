// The recompute reads the day through sql/queries/live.sql recompute_page (a named query checked at load, not
// SQL embedded in the module), in keyset pages of the size it passes as $5, from ('-infinity', 0) on.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../store/db.js';
import { parseQueries, QUERIES_DIR } from '../store/queries.js';
import type { Fact } from './facts.js';
import { createPseudonymizer } from './pseudo.js';
import { recomputeDay } from './recompute.js';

const PAGE_QUERY = parseQueries('live.sql', fs.readFileSync(path.join(QUERIES_DIR, 'live.sql'), 'utf8')).get('recompute_page');
const DAY = '2025-06-01';

describe('recomputeDay', () => {
  it('pages the day through the named query recompute_page, keyset on (occurred_at, id), $5 rows a page', async () => {
    expect(PAGE_QUERY).toMatch(/LIMIT \$5::int$/);
    const n = 5001;
    const at = (i: number) => new Date(Date.parse(`${DAY}T10:00:00.000Z`) + Math.floor(i / 2) * 1000).toISOString();
    const held = Array.from({ length: n }, (_, i) => ({
      id: String(i + 1), event_id: `e-${i}`, event_name: 'event_view', occurred_at: at(i), received_at: at(i), tenant_id: '1',
      source_system: 'web', visitor_id: `v-${i}`, session_id: null, entities: { event_entity_id: 'E1' }, payload: {}, owner: 'O1', owner_source: 'catalog', category: null,
    }));
    const calls: unknown[][] = [];
    const db = {
      async query(sql: string, params: unknown[]) {
        expect(sql).toBe(PAGE_QUERY);
        calls.push(params);
        const [, , afterTs, afterId, limit] = params as [string, string, string, string, number];
        const after = afterTs === '-infinity' ? -Infinity : Date.parse(afterTs);
        const rows = held.filter((r) => Date.parse(r.occurred_at) > after || (Date.parse(r.occurred_at) === after && Number(r.id) > Number(afterId)));
        return { rows: rows.slice(0, limit) };
      },
    } as unknown as Queryable;
    const facts: Fact[] = [];
    const total = await recomputeDay(db, DAY, createPseudonymizer('recompute-test-secret-0123456789abcdef'), (f) => facts.push(...f));
    expect(total).toBe(n);
    expect(facts).toHaveLength(n);
    expect(calls).toEqual([
      [`${DAY}T00:00:00.000Z`, '2025-06-02T00:00:00.000Z', '-infinity', '0', 5000],
      [`${DAY}T00:00:00.000Z`, '2025-06-02T00:00:00.000Z', held[4999].occurred_at, '5000', 5000],
    ]);
  });
});
