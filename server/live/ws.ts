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
import type { Scope } from './token.js';
import { NOTICE_PERMISSIONS, noticeKey } from './notice-channels.js';
import { createSubscriptions, decodeFrame, endMessage, endReason, SWEEP_MS, type Link, type OverridesWatch, type Subscriber } from './subscriptions.js';

interface UserData extends Subscriber {
  closed: boolean;
}

type Ws = import('@trufflesuite/uws-js-unofficial').WebSocket<UserData>;
type HttpResponse = import('@trufflesuite/uws-js-unofficial').HttpResponse;

/** The largest text frame a client may send (a subscribe is well under 1 KB). */
export const MAX_FRAME_BYTES = 16 * 1024;

/**
 * How long a handshake (/ws upgrade, Socket.IO) waits for the status of a key this node has not read (after a
 * restart, a key first seen): past it the connection opens, and its first subscribe still waits for the answer
 * before any data (subscriptions.ts join), so a slow store delays a refusal without letting data out.
 */
export const HANDSHAKE_KEY_WAIT_MS = 10_000;

/** Whether the token's minting key is revoked, read when this node does not know it yet; false past `ms`. */
export async function revokedAtHandshake(core: Pick<LiveCore, 'keyRevoked'>, scope: Scope, ms = HANDSHAKE_KEY_WAIT_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([core.keyRevoked(scope).catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The 401 of a refused upgrade, in the error catalogue's shape. */
function refuseUpgrade(res: HttpResponse, code: ErrorCode, message: string): void {
  res.cork(() => {
    res.writeStatus('401 Unauthorized').writeHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(fail(code, message).body), true);
  });
}

const REVOKED_MESSAGE = 'The key that minted this token was revoked; mint a new token with a valid key.';

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
        if (v.reason === 'revoked') return refuseUpgrade(res, 'invalid_token', REVOKED_MESSAGE);
        const message = token ? `The token is ${v.reason === 'expired' ? 'expired' : 'invalid'}; mint one with POST /api/v1/tokens.` : 'Pass a dashboard token as /ws?token=… (POST /api/v1/tokens).';
        return refuseUpgrade(res, token ? (v.reason === 'expired' ? 'token_expired' : 'invalid_token') : 'missing_token', message);
      }
      const data: UserData = { scope: v.scope, exp: v.exp, topics: new Set(), closed: false };
      if (!('key' in v.scope) || v.scope.key === undefined) return res.upgrade<UserData>(data, key, protocol, extensions, context);
      // The synchronous check answers "not revoked" for a key this node has not read yet (after a restart): the
      // answer waits for the read. uWS: `req` is gone after this returns (the headers were copied above); a
      // client that leaves meanwhile aborts `res`, which must then not be touched.
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      void revokedAtHandshake(core, v.scope).then((revoked) => {
        if (aborted) return;
        if (revoked) return refuseUpgrade(res, 'invalid_token', REVOKED_MESSAGE);
        res.cork(() => res.upgrade<UserData>(data, key, protocol, extensions, context));
      });
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
