// The live topics over Socket.IO, attached to the same uWS app (path /socket.io/, same port). Topics are
// rooms; the token is the same (handshake `auth: {token}` or `?token=`); payloads are the /ws messages,
// delivered as the "message" event. Client → server: emit("subscribe", topic, ack?), emit("unsubscribe",
// topic, ack?), or send({op, topic}) exactly like /ws: one subscription protocol (subscriptions.ts); a reply
// goes to the ack when the client asked for one, else as a "message". Any other event gets the `invalid_message`
// that /ws gives an unknown op.
//
// socket.io's attachApp() patches the global Adapter prototype to publish through the *last* attached
// uWS app, which breaks when one process runs several servers (tests, benchmarks). Rooms here use an
// adapter subclass with socket.io-adapter's own methods, so each server delivers to its own sockets.
import { Adapter } from 'socket.io-adapter';
import { Server, type Socket } from 'socket.io';
import { fail, type ErrorCode } from '../http/errors.js';
import { send, trackAbort, type TemplatedApp } from '../http/uws.js';
import type { LiveCore } from './core.js';
import { revokedAtHandshake } from './ws.js';
import { NOTICE_PERMISSIONS, noticeKey } from './notice-channels.js';
import { createSubscriptions, endMessage, endReason, SWEEP_MS, unknownEvent, type Link, type OverridesWatch, type Reply, type Subscriber } from './subscriptions.js';

const ORIGINAL = { addAll: Adapter.prototype.addAll, del: Adapter.prototype.del, broadcast: Adapter.prototype.broadcast };

export class RoomAdapter extends Adapter {
  override addAll(id: string, rooms: Set<string>) {
    return ORIGINAL.addAll.call(this, id, rooms);
  }
  override del(id: string, room: string) {
    return ORIGINAL.del.call(this, id, room);
  }
  override broadcast(packet: unknown, opts: Parameters<Adapter['broadcast']>[1]) {
    return ORIGINAL.broadcast.call(this, packet, opts);
  }
}

/** What capWriteBuffer uses of an engine.io connection (its public events and close). */
export interface EngineConn {
  readyState: string;
  on(event: 'packetCreate', fn: (packet: { data?: unknown }) => void): unknown;
  on(event: 'flush', fn: () => void): unknown;
  close(discard?: boolean): unknown;
}

/**
 * Ends a connection once more than `maxBytes` wait in its engine.io write buffer. uWS's maxBackpressure only
 * covers the websocket transport; on long-polling every message waits in that buffer until the client's next
 * GET, without bound, so a client that keeps posting (subscribes, pongs that keep it alive) and never polls
 * would hold the server's memory (measured: 309 MB for one session in 70 s).
 */
export function capWriteBuffer(conn: EngineConn, maxBytes: number): void {
  let bytes = 0;
  let closing = false;
  conn.on('flush', () => {
    bytes = 0;
  });
  conn.on('packetCreate', (packet) => {
    const d = packet.data;
    bytes += 8 + (typeof d === 'string' ? d.length : d instanceof ArrayBuffer || ArrayBuffer.isView(d) ? d.byteLength : 0);
    if (bytes <= maxBytes || closing) return;
    closing = true;
    // After this packet is queued: close(true) discards the transport and the buffer with it.
    setImmediate(() => conn.readyState === 'open' && conn.close(true));
  });
}

/** Socket.IO's (engine.io's) default path, the one attachApp registers. */
const SOCKET_IO_PATH = '/socket.io/';

/** The events a client may emit (the header); any other is answered `invalid_message`. */
const EVENTS = new Set(['subscribe', 'unsubscribe', 'message']);

export interface SocketIoServer {
  sockets(): number;
  close(): Promise<void>;
}

