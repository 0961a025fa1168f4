// The per-tenant Stripe webhook signing secret (stored encrypted), the order a payment object belongs to,
// and stripe_objects in the GDPR registry.
import type { GdprRegistry } from '../../gdpr/registry.js';
import { idDigest, type Cipher } from '../../identity/crypto.js';
import type { Db, Queryable } from '../../store/db.js';
import { queries } from '../../store/queries.js';
import { iso, type Obj } from '../../store/rows.js';
import { metadataOrderId, relatedObjectIds } from './events.js';

const Q = queries('stripe.sql', [
  'get_secret', 'put_secret', 'delete_secret', 'tenant_exists', 'tenant_idempotency_salt', 'remember_stripe_objects', 'order_for_stripe_objects', 'delete_stripe_objects', 'export_stripe_objects',
]);

export const STRIPE_SECRET_NAME = 'stripe_webhook_secret';

export interface StripeStore {
  setSecret(tenantId: number, secret: string): Promise<{ hint: string; updated_at: string }>;
  /** The decrypted signing secret (cached briefly), null when none is configured. */
  secret(tenantId: number): Promise<string | null>;
  status(tenantId: number): Promise<{ configured: boolean; hint: string | null; updated_at: string | null }>;
  clearSecret(tenantId: number): Promise<boolean>;
  tenantExists(tenantId: number): Promise<boolean>;
  /**
   * The tenant's idempotency salt (migration 048), null when there is no such tenant: Stripe events are sent on
   * the server channel, whose derived ids the write key must not be able to compute. Cached: it never changes.
   */
  idSalt(tenantId: number): Promise<string | null>;
  /**
   * Order id from metadata, else from an earlier event about the same payment intent / charge; `objects` are the
   * Stripe ids to map to it (metadata only) once the event is stored: see remember. Writes nothing.
   */
  resolveOrder(q: Queryable, tenantId: number, obj: Obj): Promise<{ orderId: string; objects: string[] } | null>;
  /**
   * Maps Stripe objects to their order, after the event naming them was stored (a rejected event maps nothing),
   * and never for an order of an erased person (gdpr_erased_orders): a redelivery or a late event after the
   * erasure would otherwise link the next refund or dispute to the erased order again.
   */
  remember(q: Queryable, tenantId: number, objects: string[], orderId: string): Promise<void>;
}

const aad = (tenantId: number) => `tenant:${tenantId}:${STRIPE_SECRET_NAME}`;

export function createStripeStore(db: Db, cipher: Cipher, cacheMs = 30_000): StripeStore {
  const cache = new Map<number, { value: string | null; expires: number }>();
  const salts = new Map<number, string>();
  return {
    async setSecret(tenantId, secret) {
      const hint = `${secret.slice(0, 6)}…${secret.slice(-4)}`;
      const ciphertext = cipher.encrypt(secret, aad(tenantId));
      const { rows } = await db.query<{ updated_at: Date }>(Q.put_secret, [tenantId, STRIPE_SECRET_NAME, ciphertext, hint]);
      cache.delete(tenantId);
      return { hint, updated_at: iso(rows[0].updated_at) };
    },
    async secret(tenantId) {
      const hit = cache.get(tenantId);
      if (hit && hit.expires > Date.now()) return hit.value;
      const { rows } = await db.query<{ ciphertext: string }>(Q.get_secret, [tenantId, STRIPE_SECRET_NAME]);
      const value = rows.length ? cipher.decrypt(rows[0].ciphertext, aad(tenantId)) : null;
      if (cache.size > 10_000) cache.clear();
      cache.set(tenantId, { value, expires: Date.now() + cacheMs });
      return value;
    },
    async status(tenantId) {
      const { rows } = await db.query<{ hint: string; updated_at: Date }>(Q.get_secret, [tenantId, STRIPE_SECRET_NAME]);
      return rows.length ? { configured: true, hint: rows[0].hint, updated_at: iso(rows[0].updated_at) } : { configured: false, hint: null, updated_at: null };
    },
    async clearSecret(tenantId) {
      const { rows } = await db.query<{ n: number }>(Q.delete_secret, [tenantId, STRIPE_SECRET_NAME]);
      cache.delete(tenantId);
      return rows[0].n > 0;
    },
    async tenantExists(tenantId) {
      const { rows } = await db.query(Q.tenant_exists, [tenantId]);
      return rows.length > 0;
    },
    async idSalt(tenantId) {
      const hit = salts.get(tenantId);
      if (hit !== undefined) return hit;
      const { rows } = await db.query<{ idempotency_salt: string }>(Q.tenant_idempotency_salt, [tenantId]);
      if (rows.length === 0) return null;
      if (salts.size > 10_000) salts.clear();
      salts.set(tenantId, rows[0].idempotency_salt);
      return rows[0].idempotency_salt;
    },
    async resolveOrder(q, tenantId, obj) {
      const ids = relatedObjectIds(obj);
      const fromMetadata = metadataOrderId(obj);
      if (fromMetadata) return { orderId: fromMetadata, objects: ids };
      if (ids.length === 0) return null;
      const { rows } = await q.query<{ order_id: string }>(Q.order_for_stripe_objects, [tenantId, ids]);
      return rows.length ? { orderId: rows[0].order_id, objects: [] } : null;
    },
    async remember(q, tenantId, objects, orderId) {
      if (objects.length) await q.query(Q.remember_stripe_objects, [tenantId, objects, orderId, idDigest(tenantId, 'order', orderId)]);
    },
  };
}

/** stripe_objects maps Stripe ids to the person's orders; tenant_secrets holds only encrypted signing secrets. */
export function registerStripeTables(registry: GdprRegistry): void {
  registry.table({
    name: 'stripe_objects',
    tables: ['stripe_objects'],
    phase: 'rows',
    async erase(q, ids) {
      const n = ids.orderIds.length ? (await q.query<{ n: number }>(Q.delete_stripe_objects, [ids.tenantId, ids.orderIds])).rows[0].n : 0;
      return { removed: n, touched: n ? ['stripe_objects'] : [] };
    },
    export: async (q, ids) => (ids.orderIds.length ? (await q.query(Q.export_stripe_objects, [ids.tenantId, ids.orderIds])).rows : []),
  });
  registry.none(['tenant_secrets'], 'tenant settings: encrypted webhook signing secrets');
}
