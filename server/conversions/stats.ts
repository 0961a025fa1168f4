// This node's conversion figures for /metrics: rows settled and requests made since start, and the pending
// rows per provider as of the last dispatcher run (the store's count, shared by every node).
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { PROVIDERS, type Provider, type SendOutcome } from './adapter.js';

const Q = queries('conversions.sql', ['pending_by_provider']);

export type RowOutcome = 'sent' | 'dead' | 'retried' | 'rate_limited' | 'held';
const ROW_OUTCOMES: RowOutcome[] = ['sent', 'dead', 'retried', 'rate_limited', 'held'];
const REQUEST_OUTCOMES: SendOutcome['kind'][] = ['ok', 'retry', 'invalid', 'held'];

export interface ConversionStats {
  add(provider: Provider, outcome: RowOutcome, n: number): void;
  request(provider: Provider, outcome: SendOutcome['kind']): void;
  refreshPending(q: Queryable): Promise<void>;
  lines(): string[];
}

export function createConversionStats(): ConversionStats {
  const rows = new Map<string, number>();
  const requests = new Map<string, number>();
  const pending = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
  return {
    add: (p, o, n) => void bump(rows, `${p}|${o}`, n),
    request: (p, o) => void bump(requests, `${p}|${o}`, 1),
    async refreshPending(q) {
      const { rows: r } = await q.query<{ provider: string; n: number }>(Q.pending_by_provider);
      pending.clear();
      for (const x of r) pending.set(x.provider, Number(x.n));
    },
    lines() {
      const per = <T extends string>(name: string, m: Map<string, number>, outcomes: T[]) =>
        PROVIDERS.flatMap((p) => outcomes.map((o) => `${name}{provider="${p}",outcome="${o}"} ${m.get(`${p}|${o}`) ?? 0}`));
      return [
        '# HELP tx_conversions_total Outbox rows this node settled or rescheduled, by provider and outcome.',
        '# TYPE tx_conversions_total counter',
        ...per('tx_conversions_total', rows, ROW_OUTCOMES),
        '# HELP tx_conversion_requests_total Requests this node sent to ad platforms, by provider and classified answer.',
        '# TYPE tx_conversion_requests_total counter',
        ...per('tx_conversion_requests_total', requests, REQUEST_OUTCOMES),
        '# HELP tx_conversions_pending Outbox rows not yet acknowledged (all nodes), as of this node\'s last dispatcher run.',
        '# TYPE tx_conversions_pending gauge',
        ...PROVIDERS.map((p) => `tx_conversions_pending{provider="${p}"} ${pending.get(p) ?? 0}`),
      ];
    },
  };
}
