// One delivery attempt of the scanner tracker: a batch POSTed to /api/tx/events/batch, its whole answer
// read under one timeout. Apart from the tracker (tracker.ts), which decides from the answer what to do (ack,
// retry with backoff, split the batch, drop an event), so the network step reads on its own.
import type { BatchResult, Envelope } from '../shared/types.js';

/** What came back: the response (null when none, or a 200 whose body did not arrive), its status and body. */
export interface BatchAnswer {
  res: Response | null;
  /** 0 without a response. */
  status: number;
  /** The body of a 200 when it is the server's answer to this batch (see batchResult), else null. */
  result: BatchResult | null;
  /** `error.code` when the body is a Tixello error (`{"error":{"code":…}}`), else null. */
  errorCode: string | null;
  text: string;
  netError: unknown;
}

/**
 * The per-event answer to a batch of `n` events, or null when `body` is not one: {accepted, duplicates,
 * rejected[]} with accepted + duplicates + rejected.length = n and each rejection's index within the batch
 * (README "Ingest API": "the answer is always per event"). Anything else (a proxy's `{}`, another service) is
 * not an acknowledgement.
 */
export function batchResult(body: unknown, n: number): BatchResult | null {
  if (!body || typeof body !== 'object') return null;
  const r = body as BatchResult;
  const count = (x: unknown) => Number.isInteger(x) && (x as number) >= 0;
  if (!count(r.accepted) || !count(r.duplicates) || !Array.isArray(r.rejected)) return null;
  if (r.accepted + r.duplicates + r.rejected.length !== n) return null;
  const seen = new Set<number>();
  for (const x of r.rejected) {
    if (!x || typeof x !== 'object' || !Number.isInteger(x.index) || x.index < 0 || x.index >= n || seen.has(x.index) || !Array.isArray(x.errors)) return null;
    seen.add(x.index);
  }
  return r;
}

/** `error.code` of a Tixello error body (`{"error":{"code":"…","message":…}}`), else null. */
export function tixelloErrorCode(text: string): string | null {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } } | null)?.error?.code;
    return typeof code === 'string' && code ? code : null;
  } catch {
    return null;
  }
}

/**
 * What the tracker does with a batch after an answer (the scanner's own reading; the browser SDK's shared
 * `verdict` is laxer):
 * - `ack`:   a 200 with the per-event answer to this batch (accepted, duplicate or rejected alike);
 * - `split`: 400/413 with a Tixello error body: the server refused the content; halve the batch until the one
 *            event it cannot take is alone, then drop that one;
 * - `auth`:  401/403: keep the events, retry slowly;
 * - `retry`: anything else keeps the events and retries with backoff: no answer, 408/429/5xx, another 2xx, a
 *            200 that is not this batch's answer, any other 4xx, and a 400/413 not from Tixello (a proxy, a
 *            maintenance page, a wrong endpoint): only the server's word about the content may drop events.
 */
export type ScannerVerdict = 'ack' | 'split' | 'auth' | 'retry';

export function scannerVerdict(a: BatchAnswer): ScannerVerdict {
  if (!a.res) return 'retry';
  if (a.status === 200) return a.result ? 'ack' : 'retry';
  if (a.status === 401 || a.status === 403) return 'auth';
  if ((a.status === 400 || a.status === 413) && a.errorCode) return 'split';
  return 'retry';
}

export interface PostOptions {
  send: (url: string, init: NonNullable<Parameters<typeof fetch>[1]>) => Promise<Response>;
  url: string;
  writeKey: string;
  timeoutMs: number;
}

/**
 * POSTs `batch`, each event stamped sent_at: `sentAtOf(e)` (ms) when it gives one, else `now`; fields starting
 * with `_` (kept with the queued event for the tracker only) are not sent. Never throws, a failure is in the answer.
 */
export async function postBatch(o: PostOptions, batch: Envelope[], now: number, sentAtOf: (e: Envelope) => number | null = () => null): Promise<BatchAnswer> {
  const body = JSON.stringify({
    events: batch.map((e) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(e)) if (!k.startsWith('_')) out[k] = v;
      out.sent_at = new Date(sentAtOf(e) ?? now).toISOString();
      return out;
    }),
  });
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
    if (status === 200) result = batchResult(JSON.parse(text), batch.length);
  } catch (err) {
    if (status === 200) {
      res = null;
      netError = err;
    }
  } finally {
    clearTimeout(timer);
  }
  return { res, status, result, errorCode: res && status !== 200 ? tixelloErrorCode(text) : null, text, netError };
}
