// Gate scanner tracker (TxScannerTracker; README "Live layer" shows what its scans and capacity snapshots feed): offline first.
//
// Every event is appended to a durable queue (storage adapter: AsyncStorage on React Native, FileStorage
// on Node, MemoryStorage in tests) before its promise resolves, and stays there until the server has
// acknowledged it: a 200 whose body is the per-event answer to that batch (accepted, duplicate or rejected,
// adding up to the batch). Everything else keeps the batch and retries it with exponential backoff and jitter
// (honouring Retry-After, timed on a monotonic clock): no answer, 5xx, 429, another 2xx, any 4xx but a 400/413
// carrying the server's own JSON error, which halves the batch until the one refused event is alone and drops
// it. Batches go out one at a time, oldest first, so a session's events reach the server in order. Event ids
// are fixed when an event is recorded, so a replay after a lost response is answered as a duplicate and
// stored once. entry_granted / entry_denied trigger a send immediately (at the end of a running backoff).
// Recording is atomic: when the storage write fails, the promise rejects and nothing of it is kept or sent.
//
//   const scanner = await TxScannerTracker.open({ endpoint, writeKey, storage: AsyncStorage, deviceId });
//   await scanner.startSession({ eventEntityId: 'E1', venueId: 'V1', gateId: 'G-north', staffId: 'S7' });
//   await scanner.recordScan({ ticketId: 'T-123', result: 'valid', latencyMs: 84 });
//   await scanner.endSession();
//
// This file keeps the session, the queue and the delivery decisions; the public types are in types.ts, what
// each event holds in steps.ts and one POST of a batch in send.ts (re-exported here as before).
import type { Id } from '../shared/registry.gen.js';
import { nextDelay, retryAfterMs } from '../shared/retry.js';
import type { Envelope } from '../shared/types.js';
import { uuid as defaultUuid } from '../shared/uuid.js';
import { DurableQueue } from './queue.js';
import { postBatch, scannerVerdict } from './send.js';
import { deniedStep, envelope, grantedStep, scanAttemptStep, scanResultStep, type Step } from './steps.js';
import { MemoryStorage, type StorageAdapter } from './storage.js';
import type { DenialReason, ScannerConfig, ScannerSession, ScanParams, ScanResult, ScanType, StartSessionParams, TrackerState } from './types.js';

export { SCANNER_VERSION } from './steps.js';
export type { DenialReason, ScannerConfig, ScannerError, ScannerSession, ScanParams, ScanResult, ScanType, StartSessionParams } from './types.js';

const CRITICAL = new Set(['entry_granted', 'entry_denied']);
/** The longest Retry-After honoured (a gate must not go quiet for longer on one answer). */
const MAX_RETRY_AFTER_MS = 3_600_000;
/** setTimeout's largest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Queues open in this process, per storage: two trackers on one queue would overwrite each other's pages. */
const openQueues = new WeakMap<object, Set<string>>();

const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Kept with a queued event, never sent: [the run that recorded it, the monotonic time it was recorded at]. */
export const MONO = '_mono';
type Queued = Envelope & { [MONO]?: [string, number] };

function monotonicClock(): () => number {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  if (perf?.now) return () => perf.now();
  let last = 0; // no performance.now: at least never backwards
  return () => (last = Math.max(last, Date.now()));
}

export class TxScannerTracker {
  private cfg: Required<Pick<ScannerConfig, 'batchSize' | 'flushIntervalMs' | 'retryBaseMs' | 'retryMaxMs' | 'requestTimeoutMs'>> & ScannerConfig;
  private url: string;
  private fetch: typeof fetch;
  private now: () => number;
  private mono: () => number;
  /** This process's run: events recorded in it carry their monotonic time (`sentAtOf`), valid only within it. */
  private run: string;
  private uuid: () => string;
  private state: TrackerState;
  private batch: number;
  private attempt = 0;
  /** On the monotonic clock. */
  private retryAt = 0;
  private sending: Promise<void> | null = null;
  private wake: ReturnType<typeof setTimeout> | null = null;
  private interval: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private released = false;
  private lastOk = true;
  private lastRecordAt = -Infinity;
  /** Events of a batch the server refused as a whole (400/413), sent in smaller batches until each is settled. */
  private suspects: Set<string> | null = null;

