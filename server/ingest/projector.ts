// Deferred projectors: work that follows committed events out of the commit (sessions), fed from tx_events
// through a durable cursor (tx_projector_cursors: the last tx_events.id folded in). Exactly once and restart
// safe: one pass reads the rows after the cursor, runs the projectors and moves the cursor in ONE transaction,
// so a kill -9 anywhere leaves either all of it or none of it, and the next pass (at boot, or the next commit)
// picks up from the cursor. Passes of every node serialise on one advisory lock (PROJECT_LOCK), which GDPR
// erasure of sessions takes too (sessions.sql), so a pass can never re-create what an erasure removed.
//
// The horizon: ids are drawn from tx_events' sequence when a row is inserted, but commits of several lanes (or
// nodes) finish in any order, so "the highest id stored" may sit above an id still uncommitted. Every writer
// commit holds WRITE_LOCK shared from its first statement; a pass reads the sequence's last value H, then the
// transactions holding WRITE_LOCK, and waits until those have ended: every id ≤ H is then committed or gone.
// The embedded store has one session and runs statements in turn, so H is final as soon as it is read.
//
// A pass runs after each commit of this node (kick), at boot, and from the ingest.project job (a safety net
// for rows another node committed and could not project): never from a bare timer.
import type { Logger } from 'pino';
import type { Db, Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { queries } from '../store/queries.js';
import type { WriterHook } from './hooks.js';

const Q = queries('events.sql', [
  'writer_share_lock', 'id_horizon', 'writers_in_flight', 'projector_lock', 'projector_cursor', 'projector_rows', 'projector_advance',
  'projector_advance_to_horizon',
]);

/** Cumulative figures of one deferred stage (exposed on /metrics). */
export interface ProjectionStats {
  name: string;
  /** tx_events.id folded in so far. */
  position: number;
  passes: number;
  rows: number;
  errors: number;
  /** Seconds the oldest commit not yet projected has waited (0 when caught up). */
  lagSeconds: number;
  maxLagSeconds: number;
}

export interface ProjectionRunner {
  /**
   * Embedded store only (one session): the commit ran the projector itself; the cursor moves to the last id
   * drawn, in the same transaction (every lower id is committed or rolled back: nothing else runs meanwhile).
   */
  advanceInCommit(q: Queryable): Promise<void>;
  /** New rows were committed: a pass follows (one at a time; kicks during a pass make one more pass). */
  kick(): void;
  /** Resolves once every row committed before the call is projected (bounded by `waitMs`; then it resolves anyway). */
  projected(waitMs?: number): Promise<void>;
  /** One pass now (the safety-net job); resolves with the rows it projected. */
  pass(): Promise<number>;
  stats(): ProjectionStats;
  close(): Promise<void>;
}

export interface ProjectionDeps {
  db: Db;
  log: Logger;
  /** The cursor's name (tx_projector_cursors.projector). */
  name: string;
  /** Run in order with the rows of a pass, inside its transaction (same contract as writer projectors). */
  projectors: WriterHook[];
  /** Rows per pass at most. */
  batchRows?: number;
  /** Milliseconds (Date.now by default). */
  now?: () => number;
  /** First backoff after a failed pass, milliseconds (doubles per failure, up to 30 s). */
  retryMs?: number;
  /** False while the writer knows the store is down: no retries then (the writer kicks once it is back). */
  storeUp?: () => boolean;
}

/**
 * Every writer commit's first statement (PostgreSQL): WRITE_LOCK shared until the commit ends, so horizon() can
 * wait for the commits that drew ids. Taken whether or not deferred projectors run: the feature jobs read the
 * horizon too (features/jobs.ts).
 */
export async function enterWriterCommit(db: Pick<Db, 'kind'>, q: Queryable): Promise<void> {
  if (db.kind === 'postgres') await q.query(Q.writer_share_lock);
}

/**
 * The highest tx_events.id below which every row is final (committed or rolled back): for any reader that follows
 * tx_events by id (a cursor), since "max(id) visible" can sit above an id a slower lane has not committed yet.
 */
export async function horizon(db: Db, closed: () => boolean): Promise<number> {
  const h = Number((await db.query<{ h: string }>(Q.id_horizon)).rows[0]?.h ?? 0);
  if (db.kind !== 'postgres') return h;
  const holders = new Set((await db.query<{ vx: string }>(Q.writers_in_flight)).rows.map((r) => r.vx));
  // Commits are short (a group commit): poll until those that were in flight have ended.
  for (let wait = 2; holders.size > 0 && !closed(); wait = Math.min(50, wait * 2)) {
    await new Promise((r) => setTimeout(r, wait));
    const now = new Set((await db.query<{ vx: string }>(Q.writers_in_flight)).rows.map((r) => r.vx));
    for (const vx of holders) if (!now.has(vx)) holders.delete(vx);
  }
  return h;
}

export function createProjectionRunner(deps: ProjectionDeps): ProjectionRunner {
  const { db, log, name, projectors } = deps;
  const batchRows = deps.batchRows ?? 5000;
  const now = deps.now ?? Date.now;
  const retryMs = deps.retryMs ?? 1000;
  const s: ProjectionStats = { name, position: 0, passes: 0, rows: 0, errors: 0, lagSeconds: 0, maxLagSeconds: 0 };
  // The oldest kick no pass has started for, and the oldest kick the running pass covers (lag = age of the
  // oldest commit not yet projected); `again`: another pass is due.
  let pendingSince: number | null = null;
  let passSince: number | null = null;
  let again = false;
  let running: Promise<void> | null = null;
  let retry: NodeJS.Timeout | null = null;
  let closed = false;
  let failures = 0;
  // Callers of projected(): each waits for a pass that started after it asked.
  let waiters: { after: number; resolve: () => void }[] = [];
  let passesStarted = 0;

  /** One transaction: lock, read after the cursor up to `upto`, project, advance. Returns the rows projected. */
  const step = async (upto: number): Promise<{ rows: number; more: boolean }> =>
    db.tx(async (q) => {
      await q.query(Q.projector_lock);
      const from = Number((await q.query<{ position: string }>(Q.projector_cursor, [name])).rows[0]?.position ?? 0);
      if (from >= upto) return { rows: 0, more: false, position: from };
      const { rows } = await q.query<EventRow & { id: string }>(Q.projector_rows, [from, upto, batchRows]);
      const more = rows.length === batchRows;
      const to = more ? Number(rows[rows.length - 1].id) : upto;
      const events = rows.map(toRow);
      if (events.length > 0) for (const p of projectors) await p.run(q, events);
      await q.query(Q.projector_advance, [name, to]);
      return { rows: events.length, more, position: to };
    }).then((r) => {
      s.position = r.position;
      return r;
    });

  const passOnce = async (): Promise<number> => {
    const upto = await horizon(db, () => closed);
    let total = 0;
    for (;;) {
      const r = await step(upto);
      total += r.rows;
      if (!r.more || closed) return total;
    }
  };

  const loop = async () => {
    while (!closed) {
      again = false;
      passSince = pendingSince;
      pendingSince = null;
      const started = ++passesStarted;
      try {
        const n = await passOnce();
        s.passes++;
        s.rows += n;
        if (passSince !== null) s.maxLagSeconds = Math.max(s.maxLagSeconds, (now() - passSince) / 1000);
        passSince = null;
        failures = 0;
        const ready = waiters.filter((w) => w.after < started);
        waiters = waiters.filter((w) => w.after >= started);
        for (const w of ready) w.resolve();
      } catch (err) {
        // Its commits are still waiting: they stay the oldest.
        pendingSince = passSince ?? pendingSince;
        passSince = null;
        s.errors++;
        log.error({ err: (err as Error).message, projector: name }, 'deferred projection pass failed; retrying from the cursor');
        failures++;
        // While the store is down a retry would only take a pool connection from the writer's recovery probe.
        if (!retry && !closed && (deps.storeUp?.() ?? true)) {
          retry = setTimeout(() => {
            retry = null;
            kick();
          }, Math.min(30_000, retryMs * 2 ** (failures - 1)));
          retry.unref();
        }
        return;
      }
      if (!again) return;
    }
  };

  const kick = () => {
    if (closed) return;
    pendingSince ??= now();
    again = true;
    if (!running) running = loop().finally(() => (running = null));
  };

  return {
    async advanceInCommit(q) {
      const { rows } = await q.query<{ position: string }>(Q.projector_advance_to_horizon, [name]);
      // Known once the commit is: set from the next pass or stats; the figure is informative only.
      s.position = Math.max(s.position, Number(rows[0]?.position ?? 0));
    },
    kick,
    projected(waitMs = 5000) {
      if (closed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        timer.unref();
        waiters.push({ after: passesStarted, resolve: () => (clearTimeout(timer), resolve()) });
        kick();
      });
    },
    async pass() {
      const n = await passOnce();
      s.passes++;
      s.rows += n;
      return n;
    },
    stats: () => {
      const oldest = passSince ?? pendingSince;
      return { ...s, lagSeconds: oldest === null ? 0 : (now() - oldest) / 1000 };
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      while (running) await running;
      for (const w of waiters) w.resolve();
      waiters = [];
    },
  };
}

/** A row of projector_rows as the writer's projectors receive it (timestamps already ISO text). */
function toRow(r: EventRow & { id: string }): EventRow {
  const { id: _id, ...row } = r;
  return { ...row, tenant_id: Number(row.tenant_id), person_id: row.person_id === null ? null : Number(row.person_id) };
}
