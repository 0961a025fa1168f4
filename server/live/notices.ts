// Notices on a live topic (README "Topics" → notices): a one-off message, not state, such as a campaign budget
// below 20 % on its organizer's dashboard. The node that has one (the job that decided it) delivers it to its own
// subscribers and publishes it on the bus; every other node delivers it to its subscribers. Nothing is kept: a
// client connected later reads the state it concerns from the REST API (the budget's `low_notified`).
// A notice needs a permission besides the topic's (a budget's needs view_ad_analytics, which a promoter reading the
// organizer's dashboard lacks): subscribers holding it join the topic's notice channel (noticeKey) with
// the topic (access.ts decides which), and a notice goes to that channel only.
import type { Logger } from 'pino';
import type { LiveBus } from './bus.js';
import type { Hub } from './hub.js';
import { NOTICE_PERMISSIONS, type NoticeData, type NoticePermission } from './notice-channels.js';
import { topicName, type Topic } from './topics.js';

export const NOTICE = 'notice';

export { NOTICE_PERMISSIONS, noticeKey, type NoticeData, type NoticePermission } from './notice-channels.js';

export interface NoticeMessage {
  n: string;
  t: number;
  topic: Topic;
  p: NoticePermission;
  d: NoticeData;
}

/** A notice as a subscriber receives it (the browser client's NoticeMessage; client/live/wire.typecheck.ts). */
export interface NoticeWire {
  topic: string;
  type: 'notice';
  ts: number;
  data: NoticeData;
}

/** The message a subscriber receives: `{"topic","type":"notice","ts","data"}` (no `seq`: it is not an update). */
export function noticeMessage(topic: Topic, ts: number, data: NoticeData): string {
  const wire: NoticeWire = { topic: topicName(topic), type: 'notice', ts, data };
  return JSON.stringify(wire);
}

export interface Notices {
  /**
   * Delivers here to the topic's subscribers holding `permission` and tells the other nodes; resolves once published
   * (a failed publish is logged, not thrown).
   */
  send(tenant: number, topic: Topic, permission: NoticePermission, data: NoticeData): Promise<void>;
  onMessage(m: NoticeMessage): void;
}

export function createNotices(deps: { hub: Hub; bus: LiveBus | null; nodeId: string; now: () => number; log: Logger }): Notices {
  const { hub, bus, nodeId, now, log } = deps;
  const deliver = (tenant: number, topic: Topic, permission: NoticePermission, data: NoticeData) =>
    hub.notice(tenant, topic, permission, noticeMessage(topic, now(), data));
  return {
    async send(tenant, topic, permission, data) {
      deliver(tenant, topic, permission, data);
      if (!bus) return;
      await bus.publish(NOTICE, { n: nodeId, t: tenant, topic, p: permission, d: data } satisfies NoticeMessage)
        .catch((err: Error) => log.warn({ err: err.message, topic: topicName(topic) }, 'live: a notice could not be sent to the other nodes'));
    },
    onMessage(m) {
      if (m.n === nodeId || typeof m.t !== 'number' || !m.topic || typeof m.d !== 'object' || m.d === null || typeof m.d.kind !== 'string') return;
      if (!(NOTICE_PERMISSIONS as readonly string[]).includes(m.p)) return;
      deliver(m.t, m.topic, m.p, m.d);
    },
  };
}
