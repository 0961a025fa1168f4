// uWebSockets.js loader and the small request/response helpers every route uses.
// uWS request objects are only valid synchronously inside the handler, so `snapshot` copies what routes need
// before any await; responses go through `send`, which respects aborts and corks the write.
import type { Registered } from './methods.js';
import net from 'node:net';
import { createRequire } from 'node:module';
import type * as UWS from '@trufflesuite/uws-js-unofficial';
import type { Logger } from 'pino';
import { fail } from './errors.js';

export type HttpResponse = UWS.HttpResponse;
export type HttpRequest = UWS.HttpRequest;
export type TemplatedApp = UWS.TemplatedApp;

export class UwsFallbackError extends Error {
  constructor() {
    super(
      'uWebSockets.js native binary did not load (this platform/Node build is unsupported) and the pure-JS fallback is much slower. ' +
        'Run on Node 20 with glibc >= 2.27 (e.g. node:20-bookworm-slim), or set UWS_ALLOW_FALLBACK=1 to start anyway.',
    );
    this.name = 'UwsFallbackError';
  }
}

export interface LoadedUws {
  uws: typeof UWS;
  native: boolean;
}

export function loadUws(allowFallback: boolean): LoadedUws {
  const require = createRequire(import.meta.url);
  const id = require.resolve('@trufflesuite/uws-js-unofficial');
  // The package logs a warning and silently swaps in a JS implementation; the module graph tells which loaded.
  const uws = require(id) as typeof UWS;
  const mod = require.cache[id];
  const native = !!mod && mod.children.some((c) => c.id.endsWith('.node'));
  if (!native && !allowFallback) throw new UwsFallbackError();
  return { uws, native };
}

/**
 * Listens on host:port without SO_REUSEPORT, so a second listener on the same port fails instead of sharing it.
 * The native binding takes (host, port, options, cb) and exports LIBUS_LISTEN_EXCLUSIVE_PORT (= 1); the bundled
 * typings only declare (port, options, cb) and the enum, hence the narrow cast. Resolves the listen socket or null.
 */
export function listenExclusive(loaded: LoadedUws, app: TemplatedApp, host: string, port: number): Promise<UWS.us_listen_socket | null> {
  const exclusive = (loaded.uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }).LIBUS_LISTEN_EXCLUSIVE_PORT ?? 1;
  type Listen4 = (host: string, port: number, options: number, cb: (s: UWS.us_listen_socket | false) => void) => unknown;
  return new Promise((resolve) => (app.listen as unknown as Listen4).call(app, host, port, exclusive, (s) => resolve(s || null)));
}

export interface RequestProblem {
  /** 'framing': where the body ends is ambiguous; 'host': the target is; 'credentials': whose key it is. */
  kind: 'framing' | 'host' | 'credentials';
  message: string;
}

/**
 * What makes a request ambiguous, checked before any route sees it, or null. uWS takes the first of duplicated
 * headers while a proxy in front may take the last, so the two would disagree on where the body ends (request
 * smuggling) or on which site is meant. RFC 9112 §6.3 and §3.2 say such requests are refused.
 */
/** Headers a request may carry once: framing, target, and the key (refused twice rather than one picked). */
const ONCE = ['content-length', 'transfer-encoding', 'host', 'authorization', 'x-tx-key'];

export function requestProblem(headers: Array<[string, string]>): RequestProblem | null {
  const seen = new Map<string, string[]>();
  for (const [k, v] of headers) {
    if (ONCE.includes(k)) seen.set(k, [...(seen.get(k) ?? []), v]);
  }
  for (const [name, values] of seen) {
    if (values.length > 1) {
      // A key sent twice: which one counts would be a guess (the last one silently won, another tenant's maybe).
      const credentials = name === 'authorization' || name === 'x-tx-key';
      const shown = credentials ? '' : ` (${values.map((v) => JSON.stringify(v.slice(0, 40))).join(', ')})`;
      return { kind: name === 'host' ? 'host' : credentials ? 'credentials' : 'framing', message: `The ${name} header appears ${values.length} times${shown}; send it once.` };
    }
  }
  const cl = seen.get('content-length')?.[0];
  if (cl !== undefined && !/^[0-9]{1,15}$/.test(cl)) return { kind: 'framing', message: `Content-Length must be a plain decimal number of bytes, got ${JSON.stringify(cl.slice(0, 40))}.` };
  const te = seen.get('transfer-encoding')?.[0];
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') return { kind: 'framing', message: `Transfer-Encoding ${JSON.stringify(te.slice(0, 40))} is not supported; send chunked or a Content-Length.` };
  return null;
}

