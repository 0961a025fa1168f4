// The live dashboard page (/dashboard): sign in with a dashboard token (pasted, or ?token= in the link,
// which is then moved to sessionStorage and removed from the address bar), then the organizer view or
// the gate view depending on the token's role. One websocket (client/live) feeds everything; the header
// shows its state, the reconnect countdown and how fresh the numbers are. #artist/{id} and #venue/{id} (entity.ts)
// are daily figures read over REST, without the websocket; artist and venue tokens open only those. #approvals
// (approvals.ts) is the marketplace's campaign approval queue: a secret key allowed to approve opens it (and only
// it); a dashboard token there is told why it cannot approve. Venue manager, promoter, ad account and media tokens
// open the existing view their role may use (roles-data.ts decides which); pages they cannot use are not linked.
import type { LiveClient, StateInfo } from '../live/client.js';
import { decodeToken, type TokenClaims } from '../live/token.js';
import { createLiveClient } from '../live/ws.js';
import { attr, h, text } from './dom.js';
import { formatAgo } from './format.js';
import { EXPIRED_MESSAGE, expiringMessage, tokenClock } from './expiry.js';
import { GateView } from './gate.js';
import { createHistoryFetcher } from './history.js';
import { OrganizerView } from './organizer.js';
import { TrendsView } from './trends.js';
import { TrackingView } from './tracking.js';
import { CampaignsView } from './campaigns.js';
import { liveOrganizerName } from './campaigns-data.js';
import { EntityView } from './entity.js';
import { ApprovalsView } from './approvals.js';
import { isSecretKey } from './approvals-data.js';
import { adminTokenExp, entityClaims, entityHash, parseEntityHash, type EntityClaims, type EntityKind, type EntityRoute } from './entity-data.js';
import { navPages, orgHash, roleClaims, roleLabel, rolePage, type RoleClaims } from './roles-data.js';

const STORE_KEY = 'tx_dashboard_token';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

interface Running {
  /** null for the artist and venue views, which read REST only. */
  client: LiveClient | null;
  view: { el: HTMLElement; start(): void; destroy(): void };
  /** The links to the token's other organizers (promoter, ad account), removed with the view. */
  extra?: HTMLElement | null;
  /** The token's expiry, epoch seconds (Infinity for a secret key). */
  exp: number;
}

let running: Running | null = null;
let lastMessageAt = 0;
/** The live view says nothing of its page is readable by the token (why, in words): the header says "No access". */
let noAccess: string | null = null;
let clockTimer: ReturnType<typeof setInterval> | null = null;

function showError(message: string | null): void {
  const el = $('error');
  el.hidden = !message;
  text(el, message ?? '');
}

function showSignin(message?: string): void {
  stop();
  $('signin').hidden = false;
  $('app').hidden = true;
  $('signout').hidden = true;
  $('open-entity').hidden = true;
  $('conn').hidden = false;
  text($('who'), '');
  // Nothing of the signed-out view stays in the header: no "updated", no links into its pages.
  text($('updated'), '');
  for (const id of ['nav-history', 'nav-tracking', 'nav-campaigns']) $(id).hidden = true;
  setConn(null);
  showError(message ?? null);
  ($('token-input') as HTMLTextAreaElement).focus();
}

function stop(): void {
  if (!running) return;
  running.view.destroy();
  running.client?.close();
  running.view.el.remove();
  running.extra?.remove();
  running = null;
  noAccess = null;
  if (clockTimer) clearInterval(clockTimer);
  clockTimer = null;
}

function setConn(s: StateInfo | null): void {
  const el = $('conn');
  const label = el.querySelector('.label')!;
  if (!s) {
    attr(el, 'data-state', 'idle');
    text(label, 'Not connected');
    return;
  }
  // The browser knows it is offline before the socket does (its heartbeat takes up to 30 s): numbers on screen
  // stop being live at once, so the header says so at once.
  // Connected, but the server withdrew what the page shows (a role lost a permission): not live either.
  const state = !navigator.onLine && (s.state === 'reconnecting' || s.state === 'open' || s.state === 'connecting') ? 'offline' : s.state === 'open' && noAccess ? 'noaccess' : s.state;
  attr(el, 'data-state', state);
  attr(el, 'data-attempt', String(s.attempt));
  switch (state) {
    case 'idle':
    case 'connecting':
      text(label, s.attempt > 0 ? `Connecting… (attempt ${s.attempt + 1})` : 'Connecting…');
      break;
    case 'open':
      text(label, 'Live');
      attr(el, 'title', null);
      break;
    case 'noaccess':
      text(label, 'No access');
      attr(el, 'title', noAccess);
      break;
    case 'offline':
      text(label, 'Offline — waiting for the network');
      break;
    case 'reconnecting': {
      const secs = Math.max(0, Math.ceil(((s.retryAt ?? Date.now()) - Date.now()) / 1000));
      text(label, `Reconnecting in ${secs} s`);
      attr(el, 'title', s.reason ?? '');
      break;
    }
    case 'closed':
      text(label, s.error === 'token_expired' ? 'Token expired' : s.error === 'unauthorized' ? 'Token refused' : 'Disconnected');
      break;
  }
}

