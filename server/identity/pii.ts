// Contact data never reaches storage in plaintext: `payload.customer.email` / `.phone` are replaced by the
// SHA-256 of their normalised form before validation, so the database, the spool and the rejected-events
// table only ever see digests. The same rewrite runs again on stored rows as a safety net (spool replays
// written by older versions).
import type { Ingest } from '../ingest/index.js';
import type { EventRow } from '../store/events.js';
import { isObj, type Obj } from '../store/rows.js';
import crypto from 'node:crypto';
import { truncateIp } from '../ingest/validate.js';
import { hashEmail, hashPhone } from './crypto.js';

/** Returns a customer object with email/phone replaced by email_sha256/phone_sha256, or null when unchanged. */
export function hashCustomer(customer: unknown): Obj | null {
  if (!isObj(customer)) return null;
  if (!('email' in customer) && !('phone' in customer)) return null;
  const out: Obj = { ...customer };
  if ('email' in out) {
    const e = out.email;
    delete out.email;
    if (typeof e === 'string') {
      const h = hashEmail(e);
      if (h) out.email_sha256 = h;
    }
  }
  if ('phone' in out) {
    const p = out.phone;
    delete out.phone;
    if (typeof p === 'string') {
      // A national number is made international with the customer's own country, as the conversions' match keys do.
      const h = hashPhone(p, out.country);
      if (h) out.phone_sha256 = h;
    }
  }
  return out;
}

/** Deeper than the validator's MAX_DEPTH (20): an event nested deeper is stored only as a placeholder. */
const PROTECT_DEPTH = 24;

/**
 * Objects that describe a person (our `payload.customer`, Stripe's `shipping`, `billing_details`,
 * `customer_details`…): inside them, and only there, names and postal addresses are digested. A `name`
 * elsewhere (an event's, a ticket type's, a product's) is kept. A Stripe customer object (`"object":
 * "customer"`) is one too, whatever key holds it.
 */
const PERSON_KEYS = new Set(['customer', 'customer_details', 'shipping', 'shipping_details', 'billing', 'billing_details', 'billing_address', 'shipping_address']);
/** Inside a person: objects that are a postal address, whose `city` / `state` go too. */
const ADDRESS_KEYS = new Set(['address', 'billing_address', 'shipping_address']);
/** Fields of a person (at any depth inside one) digested like first_name / last_name / zip. */
const PERSON_FIELDS = new Set(['name', 'full_name', 'address', 'address_line1', 'address_line2', 'address_line3', 'line1', 'line2', 'street', 'postal_code', 'postcode']);
/** Fields of a person's postal address; `city` of the customer itself is kept (README: a matching and segment field). */
const ADDRESS_FIELDS = new Set(['city', 'state']);
/** Digested wherever they sit (as in kept bodies since before the person scope: conversions' match keys). */
const NAME_FIELDS = new Set(['first_name', 'last_name', 'zip']);
/** Ids and keys are kept as sent, even if they look like an email: they are how events and persons are found. */
const ID_KEY = /(?:^|_)(?:id|key)$/i;

interface Scope {
  person: boolean;
  address: boolean;
}
const NO_SCOPE: Scope = { person: false, address: false };
const childScope = (s: Scope, key: string | null, own: boolean): Scope => {
  const person = s.person || own || (key !== null && PERSON_KEYS.has(key));
  return { person, address: person && (s.address || (key !== null && ADDRESS_KEYS.has(key))) };
};
const personField = (s: Scope, key: string) => NAME_FIELDS.has(key) || (s.person && (PERSON_FIELDS.has(key) || (s.address && ADDRESS_FIELDS.has(key))));
const DIGESTED = /^sha256:[0-9a-f]{64}$/;
/** What a name or address field keeps: `sha256:` and the digest of the trimmed, lower-cased value. */
const digestField = (v: string): string => (DIGESTED.test(v) ? v : `sha256:${sha256Hex(v.trim().toLowerCase())}`);

