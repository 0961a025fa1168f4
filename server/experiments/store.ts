// Experiments in the store (sql/queries/experiments.sql): CRUD by key, the running ones for assignment.
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull, type Obj } from '../store/rows.js';
import type { ExperimentDef } from '../../client/shared/experiment-hash.js';
import type { ExperimentInput, Metric } from './schemas.js';

const Q = queries('experiments.sql', ['insert_experiment', 'update_experiment', 'delete_experiment', 'get_experiment', 'list_experiments', 'running_experiments']);

export interface Experiment {
  key: string;
  name: string | null;
  variants: { key: string; weight: number }[];
  coverage: number;
  start: string;
  end: string | null;
  success_metrics: Metric[];
  metric_window_s: number;
  created_at: string;
  updated_at: string;
}

const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

/** A row as the API shows it. Pure. */
export function experimentView(r: Obj): Experiment {
  return {
    key: String(r.key),
    name: (r.name as string | null) ?? null,
    variants: parseJson(r.variants),
    coverage: Number(r.coverage),
    start: iso(r.start_at),
    end: isoOrNull(r.end_at),
    success_metrics: parseJson(r.success_metrics),
    metric_window_s: Number(r.metric_window_s),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

const params = (tenantId: number, e: ExperimentInput, now: Date) => [
  tenantId, e.key, e.name, JSON.stringify(e.variants), e.coverage, new Date(e.startMs), e.endMs === null ? null : new Date(e.endMs), JSON.stringify(e.metrics), e.metricWindowS, now,
];

export interface ExperimentStore {
  /** null when the key exists. */
  create(q: Queryable, tenantId: number, e: ExperimentInput, now: Date): Promise<Experiment | null>;
  /** null when there is no such experiment. */
  update(q: Queryable, tenantId: number, e: ExperimentInput, now: Date): Promise<Experiment | null>;
  remove(q: Queryable, tenantId: number, key: string): Promise<boolean>;
  get(q: Queryable, tenantId: number, key: string): Promise<Experiment | null>;
  list(q: Queryable, tenantId: number, after: string, limit: number): Promise<Experiment[]>;
  running(q: Queryable, tenantId: number, at: Date): Promise<ExperimentDef[]>;
}

export function createExperimentStore(): ExperimentStore {
  const one = (rows: Obj[]) => (rows[0] ? experimentView(rows[0]) : null);
  return {
    create: async (q, t, e, now) => one((await q.query<Obj>(Q.insert_experiment, params(t, e, now))).rows),
    update: async (q, t, e, now) => one((await q.query<Obj>(Q.update_experiment, params(t, e, now))).rows),
    remove: async (q, t, key) => (await q.query(Q.delete_experiment, [t, key])).rows.length > 0,
    get: async (q, t, key) => one((await q.query<Obj>(Q.get_experiment, [t, key])).rows),
    list: async (q, t, after, limit) => (await q.query<Obj>(Q.list_experiments, [t, after, limit])).rows.map(experimentView),
    running: async (q, t, at) =>
      (await q.query<Obj>(Q.running_experiments, [t, at])).rows.map((r) => ({ key: String(r.key), variants: parseJson(r.variants), coverage: Number(r.coverage) })),
  };
}
