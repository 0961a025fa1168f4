// The scanner tracker (Node) against the real server, through a proxy that cuts the network.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TxScannerTracker, type ScannerError } from '../client/scanner/index.js';
import { FileStorage } from '../client/scanner/file-storage.js';
import { MemoryStorage } from '../client/scanner/storage.js';
import { bootServer, createTenant, startForwarder, tmpDir, until, type Tenant } from './helpers.js';
import { eventsByName, sleep, startProxy } from './client-helpers.js';

const SCANNER_EVENTS = ['scanner_session_started', 'ticket_scan_attempted', 'ticket_scan_result', 'entry_granted', 'entry_denied', 'capacity_snapshot', 'scanner_session_ended'];

let server: Awaited<ReturnType<typeof bootServer>>;
let proxy: Awaited<ReturnType<typeof startProxy>>;
/** In front of the proxy, on a port it keeps: the network is cut there (the proxy's stop() would free its port). */
let gate: Awaited<ReturnType<typeof startForwarder>>;
let cut = false;
let t: Tenant;
let base: string;

beforeAll(async () => {
  server = await bootServer();
  base = server.url;
  t = await createTenant(base, 'gates');
  proxy = await startProxy(server.port);
  gate = await startForwarder(() => (cut ? null : proxy.port));
}, 240_000); // booting the server is slow on a loaded machine
afterAll(async () => {
  await gate?.close();
  await proxy?.stop();
  await server?.close();
});

