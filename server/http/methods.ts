// Which methods a path answers, for the catch-all route: a known path asked with another method is a 405 with
// `Allow` (OPTIONS: 204 with `Allow`), not a 404 that hides the path exists; a path that only differs by a
// trailing slash is named in the 404. Pure: the routes are what guardRequests recorded (uws.ts).

/** A route as registered on the uWS app: method as uWS names it (`del`), uWS pattern (`/a/:id`, `/api/tx/*`). */
export interface Registered {
  method: string;
  pattern: string;
}

const NAMES: Record<string, string> = { del: 'DELETE' };
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Whether uWS would hand `url` to `pattern`: `:name` takes one non-empty segment, a final `*` the rest. */
export function matches(pattern: string, url: string): boolean {
  const p = pattern.split('/');
  const u = url.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '*' && i === p.length - 1) return true;
    if (i >= u.length) return false;
    if (p[i].startsWith(':') ? u[i] === '' : p[i] !== u[i]) return false;
  }
  return p.length === u.length;
}

/** The methods some route answers `url` with (catch-alls left out), in a stable order; [] for an unknown path. */
export function allowedMethods(routes: readonly Registered[], url: string): string[] {
  const hits = routes.filter((r) => r.method !== 'any' && matches(r.pattern, url));
  // A subtree's catch-all (the CORS preflight `OPTIONS /api/tx/*`) says nothing of which paths exist: a path
  // only such a route takes is unknown (404), not one that "answers OPTIONS".
  if (!hits.some((r) => !r.pattern.endsWith('*'))) return [];
  const found = new Set(hits.map((r) => NAMES[r.method] ?? r.method.toUpperCase()));
  return ORDER.filter((m) => found.has(m));
}

/** For a 404: the same path without its trailing slash when that one exists (`/health/` → `/health`). */
export function withoutTrailingSlash(routes: readonly Registered[], url: string): string | null {
  if (url.length < 2 || !url.endsWith('/')) return null;
  const bare = url.replace(/\/+$/, '') || '/';
  return allowedMethods(routes, bare).length ? bare : null;
}