  private constructor(
    config: ScannerConfig,
    private queue: DurableQueue<Envelope, TrackerState>,
    private storage: StorageAdapter,
    private storageKey: string,
  ) {
    this.cfg = { batchSize: 50, flushIntervalMs: 5000, retryBaseMs: 1000, retryMaxMs: 30_000, requestTimeoutMs: 15_000, ...config };
    this.batch = this.cfg.batchSize = Math.max(1, Math.min(100, this.cfg.batchSize));
    this.url = `${config.endpoint.replace(/\/+$/, '')}/api/tx/events/batch`;
    this.fetch = config.fetch ?? ((...a) => fetch(...a));
    this.now = config.now ?? Date.now;
    this.mono = config.monotonic ?? monotonicClock();
    this.uuid = config.uuid ?? defaultUuid;
    this.run = this.uuid();
    this.state = queue.state ? copy(queue.state) : { session: null, seq: 0, prev: null };
    this.reconcile();
    if (this.cfg.flushIntervalMs > 0) {
      this.interval = setInterval(() => void this.flush(), this.cfg.flushIntervalMs);
      (this.interval as { unref?: () => void }).unref?.();
    }
  }

  /** Opens the tracker and loads what an earlier run left unsent (and the open session, if any). */
  static async open(config: ScannerConfig): Promise<TxScannerTracker> {
    const storage = config.storage ?? new MemoryStorage();
    const key = config.storageKey ?? 'tx_scanner';
    const mine = openQueues.get(storage) ?? new Set<string>();
    if (mine.has(key)) throw new Error(`TxScannerTracker: a tracker is already open on storage key "${key}" of this storage; close it first, or give each tracker its own storageKey`);
    mine.add(key);
    openQueues.set(storage, mine);
    let queue: DurableQueue<Envelope, TrackerState>;
    try {
      queue = await DurableQueue.open<Envelope, TrackerState>(storage, key, config.pageSize ?? 200, (k, err) =>
        config.onError?.({ kind: 'storage', message: `${k}: ${(err as Error).message}` }),
      );
    } catch (err) {
      mine.delete(key);
      throw err;
    }
    const t = new TxScannerTracker(config, queue, storage, key);
    if (queue.size) void t.flush();
    return t;
  }

  /**
   * A crash between a page write and the meta write leaves queued events newer than the stored state: the
   * events chained after the stored one (sequence_no and prev_event_id of this session) are applied to it, so
   * the sequence, the totals and an already queued scanner_session_ended are as recorded.
   */
  private reconcile(): void {
    const st = this.state;
    if (!st.session || st.prev === null) return;
    const queued = this.queue.peek(Infinity);
    // Acknowledgements remove the oldest events first: when the stored last event is gone, all queued ones are newer.
    const from = queued.findIndex((e) => e.event_id === st.prev) + 1;
    for (const e of queued.slice(from)) {
      const s = st.session;
      if (!s || e.sequence_no !== st.seq || (e.prev_event_id ?? null) !== st.prev) break;
      st.seq++;
      st.prev = e.event_id;
      const p = e.payload as Record<string, unknown>;
      if (e.event_name === 'ticket_scan_attempted') s.totals.scans++;
      else if (e.event_name === 'ticket_scan_result' && p.offline_resolution === true) s.totals.offline_scans++;
      else if (e.event_name === 'entry_denied') s.totals.denied++;
      else if (e.event_name === 'entry_granted') {
        if (p.scan_type === 'exit') s.totals.exits++;
        else {
          s.totals.granted++;
          const at = Date.parse(String(p.entry_time));
          if (!Number.isNaN(at)) s.recent.push(at);
        }
      } else if (e.event_name === 'scanner_session_ended') {
        this.state = { session: null, seq: 0, prev: null };
        break;
      }
    }
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
    const before = { lastOk: this.lastOk };
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
    try {
      await this.record(() => [
        {
          name: 'scanner_session_started',
          payload: {
            scanner_session_id: s.id,
            gate_id: s.gateId,
            staff_id: s.staffId,
            device_id: s.deviceId,
            app_version: p.appVersion ?? this.cfg.appVersion,
            offline_mode: p.offline ?? false,
          },
          entities: {},
        },
      ]);
    } catch (err) {
      this.lastOk = before.lastOk;
      throw err;
    }
    return s.id;
  }

  // Every track* method returns a promise, rejected (never thrown) without a session or when nothing was stored.

  async trackScanAttempt(ticketId: Id, o: { scanType?: ScanType; qrHash?: string; ticketTypeId?: Id } = {}): Promise<string> {
    return (await this.record((s) => [scanAttemptStep(s, this.lastOk, ticketId, o)]))[0];
  }

  async trackScanResult(ticketId: Id, o: { result: ScanResult; scanType?: ScanType; reasonCode?: string; latencyMs?: number; offlineResolution?: boolean; ticketTypeId?: Id }): Promise<string> {
    return (await this.record((s) => [scanResultStep(s, this.lastOk, ticketId, o)]))[0];
  }

