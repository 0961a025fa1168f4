// Named queries live in sql/queries/*.sql as `-- name: x` sections, so SQL stays reviewable as SQL.
import fs from 'node:fs';
import path from 'node:path';
import { SQL_DIR } from './migrate.js';

export function loadQueries(file: string): Record<string, string> {
  const text = fs.readFileSync(path.join(SQL_DIR, 'queries', file), 'utf8');
  const out: Record<string, string> = {};
  for (const part of text.split(/^-- name: /m).slice(1)) {
    const nl = part.indexOf('\n');
    out[part.slice(0, nl).trim()] = part.slice(nl + 1).trim().replace(/;\s*$/, '');
  }
  return out;
}
