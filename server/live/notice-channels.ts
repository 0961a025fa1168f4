// The channels of notices (notices.ts): a notice needing a permission goes to its topic's channel (noticeKey), which a
// topic's subscriber joins with the topic when it holds that permission (access.ts, ws.ts, socketio.ts). A leaf
// module: the hub, the transports and the access check read it without importing the notices' bus side.
import type { Permission } from '../authz/roles.js';
import { KEY_SEP } from './topics.js';

/** The permissions notices may require; a topic's subscriber joins the channel of each it holds. */
export const NOTICE_PERMISSIONS = ['view_ad_analytics'] as const satisfies readonly Permission[];
export type NoticePermission = (typeof NOTICE_PERMISSIONS)[number];

/** What a notice says: its `kind` ("campaign_budget_low") and that kind's fields. */
export type NoticeData = { kind: string } & Record<string, unknown>;

/**
 * The channel a topic's notices needing `permission` go to (uWS topic, Socket.IO room): `notice␁{permission}␁{topicKey}`
 * (␁ = topics.ts KEY_SEP). A topic key starts with its tenant's digits, this with a word: no topic key, whatever
 * id a client names, is a notice channel (an id ending in `#view_ad_analytics` once was). Pure.
 */
export const noticeKey = (topicKey: string, permission: NoticePermission): string => `notice${KEY_SEP}${permission}${KEY_SEP}${topicKey}`;
