// audiences.fit: refits each tenant's `fitted` model from its past events' actual buyers, daily. Per past event
// (the newest FIT_EVENTS that sold tickets) one set-based statement returns the buyers and a hashed sample of
// the other consented persons, weighted back by the sampling rate; events are split by a stable hash into
// training and held-out sets, and the held-out log-loss / AUC of both models is stored with the weights and the
// fit's status: it replaces seed_v1 only when assessFit (fit.ts) finds enough held-out events and a lower
// held-out log-loss than seed_v1's; otherwise it is stored and shown with the reason, and seed_v1 stays in use.
// Known limit (README "Audiences"): the features are today's feature-store values, which already contain the
// purchases being predicted, so held-out quality is optimistic; an as-of feature snapshot would remove that.
import type { Logger } from 'pino';
import type { Job } from '../jobs/index.js';
import { fitAndAssess, isHeldOut, type Example, type FitStatus } from './fit.js';
import type { AudienceStore } from './store.js';

export const FIT_EVENTS = 50;
/** About this many non-buyers per event enter the training set, whatever the tenant's size. */
export const NON_BUYERS_PER_EVENT = 2000;

export interface FitReport {
  tenant: number;
  fitted: boolean;
  /** With a stored fit: whether it is used instead of seed_v1. */
  status?: FitStatus;
  reason?: string | null;
}

/** Fits one tenant; when it cannot (no past event with buyers, no training buyers or non-buyers) the reason is
 *  stored as the tenant's last attempt (GET /api/v1/audience/model, the 409 of `model: "fitted"`) and returned. */
export async function fitTenant(store: AudienceStore, tenantId: number, now: Date, signal?: AbortSignal): Promise<FitReport> {
  const r = await tryFit(store, tenantId, now, signal);
  if (!r.fitted) await store.putFitAttempt(tenantId, r.reason ?? 'no fit', now);
  return r;
}

async function tryFit(store: AudienceStore, tenantId: number, now: Date, signal?: AbortSignal): Promise<FitReport> {
  const events = await store.pastEvents(tenantId, now, FIT_EVENTS);
  if (events.length === 0) return { tenant: tenantId, fitted: false, reason: 'no past event (took place, not cancelled) with buyers' };
  const consented = await store.consentedCount(tenantId);
  const slots = Math.max(1, Math.min(1024, Math.ceil((1024 * NON_BUYERS_PER_EVENT) / Math.max(consented, 1))));
  const train: Example[] = [];
  const test: Example[] = [];
  const used = { train: 0, test: 0 };
  for (const eventId of events) {
    signal?.throwIfAborted();
    const h = await store.eventHypothesis(tenantId, eventId, '');
    if (!h || h === 'no_category') continue;
    const rows = await store.fitRows(tenantId, h.hypothesis, eventId, now, slots);
    const into = isHeldOut(eventId) ? test : train;
    used[into === test ? 'test' : 'train']++;
    for (const r of rows) into.push({ x: r.x, y: r.y, w: r.y ? 1 : 1024 / slots });
  }
  // Too few events for a held-out set: test on nothing rather than on the training rows (and then the fit is
  // stored as insufficient_holdout, not used).
  if (!train.some((e) => e.y === 1) || !train.some((e) => e.y === 0)) return { tenant: tenantId, fitted: false, reason: noTrainingReason(train, used) };
  const { model, fit } = fitAndAssess(train, test, await store.seed(tenantId), { train: used.train, held_out: used.test }, 1024 / slots);
  await store.putFitted(tenantId, model, { ...fit }, now);
  return { tenant: tenantId, fitted: true, status: fit.status, reason: fit.reason };
}

/** Why the training set cannot be fitted: which side is missing, said in the user's terms. */
function noTrainingReason(train: Example[], used: { train: number; test: number }): string {
  const events = `${used.train + used.test} past event${used.train + used.test === 1 ? '' : 's'} with buyers`;
  if (used.train === 0) return `the training events need buyers and non-buyers: all ${events} fell in the held-out set (about one in five does), none is left to train on`;
  if (!train.some((e) => e.y === 1)) return `the training events need buyers and non-buyers: no buyer of the ${used.train} training event${used.train === 1 ? '' : 's'} has marketing consent (only consented persons are used)`;
  return `the training events need buyers and non-buyers: no consented person other than the buyers of the ${used.train} training event${used.train === 1 ? '' : 's'}`;
}

export function fitJob(store: AudienceStore, log: Logger): Job {
  return {
    name: 'audiences.fit',
    schedule: { daily: '04:00', tz: 'UTC' },
    timeoutS: 3600,
    async run(ctx) {
      const now = new Date(ctx.now());
      let fitted = 0;
      for (const t of await store.fitTenants(now)) {
        ctx.signal.throwIfAborted();
        const r = await fitTenant(store, t, now, ctx.signal);
        if (r.fitted) fitted++;
        if (!r.fitted) log.info({ tenant_id: t, reason: r.reason }, 'no fitted model for this tenant');
        else if (r.status !== 'in_use') log.info({ tenant_id: t, status: r.status, reason: r.reason }, 'fitted model stored, not used: seed_v1 stays in use');
      }
      return fitted;
    },
  };
}
