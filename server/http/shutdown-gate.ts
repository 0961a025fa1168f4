// The HTTP side of a graceful shutdown (README "Operations"): once it begins, a request is refused 503
// shutting_down before its route runs, and the requests already being handled are counted so close() can wait for
// them before it closes the connections.
import { shuttingDown } from './errors.js';
import { send, trackAbort, type HttpRequest, type HttpResponse, type TemplatedApp } from './uws.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void | Promise<void>;
const GATED = new WeakSet<Handler>();
const GATED_METHODS = ['get', 'post', 'put', 'del', 'patch', 'options', 'head', 'any', 'connect', 'trace'] as const;

/**
 * The HTTP side of a graceful shutdown. Wraps every route registered on `app` from now on (the websocket upgrade
 * too): after begin(), a request is answered 503 shutting_down with `Connection: close` before its route runs;
 * before, it is counted until its response ends (end, endWithoutBody, upgrade, close) or its client goes away
 * (the route's onAborted), so drained() can wait for the requests being handled. Install it on the app returned
 * by guardRequests, before any route: its own refusals (ambiguous requests) still come first.
 */
export function shutdownGate(app: TemplatedApp): { begin(): void; drained(timeoutMs: number): Promise<boolean> } {
  let closing = false;
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const settle = () => {
    if (--inFlight > 0) return;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  /** Counts the request until its response ends or is aborted, once. */
  const track = (res: HttpResponse) => {
    inFlight++;
    let open = true;
    const done = () => {
      if (!open) return;
      open = false;
      settle();
    };
    const r = res as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const m of ['end', 'endWithoutBody', 'upgrade', 'close']) {
      const original = r[m];
      if (typeof original !== 'function') continue;
      r[m] = (...a: unknown[]) => {
        try {
          return original.apply(res, a);
        } finally {
          done();
        }
      };
    }
    const onAborted = r.onAborted;
    r.onAborted = (handler: unknown) =>
      onAborted.call(res, () => {
        done();
        (handler as () => void)();
      });
  };
  const refuse = (res: HttpResponse) => send(res, trackAbort(res), shuttingDown());
  const gated = (handler: Handler): Handler => {
    if (GATED.has(handler)) return handler;
    const g: Handler = (res, req) => {
      if (closing) return refuse(res);
      track(res);
      return handler(res, req);
    };
    GATED.add(g);
    return g;
  };
  const target = app as unknown as Record<string, (pattern: string, h: Handler) => TemplatedApp>;
  for (const m of GATED_METHODS) {
    const register = target[m];
    if (typeof register !== 'function') continue;
    target[m] = (pattern, handler) => register.call(app, pattern, gated(handler));
  }
  const ws = app.ws.bind(app);
  app.ws = ((pattern: string, behavior: Parameters<TemplatedApp['ws']>[1]) => {
    const upgrade = behavior.upgrade;
    if (!upgrade) return ws(pattern, behavior);
    return ws(pattern, {
      ...behavior,
      upgrade: (res, req, context) => {
        if (closing) return refuse(res);
        track(res);
        return upgrade(res, req, context);
      },
    });
  }) as TemplatedApp['ws'];
  return {
    begin() {
      closing = true;
    },
    drained(timeoutMs) {
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
        waiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
  };
}
