// RFC 4122 v4 ids from the platform's CSPRNG: crypto.randomUUID where present (browsers on https or
// localhost, Node ≥ 19), else crypto.getRandomValues (older browsers, React Native with
// react-native-get-random-values), else Math.random as a last resort (ids only need to be unique).
declare const crypto: { randomUUID?: () => string; getRandomValues?: <T extends Uint8Array>(a: T) => T } | undefined;

export function uuid(): string {
  const c = typeof crypto !== 'undefined' ? crypto : undefined;
  if (c && c.randomUUID) return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  let h = '';
  for (let i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1) + (i === 3 || i === 5 || i === 7 || i === 9 ? '-' : '');
  return h;
}
