// Queries are checked when the modules load: a module asking for a name no .sql file defines fails its import
// (the server's start-up). This suite loads every module that declares queries and also finds the sections
// no module asks for (dead SQL), so sql/queries/ and the code cannot drift apart silently.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { declaredQueries, parseQueries, queries, QueryNotDefinedError, QUERIES_DIR } from './queries.js';

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
});
