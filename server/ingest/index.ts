// Ingest: raw envelopes in, per-event outcomes out. Valid events and the raw bodies of invalid ones go to the
// durable sink together; consent refusals are only counted. Outcomes are values, never exceptions.
import type { Logger } from 'pino';
import type { Limits } from '../config/index.js';
import type { Db } from '../store/db.js';
import { eventKey, type EventRow, type EventStore, type HeldOrder, type RejectedRow } from '../store/events.js';
import type { EventSink } from './writer.js';
import { walkShape, type EventOutcome, type FieldError, type RequestContext, type Validation } from './validate.js';

export interface RejectedItem {
  index: number;
  event_id: string | null;
  errors: FieldError[];
}

/** Something about an event that was kept (or was a duplicate) but will not count the way the sender may expect. */
export interface IngestWarning {
  index: number;
  event_id: string;
  code: 'bot_user_agent' | 'event_id_replaced' | 'order_already_stored';
  field: string;
  message: string;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: RejectedItem[];
  /** Valid events of this request flagged as bots (stored, excluded from live funnels); one warning each. */
  flagged_bots: number;
  warnings: IngestWarning[];
}

export interface IngestMetrics {
  accepted: number;
  duplicates: number;
  rejected: number;
  consent_refused: number;
  spooled: number;
  bots: number;
  rejected_by_code: Record<string, number>;
}

export interface Ingest {
  /**
   * `refused[i]`: event i is rejected with that error without being validated (a caller's own rule, e.g. a server
   * event's source on /api/v1/server-events), and kept like any rejection: raw JSON as it reached here (contact
   * data hashed by the wrappers), scrubbed, with its event_id and event_name.
   */
  ingest(events: unknown[], req: RequestContext, opts?: { dryRun?: boolean; refused?: readonly (FieldError | null | undefined)[] }): Promise<IngestResult>;
  /** Keeps a whole body that could not be parsed as events (bad JSON, wrong shape) in the rejected table. */
  recordBadBody(tenantId: number, body: string, error: FieldError): Promise<void>;
  metrics(): IngestMetrics;
}

export interface IngestDeps {
  validation: Validation;
  sink: EventSink;
  db: Db;
  events: EventStore;
  limits: Limits;
  log: Logger;
  /**
   * Rewrites a rejected event's raw JSON before it is kept (identity/pii.ts scrubBody: contact data in free
   * text becomes digests, as in bodies kept whole). Identity by default.
   */
  scrubRejected?: (raw: string) => string;
}

/** An event's JSON as kept when rejected; one nested deeper than the validator allows is not kept (a placeholder). */
function rawJson(ev: unknown): string {
  const e = walkShape(ev).error;
  return e?.code === 'too_deep' ? JSON.stringify(`<not kept: ${e.message.toLowerCase().replace(/\.$/, '')}>`) : (JSON.stringify(ev) ?? 'null');
}

/**
 * A rejected event's raw JSON (scrubbed) as kept: whole when the event as sent is within MAX_EVENT_BYTES, else
 * its first MAX_EVENT_BYTES bytes (cut at a character, so never a broken one) and a marker saying how large it
 * was. A write key could otherwise keep events of any size up to MAX_BODY_BYTES (a rejected event was stored
 * whole) while a good event is bounded. `sent`: the raw JSON before scrubbing, whose size the marker states.
 */
export function keptRaw(text: string, sent: string, maxBytes: number): string {
  // At most 3 UTF-8 bytes per UTF-16 unit: most events need no counting.
  if (sent.length * 3 <= maxBytes && text.length * 3 <= maxBytes) return text;
  const sentBytes = Buffer.byteLength(sent);
  if (sentBytes <= maxBytes) return text;
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let end = maxBytes;
  // Back to the first byte of the character the cut falls in (continuation bytes are 10xxxxxx).
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  return `${buf.subarray(0, end).toString('utf8')}…<truncated: the event is ${sentBytes} bytes; only its first ${maxBytes} (MAX_EVENT_BYTES) are kept>`;
}

const clean = (v: unknown, max: number): string | null =>
  typeof v === 'string' && v.isWellFormed() && !v.includes('\u0000') ? v.slice(0, max) : null;

