// The live topics over Socket.IO, attached to the same uWS app (path /socket.io/, same port). Topics are
// rooms; the token is the same (handshake `auth: {token}` or `?token=`); payloads are the /ws messages,
// delivered as the "message" event. Client → server: emit("subscribe", topic, ack?), emit("unsubscribe",
// topic, ack?), or send({op, topic}) exactly like /ws.
//
// socket.io's attachApp() patches the global Adapter prototype to publish through the *last* attached
// uWS app, which breaks when one process runs several servers (tests, benchmarks). Rooms here use an
// adapter subclass with socket.io-adapter's own methods, so each server delivers to its own sockets.
import { Adapter } from 'socket.io-adapter';
import { Server, type Socket } from 'socket.io';
import type { TemplatedApp } from '../http/uws.js';
import type { LiveCore } from './core.js';
import type { Scope } from './token.js';
import { parseTopic, topicKey } from './topics.js';

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

export interface SocketIoServer {
  sockets(): number;
  close(): Promise<void>;
}

interface Data {
  scope: Scope;
  exp: number;
  keys: Set<string>;
}

const MAX_TOPICS_PER_SOCKET = 200;

export function attachSocketIo(app: TemplatedApp, core: LiveCore): SocketIoServer {
  const io = new Server({
    serveClient: false,
    adapter: RoomAdapter as never,
    maxHttpBufferSize: 16 * 1024,
    cors: { origin: true },
  });
  // Passed through to uWS: a Socket.IO client that stops reading loses messages instead of piling them up.
  io.attachApp(app, { maxBackpressure: core.config.live.wsMaxBackpressure } as never);

  io.use((socket, next) => {
    const raw = (socket.handshake.auth as { token?: unknown })?.token ?? socket.handshake.query.token;
    const v = core.verify(typeof raw === 'string' ? raw : '');
    if (!v.ok) return next(Object.assign(new Error('unauthorized'), { data: { code: raw ? 'invalid_token' : 'missing_token', reason: v.reason } }));
    (socket.data as Data) = { scope: v.scope, exp: v.exp, keys: new Set() };
    next();
  });

  const subscribe = async (socket: Socket, name: unknown): Promise<Record<string, unknown>> => {
    const d = socket.data as Data;
    const topic = parseTopic(name);
    const shown = typeof name === 'string' ? name.slice(0, 200) : null;
    if (!topic) return { type: 'error', code: 'invalid_topic', topic: shown };
    if (d.exp <= core.now() / 1000) {
      setImmediate(() => socket.disconnect(true));
      return { type: 'error', code: 'token_expired' };
    }
    if (!core.allowed(d.scope, topic)) return { type: 'error', code: 'forbidden', topic: shown };
    const key = topicKey(d.scope.tenant, topic);
    if (!d.keys.has(key) && d.keys.size >= MAX_TOPICS_PER_SOCKET) return { type: 'error', code: 'too_many_topics', topic: shown };
    await core.prepare([{ tenant: d.scope.tenant, topic }]);
    if (!socket.connected) return { type: 'error', code: 'disconnected' };
    const entry = d.keys.has(key) ? core.hub.entries.get(key)! : core.hub.add(d.scope.tenant, topic);
    d.keys.add(key);
    socket.join(key);
    return JSON.parse(core.hub.snapshot(entry, core.now()));
  };

  const unsubscribe = (socket: Socket, name: unknown): Record<string, unknown> => {
    const d = socket.data as Data;
    const key = `${d.scope.tenant}|${typeof name === 'string' ? name : ''}`;
    if (d.keys.delete(key)) {
      socket.leave(key);
      core.hub.remove(key);
    }
    return { type: 'unsubscribed', topic: name };
  };

  io.on('connection', (socket) => {
    const reply = (msg: Record<string, unknown>, ack?: unknown) => {
      if (typeof ack === 'function') ack(msg);
      else socket.emit('message', msg);
    };
    const topicOf = (arg: unknown) => (arg && typeof arg === 'object' ? (arg as { topic?: unknown }).topic : arg);
    socket.on('subscribe', (arg: unknown, ack?: unknown) => {
      subscribe(socket, topicOf(arg))
        .then((m) => reply(m, ack))
        .catch(() => reply({ type: 'error', code: 'unavailable' }, ack));
    });
    socket.on('unsubscribe', (arg: unknown, ack?: unknown) => reply(unsubscribe(socket, topicOf(arg)), ack));
    socket.on('message', (msg: { op?: unknown; topic?: unknown }, ack?: unknown) => {
      if (msg?.op === 'ping') return reply({ type: 'pong', ts: core.now() }, ack);
      if (msg?.op === 'subscribe') {
        subscribe(socket, msg.topic)
          .then((m) => reply(m, ack))
          .catch(() => reply({ type: 'error', code: 'unavailable' }, ack));
        return;
      }
      if (msg?.op === 'unsubscribe') return reply(unsubscribe(socket, msg.topic), ack);
      reply({ type: 'error', code: 'invalid_message' }, ack);
    });
    socket.on('disconnect', () => {
      const d = socket.data as Data;
      for (const key of d.keys) core.hub.remove(key);
      d.keys.clear();
    });
  });

  core.addSender((key, message) => {
    const room = io.sockets.adapter.rooms.get(key);
    if (!room || room.size === 0) return;
    io.to(key).emit('message', JSON.parse(message));
  });

  const sweep = setInterval(() => {
    const nowS = core.now() / 1000;
    for (const s of io.sockets.sockets.values()) if ((s.data as Data).exp <= nowS) s.disconnect(true);
  }, 5000);
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
