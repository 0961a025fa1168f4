// Topic hub: which topics have subscribers, which changed, and the coalesced messages. Per topic at most
// one update per LIVE_COALESCE_MS (250 ms by default), and only when its data differs from the last one
// sent; `seq` increases by one per update of a topic. Throttling is leading + trailing edge: a change to a
// topic that has been quiet for the interval goes out at the next flush (the caller flushes every few ms),
// changes inside the interval wait for its end. Transport-free: `send` is given the topic key and the
// serialised message, and fans it out (uWS publish, Socket.IO room).
// A topic's data, once built and serialised, answers every snapshot (subscribe, resubscribe, REST read) until the
// topic is marked (a fact touched it, a refresh of what the clock moves, markAll) or SNAPSHOT_REUSE_MS passed: 400
// subscribes to one 94 KB dashboard on one connection, each building it again, held other clients' pings 2.3-4.5 s
// (under 0.6 s reusing it).
import { topicKey, topicName, type Topic } from './topics.js';
import type { Touched } from './state.js';
import { noticeKey, type NoticePermission } from './notice-channels.js';

export interface Built {
  data: Record<string, unknown>;
  /** Last change of the underlying state, epoch ms (0 = never). */
  updatedAt: number;
}

export interface HubDeps {
  build(tenant: number, topic: Topic, now: number): Built;
  send(key: string, message: string): void;
  /** Minimum time between two updates of one topic (ms). */
  intervalMs?: number;
}

export interface TopicEntry {
  key: string;
  tenant: number;
  topic: Topic;
  name: string;
  seq: number;
  /** Serialised data (without updated_at) of the last message sent, null before the first. */
  last: string | null;
  subs: number;
  /** When the last update went out (ms), -Infinity before the first. */
  lastSent: number;
  /**
   * The data as last built (serialised, without updated_at), while nothing marked the topic since: what a snapshot
   * reuses. Only while somebody watches (a change to an unwatched topic marks nothing).
   */
  built?: { core: string; updatedAt: number; at: number } | null;
}

/**
 * How long a built topic answers snapshots without a mark: a bound for a change the hub is not told of (an
 * organizer renamed in the catalog, named by event topics that no fact touches) to reach a new subscriber.
 */
export const SNAPSHOT_REUSE_MS = 1000;

export type MessageType = 'snapshot' | 'update';

export function message(name: string, type: MessageType, seq: number, ts: number, core: string, updatedAt: number): string {
  const updated = updatedAt > 0 ? JSON.stringify(new Date(updatedAt).toISOString()) : 'null';
  const data = core === '{}' ? `{"updated_at":${updated}}` : `${core.slice(0, -1)},"updated_at":${updated}}`;
  return `{"topic":${JSON.stringify(name)},"type":"${type}","seq":${seq},"ts":${ts},"data":${data}}`;
}

export class Hub {
  readonly entries = new Map<string, TopicEntry>();
  private dirty = new Set<string>();
  /** Keys of the venue topics per tenant: a capacity change marks them (their events are only known at build). */
  private venues = new Map<number, Set<string>>();
  sent = 0;

  constructor(private deps: HubDeps) {}

  /** Adds a subscriber; returns the topic key. */
  add(tenant: number, topic: Topic): TopicEntry {
    const key = topicKey(tenant, topic);
    let e = this.entries.get(key);
    if (!e) {
      e = { key, tenant, topic, name: topicName(topic), seq: 0, last: null, subs: 0, lastSent: -Infinity };
      this.entries.set(key, e);
      if (topic.kind === 'venue') {
        let set = this.venues.get(tenant);
        if (!set) this.venues.set(tenant, (set = new Set()));
        set.add(key);
      }
    }
    e.subs++;
    return e;
  }

  remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.subs = Math.max(0, e.subs - 1);
    if (e.subs === 0) {
      this.dirty.delete(key);
      e.built = null;
      // Forget quiet topics now and then; seq restarts only for topics nobody watched for a while.
      if (this.entries.size > 100_000) {
        this.entries.delete(key);
        this.venues.get(e.tenant)?.delete(key);
      }
    }
  }

  /**
   * The current snapshot of a topic for a new subscriber (also the baseline for later updates): the data built
   * last when nothing marked the topic since (and within SNAPSHOT_REUSE_MS), else built now.
   */
  snapshot(e: TopicEntry, now: number): string {
    const b = this.current(e, now);
    if (e.last === null || e.subs <= 1) e.last = b.core;
    return message(e.name, 'snapshot', e.seq, now, b.core, b.updatedAt);
  }

  /** A snapshot message for a one-off read (REST) without subscribing. */
  peek(tenant: number, topic: Topic, now: number): string {
    const e = this.entries.get(topicKey(tenant, topic));
    if (e && e.subs > 0) {
      const b = this.current(e, now);
      return message(e.name, 'snapshot', e.seq, now, b.core, b.updatedAt);
    }
    const b = this.deps.build(tenant, topic, now);
    return message(topicName(topic), 'snapshot', e?.seq ?? 0, now, JSON.stringify(b.data), b.updatedAt);
  }

  /** Whether a snapshot of this topic at `now` reuses what was built (nothing to load or build for it). */
  reusable(e: TopicEntry, now: number): boolean {
    const c = e.built;
    return !!c && now >= c.at && now - c.at < SNAPSHOT_REUSE_MS;
  }

  /** A watched topic's data, serialised: reused while unmarked and fresh enough, else built (and kept). */
  private current(e: TopicEntry, now: number): { core: string; updatedAt: number } {
    if (this.reusable(e, now)) return e.built!;
    return this.keep(e, this.deps.build(e.tenant, e.topic, now), now);
  }

  private keep(e: TopicEntry, b: Built, now: number): { core: string; updatedAt: number; at: number } {
    // The string sent last when the data is the same: one copy held per topic, not two.
    const json = JSON.stringify(b.data);
    const core = json === e.last ? e.last : json;
    return (e.built = { core, updatedAt: b.updatedAt, at: now });
  }

  /** Marks the topics a fact touched (only those somebody watches). */
  touch(t: Touched): void {
    this.mark(topicKey(t.tenant, { kind: 'event', event: t.event }));
    this.mark(topicKey(t.tenant, { kind: 'event', event: t.event, revenue: false }));
    if (t.capacity) {
      this.mark(topicKey(t.tenant, { kind: 'capacity', event: t.event }));
      // Unchanged venue aggregates are rebuilt but not sent (flush compares the data).
      for (const key of this.venues.get(t.tenant) ?? []) this.mark(key);
    }
    if (t.funnel && t.org !== null) this.mark(topicKey(t.tenant, { kind: 'dashboard', org: t.org }));
  }

  /**
   * Sends a one-off message (notices.ts) to a watched topic's subscribers that hold `permission` (its notice
   * channel); not state: no seq, nothing kept.
   */
  notice(tenant: number, topic: Topic, permission: NoticePermission, message: string): boolean {
    const e = this.entries.get(topicKey(tenant, topic));
    if (!e || e.subs === 0) return false;
    this.deps.send(noticeKey(e.key, permission), message);
    this.sent++;
    return true;
  }

  /** Marks one topic (a catalog organizer renamed: its dashboard, with or without events). */
  touchTopic(tenant: number, topic: Topic): void {
    this.mark(topicKey(tenant, topic));
  }

  /**
   * Time alone changes some numbers (active checkouts expire, the rate window slides): marks the watched topics,
   * those `changesWithTime` names when given (a topic whose data no clock moves is not rebuilt for nothing).
   */
  markAll(changesWithTime?: (e: TopicEntry) => boolean): void {
    for (const e of this.entries.values()) {
      if (e.subs > 0 && (!changesWithTime || changesWithTime(e))) {
        this.dirty.add(e.key);
        e.built = null;
      }
    }
  }

  private mark(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    // Whoever watches it, what was built no longer answers a snapshot.
    e.built = null;
    if (e.subs > 0) this.dirty.add(key);
  }

  private due(e: TopicEntry | undefined, now: number): e is TopicEntry {
    return !!e && now - e.lastSent >= (this.deps.intervalMs ?? 0);
  }

  /** Topics that a flush at `now` would rebuild (changed, and not updated within the interval). */
  pending(now: number): TopicEntry[] {
    return [...this.dirty].map((k) => this.entries.get(k)).filter((e): e is TopicEntry => this.due(e, now));
  }

  /**
   * Sends one update per changed, watched topic. Returns how many were sent. With `only`, flushes just those
   * topics (the ones whose Redis counts were fetched) and leaves the others for the next flush.
   */
  flush(now: number, only?: TopicEntry[]): number {
    const keys = only ? only.map((e) => e.key).filter((k) => this.dirty.has(k)) : [...this.dirty];
    let n = 0;
    for (const key of keys) {
      const e = this.entries.get(key);
      if (e && !this.due(e, now)) continue;
      this.dirty.delete(key);
      if (!e || e.subs === 0) continue;
      const b = this.keep(e, this.deps.build(e.tenant, e.topic, now), now);
      const core = b.core;
      if (core === e.last) continue;
      e.last = core;
      e.seq++;
      e.lastSent = now;
      this.deps.send(key, message(e.name, 'update', e.seq, now, core, b.updatedAt));
      n++;
    }
    this.sent += n;
    return n;
  }
}
