// tracking_codes in the store (migration 011): rows, their API view (secrets never leave as values, only as
// has_* flags) and the resolution for a page. The secrets are AES-256-GCM under ENCRYPTION_KEY, bound (AAD) to
// the code's tenant, provider and owner, which never change.
import type { Cipher } from '../identity/crypto.js';
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull } from '../store/rows.js';
import { CONSENT, ownerOf, type ConsentCategory, type Owner, type Provider, type Settings } from './validate.js';
import type { Delivery } from './delivery.js';

export type { Delivery };

const QC = queries('conversions.sql', ['code_delivery']);
const Q = queries('tracking.sql', ['insert_code', 'existing_code', 'get_code', 'update_code', 'delete_code', 'list_codes', 'resolve_codes', 'codes_version', 'page_organizer']);

export interface TrackingCodeRow {
  id: number;
  tenant_id: number;
  organizer_id: string | null;
  event_id: string | null;
  provider: Provider;
  enabled: boolean;
  settings: Settings & Record<string, unknown>;
  /** AES-256-GCM of {"access_token"?,"api_secret"?}; decryptSecrets() reads it. */
  secrets_enc: string | null;
  owner: Owner;
  created_at: string;
  updated_at: string;
}

export type Secrets = Partial<Record<'access_token' | 'api_secret', string>>;

export interface TrackingCodeView {
  id: number;
  provider: Provider;
  organizer_id: string | null;
  event_id: string | null;
  owner: Owner;
  enabled: boolean;
  consent: ConsentCategory;
  settings: Settings;
  has_access_token: boolean;
  has_api_secret: boolean;
  created_at: string;
  updated_at: string;
  /** The code's server-side destination (GET only; README "Tracking codes"). */
  delivery?: Delivery;
}

const aad = (tenant: number, c: { provider: string; organizer_id: string | null; event_id: string | null }) =>
  `tracking_code:${tenant}:${c.provider}:${c.organizer_id ?? ''}:${c.event_id ?? ''}`;

export function encryptSecrets(cipher: Cipher, tenant: number, c: { provider: string; organizer_id: string | null; event_id: string | null }, s: Secrets | null): string | null {
  return s === null ? null : cipher.encrypt(JSON.stringify(s), aad(tenant, c));
}

/** The code's secrets in plaintext (for the conversions dispatcher); {} when it has none. Throws if the key changed. */
export function decryptSecrets(cipher: Cipher, row: Pick<TrackingCodeRow, 'tenant_id' | 'provider' | 'organizer_id' | 'event_id' | 'secrets_enc'>): Secrets {
  return row.secrets_enc ? (JSON.parse(cipher.decrypt(row.secrets_enc, aad(row.tenant_id, row))) as Secrets) : {};
}

