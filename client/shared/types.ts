// Wire types shared by the browser SDK and the scanner tracker (README "The envelope", "Endpoints").
import type { ConsentScope, EntityName, EventName, EventPayloads, EventRequiredEntities, Id } from './registry.gen.js';

export type { ConsentScope, EntityName, EventName, EventPayloads, EventRequiredEntities, Id };

export interface ConsentSnapshot {
  analytics: boolean;
  marketing: boolean;
  data_processing: boolean;
  captured_at?: string | null;
  copy_hash?: string | null;
}

export type Entities = Partial<Record<EntityName, Id | null>>;

/** Entities an event must carry (required ids) plus any other entity id. */
export type EntitiesFor<N extends EventName> = { [K in EventRequiredEntities[N]]: Id } & Entities;

/**
 * Flat properties of an event as the SDK takes them: the payload fields and the entity ids side by side
 * (`{ cart_id, event_entity_id, items, cart_value, currency }`); the SDK splits them into the envelope.
 */
export type Props<N extends EventName> = EventPayloads[N] & EntitiesFor<N>;

/** An event envelope as clients send it. */
export interface Envelope {
  event_id: string;
  event_name: string;
  /** Default 1 (the browser SDK leaves it out). */
  event_version?: number;
  occurred_at: string;
  sent_at?: string;
  site_id?: string;
  source_system: 'web' | 'mobile' | 'scanner';
  visitor_id?: string;
  session_id?: string;
  sequence_no?: number;
  prev_event_id?: string;
  consent_snapshot: ConsentSnapshot;
  context?: Record<string, unknown>;
  entities: Entities;
  payload: Record<string, unknown>;
}

export interface FieldError {
  code: string;
  field: string | null;
  message: string;
}

export interface Rejection {
  index: number;
  event_id: string | null;
  errors: FieldError[];
}

/** Body of a 200 from POST /api/tx/events/batch. */
export interface BatchResult {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}