  async trackEntryGranted(ticketId: Id, o: { scanType?: ScanType; beneficiaryId?: Id; ticketTypeId?: Id } = {}): Promise<string> {
    return (await this.record((s) => [grantedStep(s, this.now(), ticketId, o)]))[0];
  }

  async trackEntryDenied(ticketId: Id, o: { reason?: DenialReason; reasonCode?: string; scanType?: ScanType; ticketTypeId?: Id } = {}): Promise<string> {
    return (await this.record((s) => [deniedStep(s, ticketId, o)]))[0];
  }

  /**
   * A whole scan in one durable write: ticket_scan_attempted, ticket_scan_result, then entry_granted
   * (result valid) or entry_denied (the result, or `denyReason`). Resolves with the three event ids.
   */
  async recordScan(p: ScanParams): Promise<string[]> {
    return this.record((s) => [
      scanAttemptStep(s, this.lastOk, p.ticketId, p),
      scanResultStep(s, this.lastOk, p.ticketId, p),
      p.result === 'valid' && !p.denyReason
        ? grantedStep(s, this.now(), p.ticketId, p)
        : deniedStep(s, p.ticketId, { reason: p.denyReason ?? (p.result as DenialReason), reasonCode: p.reasonCode, scanType: p.scanType, ticketTypeId: p.ticketTypeId }),
    ]);
  }

  /**
   * capacity_snapshot. Without any of currentInside / totalEntries / totalExits / totalDenied it reports this
   * session's own counts, with `scanner_session_id` (the server keeps them per scanner session, beside the
   * other scanners of the gate). With any of them, they are the whole gate's counts (e.g. from the gate
   * system): sent without `scanner_session_id`; the counts not given are left out (the server keeps counting the
   * gate's scans for them), never filled from this session.
   */
  async trackCapacitySnapshot(
    o: { currentInside?: number; totalEntries?: number; totalExits?: number; totalDenied?: number; ratePerMinute?: number; capacity?: number; venueCapacity?: number } = {},
  ): Promise<string> {
    const gateWide = o.currentInside !== undefined || o.totalEntries !== undefined || o.totalExits !== undefined || o.totalDenied !== undefined;
    const [id] = await this.record((s) => {
      const t = s.totals;
      const now = this.now();
      s.recent = s.recent.filter((x) => now - x < 60_000);
      return [
        {
          name: 'capacity_snapshot',
          payload: {
            gate_id: s.gateId,
            scanner_session_id: gateWide ? undefined : s.id,
            current_inside: o.currentInside ?? Math.max(0, t.granted - t.exits),
            // A gate-wide snapshot carries only the gate's counts it was given: one device's counts in their place
            // would replace the gate's (its denials dropped from 6 to this device's 3). The server goes on
            // counting the gate's scans for a count left out.
            total_entries: gateWide ? o.totalEntries : t.granted,
            total_exits: gateWide ? o.totalExits : t.exits,
            total_denied: gateWide ? o.totalDenied : t.denied,
            rate_per_minute: o.ratePerMinute ?? s.recent.length,
            capacity: o.capacity ?? s.capacity,
            venue_capacity: o.venueCapacity ?? s.venueCapacity,
          },
          entities: {},
        },
      ];
    });
    return id;
  }

  /** Ends the session with its totals and sends what is queued. Resolves with the event id, or null. */
  async endSession(): Promise<string | null> {
    if (!this.state.session) return null;
    const [id] = await this.record(
      (s) => [
        {
          name: 'scanner_session_ended',
          payload: {
            scanner_session_id: s.id,
            gate_id: s.gateId,
            duration_ms: Math.max(0, this.now() - s.startedAt),
            totals: { scans: s.totals.scans, granted: s.totals.granted, denied: s.totals.denied, offline_scans: s.totals.offline_scans },
          },
          entities: {},
        },
      ],
      { endSession: true },
    );
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
    if (this.released) return;
    this.released = true;
    openQueues.get(this.storage)?.delete(this.storageKey);
    // FileStorage: releases the directory lock (the next open takes it again).
    await this.storage.close?.().catch((err: Error) => this.cfg.onError?.({ kind: 'storage', message: `storage not closed: ${err.message}` }));
  }

  /**
   * An event's sent_at: its record time plus the monotonic time since (this run's events), so the server's
   * correction `occurred_at + (received − sent_at)` dates it by how long ago it was recorded, whatever the wall
   * clock did meanwhile (NTP fixing a device that was 10 minutes off while offline). An event of an earlier run
   * (restored from storage) gets the wall clock now, as every event did before.
   */
  private sentAtOf(e: Envelope): number | null {
    const m = (e as Queued)[MONO];
    return Array.isArray(m) && m[0] === this.run && typeof m[1] === 'number' ? Date.parse(e.occurred_at) + Math.max(0, this.mono() - m[1]) : null;
  }

