// Ad-hoc analytics over stored events (README "Funnels"): POST /api/v1/analytics/funnels. A principal whose role
// is not tenant-wide (no view_all_analytics) gets the funnel of its scope's events only.
import type { Logger } from 'pino';
import { can, type Principal, type Scope } from '../authz/principal.js';
import type { Overrides } from '../authz/roles.js';
import type { Router } from '../http/router.js';
import type { Db } from '../store/db.js';
import { runFunnel } from './funnels.js';
import { parseFunnel } from './spec.js';

export { runFunnel, funnelRows } from './funnels.js';
export { parseFunnel, PRESETS, type FunnelSpec, type Step } from './spec.js';

export interface AnalyticsDeps {
  db: Db;
  log: Logger;
  overrides(tenant: number): Promise<Overrides>;
}

export interface Analytics {
  register(router: Router): void;
}

/** The events a principal may analyse: null = the whole tenant. */
export async function analyticsScope(who: Principal, overrides: (tenant: number) => Promise<Overrides>): Promise<Scope | null> {
  if (who.role === 'admin' || can(who, 'view_all_analytics', await overrides(who.tenant))) return null;
  return who.scope;
}

export function createAnalytics(deps: AnalyticsDeps): Analytics {
  const log = deps.log;
  return {
    register(router) {
      router.add({
        method: 'post', path: '/api/v1/analytics/funnels', auth: 'secret', permission: 'view_event_analytics', resource: 'tenant',
        body: { limit: 64 * 1024, parse: parseFunnel },
        handler: async ({ body, principal, who }) => {
          const started = Date.now();
          const scope = await analyticsScope(who!, deps.overrides);
          const out = await runFunnel(deps.db, principal.tenant.tenant_id, body, scope);
          log.debug({ tenant_id: principal.tenant.tenant_id, steps: body.steps.length, ms: Date.now() - started }, 'funnel');
          return { status: 200, body: { ...out, window_s: body.windowS, from: new Date(body.fromMs).toISOString(), to: new Date(body.toMs).toISOString(), by: body.by } };
        },
      });
    },
  };
}
