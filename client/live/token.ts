// Reads the claims of a dashboard token (`v1.<base64url JSON>.<signature>`) without verifying it: the page
// uses them to pick its view (organizer or gate) and to know the expiry. Only the server can verify.

export interface TokenClaims {
  tenant: number;
  role: 'organizer' | 'gate';
  /** Organizer tokens. */
  org?: string;
  /** Gate tokens. */
  events?: string[];
  /** Issued / expires, epoch seconds. */
  iat: number;
  exp: number;
}

function b64urlDecode(s: string): string {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

export function decodeToken(token: string): TokenClaims | null {
  if (typeof token !== 'string' || !token.startsWith('v1.')) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const c = JSON.parse(b64urlDecode(parts[1])) as { t?: unknown; r?: unknown; o?: unknown; e?: unknown; iat?: unknown; exp?: unknown };
    if (typeof c.t !== 'number' || typeof c.exp !== 'number' || (c.r !== 'organizer' && c.r !== 'gate')) return null;
    const claims: TokenClaims = { tenant: c.t, role: c.r, iat: typeof c.iat === 'number' ? c.iat : 0, exp: c.exp };
    if (c.r === 'organizer') {
      if (typeof c.o !== 'string') return null;
      claims.org = c.o;
    } else {
      if (!Array.isArray(c.e) || !c.e.every((x) => typeof x === 'string')) return null;
      claims.events = c.e as string[];
    }
    return claims;
  } catch {
    return null;
  }
}

/** A v1 token's expiry (epoch seconds), whatever its role; null when it is not one. */
export function tokenExp(token: string): number | null {
  if (typeof token !== 'string' || !token.startsWith('v1.')) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const c = JSON.parse(b64urlDecode(parts[1])) as { exp?: unknown } | null;
    return c !== null && typeof c.exp === 'number' ? c.exp : null;
  } catch {
    return null;
  }
}

/**
 * Whether the token's expiry has passed at `nowMs`, for every role (admin, venue, promoter… not only the
 * organizer and gate tokens decodeToken reads); unreadable tokens count as not expired: the server decides.
 */
export function tokenExpired(token: string, nowMs: number): boolean {
  const exp = tokenExp(token);
  return exp !== null && exp * 1000 <= nowMs;
}
