// Audience sync to the ad platforms: removals first (who left, who was erased), then additions, each in
// batches of the platform's limit, one request per batch and identifier kind. A retryable answer (429, 5xx,
// Graph throttling, network) is retried in place with the conversions' jittered exponential backoff, up to
// MAX_ATTEMPTS; what the platform acknowledged is recorded at once (remarketing_synced), so a sync that
// stops half-way resumes with the remaining deltas. Outcomes are values.
import { backoffMs } from '../conversions/backoff.js';
import { BATCH, buildRequest, classify, destinationProblem, KINDS, type Destination, type Kind, type PlatformUrls } from './platforms.js';
import type { AudienceRow, RemarketingStore } from './store.js';

export const MAX_ATTEMPTS = 5;

export interface SyncDeps {
  store: RemarketingStore;
  urls: PlatformUrls;
  /** The platform token of the audience's organizer (else the marketplace's), from its tracking code. */
  token(a: AudienceRow): Promise<string | null>;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Backoff base and cap (ms): 10 s … 5 min by default, as for conversions. */
  backoff?: { base: number; cap: number };
  now?: () => Date;
  /** Rewrites tables on disk (Db.purge, embedded store): erased persons' digests must leave the files once deleted. */
  purge?: (tables: string[]) => Promise<void>;
}

export type SyncOutcome = { ok: true; added: number; removed: number; requests: number } | { ok: false; error: string; added: number; removed: number; requests: number };

export function createSync(deps: SyncDeps) {
  const http = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.now ?? (() => new Date());
  const b = deps.backoff ?? { base: 10_000, cap: 300_000 };

  async function send(a: AudienceRow, op: 'add' | 'remove', kind: Kind, digests: string[], d: Destination, count: { requests: number }): Promise<string | null> {
    for (let attempt = 1; ; attempt++) {
      const req = buildRequest(a.platform, op, kind, digests, d, deps.urls);
      count.requests++;
      let answer;
      try {
        const res = await http(req.url, { method: req.method, headers: req.headers, body: JSON.stringify(req.body), signal: AbortSignal.timeout(30_000) });
        const text = await res.text();
        let body: unknown = null;
        try {
          body = JSON.parse(text);
        } catch {
          body = text.slice(0, 200);
        }
        answer = classify(a.platform, res.status, body, res.headers.get('retry-after'));
      } catch (err) {
        answer = { kind: 'retry' as const, reason: `network: ${(err as Error).message}` };
      }
      if (answer.kind === 'ok') return null;
      if (answer.kind === 'fail' || attempt >= MAX_ATTEMPTS) return answer.reason;
      await sleep(Math.max(backoffMs(attempt, Math.random, b.base, b.cap), Math.min(answer.retryAfterMs ?? 0, b.cap)));
    }
  }

  return {
    async sync(a: AudienceRow): Promise<SyncOutcome> {
      const count = { requests: 0 };
      let added = 0;
      let removed = 0;
      const t = Number(a.tenant_id);
      const problem = destinationProblem(a.platform, { externalAudienceId: a.external_audience_id ?? '', accountId: a.account_id });
      const token = problem ? null : await deps.token(a);
      const prior = a.status === 'active' ? 'active' : 'ready';
      if (problem || !token) {
        const error = problem ?? `no ${a.platform} access token: set one on the organizer's (or the marketplace's) ${a.platform} tracking code`;
        await deps.store.setFailed(t, a.id, prior, error);
        return { ok: false, error, added, removed, requests: 0 };
      }
      const d: Destination = { externalAudienceId: a.external_audience_id!, accountId: a.account_id, token };
      await deps.store.setStatus(t, a.id, 'syncing');
      const limit = BATCH[a.platform];
      const fail = async (error: string): Promise<SyncOutcome> => {
        await deps.store.setFailed(t, a.id, prior, error);
        return { ok: false, error, added, removed, requests: count.requests };
      };
      let erasedGone = false;
      for (;;) {
        const rm = await deps.store.removes(t, a.id, limit);
        if (rm.length === 0) break;
        erasedGone ||= rm.some((r) => r.erased);
        for (const kind of ['email', 'phone'] as const) {
          const part = rm.filter((r) => r.kind === kind);
          if (!part.length) continue;
          // A kind this platform never received (phones outside Meta) is only forgotten.
          const err = KINDS[a.platform].includes(kind) ? await send(a, 'remove', kind, part.map((r) => r.digest), d, count) : null;
          if (err) return fail(err);
          await deps.store.markRemoved(a.id, part);
          removed += part.length;
        }
        if (rm.length < limit) break;
      }
      if (erasedGone && deps.purge) await deps.purge(['remarketing_synced']);
      for (;;) {
        const add = await deps.store.adds(t, a.id, KINDS[a.platform], limit);
        if (add.length === 0) break;
        for (const kind of KINDS[a.platform]) {
          const part = add.filter((r) => r.kind === kind);
          if (!part.length) continue;
          const err = await send(a, 'add', kind, part.map((r) => r.digest), d, count);
          if (err) return fail(err);
          await deps.store.markAdded(t, a.id, part, now());
          added += part.length;
        }
        if (add.length < limit) break;
      }
      await deps.store.setSynced(t, a.id, now());
      return { ok: true, added, removed, requests: count.requests };
    },
  };
}

export type Sync = ReturnType<typeof createSync>;
