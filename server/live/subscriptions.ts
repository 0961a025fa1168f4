// The subscription protocol of the live topics, one for every transport (/ws in ws.ts, Socket.IO in
// socketio.ts); a transport only decodes frames and carries replies (README, "Websocket /ws").
//   client → server  {"op":"subscribe","topic"}  {"op":"unsubscribe","topic"}  {"op":"ping"}
//   server → client  a snapshot on subscribe (then the hub's updates), {"type":"unsubscribed","topic"},
//                    {"type":"pong","ts"}, {"type":"error","code","topic"?,"message"}
// Checks, in order: the op, the topic's name, the token's expiry (an expired token ends the connection),
// then for a subscribe the token's scope, the topic limit and its key (a token whose minting key was revoked
// gets `token_revoked` and the connection ends). A denial names the permission the topic needs (issue 18).
// An artist subscribes to the revenue-free variant of an event topic (topics.ts topicFor). A subscribe to a topic the connection already
// has is idempotent (a snapshot, no second subscription), also at the limit: it adds no topic, and while the hub
// holds the topic's snapshot built (hub.ts SNAPSHOT_REUSE_MS) it loads and builds nothing.
// Access is checked again when an event's organizer, venue or artists change (a secret claim, a catalog change,
// on any node): a connection that no longer may read its event or capacity topic gets `forbidden` and loses it.
// Likewise when the tenant's role overrides change (authz): on the node that changed them at once
// (overridesChanged), elsewhere once the node's overrides cache (OVERRIDES_TTL_MS) gives the new ones to the
// transports' sweep (sweep). A topic the role lost ends with `forbidden`; an event topic is given again in the
// variant its access now picks (without the money once view_revenue is gone).
import { permissionsFor, ROLES, type Overrides, type Role } from '../authz/roles.js';
import type { LiveCore } from './core.js';
import { tokenPrincipal, type Scope } from './token.js';
import { topicPermission } from './access.js';
import type { NoticePermission } from './notice-channels.js';
import { MAX_IN_FLIGHT, newBucket, OPS_BURST, OPS_PER_S, take, type Bucket } from './rate.js';
import { checkTopic, MAX_TOPIC_LENGTH, topicFor, topicKey, topicName, type Topic } from './topics.js';

export const MAX_TOPICS_PER_SOCKET = 200;

/** One connection's side of the protocol, kept by the transport with its socket. */
export interface Subscriber {
  readonly scope: Scope;
  /** When the token expires (epoch seconds). */
  readonly exp: number;
  /** Topic keys (topics.ts topicKey) this connection is subscribed to. */
  readonly topics: Set<string>;
}

export type Reply = { type: string } & Record<string, unknown>;

/** What a transport does for one connection (or, with a Socket.IO ack, for one message of it). */
export interface Link {
  /** False once the connection closed: a snapshot that waited for Redis is dropped. */
  isOpen(): boolean;
  /**
   * Joins `key` (when `fresh`) and the topic's notice channels in `notices` (notices.ts noticeKey), and delivers
   * the snapshot in one synchronous step: no update slips in between.
   */
  join(key: string, fresh: boolean, snapshot: string, notices: readonly NoticePermission[]): void;
  /** Leaves `key` and every notice channel of it. */
  leave(key: string): void;
  send(reply: Reply): void;
  /** The token expired or its key was revoked: ends the connection (/ws: close 4001 or 4003), after the reply that says so. */
  expire(why: 'expired' | 'revoked'): void;
  /** Ends the connection for sending far more messages than it may (/ws: close 1008), after the reply that says so. */
  violate?(): void;
}

export type Op = { op: 'ping' } | { op: 'subscribe' | 'unsubscribe'; topic: unknown };

const TOPICS_HELP = 'Topics: analytics:event:{event_id}, analytics:event:{event_id}:capacity, analytics:dashboard:{org_id}, analytics:venue:{venue_id}:capacity.';