function tick(): void {
  if (!running) return;
  if (running.client) setConn(running.client.stateInfo);
  const el = $('updated');
  if (!lastMessageAt) text(el, '');
  else text(el, `Updated ${formatAgo(Date.now() - lastMessageAt)}`);
  if (!Number.isFinite(running.exp)) return;
  attr($('who'), 'title', `Token expires ${new Date(running.exp * 1000).toLocaleString()}`);
  const clock = tokenClock(running.exp, Date.now());
  if (clock.state === 'expiring') showError(expiringMessage(clock.minutes));
  else if (clock.state === 'expired') {
    // A live page hears it from the server within seconds (the socket closes with token_expired, and the page
    // signs out then); until then its banner must not keep counting down. A page read over REST has no socket to
    // tell it: it signs out now, as the live pages do, so nothing on it (Approve, say) stays usable with a dead token.
    if (running.client) showError(EXPIRED_MESSAGE);
    else {
      sessionStorage.removeItem(STORE_KEY);
      showSignin(EXPIRED_MESSAGE);
    }
  }
}

/** The header's links to the organizer's pages: those the role may use (roles-data.ts navPages), except the page it is on. */
function setNav(role: string | null, current: string | null, orgs = 1): void {
  const mine = navPages(role ?? '', orgs);
  for (const page of ['history', 'tracking', 'campaigns'] as const) $(`nav-${page}`).hidden = !mine.includes(page) || current === page;
}

/** Links to the token's other organizers (`#org={id}`), above the view; null with one organizer. */
function orgLinks(orgs: string[], current: string): HTMLElement | null {
  if (orgs.length < 2) return null;
  return h('nav', { class: 'org-links', id: 'org-links' }, 'Organizers: ', ...orgs.map((o) => (o === current ? h('strong', null, o) : h('a', { href: orgHash(o) }, o))).flatMap((el, i) => (i ? [' · ', el] : [el])));
}

/** The "open artist/venue" form of the header: for the roles that may read one (the server decides which). */
function showOpenForm(kind: EntityKind | null): void {
  $('open-entity').hidden = kind === null;
  if (kind) ($('open-kind') as HTMLSelectElement).value = kind;
}

/** #artist/{id} or #venue/{id}; an artist or venue token without one opens its first artist or venue. */
function entityRouteFor(entity: EntityClaims | null): EntityRoute | null {
  const route = parseEntityHash(location.hash) ?? (entity ? { kind: entity.role, id: entity.ids[0] } : null);
  if (route && location.hash !== entityHash(route)) history.replaceState(null, '', location.pathname + location.search + entityHash(route));
  return route;
}

function startEntity(token: string, route: EntityRoute, claims: TokenClaims | null, entity: EntityClaims | null, exp: number, label?: string): void {
  const mine = entity ? entity.ids.map((id) => ({ kind: entity.role, id })) : [];
  const view = new EntityView(location.origin, token, route, { back: claims?.role === 'organizer' ? '#' : null, mine });
  text($('who'), label ?? (entity ? `${entity.role === 'artist' ? 'Artist' : 'Venue'} · ${entity.ids.join(', ')}` : claims!.role === 'organizer' ? `Organizer ${claims!.org}` : 'Gate staff'));
  setNav(claims?.role ?? null, null);
  showOpenForm(entity ? route.kind : null);
  // No websocket here: the connection badge would only ever say "Not connected".
  $('conn').hidden = true;
  $('app').append(view.el);
  running = { client: null, view, exp };
  view.start();
  clockTimer = setInterval(tick, 1000);
}

/** The approval queue (REST only): a secret key's, or a dashboard token's explanation of why it cannot approve. */
function startApprovals(credential: string, kind: 'key' | 'token', who: string, exp: number): void {
  if (location.hash !== '#approvals') history.replaceState(null, '', `${location.pathname}${location.search}#approvals`);
  const view = new ApprovalsView(location.origin, credential, kind, (m) => showError(m));
  text($('who'), who);
  setNav(null, null);
  showOpenForm(null);
  $('conn').hidden = true;
  $('app').append(view.el);
  running = { client: null, view, exp };
  view.start();
  clockTimer = setInterval(tick, 1000);
}

