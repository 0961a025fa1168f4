// GET /ws?token=… on the uWS app. 401 before the upgrade on a missing/bad/expired token. Client → server:
// {"op":"subscribe"|"unsubscribe","topic"}, {"op":"ping"}. Server → client: snapshot on subscribe, then
// coalesced updates through uWS topic publish (one serialisation per update, whatever the fan-out).
// Backpressure: uWS buffers per socket; a socket whose buffer passes LIVE_WS_MAX_BACKPRESSURE is closed
// (closeOnBackpressureLimit), so a stalled client costs its own buffer and never delays the others.
// That close is a plain close(fd): uWS 20.30 has no reset (no SO_LINGER 0) on any path, so what the kernel
// already queued for the client (up to its send buffer, ~4 MiB) stays there until the client reads it or goes
// away (test/slow-consumer.test.ts keeps the reset as a failing expectation).
import { bearer } from '../http/auth.js';
import type { TemplatedApp } from '../http/uws.js';
import type { LiveCore } from './core.js';
import type { Scope } from './token.js';
import { parseTopic } from './topics.js';

interface UserData {
  scope: Scope;
  exp: number;
  topics: Set<string>;
  closed: boolean;
}

type Ws = import('@trufflesuite/uws-js-unofficial').WebSocket<UserData>;

export interface WsServer {
  sockets(): number;
  close(): void;
}

const MAX_TOPICS_PER_SOCKET = 200;

export function registerWs(app: TemplatedApp, core: LiveCore): WsServer {
  const sockets = new Set<Ws>();
  const reply = (ws: Ws, body: Record<string, unknown>) => {
    if (!ws.getUserData().closed) ws.send(JSON.stringify(body));
  };

  core.addSender((key, message) => {
    app.publish(key, message);
  });

  app.ws<UserData>('/ws', {
    maxPayloadLength: 16 * 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    maxBackpressure: core.config.live.wsMaxBackpressure,
    closeOnBackpressureLimit: 1,
    upgrade: (res, req, context) => {
      const query = new URLSearchParams(req.getQuery() ?? '');
      const token = query.get('token') ?? bearer(req.getHeader('authorization')) ?? '';
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const v = core.verify(token);
      if (!v.ok) {
        const message = token ? `The token is ${v.reason === 'expired' ? 'expired' : 'invalid'}; mint one with POST /api/v1/tokens.` : 'Pass a dashboard token as /ws?token=… (POST /api/v1/tokens).';
        res.cork(() => {
          res.writeStatus('401 Unauthorized').writeHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ error: { code: token ? (v.reason === 'expired' ? 'token_expired' : 'invalid_token') : 'missing_token', message } }), true);
        });
        return;
      }
      res.upgrade<UserData>({ scope: v.scope, exp: v.exp, topics: new Set(), closed: false }, key, protocol, extensions, context);
    },
    open: (ws) => {
      sockets.add(ws);
    },
    message: (ws, raw) => {
      const ud = ws.getUserData();
      let msg: { op?: unknown; topic?: unknown };
      try {
        msg = JSON.parse(Buffer.from(raw).toString('utf8'));
      } catch {
        return reply(ws, { type: 'error', code: 'invalid_message', message: 'Send JSON: {"op":"subscribe","topic":"…"}.' });
      }
      if (msg?.op === 'ping') return reply(ws, { type: 'pong', ts: core.now() });
      if (msg?.op !== 'subscribe' && msg?.op !== 'unsubscribe') {
        return reply(ws, { type: 'error', code: 'invalid_message', message: 'op must be subscribe, unsubscribe or ping.' });
      }
      const topic = parseTopic(msg.topic);
      const name = typeof msg.topic === 'string' ? msg.topic.slice(0, 200) : null;
      if (!topic) return reply(ws, { type: 'error', code: 'invalid_topic', topic: name, message: 'Topics: analytics:event:{event_id}, analytics:event:{event_id}:capacity, analytics:dashboard:{org_id}.' });
      if (ud.exp <= core.now() / 1000) {
        reply(ws, { type: 'error', code: 'token_expired', message: 'The token expired; reconnect with a new one.' });
        return ws.end(4001, 'token expired');
      }
      if (msg.op === 'unsubscribe') {
        const key = `${ud.scope.tenant}|${name}`;
        if (ud.topics.delete(key)) {
          ws.unsubscribe(key);
          core.hub.remove(key);
        }
        return reply(ws, { type: 'unsubscribed', topic: name });
      }
      if (!core.allowed(ud.scope, topic)) return reply(ws, { type: 'error', code: 'forbidden', topic: name, message: 'This token does not give access to that topic.' });
      if (ud.topics.size >= MAX_TOPICS_PER_SOCKET) return reply(ws, { type: 'error', code: 'too_many_topics', topic: name, message: `At most ${MAX_TOPICS_PER_SOCKET} topics per connection.` });
      const tenant = ud.scope.tenant;
      core
        .prepare([{ tenant, topic }])
        .then(() => {
          if (ud.closed) return;
          const fresh = !ud.topics.has(`${tenant}|${name}`);
          const entry = fresh ? core.hub.add(tenant, topic) : core.hub.entries.get(`${tenant}|${name}`)!;
          ud.topics.add(entry.key);
          // Subscribe and send the snapshot in one synchronous step: no update can slip in between.
          ws.cork(() => {
            if (fresh) ws.subscribe(entry.key);
            ws.send(core.hub.snapshot(entry, core.now()));
          });
        })
        .catch((err: Error) => {
          core.log.warn({ err: err.message }, 'live: snapshot failed');
          reply(ws, { type: 'error', code: 'unavailable', topic: name, message: 'Live state is unavailable; retry.' });
        });
    },
    close: (ws) => {
      const ud = ws.getUserData();
      ud.closed = true;
      sockets.delete(ws);
      for (const key of ud.topics) core.hub.remove(key);
      ud.topics.clear();
    },
  });

  // Tokens expire: connections opened with them end too.
  const sweep = setInterval(() => {
    const nowS = core.now() / 1000;
    for (const ws of sockets) {
      const ud = ws.getUserData();
      if (ud.exp <= nowS && !ud.closed) ws.end(4001, 'token expired');
    }
  }, 5000);
  sweep.unref();

  return {
    sockets: () => sockets.size,
    close() {
      clearInterval(sweep);
      for (const ws of [...sockets]) if (!ws.getUserData().closed) ws.end(1001, 'server closing');
    },
  };
}
