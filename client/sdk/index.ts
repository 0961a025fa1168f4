// ESM entry of the browser SDK.
export { TxTracker, VERSION } from './tracker.js';
export type { TxConfig, TrackOptions, ImpressionOptions, ImpressionHandle, WebMethods } from './tracker.js';
export type { KV } from './core.js';
export type { ConsentSnapshot, Entities, Envelope, Props, Rejection, BatchResult } from '../shared/types.js';
export type { EventName, EventPayloads, WebEventName, ConsentScope } from '../shared/registry.gen.js';
