// What the live client's owner configures and observes: options (token, backoff, heartbeat, timers), the
// connection state it is told, gap reports, subscriptions; and the client's own bookkeeping types (a topic's
// handlers and seq baseline, the events it emits). Types and the default timers only, apart from client.ts
// so the class there holds nothing but the connection's behaviour.
import type { BackoffOptions } from './backoff.js';
import type { ConnectionState } from './machine.js';
import type { ErrorMessage, NoticeMessage, TopicMessage } from './types.js';

export type FatalError = 'unauthorized' | 'token_expired';

export interface StateInfo {
  state: ConnectionState;
  /** Reconnect attempts since the last stable connection. */
  attempt: number;
  /** When the next attempt starts (epoch ms), in state `reconnecting`. */
  retryAt: number | null;
  /** Why the client stopped (state `closed`); null when closed by its owner. */
  error: FatalError | null;
  /** Human-readable cause of the last drop. */
  reason: string | null;
  /** When this state began (epoch ms). */
  since: number;
}

export interface GapInfo {
  topic: string;
  /** The seq that was due. */
  expected: number;
  /** The seq that came. */
  got: number;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LiveClientOptions {
  /** A dashboard token, or a function giving one before each connection attempt. */
  token: string | (() => string | Promise<string>);
  backoff?: BackoffOptions;
  /** Heartbeat period (ms); 0 turns it off. Default 20 000. */
  pingIntervalMs?: number;
  /** A heartbeat with no answer for this long (ms) replaces the connection. Default 10 000. */
  pongTimeoutMs?: number;
  /** A connection up this long (ms) resets the backoff. Default 5 000. */
  stableAfterMs?: number;
  /** Ask for a snapshot again after a seq gap. Default false (updates carry the whole state). */
  resyncOnGap?: boolean;
  /** Retry a subscription the server could not serve (`unavailable`) after this long (ms). Default 2 000. */
  resubscribeMs?: number;
  now?: () => number;
  random?: () => number;
  timers?: Timers;
}

export interface Subscription<D = unknown> {
  readonly topic: string;
  /** The newest snapshot or update received for the topic. */
  readonly latest: TopicMessage<D> | undefined;
  unsubscribe(): void;
}

export type DataHandler = (msg: TopicMessage<any>) => void;
export type ErrorHandler = (err: ErrorMessage) => void;

export interface TopicState {
  handlers: Set<{ data?: DataHandler; error?: ErrorHandler }>;
  seq: number | null;
  latest: TopicMessage | undefined;
}

export interface Events {
  state: StateInfo;
  message: TopicMessage;
  error: ErrorMessage;
  gap: GapInfo;
  pong: { rtt: number };
  /** A notice on a topic this client watches (types.ts NoticeMessage). */
  notice: NoticeMessage;
}

export type Listener<T> = (v: T) => void;

export const DEFAULT_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
