// The permissions a funnel-like body needs beyond its route's: amounts (view_revenue) and customers' identities
// (view_persons) read through a breakdown or a filter. Funnels and experiment results refuse alike.
import { can, type Principal } from '../authz/principal.js';
import type { Overrides } from '../authz/roles.js';
import { fail } from '../http/errors.js';
import { MONEY } from '../ingest/registry.js';
import { moneyField, personalField, type FunnelSpec, type Step } from './spec.js';

type Body = { steps: Step[]; breakdown?: FunnelSpec['breakdown'] };

/** 403 naming the first field that reads what `who` may not see, or null. `bodies` with their field prefixes. */
export function readsRefusal(bodies: [Body, string][], who: Principal, overrides: Overrides): ReturnType<typeof fail> | null {
  for (const [body, at] of bodies) {
    const money = moneyField(body, MONEY, at);
    if (money !== null && !can(who, 'view_revenue', overrides)) {
      return fail('forbidden', `${money} reads an amount: this key or token also needs view_revenue.`, { permission: 'view_revenue', role: who.role, field: money });
    }
    const personal = personalField(body, at);
    if (personal !== null && !can(who, 'view_persons', overrides)) {
      return fail('forbidden', `${personal} reads a customer's identity: this key or token also needs view_persons.`, { permission: 'view_persons', role: who.role, field: personal });
    }
  }
  return null;
}
