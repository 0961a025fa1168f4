// GDPR: export everything held about a person and erase it everywhere, table by table and store by store as
// the registry lists them (registry.ts), plus the local spool; leave a tombstone made only of digests so the
// person cannot be re-linked.
import type { Logger } from 'pino';
import { idDigest } from '../identity/crypto.js';
import { linkView, personView } from '../identity/persons.js';
import type { Db, Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { isObj, isoIfDate, isoOrNull, type Obj } from '../store/rows.js';
import type { Spool } from '../store/spool.js';
import { eraseFromSpool } from './match.js';
import { inPhase, type GdprRegistry, type PersonIds } from './registry.js';

const Q = queries('gdpr.sql', ['tombstone_for_person', 'person_events', 'insert_tombstone', 'insert_erased_visitors', 'update_tombstone_report']);
const P = queries('persons.sql', ['get_person', 'links_of_person', 'lock_external_id']);

export interface ErasureReport {
  person_id: number;
  erased_at: string;
  already_erased?: boolean;
  removed: Record<string, unknown>;
}

export interface Gdpr {
  exportPerson(tenantId: number, personId: number): Promise<Obj | { erased: ErasureReport } | null>;
  erasePerson(tenantId: number, personId: number): Promise<ErasureReport | null>;
}

export interface GdprDeps {
  db: Db;
  spool: Spool;
  log: Logger;
  registry: GdprRegistry;
}

/** A stored event as the export shows it. */
export function envelope(r: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(r)) out[k] = isoIfDate(v);
  out.tenant_id = Number(r.tenant_id);
  out.person_id = r.person_id === null || r.person_id === undefined ? null : Number(r.person_id);
  return out;
}

/** The person's identifiers as stored now; null when no such person exists in this tenant. */
async function gather(q: Queryable, tenantId: number, personId: number) {
  const p = await q.query<Obj>(P.get_person, [tenantId, personId]);
  if (p.rows.length === 0) return null;
  const person = p.rows[0];
  const links = (await q.query<Obj>(P.links_of_person, [tenantId, personId])).rows;
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
}