type Handler = (res: HttpResponse, req: HttpRequest) => void | Promise<void>;
const HTTP_METHODS = ['get', 'post', 'put', 'del', 'patch', 'options', 'head', 'any', 'connect', 'trace'] as const;

/**
 * Every route registered on the returned app (the same object) first refuses ambiguous requests with a 400
 * and closes the connection, so bytes after the headers are never parsed as another request. The answer is
 * sent on the next turn of the event loop, not in the handler: uWS 20.30 keeps parsing bytes it already read
 * after an ended response (even with `Connection: close`), and answered a smuggled request that way; while a
 * response is pending it closes the connection instead when more requests are in its buffer (measured), and
 * bytes arriving after the answer are never parsed. So: a 400 when nothing follows, a closed connection when
 * something does. What uWS refuses before any route runs (bad request line, missing Host, chunk extensions)
 * is for the proxy in front; see the README.
 */
export function guardRequests(app: TemplatedApp, onRefused: (p: RequestProblem) => void = () => undefined): TemplatedApp {
  const guard = (handler: Handler): Handler => (res, req) => {
    if (req.getMethod() === 'head') markHead(res);
    const headers: Array<[string, string]> = [];
    req.forEach((k, v) => {
      headers.push([k, v]);
    });
    const problem = requestProblem(headers);
    if (problem === null) return handler(res, req);
    onRefused(problem);
    const state = trackAbort(res);
    setImmediate(() => send(res, state, { ...fail('malformed_request', problem.message), close: true }));
  };
  const target = app as unknown as Record<string, (pattern: string, h: Handler) => TemplatedApp>;
  const registered: Registered[] = [];
  REGISTERED.set(app, registered);
  for (const m of HTTP_METHODS) {
    if (typeof target[m] !== 'function') continue;
    const original = target[m].bind(app);
    target[m] = (pattern, handler) => {
      registered.push({ method: m, pattern });
      original(pattern, guard(handler));
      // HEAD is the GET without its body (RFC 9110 §9.3.2): every GET route answers it, through answerBody.
      if (m === 'get' && typeof target.head === 'function') Reflect.apply(target.head, app, [pattern, handler]);
      return app;
    };
  }
  const ws = app.ws.bind(app);
  app.ws = ((pattern: string, behavior: UWS.WebSocketBehavior<unknown>) => {
    registered.push({ method: 'get', pattern });
    const upgrade = behavior.upgrade;
    ws(pattern, upgrade ? { ...behavior, upgrade: (res, req, context) => guard((r, q) => upgrade(r, q, context))(res, req) } : behavior);
    return app;
  }) as TemplatedApp['ws'];
  return app;
}

const REGISTERED = new WeakMap<object, Registered[]>();

/** Every route registered on an app returned by guardRequests, in order (the catch-all's 405s: methods.ts). */
export function registeredRoutes(app: TemplatedApp): readonly Registered[] {
  return REGISTERED.get(app) ?? [];
}

export interface ReqInfo {
  method: string;
  url: string;
  query: URLSearchParams;
  /** The query string as sent (URLSearchParams turns malformed percent-encoding into U+FFFD silently). */
  rawQuery?: string;
  headers: Record<string, string>;
  ip: string | null;
}

/**
 * The client address a trusted proxy put in X-Forwarded-For: the last entry, the one the proxy next to us
 * appended (nginx's $proxy_add_x_forwarded_for, an ALB, Caddy). Entries to its left come from the client
 * and can say anything. Null when that entry is not an IP address (the socket's address is used then).
 */
export function forwardedFor(header: string | undefined): string | null {
  if (!header) return null;
  const last = header.split(',').pop()!.trim();
  return net.isIP(last) !== 0 ? last : null;
}

export function snapshot(res: HttpResponse, req: HttpRequest, trustProxy: boolean): ReqInfo {
  const headers: Record<string, string> = {};
  req.forEach((k, v) => {
    headers[k] = v;
  });
  let ip: string | null = trustProxy ? forwardedFor(headers['x-forwarded-for']) : null;
  if (!ip) ip = Buffer.from(res.getRemoteAddressAsText()).toString() || null;
  const rawQuery = req.getQuery() ?? '';
  return { method: req.getMethod().toUpperCase(), url: req.getUrl(), query: new URLSearchParams(rawQuery), rawQuery, headers, ip };
}