  private schedule(ms: number) {
    if (this.closed) return;
    if (this.wake) clearTimeout(this.wake);
    this.wake = setTimeout(() => {
      this.wake = null;
      void this.flush();
    }, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    (this.wake as { unref?: () => void }).unref?.();
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      // Waits are timed on the monotonic clock: a wall-clock jump neither stalls nor hurries them.
      const mono = this.mono();
      if (mono < this.retryAt) return this.schedule(this.retryAt - mono);
      const batch = this.queue.peek(this.batch);
      if (!batch.length) return;
      const send = (url: string, init: NonNullable<Parameters<typeof fetch>[1]>) => this.fetch(url, init);
      const answer = await postBatch({ send, url: this.url, writeKey: this.cfg.writeKey, timeoutMs: this.cfg.requestTimeoutMs }, batch, this.now(), (e) => this.sentAtOf(e));
      const { res, status, result, errorCode, text, netError } = answer;
      const v = scannerVerdict(answer);

      if (v === 'retry' || v === 'auth') {
        // auth (401/403): the key or device is misconfigured; entries must not be lost, so keep retrying slowly.
        // Any answer that is not the server's (a proxy, a captive portal) counts as offline, like no answer.
        this.attempt++;
        if (!res || status >= 500 || (status === 200 ? !result : !errorCode)) this.lastOk = false;
        // Counted from the answer, not from when the request left; a Retry-After is honoured up to an hour.
        const retryAfter = retryAfterMs(res?.headers.get('retry-after'), this.now());
        const wait =
          v === 'auth' ? this.cfg.retryMaxMs : nextDelay(this.attempt, retryAfter === null ? null : Math.min(retryAfter, MAX_RETRY_AFTER_MS), this.cfg.retryBaseMs, this.cfg.retryMaxMs, this.cfg.random);
        this.retryAt = this.mono() + wait;
        const what = status === 200 ? 'an answer that is not the per-event result of this batch' : status > 200 && status < 300 ? 'no per-event result' : errorCode ? errorCode : 'not an answer of the Tixello server';
        this.cfg.onError?.(res ? { kind: 'http', status, message: `HTTP ${status} (${what}; events kept) ${text.slice(0, 200)}` } : { kind: 'network', message: String((netError as Error)?.message ?? netError) });
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
      // split (400/413 with the server's error body): halve the batch until the event the server cannot take is alone.
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
  // Recording
  // -------------------------------------------------------------------------------------------------------

  /**
   * Builds the steps on the open session (counting its totals), turns them into envelopes (ids, sequence
   * numbers), stores them in one write, then triggers a send. All or nothing: when the write fails, the
   * session, its totals and the sequence are back to what is stored, and the events are neither kept nor sent.
   */
  /**
   * The time of a new record: after the previous one, by 1 ms when the clock has not moved on (or stepped back
   * less than a second). The server counts a gate's scans after its snapshot by time, so a grant recorded just
   * after a snapshot in the same millisecond would be taken as already in it. A larger step back (NTP) is
   * followed: stamping ahead of it would date the events in the future.
   */
  private recordTime(): number {
    const now = this.now();
    this.lastRecordAt = now <= this.lastRecordAt && this.lastRecordAt - now < 1000 ? this.lastRecordAt + 1 : now;
    return this.lastRecordAt;
  }

  private async record(build: (s: ScannerSession) => Step[], o: { endSession?: boolean } = {}): Promise<string[]> {
    const s = this.state.session;
    if (!s) throw new Error('TxScannerTracker: no open session; call startSession() first');
    const steps = build(s);
    const now = this.recordTime();
    const at = new Date(now).toISOString();
    const mono = this.mono();
    const events: Envelope[] = steps.map((step) => {
      const id = this.uuid();
      const e: Queued = { ...envelope(step, s, this.cfg, { id, at, seq: this.state.seq++, prev: this.state.prev }), [MONO]: [this.run, mono] };
      this.state.prev = id;
      return e;
    });
    if (o.endSession) this.state = { session: null, seq: 0, prev: null };
    try {
      await this.queue.append(events, copy(this.state));
    } catch (err) {
      // Back to the last stored state (the queue restored it): also right when other recordings shared the write.
      this.state = this.queue.state ? copy(this.queue.state) : { session: null, seq: 0, prev: null };
      this.cfg.onError?.({ kind: 'storage', message: `events not stored: ${(err as Error).message}` });
      throw err;
    }
    if (this.queue.size >= this.batch || events.some((e) => CRITICAL.has(e.event_name))) void this.flush();
    return events.map((e) => e.event_id);
  }
}
