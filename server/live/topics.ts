// Topic names and who may read them. Pure.
//   analytics:event:{event_id}            funnel + capacity (organizer of the event, tenant)
//   analytics:event:{event_id}:capacity   capacity only (gate staff of the event, organizer, tenant)
//   analytics:dashboard:{org_id}          the organizer's roll-up (that organizer, tenant)
import type { Scope } from './token.js';

export type Topic = { kind: 'event'; event: string } | { kind: 'capacity'; event: string } | { kind: 'dashboard'; org: string };

const EVENT = 'analytics:event:';
const DASH = 'analytics:dashboard:';
const CAP = ':capacity';
const ID_RE = /^[^\u0000-\u001f\u007f]{1,128}$/;

export function parseTopic(name: unknown): Topic | null {
  if (typeof name !== 'string' || name.length > 200) return null;
  if (name.startsWith(DASH)) {
    const org = name.slice(DASH.length);
    return ID_RE.test(org) ? { kind: 'dashboard', org } : null;
  }
  if (name.startsWith(EVENT)) {
    const rest = name.slice(EVENT.length);
    if (rest.endsWith(CAP)) {
      const event = rest.slice(0, -CAP.length);
      return ID_RE.test(event) ? { kind: 'capacity', event } : null;
    }
    return ID_RE.test(rest) ? { kind: 'event', event: rest } : null;
  }
  return null;
}

export function topicName(t: Topic): string {
  return t.kind === 'dashboard' ? DASH + t.org : t.kind === 'capacity' ? EVENT + t.event + CAP : EVENT + t.event;
}

/** The key a topic has inside this server (tenants never share one): `{tenant}|{topic}`. */
export const topicKey = (tenant: number, t: Topic): string => `${tenant}|${topicName(t)}`;

/**
 * Whether `scope` may read `topic`. `organizerOf` gives the organizer the live state knows for an event
 * (null or undefined when unknown): an organizer only sees events that are known to be theirs.
 */
export function allowed(scope: Scope, topic: Topic, organizerOf: (tenant: number, event: string) => string | null | undefined): boolean {
  switch (scope.role) {
    case 'tenant':
      return true;
    case 'organizer':
      if (topic.kind === 'dashboard') return topic.org === scope.org;
      return organizerOf(scope.tenant, topic.event) === scope.org;
    case 'gate':
      return topic.kind === 'capacity' && scope.events.includes(topic.event);
  }
}
