// Wire types of the live layer (README "Live layer"): what /ws and Socket.IO carry. Shared by the
// dashboard page, Node scripts and tests.

export interface Funnel {
  views: number;
  unique_visitors: number;
  ticket_selections: number;
  add_to_carts: number;
  checkouts_started: number;
  active_checkouts: number;
  payment_attempts: number;
  payment_failures: number;
  orders: number;
  tickets_sold: number;
}

export interface Conversion {
  view_to_cart: number;
  cart_to_checkout: number;
  checkout_to_order: number;
  view_to_order: number;
}

export interface Dropoff {
  view_to_cart: number;
  cart_to_checkout: number;
  checkout_to_order: number;
}

/** Revenue per ISO currency code (gross). */
export type Revenue = Record<string, number>;

export interface GateCapacity {
  inside: number;
  entries: number;
  denied: number;
  rate_per_minute: number;
  capacity: number | null;
  percent: number | null;
  /** The gate's latest scan or snapshot; null for a catalog gate no scanner has reported yet (shown empty). */
  updated_at?: string | null;
  /** The gate's name in the tenant's catalog (venue gates), null when the catalog has none. */
  name?: string | null;
}

export interface Capacity extends Omit<GateCapacity, 'updated_at'> {
  /** The scanners' stated venue capacity (their newest `venue_capacity`), null when none stated one. */
  venue_capacity?: number | null;
  gates: Record<string, GateCapacity>;
}

/** `analytics:event:{event_id}` */
export interface EventData {
  event_id: string;
  organizer_id: string | null;
  /** From the tenant's catalog (null when the event or organizer is not in it). */
  event_title?: string | null;
  organizer_name?: string | null;
  venue_id?: string | null;
  funnel: Funnel;
  revenue: Revenue;
  conversion: Conversion;
  dropoff?: Dropoff;
  capacity: Capacity;
  updated_at: string | null;
}

/** `analytics:event:{event_id}:capacity` */
export interface CapacityData extends Capacity {
  event_id: string;
  event_title?: string | null;
  venue_id?: string | null;
  updated_at: string | null;
}

export interface TickerEntry {
  ts: string;
  event_id: string;
  tickets: number;
  amount: number;
  currency: string;
  /** Catalog categories of the order's ticket types ("GA, VIP"), null when unknown. */
  category?: string | null;
  event_title?: string | null;
}

export interface EventRow {
  event_id: string;
  event_title?: string | null;
  funnel: Funnel;
  revenue: Revenue;
  conversion: Conversion;
  dropoff?: Dropoff;
}

/** `analytics:dashboard:{org_id}` */
export interface DashboardData {
  organizer_id: string;
  organizer_name?: string | null;
  /** At most 200 (those with the most orders, tickets, views), by id; `events_total` counts them all. */
  events: EventRow[];
  events_total?: number;
  totals: { funnel: Funnel; revenue: Revenue; conversion: Conversion; dropoff?: Dropoff };
  ticker: TickerEntry[];
  updated_at: string | null;
}

export type MessageType = 'snapshot' | 'update';

/** A topic's data: `snapshot` right after subscribing, then `update`s (each carries the whole state). */
export interface TopicMessage<D = unknown> {
  topic: string;
  type: MessageType;
  /** +1 per update of the topic on the serving node; a snapshot gives the baseline. */
  seq: number;
  /** Server time of the message (epoch ms). */
  ts: number;
  data: D;
}

export type ErrorCode =
  | 'forbidden'
  | 'invalid_topic'
  | 'invalid_message'
  | 'too_many_topics'
  | 'rate_limited'
  | 'token_expired'
  | 'unavailable'
  | 'disconnected'
  | (string & {});

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  topic?: string | null;
  message?: string;
}

/**
 * A one-off message on a topic (not state: no seq, not kept), e.g. `{"kind":"campaign_budget_low","budget_id",
 * "organizer_id","remaining","remaining_pct","currency"}` on the organizer's dashboard. Fields may be added.
 */
export interface NoticeMessage {
  topic: string;
  type: 'notice';
  ts: number;
  data: { kind: string } & Record<string, unknown>;
}

export type ServerMessage =
  | (TopicMessage & { type: MessageType })
  | NoticeMessage
  | ErrorMessage
  | { type: 'pong'; ts: number }
  | { type: 'unsubscribed'; topic: string | null };

export type TopicData<T extends string> = T extends `analytics:dashboard:${string}`
  ? DashboardData
  : T extends `analytics:event:${string}:capacity`
    ? CapacityData
    : T extends `analytics:event:${string}`
      ? EventData
      : unknown;

export const topics = {
  event: (eventId: string) => `analytics:event:${eventId}` as const,
  capacity: (eventId: string) => `analytics:event:${eventId}:capacity` as const,
  dashboard: (orgId: string) => `analytics:dashboard:${orgId}` as const,
};