const STATUS: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 204: '204 No Content', 400: '400 Bad Request', 401: '401 Unauthorized',
  403: '403 Forbidden', 404: '404 Not Found', 405: '405 Method Not Allowed', 409: '409 Conflict', 410: '410 Gone', 413: '413 Payload Too Large',
  415: '415 Unsupported Media Type', 426: '426 Upgrade Required', 429: '429 Too Many Requests', 500: '500 Internal Server Error', 503: '503 Service Unavailable',
};

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw text body (already serialised), with its content type. */
  text?: { body: string; type: string };
  close?: boolean;
}

/** Tracks whether the client went away; attach before the first await. */
export interface AbortState {
  aborted: boolean;
  done?: boolean;
  onAbort?: () => void;
}

export function trackAbort(res: HttpResponse): AbortState {
  const state: AbortState = { aborted: false };
  res.onAborted(() => {
    state.aborted = true;
    state.onAbort?.();
  });
  return state;
}

const HEAD = Symbol('head request');

function markHead(res: HttpResponse): void {
  (res as unknown as Record<symbol, boolean>)[HEAD] = true;
}

/**
 * Ends a response with its body, or for a HEAD request with the body's length and no body. uWS 20.30 (measured)
 * writes a body after a HEAD's headers as it would for a GET, which a client reads as the start of its next
 * answer; and endWithoutBody(length) leaves the response waiting for that many bytes, so the connection is
 * dropped (and endWithoutBody(undefined) reports 2^63). A Content-Length written by hand, then endWithoutBody(), is
 * a complete HEAD answer.
 */
export function answerBody(res: HttpResponse, body: string | Buffer, close?: boolean): void {
  if (!(res as unknown as Record<symbol, boolean>)[HEAD]) {
    res.end(body, close);
    return;
  }
  // Refusals that close the connection (so bytes behind them are never parsed) keep closing it: only end()
  // honours closeConnection, and it writes the empty body's own length.
  if (close) {
    res.end('', true);
    return;
  }
  res.writeHeader('Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
  res.endWithoutBody();
}

/**
 * Answers the request once. A JSON body that cannot be serialised (a reply too long for one string: RangeError
 * "Invalid string length"; a BigInt) answers 500 `internal`, logged, before anything is written: it threw out of
 * the cork once, after `done` was set, so the request was never answered.
 */
export function send(res: HttpResponse, state: AbortState, r: Reply, log?: Pick<Logger, 'error'>): void {
  if (state.aborted || state.done) return;
  let json: string | undefined;
  if (r.status !== 204 && !r.text) {
    try {
      json = JSON.stringify(r.body ?? {});
    } catch (err) {
      if (log) log.error({ err, status: r.status }, 'reply could not be serialised');
      else console.error('reply could not be serialised', err);
      r = { ...fail('internal', 'Internal error.'), headers: r.headers, close: r.close };
      json = JSON.stringify(r.body);
    }
  }
  state.done = true;
  res.cork(() => {
    res.writeStatus(STATUS[r.status] ?? `${r.status} Status`);
    for (const [k, v] of Object.entries(r.headers ?? {})) res.writeHeader(k, v);
    if (r.status === 204) {
      res.endWithoutBody(0, r.close);
    } else if (r.text) {
      res.writeHeader('Content-Type', r.text.type);
      answerBody(res, r.text.body, r.close);
    } else {
      res.writeHeader('Content-Type', 'application/json');
      answerBody(res, json ?? '{}', r.close);
    }
  });
}

export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: 'too_large' | 'aborted' };

/**
 * Reads the body, refusing it as soon as it passes `max` bytes (declared or actually received), so an
 * oversized upload never sits in memory.
 */
export function readBody(res: HttpResponse, state: AbortState, declaredLength: string | undefined, max: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    if (declaredLength !== undefined && Number(declaredLength) > max) {
      resolve({ ok: false, reason: 'too_large' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    state.onAbort = () => {
      if (!finished) {
        finished = true;
        resolve({ ok: false, reason: 'aborted' });
      }
    };
    res.onData((chunk, isLast) => {
      if (finished) return;
      if (state.aborted) {
        finished = true;
        resolve({ ok: false, reason: 'aborted' });
        return;
      }
      size += chunk.byteLength;
      if (size > max) {
        finished = true;
        resolve({ ok: false, reason: 'too_large' });
        return;
      }
      // uWS reuses the chunk's memory after this callback returns: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) {
        finished = true;
        resolve({ ok: true, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) });
      }
    });
  });
}
