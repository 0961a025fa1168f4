// The remarketing audience API (README "Remarketing audiences"), tenant secret key with target_users: create
// (built at once: building → ready), read, member pages, the platform export (digests only), sync now, delete.
import type { Router } from '../http/router.js';
import { fail, paramFail } from '../http/errors.js';
import { collect, cursor, id, idPage, int, nextCursor, pageOf } from '../http/params.js';
import { KINDS } from './platforms.js';
import { audienceView } from './store.js';
import { parseNewAudience } from './schemas.js';
import type { Remarketing } from './index.js';

// Persons of every organizer: a key limited to some organizers is refused (router 'whole_tenant').
const P = { permission: 'target_users', resource: 'whole_tenant' } as const;
const missing = (aid: number) => fail('not_found', `No remarketing audience ${aid} for this tenant.`);

export function registerRemarketingRoutes(router: Router, rm: Pick<Remarketing, 'create' | 'syncNow' | 'remove' | 'store'>): void {
  const { store } = rm;
  router.add({
    method: 'post', path: '/api/v1/remarketing-audiences', auth: 'secret', ...P, body: { limit: 64 * 1024, parse: (v) => parseNewAudience(v, Date.now()) },
    audit: (_r, reply) => ({ action: 'remarketing.created', target: `remarketing_audience:${(reply.body as { id: number }).id}` }),
    handler: async ({ body, principal }) => {
      const r = await rm.create(principal.tenant.tenant_id, body);
      return r.ok ? { status: 201, body: r.value } : fail(r.code, r.message, { field: r.field, in: 'body' });
    },
  });
  router.add({
    method: 'get', path: '/api/v1/remarketing-audiences', auth: 'secret', ...P, query: ['limit', 'cursor'],
    handler: async ({ info, principal }) => {
      const p = idPage(info.query, 'remarketing_audiences');
      if (!p.ok) return paramFail(p.error);
      const page = pageOf(await store.list(principal.tenant.tenant_id, p.value.after ?? 0, p.value.limit + 1), p.value.limit);
      return { status: 200, body: { audiences: page.rows.map(audienceView), next_cursor: nextCursor('remarketing_audiences', page, (a) => [a.id]) } };
    },
  });
  router.add({
    method: 'get', path: '/api/v1/remarketing-audiences/:id', auth: 'secret', ...P, params: { id }, query: [],
    handler: async ({ params, principal }) => {
      const a = await store.get(principal.tenant.tenant_id, params.id);
      return a ? { status: 200, body: audienceView(a) } : missing(params.id);
    },
  });
  router.add({
    method: 'del', path: '/api/v1/remarketing-audiences/:id', auth: 'secret', ...P, params: { id },
    audit: ({ params }) => ({ action: 'remarketing.deleted', target: `remarketing_audience:${params.id}` }),
    handler: async ({ params, principal }) => {
      // The platform is told to drop the members first; a failure leaves the removals to the daily job (the
      // audience is gone from the API either way): `pending` says so.
      const r = await rm.remove(principal.tenant.tenant_id, params.id);
      if (r === null) return missing(params.id);
      return 'busy' in r ? fail('conflict', r.error) : { status: 200, body: r };
    },
  });
  router.add({
    method: 'post', path: '/api/v1/remarketing-audiences/:id/sync', auth: 'secret', ...P, params: { id },
    audit: ({ params }) => ({ action: 'remarketing.synced', target: `remarketing_audience:${params.id}` }),
    handler: async ({ params, principal }) => {
      const r = await rm.syncNow(principal.tenant.tenant_id, params.id);
      if (r === null) return missing(params.id);
      if (r.ok) return { status: 200, body: r };
      // Not a 200 (nor an audited success): nothing was sent (no token, no destination) is the audience's
      // setup, a 409; a platform that refused or failed mid-way is a 502. Either way the counts and the
      // audience's status and last_error come along.
      // A sync already running (this node or another) is a 409 too; so is an expired audience's.
      const { error, busy: _busy, ...rest } = r;
      return r.requests === 0 ? fail('conflict', error, rest) : fail('platform_error', { detail: error }, rest);
    },
  });
  for (const kind of ['members', 'export'] as const) {
    router.add({
      method: 'get', path: `/api/v1/remarketing-audiences/:id/${kind}`, auth: 'secret', ...P, params: { id }, query: ['limit', 'cursor'],
      handler: async ({ info, params, principal }) => {
        const q = collect({
          limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 10_000, def: 1000 }),
          after: cursor(info.query.get('cursor'), `remarketing_${kind}_${params.id}`, ['id']),
        });
        if (!q.ok) return paramFail(q.error);
        const t = principal.tenant.tenant_id;
        const a = await store.get(t, params.id);
        if (!a) return missing(params.id);
        const after = q.value.after ? Number(q.value.after[0]) : 0;
        // The export holds what the audience's platform takes, as its sync sends it (KINDS): phone digests are
        // Meta's form (digits, no "+"), so a Google Ads or TikTok export carries emails only.
        const page: { rows: { person_id: number }[]; more: boolean } = kind === 'members'
          ? pageOf(await store.members(t, params.id, after, q.value.limit + 1), q.value.limit)
          : pageOf(await store.exportPage(t, params.id, after, q.value.limit + 1, KINDS[a.platform]), q.value.limit);
        const rows = page.rows;
        const next = nextCursor(`remarketing_${kind}_${params.id}`, page, (r) => [r.person_id]);
        // The platform export carries digests only: the person ids stay here (they are only the cursor's key).
        const out = kind === 'members' ? rows : rows.map(({ person_id: _p, ...digests }) => digests);
        return { status: 200, body: { audience_id: params.id, [kind === 'members' ? 'members' : 'identifiers']: out, next_cursor: next } };
      },
    });
  }
}
