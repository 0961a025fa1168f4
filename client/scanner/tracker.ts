// Gate scanner tracker (TxScannerTracker; README "Live layer" shows what its scans and capacity snapshots feed): offline first.
//
// Every event is appended to a durable queue (storage adapter: AsyncStorage on React Native, FileStorage
// on Node, MemoryStorage in tests) before its promise resolves, and stays there until the server has
// acknowledged it: a 200 whose per-event result is accepted, duplicate or rejected. Network errors,
// timeouts, 5xx and 429 keep the batch and retry it with exponential backoff and jitter (honouring
// Retry-After); batches go out one at a time, oldest first, so a session's events reach the server in
// order. Event ids are fixed when an event is recorded, so a replay after a lost response is answered as
// a duplicate and stored once. entry_granted / entry_denied trigger a send immediately.
//
//   const scanner = await TxScannerTracker.open({ endpoint, writeKey, storage: AsyncStorage, deviceId });
//   await scanner.startSession({ eventEntityId: 'E1', venueId: 'V1', gateId: 'G-north', staffId: 'S7' });
//   await scanner.recordScan({ ticketId: 'T-123', result: 'valid', latencyMs: 84 });
//   await scanner.endSession();
//
// This file keeps the session, the queue and the delivery decisions; the public types are in types.ts, what
// each event holds in steps.ts and one POST of a batch in send.ts (re-exported here as before).
import type { Id } from '../shared/registry.gen.js';
import { nextDelay, retryAfterMs, verdict } from '../shared/retry.js';
import type { Envelope } from '../shared/types.js';
import { uuid as defaultUuid } from '../shared/uuid.js';
import { DurableQueue } from './queue.js';
import { postBatch } from './send.js';
import { deniedStep, envelope, grantedStep, scanAttemptStep, scanResultStep, type AttemptOptions, type DenyOptions, type GrantOptions, type ResultOptions, type Step } from './steps.js';
import { MemoryStorage } from './storage.js';
import type { DenialReason, ScannerConfig, ScannerSession, ScanParams, ScanResult, ScanType, StartSessionParams, TrackerState } from './types.js';

export { SCANNER_VERSION } from './steps.js';
export type { DenialReason, ScannerConfig, ScannerError, ScannerSession, ScanParams, ScanResult, ScanType, StartSessionParams } from './types.js';

const CRITICAL = new Set(['entry_granted', 'entry_denied']);

export class TxScannerTracker {
  private cfg: Required<Pick<ScannerConfig, 'batchSize' | 'flushIntervalMs' | 'retryBaseMs' | 'retryMaxMs' | 'requestTimeoutMs'>> & ScannerConfig;
  private url: string;
  private fetch: typeof fetch;
  private now: () => number;
  private uuid: () => string;
  private state: TrackerState;
  private batch: number;
  private attempt = 0;
  private retryAt = 0;
  private sending: Promise<void> | null = null;
  private wake: ReturnType<typeof setTimeout> | null = null;
  private interval: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private lastOk = true;
  /** Events of a batch the server refused as a whole (400/413), sent in smaller batches until each is settled. */
  private suspects: Set<string> | null = null;

  private constructor(
    config: ScannerConfig,
    private queue: DurableQueue<Envelope, TrackerState>,
  ) {
    this.cfg = { batchSize: 50, flushIntervalMs: 5000, retryBaseMs: 1000, retryMaxMs: 30_000, requestTimeoutMs: 15_000, ...config };
    this.batch = this.cfg.batchSize = Math.max(1, Math.min(100, this.cfg.batchSize));
    this.url = `${config.endpoint.replace(/\/+$/, '')}/api/tx/events/batch`;
    this.fetch = config.fetch ?? ((...a) => fetch(...a));
    this.now = config.now ?? Date.now;
    this.uuid = config.uuid ?? defaultUuid;
    this.state = queue.state ?? { session: null, seq: 0, prev: null };
    // A crash between a page write and the meta write can leave events newer than the stored state.
    for (const e of queue.peek(Infinity)) {
      if (this.state.session && e.payload.scanner_session_id === this.state.session.id && typeof e.sequence_no === 'number' && e.sequence_no >= this.state.seq) {
        this.state.seq = e.sequence_no + 1;
        this.state.prev = e.event_id;
      }
    }
    if (this.cfg.flushIntervalMs > 0) {
      this.interval = setInterval(() => void this.flush(), this.cfg.flushIntervalMs);
      (this.interval as { unref?: () => void }).unref?.();
    }
  }

