// Node entry: the websocket client with the `ws` package (Node 20 has no global WebSocket), and the
// Socket.IO variant.
//
//   import { connectLive } from './client/live/node.js';
//   const live = connectLive({ url: 'http://localhost:8080', token });
import WebSocket from 'ws';
import type { LiveClient } from './client.js';
import { createLiveClient, type WebSocketCtor, type WsLiveClientOptions } from './ws.js';

export * from './index.js';
export { createSocketIoLiveClient, socketIoTransport, type SocketIoLiveClientOptions, type SocketIoTransportOptions } from './socketio.js';

export function connectLive(options: Omit<WsLiveClientOptions, 'WebSocket'> & { WebSocket?: WebSocketCtor }): LiveClient {
  return createLiveClient({ WebSocket: WebSocket as unknown as WebSocketCtor, ...options });
}
