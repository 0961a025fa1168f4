// GDPR: export everything held about a person and erase it everywhere, table by table and store by store as
// the registry lists them (registry.ts), plus the local spool; leave a tombstone made only of digests so the
// person cannot be re-linked.
// The database part is one transaction; the local spool, the external stores and the disk purge run after its
// commit. That transaction also writes the list of those steps (gdpr_erasure_steps, sql/021): a crash after the
// commit leaves it, and a repeated erasure of the person or the `gdpr.resume` job finishes it (resumeJob).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { idDigest } from '../identity/crypto.js';
import { linkView, personView } from '../identity/persons.js';
import type { Db, Queryable } from '../store/db.js';
import type { Job } from '../jobs/runner.js';
import { queries } from '../store/queries.js';
import { isObj, isoIfDate, isoOrNull, type Obj } from '../store/rows.js';
import type { Spool } from '../store/spool.js';
import { eraseFromSpool, noteShared } from './match.js';
import { inPhase, type GdprRegistry, type PersonIds } from './registry.js';

const Q = queries('gdpr.sql', [
  'tombstone_for_person', 'person_events', 'insert_tombstone', 'insert_erased_visitors', 'insert_erased_orders', 'insert_erasure_steps', 'erasure_steps_of',
  'claim_erasure_steps', 'save_erasure_steps', 'finish_erasure_steps', 'release_erasure_steps', 'due_erasure_steps',
]);

/** The job that finishes interrupted or failed post-commit steps of erasures. */
export const RESUME_JOB = 'gdpr.resume';
/** How long a node holds an erasure's post-commit steps (renewed after each step). */
export const STEPS_LEASE_S = 120;
/** Erasures the job finishes per run. */
export const RESUME_PER_RUN = 20;
/** The table of the steps: the disk purge rewrites it too (it held the ids until the external steps ran). */
const STEPS_TABLE = 'gdpr_erasure_steps';
/** After a failed step the job tries again after 1, 2, 4 … minutes, at most an hour. */
export const retryDelayS = (attempts: number): number => Math.min(3600, 60 * 2 ** Math.max(0, Math.min(attempts - 1, 6)));
const P = queries('persons.sql', ['get_person', 'links_of_person', 'lock_external_id']);

export interface ErasureReport {
  person_id: number;
  erased_at: string;
  already_erased?: boolean;
  removed: Record<string, unknown>;
}

export interface Gdpr {
  exportPerson(tenantId: number, personId: number): Promise<Obj | { erased: ErasureReport } | null>;
  /**
   * Erases the person. Of a person already erased: first finishes the steps of that erasure still to do (an
   * interrupted one), then answers its report with already_erased (`removed.pending` lists the steps still to do
   * when they could not be finished now).
   */
  erasePerson(tenantId: number, personId: number): Promise<ErasureReport | null>;
  /** Finishes every due erasure whose post-commit steps are still to do; the number finished. */
  resumeAll(): Promise<number>;
  /** `gdpr.resume` on the job runner (every 30 s): resumeAll. */
  resumeJob(): Job;
}

/** An erasure's post-commit steps (a gdpr_erasure_steps row). */
interface Steps {
  tenantId: number;
  sha: string;
  /** 'spool', 'external:<name>', 'disk' */
  todo: string[];
  ids: PersonIds | null;
  touched: string[];
  report: { spooled_records?: number; external?: Record<string, unknown>; disk?: Record<string, unknown> };
  attempts: number;
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

/**
 * The person's identifiers as stored now (with what of them other persons hold too, match.ts noteShared); null
 * when no such person exists in this tenant.
 */
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
  await noteShared(q, ids);
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

  // This instance's lease owner; and per person, the in-process chain of erasures and resumes, so that a
  // repeated DELETE, the job and the erasure itself never run the same person's steps at once in this process.
  const owner = randomUUID();
  const anyLease = db.kind === 'embedded';
  const chains = new Map<string, Promise<unknown>>();
  const serial = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const next = (chains.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    chains.set(key, next);
    next.then(() => undefined, () => undefined).finally(() => {
      if (chains.get(key) === next) chains.delete(key);
    });
    return next;
  };

