// Unit tests of the scanner tracker without a server: the durable paged queue (order, reopen, crash
// recovery, grouped writes), FileStorage, and the delivery rules driven by a scripted fetch.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DurableQueue, MemoryStorage, TxScannerTracker, type ScannerError, type StorageAdapter } from '../client/scanner/index.js';
import { FileStorage } from '../client/scanner/file-storage.js';
import { tmpDir, until } from './helpers.js';

const ev = (i: number) => ({ event_id: `e${i}`, n: i });
type Ev = ReturnType<typeof ev>;

class CountingStorage extends MemoryStorage {
  sets = 0;
  failOn: ((key: string) => boolean) | null = null;
  override async setItem(key: string, value: string) {
    if (this.failOn?.(key)) throw new Error(`disk full writing ${key}`);
    this.sets++;
    await super.setItem(key, value);
  }
}

describe('DurableQueue', () => {
  it('keeps order across pages, acks, and reopening', async () => {
    const s = new MemoryStorage();
    const q = await DurableQueue.open<Ev, { k: number }>(s, 'q', 4);
    for (let i = 0; i < 10; i++) await q.append([ev(i)], { k: i });
    expect(q.size).toBe(10);
    expect(q.peek(3).map((e) => e.n)).toEqual([0, 1, 2]);
    expect([...s.map.keys()].filter((k) => k.startsWith('q:p:')).sort()).toEqual(['q:p:0', 'q:p:1', 'q:p:2']);
    await q.ack(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect(s.map.has('q:p:0')).toBe(false); // emptied page removed

    const again = await DurableQueue.open<Ev, { k: number }>(s, 'q', 4);
    expect(again.peek(100).map((e) => e.n)).toEqual([5, 6, 7, 8, 9]);
    expect(again.state).toEqual({ k: 9 });
    await again.append([ev(10)]);
    await again.ack(again.peek(100).map((e) => e.event_id));
    expect(again.size).toBe(0);
    const empty = await DurableQueue.open<Ev, unknown>(s, 'q', 4);
    expect(empty.size).toBe(0);
    await empty.append([ev(11)]);
    expect((await DurableQueue.open<Ev, unknown>(s, 'q', 4)).peek(10).map((e) => e.n)).toEqual([11]);
  });

  it('groups the writes of calls made together', async () => {
    const s = new CountingStorage();
    const q = await DurableQueue.open<Ev, unknown>(s, 'q', 1000);
    await Promise.all(Array.from({ length: 100 }, (_, i) => q.append([ev(i)])));
    expect(q.size).toBe(100);
    expect(s.sets).toBeLessThanOrEqual(4); // one page and one meta per write, not 200 writes
  });

  it('recovers events written to a page whose meta write was lost (crash in between)', async () => {
    const s = new CountingStorage();
    const q = await DurableQueue.open<Ev, unknown>(s, 'q', 2);
    await q.append([ev(0), ev(1)]);
    s.failOn = (k) => k === 'q:meta';
    await expect(q.append([ev(2), ev(3), ev(4)])).rejects.toThrow(/disk full/);
    s.failOn = null;
    const after = await DurableQueue.open<Ev, unknown>(s, 'q', 2);
    expect(after.peek(10).map((e) => e.n)).toEqual([0, 1, 2, 3, 4]);
  });

  it('skips a page it cannot parse and says so', async () => {
    const s = new MemoryStorage();
    const q = await DurableQueue.open<Ev, unknown>(s, 'q', 2);
    await q.append([ev(0), ev(1), ev(2), ev(3)]);
    s.map.set('q:p:0', '[{"event_id":');
    const bad: string[] = [];
    const reopened = await DurableQueue.open<Ev, unknown>(s, 'q', 2, (key) => bad.push(key));
    expect(reopened.peek(10).map((e) => e.n)).toEqual([2, 3]);
    expect(bad).toEqual(['q:p:0']);
  });
});

describe('FileStorage', () => {
  it('stores, replaces and removes values atomically in a directory', async () => {
    const dir = tmpDir('txl-fs-');
    const s: StorageAdapter = new FileStorage(dir);
    expect(await s.getItem('a:b/c*')).toBeNull();
    await s.setItem('a:b/c*', 'one');
    await s.setItem('a:b/c*', 'two');
    expect(await s.getItem('a:b/c*')).toBe('two');
    expect(fs.readdirSync(dir)).toHaveLength(1); // no temporary files left behind
    await s.removeItem('a:b/c*');
    await s.removeItem('a:b/c*');
    expect(await s.getItem('a:b/c*')).toBeNull();
  });
});

/** A fetch that answers from a script: a status, a thrown network error, or the real batch semantics. */
function scriptedFetch(script: (string | number)[]) {
  const calls: { ids: string[]; answer: string | number }[] = [];
  const seen = new Set<string>();
  const fn = (async (_url: string, init: { body: string }) => {
    const events = JSON.parse(init.body).events as { event_id: string; event_name: string; payload: Record<string, unknown> }[];
    const answer = script.length ? script.shift()! : 200;
    calls.push({ ids: events.map((e) => e.event_id), answer });
    if (answer === 'network') throw new TypeError('fetch failed');
    if (typeof answer === 'number' && answer !== 200) {
      const headers = answer === 429 ? { 'retry-after': '0' } : undefined;
      return new Response(JSON.stringify({ error: { code: 'x', message: 'scripted' } }), { status: answer, headers });
    }
    let accepted = 0;
    let duplicates = 0;
    const rejected: unknown[] = [];
    events.forEach((e, index) => {
      if (e.payload?.reason_code === 'poison') rejected.push({ index, event_id: e.event_id, errors: [{ code: 'invalid_value', field: 'payload.reason_code', message: 'poison' }] });
      else if (seen.has(e.event_id)) duplicates++;
      else (seen.add(e.event_id), accepted++);
    });
    return new Response(JSON.stringify({ accepted, duplicates, rejected }), { status: 200 });
  }) as unknown as typeof fetch;
  return { fn, calls, seen };
}

async function tracker(script: (string | number)[], extra: Partial<Parameters<typeof TxScannerTracker.open>[0]> = {}) {
  const f = scriptedFetch(script);
  const errors: ScannerError[] = [];
  const t = await TxScannerTracker.open({
    endpoint: 'http://scanner.test',
    writeKey: 'tx_pk_test',
    fetch: f.fn,
    flushIntervalMs: 0,
    retryBaseMs: 1,
    retryMaxMs: 5,
    onError: (e) => errors.push(e),
    ...extra,
  });
  await t.startSession({ eventEntityId: 'E1', gateId: 'G1', venueId: 'V1' });
  return { t, ...f, errors };
}

describe('scanner delivery rules', () => {
  it('keeps events through network errors, 5xx and 429 and sends them once, in order', async () => {
    const { t, calls, seen } = await tracker(['network', 503, 429, 'network']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(...(await t.recordScan({ ticketId: `T${i}`, result: 'valid' })));
    await until(async () => t.pending === 0, 15_000);
    expect(calls.slice(0, 4).map((c) => c.answer)).toEqual(['network', 503, 429, 'network']);
    expect([...seen].filter((id) => ids.includes(id))).toEqual(ids);
    expect(t.online).toBe(true);
    await t.close();
  });

  it('sends entry_granted / entry_denied at once, batches the rest', async () => {
    const { t, calls } = await tracker([], { batchSize: 10 });
    await t.trackScanAttempt('T1');
    await t.trackScanResult('T1', { result: 'valid' });
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toHaveLength(0); // nothing critical yet, batch not full
    expect(t.pending).toBe(3);
    await t.trackEntryGranted('T1');
    await until(async () => t.pending === 0, 10_000);
    expect(calls.map((c) => c.ids.length)).toEqual([4]); // session start, attempt, result, granted
    for (let i = 0; i < 12; i++) await t.trackScanAttempt(`B${i}`);
    await until(async () => t.pending < 10, 10_000);
    expect(calls[1].ids).toHaveLength(10); // a full batch goes by itself
    await t.close();
  });

  it('counts an event the server rejected as acknowledged: reported, not retried', async () => {
    const { t, calls, errors } = await tracker([]);
    // reason_code 'poison' makes the scripted server reject the scan result and the denial.
    const [, result, denied] = await t.recordScan({ ticketId: 'T1', result: 'invalid', reasonCode: 'poison' });
    await until(async () => t.pending === 0, 10_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.filter((c) => c.ids.includes(result))).toHaveLength(1);
    expect(errors.filter((e) => e.kind === 'rejected').map((e) => e.event?.event_id)).toEqual([result, denied]);
    await t.close();
  });

  it('isolates an event the server cannot take (400/413) by halving the batch, then drops only that one', async () => {
    const { t, errors } = await tracker([]);
    await t.flush(); // the session start goes first
    const f = scriptedFetch([400, 400, 200, 400, 200, 200, 200]);
    (t as unknown as { fetch: typeof fetch }).fetch = f.fn;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await t.trackScanAttempt(`T${i}`));
    await t.flush();
    await until(async () => t.pending === 0, 10_000);
    // 4 → 400; 2 → 400; 1 → ok; 1 → 400: dropped; the other suspects one by one; then full batches again.
    expect(f.calls.map((c) => c.ids.length)).toEqual([4, 2, 1, 1, 1, 1]);
    expect(errors.filter((e) => e.kind === 'dropped').map((e) => e.event?.event_id)).toEqual([ids[1]]);
    expect([...f.seen].sort()).toEqual([ids[0], ids[2], ids[3]].sort());
    for (let i = 0; i < 3; i++) await t.trackScanAttempt(`U${i}`);
    await t.flush();
    expect(f.calls[f.calls.length - 1].ids).toHaveLength(3);
    await t.close();
  });

  it('resumes the session and its sequence after a restart, from the same storage', async () => {
    const storage = new MemoryStorage();
    const a = await tracker(['network', 'network', 'network', 'network', 'network', 'network'], { storage, retryBaseMs: 10_000, retryMaxMs: 10_000 });
    await a.t.recordScan({ ticketId: 'T1', result: 'valid' });
    const sid = a.t.session!.id;
    await a.t.close();
    const f = scriptedFetch([]);
    const b = await TxScannerTracker.open({ endpoint: 'http://scanner.test', writeKey: 'k', fetch: f.fn, storage, flushIntervalMs: 0 });
    expect(b.session?.id).toBe(sid);
    expect(b.session?.totals).toMatchObject({ scans: 1, granted: 1 });
    await b.trackCapacitySnapshot();
    await b.endSession();
    await until(async () => b.pending === 0, 10_000);
    expect(f.seen.size).toBe(6); // start, 3 scan events, snapshot, end: each once
    await b.close();
  });

  it('refuses scan events without a session', async () => {
    const t = await TxScannerTracker.open({ endpoint: 'http://x', writeKey: 'k', fetch: scriptedFetch([]).fn, flushIntervalMs: 0 });
    expect(() => t.trackScanAttempt('T1')).toThrow(/startSession/);
    expect(await t.endSession()).toBeNull();
    await t.close();
  });
});
