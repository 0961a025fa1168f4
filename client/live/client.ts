// The live client: subscribes to topics over a transport (plain websocket or Socket.IO), keeps the
// subscriptions across reconnects, and tells its owner what state the connection is in.
//
// - Reconnects with exponential backoff and jitter after any drop (server restart, network loss, a dead
//   connection found by the heartbeat); the attempt counter restarts once a connection has stayed up for
//   `stableAfterMs`, so a flapping server does not make clients hammer it.
// - Resubscribes every topic after a reconnect; the server answers each with a fresh snapshot, which
//   resets that topic's `seq` baseline (seq is per node and restarts with the server).
// - Heartbeat: a `ping` every `pingIntervalMs`; no message at all within `pongTimeoutMs` after it means
//   the connection is half-open (a NAT or proxy dropped it silently) and it is replaced.
// - Sequence gaps: every update carries the topic's whole state, so a missed update loses nothing but an
//   intermediate state; the client applies the newer one and reports a `gap`. With `resyncOnGap` it also
//   asks for a snapshot again (subscribe on the same connection answers one).
// - Tokens: a static token that the server refuses (401 at the handshake, Socket.IO "unauthorized") or
//   that expires ends in state `closed` with `error` set, without retrying; a token *function* is called
//   before every connection attempt, so an app that can mint a fresh token keeps going.
//
// The transport contract is in transport.ts, the options, state and subscription types in client-types.ts;
// both are re-exported here.
import { backoffDelay } from './backoff.js';
import { transition, type ConnectionState, type MachineEvent } from './machine.js';
import { tokenExpired } from './token.js';
import type { ErrorMessage, ServerMessage, TopicData, TopicMessage } from './types.js';
import type { CloseInfo, Connection, Transport, TransportHandlers } from './transport.js';
import { DEFAULT_TIMERS, type DataHandler, type ErrorHandler, type Events, type FatalError, type Listener, type LiveClientOptions, type StateInfo, type Subscription, type TopicState } from './client-types.js';

export type { ConnectionState } from './machine.js';
export type { CloseInfo, Connection, Transport, TransportHandlers } from './transport.js';
export type { FatalError, GapInfo, LiveClientOptions, StateInfo, Subscription, Timers } from './client-types.js';

/** An exception thrown by the owner's handler or listener: reported on the console (the page's or the process's). */
function reportHandlerError(where: string, err: unknown): void {
  console.error(`live client: ${where} threw: ${err instanceof Error ? err.message : String(err)}`, err);
}

export class LiveClient {
  private readonly opts: Required<Omit<LiveClientOptions, 'backoff' | 'token'>> & Pick<LiveClientOptions, 'backoff' | 'token'>;
  private readonly topics = new Map<string, TopicState>();
  private readonly listeners: { [K in keyof Events]: Set<Listener<Events[K]>> } = {
    state: new Set(),
    message: new Set(),
    error: new Set(),
    gap: new Set(),
    pong: new Set(),
    notice: new Set(),
  };
  private info: StateInfo;
  private conn: Connection | null = null;
  /** Generation of the current connection attempt: callbacks of older ones are ignored. */
  private gen = 0;
  private openedAt = 0;
  private lastSeen = 0;
  private pingSentAt = 0;
  private expiredSeen = false;
  private retryTimer: unknown = null;
  private pingTimer: unknown = null;
  private pongTimer: unknown = null;
  private stableTimer: unknown = null;
  private currentToken = '';
  readonly stats = { connects: 0, drops: 0, gaps: 0, messages: 0 };

  constructor(
    readonly transport: Transport,
    options: LiveClientOptions,
  ) {
    this.opts = {
      pingIntervalMs: 20_000,
      pongTimeoutMs: 10_000,
      stableAfterMs: 5_000,
      resyncOnGap: false,
      resubscribeMs: 2_000,
      now: Date.now,
      random: Math.random,
      timers: DEFAULT_TIMERS,
      ...options,
    };
    this.info = { state: 'idle', attempt: 0, retryAt: null, error: null, reason: null, since: this.opts.now() };
  }