export function createIngest(deps: IngestDeps): Ingest {
  const { validation, sink, limits } = deps;
  const m: IngestMetrics = { accepted: 0, duplicates: 0, rejected: 0, consent_refused: 0, spooled: 0, bots: 0, rejected_by_code: {} };

  return {
    async ingest(raw, req, opts = {}) {
      const rows: EventRow[] = [];
      const rowIndex: number[] = [];
      const rejectedRows: RejectedRow[] = [];
      const rejected: RejectedItem[] = [];
      const receivedAt = req.receivedAt.toISOString();

      raw.forEach((ev, index) => {
        const pre = opts.refused?.[index];
        const out: EventOutcome = pre ? { kind: 'rejected', errors: [pre], store: true, raw: rawJson(ev) } : validation.check(ev, req, limits);
        if (out.kind === 'ok') {
          rows.push(out.row);
          rowIndex.push(index);
          return;
        }
        const rawId = (ev as { event_id?: unknown } | null)?.event_id;
        const eventId = clean(rawId, 64);
        rejected.push({ index, event_id: eventId, errors: out.errors });
        // A dry run (POST /api/tx/validate) stores nothing and counts nothing.
        if (opts.dryRun) return;
        for (const e of out.errors) m.rejected_by_code[e.code] = (m.rejected_by_code[e.code] ?? 0) + 1;
        if (!out.store) {
          m.consent_refused++;
          return;
        }
        m.rejected++;
        rejectedRows.push({
          tenant_id: req.tenantId,
          event_id: eventId,
          event_name: clean((ev as { event_name?: unknown } | null)?.event_name, 100),
          // Scrubbed whole before any cut, so no contact data is kept half hashed at the cut.
          raw_body: keptRaw(deps.scrubRejected ? deps.scrubRejected(out.raw) : out.raw, out.raw, limits.maxEventBytes),
          reasons: out.errors,
          received_at: receivedAt,
        });
      });

      let fresh: boolean[];
      let held: (HeldOrder | undefined)[] = [];
      if (opts.dryRun) {
        const known = await deps.events.knownIds(deps.db, req.tenantId, rows.map((r) => r.event_id)).catch((err: Error) => {
          deps.log.warn({ err: err.message }, 'validate: duplicate lookup skipped, store unavailable');
          return new Set<string>();
        });
        const seen = new Set<string>();
        fresh = rows.map((r) => {
          const k = eventKey(r.tenant_id, r.event_id);
          const f = !known.has(r.event_id) && !seen.has(k);
          seen.add(k);
          return f;
        });
      } else if (rows.length > 0 || rejectedRows.length > 0) {
        const res = await sink.append({ events: rows, rejected: rejectedRows });
        fresh = res.fresh;
        held = res.held ?? [];
        if (res.spooled) m.spooled += rows.length;
      } else {
        fresh = [];
      }

      const accepted = fresh.filter(Boolean).length;
      if (!opts.dryRun) {
        m.accepted += accepted;
        m.duplicates += fresh.length - accepted;
        m.bots += rows.filter((r, i) => fresh[i] && r.is_bot).length;
      }
      rejected.sort((a, b) => a.index - b.index);
      const warnings: IngestWarning[] = [];
      rows.forEach((r, i) => {
        // idempotency_key decides the stored id (SPEC: server events map it to a deterministic id, so a retry
        // carrying a new random event_id is still a duplicate): say so when an event_id was sent as well.
        const sent = clean((raw[rowIndex[i]] as { event_id?: unknown } | null)?.event_id, 64);
        if (r.idempotency_key !== null && sent !== null && sent.toLowerCase() !== r.event_id) {
          warnings.push({
            index: rowIndex[i],
            event_id: r.event_id,
            code: 'event_id_replaced',
            field: 'event_id',
            message: `${opts.dryRun ? 'Would be stored' : 'Stored'} as event_id ${r.event_id}, the id derived from idempotency_key ${JSON.stringify(r.idempotency_key.slice(0, 120))}, not the event_id ${JSON.stringify(sent)} sent: retries with the same key are duplicates whatever event_id they carry. Send event_id alone to keep your own id.`,
          });
        }
        const order = held[i];
        if (order) {
          const by = order.held_by === null ? 'by another event' : `as event_id ${order.held_by}`;
          warnings.push({
            index: rowIndex[i],
            event_id: r.event_id,
            code: 'order_already_stored',
            field: 'entities.order_id',
            message: `Not stored (a duplicate): ${r.event_name} of order ${JSON.stringify(order.order_id.slice(0, 128))} is already stored ${by}. An order is one event: a re-sent order is a duplicate whatever its event_id or occurred_at, and the first one stored counts.`,
          });
        }
        // A duplicate was not stored again (its first copy was answered already), and a validation stores nothing.
        if (!r.is_bot || !fresh[i]) return;
        const ua = typeof r.context.user_agent === 'string' ? r.context.user_agent.slice(0, 120) : '';
        warnings.push({
          index: rowIndex[i],
          event_id: r.event_id,
          code: 'bot_user_agent',
          field: 'context.user_agent',
          message: `${opts.dryRun ? 'Would be stored' : 'Stored'}, but flagged as a bot by its user agent ${JSON.stringify(ua)}: it is excluded from live funnels and dashboards. Real browsers and apps are not flagged; scripts and tests should send the visitor's own User-Agent (or context.user_agent).`,
        });
      });
      return { accepted, duplicates: fresh.length - accepted, rejected, flagged_bots: warnings.filter((w) => w.code === 'bot_user_agent').length, warnings };
    },

    async recordBadBody(tenantId, body, error) {
      m.rejected++;
      m.rejected_by_code[error.code] = (m.rejected_by_code[error.code] ?? 0) + 1;
      await sink.append({
        events: [],
        rejected: [{ tenant_id: tenantId, event_id: null, event_name: null, raw_body: body, reasons: [error], received_at: new Date().toISOString() }],
      });
    },

    metrics: () => ({ ...m, rejected_by_code: { ...m.rejected_by_code } }),
  };
}