export function attachSocketIo(app: TemplatedApp, core: LiveCore & Partial<OverridesWatch>): SocketIoServer {
  const io = new Server({
    serveClient: false,
    adapter: RoomAdapter as never,
    maxHttpBufferSize: 16 * 1024,
    cors: { origin: true },
  });
  // engine.io answers any method on its path itself, HEAD with a body (`{"code":0,…}`) that a kept-alive client
  // reads as the start of its next answer. Socket.IO never sends HEAD: 405 with Allow and no body, ours (uWS
  // takes a method's own route before an `any` one, whichever is registered first).
  app.head(SOCKET_IO_PATH, (res, req) => {
    const state = trackAbort(res);
    const allow = ['GET', 'POST', 'OPTIONS'];
    send(res, state, fail('method_not_allowed', `${req.getUrl()} answers ${allow.join(', ')} (Socket.IO), not HEAD.`, { allow }, { Allow: allow.join(', ') }));
  });
  // Passed through to uWS: a Socket.IO client that stops reading loses messages instead of piling them up.
  io.attachApp(app, { maxBackpressure: core.config.live.wsMaxBackpressure } as never);
  io.engine.on('connection', (conn: EngineConn) => capWriteBuffer(conn, core.config.live.wsMaxBackpressure));

  io.use((socket, next) => {
    const raw = (socket.handshake.auth as { token?: unknown })?.token ?? socket.handshake.query.token;
    const v = core.verify(typeof raw === 'string' ? raw : '');
    // The codes of /ws and REST (`token_expired` for an expired token); `reason` kept for older clients.
    const refuse = (reason: string) => {
      const code: ErrorCode = raw ? (reason === 'expired' ? 'token_expired' : 'invalid_token') : 'missing_token';
      next(Object.assign(new Error('unauthorized'), { data: { code, reason } }));
    };
    if (!v.ok) return refuse(v.reason);
    // As the /ws upgrade: a key this node has not read yet is read before the handshake is answered.
    void revokedAtHandshake(core, v.scope).then((revoked) => {
      if (revoked) return refuse('revoked');
      (socket.data as Subscriber) = { scope: v.scope, exp: v.exp, topics: new Set() };
      next();
    });
  });

  const subs = createSubscriptions(core);
  /** A message's link: its reply goes to the ack when there is one. */
  const linkOf = (socket: Socket, ack: unknown): Link => {
    const send = (reply: Reply) => {
      if (typeof ack === 'function') ack(reply);
      else socket.emit('message', reply);
    };
    return {
      isOpen: () => socket.connected,
      join: (key, fresh, snapshot, notices) => {
        if (fresh) socket.join(key);
        for (const p of NOTICE_PERMISSIONS) {
          if (notices.includes(p)) socket.join(noticeKey(key, p));
          else socket.leave(noticeKey(key, p));
        }
        send(JSON.parse(snapshot) as Reply);
      },
      leave: (key) => {
        socket.leave(key);
        for (const p of NOTICE_PERMISSIONS) socket.leave(noticeKey(key, p));
      },
      send,
      // On the next turn, so the reply that says why is sent before the connection goes.
      expire: () => void setImmediate(() => socket.disconnect(true)),
      // Ended at once, what waits unread discarded (on long-polling it would wait for the next poll).
      violate: () =>
        void setImmediate(() => {
          socket.disconnect(true);
          (socket.conn as unknown as EngineConn).close(true);
        }),
    };
  };
  const handle = (socket: Socket, msg: unknown, ack: unknown) =>
    subs.handle(socket.data as Subscriber, linkOf(socket, ack), msg).catch((err: Error) => core.log.warn({ err: err.message }, 'live: Socket.IO message failed'));

  io.on('connection', (socket) => {
    subs.open(socket.data as Subscriber, linkOf(socket, undefined));
    const topicOf = (arg: unknown) => (arg && typeof arg === 'object' ? (arg as { topic?: unknown }).topic : arg);
    // Socket.IO passes the acknowledgement callback as the last argument, however many the client sent: with
    // no topic it is the first, with an extra one the third. Take it from the end so every call is answered.
    const split = (args: unknown[]): [unknown, unknown] => {
      const ack = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : undefined;
      return [args.length > (ack ? 1 : 0) ? args[0] : undefined, ack];
    };
    for (const op of ['subscribe', 'unsubscribe'] as const) {
      socket.on(op, (...args: unknown[]) => {
        const [arg, ack] = split(args);
        void handle(socket, { op, topic: topicOf(arg) }, ack);
      });
    }
    socket.on('message', (...args: unknown[]) => {
      const [msg, ack] = split(args);
      void handle(socket, msg, ack);
    });
    // Any other event is answered as /ws answers an unknown op (invalid_message): to its ack, else as a "message";
    // an emitWithAck("ping") once waited for its timeout.
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string' && EVENTS.has(event)) return;
      const ack = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : undefined;
      subs.refuse(socket.data as Subscriber, linkOf(socket, ack), unknownEvent(String(event)));
    });
    socket.on('disconnect', () => subs.drop(socket.data as Subscriber));
  });

  core.addSender((key, message) => {
    const room = io.sockets.adapter.rooms.get(key);
    if (!room || room.size === 0) return;
    io.to(key).emit('message', JSON.parse(message));
  });

  // Tokens expire (keys are revoked): the connection is told why, then ends on the next turn (as expire() above).
  // Role overrides changed on another node reach the open subscriptions here (subscriptions.ts sweep).
  const ending = new WeakSet<Socket>();
  const sweep = setInterval(() => {
    const at = core.now();
    for (const s of io.sockets.sockets.values()) {
      const why = ending.has(s) ? null : endReason(s.data as Subscriber, at, core);
      if (!why) continue;
      ending.add(s);
      s.emit('message', endMessage(why));
      setImmediate(() => s.disconnect(true));
    }
    void subs.sweep();
  }, SWEEP_MS);
  sweep.unref();

  return {
    sockets: () => io.sockets.sockets.size,
    async close() {
      clearInterval(sweep);
      io.disconnectSockets(true);
      await new Promise<void>((r) => {
        io.close(() => r());
        setTimeout(r, 1000).unref();
      });
    },
  };
}
