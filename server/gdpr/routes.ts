// HTTP API of GDPR (tenant secret key unless stated):
//   GET    /api/v1/persons/{id}/export, DELETE /api/v1/persons/{id}
//   POST   /api/admin/retention/run            operator (ADMIN_TOKEN): apply retention now
import { personIdParam } from '../identity/routes.js';
import type { Router } from '../http/router.js';
import { fail } from '../http/errors.js';
import type { Gdpr } from './erasure.js';
import type { Retention } from './retention.js';

export interface GdprRouteDeps {
  gdpr: Gdpr;
  retention: Retention;
  retentionMonths: number;
}

export function registerGdprRoutes(router: Router, deps: GdprRouteDeps): void {
  router.add({
    method: 'get', path: '/api/v1/persons/:id/export', auth: 'secret', permission: 'export_data', resource: 'tenant', params: { id: personIdParam }, query: [],
    audit: ({ params }) => ({ action: 'gdpr.export', target: `person:${params.id}` }),
    handler: async ({ params, principal }) => {
      const out = await deps.gdpr.exportPerson(principal.tenant.tenant_id, params.id);
      if (out === null) return fail('not_found', 'No such person for this tenant.');
      if ('erased' in out) return fail('person_erased', 'This person was erased; nothing is held about them.', { erased_at: (out.erased as { erased_at: string }).erased_at });
      return { status: 200, body: out, headers: { 'Content-Disposition': `attachment; filename="person-${params.id}-export.json"` } };
    },
  });
  router.add({
    method: 'del', path: '/api/v1/persons/:id', auth: 'secret', permission: 'erase_data', resource: 'tenant', params: { id: personIdParam },
    audit: ({ params }) => ({ action: 'gdpr.erase', target: `person:${params.id}` }),
    handler: async ({ params, principal }) => {
      const out = await deps.gdpr.erasePerson(principal.tenant.tenant_id, params.id);
      if (out === null) return fail('not_found', 'No such person for this tenant.');
      return { status: 200, body: out };
    },
  });
  router.add({
    method: 'post', path: '/api/admin/retention/run', auth: 'admin',
    // Retention run by hand: an operator action on every tenant's data (no tenant of its own).
    audit: () => ({ action: 'retention.run', target: 'job:gdpr.retention', tenant: null }),
    handler: async () => {
      const policy = await deps.retention.applyPolicy();
      const ran = await deps.retention.run();
      return { status: 200, body: { retention_months: deps.retentionMonths, policy, ...ran } };
    },
  });
}