function toRow(tenant: number, r: Record<string, unknown>): TrackingCodeRow {
  const settings = (typeof r.settings === 'string' ? JSON.parse(r.settings) : r.settings) as TrackingCodeRow['settings'];
  const base = { organizer_id: (r.organizer_id as string | null) ?? null, event_id: (r.event_id as string | null) ?? null };
  return {
    id: Number(r.id),
    tenant_id: tenant,
    ...base,
    provider: r.provider as Provider,
    enabled: r.enabled === true,
    settings,
    secrets_enc: (r.secrets_enc as string | null) ?? null,
    owner: (r.owner as Owner | undefined) ?? ownerOf(base),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

/**
 * The code's secrets, or {} when they cannot be read: the view's has_* flags, and the old secrets a PUT merges its
 * new ones into (after an ENCRYPTION_KEY change the old ones are unreadable: setting them again must work, where it
 * answered 500).
 */
export function readableSecrets(cipher: Cipher, row: TrackingCodeRow): Secrets {
  try {
    return cipher.available ? decryptSecrets(cipher, row) : {};
  } catch {
    // Unreadable secrets (encrypted under another ENCRYPTION_KEY, or a ciphertext that no longer authenticates
    // against the code's tenant, provider and owner) are unusable, so this view shows them as absent. Nothing is
    // logged here on purpose: this runs on every read of the code (each GET and list page) and the module's logger
    // does not reach it; the condition is reported where it has an effect, by the conversions dispatcher, which
    // refuses the code's conversions with "the code's secrets cannot be read: <why>" (conversions/index.ts), seen
    // as this code's delivery.last_error. cipher.decrypt and JSON.parse of authenticated plaintext are all that
    // can throw here.
    return {};
  }
}

/** The API view: which secrets the code holds as has_* flags, never their values. */
export function viewOf(row: TrackingCodeRow, cipher: Cipher): TrackingCodeView {
  const secrets = readableSecrets(cipher, row);
  return {
    id: row.id,
    provider: row.provider,
    organizer_id: row.organizer_id,
    event_id: row.event_id,
    owner: row.owner,
    enabled: row.enabled,
    consent: CONSENT[row.provider],
    settings: row.settings,
    has_access_token: secrets.access_token !== undefined,
    has_api_secret: secrets.api_secret !== undefined,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export interface ListFilter {
  /** null: the whole tenant; else the organizers and events the key covers. */
  scope: { organizers: string[]; events: string[] } | null;
  organizer_id: string | null;
  event_id: string | null;
  provider: Provider | null;
  owner: Owner | null;
  after: number | null;
  limit: number;
}

export const trackingStore = {
  async insert(q: Queryable, tenant: number, c: { organizer_id: string | null; event_id: string | null; provider: Provider; enabled: boolean; settings: Settings; secrets_enc: string | null }): Promise<TrackingCodeRow | { exists: number }> {
    const { rows } = await q.query<Record<string, unknown>>(Q.insert_code, [tenant, c.organizer_id, c.event_id, c.provider, c.enabled, JSON.stringify(c.settings), c.secrets_enc]);
    if (rows.length) return toRow(tenant, rows[0]);
    const found = await q.query<{ id: string }>(Q.existing_code, [tenant, c.organizer_id, c.event_id, c.provider]);
    return { exists: Number(found.rows[0]?.id ?? 0) };
  },
  async get(q: Queryable, tenant: number, id: number): Promise<TrackingCodeRow | null> {
    const { rows } = await q.query<Record<string, unknown>>(Q.get_code, [tenant, id]);
    return rows.length ? toRow(tenant, rows[0]) : null;
  },
  async update(q: Queryable, tenant: number, id: number, c: { enabled: boolean; settings: Settings; secrets_enc: string | null }): Promise<TrackingCodeRow | null> {
    const { rows } = await q.query<Record<string, unknown>>(Q.update_code, [tenant, id, c.enabled, JSON.stringify(c.settings), c.secrets_enc]);
    return rows.length ? toRow(tenant, rows[0]) : null;
  },
  async remove(q: Queryable, tenant: number, id: number): Promise<TrackingCodeRow | null> {
    const { rows } = await q.query<Record<string, unknown>>(Q.delete_code, [tenant, id]);
    return rows.length ? toRow(tenant, rows[0]) : null;
  },
  async list(q: Queryable, tenant: number, f: ListFilter): Promise<TrackingCodeRow[]> {
    const { rows } = await q.query<Record<string, unknown>>(Q.list_codes, [
      tenant, f.scope === null, f.scope?.organizers ?? [], f.scope?.events ?? [], f.organizer_id, f.event_id, f.provider, f.owner, f.after, f.limit,
    ]);
    return rows.map((r) => toRow(tenant, r));
  },
  /** The delivery of the codes `ids` (one query); a code without conversion rows is ok with zero counts. */
  async delivery(q: Queryable, tenant: number, ids: number[]): Promise<Map<number, Delivery>> {
    const out = new Map<number, Delivery>();
    if (ids.length === 0) return out;
    const { rows } = await q.query<Record<string, unknown>>(QC.code_delivery, [tenant, ids]);
    for (const r of rows) {
      out.set(Number(r.code_id), {
        status: r.status === 'held' ? 'held' : 'ok',
        held_reason: (r.held_reason as string | null) ?? null,
        held_since: isoOrNull(r.held_since),
        pending: Number(r.pending),
        failing: Number(r.failing),
        dead_24h: Number(r.dead_24h),
        last_error: (r.last_error as string | null) ?? null,
        last_sent_at: isoOrNull(r.last_sent_at),
      });
    }
    return out;
  },
  async version(q: Queryable, tenant: number): Promise<string> {
    const { rows } = await q.query<{ v: string }>(Q.codes_version, [tenant]);
    return String(rows[0]?.v ?? '');
  },
  /**
   * The organizer of an event page, fresh from the store: the catalog's, else the live owner, else (an event
   * neither knows yet) the organizer its own codes all name; null otherwise. A code of organizer A for an event
   * the catalog gives B is never what names it.
   */
  async pageOrganizer(q: Queryable, tenant: number, eventId: string): Promise<string | null> {
    const { rows } = await q.query<{ organizer_id: string | null }>(Q.page_organizer, [tenant, eventId]);
    return rows[0]?.organizer_id ?? null;
  },
};

const OWNER_ORDER: Record<Owner, number> = { event: 0, organizer: 0, marketplace: 1 };

/**
 * The enabled codes that apply to a page (seed 002 §1.2): per provider the event's own code, else the
 * organizer's default (organizerId null: none), plus the marketplace's codes; the organizer's first.
 * For the conversions dispatcher too: `secrets_enc` is returned as stored (decryptSecrets reads it).
 */
export async function resolveCodes(q: Queryable, tenantId: number, who: { organizerId: string | null; eventId: string | null }): Promise<TrackingCodeRow[]> {
  const { rows } = await q.query<Record<string, unknown>>(Q.resolve_codes, [tenantId, who.organizerId, who.organizerId === null ? null : who.eventId]);
  return rows.map((r) => toRow(tenantId, r)).sort((a, b) => OWNER_ORDER[a.owner] - OWNER_ORDER[b.owner] || a.provider.localeCompare(b.provider));
}