  get state(): ConnectionState {
    return this.info.state;
  }

  get stateInfo(): Readonly<StateInfo> {
    return this.info;
  }

  /** Subscribed topic names. */
  get subscribed(): string[] {
    return [...this.topics.keys()];
  }

  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  /** Starts connecting (from `idle`, or again after `closed`). */
  connect(): this {
    if (this.info.state !== 'idle' && this.info.state !== 'closed') return this;
    this.info.attempt = 0;
    this.move({ type: 'connect' }, { error: null, reason: null, retryAt: null });
    void this.attempt();
    return this;
  }

  /** In state `reconnecting`, tries at once (e.g. the browser came back online). */
  retryNow(): void {
    if (this.info.state !== 'reconnecting') return;
    this.clear('retryTimer');
    this.move({ type: 'retry' }, { retryAt: null });
    void this.attempt();
  }

  /** Closes the connection for good (until connect() again). Subscriptions are kept. */
  close(): void {
    this.gen++;
    this.stopTimers();
    const c = this.conn;
    this.conn = null;
    c?.close();
    this.move({ type: 'stop' }, { error: null, reason: 'closed by the client', retryAt: null });
  }

  /**
   * Subscribes to a topic. `onData` gets the snapshot, then every update (and, for a topic that already
   * has data, the newest message right away); `onError` gets the server's refusal (forbidden, …).
   */
  subscribe<T extends string>(topic: T, onData?: (msg: TopicMessage<TopicData<T>>) => void, onError?: ErrorHandler): Subscription<TopicData<T>> {
    let t = this.topics.get(topic);
    const handler = { data: onData as DataHandler | undefined, error: onError };
    if (!t) {
      t = { handlers: new Set(), seq: null, latest: undefined };
      this.topics.set(topic, t);
      if (this.info.state === 'open') this.conn?.subscribe(topic);
    } else if (t.latest && onData) {
      const latest = t.latest;
      queueMicrotask(() => {
        if (!t!.handlers.has(handler)) return;
        try {
          onData(latest as TopicMessage<TopicData<T>>);
        } catch (err) {
          reportHandlerError(`a data handler of ${topic}`, err);
        }
      });
    }
    t.handlers.add(handler);
    const state = t;
    return {
      topic,
      get latest() {
        return state.latest as TopicMessage<TopicData<T>> | undefined;
      },
      unsubscribe: () => {
        if (!state.handlers.delete(handler) || state.handlers.size > 0) return;
        if (this.topics.get(topic) !== state) return;
        this.topics.delete(topic);
        if (this.info.state === 'open') this.conn?.unsubscribe(topic);
      },
    };
  }

  /** Resolves with the next message of a topic that satisfies `pred` (tests, scripts). */
  waitFor<T extends string>(topic: T, pred: (msg: TopicMessage<TopicData<T>>) => boolean = () => true, timeoutMs = 10_000): Promise<TopicMessage<TopicData<T>>> {
    return new Promise((resolve, reject) => {
      let sub: Subscription<TopicData<T>> | null = null;
      let done = false;
      const timer = this.opts.timers.setTimeout(() => {
        if (done) return;
        done = true;
        sub?.unsubscribe();
        reject(new Error(`waitFor(${topic}) timed out after ${timeoutMs} ms; latest: ${JSON.stringify(sub?.latest)?.slice(0, 500)}`));
      }, timeoutMs);
      sub = this.subscribe(topic, (m) => {
        if (done || !pred(m)) return;
        done = true;
        this.opts.timers.clearTimeout(timer);
        queueMicrotask(() => sub?.unsubscribe());
        resolve(m);
      });
    });
  }

  // -------------------------------------------------------------------------------------------------------

  private emit<K extends keyof Events>(event: K, v: Events[K]): void {
    for (const fn of this.listeners[event]) {
      try {
        fn(v);
      } catch (err) {
        // A listener's bug must not break the connection, nor go unseen.
        reportHandlerError(`a "${event}" listener`, err);
      }
    }
  }

