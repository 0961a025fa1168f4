// Topic hub: which topics have subscribers, which changed, and the coalesced messages. Per topic at most
// one update per LIVE_COALESCE_MS (250 ms by default), and only when its data differs from the last one
// sent; `seq` increases by one per update of a topic. Throttling is leading + trailing edge: a change to a
// topic that has been quiet for the interval goes out at the next flush (the caller flushes every few ms),
// changes inside the interval wait for its end. Transport-free: `send` is given the topic key and the
// serialised message, and fans it out (uWS publish, Socket.IO room).
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
}

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
      // Forget quiet topics now and then; seq restarts only for topics nobody watched for a while.
      if (this.entries.size > 100_000) {
        this.entries.delete(key);
        this.venues.get(e.tenant)?.delete(key);
      }
    }
  }

  /** The current snapshot of a topic for a new subscriber (also the baseline for later updates). */
  snapshot(e: TopicEntry, now: number): string {
    const b = this.deps.build(e.tenant, e.topic, now);
    const core = JSON.stringify(b.data);
    if (e.last === null || e.subs <= 1) e.last = core;
    return message(e.name, 'snapshot', e.seq, now, core, b.updatedAt);
  }

  /** A snapshot message for a one-off read (REST) without subscribing. */
  peek(tenant: number, topic: Topic, now: number): string {
    const e = this.entries.get(topicKey(tenant, topic));
    const b = this.deps.build(tenant, topic, now);
    return message(topicName(topic), 'snapshot', e?.seq ?? 0, now, JSON.stringify(b.data), b.updatedAt);
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
    for (const e of this.entries.values()) if (e.subs > 0 && (!changesWithTime || changesWithTime(e))) this.dirty.add(e.key);
  }

  private mark(key: string): void {
    const e = this.entries.get(key);
    if (e && e.subs > 0) this.dirty.add(key);
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
      const b = this.deps.build(e.tenant, e.topic, now);
      const core = JSON.stringify(b.data);
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
