// GDPR: export everything held about a person, erase it everywhere (events, sessions, links, rejected events,
// feature tables, the local spool, registered external stores such as Redis), leave a tombstone made only of
// digests so the person cannot be re-linked, and enforce the raw-event retention period.
import type { Logger } from 'pino';
import type { Db, Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { loadQueries } from '../store/queries.js';
import type { Spool, SpoolRecord } from '../store/spool.js';
import { idDigest } from './crypto.js';
import { toSessionView } from './sessions.js';

const Q = loadQueries('identity.sql');

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const iso = (v: unknown): string | null => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

/** A person row as the API shows it (export, GET /api/v1/persons). */
export function personView(p: Obj) {
  return {
    person_id: Number(p.person_id),
    external_id: p.external_id,
    email_sha256: p.email_sha256 ?? null,
    phone_sha256: p.phone_sha256 ?? null,
    city: p.city ?? null,
    created_at: iso(p.created_at),
    updated_at: iso(p.updated_at),
  };
}

/** Everything that identifies one person, gathered before export or erasure. */
export interface PersonIds {
  tenantId: number;
  personId: number;
  externalId: string;
  emailSha256: string | null;
  phoneSha256: string | null;
  visitorIds: string[];
  sessionIds: string[];
  orderIds: string[];
  eventIds: string[];
  /** UTC days (YYYY-MM-DD) of the events the erasure deleted from the store (the live layer rebuilds today's). */
  eventDays?: string[];
}

/** An external store that may hold the person's ids (Redis, caches); returns what it removed, by kind. */
export type Eraser = (ids: PersonIds) => Promise<Record<string, number>>;

export interface ErasureReport {
  person_id: number;
  erased_at: string;
  already_erased?: boolean;
  removed: Record<string, unknown>;
}

export interface Gdpr {
  exportPerson(tenantId: number, personId: number): Promise<Obj | { erased: ErasureReport } | null>;
  erasePerson(tenantId: number, personId: number): Promise<ErasureReport | null>;
  /** Registers an extra store to erase from (the live layer's Redis keys, for example). */
  addEraser(name: string, fn: Eraser): void;
  /** Makes sure the TimescaleDB retention policy on tx_events matches `months`. */
  applyRetentionPolicy(): Promise<{ job_id: number; drop_after: string; changed: boolean }>;
  /** Drops what is past retention now (the policy's job may not run in the embedded store). */
  runRetention(): Promise<{ dropped_chunks: string[]; sessions: number; rejected_events: number; cutoff: string }>;
}

export interface GdprDeps {
  db: Db;
  spool: Spool;
  log: Logger;
  retentionMonths: number;
}

function envelope(r: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(r)) out[k] = v instanceof Date ? v.toISOString() : v;
  out.tenant_id = Number(r.tenant_id);
  out.person_id = r.person_id === null || r.person_id === undefined ? null : Number(r.person_id);
  return out;
}

