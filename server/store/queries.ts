// Named queries live in sql/queries/*.sql as `-- name: x` sections, so SQL stays reviewable as SQL.
// A module declares the names it uses when it loads (`const Q = queries('events.sql', ['insert_events'])`):
// a name no file defines fails the import, i.e. the server's start-up, not the first request that needs it.
// store/queries.test.ts imports every module that declares queries and checks no .sql section is unused.
import fs from 'node:fs';
import path from 'node:path';
import { SQL_DIR } from './migrate.js';

export const QUERIES_DIR = path.join(SQL_DIR, 'queries');

/** Thrown at module load when a declared query name is not defined in its file (or the file is malformed). */
export class QueryNotDefinedError extends Error {
  constructor(
    readonly file: string,
    readonly missing: string[],
  ) {
    super(`sql/queries/${file} defines no query named ${missing.join(', ')} (add a "-- name: ${missing[0]}" section or fix the name)`);
    this.name = 'QueryNotDefinedError';
  }
}

/** Parses one file's `-- name:` sections; a name defined twice is an error (the second would win silently). */
export function parseQueries(file: string, text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(/^-- name: /m).slice(1)) {
    const nl = part.indexOf('\n');
    const name = part.slice(0, nl).trim();
    if (out.has(name)) throw new Error(`sql/queries/${file} defines the query ${name} twice`);
    out.set(name, part.slice(nl + 1).trim().replace(/;\s*$/, ''));
  }
  return out;
}

const files = new Map<string, Map<string, string>>();
const declared = new Map<string, Set<string>>();

function fileQueries(file: string): Map<string, string> {
  let parsed = files.get(file);
  if (!parsed) {
    parsed = parseQueries(file, fs.readFileSync(path.join(QUERIES_DIR, file), 'utf8'));
    files.set(file, parsed);
  }
  return parsed;
}

/** The declared queries of `file`, by name; throws QueryNotDefinedError when one is missing. */
export function queries<const N extends string>(file: string, names: readonly N[]): Readonly<Record<N, string>> {
  const all = fileQueries(file);
  const missing = names.filter((n) => !all.has(n));
  if (missing.length) throw new QueryNotDefinedError(file, missing);
  const uses = declared.get(file) ?? new Set<string>();
  declared.set(file, uses);
  const out = {} as Record<N, string>;
  for (const n of names) {
    uses.add(n);
    out[n] = all.get(n)!;
  }
  return Object.freeze(out);
}

/** What the loaded modules declared so far, by file (for the unused-query test). */
export function declaredQueries(): ReadonlyMap<string, ReadonlySet<string>> {
  return declared;
}

/**
 * Sort keys of a statement's top-level ORDER BY that name a column its select list re-typed (`id::text` or
 * `x::text AS id`). Postgres resolves such a name to the output column, so the rows sort as text ("10" before
 * "9") while the keyset filter compares the original column: a page ends on the wrong row and rows are
 * skipped. Qualify the sort key (`t.id`) instead. Only the outermost level is read (CTEs and aggregates' own
 * ORDER BY sort their input columns).
 */
export function retypedSortKeys(sql: string): string[] {
  let depth = 0;
  let top = '';
  for (const ch of sql.replace(/--[^\n]*/g, ' ')) {
    if (ch === '(') depth++;
    top += depth === 0 ? ch : ' ';
    if (ch === ')') depth--;
  }
  const retyped = new Set<string>();
  for (const m of top.matchAll(/(?<![\w.])(\w+)::\w+\b(?:\[\])?(?!\s*(?:\[|AS\b))/gi)) retyped.add(m[1].toLowerCase());
  for (const m of top.matchAll(/::\w+(?:\[\])?\s+AS\s+(\w+)/gi)) retyped.add(m[1].toLowerCase());
  const out: string[] = [];
  for (const m of top.matchAll(/ORDER\s+BY\s+([\s\S]*?)(?=\bLIMIT\b|\bOFFSET\b|\bFOR\b|;|$)/gi)) {
    for (const item of m[1].split(',')) {
      const key = item.trim().match(/^(\w+)(?:\s+(?:ASC|DESC|NULLS\s+\w+))*\s*$/i)?.[1]?.toLowerCase();
      if (key && retyped.has(key)) out.push(key);
    }
  }
  return out;
}
