// One delivery attempt of the scanner tracker: a batch POSTed to /api/tx/events/batch, its whole answer
// read under one timeout. Apart from the tracker (tracker.ts), which decides from the answer what to do (ack,
// retry with backoff, split the batch, drop an event), so the network step reads on its own.
import type { BatchResult, Envelope } from '../shared/types.js';

/** What came back: the response (null when none, or a 200 whose body did not arrive), its status and body. */
export interface BatchAnswer {
  res: Response | null;
  /** 0 without a response. */
  status: number;
  /** The parsed body of a 200. */
  result: BatchResult | null;
  text: string;
  netError: unknown;
}

export interface PostOptions {
  send: (url: string, init: NonNullable<Parameters<typeof fetch>[1]>) => Promise<Response>;
  url: string;
  writeKey: string;
  timeoutMs: number;
}

/** POSTs `batch` (each event stamped sent_at `now`); never throws, a failure is in the answer. */
export async function postBatch(o: PostOptions, batch: Envelope[], now: number): Promise<BatchAnswer> {
  const sentAt = new Date(now).toISOString();
  const body = JSON.stringify({ events: batch.map((e) => ({ ...e, sent_at: sentAt })) });
  let res: Response | null = null;
  let netError: unknown = null;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), o.timeoutMs);
  try {
    res = await o.send(o.url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-tx-key': o.writeKey }, signal: ctl.signal });
  } catch (err) {
    netError = err;
  }
  const status = res?.status ?? 0;
  let result: BatchResult | null = null;
  let text = '';
  try {
    // Read the whole body under the same timeout: a 200 only counts once its answer arrived.
    text = res ? await res.text() : '';
    if (status === 200) result = JSON.parse(text) as BatchResult;
  } catch (err) {
    if (status === 200) {
      res = null;
      netError = err;
    }
  } finally {
    clearTimeout(timer);
  }
  return { res, status, result, text, netError };
}
