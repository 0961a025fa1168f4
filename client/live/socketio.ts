// Socket.IO transport: the same topics as rooms on the server's Socket.IO endpoint (path /socket.io/),
// same token (handshake auth), same messages. Socket.IO's own reconnection is turned off: the LiveClient's
// backoff, resubscription and state events drive both transports the same way.
import { io as defaultIo, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { LiveClient, type Connection, type LiveClientOptions, type Transport, type TransportHandlers } from './client.js';
import type { ErrorMessage, ServerMessage } from './types.js';
import { baseUrls } from './ws.js';

export interface SocketIoTransportOptions {
  /** Server base URL (`http(s)://host:port`). */
  url: string;
  /** Default ['websocket']; ['polling', 'websocket'] where websockets are blocked. */
  transports?: string[];
  /** Socket.IO path. Default /socket.io/. */
  path?: string;
  /** How long a subscribe waits for the server's answer (ms). Default 10 000. */
  ackTimeoutMs?: number;
  /** The socket.io-client `io` function (default: the imported one). */
  io?: (url: string, opts: Partial<ManagerOptions & SocketOptions>) => Socket;
}

export function socketIoTransport(options: SocketIoTransportOptions): Transport {
  const io = options.io ?? defaultIo;
  const base = baseUrls(options.url).http;
  const ackTimeout = options.ackTimeoutMs ?? 10_000;
  return {
    name: 'socket.io',
    connect(token: string, h: TransportHandlers): Connection {
      const s = io(base, {
        auth: { token },
        transports: options.transports ?? ['websocket'],
        path: options.path ?? '/socket.io/',
        reconnection: false,
        forceNew: true,
        timeout: 10_000,
      });
      let finished = false;
      let opened = false;
      const finish = (info: Parameters<TransportHandlers['close']>[0]) => {
        if (finished) return;
        finished = true;
        s.removeAllListeners();
        s.close();
        h.close(info);
      };
      s.on('connect', () => {
        opened = true;
        h.open();
      });
      s.on('message', (m: ServerMessage) => h.message(m));
      s.on('connect_error', (err: Error & { data?: { code?: string; reason?: string } }) => {
        const unauthorized = err.message === 'unauthorized';
        finish({ handshake: !opened, reason: unauthorized ? `unauthorized (${err.data?.code ?? 'invalid_token'})` : err.message, unauthorized, expired: err.data?.reason === 'expired' });
      });
      s.on('disconnect', (reason: string) => finish({ reason: `disconnected: ${reason}`, handshake: !opened }));
      return {
        subscribe(topic) {
          s.timeout(ackTimeout)
            .emitWithAck('subscribe', topic)
            .then((m: ServerMessage) => {
              // Errors answered through the ack may lack the topic; they are about this one.
              if (m && m.type === 'error' && !(m as ErrorMessage).topic) (m as ErrorMessage).topic = topic;
              h.message(m);
            })
            .catch(() => {
              if (!finished) h.message({ type: 'error', code: 'unavailable', topic, message: 'No answer to subscribe in time.' });
            });
        },
        unsubscribe(topic) {
          if (s.connected) s.emit('unsubscribe', topic);
        },
        ping() {
          if (s.connected) s.send({ op: 'ping' });
        },
        close() {
          finished = true;
          s.removeAllListeners();
          s.close();
        },
      };
    },
  };
}

export interface SocketIoLiveClientOptions extends LiveClientOptions, SocketIoTransportOptions {
  connect?: boolean;
}

/** A live client over Socket.IO, with the same interface as createLiveClient. */
export function createSocketIoLiveClient(options: SocketIoLiveClientOptions): LiveClient {
  const client = new LiveClient(socketIoTransport(options), options);
  if (options.connect !== false) client.connect();
  return client;
}