  /** Opens the tracker and loads what an earlier run left unsent (and the open session, if any). */
  static async open(config: ScannerConfig): Promise<TxScannerTracker> {
    const storage = config.storage ?? new MemoryStorage();
    const queue = await DurableQueue.open<Envelope, TrackerState>(storage, config.storageKey ?? 'tx_scanner', config.pageSize ?? 200, (key, err) =>
      config.onError?.({ kind: 'storage', message: `unreadable ${key} skipped: ${(err as Error).message}` }),
    );
    const t = new TxScannerTracker(config, queue);
    if (queue.size) void t.flush();
    return t;
  }

  /** The open scanner session (restored after a restart), or null. */
  get session(): Readonly<ScannerSession> | null {
    return this.state.session;
  }

  /** Events stored and not yet acknowledged by the server. */
  get pending(): number {
    return this.queue.size;
  }

  /** False after a send failed for lack of network (or server), until one succeeds. */
  get online(): boolean {
    return this.lastOk;
  }

  // -------------------------------------------------------------------------------------------------------
  // Events
  // -------------------------------------------------------------------------------------------------------

  /** Starts a scanner session (ending an open one first); resolves with the scanner_session_id. */
  async startSession(p: StartSessionParams): Promise<string> {
    if (this.state.session) await this.endSession();
    const s: ScannerSession = {
      id: this.uuid(),
      eventEntityId: p.eventEntityId,
      gateId: p.gateId,
      venueId: p.venueId,
      organizerId: p.organizerId,
      staffId: p.staffId,
      deviceId: p.deviceId ?? this.cfg.deviceId,
      capacity: p.capacity,
      venueCapacity: p.venueCapacity,
      startedAt: this.now(),
      totals: { scans: 0, granted: 0, denied: 0, exits: 0, offline_scans: 0 },
      recent: [],
    };
    if (p.offline) this.lastOk = false;
    this.state = { session: s, seq: 0, prev: null };
    await this.record('scanner_session_started', {
      scanner_session_id: s.id,
      gate_id: s.gateId,
      staff_id: s.staffId,
      device_id: s.deviceId,
      app_version: p.appVersion ?? this.cfg.appVersion,
      offline_mode: p.offline ?? false,
    });
    return s.id;
  }

  trackScanAttempt(ticketId: Id, o: { scanType?: ScanType; qrHash?: string; ticketTypeId?: Id } = {}): Promise<string> {
    return this.recordOne(this.scanAttempt(ticketId, o));
  }

  trackScanResult(ticketId: Id, o: { result: ScanResult; scanType?: ScanType; reasonCode?: string; latencyMs?: number; offlineResolution?: boolean; ticketTypeId?: Id }): Promise<string> {
    return this.recordOne(this.scanResult(ticketId, o));
  }

  trackEntryGranted(ticketId: Id, o: { scanType?: ScanType; beneficiaryId?: Id; ticketTypeId?: Id } = {}): Promise<string> {
    return this.recordOne(this.granted(ticketId, o));
  }

  trackEntryDenied(ticketId: Id, o: { reason?: DenialReason; reasonCode?: string; scanType?: ScanType; ticketTypeId?: Id } = {}): Promise<string> {
    return this.recordOne(this.denied(ticketId, o));
  }

  /**
   * A whole scan in one durable write: ticket_scan_attempted, ticket_scan_result, then entry_granted
   * (result valid) or entry_denied (the result, or `denyReason`). Resolves with the three event ids.
   */
  async recordScan(s: ScanParams): Promise<string[]> {
    const steps: Step[] = [
      this.scanAttempt(s.ticketId, s),
      this.scanResult(s.ticketId, s),
      s.result === 'valid' && !s.denyReason
        ? this.granted(s.ticketId, s)
        : this.denied(s.ticketId, { reason: s.denyReason ?? (s.result as DenialReason), reasonCode: s.reasonCode, scanType: s.scanType, ticketTypeId: s.ticketTypeId }),
    ];
    return this.recordMany(steps);
  }