export function createGdpr(deps: GdprDeps): Gdpr {
  const { db, spool, log, retentionMonths } = deps;
  const erasers = new Map<string, Eraser>();

  /** The person's identifiers as stored now; null when no such person exists in this tenant. */
  const gather = async (q: Queryable, tenantId: number, personId: number) => {
    const p = await q.query<Obj>(Q.get_person, [tenantId, personId]);
    if (p.rows.length === 0) return null;
    const person = p.rows[0];
    const links = (await q.query<Obj>(Q.links_of_person, [tenantId, personId])).rows;
    const visitorIds = [...new Set(links.map((l) => String(l.visitor_id)))];
    const externalId = String(person.external_id);
    const events = (await q.query<Obj>(Q.person_events, [tenantId, personId, visitorIds, externalId])).rows;
    const sessionIds = [...new Set(events.map((e) => e.session_id).filter((s): s is string => typeof s === 'string'))];
    const orderIds = [...new Set(events.map((e) => (isObj(e.entities) ? e.entities.order_id : null)).filter((o): o is string | number => typeof o === 'string' || typeof o === 'number').map(String))];
    const ids: PersonIds = {
      tenantId, personId, externalId,
      emailSha256: (person.email_sha256 as string | null) ?? null,
      phoneSha256: (person.phone_sha256 as string | null) ?? null,
      visitorIds, sessionIds, orderIds,
      eventIds: events.map((e) => String(e.event_id)),
    };
    return { person, links, events, ids };
  };

  /** Rejected events that carry one of the person's ids or digests, wherever they sit in the raw body. */
  const rejectedOf = async (q: Queryable, ids: PersonIds) => {
    const s = rawSearch(ids);
    return (await q.query<Obj>(Q.rejected_of_person, [ids.tenantId, ids.eventIds, s.needles, s.patterns])).rows;
  };

  /**
   * Embedded store: the deleted values must leave the data directory's files too (heap, indexes, WAL), see
   * Db.purge. On a Postgres server nothing is done here (README, GDPR: what stays on disk and for how long).
   */
  const purgeDisk = async (tables: string[]): Promise<Record<string, unknown>> => {
    if (!db.purge) return { vacuumed: 0, note: 'postgres server: dead rows stay until autovacuum, WAL until recycled' };
    try {
      await db.purge(tables);
      return { vacuumed: tables.length, wal: 'switched_and_checkpointed' };
    } catch (err) {
      // The erasure itself is committed: report the failed vacuum rather than failing the request.
      log.error({ err: (err as Error).message }, 'GDPR: vacuum after erasure failed');
      return { vacuumed: 0, error: (err as Error).message };
    }
  };

  const featureTables = async (q: Queryable): Promise<string[]> => (await q.query<{ table_name: string }>(Q.person_feature_tables)).rows.map((r) => r.table_name);

  return {
    async exportPerson(tenantId, personId) {
      const found = await gather(db, tenantId, personId);
      if (!found) {
        const t = await db.query<{ erased_at: Date; removed: Obj }>(Q.tombstone_for_person, [tenantId, idDigest(tenantId, 'person', personId)]);
        return t.rows.length ? { erased: { person_id: personId, erased_at: iso(t.rows[0].erased_at)!, removed: t.rows[0].removed } } : null;
      }
      const { person, links, events, ids } = found;
      const sessions = (await db.query<Obj>(Q.person_sessions, [tenantId, personId, ids.visitorIds, ids.sessionIds])).rows.map(toSessionView);
      const rejected = (await rejectedOf(db, ids)).map((r) => ({ ...r, received_at: iso(r.received_at) }));
      const features: Record<string, Obj[]> = {};
      for (const t of await featureTables(db)) {
        features[t] = (await db.query<Obj>(`SELECT * FROM "${t.replace(/"/g, '""')}" WHERE tenant_id = $1 AND person_id = $2`, [tenantId, personId])).rows.map(envelope);
      }
      return {
        format: 'tixello-person-export/1',
        exported_at: new Date().toISOString(),
        person: personView(person),
        identity_links: links.map((l) => ({ ...l, person_id: Number(l.person_id), first_linked_at: iso(l.first_linked_at), linked_at: iso(l.linked_at) })),
        visitor_ids: ids.visitorIds,
        sessions,
        events: events.map(envelope),
        rejected_events: rejected,
        features,
        counts: { events: events.length, sessions: sessions.length, identity_links: links.length, rejected_events: rejected.length },
        notes: ['Contact data is stored only as SHA-256 digests of its normalised form; the plaintext was never kept.'],
      };
    },

    async erasePerson(tenantId, personId) {
      const first = await gather(db, tenantId, personId);
      if (!first) {
        const t = await db.query<{ erased_at: Date; removed: Obj }>(Q.tombstone_for_person, [tenantId, idDigest(tenantId, 'person', personId)]);
        return t.rows.length ? { person_id: personId, erased_at: iso(t.rows[0].erased_at)!, already_erased: true, removed: t.rows[0].removed } : null;
      }
      // Spooled records first, so a replay racing with this erasure cannot bring rows back after the delete.
      let spooled = await eraseFromSpool(spool, first.ids);

      const erasedAt = new Date();
      const result = await db.tx(async (q) => {
        // Links first: in-flight writer commits hold key-share locks on them, so this waits for those
        // commits and every event they stamp with this person is visible to the deletes below.
        const links = (await q.query<{ n: number }>(Q.delete_person_links, [tenantId, personId])).rows[0].n;
        await q.query(Q.lock_external_id, [tenantId, first.ids.externalId]);
        const again = await gather(q, tenantId, personId);
        // A concurrent erasure of the same person committed first: report its result instead.
        if (!again) return null;
        const ids = again.ids;
        ids.visitorIds = [...new Set([...first.ids.visitorIds, ...ids.visitorIds])];
        const deleted = (await q.query<{ event_id: string; session_id: string | null; order_id: string | null; chunk: string; day: string }>(Q.delete_person_events, [tenantId, personId, ids.visitorIds, ids.externalId])).rows;
        ids.eventIds = [...new Set([...ids.eventIds, ...deleted.map((d) => d.event_id)])];
        ids.eventDays = [...new Set(deleted.map((d) => d.day))];
        ids.sessionIds = [...new Set([...ids.sessionIds, ...deleted.map((d) => d.session_id).filter((s): s is string => !!s)])];
        ids.orderIds = [...new Set([...ids.orderIds, ...deleted.map((d) => d.order_id).filter((s): s is string => !!s)])];
        const sessions = (await q.query<{ n: number }>(Q.delete_person_sessions, [tenantId, personId, ids.visitorIds, ids.sessionIds])).rows[0].n;
        const rejectedRows = await rejectedOf(q, ids);
        const rejected = rejectedRows.length
          ? (await q.query<{ n: number }>(Q.delete_rejected, [tenantId, rejectedRows.map((r) => r.id)])).rows[0].n
          : 0;
        const features: Record<string, number> = {};
        for (const t of await featureTables(q)) {
          const { rows } = await q.query<{ n: number }>(
            `WITH d AS (DELETE FROM "${t.replace(/"/g, '""')}" WHERE tenant_id = $1 AND person_id = $2 RETURNING 1) SELECT count(*)::int AS n FROM d`,
            [tenantId, personId],
          );
          features[t] = rows[0].n;
        }
        const stripeObjects = ids.orderIds.length ? (await q.query<{ n: number }>(Q.delete_stripe_objects, [tenantId, ids.orderIds])).rows[0].n : 0;
        const persons = (await q.query<{ n: number }>(Q.delete_person, [tenantId, personId])).rows[0].n;
        const removed = {
          events: deleted.length, sessions, identity_links: links, rejected_events: rejected, persons, features, stripe_objects: stripeObjects,
          visitors: ids.visitorIds.length,
        };
        // Where dead rows now lie (the events' chunks, not the whole hypertable): vacuumed after the commit.
        const touched = [
          ...new Set(deleted.map((d) => d.chunk)),
          ...(sessions ? ['tx_sessions'] : []), 'tx_identity_links', 'persons', ...(rejected ? ['tx_rejected_events'] : []),
          ...(stripeObjects ? ['stripe_objects'] : []), ...Object.keys(features).filter((t) => features[t] > 0),
        ];
        await q.query(Q.insert_tombstone, [
          tenantId, idDigest(tenantId, 'person', personId), idDigest(tenantId, 'external', ids.externalId), erasedAt.toISOString(), JSON.stringify(removed),
        ]);
        if (ids.visitorIds.length) {
          await q.query(Q.insert_erased_visitors, [tenantId, ids.visitorIds.map((v) => idDigest(tenantId, 'visitor', v)), erasedAt.toISOString()]);
        }
        return { removed, ids, touched };
      });
      if (result === null) {
        const t = await db.query<{ erased_at: Date; removed: Obj }>(Q.tombstone_for_person, [tenantId, idDigest(tenantId, 'person', personId)]);
        return t.rows.length ? { person_id: personId, erased_at: iso(t.rows[0].erased_at)!, already_erased: true, removed: t.rows[0].removed } : null;
      }
      // Anything spooled while the transaction ran.
      spooled += await eraseFromSpool(spool, result.ids);

      const external: Record<string, Record<string, number> | { error: string }> = {};
      for (const [name, fn] of erasers) {
        try {
          external[name] = await fn(result.ids);
        } catch (err) {
          log.error({ err: (err as Error).message, eraser: name }, 'GDPR eraser failed');
          external[name] = { error: (err as Error).message };
        }
      }
      // `external` lists every registered store (e.g. the live layer's Redis streams and in-memory state).
      // The live layer rebuilds the tenant's live state (HyperLogLogs included) from the store, now without them.
      const disk = await purgeDisk(result.touched);
      const removed = { ...result.removed, spooled_records: spooled, external, disk };
      // The tombstone keeps the full report (counts only, no ids) so a repeated DELETE answers the same.
      await db.query('UPDATE gdpr_erasures SET removed = $3 WHERE tenant_id = $1 AND person_sha256 = $2', [
        tenantId, idDigest(tenantId, 'person', personId), JSON.stringify(removed),
      ]);
      log.info({ tenant_id: tenantId, removed: { ...result.removed, spooled_records: spooled } }, 'person erased');
      return { person_id: personId, erased_at: erasedAt.toISOString(), removed };
    },

    addEraser(name, fn) {
      erasers.set(name, fn);
    },

    async applyRetentionPolicy() {
      // PGlite quirk: after reopening a persisted data directory, TimescaleDB's licensed (TSL) module is not
      // loaded until the library is loaded explicitly, and every policy function fails with a license error.
      if (db.kind === 'embedded') await db.exec("LOAD 'timescaledb'");
      return db.tx(async (q) => {
        await q.query('SELECT pg_advisory_xact_lock(7465002)');
        const { rows } = await q.query<{ job_id: number; drop_after: string; matches: boolean }>(Q.retention_job, [retentionMonths]);
        if (rows.length === 1 && rows[0].matches) return { job_id: Number(rows[0].job_id), drop_after: rows[0].drop_after, changed: false };
        if (rows.length > 0) await q.query("SELECT remove_retention_policy('tx_events', if_exists => true)");
        const added = await q.query<{ job_id: number }>("SELECT add_retention_policy('tx_events', drop_after => make_interval(months => $1::int)) AS job_id", [retentionMonths]);
        return { job_id: Number(added.rows[0].job_id), drop_after: `${retentionMonths} months`, changed: true };
      });
    },

    async runRetention() {
      const cutoff = new Date();
      cutoff.setUTCMonth(cutoff.getUTCMonth() - retentionMonths);
      const dropped = (await db.query<{ chunk: string }>(Q.drop_old_chunks, [retentionMonths])).rows.map((r) => r.chunk);
      const sessions = (await db.query<{ n: number }>(Q.delete_old_sessions, [retentionMonths])).rows[0].n;
      const rejected = (await db.query<{ n: number }>(Q.delete_old_rejected, [retentionMonths])).rows[0].n;
      if (dropped.length || sessions || rejected) log.info({ dropped_chunks: dropped.length, sessions, rejected }, 'retention applied');
      return { dropped_chunks: dropped, sessions, rejected_events: rejected, cutoff: cutoff.toISOString() };
    },
  };
}

