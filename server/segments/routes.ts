// The segment API (README "Segments"), tenant secret key with target_users: create (version 1 with its size),
// edit (the next version; campaigns keep referring to theirs), list the segments, read a version, list versions,
// page members. The list and a read of the current version go through the cache (cache.ts).
import type { Router } from '../http/router.js';
import { fail, paramFail } from '../http/errors.js';
import { collect, cursor, cursorVersionMismatch, encodeCursor, id, int, nextCursor, pageOf } from '../http/params.js';
import { parseSegment } from './schemas.js';
import type { Segments } from './index.js';

// Persons of every organizer: a key limited to some organizers is refused (router 'whole_tenant').
const P = { permission: 'target_users', resource: 'whole_tenant' } as const;
const missing = (sid: number) => fail('not_found', `No segment ${sid} for this tenant.`);

/** Why a segment cannot be deleted: the remarketing audiences built on it would be emptied (on the platforms too). Pure. */
export function usedByMessage(sid: number, ids: number[]): string {
  const one = ids.length === 1;
  return `Segment ${sid} is the source of remarketing ${one ? 'audience' : 'audiences'} ${ids.join(', ')}: deleting it would empty `
    + `${one ? 'that audience' : 'them'} on the ad platforms too. Delete ${one ? 'it' : 'them'} first (DELETE /api/v1/remarketing-audiences/{id}), `
    + `or edit the segment instead (PUT /api/v1/segments/${sid} makes a new version).`;
}

export function registerSegmentRoutes(router: Router, seg: Pick<Segments, 'create' | 'edit' | 'remove' | 'store' | 'cache'>): void {
  const { store, cache } = seg;
  router.add({
    method: 'post', path: '/api/v1/segments', auth: 'secret', ...P, body: { limit: 256 * 1024, parse: (v) => parseSegment(v, { create: true }) },
    audit: (_r, reply) => ({ action: 'segment.created', target: `segment:${(reply.body as { id: number }).id}` }),
    handler: async ({ body, principal }) => ({ status: 201, body: await seg.create(principal.tenant.tenant_id, body) }),
  });
  router.add({
    method: 'put', path: '/api/v1/segments/:id', auth: 'secret', ...P, params: { id }, body: { limit: 256 * 1024, parse: (v) => parseSegment(v, { create: false }) },
    audit: ({ params }, reply) => ({ action: 'segment.edited', target: `segment:${params.id}`, details: { version: (reply.body as { version: number }).version } }),
    handler: async ({ params, body, principal }) => {
      const r = await seg.edit(principal.tenant.tenant_id, params.id, body);
      return r ? { status: 200, body: r } : missing(params.id);
    },
  });
  router.add({
    method: 'del', path: '/api/v1/segments/:id', auth: 'secret', ...P, params: { id },
    audit: ({ params }) => ({ action: 'segment.deleted', target: `segment:${params.id}` }),
    handler: async ({ params, principal }) => {
      const r = await seg.remove(principal.tenant.tenant_id, params.id);
      if ('usedBy' in r) return fail('conflict', usedByMessage(params.id, r.usedBy), { field: 'id', in: 'path', remarketing_audience_ids: r.usedBy });
      return 'deleted' in r ? { status: 200, body: r } : missing(params.id);
    },
  });
  router.add({
    method: 'get', path: '/api/v1/segments', auth: 'secret', ...P, query: ['limit', 'cursor'],
    handler: async ({ info, principal }) => {
      const q = collect({
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 1000, def: 100 }),
        after: cursor(info.query.get('cursor'), 'segments', ['id']),
      });
      if (!q.ok) return paramFail(q.error);
      const page = await cache.list(principal.tenant.tenant_id, q.value.after ? Number(q.value.after[0]) : 0, q.value.limit);
      return { status: 200, body: { segments: page.segments, next_cursor: page.next === null ? null : encodeCursor('segments', [String(page.next)]) } };
    },
  });
  router.add({
    method: 'get', path: '/api/v1/segments/:id', auth: 'secret', ...P, params: { id }, query: ['version'],
    handler: async ({ info, params, principal }) => {
      const v = int('query', 'version', info.query.get('version'), { min: 1, max: 1_000_000, def: 0 });
      if (!v.ok) return paramFail(v.error);
      const s = await cache.current(principal.tenant.tenant_id, params.id, v.value || null);
      return s ? { status: 200, body: s } : fail('not_found', v.value ? `Segment ${params.id} has no version ${v.value}.` : `No segment ${params.id} for this tenant.`);
    },
  });
  router.add({
    method: 'get', path: '/api/v1/segments/:id/versions', auth: 'secret', ...P, params: { id }, query: [],
    handler: async ({ params, principal }) => {
      const versions = await store.versions(principal.tenant.tenant_id, params.id);
      return versions.length ? { status: 200, body: { versions } } : missing(params.id);
    },
  });
  router.add({
    method: 'get', path: '/api/v1/segments/:id/members', auth: 'secret', ...P, params: { id }, query: ['version', 'limit', 'cursor'],
    handler: async ({ info, params, principal }) => {
      const q = collect({
        version: int('query', 'version', info.query.get('version'), { min: 1, max: 1_000_000, def: 0 }),
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 10_000, def: 1000 }),
        after: cursor(info.query.get('cursor'), `segment_${params.id}`, ['version', 'id']),
      });
      if (!q.ok) return paramFail(q.error);
      // A cursor carries the version it pages; with another ?version= it would silently page that one.
      if (q.value.after && q.value.version && Number(q.value.after[0]) !== q.value.version) return paramFail(cursorVersionMismatch(q.value.version));
      const t = principal.tenant.tenant_id;
      const s = await store.get(t, params.id, q.value.after ? Number(q.value.after[0]) : q.value.version || null);
      if (!s) return fail('not_found', `No such segment or version (segment ${params.id}).`);
      const version = Number(s.version);
      const page = pageOf(await store.members(t, params.id, version, q.value.after ? Number(q.value.after[1]) : 0, q.value.limit + 1), q.value.limit);
      const next = nextCursor(`segment_${params.id}`, page, (p) => [version, p]);
      return { status: 200, body: { segment_id: params.id, version, computed_at: s.computed_at, members: page.rows.map((p) => ({ person_id: p })), next_cursor: next } };
    },
  });
}
