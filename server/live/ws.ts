// GET /ws?token=… on the uWS app. 401 before the upgrade on a missing/bad/expired token. The messages are the
// subscription protocol's (subscriptions.ts, shared with Socket.IO); here, text frames in and out: a snapshot on
// subscribe, then coalesced updates through uWS topic publish (one serialisation per update, whatever the fan-out).
// Backpressure: uWS buffers per socket; a socket whose buffer passes LIVE_WS_MAX_BACKPRESSURE is closed
// (closeOnBackpressureLimit), so a stalled client costs its own buffer and never delays the others.
// That close is a plain close(fd): uWS 20.30 has no reset (no SO_LINGER 0) on any path, so what the kernel
// already queued for the client (up to its send buffer, ~4 MiB) stays there until the client reads it or goes
// away (test/slow-consumer.test.ts keeps the reset as a failing expectation).
import { bearer } from '../http/auth.js';
import { fail, type ErrorCode } from '../http/errors.js';
import { send, trackAbort, type TemplatedApp } from '../http/uws.js';
import type { LiveCore } from './core.js';
import { NOTICE_PERMISSIONS, noticeKey } from './notice-channels.js';
import { createSubscriptions, decodeFrame, endMessage, endReason, SWEEP_MS, type Link, type OverridesWatch, type Subscriber } from './subscriptions.js';

interface UserData extends Subscriber {
  closed: boolean;
}

type Ws = import('@trufflesuite/uws-js-unofficial').WebSocket<UserData>;

/** The largest text frame a client may send (a subscribe is well under 1 KB). */
export const MAX_FRAME_BYTES = 16 * 1024;

/** How a connection ends when its token does: the live client (client/live) reads 4001 as "mint a new token", 4003 as final. */
const closeCode = (why: 'expired' | 'revoked'): number => (why === 'expired' ? 4001 : 4003);

export interface WsServer {
  sockets(): number;
  close(): void;
}

export function registerWs(app: TemplatedApp, core: LiveCore & Partial<OverridesWatch>): WsServer {
  const sockets = new Set<Ws>();
  const subs = createSubscriptions(core);
  const linkOf = (ws: Ws): Link => ({
    isOpen: () => !ws.getUserData().closed,
    join: (key, fresh, snapshot, notices) =>
      ws.cork(() => {
        if (fresh) ws.subscribe(key);
        for (const p of NOTICE_PERMISSIONS) {
          if (notices.includes(p)) ws.subscribe(noticeKey(key, p));
          else ws.unsubscribe(noticeKey(key, p));
        }
        ws.send(snapshot);
      }),
    leave: (key) => {
      ws.unsubscribe(key);
      for (const p of NOTICE_PERMISSIONS) ws.unsubscribe(noticeKey(key, p));
    },
    send: (reply) => {
      if (!ws.getUserData().closed) ws.send(JSON.stringify(reply));
    },
    expire: (why) => ws.end(closeCode(why), `token ${why}`),
    violate: () => ws.end(1008, 'too many messages'),
  });

  core.addSender((key, message) => {
    app.publish(key, message);
  });

  app.ws<UserData>('/ws', {
    // Past MAX_FRAME_BYTES a frame is refused with 1009 (message too big) below; uWS itself drops a connection
    // whose frame passes maxPayloadLength without a close frame (1006 at the client: it cannot send another code).
    maxPayloadLength: 4 * MAX_FRAME_BYTES,
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
        const code: ErrorCode = token ? (v.reason === 'expired' ? 'token_expired' : 'invalid_token') : 'missing_token';
        res.cork(() => {
          res.writeStatus('401 Unauthorized').writeHeader('Content-Type', 'application/json');
          res.end(JSON.stringify(fail(code, message).body), true);
        });
        return;
      }
      res.upgrade<UserData>({ scope: v.scope, exp: v.exp, topics: new Set(), closed: false }, key, protocol, extensions, context);
    },
    open: (ws) => {
      sockets.add(ws);
      subs.open(ws.getUserData(), linkOf(ws));
    },
    message: (ws, raw) => {
      if (raw.byteLength > MAX_FRAME_BYTES) return ws.end(1009, `a message is at most ${MAX_FRAME_BYTES} bytes`);
      const link = linkOf(ws);
      const frame = decodeFrame(Buffer.from(raw).toString('utf8'));
      if ('error' in frame) return link.send(frame.error);
      subs.handle(ws.getUserData(), link, frame.msg).catch((err: Error) => core.log.warn({ err: err.message }, 'live: /ws message failed'));
    },
    close: (ws) => {
      const ud = ws.getUserData();
      ud.closed = true;
      sockets.delete(ws);
      subs.drop(ud);
    },
  });

  // Tokens expire: connections opened with them end too, after the error that says why. Role overrides changed
  // on another node reach the open subscriptions here (subscriptions.ts sweep).
  const sweep = setInterval(() => {
    const at = core.now();
    for (const ws of sockets) {
      const ud = ws.getUserData();
      const why = ud.closed ? null : endReason(ud, at, core);
      if (why) {
        ws.cork(() => {
          ws.send(JSON.stringify(endMessage(why)));
          ws.end(closeCode(why), `token ${why}`);
        });
      }
    }
    void subs.sweep();
  }, SWEEP_MS);
  sweep.unref();

  // A plain GET (a browser tab, curl) yields from the websocket route to this one: say what the URL is for.
  app.get('/ws', (res) => {
    const state = trackAbort(res);
    send(res, state, { ...fail('upgrade_required'), headers: { Upgrade: 'websocket', Connection: 'Upgrade' } });
  });

  return {
    sockets: () => sockets.size,
    close() {
      clearInterval(sweep);
      for (const ws of [...sockets]) if (!ws.getUserData().closed) ws.end(1001, 'server closing');
    },
  };
}
