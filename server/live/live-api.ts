// The live layer's public face: what createLive (index.ts) is given (LiveDeps), what it returns (Live) and
// what /health and /stats read of it (LiveStats). Types only, apart from the assembly, so that its parts and
// the server (app.ts) can name them; index.ts re-exports them.
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { KeyResolver } from '../http/auth.js';
import type { AuditSink } from '../http/router.js';
import type { TemplatedApp } from '../http/uws.js';
import type { Db, Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import type { LiveBus } from './bus.js';
import type { CatalogChange } from './catalog.js';
import type { LiveCore, Mirror } from './core.js';
import type { Counts, EraseRequest } from './erase.js';
import type { LiveRouteDeps } from './routes.js';
import type { NoticeData, NoticePermission } from './notice-channels.js';
import type { Topic } from './topics.js';

export interface LiveDeps {
  config: Config;
  db: Db;
  log: Logger;
  /** Injected clock (epoch ms). */
  now?: () => number;
  /** Defaults: a Redis bus and mirror when REDIS_URL is set, none otherwise. */
  bus?: LiveBus | null;
  mirror?: Mirror | null;
}

export interface LiveStats {
  topics: number;
  subscribers: number;
  sockets: number;
  socketIo: number;
  sent: number;
  restoredFrom: 'redis' | 'store' | null;
  redis: boolean;
  /** Organizer claims ignored since start because the event has another owner (owners.ts). */
  ownerConflicts: number;
}

export interface Live {
  /** Feed: rows newly committed to the store (the writer's onCommitted). */
  onCommitted(rows: EventRow[]): void;
  /**
   * Writer projector (inside the commit's transaction): records the event → organizer claims of new rows in
   * commit order (owners.ts). onCommitted then gives their facts the stored owner.
   */
  projector(q: Queryable, rows: EventRow[]): Promise<void>;
  /**
   * A catalog change (server/catalog's onChange): every node re-reads the metadata of those ids and pushes
   * the topics it changes (catalog-sync.ts).
   */
  onCatalogChange(c: CatalogChange): Promise<void>;
  /**
   * A one-off message on a topic, to its subscribers holding `permission` on every node (notices.ts):
   * `{"topic","type":"notice","ts","data"}`. E.g. a campaign budget below 20 % on its organizer's dashboard
   * (view_ad_analytics). Never throws.
   */
  notice(tenant: number, topic: Topic, permission: NoticePermission, data: NoticeData): Promise<void>;
  /** Restores from Redis, or recomputes today from the store. Call before the writer starts. */
  restore(): Promise<{ source: 'redis' | 'store'; rows?: number }>;
  /** /ws, Socket.IO and REST routes; register before the catch-all 404. */
  register(app: TemplatedApp, keys: KeyResolver, audit?: AuditSink, access?: LiveRouteDeps['access']): void;
  /**
   * GDPR erasure (an identity eraser): removes the person's ids from the hot state (here and, over the bus,
   * on every other node) and from Redis, keeping the live numbers. Returns what changed, by kind.
   */
  erase(ids: EraseRequest): Promise<Counts>;
  /** This node revoked a key: its tokens are refused here at once (other nodes within KEY_TTL_MS). */
  keyRevoked(keyId: number): void;
  core: LiveCore;
  stats(): LiveStats;
  /** Redis for /health: 'off' without REDIS_URL. */
  redis(): 'up' | 'down' | 'off';
  close(): Promise<void>;
}
