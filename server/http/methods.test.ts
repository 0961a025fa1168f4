import { describe, expect, it } from 'vitest';
import { allowedMethods, matches, withoutTrailingSlash } from './methods.js';

const routes = [
  { method: 'get', pattern: '/api/v1/roles' },
  { method: 'head', pattern: '/api/v1/roles' },
  { method: 'put', pattern: '/api/v1/roles/:role' },
  { method: 'get', pattern: '/api/v1/catalog/:kind' },
  { method: 'put', pattern: '/api/v1/catalog/:kind' },
  { method: 'del', pattern: '/api/v1/keys/:id' },
  { method: 'options', pattern: '/api/tx/*' },
  { method: 'post', pattern: '/api/tx/events' },
  { method: 'any', pattern: '/*' },
];

describe('allowedMethods', () => {
  it('lists the methods of every route whose pattern takes the path, catch-alls left out', () => {
    expect(allowedMethods(routes, '/api/v1/roles')).toEqual(['GET', 'HEAD']);
    expect(allowedMethods(routes, '/api/v1/roles/artist')).toEqual(['PUT']);
    expect(allowedMethods(routes, '/api/v1/catalog/events')).toEqual(['GET', 'PUT']);
    expect(allowedMethods(routes, '/api/v1/keys/7')).toEqual(['DELETE']);
    expect(allowedMethods(routes, '/api/tx/events')).toEqual(['POST', 'OPTIONS']);
    expect(allowedMethods(routes, '/api/v1/nothing')).toEqual([]);
    // Only the subtree's CORS preflight: an unknown path (a typo of /api/tx/events), not a 405.
    expect(allowedMethods(routes, '/api/tx/event')).toEqual([]);
    expect(allowedMethods(routes, '/api/tx/events/')).toEqual([]);
  });
  it('a param takes exactly one non-empty segment; a final * takes the rest', () => {
    expect(matches('/a/:id', '/a/1')).toBe(true);
    expect(matches('/a/:id', '/a/')).toBe(false);
    expect(matches('/a/:id', '/a/1/b')).toBe(false);
    expect(matches('/a/*', '/a/b/c')).toBe(true);
    expect(matches('/a', '/a/')).toBe(false);
  });
  it('names the path without its trailing slash when that one exists', () => {
    expect(withoutTrailingSlash(routes, '/api/v1/roles/')).toBe('/api/v1/roles');
    expect(withoutTrailingSlash(routes, '/api/v1/nothing/')).toBeNull();
    expect(withoutTrailingSlash(routes, '/api/v1/roles')).toBeNull();
    expect(withoutTrailingSlash(routes, '/api/tx/events/')).toBe('/api/tx/events');
  });
});