/**
 * Removes the person's events and rejected events from every spooled record; returns records changed.
 * Skipped when nothing is spooled. A segment can vanish under the rewrite when a replay finishes it at the
 * same moment (ENOENT): the rewrite is then simply repeated.
 */
export async function eraseFromSpool(spool: Spool, ids: PersonIds): Promise<number> {
  const m = matcher(ids);
  const edit = (r: SpoolRecord): SpoolRecord | null => {
    const events = r.events.filter((e) => !m.event(e));
    const rejected = r.rejected.filter((x) => !m.rejected(x.tenant_id, x.event_id, x.raw_body));
    if (events.length === r.events.length && rejected.length === r.rejected.length) return r;
    return events.length === 0 && rejected.length === 0 ? null : { events, rejected };
  };
  for (let attempt = 1; ; attempt++) {
    if (spool.pendingBytes() === 0) return 0;
    try {
      return await spool.rewrite(edit);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
    }
  }
}

/** Lookup sets over a person's ids, built once per erasure. */
export function matcher(ids: PersonIds) {
  const visitors = new Set(ids.visitorIds);
  const sessions = new Set(ids.sessionIds);
  const events = new Set(ids.eventIds);
  const orders = new Set(ids.orderIds);
  const search = rawSearch(ids);
  return {
    /** True when a stored or spooled row is part of the person's data. */
    event(e: EventRow): boolean {
      if (Number(e.tenant_id) !== ids.tenantId) return false;
      if (e.person_id !== null && e.person_id !== undefined && Number(e.person_id) === ids.personId) return true;
      if (e.visitor_id && visitors.has(e.visitor_id)) return true;
      if (e.session_id && sessions.has(e.session_id)) return true;
      if (events.has(e.event_id)) return true;
      const order = e.entities?.order_id;
      if ((typeof order === 'string' || typeof order === 'number') && orders.has(String(order))) return true;
      const customer = isObj(e.payload?.customer) ? e.payload.customer : null;
      if (customer && (String(customer.external_id) === ids.externalId || (ids.emailSha256 && customer.email_sha256 === ids.emailSha256))) return true;
      if (e.event_name === 'points_earned' && e.payload && String(e.payload.customer_external_id) === ids.externalId) return true;
      return false;
    },
    /** True when a rejected event (raw body as sent) is part of the person's data. */
    rejected(tenantId: number, eventId: unknown, raw: string): boolean {
      if (Number(tenantId) !== ids.tenantId) return false;
      if (typeof eventId === 'string' && events.has(eventId)) return true;
      return rawMentions(raw, search);
    },
  };
}

