// The bytes of a request body → the text JSON.parse gets, the same on every route (ingest's fast path, the
// router's JSON routes, Stripe): the declared Content-Encoding undone within the size limit, the charset
// checked and the UTF-8 decoded strictly. Pure.
//
// Strict because a lenient decoder replaces each malformed sequence by U+FFFD: two orders whose ids differ
// only in an invalid byte ("ORD-\xff", "ORD-\xfe") would both be stored as "ORD-�", the second acknowledged as
// a duplicate of the first and lost.
import zlib from 'node:zlib';

export const ENCODINGS = ['identity', 'gzip', 'x-gzip', 'deflate'];

export type Inflated = { ok: true; body: Buffer } | { ok: false; reason: 'too_large' | 'corrupt'; message: string };

/**
 * A compressed body, decompressed to at most `max` bytes (the size limit applies to what is parsed, so a small
 * gzip bomb is refused like any oversized body).
 */
export function inflate(body: Buffer, encoding: string, max: number): Inflated {
  if (encoding === 'identity') return { ok: true, body };
  try {
    const opts = { maxOutputLength: max };
    return { ok: true, body: encoding === 'deflate' ? zlib.inflateSync(body, opts) : zlib.gunzipSync(body, opts) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) return { ok: false, reason: 'too_large', message: e.message };
    return { ok: false, reason: 'corrupt', message: e.message };
  }
}

/** The Content-Encoding header, normalised (absent = identity); null when it is not one this server undoes. */
export function encodingOf(header: string | undefined): { ok: true; encoding: string } | { ok: false; message: string } {
  const encoding = (header ?? 'identity').trim().toLowerCase() || 'identity';
  if (ENCODINGS.includes(encoding)) return { ok: true, encoding };
  return { ok: false, message: `Content-Encoding must be gzip, deflate or none (got ${JSON.stringify(encoding.slice(0, 40))}).` };
}

/** A refusal when the Content-Type names a charset other than UTF-8 (JSON is UTF-8: RFC 8259 §8.1); else null. */
export function charsetProblem(contentType: string | undefined): string | null {
  // Every charset parameter: a second one ("charset=utf-8; charset=latin1") is not let through by the first.
  for (const m of (contentType ?? '').matchAll(/;\s*charset\s*=\s*"?([^";\s]*)"?/gi)) {
    const cs = m[1].toLowerCase();
    if (cs !== 'utf-8' && cs !== 'utf8') return `The body must be UTF-8 (Content-Type says charset=${JSON.stringify(m[1].slice(0, 40))}); send charset=utf-8 or no charset.`;
  }
  return null;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The body as text: UTF-8, strictly (the offset of the first malformed byte otherwise); a leading byte order
 * mark is ignored, as RFC 8259 §8.1 allows.
 */
export function bodyText(body: Buffer): { ok: true; text: string } | { ok: false; message: string } {
  const b = body.subarray(0, 3).equals(BOM) ? body.subarray(3) : body;
  const text = b.toString('utf8');
  if (!text.includes('\uFFFD')) return { ok: true, text };
  // A U+FFFD the sender encoded (EF BF BD) is legitimate: only a byte sequence that was replaced is refused.
  const again = Buffer.from(text, 'utf8');
  if (again.equals(b)) return { ok: true, text };
  let at = 0;
  while (at < b.length && at < again.length && b[at] === again[at]) at++;
  return { ok: false, message: `The body is not valid UTF-8 (malformed byte 0x${b[at].toString(16).padStart(2, '0')} at offset ${at + (b === body ? 0 : 3)}); send it encoded as UTF-8.` };
}

const SEND_JSON = 'Send the body as JSON, e.g. {"name": "value"} (JSON.stringify), encoded as UTF-8.';

/**
 * The message of a body JSON.parse refused (`err`, its SyntaxError; `text`, what it parsed): that the body is not
 * valid JSON, what is wrong and where, as far as V8 says (a position; the end of the body when it stops short;
 * the only place the unexpected character occurs), and to send JSON. Pure. It never quotes the body: the message is
 * kept with a rejected body, and a quote of the body (V8's own messages carry one) could hold a phone number or an
 * e-mail address in clear where the kept body has them digested (README "GDPR").
 */
export function jsonSyntaxMessage(err: unknown, text: string): string {
  if (text.trim() === '') return `The body is empty, which is not JSON. ${SEND_JSON}`;
  const v8 = err instanceof Error ? err.message : String(err);
  let what: string;
  let at: number | null = null;
  let m: RegExpExecArray | null;
  if ((m = /^(.+?)(?: in JSON)? at position (\d+)/s.exec(v8))) {
    what = m[1].charAt(0).toLowerCase() + m[1].slice(1);
    at = Math.min(Number(m[2]), text.length);
  } else if (v8.startsWith('Unexpected end of JSON input')) {
    what = 'the body ends before its JSON value does';
    at = text.length;
  } else if ((m = /^Unexpected token '(.+?)', /su.exec(v8))) {
    what = `unexpected character ${JSON.stringify(m[1])}`;
    const i = text.indexOf(m[1]);
    // V8 does not say where: only a character that occurs once is placed for certain.
    if (i >= 0 && text.indexOf(m[1], i + 1) < 0) at = i;
  } else {
    // Up to V8's quote of the body, if it has one.
    what = v8.split('"')[0].trim().slice(0, 120) || 'a syntax error';
  }
  if (at === null) return `The body is not valid JSON: ${what}. ${SEND_JSON}`;
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - before.lastIndexOf('\n');
  return `The body is not valid JSON: ${what} at position ${at} (line ${line}, column ${column}). ${SEND_JSON}`;
}
