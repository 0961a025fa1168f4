// RFC 4122 v4 ids from the platform's CSPRNG: crypto.randomUUID where present (browsers on https or
// localhost, Node ≥ 19), else crypto.getRandomValues (older browsers, React Native with
// react-native-get-random-values), else Math.random as a last resort (ids only need to be unique).
declare const crypto: { randomUUID?: () => string; getRandomValues?: <T extends Uint8Array>(a: T) => T } | undefined;

export function uuid(): string {
  const c = typeof crypto != 'undefined' ? crypto : undefined;
  if (c?.randomUUID) return c.randomUUID();
  const rnd = () => (c?.getRandomValues ? c.getRandomValues(new Uint8Array(1))[0] : Math.random() * 256);
  // Each template digit d becomes d XOR a random nibble masked by 15 >> d/4: 0 and 1 → any hex digit,
  // 4 → 4 (the version), 8 → 8–b (the variant). (The browser bundle's size budget prefers this to a loop.)
  return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (d) => (+d ^ (rnd() & (15 >> (+d / 4)))).toString(16));
}
