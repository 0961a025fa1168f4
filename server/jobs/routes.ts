// Operator routes of the job runner (ADMIN_TOKEN):
//   GET  /api/admin/jobs                          {"jobs":[{"name","schedule","timeout_s","last_run","next_run_at"}]}
//   POST /api/admin/jobs/{name}/run               runs it now: 200 with the finished run, or 202 {"id","status":"running"}
//                                                 when it takes longer than RUN_WAIT_MS (then GET …/runs shows it)
//   GET  /api/admin/jobs/{name}/runs[?limit&cursor]   {"runs":[…newest first],"next_cursor"}
import { fail, paramFail } from '../http/errors.js';
import { collect, cursor, int, nextCursor, pageOf, text, type Parsed, type Where } from '../http/params.js';
import type { Router } from '../http/router.js';
import { JobBusyError, type JobRunner } from './runner.js';

/** How long POST …/run waits for the run before answering 202. */
export const RUN_WAIT_MS = 30_000;

const JOB_NAME = /^[a-z0-9_.-]{1,64}$/;

/** A job name in the path: the runner's names are short lowercase words; anything else is refused. Pure. */
export function jobName(where: Where, field: string, raw: string | null | undefined): Parsed<string> {
  const t = text(where, field, raw, { max: 64, required: true });
  if (!t.ok) return t;
  if (!JOB_NAME.test(t.value!)) return { ok: false, error: { code: 'invalid_field', in: where, field, message: `${field} must be 1-64 characters of a-z, 0-9, "_", "." or "-".` } };
  return { ok: true, value: t.value! };
}

export function registerJobRoutes(router: Router, deps: { runner: JobRunner; waitMs?: number }): void {
  const { runner } = deps;

  router.add({
    method: 'get', path: '/api/admin/jobs', auth: 'admin', query: [],
    handler: async () => ({ status: 200, body: { jobs: await runner.list() } }),
  });

  router.add({
    method: 'post', path: '/api/admin/jobs/:name/run', auth: 'admin', params: { name: jobName },
    audit: ({ params }, reply) => ({ action: 'job.run', target: `job:${params.name}`, details: { run_id: (reply.body as { id?: number }).id ?? null } }),
    handler: async ({ params }) => {
      if (!runner.has(params.name)) return fail('unknown_job', { name: params.name });
      let started;
      try {
        started = await runner.runNow(params.name, deps.waitMs ?? RUN_WAIT_MS);
      } catch (err) {
        if (!(err instanceof JobBusyError)) throw err;
        return fail('job_running', { name: params.name }, { name: params.name, run_id: err.runId });
      }
      const { finished, run } = started;
      if (!finished) return { status: 202, body: { id: run.id, status: 'running', run } };
      return { status: 200, body: run };
    },
  });

  router.add({
    method: 'get', path: '/api/admin/jobs/:name/runs', auth: 'admin', params: { name: jobName }, query: ['limit', 'cursor'],
    handler: async ({ params, info }) => {
      if (!runner.has(params.name)) return fail('unknown_job', { name: params.name });
      const q = info.query;
      const p = collect({
        limit: int('query', 'limit', q.get('limit'), { min: 1, max: 500, def: 50 }),
        after: cursor(q.get('cursor'), `job_runs:${params.name}`, ['id']),
      });
      if (!p.ok) return paramFail(p.error);
      const page = pageOf(await runner.page(params.name, p.value.limit + 1, p.value.after ? Number(p.value.after[0]) : null), p.value.limit);
      return { status: 200, body: { runs: page.rows, next_cursor: nextCursor(`job_runs:${params.name}`, page, (r) => [r.id]) } };
    },
  });
}
