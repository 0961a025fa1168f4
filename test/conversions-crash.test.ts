// kill -9 during dispatch (issue 15 part 2): the server is a child process; Meta's stand-in holds the first
// request open, the server is killed, and the held request is then accepted (the worst case: the provider took
// the batch, the server never marked it). After a restart every conversion reaches the stand-in and each
// event_id (a purchase's: its order id) is accepted there once: the unmarked batch is sent again when its lease
// ends, and the provider deduplicates it by event_id, as Meta does, so no purchase is counted twice.
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { createTenant, getJson, postEvents, startChild, tmpDir, until } from './helpers.js';
import { addCode, auth, dispatchNow, metaCode, providerEnv, purchase } from './conversions-helpers.js';
import { startMockPlatforms, type MockPlatforms } from './mock-platforms/index.js';

describe('conversions across kill -9', () => {
  const children: ChildProcess[] = [];
  let mock: MockPlatforms | undefined;
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await mock?.close();
  });

  it('delivers every conversion after a crash mid-dispatch, each event_id accepted once', { timeout: 900_000 }, async () => {
    mock = await startMockPlatforms();
    const dataDir = tmpDir();
    const env = providerEnv(mock);
    const first = await startChild(dataDir, env);
    children.push(first.child);
    const t = await createTenant(first.base, 'conv-crash');
    await addCode(first.base, t, metaCode('777777777777777', 'O1'));
    await addCode(first.base, t, metaCode('888888888888888', null));
    const orders = Array.from({ length: 30 }, () => purchase());
    mock.hold('meta');
    const held = mock.held('meta');
    expect((await postEvents(first.base, t, orders)).accepted).toBe(30);
    void dispatchNow(first.base).catch(() => undefined);
    await held;
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;
    mock.release();

    const second = await startChild(dataDir, env);
    children.push(second.child);
    // The claimed batch's lease (60 s) must end before it is sent again; the scheduled job runs every 5 s.
    await until(async () => {
      const r = await getJson(`${second.base}/api/v1/conversions?limit=1000`, auth(t));
      return r.status === 200 && r.json.counts.length === 2 && r.json.counts.every((c: any) => c.sent === 30 && c.pending === 0);
    }, 300_000, 1000);
    expect(mock.problems).toEqual([]);
    // Meta's event_id for a purchase is its order id: each order accepted by both pixels, once each.
    for (const o of orders) expect(mock.accepted.get(o.entities.order_id), o.entities.order_id).toBe(2);
    for (const pixel of ['777777777777777', '888888888888888']) {
      const ids = mock.received.filter((r) => r.destination === pixel && r.status === 200).flatMap((r) => r.ids);
      expect(new Set(ids)).toEqual(new Set(orders.map((o) => o.entities.order_id)));
    }
    // The held batch was redelivered (at least once delivery), the duplicates absorbed by the provider's dedup.
    const delivered = mock.received.filter((r) => r.provider === 'meta' && r.status === 200).flatMap((r) => r.ids).length;
    expect(delivered).toBeGreaterThan(60);
    await dispatchNow(second.base);
  });
});
