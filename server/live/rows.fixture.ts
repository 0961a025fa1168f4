// Test-only builders of committed rows (EventRow) for the pure live tests.
import crypto from 'node:crypto';
import type { EventRow } from '../store/events.js';

export function row(event_name: string, at: number, over: Partial<EventRow> & { entities?: Record<string, unknown>; payload?: Record<string, unknown> } = {}): EventRow {
  return {
    event_id: crypto.randomUUID(),
    event_name,
    event_version: 1,
    occurred_at: new Date(at).toISOString(),
    received_at: new Date(at).toISOString(),
    sent_at: null,
    tenant_id: 1,
    site_id: null,
    source_system: 'web',
    visitor_id: null,
    session_id: null,
    sequence_no: null,
    prev_event_id: null,
    person_id: null,
    consent_snapshot: {},
    context: {},
    entities: {},
    payload: {},
    idempotency_key: null,
    is_bot: false,
    ...over,
  };
}
