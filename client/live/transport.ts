// The transport contract of the live client: what a transport (plain websocket, ws.ts; Socket.IO,
// socketio.ts) gives LiveClient (a connection that subscribes, unsubscribes and pings) and what it tells it
// (open, each server message, close and why). Apart from the client so a transport depends on this contract
// only, not on the reconnect logic.
import type { ServerMessage } from './types.js';

export interface CloseInfo {
  /** Websocket close code, when known. */
  code?: number;
  reason?: string;
  /** HTTP status of a refused handshake, when the transport can see it. */
  status?: number;
  /** The server refused the token. */
  unauthorized?: boolean;
  /** The server said the token expired. */
  expired?: boolean;
  /** The connection never opened. */
  handshake?: boolean;
}

export interface TransportHandlers {
  open(): void;
  message(msg: ServerMessage): void;
  close(info: CloseInfo): void;
}

export interface Connection {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  ping(): void;
  /** Closes from the client side. */
  close(): void;
}

export interface Transport {
  readonly name: string;
  connect(token: string, handlers: TransportHandlers): Connection;
  /**
   * After a handshake failed without telling why (a browser WebSocket hides the HTTP status), asks the
   * server whether the token is the reason.
   */
  probe?(token: string): Promise<'unauthorized' | 'ok' | 'unknown'>;
}