/** Below this length an order or customer id is matched only as the value of its own field, not anywhere. */
const SHORT_ID = 8;
const reEscape = (s: string) => s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');

/**
 * How a raw (rejected) body is recognised as the person's, whatever its shape, by text search (the SQL
 * query and the spool use the same): `needles` are substrings — their visitor, session and event ids (and
 * long order / customer ids) as JSON strings, and their contact digests (bodies are stored with contact data
 * hashed, pii.ts) —, `patterns` are regular expressions (valid in JavaScript and in Postgres) for their order
 * and customer ids as the value of their own field, string or number. Ids of another person that happen to
 * equal one of these strings match too: erasure then removes that whole rejected body.
 */
export function rawSearch(ids: PersonIds): { needles: string[]; patterns: string[] } {
  const long = [ids.externalId, ...ids.orderIds].filter((x) => x.length >= SHORT_ID);
  const needles = [...ids.visitorIds, ...ids.sessionIds, ...ids.eventIds, ...long].map((x) => JSON.stringify(x));
  for (const h of [ids.emailSha256, ids.phoneSha256]) if (h) needles.push(h);
  const value = (x: string) => {
    const lit = reEscape(JSON.stringify(x));
    return /^-?[0-9]+$/.test(x) ? `(?:${lit}|${reEscape(x)}(?![0-9.eE]))` : lit;
  };
  const patterns = [
    `"(?:external_id|customer_external_id)"\\s*:\\s*${value(ids.externalId)}`,
    ...ids.orderIds.map((o) => `"order_id"\\s*:\\s*${value(o)}`),
  ];
  return { needles: [...new Set(needles)], patterns };
}

/** True when a raw (rejected) body is about the person (see rawSearch). */
export function rawMentions(raw: string, s: { needles: string[]; patterns: string[] }): boolean {
  return s.needles.some((n) => raw.includes(n)) || s.patterns.some((p) => new RegExp(p).test(raw));
}