const error = (code: string, message: string, topic?: string | null): Reply =>
  topic === undefined ? { type: 'error', code, message } : { type: 'error', code, topic, message };

const unsubscribed = (topic: string): Reply => ({ type: 'unsubscribed', topic });

/** For a message without "topic": the fields it has instead (a misspelt "topics", "name"), to say so. */
const misnamed = (msg: unknown, topic: unknown): string => {
  if (topic !== undefined || msg === null || typeof msg !== 'object') return '';
  const others = Object.keys(msg).filter((k) => k !== 'op').slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40)));
  return others.length ? `The message has ${others.join(', ')} instead. ` : '';
};

/** The answer to a Socket.IO event that is none of the protocol's: the `invalid_message` of /ws for an unknown op. */
export const unknownEvent = (event: string): Reply =>
  error('invalid_message', `Socket.IO events are subscribe, unsubscribe and message, not ${JSON.stringify(event.slice(0, 40))}: emit("subscribe", topic, ack), or send({"op":"ping"}).`);

/** A text frame (JSON) to a message; an error reply when it is not JSON. */
export function decodeFrame(text: string): { msg: unknown } | { error: Reply } {
  try {
    return { msg: JSON.parse(text) };
  } catch {
    return { error: error('invalid_message', 'Send JSON: {"op":"subscribe","topic":"…"}.') };
  }
}

/** A decoded message to an op; an error reply when it is none. */
export function parseOp(msg: unknown): Op | { error: Reply } {
  const m = msg !== null && typeof msg === 'object' ? (msg as { op?: unknown; topic?: unknown }) : {};
  if (m.op === 'ping') return { op: 'ping' };
  if (m.op === 'subscribe' || m.op === 'unsubscribe') return { op: m.op, topic: m.topic };
  return { error: error('invalid_message', 'op must be subscribe, unsubscribe or ping.') };
}

/** Whether a connection's token has expired at `nowMs`. */
export const expired = (sub: Subscriber, nowMs: number): boolean => sub.exp <= nowMs / 1000;

/**
 * How often the transports look for connections to end (expired token, revoked key). A pass is a loop over
 * this node's sockets with no I/O; once a second keeps a revocation within KEY_TTL_MS + about 1 s. The same
 * pass reads the role overrides of the tenants with open subscriptions (Subscriptions.sweep: cached, so a query
 * per tenant every OVERRIDES_TTL_MS at most), one tenant after the other, never two passes at once.
 */
export const SWEEP_MS = 1000;

/** Why a connection must end now (the transports' sweeps): its token expired, or its key is known revoked. */
export function endReason(sub: Subscriber, nowMs: number, core: Pick<LiveCore, 'keyRevokedNow'>): 'expired' | 'revoked' | null {
  if (expired(sub, nowMs)) return 'expired';
  return core.keyRevokedNow(sub.scope) ? 'revoked' : null;
}

/**
 * What a connection is told before it is ended for its token (a subscribe that finds it expired or its key
 * revoked, the transports' sweeps): `/ws` then closes with 4001 / 4003, Socket.IO disconnects.
 */
export const endMessage = (why: 'expired' | 'revoked'): Reply =>
  why === 'expired'
    ? error('token_expired', 'The token expired; reconnect with a new one.')
    : error('token_revoked', 'The key that minted this token was revoked; mint a new token with a valid key.');

/** The tenant's role overrides, read again to check open subscriptions when they change (authz). */
export interface OverridesWatch {
  /** The tenant's overrides as this node knows them (authz.overrides: cached OVERRIDES_TTL_MS). */
  overridesOf(tenant: number): Promise<Overrides>;
  /** This node changed a tenant's overrides: the listener checks its open subscriptions again at once. */
  onOverridesChange(listener: (tenant: number) => void): void;
}

