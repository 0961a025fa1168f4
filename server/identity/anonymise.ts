// What is left of an event that belongs to an erased person's past and arrives after the erasure (an SDK's
// offline queue, a retried webhook): kept for counts and funnels, with nothing that points back at the
// person or lets an ad platform match them. The context is rebuilt from a list of what aggregates read,
// not cleaned of known identifiers: a pixel cookie (`fbp`, `ttp`, `_ga`…) or a tenant's own field would
// otherwise survive by having a name nobody listed.
import type { EventRow } from '../store/events.js';
import { isObj, type Obj } from '../store/rows.js';

/** Campaign-level UTM keys; `utm_term` / `utm_content` are free text a sender can make per-recipient. */
const UTM_KEYS = ['source', 'medium', 'campaign'];
const PAGE_KEYS = ['path', 'page_type', 'title'];
const PLAIN_KEYS = ['locale', 'screen', 'library', 'device', 'clock_skew_ms', 'is_bot'];
/** Entities that name the person's own session objects rather than the catalog's or the tenant's records. */
const PERSONAL_ENTITIES = ['cart_id'];

/** An URL without its query and fragment (where click ids such as `?fbclid=` and e-mail tracking tokens sit). */
export function bareUrl(u: unknown): string | undefined {
  if (typeof u !== 'string' || u.length === 0) return undefined;
  const cut = u.search(/[?#]/);
  return cut === -1 ? u : u.slice(0, cut);
}

function pick(from: unknown, keys: readonly string[]): Obj | undefined {
  if (!isObj(from)) return undefined;
  const out: Obj = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The context an anonymised event keeps. Pure. */
export function anonymousContext(context: unknown): Obj {
  const c = isObj(context) ? context : {};
  const out: Obj = {};
  const page = pick(c.page, PAGE_KEYS);
  const url = isObj(c.page) ? bareUrl(c.page.url) : undefined;
  if (page || url) out.page = { ...page, ...(url ? { url } : {}) };
  const referrer = bareUrl(c.referrer);
  if (referrer) out.referrer = referrer;
  const utm = pick(c.utm, UTM_KEYS);
  if (utm) out.utm = utm;
  for (const k of PLAIN_KEYS) if (c[k] !== undefined) out[k] = c[k];
  out.anonymised = true;
  return out;
}

/** Payload fields that name a person: the buyer, and a ticket's holder (`beneficiary_id`). */
const PERSONAL_PAYLOAD = ['customer', 'customer_external_id', 'beneficiary_id'];

/**
 * Strips what identifies a visitor or a customer from `r` (in place: the writer's enricher owns the row).
 * `alsoEntities`: entities to drop as well (the order id of an erased order: only its digest may remain).
 */
export function anonymise(r: EventRow, alsoEntities: readonly string[] = []): void {
  r.visitor_id = null;
  r.session_id = null;
  r.prev_event_id = null;
  r.person_id = null;
  r.context = anonymousContext(r.context);
  const drop = [...PERSONAL_ENTITIES, ...alsoEntities];
  if (isObj(r.entities) && drop.some((k) => k in r.entities)) {
    const entities = { ...r.entities };
    for (const k of drop) delete entities[k];
    r.entities = entities;
  }
  if (isObj(r.payload) && PERSONAL_PAYLOAD.some((k) => k in r.payload)) {
    const payload = { ...r.payload };
    for (const k of PERSONAL_PAYLOAD) delete payload[k];
    r.payload = payload;
  }
}