/**
 * The raw event with contact data hashed wherever it sits: every `email` / `phone` field, at any depth (the
 * registry's only such fields are payload.customer's, so valid events are unchanged otherwise; an event
 * that will be rejected keeps no clear contact data in its stored raw body either); names and postal
 * addresses of a person digested; email addresses (plain or percent-encoded, as in a URL) and phone-named
 * query parameters in any string but ids replaced (scrubText). Copy on write: the input is not modified and an
 * event without any of these is returned as is.
 */
export function protectRawEvent(ev: unknown, depth = 0): unknown {
  return protect(ev, depth, NO_SCOPE, null);
}

function protect(ev: unknown, depth: number, scope: Scope, key: string | null): unknown {
  if (typeof ev === 'string') return key !== null && ID_KEY.test(key) ? ev : scrubText(ev);
  if (depth > PROTECT_DEPTH || ev === null || typeof ev !== 'object') return ev;
  if (Array.isArray(ev)) {
    let out: unknown[] | null = null;
    ev.forEach((x, i) => {
      const y = protect(x, depth + 1, scope, null);
      if (y !== x) (out ??= [...ev])[i] = y;
    });
    return out ?? ev;
  }
  const obj = ev as Obj;
  let out: Obj | null = hashCustomer(obj);
  const base = out ?? obj;
  const own = childScope(scope, null, obj.object === 'customer');
  for (const [k, v] of Object.entries(base)) {
    let y: unknown;
    if ((typeof v === 'string' || typeof v === 'number') && personField(own, k)) y = digestField(String(v));
    else if (v !== null && typeof v === 'object') y = protect(v, depth + 1, childScope(own, k, false), k);
    else y = protect(v, depth + 1, own, k);
    if (y !== v) (out ??= { ...obj })[k] = y;
  }
  return out ?? ev;
}

/** Same rewrite on a normalised row, in place. */
export function protectRow(row: EventRow): void {
  const customer = hashCustomer(row.payload?.customer);
  if (customer) row.payload = { ...row.payload, customer };
}

/** An '@', or its percent-encoded form in a URL ('%40', '%2540' when the URL sits in another's query string). */
const AT = /@|%(?:25)?40/gi;
const DOMAIN = /[A-Z0-9-]{1,63}(?:\.[A-Z0-9-]{1,63}){0,8}\.[A-Z]{2,24}/iy;
const LOCAL_CHAR = /^[A-Za-z0-9._+-]$/;
const ESCAPE3 = /^%[0-9A-Fa-f]{2}$/;
const ESCAPE5 = /^%25[0-9A-Fa-f]{2}$/;

/**
 * The local part of an address ending at `at` (not before `from`): letters, digits and `._+-`, each as such
 * or percent-encoded (`%2B`, `%252B`). An escape of anything else (`%20`, `%3D`) ends it. [start, decoded].
 */
function localPart(text: string, at: number, from: number): [number, string] {
  let i = at;
  let local = '';
  while (i > from && local.length < 64) {
    const e3 = i - 3 >= from ? text.slice(i - 3, i) : '';
    const e5 = i - 5 >= from ? text.slice(i - 5, i) : '';
    let step: number;
    let ch: string;
    if (ESCAPE3.test(e3)) [step, ch] = [3, String.fromCharCode(parseInt(e3.slice(1), 16))];
    else if (ESCAPE5.test(e5)) [step, ch] = [5, String.fromCharCode(parseInt(e5.slice(3), 16))];
    else [step, ch] = [1, text[i - 1]];
    if (!LOCAL_CHAR.test(ch)) break;
    i -= step;
    local = ch + local;
  }
  return [i, local];
}

/**
 * Email addresses in text are replaced by `sha256:<digest>` (the digest of the address as a person row holds
 * it), also percent-encoded as in a URL's query string (`alice%40example.com`, `a%2Bb%40…`: the digest of
 * the decoded address). Linear on hostile input: only the few characters around each '@' are examined.
 */
