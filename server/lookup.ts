// Lookups in constant tables by a key that came from a request. A plain object answers for its prototype too
// ("toString", "constructor", "__proto__" are "in" every table and read back as functions), which turned
// names a client chose into 500s or nonsense messages: only the table's own keys count.

/** The table's own value under `key`, or undefined for any other key (inherited ones included). */
export function own<T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined {
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
}