  /**
   * Runs what is left of an erasure's post-commit steps, recording progress after each kind of step: the spool
   * and the external stores (with the ids), then the ids are dropped from the list, then the disk purge (which
   * rewrites the list's table too). A failed store or purge stays to do. True when all are done.
   */
  const runSteps = async (s: Steps): Promise<boolean> => {
    const save = async () =>
      (await db.query<{ n: number }>(Q.save_erasure_steps, [s.tenantId, s.sha, s.todo, s.ids ? JSON.stringify(s.ids) : null, JSON.stringify(s.report), STEPS_LEASE_S, owner])).rows[0]?.n === 1;
    const done = (step: string) => (s.todo = s.todo.filter((t) => t !== step));
    if (s.ids) {
      if (s.todo.includes('spool')) {
        s.report.spooled_records = (s.report.spooled_records ?? 0) + (await eraseFromSpool(spool, s.ids));
        done('spool');
      }
      const external = { ...(s.report.external ?? {}) };
      for (const step of s.todo.filter((t) => t.startsWith('external:'))) {
        const name = step.slice('external:'.length);
        const fn = registry.stores().get(name);
        try {
          // A store this node does not have (not configured here): nothing of it to erase on this node.
          external[name] = fn ? await fn(s.ids) : { not_registered: 1 };
          done(step);
        } catch (err) {
          log.error({ err: (err as Error).message, eraser: name }, 'GDPR eraser failed');
          external[name] = { error: (err as Error).message };
        }
      }
      s.report.external = external;
    }
    // The ids leave the list once nothing needs them (before the purge, which then rewrites their dead copy).
    if (!s.todo.some((t) => t === 'spool' || t.startsWith('external:'))) s.ids = null;
    if (!(await save())) return false;
    if (s.todo.includes('disk')) {
      const idsGone = s.ids === null;
      s.report.disk = await purgeDisk([...new Set([...s.touched, STEPS_TABLE])]);
      if (!('error' in s.report.disk) && idsGone) done('disk');
    }
    if (s.todo.length) {
      await save();
      return false;
    }
    return (await db.query<{ n: number }>(Q.finish_erasure_steps, [s.tenantId, s.sha, JSON.stringify(s.report), owner])).rows[0]?.n === 1;
  };

  /** Runs the steps of an erasure this node holds; when they are not all done, frees them for the job's retry. */
  const runHeld = async (s: Steps): Promise<void> => {
    let finished = false;
    try {
      finished = await runSteps(s);
    } catch (err) {
      log.error({ err: (err as Error).message, tenant_id: s.tenantId }, 'GDPR: post-commit steps of an erasure failed; gdpr.resume retries them');
    }
    if (!finished) {
      // A failed release is not retried here: the lease runs out (STEPS_LEASE_S) and gdpr.resume takes the steps then.
      await db.query(Q.release_erasure_steps, [s.tenantId, s.sha, owner, retryDelayS(s.attempts)]).catch((err: unknown) => {
        log.warn({ err: (err as Error).message, tenant_id: s.tenantId }, `GDPR: releasing the unfinished steps of an erasure failed; gdpr.resume retries them when the lease ends (${STEPS_LEASE_S} s)`);
      });
    }
  };

  /** Takes over an erasure's left steps (none, or another live node holds them: false) and runs them. */
  const resume = async (tenantId: number, sha: string): Promise<boolean> => {
    const row = (await db.query<{ todo: string[]; ids: PersonIds | null; touched: string[]; report: Steps['report']; attempts: number }>(
      Q.claim_erasure_steps, [tenantId, sha, owner, STEPS_LEASE_S, anyLease],
    )).rows[0];
    if (!row) return false;
    log.warn({ tenant_id: tenantId, todo: row.todo }, 'GDPR: finishing the post-commit steps of an interrupted erasure');
    await runHeld({ tenantId, sha, todo: row.todo, ids: row.ids, touched: row.touched ?? [], report: row.report ?? {}, attempts: Number(row.attempts) });
    return true;
  };

  /** The tombstone's answer to a repeated erasure, after finishing what that erasure left to do. */
  const alreadyErased = async (tenantId: number, personId: number): Promise<ErasureReport | null> => {
    const sha = idDigest(tenantId, 'person', personId);
    if ((await db.query(Q.erasure_steps_of, [tenantId, sha])).rows.length) await resume(tenantId, sha);
    const t = await tombstone(tenantId, personId);
    return t ? { person_id: t.person_id, erased_at: t.erased_at, already_erased: true, removed: t.removed } : null;
  };

