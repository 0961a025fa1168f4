// Helpers for the identity, sessions, Stripe and GDPR suites (the shared ones live in helpers.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../server/store/db.js';
import { postJson, request, type Tenant } from './helpers.js';

export const auth = (t: Tenant) => ({ authorization: `Bearer ${t.secret_key}` });

export const api = (base: string, t: Tenant | null, method: string, p: string, body?: unknown, headers: Record<string, string> = {}) =>
  request(method, `${base}${p}`, body, { ...(t ? auth(t) : {}), ...headers });

export const serverEvents = (base: string, t: Tenant, body: unknown) => postJson(`${base}/api/v1/server-events`, body, auth(t));
export const identify = (base: string, t: Tenant, body: unknown) => postJson(`${base}/api/v1/identify`, body, auth(t));
export const batch = (base: string, t: Tenant, events: unknown[]) => postJson(`${base}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });

/** Every row of every table in the public schema, as JSON text, for "is this id still anywhere?" checks. */
export async function dumpDatabase(db: Db): Promise<Record<string, string[]>> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
  );
  const out: Record<string, string[]> = {};
  for (const { table_name } of tables) {
    const { rows } = await db.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM "${table_name}" t`);
    out[table_name] = rows.map((r) => r.j);
  }
  return out;
}

/** Tables and rows (JSON text) that contain any of the needles. */
export async function whereIs(db: Db, needles: string[]): Promise<Record<string, string[]>> {
  const dump = await dumpDatabase(db);
  const hits: Record<string, string[]> = {};
  for (const [t, rows] of Object.entries(dump)) {
    const found = rows.filter((r) => needles.some((n) => r.includes(n)));
    if (found.length) hits[t] = found;
  }
  return hits;
}

/** Concatenated text of every spool segment in DATA_DIR. */
export function spoolText(dataDir: string): string {
  const dir = path.join(dataDir, 'spool');
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('');
}

export const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** Signs like Stripe: `Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "t.body")>`. */
export function stripeHeader(secret: string, body: string, t = Math.floor(Date.now() / 1000), extraV1: string[] = []): string {
  const sig = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return [`t=${t}`, ...extraV1.map((s) => `v1=${s}`), `v1=${sig}`].join(',');
}

export const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