  private move(ev: MachineEvent, patch: Partial<StateInfo> = {}): void {
    const next = transition(this.info.state, ev);
    const changed = next !== this.info.state;
    this.info = { ...this.info, ...patch, state: next, since: changed ? this.opts.now() : this.info.since };
    this.emit('state', { ...this.info });
  }

  private clear(name: 'retryTimer' | 'pingTimer' | 'pongTimer' | 'stableTimer'): void {
    if (this[name] !== null) this.opts.timers.clearTimeout(this[name]);
    this[name] = null;
  }

  private stopTimers(): void {
    this.clear('retryTimer');
    this.clear('pingTimer');
    this.clear('pongTimer');
    this.clear('stableTimer');
  }

  private fatal(error: FatalError, reason: string): void {
    this.gen++;
    this.stopTimers();
    const c = this.conn;
    this.conn = null;
    c?.close();
    this.move({ type: 'close', retry: false }, { error, reason, retryAt: null });
    if (this.info.state !== 'closed') this.move({ type: 'stop' }, { error, reason, retryAt: null });
  }

  private async attempt(): Promise<void> {
    const gen = ++this.gen;
    let token: string;
    try {
      token = typeof this.opts.token === 'function' ? await this.opts.token() : this.opts.token;
    } catch (err) {
      if (gen !== this.gen) return;
      this.dropped({ reason: `token: ${(err as Error).message}`, handshake: true }, gen);
      return;
    }
    if (gen !== this.gen || this.info.state !== 'connecting') return;
    if (typeof this.opts.token === 'string' && tokenExpired(token, this.opts.now())) {
      this.fatal('token_expired', 'the token has expired');
      return;
    }
    this.currentToken = token;
    this.expiredSeen = false;
    this.stats.connects++;
    let opened = false;
    const handlers: TransportHandlers = {
      open: () => {
        if (gen !== this.gen) return;
        opened = true;
        this.onOpen(gen);
      },
      message: (msg) => {
        if (gen === this.gen) this.onMessage(msg);
      },
      close: (info) => {
        if (gen !== this.gen) return;
        this.dropped({ ...info, handshake: info.handshake ?? !opened }, gen);
      },
    };
    try {
      this.conn = this.transport.connect(token, handlers);
    } catch (err) {
      this.dropped({ reason: (err as Error).message, handshake: true }, gen);
    }
  }

  private onOpen(gen: number): void {
    this.openedAt = this.opts.now();
    this.lastSeen = this.openedAt;
    this.move({ type: 'open' }, { retryAt: null, reason: null, error: null });
    for (const [topic, t] of this.topics) {
      t.seq = null;
      this.conn?.subscribe(topic);
    }
    this.clear('stableTimer');
    this.stableTimer = this.opts.timers.setTimeout(() => {
      if (gen === this.gen && this.info.state === 'open') this.info.attempt = 0;
    }, this.opts.stableAfterMs);
    this.schedulePing(gen);
  }

  private schedulePing(gen: number): void {
    if (this.opts.pingIntervalMs <= 0) return;
    this.clear('pingTimer');
    this.pingTimer = this.opts.timers.setTimeout(() => {
      if (gen !== this.gen || this.info.state !== 'open') return;
      this.pingSentAt = this.opts.now();
      this.conn?.ping();
      this.clear('pongTimer');
      this.pongTimer = this.opts.timers.setTimeout(() => {
        if (gen !== this.gen || this.info.state !== 'open') return;
        if (this.lastSeen < this.pingSentAt) {
          // Half-open: nothing came back. Replace the connection.
          const c = this.conn;
          this.dropped({ reason: `no answer to a ping within ${this.opts.pongTimeoutMs} ms` }, gen);
          c?.close();
          return;
        }
      }, this.opts.pongTimeoutMs);
      this.schedulePing(gen);
    }, this.opts.pingIntervalMs);
  }

