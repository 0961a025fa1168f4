// An erasure held open right after it deleted the person's identity links, and a request sent into that window
// (test/gdpr-late-race.test.ts, test/gdpr-rejected-late.test.ts): the deterministic order in which a commit on a
// PostgreSQL server meets an erasure still running.
import { createGdpr } from '../server/gdpr/erasure.js';
import type { GdprRegistry, PersonTable } from '../server/gdpr/registry.js';
import { createPersonDataRegistry } from '../server/person-data.js';
import type { Db } from '../server/store/db.js';
import type { Spool } from '../server/store/spool.js';
import { silent } from './helpers.js';

/** Starts erasing the person; resolves once its links are deleted, the erasure's transaction held until `release`. */
export async function erasureHeldAfterLinks(db: Db, tenantId: number, personId: number) {
  const base = createPersonDataRegistry();
  let reached!: () => void;
  let release!: () => void;
  const linksDeleted = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  const tables = base.tables().map((e): PersonTable => e.name !== 'identity_links' ? e : {
    ...e,
    async erase(q, ids) {
      const out = await e.erase(q, ids);
      reached();
      await released;
      return out;
    },
  });
  const registry: GdprRegistry = { ...base, tables: () => tables };
  const gdpr = createGdpr({ db, spool: { pendingBytes: () => 0 } as unknown as Spool, log: silent, registry });
  const erasing = gdpr.erasePerson(tenantId, personId);
  await linksDeleted;
  return { erasing, release };
}

/**
 * Sends `request` and resolves once the writer waits on the links' lock (FOR KEY SHARE), or once the request
 * answered if it never waits (`settled` true: the callers' assertions then decide).
 */
export async function sentWhileWaitingOnLinks<T>(db: Db, request: () => Promise<T>): Promise<{ sent: Promise<T>; settled: () => boolean }> {
  let settled = false;
  const sent = request().finally(() => (settled = true));
  for (;;) {
    if (settled) break;
    const waiting = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR KEY SHARE%'",
    );
    if (waiting.rows[0].n > 0) break;
    await new Promise((r) => setImmediate(r));
  }
  return { sent, settled: () => settled };
}
