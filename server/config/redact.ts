/** A URL as it may be printed in a boot error: the password of `user:password@` masked. Pure. */
export function redact(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}