describe('scanner tracker against the server', () => {
  it('500 scans with the network cut and a lost acknowledgement: every event arrives once, in order', async () => {
    const errors: ScannerError[] = [];
    const scanner = await TxScannerTracker.open({
      endpoint: gate.url,
      writeKey: t.write_key,
      storage: new MemoryStorage(),
      deviceId: 'dev-1',
      appVersion: '3.2.0',
      retryBaseMs: 50,
      retryMaxMs: 400,
      flushIntervalMs: 200,
      onError: (e) => errors.push(e),
    });
    const sessionId = await scanner.startSession({ eventEntityId: 'EV-500', venueId: 'V1', organizerId: 'O1', gateId: 'G-north', staffId: 'S7', capacity: 600 });
    const local: string[] = [];
    const counts = { granted: 0, denied: 0 };
    let maxPending = 0;
    for (let i = 0; i < 500; i++) {
      if (i === 150) {
        cut = true;
        gate.cut();
      }
      if (i === 350) cut = false;
      // From scan 380 until at least one answer was lost (and at least through scan 399): the server stores
      // each batch but the answer never reaches the scanner. A fixed window of scans could see no flush at all.
      proxy.state.dropResponses = i >= 380 && (i < 400 || proxy.state.dropped === 0);
      const result = i % 10 === 9 ? (i % 20 === 9 ? 'already_used' : 'invalid') : 'valid';
      result === 'valid' ? counts.granted++ : counts.denied++;
      local.push(...(await scanner.recordScan({ ticketId: `T-${i}`, ticketTypeId: 'GA', result, qrHash: `h${i}`, latencyMs: 40 + (i % 7), scanType: 'entry' })));
      if (i % 50 === 49) local.push(await scanner.trackCapacitySnapshot());
      if (i > 150 && i < 350) maxPending = Math.max(maxPending, scanner.pending);
      await sleep(4);
    }
    proxy.state.dropResponses = false;
    expect(proxy.state.dropped).toBeGreaterThan(0);
    const endId = await scanner.endSession();
    await until(async () => scanner.pending === 0, 30_000);
    await scanner.close();

    // The outage was real: events piled up, sends failed with network errors, and some answers were lost.
    expect(maxPending).toBeGreaterThan(300);
    expect(errors.some((e) => e.kind === 'network')).toBe(true);
    expect(errors.filter((e) => e.kind === 'rejected' || e.kind === 'dropped')).toEqual([]);

    // The lost answers were real too: the server saw those batches again and answered them as duplicates.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(Number(/tx_ingest_events_total\{outcome="duplicates"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);

    const stored = await eventsByName(base, t, SCANNER_EVENTS, 'event_entity_id=EV-500');
    expect(stored).toHaveLength(1 + 1500 + 10 + 1);
    // Exactly once: every local event id is stored once and nothing else is.
    const storedIds = stored.map((e) => e.event_id);
    expect(new Set(storedIds).size).toBe(storedIds.length);
    const others = stored.filter((e) => !local.includes(e.event_id));
    expect(others.map((e) => e.event_name).sort()).toEqual(['scanner_session_ended', 'scanner_session_started']);
    expect(others.find((e) => e.event_name === 'scanner_session_ended')!.event_id).toBe(endId);
    expect(others.find((e) => e.event_name === 'scanner_session_started')!.payload).toMatchObject({ scanner_session_id: sessionId, staff_id: 'S7', device_id: 'dev-1', app_version: '3.2.0' });
    for (const id of local) expect(storedIds).toContain(id);

    // In order: sequence 0..n-1 in the order recorded, prev_event_id chained, and replayed oldest first
    // (received_at never goes back along the sequence).
    const seq = [...stored].sort((a, b) => a.sequence_no - b.sequence_no);
    expect(seq.map((e) => e.sequence_no)).toEqual(seq.map((_, i) => i));
    expect(seq[0].event_name).toBe('scanner_session_started');
    expect(seq[seq.length - 1].event_name).toBe('scanner_session_ended');
    expect(seq.slice(1, -1).map((e) => e.event_id)).toEqual(local);
    for (let i = 1; i < seq.length; i++) {
      expect(seq[i].prev_event_id).toBe(seq[i - 1].event_id);
      expect(Date.parse(seq[i].received_at)).toBeGreaterThanOrEqual(Date.parse(seq[i - 1].received_at));
      // occurred_at as the scanner recorded it (the server shifts it by each request's clock-skew estimate,
      // which varies with latency, and records the shift): never goes back along the sequence.
      const recorded = (e: Record<string, any>) => Date.parse(e.occurred_at) - (e.context.clock_skew_ms ?? 0);
      expect(recorded(seq[i])).toBeGreaterThanOrEqual(recorded(seq[i - 1]));
    }

    // Scanner envelopes carry the registry's entities and the session.
    for (const e of seq) {
      expect(e.source_system).toBe('scanner');
      expect(e.entities).toMatchObject({ event_entity_id: 'EV-500', venue_id: 'V1', organizer_id: 'O1' });
      expect(e.payload.gate_id).toBe('G-north');
      expect(e.sent_at).toBeTruthy();
    }
    const granted = seq.filter((e) => e.event_name === 'entry_granted');
    const denied = seq.filter((e) => e.event_name === 'entry_denied');
    expect(granted).toHaveLength(counts.granted);
    expect(denied).toHaveLength(counts.denied);
    expect(granted[0].entities).toMatchObject({ ticket_id: 'T-0', ticket_type_id: 'GA' });
    expect(denied[0].payload).toMatchObject({ reason: 'already_used', scanner_session_id: sessionId });
    const results = seq.filter((e) => e.event_name === 'ticket_scan_result');
    expect(results.some((e) => e.payload.offline_resolution === true)).toBe(true); // scanned while offline
    const snaps = seq.filter((e) => e.event_name === 'capacity_snapshot');
    expect(snaps[snaps.length - 1].payload).toMatchObject({ current_inside: counts.granted, total_entries: counts.granted, total_denied: counts.denied, capacity: 600 });
    const end = seq[seq.length - 1];
    expect(end.payload.totals).toMatchObject({ scans: 500, granted: counts.granted, denied: counts.denied });
    expect(end.payload.totals.offline_scans).toBeGreaterThan(150);
    expect(end.payload.duration_ms).toBeGreaterThan(0);
  });

  it('survives a restart: events recorded offline into a FileStorage are sent by the next process, the session resumes', async () => {
    const dir = tmpDir('txl-scanner-');
    const closed = await startForwarder(() => null); // refuses every connection
    const first = await TxScannerTracker.open({ endpoint: closed.url, writeKey: t.write_key, storage: new FileStorage(dir), retryBaseMs: 50, retryMaxMs: 200, flushIntervalMs: 0 });
    const session = await first.startSession({ eventEntityId: 'EV-RESTART', venueId: 'V2', gateId: 'G-south' });
    for (let i = 0; i < 20; i++) await first.recordScan({ ticketId: `R-${i}`, result: 'valid' });
    expect(first.pending).toBe(61);
    await first.close(); // "crash": nothing was acknowledged
    await closed.close();

    const second = await TxScannerTracker.open({ endpoint: base, writeKey: t.write_key, storage: new FileStorage(dir), flushIntervalMs: 0 });
    expect(second.pending).toBe(61);
    expect(second.session?.id).toBe(session);
    await until(async () => second.pending === 0, 15_000);
    await second.recordScan({ ticketId: 'R-20', result: 'wrong_gate' });
    await second.endSession();
    await until(async () => second.pending === 0, 15_000);
    await second.close();

    const stored = await eventsByName(base, t, SCANNER_EVENTS, 'event_entity_id=EV-RESTART');
    expect(stored).toHaveLength(1 + 63 + 1);
    const seq = stored.map((e) => e.sequence_no).sort((a, b) => a - b);
    expect(seq).toEqual(seq.map((_, i) => i));
    const end = stored.find((e) => e.event_name === 'scanner_session_ended')!;
    expect(end.payload.totals).toMatchObject({ scans: 21, granted: 20, denied: 1 });
    // Nothing left on disk to resend.
    const again = await TxScannerTracker.open({ endpoint: base, writeKey: t.write_key, storage: new FileStorage(dir), flushIntervalMs: 0 });
    expect(again.pending).toBe(0);
    expect(again.session).toBeNull();
    await again.close();
  });

  it('a wrong endpoint (the server answers 404) keeps every event; with the right one they all arrive, snapshots with their session', async () => {
    const storage = new MemoryStorage();
    const errors: ScannerError[] = [];
    const wrong = await TxScannerTracker.open({ endpoint: `${base}/not-here`, writeKey: t.write_key, storage, retryBaseMs: 20, retryMaxMs: 50, flushIntervalMs: 0, onError: (e) => errors.push(e) });
    const session = await wrong.startSession({ eventEntityId: 'EV-404', gateId: 'G-east' });
    for (let i = 0; i < 5; i++) await wrong.recordScan({ ticketId: `W-${i}`, result: 'valid' });
    const own = await wrong.trackCapacitySnapshot();
    const gate = await wrong.trackCapacitySnapshot({ currentInside: 40, totalEntries: 45 });
    await until(async () => errors.filter((e) => e.status === 404).length >= 3, 10_000);
    await wrong.close();
    expect(errors.filter((e) => e.kind === 'dropped' || e.kind === 'rejected')).toEqual([]);
    expect(wrong.pending).toBe(1 + 15 + 2);

    const right = await TxScannerTracker.open({ endpoint: base, writeKey: t.write_key, storage, flushIntervalMs: 0, onError: (e) => errors.push(e) });
    await right.flush();
    await until(async () => right.pending === 0, 15_000);
    await right.close();
    expect(errors.filter((e) => e.kind === 'dropped' || e.kind === 'rejected')).toEqual([]);
    const stored = await eventsByName(base, t, SCANNER_EVENTS, 'event_entity_id=EV-404');
    expect(stored).toHaveLength(18);
    expect(stored.find((e) => e.event_id === own)!.payload).toMatchObject({ scanner_session_id: session, current_inside: 5, total_entries: 5 });
    expect(stored.find((e) => e.event_id === gate)!.payload).toMatchObject({ current_inside: 40, total_entries: 45 });
    expect(stored.find((e) => e.event_id === gate)!.payload.scanner_session_id).toBeUndefined();
  });
});
