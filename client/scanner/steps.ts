// The events a scanner session records, as steps (name, payload, entities) and then as envelopes (ids,
// sequence numbers, consent, device context). Apart from the tracker's delivery and storage (tracker.ts) so
// what an event holds reads in one place; the step builders also count the session's totals, as each scan is
// recorded.
import type { Id } from '../shared/registry.gen.js';
import type { ConsentSnapshot, Entities, Envelope } from '../shared/types.js';
import type { DenialReason, ScannerConfig, ScannerSession, ScanResult, ScanType } from './types.js';

export const SCANNER_VERSION = '1.0.0';

const DEFAULT_CONSENT: ConsentSnapshot = { analytics: false, marketing: false, data_processing: true };

const clean = <T extends Record<string, unknown>>(o: T): T => {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
};

export interface Step {
  name: string;
  payload: Record<string, unknown>;
  entities: Entities;
}

export type AttemptOptions = { scanType?: ScanType; qrHash?: string; ticketTypeId?: Id };
export type ResultOptions = { result: ScanResult; scanType?: ScanType; reasonCode?: string; latencyMs?: number; offlineResolution?: boolean; ticketTypeId?: Id };
export type GrantOptions = { scanType?: ScanType; beneficiaryId?: Id; ticketTypeId?: Id };
export type DenyOptions = { reason?: DenialReason; reasonCode?: string; scanType?: ScanType; ticketTypeId?: Id };

/** ticket_scan_attempted; counts the scan (offline while the last send failed, `lastOk` false). */
export function scanAttemptStep(s: ScannerSession, lastOk: boolean, ticketId: Id, o: AttemptOptions): Step {
  s.totals.scans++;
  if (!lastOk) s.totals.offline_scans++;
  return {
    name: 'ticket_scan_attempted',
    payload: { gate_id: s.gateId, scanner_session_id: s.id, scan_type: o.scanType ?? 'entry', qr_payload_hash: o.qrHash },
    entities: { ticket_id: ticketId, ticket_type_id: o.ticketTypeId },
  };
}

/** ticket_scan_result; resolved offline by default while the last send failed. */
export function scanResultStep(s: ScannerSession, lastOk: boolean, ticketId: Id, o: ResultOptions): Step {
  return {
    name: 'ticket_scan_result',
    payload: {
      gate_id: s.gateId,
      scanner_session_id: s.id,
      result: o.result,
      scan_type: o.scanType ?? 'entry',
      reason_code: o.reasonCode,
      latency_ms: o.latencyMs === undefined ? undefined : Math.max(0, Math.round(o.latencyMs)),
      offline_resolution: o.offlineResolution ?? !lastOk,
    },
    entities: { ticket_id: ticketId, ticket_type_id: o.ticketTypeId },
  };
}

/** entry_granted at `now`; counts an entry (kept for the rate per minute) or an exit. */
export function grantedStep(s: ScannerSession, now: number, ticketId: Id, o: GrantOptions): Step {
  if (o.scanType === 'exit') s.totals.exits++;
  else {
    s.totals.granted++;
    s.recent.push(now);
    if (s.recent.length > 1000) s.recent = s.recent.filter((x) => now - x < 60_000);
  }
  return {
    name: 'entry_granted',
    payload: {
      gate_id: s.gateId,
      entry_time: new Date(now).toISOString(),
      beneficiary_id: o.beneficiaryId,
      ticket_type_id: o.ticketTypeId,
      scan_type: o.scanType ?? 'entry',
      scanner_session_id: s.id,
    },
    entities: { ticket_id: ticketId, ticket_type_id: o.ticketTypeId },
  };
}

/** entry_denied; counts the refusal. */
export function deniedStep(s: ScannerSession, ticketId: Id, o: DenyOptions): Step {
  s.totals.denied++;
  return {
    name: 'entry_denied',
    payload: { gate_id: s.gateId, reason: o.reason, reason_code: o.reasonCode, scan_type: o.scanType ?? 'entry', scanner_session_id: s.id },
    entities: { ticket_id: ticketId, ticket_type_id: o.ticketTypeId },
  };
}

/** A step as the envelope the server takes: `id`, `seq` and `prev` are the session's next ones, `at` the record time. */
export function envelope(step: Step, s: ScannerSession, cfg: ScannerConfig, c: { id: string; at: string; seq: number; prev: string | null }): Envelope {
  const e: Envelope = {
    event_id: c.id,
    event_name: step.name,
    event_version: 1,
    occurred_at: c.at,
    source_system: 'scanner',
    site_id: cfg.siteId,
    sequence_no: c.seq,
    prev_event_id: c.prev ?? undefined,
    consent_snapshot: cfg.consent ?? DEFAULT_CONSENT,
    context: clean({
      device: { device_type: 'scanner' },
      device_id: s.deviceId,
      app_version: cfg.appVersion,
      library: `tx-scanner/${SCANNER_VERSION}`,
    }),
    entities: clean({
      ...cfg.entities,
      event_entity_id: s.eventEntityId,
      venue_id: s.venueId,
      organizer_id: s.organizerId,
      ...step.entities,
    }),
    payload: clean(step.payload),
  };
  return clean(e as unknown as Record<string, unknown>) as unknown as Envelope;
}