export type SubscriptionCore = Pick<LiveCore, 'hub' | 'log' | 'now' | 'allowed' | 'prepare'> &
  Partial<Pick<LiveCore, 'keyRevoked' | 'access' | 'onOwnerChange' | 'subscribing'>> &
  Partial<OverridesWatch>;

/** The roles whose effective permissions differ between two sets of a tenant's overrides. Pure. */
export function rolesChanged(before: Overrides, after: Overrides): Set<Role> {
  const print = (role: Role, o: Overrides) => [...permissionsFor(role, o)].sort().join(',');
  return new Set(ROLES.filter((role) => print(role, before) !== print(role, after)));
}

export interface Subscriptions {
  /** Handles one decoded client message; every reply goes through `link`. Never rejects. */
  handle(sub: Subscriber, link: Link, msg: unknown): Promise<void>;
  /** A message the transport itself refuses (a Socket.IO event it does not know): `reply`, under the same rate limit. */
  refuse(sub: Subscriber, link: Link, reply: Reply): void;
  /** The connection closed: each of its topics loses a subscriber. */
  drop(sub: Subscriber): void;
  /** A connection opened; `link` carries what a re-check of its topics sends (no ack). */
  open(sub: Subscriber, link: Link): void;
  /**
   * These events' organizer, venue or artists changed: each open connection holding one of their event or
   * capacity topics is checked again, and loses the topic with `forbidden` when it may no longer read it.
   */
  recheck(events: { tenant: number; event: string }[]): Promise<void>;
  /**
   * The tenant's role overrides may have changed: they are read (through the overrides cache) and, when a role's
   * permissions differ from those its open subscriptions were checked with, each of them is checked again
   * (`forbidden` for a topic it lost; an event topic given again in the variant access now picks). Never rejects.
   */
  overridesChanged(tenant: number): Promise<void>;
  /**
   * The transports' sweep (every SWEEP_MS): overridesChanged for each tenant with open subscriptions, so a change
   * made on another node reaches them within OVERRIDES_TTL_MS and a sweep. At most one runs at a time. Never rejects.
   */
  sweep(): Promise<void>;
}

/**
 * A connection's subscribes still under way. `waiting`: by the topic they will hold (known once access is
 * decided), each holding a place under the topic limit. `asked` / `cancels`: by the topic as asked for, from
 * the first moment, so an unsubscribe that arrives while any of its awaits runs cancels it.
 */
interface Pending {
  /** Messages the connection may still send (rate.ts): beyond them, rate_limited. */
  bucket: Bucket | null;
  /** Subscribes under way (at most MAX_IN_FLIGHT). */
  inflight: number;
  /** Ended for too many messages: what still arrives is ignored. */
  violated: boolean;
  waiting: Map<string, number>;
  asked: Map<string, number>;
  cancels: Map<string, number>;
}

const bump = (m: Map<string, number>, key: string, by: number): void => {
  const n = (m.get(key) ?? 0) + by;
  if (n > 0) m.set(key, n);
  else m.delete(key);
};

/** The event and capacity topic keys of an event (the ones whose access depends on its owners). */
export const eventTopicKeys = (tenant: number, event: string): string[] => [
  topicKey(tenant, { kind: 'event', event }),
  topicKey(tenant, { kind: 'event', event, revenue: false }),
  topicKey(tenant, { kind: 'capacity', event }),
];

/** A subscribe whose access check ran while an owner changed checks again, at most this many times. */
const MAX_ACCESS_RETRIES = 5;

