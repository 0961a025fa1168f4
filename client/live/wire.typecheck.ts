// Compile-time guard (tsc -p . checks it; nothing imports it at run time): the live layer's snapshot pieces and
// notices must fit the wire types this client publishes, so the two sides cannot drift apart silently.
import type { CapacityView, GateView } from '../../server/live/capacity.js';
import type { EventNames, NamedGateView, TickerNames } from '../../server/live/catalog.js';
import type { NoticeWire } from '../../server/live/notices.js';
import type { FunnelView, TickerEntry as ServerTicker } from '../../server/live/state.js';
import type { Capacity, Conversion, Dropoff, EventData, Funnel, GateCapacity, NoticeMessage, Revenue, TickerEntry } from './types.js';

type Assert<T extends true> = T;
type Fits<A, B> = A extends B ? true : false;

export type WireChecks = [
  Assert<Fits<CapacityView, Capacity>>,
  Assert<Fits<GateView, GateCapacity>>,
  Assert<Fits<FunnelView['funnel'], Funnel>>,
  Assert<Fits<FunnelView['conversion'], Conversion>>,
  Assert<Fits<FunnelView['dropoff'], Dropoff>>,
  Assert<Fits<FunnelView['revenue'], Revenue>>,
  Assert<Fits<ServerTicker, TickerEntry>>,
  Assert<Fits<NamedGateView, GateCapacity>>,
  Assert<Fits<EventNames, Pick<EventData, 'event_title' | 'organizer_name'>>>,
  Assert<Fits<Omit<ServerTicker, 'id'> & TickerNames, TickerEntry>>,
  Assert<Fits<NoticeWire, NoticeMessage>>,
];
