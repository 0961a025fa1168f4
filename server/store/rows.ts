// Row converters shared by every store module: database rows arrive as Date/string/number depending on the
// driver (pg, PGlite) and the column type, and the API always answers with ISO strings and plain numbers.

export type Obj = Record<string, unknown>;

/** A plain JSON object (not null, not an array). */
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A timestamp column as an ISO string (a Date, or text Postgres printed). */
export const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

/** Like iso(), keeping SQL NULL as null. */
export const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

/** Dates become ISO strings; anything else is passed through (envelopes keep their JSON values as stored). */
export const isoIfDate = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : v);

/** A numeric column (bigint arrives as text) as a number, keeping SQL NULL as null. */
export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
