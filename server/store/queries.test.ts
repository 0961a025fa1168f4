// Queries are checked when the modules load: a module asking for a name no .sql file defines fails its import
// (the server's start-up). This suite loads every module that declares queries and also finds the sections
// no module asks for (dead SQL), so sql/queries/ and the code cannot drift apart silently.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { declaredQueries, parseQueries, queries, QueryNotDefinedError, QUERIES_DIR, retypedSortKeys } from './queries.js';

const SERVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every non-test module under server/ that calls queries(…). */
function declaringModules(dir = SERVER): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...declaringModules(p));
    else if (/\.ts$/.test(e.name) && !/\.(test|contract|fixture)\.ts$/.test(e.name) && p !== path.join(SERVER, 'store', 'queries.ts')) {
      if (/\bqueries\('[^']+\.sql'/.test(fs.readFileSync(p, 'utf8'))) out.push(p);
    }
  }
  return out.sort();
}

describe('named queries', () => {
  it('fails at load, naming the file and the missing names, when a declared query is not defined', () => {
    expect(() => queries('events.sql', ['insert_events', 'no_such_query', 'nor_this'])).toThrow(QueryNotDefinedError);
    try {
      queries('events.sql', ['no_such_query']);
    } catch (err) {
      expect(err).toBeInstanceOf(QueryNotDefinedError);
      expect((err as QueryNotDefinedError).file).toBe('events.sql');
      expect((err as QueryNotDefinedError).missing).toEqual(['no_such_query']);
    }
  });

  it('refuses a file that defines a name twice, and strips the trailing semicolon', () => {
    expect(() => parseQueries('x.sql', '-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n')).toThrow(/twice/);
    expect(parseQueries('x.sql', '-- name: a\n-- why\nSELECT 1;\n\n-- name: b\nSELECT 2\n')).toEqual(new Map([['a', '-- why\nSELECT 1'], ['b', 'SELECT 2']]));
  });

  it('gives a module exactly the names it declared', () => {
    const Q = queries('events.sql', ['prune_event_ids']);
    expect(Object.keys(Q)).toEqual(['prune_event_ids']);
    expect(Object.isFrozen(Q)).toBe(true);
  });

  it('loads every module that declares queries, and every query in sql/queries is declared by one', async () => {
    const modules = declaringModules();
    expect(modules.length).toBeGreaterThanOrEqual(10);
    // An undefined name throws QueryNotDefinedError here, as it would at start-up.
    for (const m of modules) await import(m);
    const declared = declaredQueries();
    const unused: string[] = [];
    for (const file of fs.readdirSync(QUERIES_DIR).filter((f) => f.endsWith('.sql'))) {
      const defined = parseQueries(file, fs.readFileSync(path.join(QUERIES_DIR, file), 'utf8'));
      for (const name of defined.keys()) if (!declared.get(file)?.has(name)) unused.push(`${file}: ${name}`);
    }
    expect(unused).toEqual([]);
  });

  it('finds a top-level ORDER BY on a column the select list re-typed, and nothing else', () => {
    expect(retypedSortKeys('SELECT id::text, name FROM t WHERE id > $1 ORDER BY id LIMIT $2')).toEqual(['id']);
    expect(retypedSortKeys('SELECT a.id::text AS id FROM t a ORDER BY at DESC, id DESC LIMIT 5')).toEqual(['id']);
    expect(retypedSortKeys('SELECT x::text AS n FROM t ORDER BY n')).toEqual(['n']);
    expect(retypedSortKeys('SELECT t.id::text FROM t WHERE t.id > $1 ORDER BY t.id LIMIT $2')).toEqual([]);
    expect(retypedSortKeys('SELECT array_agg(id::float8 ORDER BY id) AS ids FROM t')).toEqual([]);
    expect(retypedSortKeys('WITH p AS (SELECT id FROM t ORDER BY id LIMIT 3) SELECT p.id::float8 AS id FROM p')).toEqual([]);
    expect(retypedSortKeys("SELECT id FROM t WHERE k = $1::text -- ORDER BY id::text\nORDER BY id")).toEqual([]);
  });

  it('no query in sql/queries sorts by a column its select list re-typed', () => {
    const found: string[] = [];
    for (const file of fs.readdirSync(QUERIES_DIR).filter((f) => f.endsWith('.sql'))) {
      for (const [name, sql] of parseQueries(file, fs.readFileSync(path.join(QUERIES_DIR, file), 'utf8'))) {
        for (const key of retypedSortKeys(sql)) found.push(`${file}: ${name} orders by ${key}`);
      }
    }
    expect(found).toEqual([]);
  });
});