  /** capacity_snapshot; anything not given comes from this session's own counts. */
  trackCapacitySnapshot(
    o: { currentInside?: number; totalEntries?: number; totalExits?: number; totalDenied?: number; ratePerMinute?: number; capacity?: number; venueCapacity?: number } = {},
  ): Promise<string> {
    const s = this.need();
    const t = s.totals;
    const now = this.now();
    s.recent = s.recent.filter((x) => now - x < 60_000);
    return this.record('capacity_snapshot', {
      gate_id: s.gateId,
      current_inside: o.currentInside ?? Math.max(0, t.granted - t.exits),
      total_entries: o.totalEntries ?? t.granted,
      total_exits: o.totalExits ?? t.exits,
      total_denied: o.totalDenied ?? t.denied,
      rate_per_minute: o.ratePerMinute ?? s.recent.length,
      capacity: o.capacity ?? s.capacity,
      venue_capacity: o.venueCapacity ?? s.venueCapacity,
    });
  }

  /** Ends the session with its totals and sends what is queued. Resolves with the event id, or null. */
  async endSession(): Promise<string | null> {
    const s = this.state.session;
    if (!s) return null;
    const id = await this.record('scanner_session_ended', {
      scanner_session_id: s.id,
      gate_id: s.gateId,
      duration_ms: Math.max(0, this.now() - s.startedAt),
      totals: { scans: s.totals.scans, granted: s.totals.granted, denied: s.totals.denied, offline_scans: s.totals.offline_scans },
    }, { endSession: true });
    void this.flush();
    return id;
  }

  // -------------------------------------------------------------------------------------------------------
  // Delivery
  // -------------------------------------------------------------------------------------------------------

