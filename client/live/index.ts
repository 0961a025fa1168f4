// Live client library: subscribe to the server's live topics from a browser or a Node script.
//
//   import { createLiveClient, topics } from './client/live/index.js';
//   const live = createLiveClient({ url: 'http://localhost:8080', token, WebSocket });  // WebSocket: browser global, or `ws` in Node 20
//   live.on('state', (s) => console.log(s.state, s.retryAt));
//   live.subscribe(topics.dashboard('O1'), (m) => console.log(m.type, m.seq, m.data.totals.funnel.orders));
//
// The Socket.IO variant (same interface) is in ./socketio.js: createSocketIoLiveClient({ url, token }).
export { LiveClient } from './client.js';
export type { CloseInfo, Connection, FatalError, GapInfo, LiveClientOptions, StateInfo, Subscription, Timers, Transport, TransportHandlers } from './client.js';
export { backoffDelay, BACKOFF_DEFAULTS, type BackoffOptions } from './backoff.js';
export { transition, type ConnectionState, type MachineEvent } from './machine.js';
export { decodeToken, tokenExp, tokenExpired, type TokenClaims } from './token.js';
export { createLiveClient, wsTransport, baseUrls, type WebSocketCtor, type WebSocketLike, type WsLiveClientOptions, type WsTransportOptions } from './ws.js';
export * from './types.js';