export function createSubscriptions(core: SubscriptionCore, maxTopics = MAX_TOPICS_PER_SOCKET): Subscriptions {
  const pendingOf = new WeakMap<Subscriber, Pending>();
  /** Open connections, for re-checks. */
  const links = new Map<Subscriber, Link>();
  /** Owner changes seen: a subscribe whose access check started before one checks again before it joins. */
  let ownerChanges = 0;
  /**
   * Per tenant, the role overrides its open subscriptions were checked with (or older ones: a difference only
   * makes a re-check). Set before a subscribe's first access check, dropped once the tenant holds nothing here.
   */
  const checked = new Map<number, Overrides>();
  /** Per tenant, the override changes seen: a subscribe whose access check started before one checks again. */
  const overrideChanges = new Map<number, number>();
  /** Per tenant, the overrides check running (they run one after the other: a later one reads later overrides). */
  const checking = new Map<number, Promise<void>>();
  let sweeping = false;
  const pending = (sub: Subscriber): Pending => {
    let p = pendingOf.get(sub);
    if (!p) pendingOf.set(sub, (p = { bucket: null, inflight: 0, violated: false, waiting: new Map(), asked: new Map(), cancels: new Map() }));
    return p;
  };
  /** Topics held or on their way: what the limit counts. */
  const held = (sub: Subscriber, p: Pending): number => {
    let n = sub.topics.size;
    for (const key of p.waiting.keys()) if (!sub.topics.has(key)) n++;
    return n;
  };
  const forbidden = (link: Link, name: string, permission: string) =>
    link.send({ ...error('forbidden', 'This token does not give access to that topic.', name), permission });

  const subscribe = async (sub: Subscriber, link: Link, name: string, requested: Topic) => {
    const p = pending(sub);
    // Bounded work per connection: a subscribe past MAX_IN_FLIGHT under way is refused, never queued.
    if (p.inflight >= MAX_IN_FLIGHT) return link.send(error('rate_limited', `At most ${MAX_IN_FLIGHT} subscribes under way per connection; wait for their answers.`, name));
    p.inflight++;
    const asked = topicKey(sub.scope.tenant, requested);
    bump(p.asked, asked, 1);
    const epoch = p.cancels.get(asked) ?? 0;
    const tenant = sub.scope.tenant;
    try {
      // The overrides its access check reads (or older ones), so a later change of them is seen (overridesChanged).
      if (core.overridesOf && !checked.has(tenant) && tokenPrincipal(sub.scope).role !== 'admin') {
        const o = await core.overridesOf(tenant).catch(() => null);
        if (o && !checked.has(tenant)) checked.set(tenant, o);
      }
      for (let i = 0; ; i++) {
        const changes = ownerChanges;
        const roleChanges = overrideChanges.get(tenant) ?? 0;
        // Decided with owners or role overrides that changed meanwhile: decided again (the re-check did not see this topic yet).
        const stale = () =>
          (ownerChanges !== changes && (requested.kind === 'event' || requested.kind === 'capacity')) || (overrideChanges.get(tenant) ?? 0) !== roleChanges;
        const cancelled = () => (p.cancels.get(asked) ?? 0) !== epoch;
        const run = () => admit(sub, link, name, requested, p, cancelled, stale);
        if ((await (core.subscribing ? core.subscribing(run) : run())) !== 'stale') break;
        if (i + 1 >= MAX_ACCESS_RETRIES) {
          if (link.isOpen()) link.send(error('unavailable', 'Live state is unavailable; retry.', name));
          break;
        }
      }
    } finally {
      p.inflight--;
      bump(p.asked, asked, -1);
      if (!p.asked.has(asked)) p.cancels.delete(asked);
    }
  };

  /** Access, then the topic limit (checked and reserved in one synchronous step), then the join. */
  const admit = async (sub: Subscriber, link: Link, name: string, requested: Topic, p: Pending, cancelled: () => boolean, stale: () => boolean): Promise<'stale' | void> => {
    const tenant = sub.scope.tenant;
    let topic: Topic;
    let notices: NoticePermission[] = [];
    if (core.access) {
      let a: Awaited<ReturnType<NonNullable<SubscriptionCore['access']>>>;
      try {
        a = await core.access(sub.scope, requested, () => link.isOpen() && !cancelled());
      } catch (err) {
        // The tenant's role overrides could not be read (store away, nothing cached): refuse nothing wrongly.
        core.log.warn({ err: (err as Error).message }, 'live: topic access check failed');
        if (!link.isOpen()) return;
        return link.send(cancelled() ? unsubscribed(name) : error('unavailable', 'Live state is unavailable; retry.', name));
      }
      if (!link.isOpen()) return;
      // Unsubscribed while access was decided: nothing of the topic follows the "unsubscribed", not even a refusal.
      if (cancelled()) return link.send(unsubscribed(name));
      if (!a.ok) return forbidden(link, name, a.permission);
      topic = a.topic;
      notices = a.notices ?? [];
    } else {
      topic = topicFor(sub.scope, requested);
      if (!core.allowed(sub.scope, topic)) return forbidden(link, name, topicPermission(topic));
    }
    const key = topicKey(tenant, topic);
    // A burst of subscribes all waiting on Redis must not all pass the limit.
    if (!sub.topics.has(key) && !p.waiting.has(key) && held(sub, p) >= maxTopics) {
      return link.send(error('too_many_topics', `At most ${maxTopics} topics per connection.`, name));
    }
    bump(p.waiting, key, 1);
    try {
      return await join(sub, link, key, tenant, topic, notices, cancelled, name, stale);
    } finally {
      bump(p.waiting, key, -1);
    }
  };

  /** The wait and the join of a subscribe that passed its checks; `cancelled`: an unsubscribe came meanwhile. */
  const join = async (sub: Subscriber, link: Link, key: string, tenant: number, topic: Topic, notices: NoticePermission[], cancelled: () => boolean, name: string, stale: () => boolean): Promise<'stale' | void> => {
    try {
      // Before any data: a token of a revoked key gets none (a node that never saw the key reads it first).
      if (core.keyRevoked && (await core.keyRevoked(sub.scope))) {
        if (!link.isOpen()) return;
        link.send(endMessage('revoked'));
        return link.expire('revoked');
      }
      // A topic the connection holds whose snapshot is built already (a resubscribe, a burst of them): nothing to load.
      const held = sub.topics.has(key) ? core.hub.entries.get(key) : undefined;
      if (!held || !core.hub.reusable(held, core.now())) await core.prepare([{ tenant, topic }]);
      if (!link.isOpen()) return;
      // Unsubscribed while it waited: it is not joined (the unsubscribe was already answered; this answers the subscribe).
      if (cancelled()) return link.send(unsubscribed(name));
      if (stale()) return 'stale';
      // Decided after the wait: the same topic may have been subscribed meanwhile.
      const fresh = !sub.topics.has(key);
      const entry = fresh ? core.hub.add(tenant, topic) : core.hub.entries.get(key)!;
      sub.topics.add(key);
      link.join(key, fresh, core.hub.snapshot(entry, core.now()), notices);
    } catch (err) {
      core.log.warn({ err: (err as Error).message }, 'live: snapshot failed');
      if (link.isOpen()) link.send(cancelled() ? unsubscribed(name) : error('unavailable', 'Live state is unavailable; retry.', name));
    }
  };

  /**
   * One held topic checked again. It stops receiving at once (no update goes out while access is decided);
   * allowed, it is given a fresh snapshot and receives again, in the variant access picks now (an event topic
   * whose role lost view_revenue moves to its revenue-free variant); refused, it is dropped with `forbidden`
   * (`unavailable` when the check failed: nothing is sent that may no longer be the connection's).
   */
  const recheckOne = async (sub: Subscriber, link: Link, key: string, topic: Topic): Promise<void> => {
    link.leave(key);
    const tenant = sub.scope.tenant;
    // The topic as a client names it: access picks the variant again.
    const requested: Topic = topic.kind === 'event' ? { kind: 'event', event: topic.event } : topic;
    const name = topicName(requested);
    let refusal: Reply | null = null;
    let notices: NoticePermission[] = [];
    let given: Topic = topic;
    try {
      if (core.access) {
        const a = await core.access(sub.scope, requested, () => link.isOpen() && sub.topics.has(key));
        if (!a.ok) refusal = { ...error('forbidden', 'This token no longer gives access to that topic.', name), permission: a.permission };
        else [given, notices] = [a.topic, a.notices ?? []];
      } else {
        given = topicFor(sub.scope, requested);
        if (!core.allowed(sub.scope, given)) refusal = { ...error('forbidden', 'This token no longer gives access to that topic.', name), permission: topicPermission(given) };
      }
      // Another variant: what its snapshot needs is loaded first, as for a subscribe.
      if (!refusal && topicKey(tenant, given) !== key) await core.prepare([{ tenant, topic: given }]);
    } catch (err) {
      core.log.warn({ err: (err as Error).message }, 'live: topic access re-check failed');
      refusal = error('unavailable', 'Live state is unavailable; retry.', name);
    }
    // Unsubscribed, or closed, meanwhile: nothing to give back or take back.
    if (!sub.topics.has(key) || !link.isOpen()) return;
    const entry = core.hub.entries.get(key);
    const to = topicKey(tenant, given);
    if (!refusal && to === key && entry) return link.join(key, true, core.hub.snapshot(entry, core.now()), notices);
    if (!refusal && to !== key) {
      // The connection moves to the variant it may read now: the one it held gets nothing more.
      sub.topics.delete(key);
      core.hub.remove(key);
      const fresh = !sub.topics.has(to);
      const moved = fresh ? core.hub.add(tenant, given) : core.hub.entries.get(to)!;
      sub.topics.add(to);
      return link.join(to, fresh, core.hub.snapshot(moved, core.now()), notices);
    }
    sub.topics.delete(key);
    core.hub.remove(key);
    link.send(refusal ?? error('unavailable', 'Live state is unavailable; retry.', name));
  };

  async function recheck(events: { tenant: number; event: string }[]): Promise<void> {
    if (events.length === 0) return;
    ownerChanges++;
    const keys = new Set(events.flatMap((e) => eventTopicKeys(e.tenant, e.event)));
    const checks: Promise<void>[] = [];
    for (const [sub, link] of links) {
      for (const key of [...sub.topics]) {
        const topic = keys.has(key) ? core.hub.entries.get(key)?.topic : undefined;
        if (topic) checks.push(recheckOne(sub, link, key, topic));
      }
    }
    await Promise.all(checks);
  }
  core.onOwnerChange?.((events) => void recheck(events));

  /** The tenant's overrides read again; its subscriptions of the roles whose permissions changed checked again. */
  const compareOverrides = async (tenant: number): Promise<void> => {
    const before = checked.get(tenant);
    // Nothing of the tenant held or on its way was checked with overrides: a subscribe reads them itself.
    if (!before || !core.overridesOf) return;
    let after: Overrides;
    try {
      after = await core.overridesOf(tenant);
    } catch (err) {
      // The store is away (and nothing cached): what was decided stays until the overrides can be read.
      core.log.warn({ err: (err as Error).message, tenant }, 'live: role overrides not read for the open subscriptions');
      return;
    }
    if (!checked.has(tenant)) return;
    checked.set(tenant, after);
    const roles = rolesChanged(before, after);
    if (roles.size === 0) return;
    overrideChanges.set(tenant, (overrideChanges.get(tenant) ?? 0) + 1);
    const checks: Promise<void>[] = [];
    for (const [sub, link] of links) {
      if (sub.scope.tenant !== tenant || !roles.has(tokenPrincipal(sub.scope).role)) continue;
      for (const key of [...sub.topics]) {
        const topic = core.hub.entries.get(key)?.topic;
        if (topic) checks.push(recheckOne(sub, link, key, topic));
      }
    }
    await Promise.all(checks);
  };
  const overridesChanged = (tenant: number): Promise<void> => {
    const run = (checking.get(tenant) ?? Promise.resolve()).then(() => compareOverrides(tenant)).catch((err: Error) => core.log.warn({ err: err.message, tenant }, 'live: re-check after a role change failed'));
    checking.set(tenant, run);
    void run.finally(() => {
      if (checking.get(tenant) === run) checking.delete(tenant);
    });
    return run;
  };
  core.onOverridesChange?.((tenant) => void overridesChanged(tenant));

  async function sweep(): Promise<void> {
    if (!core.overridesOf || sweeping) return;
    sweeping = true;
    try {
      // Tenants that hold a topic here or have a subscribe on its way; the others' baselines are forgotten.
      const active = new Set<number>();
      for (const sub of links.keys()) if (sub.topics.size > 0 || (pendingOf.get(sub)?.inflight ?? 0) > 0) active.add(sub.scope.tenant);
      for (const tenant of [...checked.keys()]) {
        if (active.has(tenant)) continue;
        checked.delete(tenant);
        overrideChanges.delete(tenant);
      }
      // One tenant after the other: each read is a cache hit but every OVERRIDES_TTL_MS, never a burst of queries.
      for (const tenant of [...checked.keys()]) await overridesChanged(tenant);
    } finally {
      sweeping = false;
    }
  }

  /** One message of a connection against its rate limit (rate.ts): false when refused (already answered) or ended. */
  const counted = (sub: Subscriber, link: Link, msg: unknown): boolean => {
    const lim = pending(sub);
    if (lim.violated) return false;
    const verdict = take((lim.bucket ??= newBucket(core.now())), core.now());
    if (verdict === 'ok') return true;
    const t = (msg as { topic?: unknown } | null)?.topic;
    link.send(error('rate_limited', `At most ${OPS_PER_S} messages a second (${OPS_BURST} at once); slow down and send this again.`, typeof t === 'string' ? t.slice(0, 200) : null));
    if (verdict === 'end' && link.violate) {
      lim.violated = true;
      link.violate();
    }
    return false;
  };

  return {
    refuse(sub, link, reply) {
      if (counted(sub, link, null)) link.send(reply);
    },
    async handle(sub, link, msg) {
      if (!counted(sub, link, msg)) return;
      const op = parseOp(msg);
      if ('error' in op) return link.send(op.error);
      if (op.op === 'ping') return link.send({ type: 'pong', ts: core.now() });
      const checked = checkTopic(op.topic);
      const name = typeof op.topic === 'string' ? op.topic.slice(0, MAX_TOPIC_LENGTH) : null;
      // What is wrong and how to write it: a misspelt field, an id too long or with a control character.
      if (!checked.ok || name === null) return link.send(error('invalid_topic', `${checked.ok ? '' : `${checked.problem} `}${misnamed(msg, op.topic)}${TOPICS_HELP}`, name));
      const parsed = checked.topic;
      if (expired(sub, core.now())) {
        link.send(endMessage('expired'));
        return link.expire('expired');
      }
      if (op.op === 'subscribe') return subscribe(sub, link, name, parsed);
      // The connection holds the topic itself or its revenue-free variant (whichever its access gave it).
      const variants = parsed.kind === 'event' ? [parsed, { ...parsed, revenue: false as const }] : [parsed];
      const p = pending(sub);
      const asked = topicKey(sub.scope.tenant, parsed);
      if (p.asked.has(asked)) bump(p.cancels, asked, 1);
      for (const key of variants.map((t) => topicKey(sub.scope.tenant, t))) {
        if (sub.topics.delete(key)) {
          link.leave(key);
          core.hub.remove(key);
        }
      }
      link.send(unsubscribed(name));
    },
    drop(sub) {
      links.delete(sub);
      for (const key of sub.topics) core.hub.remove(key);
      sub.topics.clear();
    },
    open(sub, link) {
      links.set(sub, link);
    },
    recheck,
    overridesChanged,
    sweep,
  };
}
