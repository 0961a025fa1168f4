// Number, money, percent and time formatting for the dashboard. Pure (locale passed in).

export function formatCount(n: number, locale?: string): string {
  return new Intl.NumberFormat(locale).format(n);
}

export function formatMoney(amount: number, currency: string, locale?: string): string {
  try {
    // The currency's own minor units: 2 for EUR, 0 for JPY, 3 for KWD.
    return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(amount);
  } catch {
    // Not an ISO code Intl knows (e.g. XXX for "unknown"): plain number and code.
    return `${new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(amount)} ${currency}`;
  }
}

/** 0.4567 → "45.7 %" (a ratio, not a percentage). */
export function formatRatio(r: number, locale?: string): string {
  return new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(r);
}

/** The orders KPI's line: "–" without views (no share of nothing, as the funnel shows it), else "2.5% of event views". */
export function viewShareText(views: number, ratio: number, locale?: string): string {
  return views > 0 ? `${formatRatio(ratio, locale)} of event views` : '– of event views';
}

/** 84.3 → "84.3 %" (already a percentage). */
export function formatPercent(p: number | null, locale?: string): string {
  return p === null ? '–' : formatRatio(p / 100, locale);
}

/** "just now", "12 s ago", "3 min ago", "2 h ago". */
export function formatAgo(ms: number): string {
  if (ms < 2000) return 'just now';
  if (ms < 60_000) return `${Math.floor(ms / 1000)} s ago`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ago`;
  return `${Math.floor(ms / 3_600_000)} h ago`;
}

/** HH:MM:SS in the viewer's time zone. */
export function formatClock(ts: number | string, locale?: string): string {
  return new Date(ts).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** HH:MM */
export function formatMinute(ts: number, locale?: string): string {
  return new Date(ts).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', hour12: false });
}


/** A live notice in words (README "Topics" → notices); null for a kind this page does not know. */
export function noticeText(d: { kind: string } & Record<string, unknown>, locale?: string): string | null {
  if (d.kind !== 'campaign_budget_low') return null;
  const left = typeof d.remaining === 'number' && typeof d.currency === 'string' ? formatMoney(d.remaining, d.currency, locale) : '?';
  // remaining_pct is a percentage (12.5 = 12.5 % of the total).
  const pct = typeof d.remaining_pct === 'number' ? ` (${formatPercent(d.remaining_pct, locale)})` : '';
  return `Campaign budget ${String(d.budget_id ?? '')}: ${left} left${pct}. Its campaigns pause when it is spent.`;
}
