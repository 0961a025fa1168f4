// What the header says about the token's lifetime, from its expiry and the page's clock. The live pages also hear
// it from the server (the socket closes with token_expired); the pages read over REST only (approval queue,
// artist and venue pages, the ad account's campaigns) have nothing but this clock, so they act on 'expired'.

/** The token's state at `now` (ms): nothing to say, expiring within 10 minutes (whole minutes left, rounded up), or expired. */
export type TokenClock = { state: 'valid' } | { state: 'expiring'; minutes: number } | { state: 'expired' };

const WARN_MS = 10 * 60_000;

export const EXPIRED_MESSAGE = 'The token has expired. Paste a new one.';

/** `exp`: epoch seconds (Infinity for a secret key, which never expires). Pure. */
export function tokenClock(exp: number, now: number): TokenClock {
  if (!Number.isFinite(exp)) return { state: 'valid' };
  const left = exp * 1000 - now;
  if (left <= 0) return { state: 'expired' };
  if (left < WARN_MS) return { state: 'expiring', minutes: Math.ceil(left / 60_000) };
  return { state: 'valid' };
}

export function expiringMessage(minutes: number): string {
  return `This token expires in ${minutes} min. Ask for a new one to keep watching.`;
}