export function scrubEmails(text: string): string {
  let out = '';
  let from = 0;
  AT.lastIndex = 0;
  for (let m = AT.exec(text); m !== null; m = AT.exec(text)) {
    const at = m.index;
    if (at < from) continue;
    DOMAIN.lastIndex = at + m[0].length;
    const domain = DOMAIN.exec(text);
    if (!domain) continue;
    const [start, local] = localPart(text, at, from);
    if (!local) continue;
    const end = DOMAIN.lastIndex;
    out += text.slice(from, start) + `sha256:${hashEmail(`${local}@${domain[0]}`)}`;
    from = end;
    AT.lastIndex = end;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * A URL query parameter named for a phone (`phone`, `tel`, `telephone`, `mobile`, `msisdn`, with an optional
 * `xxx_` prefix and `_number` / `_no` suffix, any case): its value, when it has a digit, is replaced by the
 * phone's digest. A phone in a path segment or under another parameter name is not recognised.
 */
const PHONE_PARAM = /([?&;#](?:[a-z0-9]+[_-])?(?:phone|tel|telephone|mobile|msisdn)(?:[_-]?(?:number|no))?=)([^&#;"'\s\\<>]*[0-9][^&#;"'\s\\<>]*)/gi;

const decodeParam = (v: string): string => {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
};
const phoneDigest = (v: string) => `sha256:${hashPhone(v) ?? sha256Hex(v.replace(/[^0-9]/g, ''))}`;

/** Email addresses (plain or percent-encoded) and phone-named query parameters of a string replaced by digests. */
export function scrubText(text: string): string {
  const s = scrubEmails(text);
  return s.includes('=') ? s.replace(PHONE_PARAM, (_m, name: string, v: string) => name + phoneDigest(decodeParam(v))) : s;
}

/** A JSON `"email"` / `"phone"` field with a string or number value, found in text whatever the body's shape. */
const CONTACT_FIELD = /"(email|phone)"(\s*:\s*)("(?:[^"\\\n]|\\.)*"|-?[0-9][0-9.eE+-]{0,40})/g;
/** An international phone number in free text: "+", then 7 to 15 digits with single separators between them. */
const PHONE_TEXT = /(?<![0-9A-Za-z.])\+[ ]?[0-9](?:[ .()-]{0,2}[0-9]){6,14}(?![0-9])/g;

const literalValue = (lit: string): string => {
  if (!lit.startsWith('"')) return lit;
  try {
    return String(JSON.parse(lit));
  } catch {
    // An invalid escape: hash what was sent between the quotes; the digest still stands in for it.
    return lit.slice(1, -1);
  }
};

/**
 * A body stored as sent (a rejected batch of the wrong shape, bad JSON, a server event refused before
 * validation) keeps no clear contact data: `"email"` / `"phone"` fields anywhere become `"email_sha256"` /
 * `"phone_sha256"` digests (the same digests a person row holds, so erasure finds the body by them), and
 * email addresses and "+"-prefixed phone numbers in free text become `sha256:<digest>`. Works on text, so
 * neither the shape nor the nesting depth of the body matters, and it is linear in the body's length.
 * Names and postal addresses inside objects describing a person become `sha256:<digest>` (scrubPersons, the
 * rule protectRawEvent applies to stored events), and so do percent-encoded addresses and phone-named query
 * parameters in URLs (scrubText). A phone number written without its "+" country prefix in free text cannot
 * be told from other numbers and is not recognised (README, GDPR).
 */
export function scrubBody(text: string): string {
  const fields = text
    .replace(CONTACT_FIELD, (_m, key: string, sep: string, lit: string) => {
      const v = literalValue(lit);
      const h = key === 'email' ? hashEmail(v) : hashPhone(v);
      return `"${key}_sha256"${sep}${h ? `"${h}"` : 'null'}`;
    })
    // As a stored event keeps them: names and postal codes only hashed (conversions' match keys), IPs truncated.
    .replace(NAME_FIELD, (_m, key: string, sep: string, lit: string) => `"${key}"${sep}"sha256:${sha256Hex(literalValue(lit).trim().toLowerCase())}"`)
    .replace(IP_FIELD, (_m, sep: string, lit: string) => {
      const ip = truncateIp(literalValue(lit).trim());
      return `"ip"${sep}${ip ? JSON.stringify(ip) : 'null'}`;
    });
  // A match too short for a phone digest once its zeros are dropped is still replaced, by the digest of its digits.
  return scrubText(scrubPersons(fields)).replace(PHONE_TEXT, phoneDigest);
}

/** Clear matching fields a stored event never keeps (conversions/match-keys.ts hashes and drops them). */
const NAME_FIELD = /"(first_name|last_name|zip)"(\s*:\s*)("(?:[^"\\\n]|\\.)*"|-?[0-9][0-9.eE+-]{0,40})/g;
/** A client IP, stored truncated (IPv4 /24, IPv6 /48) on accepted events (ingest/validate.ts). */
const IP_FIELD = /"ip"(\s*:\s*)("(?:[^"\\\n]|\\.)*")/g;
function sha256Hex(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

type OnOpen = (at: number, key: string | null) => void;
type OnValue = (key: string, start: number, end: number) => void;

/**
 * One pass over JSON-ish text, string-aware: `open` for each `{` / `[` (with the key it is the value of),
 * `close` for each `}` / `]`, `value` for each string or number that is a key's value. Tolerant of text that
 * is not JSON (nothing is thrown, an unterminated string runs to the end). Linear.
 */
function scanJson(text: string, open: OnOpen, close: () => void, value: OnValue): void {
  const n = text.length;
  let key: string | null = null;
  let i = 0;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (end < n && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end = Math.min(end + 1, n);
      let j = end;
      while (j < n && (text[j] === ' ' || text[j] === '\n' || text[j] === '\r' || text[j] === '\t')) j++;
      if (text[j] === ':') {
        key = end - i <= 66 ? literalValue(text.slice(i, end)) : '';
        i = j + 1;
        continue;
      }
      if (key !== null) value(key, i, end);
      key = null;
      i = end;
      continue;
    }
    if (c === '{' || c === '[') {
      open(i, key);
      key = null;
    } else if (c === '}' || c === ']') {
      close();
      key = null;
    } else if (key !== null && (c === '-' || (c >= '0' && c <= '9'))) {
      let j = i + 1;
      while (j < n && /[0-9.eE+-]/.test(text[j])) j++;
      value(key, i, j);
      key = null;
      i = j;
      continue;
    } else if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') key = null;
    i++;
  }
}

/**
 * protectRawEvent's person rule on text: names and postal addresses inside objects describing a person become
 * `sha256:<digest>`. Two passes: the first finds Stripe customer objects (`"object":"customer"` may follow
 * their `name`), the second digests.
 */
function scrubPersons(text: string): string {
  if (!text.includes('{')) return text;
  const starts: number[] = [];
  const customers = new Set<number>();
  scanJson(text, (at) => starts.push(at), () => starts.pop(), (key, s, e) => {
    if (key === 'object' && starts.length > 0 && literalValue(text.slice(s, e)) === 'customer') customers.add(starts[starts.length - 1]);
  });
  const scopes: Scope[] = [];
  const spans: [number, number][] = [];
  scanJson(
    text,
    (at, key) => scopes.push(childScope(scopes[scopes.length - 1] ?? NO_SCOPE, key, customers.has(at))),
    () => scopes.pop(),
    (key, s, e) => {
      const scope = scopes[scopes.length - 1];
      if (scope && scope.person && personField(scope, key)) spans.push([s, e]);
    },
  );
  if (spans.length === 0) return text;
  let out = '';
  let from = 0;
  for (const [s, e] of spans) {
    out += text.slice(from, s) + JSON.stringify(digestField(literalValue(text.slice(s, e))));
    from = e;
  }
  return out + text.slice(from);
}

/** Wraps an Ingest so every path into it (public ingest, server events, webhooks) hashes contact data first. */
export function protectPii(ingest: Ingest): Ingest {
  return {
    ingest: (events, req, opts) => ingest.ingest(events.map(protectRawEvent), req, opts),
    recordBadBody: (tenantId, body, error) => ingest.recordBadBody(tenantId, scrubBody(body), error),
    metrics: () => ingest.metrics(),
  };
}
