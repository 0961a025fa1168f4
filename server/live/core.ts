// The contracts between the live layer's assembly (index.ts createLive) and its parts. Types only, importing
// nothing of index.ts, so the transports (ws, socketio, routes, history) and the Redis mirror (warm.ts) depend
// on this file and index.ts depends on them: no import cycle (imports.test.ts checks the whole folder).
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Counts } from './erase.js';
import type { Fact } from './facts.js';
import type { Hub } from './hub.js';
import type { NoticePermission } from './notice-channels.js';
import type { LiveState, UvSource } from './state.js';
import type { Scope, VerifyResult } from './token.js';
import type { EventOwnership, Topic } from './topics.js';

/** Redis mirror of the hot state (warm.ts); absent on a single node without Redis. */
export interface Mirror {
  /**
   * Queues facts for the next pipelined flush; `done` runs once they are in Redis. `received`: the store's rows a
   * seed replays (after restore() gave 'seed'), when each was received (epoch ms; warm.ts tells old from recent).
   */
  write(facts: Fact[], done: () => void, received?: number[]): void;
  /** Waits for queued writes. */
  flush(): Promise<void>;
  /**
   * 'restored': today's state was loaded into `state`. 'seed': Redis holds nothing (complete) for today and
   * this node was elected to recompute it from the store, write it, then call seeded().
   */
  restore(state: LiveState, day: string): Promise<'restored' | 'seed'>;
  seeded(day: string): Promise<void>;
  /** Loads today's state into `state` if Redis holds it (resynchronisation); false otherwise. */
  reload(state: LiveState, day: string): Promise<boolean>;
  /** Reads the unique-visitor counts (exact SET up to 256, else PFCOUNT) these topics need; uvSource then returns them. */
  prefetch(entries: { tenant: number; topic: Topic }[]): Promise<void>;
  uvSource: UvSource;
  /** 'down' while Redis does not answer, and after it returns until it has been re-seeded (redis-recovery.ts). */
  health(): 'up' | 'down';
  /** GDPR erasure: replaces the tenant's keys by the facts `finalize` returns (warm.ts, erase.ts rebuildTenant). */
  resetTenant?(tenant: number, day: string, finalize: () => Fact[]): Promise<Counts>;
  close(): Promise<void>;
}

/** What the transports (ws, Socket.IO, REST) need from the live layer. */
export interface LiveCore {
  readonly hub: Hub;
  readonly state: LiveState;
  readonly config: Config;
  readonly log: Logger;
  now(): number;
  verify(token: string): VerifyResult;
  /** topics.ts allowed: `wholeTenant` when the role reads the topic's analytics tenant-wide (view_all_analytics). */
  allowed(scope: Scope, topic: Topic, wholeTenant?: boolean): boolean;
  /** Whether the key that minted this token is known revoked now (false for tokens without a key id). */
  keyRevokedNow(scope: Scope): boolean;
  /** The same after reading the key's status when this node does not know it yet (a subscribe waits for it). */
  keyRevoked(scope: Scope): Promise<boolean>;
  /**
   * A token for one REST request: verify, then its key's revocation read when unknown, then its scope held to its
   * minting key's (a listed event the key covers no more is taken out, so the router refuses it 403).
   */
  check(token: string): Promise<VerifyResult>;
  /**
   * The one topic check (issue 18): the shared model (authz/principal.ts: the token's role has the topic's
   * permission with the tenant's overrides, and the topic's resource is in its scope) and the topic rules
   * (topics.ts allowed). Gives the topic actually read: the revenue-free variant of an event topic when the
   * role lacks view_revenue. A refusal names the permission. `wanted`: asked when the check's turn comes (it may
   * wait behind thousands); false (the connection closed, the topic was unsubscribed) skips the check and refuses.
   */
  access?(scope: Scope, topic: Topic, wanted?: () => boolean): Promise<{ ok: true; topic: Topic; notices?: NoticePermission[] } | { ok: false; permission: string }>;
  /**
   * Runs one subscribe's checks and join when its turn comes: at most SUBSCRIBE_CONCURRENCY at once on the node,
   * every connection and transport together, so a storm of subscribes is served at the rate the node can build
   * snapshots while HTTP requests and the store's other queries keep their turn.
   */
  subscribing?(run: () => Promise<'stale' | void>): Promise<'stale' | void>;
  /** What the catalog or the live state knows of an event's organizer, venue and artists. */
  ownerOf(tenant: number, event: string): EventOwnership | undefined;
  /** Loads what a snapshot of these topics needs: Redis counts, and the catalog metadata of events this node holds nothing of. */
  prepare(entries: { tenant: number; topic: Topic }[]): Promise<void>;
  /**
   * Subscriptions register to hear that events' organizer, venue or artists changed (a secret claim moved an
   * event, a catalog change, here or on another node): their open topics are checked again.
   */
  onOwnerChange?(listener: (events: { tenant: number; event: string }[]) => void): void;
  /** Transports register how to deliver a serialised message to a topic key's subscribers. */
  addSender(send: (key: string, message: string) => void): void;
  mintToken(scope: Exclude<Scope, { role: 'tenant' }>, ttlS: number): { token: string; expires_at: string };
}