/** A page read over REST only (the ad account's campaigns, the media notice): no websocket, no connection badge. */
function startRest(view: Running['view'], who: string, exp: number, extra: HTMLElement | null): void {
  text($('who'), who);
  setNav(null, null);
  showOpenForm(null);
  $('conn').hidden = true;
  if (extra) $('app').append(extra);
  $('app').append(view.el);
  running = { client: null, view, exp, extra };
  view.start();
  clockTimer = setInterval(tick, 1000);
}

/** The page of a venue_manager, promoter, ad_account or media token: an existing view, as roles-data.ts picks it. */
function startRole(token: string, rc: RoleClaims, exp: number): void {
  const page = rolePage(rc, location.hash);
  const who = roleLabel(rc);
  switch (page.view) {
    case 'entity': {
      const entity: EntityClaims = { tenant: rc.tenant, role: page.kind, ids: page.ids, exp };
      return startEntity(token, entityRouteFor(entity)!, null, entity, exp, who);
    }
    case 'campaigns':
      return startRest(new CampaignsView(location.origin, token, page.org, (m) => showError(m), false), who, exp, orgLinks(page.orgs, page.org));
    case 'notice':
      return startRest({ el: h('section', { class: 'panel notice', id: 'role-notice' }, h('h1', null, who), h('p', null, page.message)), start: () => undefined, destroy: () => undefined }, who, exp, null);
    case 'organizer':
      return startLive(token, { tenant: rc.tenant, role: 'organizer', org: page.org, iat: 0, exp }, exp, rc, orgLinks(page.orgs, page.org));
    case 'capacity':
      return startLive(token, { tenant: rc.tenant, role: 'gate', events: page.events, iat: 0, exp }, exp, rc, null);
  }
}

/** Keeps the credential for this tab and swaps the sign-in form for the page. */
function showApp(credential: string): void {
  sessionStorage.setItem(STORE_KEY, credential);
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  showError(null);
}

function start(token: string): void {
  stop();
  if (isSecretKey(token)) {
    showApp(token);
    return startApprovals(token, 'key', `Campaign review · key …${token.trim().slice(-4)}`, Infinity);
  }
  const adminExp = adminTokenExp(token);
  if (adminExp !== null) {
    if (adminExp * 1000 <= Date.now()) return showSignin('This token has expired. Paste a new one.');
    showApp(token);
    return startApprovals(token, 'token', 'Admin', adminExp);
  }
  const claims = decodeToken(token);
  const entity = claims ? null : entityClaims(token);
  const rc = claims || entity ? null : roleClaims(token);
  const exp = claims?.exp ?? entity?.exp ?? rc?.exp;
  if (exp === undefined) return showSignin('That is not a dashboard token. Tokens look like v1.xxxxx.yyyyy (POST /api/v1/tokens, or `npm run demo`); the campaign approval queue takes an admin token or a secret key (tx_sk_…).');
  if (exp * 1000 <= Date.now()) return showSignin('This token has expired. Paste a new one.');
  showApp(token);
  lastMessageAt = 0;
  if (location.hash === '#approvals') return startApprovals(token, 'token', rc ? roleLabel(rc) : claims?.role === 'organizer' ? `Organizer ${claims.org}` : entity ? `${entity.role === 'artist' ? 'Artist' : 'Venue'} · ${entity.ids.join(', ')}` : 'Gate staff', exp);
  if (rc) return startRole(token, rc, exp);
  const route = entityRouteFor(entity);
  if (route) return startEntity(token, route, claims, entity, exp);
  if (claims) startLive(token, claims, exp, null, null);
}

/**
 * The live views (one websocket): the organizer view and its pages, or the gate view. `as`: a promoter token
 * shown as its organizer (org_ids) or as the capacity of its events (event_ids only), with the promoter's links.
 */