  /** Sends queued events until the queue is empty or an attempt fails (then a retry is scheduled). */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return (this.sending ??= this.drain().finally(() => (this.sending = null)));
  }

  /** The network is back (e.g. from NetInfo): retry now instead of at the end of the backoff. */
  retryNow(): Promise<void> {
    this.attempt = 0;
    this.retryAt = 0;
    return this.flush();
  }

  /** Stops timers and waits for the current send and storage writes. Unsent events stay stored. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.interval) clearInterval(this.interval);
    if (this.wake) clearTimeout(this.wake);
    await this.sending?.catch(() => undefined);
    await this.queue.settled().catch(() => undefined);
  }

  private schedule(ms: number) {
    if (this.closed) return;
    if (this.wake) clearTimeout(this.wake);
    this.wake = setTimeout(() => {
      this.wake = null;
      void this.flush();
    }, ms);
    (this.wake as { unref?: () => void }).unref?.();
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      const now = this.now();
      if (now < this.retryAt) return this.schedule(this.retryAt - now);
      const batch = this.queue.peek(this.batch);
      if (!batch.length) return;
      const send = (url: string, init: NonNullable<Parameters<typeof fetch>[1]>) => this.fetch(url, init);
      const { res, status, result, text, netError } = await postBatch({ send, url: this.url, writeKey: this.cfg.writeKey, timeoutMs: this.cfg.requestTimeoutMs }, batch, now);
      const v = res ? verdict(status) : 'retry';

      if (v === 'retry' || v === 'auth') {
        // auth (401/403): the key or device is misconfigured; entries must not be lost, so keep retrying slowly.
        this.attempt++;
        if (status === 0 || status >= 500) this.lastOk = false;
        // Counted from the answer, not from when the request left.
        const at = this.now();
        const wait = v === 'auth' ? this.cfg.retryMaxMs : nextDelay(this.attempt, retryAfterMs(res?.headers.get('retry-after'), at), this.cfg.retryBaseMs, this.cfg.retryMaxMs, this.cfg.random);
        this.retryAt = at + wait;
        this.cfg.onError?.(res ? { kind: 'http', status, message: `HTTP ${status} ${text.slice(0, 200)}` } : { kind: 'network', message: String((netError as Error)?.message ?? netError) });
        return this.schedule(wait);
      }
      this.attempt = 0;
      this.lastOk = true;
      if (v === 'ack') {
        for (const r of result?.rejected ?? []) {
          const event = batch[r.index];
          if (event) this.cfg.onError?.({ kind: 'rejected', status, message: r.errors.map((e) => `${e.code} ${e.field ?? ''}`).join('; '), event, rejection: r });
        }
        await this.settle(batch.map((e) => e.event_id));
        continue;
      }
      // split (413) / drop (other 4xx): halve the batch until the event the server cannot take is alone.
      if (batch.length > 1) {
        this.suspects ??= new Set(batch.map((e) => e.event_id));
        this.batch = Math.max(1, batch.length >> 1);
        continue;
      }
      this.cfg.onError?.({ kind: 'dropped', status, message: `HTTP ${status} ${text.slice(0, 200)}`, event: batch[0] });
      await this.settle([batch[0].event_id]);
    }
  }

  /** Removes events the server is done with; full batches again once every suspect is settled. */
  private async settle(ids: string[]) {
    await this.ackBatch(ids);
    if (this.suspects) for (const id of ids) this.suspects.delete(id);
    if (!this.suspects?.size) {
      this.suspects = null;
      this.batch = this.cfg.batchSize;
    }
  }

  private async ackBatch(ids: string[]) {
    try {
      await this.queue.ack(ids);
    } catch (err) {
      // Not fatal: the events are gone from memory; after a restart they are sent again (duplicates).
      this.cfg.onError?.({ kind: 'storage', message: `ack not stored: ${(err as Error).message}` });
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Building events
  // -------------------------------------------------------------------------------------------------------

  private need(): ScannerSession {
    if (!this.state.session) throw new Error('TxScannerTracker: no open session; call startSession() first');
    return this.state.session;
  }

  private scanAttempt(ticketId: Id, o: AttemptOptions): Step {
    return scanAttemptStep(this.need(), this.lastOk, ticketId, o);
  }

  private scanResult(ticketId: Id, o: ResultOptions): Step {
    return scanResultStep(this.need(), this.lastOk, ticketId, o);
  }

  private granted(ticketId: Id, o: GrantOptions): Step {
    return grantedStep(this.need(), this.now(), ticketId, o);
  }

  private denied(ticketId: Id, o: DenyOptions): Step {
    return deniedStep(this.need(), ticketId, o);
  }

  private recordOne(step: Step): Promise<string> {
    return this.recordMany([step]).then((ids) => ids[0]);
  }

  private record(name: string, payload: Record<string, unknown>, o: { endSession?: boolean } = {}): Promise<string> {
    this.need();
    return this.recordMany([{ name, payload, entities: {} }], o).then((ids) => ids[0]);
  }

  /** Builds the envelopes (ids, sequence numbers) now, stores them in one write, then triggers a send. */
  private async recordMany(steps: Step[], o: { endSession?: boolean } = {}): Promise<string[]> {
    const s = this.need();
    const now = this.now();
    const at = new Date(now).toISOString();
    const events: Envelope[] = steps.map((step) => {
      const id = this.uuid();
      const e = envelope(step, s, this.cfg, { id, at, seq: this.state.seq++, prev: this.state.prev });
      this.state.prev = id;
      return e;
    });
    if (o.endSession) this.state = { session: null, seq: 0, prev: null };
    const snapshot = JSON.parse(JSON.stringify(this.state)) as TrackerState;
    try {
      await this.queue.append(events, snapshot);
    } catch (err) {
      this.cfg.onError?.({ kind: 'storage', message: `events not stored: ${(err as Error).message}` });
      throw err;
    }
    if (this.queue.size >= this.batch || events.some((e) => CRITICAL.has(e.event_name))) void this.flush();
    return events.map((e) => e.event_id);
  }
}