  const resumeAll = async (): Promise<number> => {
    const due = (await db.query<{ tenant_id: string; person_sha256: string }>(Q.due_erasure_steps, [owner, anyLease, RESUME_PER_RUN])).rows;
    let n = 0;
    for (const d of due) {
      const tenantId = Number(d.tenant_id);
      const sha = d.person_sha256.trim();
      await serial(`${tenantId}:${sha}`, async () => {
        if (await resume(tenantId, sha)) n++;
      });
    }
    return n;
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

    erasePerson: (tenantId, personId) => serial(`${tenantId}:${idDigest(tenantId, 'person', personId)}`, async (): Promise<ErasureReport | null> => {
      const sha = idDigest(tenantId, 'person', personId);
      const first = await gather(db, tenantId, personId);
      if (!first) return alreadyErased(tenantId, personId);
      // Spooled records first, so a replay racing with this erasure cannot bring rows back after the delete.
      const spooled = await eraseFromSpool(spool, first.ids);

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
        // Which of them (and of the digests) other persons hold, now that this person's links are gone.
        await noteShared(q, ids);
        // What the links-phase erasers noted for after the commit (registry.ts PersonIds.eventEntities).
        if (first.ids.eventEntities) ids.eventEntities = first.ids.eventEntities;
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
        // What is left to do after the commit, committed with the erasure: a crash from here on leaves this list
        // for a repeated erasure or the gdpr.resume job. The tombstone lists it as pending until it is done.
        const todo = ['spool', ...[...registry.stores().keys()].map((n) => `external:${n}`), 'disk'];
        await q.query(Q.insert_tombstone, [
          tenantId, idDigest(tenantId, 'person', personId), idDigest(tenantId, 'external', ids.externalId), erasedAt.toISOString(), JSON.stringify({ ...removed, pending: todo }),
        ]);
        // Only visitor ids no other person is linked to: a shared device's later events are the other person's.
        if (ids.visitorIds.length) {
          await q.query(Q.insert_erased_visitors, [tenantId, personId, ids.visitorIds, ids.visitorIds.map((v) => idDigest(tenantId, 'visitor', v)), erasedAt.toISOString()]);
        }
        // A late Stripe event about one of their orders must not map its payment objects to the order again.
        if (ids.orderIds.length) {
          await q.query(Q.insert_erased_orders, [tenantId, ids.orderIds.map((o) => idDigest(tenantId, 'order', o)), erasedAt.toISOString()]);
        }
        // Where dead rows now lie (the events' chunks, not the whole hypertable): vacuumed by the disk step.
        await q.query(Q.insert_erasure_steps, [tenantId, sha, todo, JSON.stringify(ids), [...touched], owner, STEPS_LEASE_S]);
        return { removed, ids, touched: [...touched], todo };
      });
      if (result === null) return alreadyErased(tenantId, personId);
      // Anything spooled while the transaction ran, every registered store outside the database (e.g. the live
      // layer's Redis streams and in-memory state: it rebuilds the tenant's live state, HyperLogLogs included,
      // from the store, now without them), then the disk purge; each recorded as done in gdpr_erasure_steps.
      const steps: Steps = { tenantId, sha, todo: result.todo, ids: result.ids, touched: result.touched, report: { spooled_records: spooled }, attempts: 1 };
      await runHeld(steps);
      const removed: Record<string, unknown> = { ...result.removed, spooled_records: steps.report.spooled_records ?? spooled, external: steps.report.external ?? {}, disk: steps.report.disk ?? {} };
      if (steps.todo.length) removed.pending = steps.todo;
      log.info({ tenant_id: tenantId, removed: { ...result.removed, spooled_records: removed.spooled_records }, pending: steps.todo }, 'person erased');
      return { person_id: personId, erased_at: erasedAt.toISOString(), removed };
    }),
    resumeAll,
    resumeJob: () => ({ name: RESUME_JOB, schedule: { every: 30 }, timeoutS: 600, run: () => resumeAll() }),
  };
}
