// The scanner tracker's public types: its configuration, the session it keeps (restored after a restart),
// what a scan records and the errors it reports; and the state it stores with the queue. Types only, apart
// from tracker.ts so the tracker class there holds only behaviour (index.ts re-exports them from tracker.ts).
import type { EventPayloads, Id } from '../shared/registry.gen.js';
import type { ConsentSnapshot, Entities, Envelope, Rejection } from '../shared/types.js';
import type { StorageAdapter } from './storage.js';

export type ScanType = NonNullable<EventPayloads['ticket_scan_result']['scan_type']>;
export type ScanResult = EventPayloads['ticket_scan_result']['result'];
export type DenialReason = NonNullable<EventPayloads['entry_denied']['reason']>;

export interface ScannerError {
  /** network: no response / timeout; http: an answer that keeps the events (401, 403, 429, 5xx, any other
   * 4xx, a 400/413 that is not the server's error body, a 2xx that is not the per-event answer to the batch);
   * rejected: the server refused an event (it is not retried); dropped: the server refused a batch holding
   * only this event (400/413 with its JSON error body: too large, malformed) and it was removed; storage: the
   * adapter failed, or the queue found a loss or recovered from one when it opened. */
  kind: 'network' | 'http' | 'rejected' | 'dropped' | 'storage';
  status?: number;
  message: string;
  event?: Envelope;
  rejection?: Rejection;
}

export interface ScannerConfig {
  /** Base URL of the Tixello Live server. */
  endpoint: string;
  /** The tenant's write key. */
  writeKey: string;
  storage?: StorageAdapter;
  /** Key prefix in the storage (one tracker per prefix: open() refuses a second one in this process). Default `tx_scanner`. */
  storageKey?: string;
  deviceId?: Id;
  appVersion?: string;
  siteId?: string;
  /** Entity ids added to every event (e.g. `{ organizer_id }`). */
  entities?: Entities;
  /** Consent snapshot on the events (scanner events are `necessary`). Default: data processing only. */
  consent?: ConsentSnapshot;
  /** Events per request (≤ 100). Default 50. */
  batchSize?: number;
  /** Background send interval in ms while events wait. Default 5000; 0 disables the timer. */
  flushIntervalMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  requestTimeoutMs?: number;
  /** Events per storage page. Default 200. */
  pageSize?: number;
  onError?: (err: ScannerError) => void;
  fetch?: typeof fetch;
  /** Wall clock (timestamps on the events). Default Date.now. */
  now?: () => number;
  /** Monotonic clock for retry waits (a wall-clock jump must not stall delivery). Default performance.now. */
  monotonic?: () => number;
  random?: () => number;
  uuid?: () => string;
}

export interface StartSessionParams {
  eventEntityId: Id;
  gateId: Id;
  venueId?: Id;
  organizerId?: Id;
  staffId?: Id;
  deviceId?: Id;
  appVersion?: string;
  /** The app starts without a network (validating tickets from a local list). */
  offline?: boolean;
  /** Gate capacity, reported with capacity snapshots. */
  capacity?: number;
  venueCapacity?: number;
}

/** The open session: what it was started with (less the start-only flags), and its running totals. */
export interface ScannerSession extends Omit<StartSessionParams, 'appVersion' | 'offline'> {
  id: string;
  startedAt: number;
  totals: { scans: number; granted: number; denied: number; exits: number; offline_scans: number };
  /** Entry times of the last minute (rate per minute). */
  recent: number[];
}

/** What the tracker stores with its queue: the open session and the sequence of its events. */
export interface TrackerState {
  session: ScannerSession | null;
  seq: number;
  prev: string | null;
}

export interface ScanParams {
  ticketId: Id;
  result: ScanResult;
  scanType?: ScanType;
  qrHash?: string;
  reasonCode?: string;
  latencyMs?: number;
  offlineResolution?: boolean;
  ticketTypeId?: Id;
  beneficiaryId?: Id;
  /** Why entry was refused when result is valid but entry is still denied (e.g. capacity_full). */
  denyReason?: DenialReason;
}
