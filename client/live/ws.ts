// Plain websocket transport: `GET /ws?token=…` (README "Websocket /ws"). Works with the browser's
// WebSocket and with the `ws` package in Node (pass it as `WebSocket`; Node 20 has no global one).
import { LiveClient, type CloseInfo, type Connection, type LiveClientOptions, type Transport, type TransportHandlers } from './client.js';
import type { ServerMessage } from './types.js';

/** The part of the WebSocket API this transport uses (browser WebSocket and the `ws` package both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

export type WebSocketCtor = new (url: string) => WebSocketLike;

export interface WsTransportOptions {
  /** Server base URL: `http(s)://host:port` or `ws(s)://host:port`. */
  url: string;
  /** Default: the global WebSocket (browsers, Node ≥ 22). */
  WebSocket?: WebSocketCtor;
  /** fetch for the token probe after a failed handshake; default the global one. */
  fetch?: typeof fetch;
}

const OPEN = 1;

/** `http://h/x` → `{ http: 'http://h', ws: 'ws://h' }` (the path is ignored: the server serves /ws at its root). */
export function baseUrls(url: string): { http: string; ws: string } {
  const u = new URL(url);
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  return { http: `${secure ? 'https' : 'http'}://${u.host}`, ws: `${secure ? 'wss' : 'ws'}://${u.host}` };
}

export function wsTransport(options: WsTransportOptions): Transport {
  const urls = baseUrls(options.url);
  const Ctor = options.WebSocket ?? ((globalThis as { WebSocket?: WebSocketCtor }).WebSocket as WebSocketCtor | undefined);
  if (!Ctor) throw new Error('No WebSocket implementation: pass one (e.g. `import WebSocket from "ws"`) as the WebSocket option.');
  const doFetch = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;

  return {
    name: 'ws',
    connect(token: string, h: TransportHandlers): Connection {
      const ws = new Ctor(`${urls.ws}/ws?token=${encodeURIComponent(token)}`);
      let finished = false;
      let status: number | undefined;
      let lastError: string | undefined;
      // A no-op error handler stays: the `ws` package throws on an 'error' event nobody listens to (e.g.
      // closing a socket that is still connecting).
      const detach = () => {
        ws.onopen = ws.onmessage = ws.onclose = null;
        ws.onerror = () => undefined;
      };
      const finish = (info: CloseInfo) => {
        if (finished) return;
        finished = true;
        detach();
        h.close(info);
      };
      const send = (msg: unknown) => {
        if (ws.readyState === OPEN) ws.send(JSON.stringify(msg));
      };
      ws.onopen = () => h.open();
      ws.onmessage = (ev) => {
        let msg: ServerMessage;
        try {
          msg = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data)) as ServerMessage;
        } catch {
          return;
        }
        h.message(msg);
      };
      ws.onerror = (ev) => {
        // The `ws` package says why ("Unexpected server response: 401"); browsers say nothing.
        const m = typeof ev?.message === 'string' ? ev.message : typeof ev?.error?.message === 'string' ? ev.error.message : undefined;
        if (m) {
          lastError = m;
          const s = /server response: (\d{3})/.exec(m);
          if (s) status = Number(s[1]);
        }
      };
      ws.onclose = (ev) =>
        finish({
          code: ev.code,
          reason: ev.reason || lastError || (ev.code === 1006 ? 'connection lost' : `closed (${ev.code})`),
          status,
          unauthorized: status === 401,
          expired: ev.code === 4001,
        });
      return {
        subscribe: (topic) => send({ op: 'subscribe', topic }),
        unsubscribe: (topic) => send({ op: 'unsubscribe', topic }),
        ping: () => send({ op: 'ping' }),
        close: () => {
          finished = true;
          detach();
          try {
            ws.close(1000, 'client closing');
          } catch {
            // Closing a socket that is still connecting throws in some implementations.
          }
        },
      };
    },
    async probe(token: string) {
      if (!doFetch) return 'unknown';
      try {
        // Any topic will do: the token is checked (401) before the scope (403).
        const r = await doFetch(`${urls.http}/api/v1/live/events/_probe_/capacity?token=${encodeURIComponent(token)}`);
        return r.status === 401 ? 'unauthorized' : 'ok';
      } catch {
        return 'unknown';
      }
    },
  };
}

export interface WsLiveClientOptions extends LiveClientOptions, WsTransportOptions {
  /** Connect right away (default true). */
  connect?: boolean;
}

/** A live client over the plain websocket endpoint. */
export function createLiveClient(options: WsLiveClientOptions): LiveClient {
  const client = new LiveClient(wsTransport(options), options);
  if (options.connect !== false) client.connect();
  return client;
}