function startLive(token: string, claims: TokenClaims, exp: number, as: RoleClaims | null, extra: HTMLElement | null): void {
  $('conn').hidden = false;
  // Organizer and gate tokens read no artist or venue figures (those belong to venue and artist roles).
  showOpenForm(null);

  const client = createLiveClient({ url: location.origin, token, backoff: { baseMs: 500, maxMs: 15_000 }, connect: false });
  const onError = (m: string) => showError(m);
  const role = as?.role ?? claims.role;
  const orgs = claims.org === undefined ? 0 : 1;
  const pages = navPages(role, orgs);
  // #tracking: the organizer's tracking codes (tracking.ts) instead of the live view.
  const tracking = pages.includes('tracking') && location.hash === '#tracking';
  // #history: the organizer's 7/30-day history from the feature store (trends.ts) instead of the live view.
  const trends = pages.includes('history') && location.hash === '#history' ? new TrendsView(location.origin, token, claims.org!, onError) : null;
  // #campaigns: the organizer's ad campaigns, budget and recommendations (campaigns.ts), read-only.
  const campaigns = pages.includes('campaigns') && location.hash === '#campaigns' ? new CampaignsView(location.origin, token, claims.org!, onError) : null;
  setNav(role, tracking ? 'tracking' : trends ? 'history' : campaigns ? 'campaigns' : null, orgs);
  const named = (name: string) => text($('who'), as ? `Promoter · ${name} (${claims.org})` : `Organizer ${name} (${claims.org})`);
  const view = trends ?? campaigns ?? (tracking ? new TrackingView(location.origin, token, claims.org!, onError) : claims.role === 'organizer' ? new OrganizerView(client, claims.org!, onError, createHistoryFetcher(location.origin, token), named, (problem) => {
          noAccess = problem;
          setConn(client.stateInfo);
        }) : new GateView(client, claims.events ?? [], onError));
  text($('who'), as ? roleLabel(as) : claims.role === 'organizer' ? `Organizer ${claims.org}` : `Gate staff · ${(claims.events ?? []).length} event${(claims.events ?? []).length === 1 ? '' : 's'}`);
  if (extra) $('app').append(extra);
  $('app').append(view.el);
  client.on('state', (s) => {
    setConn(s);
    if (s.state === 'open') showError(null);
    if (s.state === 'closed' && s.error) {
      sessionStorage.removeItem(STORE_KEY);
      showSignin(s.error === 'token_expired' ? EXPIRED_MESSAGE : 'The server refused this token (wrong server, or the token was revoked). Paste a new one.');
    }
  });
  client.on('message', () => {
    lastMessageAt = Date.now();
  });
  running = { client, view, exp, extra };
  view.start();
  client.connect();
  clockTimer = setInterval(tick, 1000);
  // #campaigns subscribes to no topic: the organizer's catalog name comes from the live view's roll-up over REST,
  // so the header reads "Organizer Name (id)" as on the live view (the id alone when the catalog has no name).
  if (campaigns) void organizerNameOf(token, claims.org!).then((name) => {
    if (name && running?.view === view) named(name);
  });
  (window as unknown as { txDashboard: unknown }).txDashboard = { client, claims };
}

/** The organizer's catalog name from GET /api/v1/live/dashboard/{org} (the live view's topic), null on any failure. */
async function organizerNameOf(token: string, org: string): Promise<string | null> {
  try {
    const r = await fetch(`${location.origin}/api/v1/live/dashboard/${encodeURIComponent(org)}`, { headers: { authorization: `Bearer ${token}` } });
    return r.ok ? liveOrganizerName(await r.json()) : null;
  } catch {
    return null;
  }
}

function boot(): void {
  const form = $('signin-form') as HTMLFormElement;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = ($('token-input') as HTMLTextAreaElement).value.trim();
    if (v) start(v);
  });
  $('open-entity').addEventListener('submit', (e) => {
    e.preventDefault();
    const id = ($('open-id') as HTMLInputElement).value.trim();
    if (id) location.hash = entityHash({ kind: ($('open-kind') as HTMLSelectElement).value === 'artist' ? 'artist' : 'venue', id });
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem(STORE_KEY);
    showSignin();
  });
  window.addEventListener('online', () => running?.client?.retryNow());
  window.addEventListener('hashchange', () => {
    const t = sessionStorage.getItem(STORE_KEY);
    if (t && running) start(t);
  });
  window.addEventListener('offline', () => running?.client && setConn(running.client.stateInfo));

  // A token in the link is taken once and removed from the address bar (and so from history and screenshots).
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + (url.search === '?' ? '' : url.search) + url.hash);
  }
  // A secret key does not belong in a link (it would stay in the history and in server logs): paste it instead.
  if (fromUrl && isSecretKey(fromUrl)) return showSignin('A secret key is never put in a link. Paste it here instead (it is kept for this tab only).');
  const token = fromUrl?.trim() || sessionStorage.getItem(STORE_KEY);
  if (token) start(token);
  else showSignin();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();

