// Unit tests of the scanner tracker without a server: the durable paged queue (order, reopen, crash
// recovery, grouped writes), FileStorage, and the delivery rules driven by a scripted fetch.
import { spawnSync } from 'node:child_process';
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
  /** Set by a failure when `crash`: the process died there, nothing is written after it. */
  crash = false;
  dead = false;
  override async setItem(key: string, value: string) {
    if (this.dead) throw new Error('process is dead');
    if (this.failOn?.(key)) {
      if (this.crash) this.dead = true;
      throw new Error(`disk full writing ${key}`);
    }
    this.sets++;
    await super.setItem(key, value);
  }
  override async removeItem(key: string) {
    if (this.dead) throw new Error('process is dead');
    await super.removeItem(key);
  }
}

/** What a later process finds in a storage: its keys and values, without the listing capability. */
function unlisted(s: MemoryStorage): StorageAdapter {
  return { getItem: (k) => s.getItem(k), setItem: (k, v) => s.setItem(k, v), removeItem: (k) => s.removeItem(k) };
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
    s.crash = true; // the process dies right there: nothing after the page writes reaches the storage
    await expect(q.append([ev(2), ev(3), ev(4)])).rejects.toThrow(/disk full/);
    s.failOn = null;
    s.dead = false;
    const after = await DurableQueue.open<Ev, unknown>(s, 'q', 2);
    expect(after.peek(10).map((e) => e.n)).toEqual([0, 1, 2, 3, 4]);
    const unlistedToo = await DurableQueue.open<Ev, unknown>(unlisted(s), 'q', 2);
    expect(unlistedToo.peek(10).map((e) => e.n)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a failed write is undone: its events are neither peeked nor kept, nor recovered by the next process', async () => {
    const s = new CountingStorage();
    const q = await DurableQueue.open<Ev, { k: number }>(s, 'q', 2);
    await q.append([ev(0)], { k: 0 });
    s.failOn = (k) => k === 'q:meta'; // the pages are written, the meta is not (disk full), the process lives on
    const failed = q.append([ev(1), ev(2), ev(3)], { k: 3 });
    const alsoFailed = q.append([ev(4)], { k: 4 }); // built on the failed one: fails with it
    await expect(failed).rejects.toThrow(/disk full/);
    await expect(alsoFailed).rejects.toThrow(/disk full/);
    expect(q.size).toBe(1);
    expect(q.peek(10).map((e) => e.n)).toEqual([0]);
    expect(q.state).toEqual({ k: 0 });
    s.failOn = null;
    await q.append([ev(5)], { k: 5 });
    expect(q.peek(10).map((e) => e.n)).toEqual([0, 5]);
    const again = await DurableQueue.open<Ev, { k: number }>(s, 'q', 2);
    expect(again.peek(10).map((e) => e.n)).toEqual([0, 5]);
    expect(again.state).toEqual({ k: 5 });
  });

  it('does not hand out the events of a write in progress (it may still fail)', async () => {
    const s = new CountingStorage();
    const q = await DurableQueue.open<Ev, unknown>(s, 'q', 10);
    await q.append([ev(0)]);
    s.failOn = (k) => k === 'q:meta';
    const failed = q.append([ev(1)]);
    await Promise.resolve();
    await Promise.resolve();
    expect(q.peek(10).map((e) => e.n)).toEqual([0]);
    await expect(failed).rejects.toThrow(/disk full/);
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

  /** 9 events on pages 0..4 (2 a page), the first two acknowledged (page 0 removed), state {k: 8}. */
  async function backlog() {
    const s = new MemoryStorage();
    const q = await DurableQueue.open<Ev, { k: number }>(s, 'q', 2);
    for (let i = 0; i < 9; i++) await q.append([ev(i)], { k: i });
    await q.ack(['e0', 'e1']);
    expect([...s.map.keys()].filter((k) => k.startsWith('q:p:')).sort()).toEqual(['q:p:1', 'q:p:2', 'q:p:3', 'q:p:4']);
    return s;
  }
  const reopen = async (s: StorageAdapter) => {
    const problems: string[] = [];
    const q = await DurableQueue.open<Ev, { k: number }>(s, 'q', 2, (key, err) => problems.push(`${key}: ${(err as Error).message}`));
    return { q, problems, n: q.peek(100).map((e) => e.n) };
  };

  it('recovers every page when the meta is unreadable, empty or missing, and says so', async () => {
    for (const damage of ['{"head":', '', null, '{"v":1}']) {
      const s = await backlog();
      if (damage === null) s.map.delete('q:meta');
      else s.map.set('q:meta', damage);
      const { q, problems, n } = await reopen(s);
      expect(n).toEqual([2, 3, 4, 5, 6, 7, 8]);
      expect(q.state).toBeNull(); // lost with the meta: said so
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^q:meta: .*7 events recovered from 4 pages.*state .* is lost/);
      // New pages go after the recovered ones, never over them.
      await q.append([ev(9)]);
      expect((await reopen(s)).n).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    }
    // A first start (no meta, no pages) is not a problem.
    expect((await reopen(new MemoryStorage())).problems).toEqual([]);
  });

  it('reports a page missing between others, and a page that is not a list, instead of skipping them silently', async () => {
    for (const listing of [true, false]) {
      const s = await backlog();
      s.map.delete('q:p:2');
      s.map.set('q:p:3', '{}');
      const { n, problems } = await reopen(listing ? s : unlisted(s));
      expect(n).toEqual([2, 3, 8]);
      expect(problems).toEqual(['q:p:2: page 2 missing: events lost', 'q:p:3: skipped, its events are lost: not a list of events']);
    }
    // The last page missing too.
    const s = await backlog();
    s.map.delete('q:p:4');
    expect((await reopen(s)).problems).toEqual(['q:p:4: page 4 missing: events lost']);
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
    expect(fs.readdirSync(dir).sort()).toEqual(['a%3Ab%2Fc%2A.json', 'tx-storage.lock']); // no temporary files left behind
    expect(await s.getAllKeys!()).toEqual(['a:b/c*']);
    await s.removeItem('a:b/c*');
    await s.removeItem('a:b/c*');
    expect(await s.getItem('a:b/c*')).toBeNull();
    await s.close!();
  });

  it('one FileStorage per directory: a second one fails clearly (this process or another) until the first closes', async () => {
    const dir = tmpDir('txl-fs-');
    const a = new FileStorage(dir);
    await a.setItem('k', 'a');
    const b = new FileStorage(dir);
    await expect(b.getItem('k')).rejects.toThrow(/in use by another FileStorage of this process.*one tracker per directory/);
    // Two trackers, even with the default storage key, cannot share it.
    const open = (storage: StorageAdapter) => TxScannerTracker.open({ endpoint: 'http://x', writeKey: 'k', storage, fetch: scriptedFetch([]).fn, flushIntervalMs: 0 });
    const first = await open(a);
    await expect(open(b)).rejects.toThrow(/in use/);
    await expect(open(a)).rejects.toThrow(/already open on storage key "tx_scanner"/);
    await first.close(); // releases the lock
    expect(fs.existsSync(`${dir}/tx-storage.lock`)).toBe(false);
    expect(await b.getItem('k')).toBe('a');
    const second = await open(b);
    await second.close();
    // Another process holding it (this test's parent process is alive).
    fs.writeFileSync(`${dir}/tx-storage.lock`, String(process.ppid));
    await expect(new FileStorage(dir).getItem('k')).rejects.toThrow(new RegExp(`in use by process ${process.ppid}`));
  });

  it('takes over a lock whose process is gone, and removes the temporary files a killed writer left', async () => {
    const dir = tmpDir('txl-fs-');
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!; // a pid that no longer runs
    fs.writeFileSync(`${dir}/tx-storage.lock`, String(dead));
    fs.writeFileSync(`${dir}/tx_scanner%3Ap%3A3.json`, '[]');
    fs.writeFileSync(`${dir}/tx_scanner%3Ap%3A3.json.${dead}.7.tmp`, '[{"event_id":');
    fs.writeFileSync(`${dir}/tx_scanner%3Ameta.json.${dead}.8.tmp`, '');
    fs.writeFileSync(`${dir}/notes.tmp`, 'not ours');
    const s = new FileStorage(dir);
    expect(await s.getItem('tx_scanner:p:3')).toBe('[]');
    expect(fs.readFileSync(`${dir}/tx-storage.lock`, 'utf8')).toBe(String(process.pid));
    expect(fs.readdirSync(dir).sort()).toEqual(['notes.tmp', 'tx-storage.lock', 'tx_scanner%3Ap%3A3.json']);
    await s.close();
    // Our own pid in a lock this process does not hold: left by an earlier process that had the same pid.
    fs.writeFileSync(`${dir}/tx-storage.lock`, String(process.pid));
    const again = new FileStorage(dir);
    expect(await again.getItem('tx_scanner:p:3')).toBe('[]');
    await again.close();
  });
});