  private onMessage(msg: ServerMessage): void {
    this.lastSeen = this.opts.now();
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'pong':
        if (this.pingSentAt > 0) this.emit('pong', { rtt: this.lastSeen - this.pingSentAt });
        return;
      case 'unsubscribed':
        return;
      case 'error':
        return this.onError(msg);
      case 'snapshot':
      case 'update':
        return this.onTopic(msg as TopicMessage);
      case 'notice':
        if (this.topics.has(msg.topic)) this.emit('notice', msg);
        return;
    }
  }

  private onError(err: ErrorMessage): void {
    if (err.code === 'token_expired') this.expiredSeen = true;
    const t = err.topic ? this.topics.get(err.topic) : undefined;
    if (t && (err.code === 'unavailable' || err.code === 'rate_limited')) {
      // The server could not build the snapshot (e.g. Redis hiccup), or this connection asked too fast: ask again shortly.
      const gen = this.gen;
      const topic = err.topic!;
      this.opts.timers.setTimeout(() => {
        if (gen === this.gen && this.info.state === 'open' && this.topics.has(topic)) this.conn?.subscribe(topic);
      }, this.opts.resubscribeMs);
    }
    if (t) {
      for (const h of [...t.handlers]) {
        try {
          h.error?.(err);
        } catch (e) {
          reportHandlerError(`an error handler of ${err.topic}`, e);
        }
      }
    }
    this.emit('error', err);
  }

  private onTopic(msg: TopicMessage): void {
    const t = this.topics.get(msg.topic);
    if (!t) return;
    this.stats.messages++;
    if (msg.type === 'snapshot') {
      t.seq = msg.seq;
    } else {
      if (t.seq !== null) {
        if (msg.seq <= t.seq) return; // older than what we hold (a resync's snapshot overtook it)
        if (msg.seq > t.seq + 1) {
          this.stats.gaps++;
          this.emit('gap', { topic: msg.topic, expected: t.seq + 1, got: msg.seq });
          if (this.opts.resyncOnGap) this.conn?.subscribe(msg.topic);
        }
      }
      t.seq = msg.seq;
    }
    t.latest = msg;
    for (const h of [...t.handlers]) {
      try {
        h.data?.(msg);
      } catch (err) {
        // A handler's bug stops neither the other handlers nor the subscription, and is not swallowed silently.
        reportHandlerError(`a data handler of ${msg.topic}`, err);
      }
    }
    this.emit('message', msg);
  }

  private dropped(info: CloseInfo, gen: number): void {
    if (gen !== this.gen) return;
    this.gen++;
    this.conn = null;
    this.clear('pingTimer');
    this.clear('pongTimer');
    this.clear('stableTimer');
    this.stats.drops++;
    const now = this.opts.now();
    if (this.openedAt > 0 && now - this.openedAt >= this.opts.stableAfterMs && !info.handshake) this.info.attempt = 0;
    this.openedAt = 0;
    const staticToken = typeof this.opts.token === 'string';
    const reason = info.reason || (info.code ? `closed (${info.code})` : 'connection lost');
    const expired = info.expired || info.code === 4001 || this.expiredSeen || (this.currentToken !== '' && tokenExpired(this.currentToken, now));
    if (staticToken && expired) return this.fatal('token_expired', 'the token has expired');
    if (staticToken && (info.unauthorized || info.status === 401)) return this.fatal('unauthorized', 'the server refused the token');
    if (staticToken && info.handshake && info.status === undefined && this.transport.probe) {
      // Why did the handshake fail? Ask while waiting for the retry.
      const token = this.currentToken;
      const myGen = this.gen;
      void this.transport.probe(token).then((r) => {
        if (r === 'unauthorized' && myGen === this.gen && this.info.state === 'reconnecting') this.fatal('unauthorized', 'the server refused the token');
      });
    }
    this.scheduleRetry(reason);
  }

  private scheduleRetry(reason: string): void {
    this.info.attempt++;
    const delay = backoffDelay(this.info.attempt, this.opts.backoff, this.opts.random);
    const retryAt = this.opts.now() + delay;
    this.move({ type: 'close', retry: true }, { reason, retryAt, error: null });
    this.clear('retryTimer');
    this.retryTimer = this.opts.timers.setTimeout(() => {
      this.retryTimer = null;
      if (this.info.state !== 'reconnecting') return;
      this.move({ type: 'retry' }, { retryAt: null });
      void this.attempt();
    }, delay);
  }
}
