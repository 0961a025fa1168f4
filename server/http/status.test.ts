import { describe, expect, it } from 'vitest';
import { publicMetricLines } from './index.js';

describe('publicMetricLines', () => {
  it('drops every sample naming a tenant, keeps the rest and says why', () => {
    const lines = [
      '# TYPE tx_segment_members gauge',
      'tx_segment_members{tenant="2",segment="1",version="3"} 120',
      'tx_segment_eval_seconds{segment="1",tenant="2"} 0.1',
      'tx_segment_evaluations_total{outcome="ok"} 4',
      'tx_job_runs_total{job="tenant.sync"} 1',
    ];
    const out = publicMetricLines(lines);
    expect(out.filter((l) => !l.startsWith('#'))).toEqual(['tx_segment_evaluations_total{outcome="ok"} 4', 'tx_job_runs_total{job="tenant.sync"} 1']);
    expect(out.at(-1)).toMatch(/per-tenant series omitted/);
  });

  it('adds nothing when no series names a tenant', () => {
    const lines = ['tx_store_up 1'];
    expect(publicMetricLines(lines)).toEqual(lines);
  });
});