type Sent = { event_id: string; event_name: string; sequence_no: number; payload: Record<string, unknown> };
/** A scripted answer given as is (status and raw body): a proxy, a captive portal, another service. */
type RawAnswer = { status: number; body: string | null; headers?: Record<string, string> };

/** A fetch that answers from a script: a status, a thrown network error, a raw answer, or the real batch semantics. */
function scriptedFetch(script: (string | number | RawAnswer)[]) {
  const calls: { ids: string[]; events: Sent[]; answer: string | number | RawAnswer }[] = [];
  const seen = new Set<string>();
  const fn = (async (_url: string, init: { body: string }) => {
    const events = JSON.parse(init.body).events as Sent[];
    const answer = script.length ? script.shift()! : 200;
    calls.push({ ids: events.map((e) => e.event_id), events, answer });
    if (answer === 'network') throw new TypeError('fetch failed');
    if (typeof answer === 'object') return new Response(answer.body, { status: answer.status, headers: answer.headers });
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

async function tracker(script: (string | number | RawAnswer)[], extra: Partial<Parameters<typeof TxScannerTracker.open>[0]> = {}) {
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

describe('scanner record times', () => {
  it('dates each record after the previous one, so a grant recorded just after a snapshot is never taken as inside it', async () => {
    let wall = Date.parse('2026-12-01T10:00:00.000Z');
    const { t, calls } = await tracker([], { now: () => wall, batchSize: 100 });
    await t.trackCapacitySnapshot();
    await t.trackEntryGranted('T1', { ticketTypeId: 'GA' });
    wall -= 200; // the clock steps back a little (NTP slew)
    await t.trackEntryGranted('T2', {});
    wall -= 3_600_000; // a large correction is followed
    await t.trackEntryGranted('T3', {});
    await until(async () => t.pending === 0, 15_000);
    const sent = calls.flatMap((c) => c.events ?? []).filter((e: any) => e.event_name !== 'scanner_session_started');
    const at = sent.map((e: any) => Date.parse(e.occurred_at));
    expect(sent.map((e: any) => e.event_name)).toEqual(['capacity_snapshot', 'entry_granted', 'entry_granted', 'entry_granted']);
    expect(at[1]).toBeGreaterThan(at[0]);
    expect(at[2]).toBeGreaterThan(at[1]);
    expect(at[3]).toBe(Date.parse('2026-12-01T10:00:00.000Z') - 200 - 3_600_000);
    await t.close();
  });
});

describe('scanner sent_at', () => {
  it('stamps each event with its record time plus the monotonic time since, so a clock fixed while offline does not move earlier scans', async () => {
    // The device's wall clock runs 10 minutes fast while it is offline; NTP then fixes it, and the queue goes out.
    const truth = Date.parse('2026-12-01T20:00:00.000Z');
    let mono = 1_000;
    let wall = truth + 600_000;
    const { t, calls } = await tracker(['network', 'network'], { now: () => wall, monotonic: () => mono, retryBaseMs: 1, retryMaxMs: 2 });
    await t.trackEntryGranted('T1', {});
    mono += 5_000;
    wall += 5_000;
    await t.trackEntryGranted('T2', {});
    mono += 60_000; // a minute later the clock is right again, and the network is back
    wall = truth + 65_000;
    await t.flush();
    await until(async () => t.pending === 0, 15_000);
    const last = (calls.at(-1)!.events! as any[]).filter((e) => e.event_name === 'entry_granted');
    expect(last).toHaveLength(2);
    for (const e of last) {
      // What the server does (received − sent_at, received ≈ the right time now): each scan lands when it happened.
      const corrected = Date.parse(e.occurred_at) + (wall - Date.parse(e.sent_at));
      expect(corrected - truth).toBe(e.ticket_id === 'T1' || e.entities?.ticket_id === 'T1' ? 0 : 5_000);
      expect(Object.keys(e).some((k) => k.startsWith('_'))).toBe(false);
    }
    await t.close();
  });
});

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

  it('refuses scan events without a session: every track* method returns a rejected promise, none throws', async () => {
    const t = await TxScannerTracker.open({ endpoint: 'http://x', writeKey: 'k', fetch: scriptedFetch([]).fn, flushIntervalMs: 0 });
    const calls: (() => Promise<unknown>)[] = [
      () => t.trackScanAttempt('T1'),
      () => t.trackScanResult('T1', { result: 'valid' }),
      () => t.trackEntryGranted('T1'),
      () => t.trackEntryDenied('T1'),
      () => t.trackCapacitySnapshot(),
      () => t.recordScan({ ticketId: 'T1', result: 'valid' }),
    ];
    for (const call of calls) {
      let p: Promise<unknown> | undefined;
      expect(() => (p = call())).not.toThrow();
      await expect(p).rejects.toThrow(/startSession/);
    }
    expect(await t.endSession()).toBeNull();
    expect(t.pending).toBe(0);
    await t.close();
  });

  const tixelloError = (status: number, code: string): RawAnswer => ({ status, body: JSON.stringify({ error: { code, message: 'x' } }) });
  const html = (status: number): RawAnswer => ({ status, body: `<html><body><h1>${status}</h1>nginx</body></html>` });

  it('drops nothing on a 4xx that is not the server refusing the content: 404, 405, 415, a proxy 400/413; retried and reported', async () => {
    for (const answer of [tixelloError(404, 'not_found'), html(404), tixelloError(405, 'method_not_allowed'), html(400), html(413), { status: 413, body: '' }, tixelloError(415, 'unsupported_media_type'), tixelloError(422, 'x')]) {
      const { t, calls, seen, errors } = await tracker([answer, answer, answer, answer]);
      const ids = await t.recordScan({ ticketId: 'T1', result: 'valid' });
      await until(async () => t.pending === 0, 10_000);
      expect(errors.filter((e) => e.kind === 'dropped' || e.kind === 'rejected')).toEqual([]);
      expect(errors.filter((e) => e.kind === 'http').map((e) => e.status)).toEqual([answer.status, answer.status, answer.status, answer.status]);
      expect(calls.slice(0, 5).map((c) => c.ids.length)).toEqual([4, 4, 4, 4, 4]); // not halved either
      for (const id of ids) expect(seen.has(id)).toBe(true);
      await t.close();
    }
  });

  it('acknowledges only the per-event answer to the batch: another 2xx, or a 200 with another body, keeps it and is reported', async () => {
    const answers: RawAnswer[] = [
      { status: 204, body: null },
      { status: 202, body: '' },
      { status: 201, body: JSON.stringify({ accepted: 4, duplicates: 0, rejected: [] }) },
      { status: 200, body: '{}' },
      { status: 200, body: JSON.stringify({ ok: true }) },
      { status: 200, body: JSON.stringify({ accepted: 1, duplicates: 0, rejected: [] }) }, // not this batch's answer
      { status: 200, body: JSON.stringify({ accepted: 3, duplicates: 0, rejected: [{ index: 7, event_id: 'x', errors: [] }] }) },
    ];
    for (const answer of answers) {
      const { t, seen, errors } = await tracker([answer]);
      const ids = await t.recordScan({ ticketId: 'T1', result: 'valid' });
      await until(async () => t.pending === 0, 10_000);
      const http = errors.filter((e) => e.kind === 'http');
      expect(http.map((e) => e.status)).toEqual([answer.status]);
      expect(http[0].message).toMatch(/events kept/);
      expect(errors.filter((e) => e.kind !== 'http')).toEqual([]);
      for (const id of ids) expect(seen.has(id)).toBe(true); // sent again and stored
      await t.close();
    }
  });

  it('retries on the monotonic clock: a backward wall-clock jump after a failed send does not stop delivery', async () => {
    let wall = Date.parse('2026-06-01T18:00:00Z');
    const { t, calls, seen } = await tracker(['network'], { now: () => wall, retryBaseMs: 50, retryMaxMs: 100 });
    await t.flush();
    const ids = await t.recordScan({ ticketId: 'T1', result: 'valid' }); // the send fails: a retry is due in ≤ 100 ms
    await until(async () => calls.length >= 1);
    wall -= 6 * 3600_000; // NTP corrects a clock that was 6 h ahead
    await until(async () => t.pending === 0, 15_000, 20); // in-memory delivery; a loaded machine may take seconds
    for (const id of ids) expect(seen.has(id)).toBe(true);
    // entry_granted / entry_denied still go out at once.
    wall -= 40 * 86_400_000; // and more than setTimeout's 24.8 days
    const sent = calls.length;
    await t.trackEntryGranted('T2');
    await until(async () => calls.length > sent && t.pending === 0, 10_000, 10);
    await t.close();
  });

  it('capacity snapshot: the session own counts carry scanner_session_id, counts given by the caller are the gate-wide ones, without it', async () => {
    const { t, calls } = await tracker([]);
    await t.recordScan({ ticketId: 'T1', result: 'valid' });
    await t.recordScan({ ticketId: 'T2', result: 'valid', scanType: 'exit' });
    await t.recordScan({ ticketId: 'T3', result: 'already_used' });
    const own = await t.trackCapacitySnapshot();
    const gate = await t.trackCapacitySnapshot({ currentInside: 120, totalEntries: 150 });
    const onlyDenied = await t.trackCapacitySnapshot({ totalDenied: 9 });
    await t.flush();
    await until(async () => t.pending === 0);
    const sent = new Map(calls.flatMap((c) => c.events).map((e) => [e.event_id, e.payload]));
    expect(sent.get(own)).toMatchObject({ scanner_session_id: t.session!.id, gate_id: 'G1', current_inside: 0, total_entries: 1, total_exits: 1, total_denied: 1 });
    expect(sent.get(gate)).toMatchObject({ gate_id: 'G1', current_inside: 120, total_entries: 150 });
    expect(sent.get(gate)).not.toHaveProperty('scanner_session_id');
    // The gate's counts not given are left out, not filled with this device's (1 exit, 1 denial).
    expect(sent.get(gate)).not.toHaveProperty('total_exits');
    expect(sent.get(gate)).not.toHaveProperty('total_denied');
    expect(sent.get(onlyDenied)).toMatchObject({ total_denied: 9 });
    expect(sent.get(onlyDenied)).not.toHaveProperty('total_entries');
    expect(sent.get(onlyDenied)).not.toHaveProperty('scanner_session_id');
    await t.close();
  });

  it('records atomically: when the storage fails (disk full), the scan is not kept, not sent and not counted', async () => {
    for (const failing of [(k: string) => k.includes(':p:'), (k: string) => k.endsWith(':meta')]) {
      const storage = new CountingStorage();
      const { t, seen, errors } = await tracker([], { storage });
      await t.recordScan({ ticketId: 'T1', result: 'valid' });
      await until(async () => t.pending === 0);
      const totals = { ...t.session!.totals };
      storage.failOn = failing;
      await expect(t.recordScan({ ticketId: 'T2', result: 'valid' })).rejects.toThrow(/disk full/);
      await expect(t.trackCapacitySnapshot()).rejects.toThrow(/disk full/);
      expect(errors.filter((e) => e.kind === 'storage')).toHaveLength(2);
      expect(t.pending).toBe(0);
      expect(t.session!.totals).toEqual(totals);
      storage.failOn = null;
      const ok = await t.recordScan({ ticketId: 'T3', result: 'valid' });
      await until(async () => t.pending === 0);
      expect(t.session!.totals).toMatchObject({ scans: 2, granted: 2 });
      await t.close();
      // Stored and sent: the session start and the two scans that were recorded, numbered without a gap.
      expect(seen.size).toBe(7);
      for (const id of ok) expect(seen.has(id)).toBe(true);
      const again = await TxScannerTracker.open({ endpoint: 'http://x', writeKey: 'k', storage, fetch: scriptedFetch([]).fn, flushIntervalMs: 0 });
      expect(again.pending).toBe(0);
      expect(again.session!.totals).toMatchObject({ scans: 2, granted: 2 });
      await again.close();
    }
  });

  it('after a crash between the page write and the meta write, the session totals, sequence and end are as recorded', async () => {
    const storage = new CountingStorage();
    const crashOnMeta = () => {
      storage.failOn = (k) => k.endsWith(':meta');
      storage.crash = true;
    };
    const revive = () => {
      storage.failOn = null;
      storage.dead = false;
    };
    const offline = ['network', 'network', 'network', 'network', 'network', 'network', 'network', 'network'];
    const a = await tracker(offline, { storage, retryBaseMs: 60_000, retryMaxMs: 60_000 });
    await a.t.recordScan({ ticketId: 'T1', result: 'valid' });
    crashOnMeta();
    await expect(a.t.recordScan({ ticketId: 'T2', result: 'valid' })).rejects.toThrow(/disk full/); // kill -9 after the page write
    await a.t.close();
    revive();

    const f = scriptedFetch(offline.slice());
    const open = () => TxScannerTracker.open({ endpoint: 'http://x', writeKey: 'k', storage, fetch: f.fn, flushIntervalMs: 0, retryBaseMs: 60_000, retryMaxMs: 60_000 });
    const b = await open();
    expect(b.pending).toBe(7);
    expect(b.session!.totals).toMatchObject({ scans: 2, granted: 2 });
    const snap = await b.trackCapacitySnapshot();
    crashOnMeta();
    await expect(b.endSession()).rejects.toThrow(/disk full/); // kill -9 inside endSession
    await b.close();
    revive();

    const c = await open();
    expect(c.session).toBeNull(); // its scanner_session_ended is queued: not resumed, not ended twice
    expect(c.pending).toBe(9);
    await c.close();
    const queued = (await DurableQueue.open<Sent & { event_id: string }, unknown>(storage, 'tx_scanner')).peek(100);
    expect(queued.map((e) => e.sequence_no)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(queued.find((e) => e.event_id === snap)!.payload).toMatchObject({ current_inside: 2, total_entries: 2 });
    expect(queued.filter((e) => e.event_name === 'scanner_session_ended')).toHaveLength(1);
    expect(queued[8].payload.totals).toMatchObject({ scans: 2, granted: 2 });
  });
});