export function createGdpr(deps: GdprDeps): Gdpr {
  const { db, spool, log, registry } = deps;

  const tombstone = async (tenantId: number, personId: number) => {
    const t = await db.query<{ erased_at: Date; removed: Obj }>(Q.tombstone_for_person, [tenantId, idDigest(tenantId, 'person', personId)]);
    return t.rows.length ? { person_id: personId, erased_at: isoOrNull(t.rows[0].erased_at)!, removed: t.rows[0].removed } : null;
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

  return {
    async exportPerson(tenantId, personId) {
      const found = await gather(db, tenantId, personId);
      if (!found) {
        const t = await tombstone(tenantId, personId);
        return t ? { erased: t } : null;
      }
      const { person, links, events, ids } = found;
      // Persons, links and events are the gathered record itself; the other tables export their own rows.
      const rows: Record<string, unknown[]> = {};
      const features: Record<string, unknown[]> = {};
      for (const t of registry.tables()) {
        if (!t.export) continue;
        const out = await t.export(db, ids);
        if (t.feature) features[t.name] = out;
        else rows[t.name] = out;
      }
      const sessions = rows.sessions ?? [];
      const rejected = rows.rejected_events ?? [];
      return {
        format: 'tixello-person-export/1',
        exported_at: new Date().toISOString(),
        person: personView(person),
        identity_links: links.map(linkView),
        visitor_ids: ids.visitorIds,
        sessions,
        events: events.map(envelope),
        rejected_events: rejected,
        features,
        // The other domains' rows (audiences, conversions, …), each under its registry name.
        ...Object.fromEntries(Object.entries(rows).filter(([k]) => k !== 'sessions' && k !== 'rejected_events')),
        counts: { events: events.length, sessions: sessions.length, identity_links: links.length, rejected_events: rejected.length },
        notes: ['Contact data is stored only as SHA-256 digests of its normalised form; the plaintext was never kept.'],
      };
    },

    async erasePerson(tenantId, personId) {
      const first = await gather(db, tenantId, personId);
      if (!first) {
        const t = await tombstone(tenantId, personId);
        return t ? { person_id: t.person_id, erased_at: t.erased_at, already_erased: true, removed: t.removed } : null;
      }
      // Spooled records first, so a replay racing with this erasure cannot bring rows back after the delete.
      let spooled = await eraseFromSpool(spool, first.ids);

      const erasedAt = new Date();
      const result = await db.tx(async (q) => {
        const counts = new Map<string, number>();
        const touched = new Set<string>();
        const erase = async (phase: 'links' | 'rows' | 'person', ids: PersonIds) => {
          for (const t of inPhase(registry, phase)) {
            const r = await t.erase(q, ids);
            counts.set(`${t.feature ? 'feature' : 'table'}:${t.name}`, r.removed);
            for (const x of r.touched) touched.add(x);
          }
        };
        // Links first (see ErasePhase): waits for in-flight commits that stamp events with this person.
        await erase('links', first.ids);
        await q.query(P.lock_external_id, [tenantId, first.ids.externalId]);
        const again = await gather(q, tenantId, personId);
        // A concurrent erasure of the same person committed first: report its result instead.
        if (!again) return null;
        const ids = again.ids;
        ids.visitorIds = [...new Set([...first.ids.visitorIds, ...ids.visitorIds])];
        await erase('rows', ids);
        await erase('person', ids);
        const removed: Record<string, unknown> = {};
        const features: Record<string, number> = {};
        for (const t of registry.tables()) {
          const n = counts.get(`${t.feature ? 'feature' : 'table'}:${t.name}`) ?? 0;
          if (t.feature) features[t.name] = n;
          else removed[t.name] = n;
        }
        removed.features = features;
        removed.visitors = ids.visitorIds.length;
        await q.query(Q.insert_tombstone, [
          tenantId, idDigest(tenantId, 'person', personId), idDigest(tenantId, 'external', ids.externalId), erasedAt.toISOString(), JSON.stringify(removed),
        ]);
        if (ids.visitorIds.length) {
          await q.query(Q.insert_erased_visitors, [tenantId, ids.visitorIds.map((v) => idDigest(tenantId, 'visitor', v)), erasedAt.toISOString()]);
        }
        // Where dead rows now lie (the events' chunks, not the whole hypertable): vacuumed after the commit.
        return { removed, ids, touched: [...touched] };
      });
      if (result === null) {
        const t = await tombstone(tenantId, personId);
        return t ? { person_id: t.person_id, erased_at: t.erased_at, already_erased: true, removed: t.removed } : null;
      }
      // Anything spooled while the transaction ran.
      spooled += await eraseFromSpool(spool, result.ids);

      // Every registered store outside the database (e.g. the live layer's Redis streams and in-memory state);
      // the live layer rebuilds the tenant's live state (HyperLogLogs included) from the store, now without them.
      const external: Record<string, Record<string, number> | { error: string }> = {};
      for (const [name, fn] of registry.stores()) {
        try {
          external[name] = await fn(result.ids);
        } catch (err) {
          log.error({ err: (err as Error).message, eraser: name }, 'GDPR eraser failed');
          external[name] = { error: (err as Error).message };
        }
      }
      const disk = await purgeDisk(result.touched);
      const removed = { ...result.removed, spooled_records: spooled, external, disk };
      // The tombstone keeps the full report (counts only, no ids) so a repeated DELETE answers the same.
      await db.query(Q.update_tombstone_report, [tenantId, idDigest(tenantId, 'person', personId), JSON.stringify(removed)]);
      log.info({ tenant_id: tenantId, removed: { ...result.removed, spooled_records: spooled } }, 'person erased');
      return { person_id: personId, erased_at: erasedAt.toISOString(), removed };
    },
  };
}
