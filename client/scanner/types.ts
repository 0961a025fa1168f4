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
  /** network: no response / timeout; http: a status that keeps the events (401, 403, 429, 5xx);
   * rejected: the server refused an event (it is not retried); dropped: an event could not be sent at all
   * (too large, malformed) and was removed; storage: the adapter failed. */
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
  /** Key prefix in the storage (one per tracker on a device). Default `tx_scanner`. */
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
  now?: () => number;
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
