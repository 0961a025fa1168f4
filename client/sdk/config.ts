// The browser SDK's public types: its configuration, options and the registry-derived event methods.
import type { CamelCase, EventName, WebEventName } from '../shared/registry.gen.js';
import type { ConsentSnapshot, Entities, Envelope, Props, Rejection } from '../shared/types.js';
import type { KV } from './core.js';

export interface TxConfig {
  /** The tenant's public write key (tx_pk_…). */
  writeKey: string;
  /** Base URL of the Tixello Live server; default: this page's origin. */
  endpoint?: string;
  siteId?: string;
  /**
   * Consent as known when the page loads (e.g. from the site's consent banner). Default: the last choice
   * stored by setConsent(), else everything denied (opt-in).
   */
  consent?: Partial<ConsentSnapshot>;
  /** Entity ids added to every event (e.g. `{ organizer_id }` on an organizer's own site). */
  entities?: Entities;
  /** Logs every event, consent block and server rejection to the console. */
  debug?: boolean;
  /** Events per request (≤ 100). Default 20: a full batch is sent at once. */
  batchSize?: number;
  /** How often queued events are sent, in ms. Default 3000. */
  flushInterval?: number;
  /** Most events kept in storage while they cannot be sent; the oldest go first. Default 500. */
  maxQueue?: number;
  /** Inactivity after which a new session starts, in ms. Default 30 min. */
  sessionTimeout?: number;
  /** Backoff between failed attempts: first step and cap, in ms. Defaults 1000 and 60000. */
  retryBase?: number;
  retryMax?: number;
  /** Sends a page_view now (or as soon as consent allows). Default false: call pageView() yourself. */
  autoPageView?: boolean;
  /** Tracks active/total time, scroll and visibility, sent as page_engagement when the page is left. Default true. */
  engagement?: boolean;
  /** Loads consent scopes from GET /api/tx/schema (cached a day). Default true. */
  loadSchema?: boolean;
  /** Page type for a path; return undefined to use the built-in detection. */
  pageType?: (path: string) => string | undefined;
  /** Called with each event the server rejected (it is not retried; what the callback throws is a console warning). */
  onReject?: (event: Envelope, rejection: Rejection) => void;
  /** Storage; default localStorage (used only once analytics or marketing consent is given). */
  storage?: KV;
  /** Clock, for tests. */
  now?: () => number;
}

export interface TrackOptions {
  /** Send right away with navigator.sendBeacon (for events just before navigating away). */
  beacon?: boolean;
  /**
   * Context fields to add to the event (the pixel loader adds the ad platforms' browser ids: fbp, ttp,
   * ga_client_id, ga_session_ids; README "The envelope"); the SDK's own context fields win.
   */
  context?: Record<string, unknown>;
}

export interface ImpressionOptions {
  /** Cards to watch; default `[data-tx-event]`. A card carries `data-tx-event="<event id>"` and optionally
   * `data-tx-position`, `data-tx-list`, `data-tx-source` (position defaults to the card's index, from 0). */
  selector?: string;
  list_name?: string;
  source?: string;
  feed_tab?: string;
  /** Also send event_card_click when a card is clicked. */
  clicks?: boolean;
}

export interface ImpressionHandle {
  /** Looks for cards added since (infinite lists). */
  scan(): void;
  disconnect(): void;
}

type Method<N extends EventName> = {} extends Props<N> ? (props?: Props<N>, options?: TrackOptions) => string | null : (props: Props<N>, options?: TrackOptions) => string | null;
/** One method per web event of the registry: page_view → pageView, add_to_cart → addToCart, … */
export type WebMethods = { [N in WebEventName as CamelCase<N>]: Method<N> };

/** The tracker's own methods (next to one method per web event, WebMethods). */
export interface TxApi {
  /**
   * Records an event; returns its event_id, or null when consent does not allow it or its props / options
   * are not what JSON can hold (a cycle, a BigInt; a console warning says why). Nothing is kept then.
   */
  track<N extends EventName>(name: N, props?: Props<N> | null, options?: TrackOptions | null): string | null;
  /** page_view: also closes the previous page's engagement (single-page apps call this on each route). */
  pageView(props?: Props<'page_view'> | null, options?: TrackOptions | null): string | null;
  /**
   * Updates consent (from the site's consent banner). Takes effect for the events that follow; withdrawing
   * it drops queued events it no longer covers and, with neither analytics nor marketing, removes the
   * visitor's identifiers from storage. (`fromOtherTab` is internal: the choice made in another tab.)
   */
  setConsent(change: Partial<ConsentSnapshot> | null, fromOtherTab?: boolean): void;
  getConsent(): ConsentSnapshot;
  /**
   * Ids for the site's backend (e.g. to put on order_completed), starting a session if none is running;
   * null without analytics or marketing consent.
   */
  getIds(): { visitor_id: string; session_id: string } | null;
  /** Sends what is queued now (resolves when the queue is empty or the next attempt is scheduled). */
  flush(): Promise<void>;
  /** Forgets the visitor (e.g. on logout): new visitor id, session and first touch. */
  reset(): void;
  /** Stops timers and listeners (queued events stay stored for the next page). */
  destroy(): void;
  /**
   * Sends event_card_impression once per list position per page view when a card is at least 50% visible
   * (IntersectionObserver; each pageView() counts the cards on screen again, those seen before consent
   * included), and event_card_click on click with `clicks: true`. A root that is not on the page (null, e.g.
   * `document.querySelector('#feed')` on a page without one) observes nothing, with one console warning.
   */
  observeImpressions(root?: ParentNode | null, o?: ImpressionOptions | null): ImpressionHandle;
}
