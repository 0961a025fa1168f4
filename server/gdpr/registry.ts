// The GDPR registry: every table or store that can hold a person's data says here how it is erased (and
// exported), and every table that holds none says so with a reason. Erasure and export walk this list, not
// a naming pattern in information_schema (a continuous aggregate is a view and would be missed silently),
// and test/gdpr-registry.test.ts fails when a table in the schema is in neither list.
import type { Queryable } from '../store/db.js';

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
  /**
   * Event entities (catalog event ids) the person's rows named, noted by the feature store's links-phase eraser
   * for its recount after the commit. In the ids, not in memory: the ids are saved with the erasure's steps, so
   * a step finished after a crash recounts them too.
   */
  eventEntities?: string[];
}

/**
 * When a table is erased inside the erasure transaction:
 * - `links` first, before the person's ids are read again: in-flight writer commits hold key-share locks on
 *   the links, so deleting them waits for those commits (their rows are then visible to the later deletes);
 * - `rows` in registration order (an eraser may widen the ids for the ones after it: events add sessions/orders);
 * - `person` last, once nothing refers to the person any more.
 */
export type ErasePhase = 'links' | 'rows' | 'person';

export interface PersonTable {
  /** Key of the count in the erasure report (`removed`), and of the rows in the export. */
  name: string;
  /** The tables (or views, hypertables, continuous aggregates) this entry covers. */
  tables: string[];
  phase: ErasePhase;
  /** Feature-store tables are reported and exported under `features`, by name. */
  feature?: boolean;
  /** Deletes the person's rows; `touched` are the tables (or chunks) whose dead rows the disk purge vacuums. */
  erase(q: Queryable, ids: PersonIds): Promise<{ removed: number; touched: string[] }>;
  /** The person's rows as the export shows them; absent when the gathered record already holds them. */
  export?(q: Queryable, ids: PersonIds): Promise<unknown[]>;
}

/** A store outside the database (Redis, caches); erased after the commit; returns what it removed, by kind. */
export type Eraser = (ids: PersonIds) => Promise<Record<string, number>>;

export interface GdprRegistry {
  table(entry: PersonTable): void;
  /** An external store, erased after the transaction commits (its report goes under `removed.external`). */
  store(name: string, erase: Eraser): void;
  /** Tables that hold no personal data, and why (the schema test accepts them). */
  none(tables: string[], why: string): void;
  tables(): readonly PersonTable[];
  stores(): ReadonlyMap<string, Eraser>;
  /** Every covered table name: registered with an eraser or declared free of personal data. */
  covered(): ReadonlyMap<string, string>;
}

export class DuplicateRegistrationError extends Error {
  constructor(readonly what: string) {
    super(`GDPR registry: ${what} is registered twice`);
    this.name = 'DuplicateRegistrationError';
  }
}

export function createGdprRegistry(): GdprRegistry {
  const tables: PersonTable[] = [];
  const stores = new Map<string, Eraser>();
  const covered = new Map<string, string>();
  const cover = (table: string, by: string) => {
    if (covered.has(table)) throw new DuplicateRegistrationError(`table ${table}`);
    covered.set(table, by);
  };
  return {
    table(entry) {
      if (tables.some((t) => t.name === entry.name && !!t.feature === !!entry.feature)) throw new DuplicateRegistrationError(`eraser ${entry.name}`);
      for (const t of entry.tables) cover(t, `eraser ${entry.name}`);
      tables.push(entry);
    },
    store(name, erase) {
      if (stores.has(name)) throw new DuplicateRegistrationError(`store ${name}`);
      stores.set(name, erase);
    },
    none(names, why) {
      for (const t of names) cover(t, `no personal data: ${why}`);
    },
    tables: () => tables,
    stores: () => stores,
    covered: () => covered,
  };
}

/** Tables of the schema the registry does not cover (the schema test expects none). */
export function uncovered(registry: GdprRegistry, schemaTables: string[]): string[] {
  return schemaTables.filter((t) => !registry.covered().has(t)).sort();
}

/** Entries of one phase, in registration order. */
export const inPhase = (registry: GdprRegistry, phase: ErasePhase): PersonTable[] => registry.tables().filter((t) => t.phase === phase);
