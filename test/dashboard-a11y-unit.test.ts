// Probe findings on the dashboard's legibility and names (no browser): the History page's range buttons on the
// light page, their pressed state, the capacity percentage over every fill colour, the capacity meters' names,
// and the orders KPI without views.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gateMeterLabel, pressDays, venueMeterLabel } from '../client/dashboard/a11y.js';
import { viewShareText } from '../client/dashboard/format.js';

const css = fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../client/dashboard/app.css'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
const vars = Object.fromEntries([...css.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1], m[2]]));
/** The last declaration of `prop` in the rule whose selector list holds exactly `selector`. */
const decl = (selector: string, prop: string): string | null => {
  let found: string | null = null;
  for (const m of css.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
    if (!m[1].split(',').map((s) => s.trim()).includes(selector)) continue;
    const d = new RegExp(`(?:^|;)\\s*${prop}:\\s*([^;]+)`).exec(m[2]);
    if (d) found = d[1].trim();
  }
  return found && found.replace(/var\(--([\w-]+)\)/g, (_, v) => vars[v]);
};
type RGBA = [number, number, number, number];
const rgba = (c: string): RGBA => {
  const hex = /^#([0-9a-f]{6})$/i.exec(c);
  if (hex) return [0, 2, 4].map((i) => parseInt(hex[1].slice(i, i + 2), 16)).concat(1) as RGBA;
  const m = /^rgba?\(([^)]+)\)$/.exec(c)!;
  const p = m[1].split(',').map(Number);
  return [p[0], p[1], p[2], p[3] ?? 1];
};
const over = (top: RGBA, under: RGBA): RGBA => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat(1) as RGBA;
const lum = (c: RGBA) => {
  const [r, g, b] = c.slice(0, 3).map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a: RGBA, b: RGBA) => {
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};

describe('dashboard legibility and names', () => {
  it('the History range buttons read on the light page (≥ 4.5:1), pressed or not', () => {
    const bg = rgba(vars.bg);
    for (const sel of ['.trends-view button.link', '.trends-view button.link[aria-pressed="true"]']) {
      const c = decl(sel, 'color');
      expect({ sel, c }).toEqual({ sel, c: expect.stringMatching(/^#/) });
      expect({ sel, ratio: contrast(rgba(c!), bg) >= 4.5 }).toEqual({ sel, ratio: true });
    }
  });

  it('the pressed range button says aria-pressed="true", the other "false"', () => {
    const b = (days: string) => {
      const a = new Map<string, string>([['data-days', days]]);
      return { getAttribute: (k: string) => a.get(k) ?? null, setAttribute: (k: string, v: string) => void a.set(k, v), a };
    };
    const seven = b('7');
    const thirty = b('30');
    pressDays([seven, thirty], 30);
    expect([seven.a.get('aria-pressed'), thirty.a.get('aria-pressed')]).toEqual(['false', 'true']);
  });

  it('the capacity percentage reads ≥ 4.5:1 over every fill and the empty track', () => {
    const ink = rgba(decl('.meter .pct', 'color') ?? vars.ink);
    const back = decl('.meter .pct', 'background');
    expect(back).not.toBeNull();
    for (const fill of [vars.ok, vars.warn, vars.crit, '#b3b9c4', '#eef0f3']) {
      const under = over(rgba(back!), rgba(fill));
      expect({ fill, ok: contrast(ink, under) >= 4.5 }).toEqual({ fill, ok: true });
    }
  });

  it('capacity meters are named after their gate and event', () => {
    expect(venueMeterLabel('E1')).toBe('Venue capacity used, event E1');
    expect(gateMeterLabel('North', 'E1')).toBe('Gate North capacity used, event E1');
  });

  it('the orders KPI shows "–" of event views without views', () => {
    expect(viewShareText(0, 0, 'en')).toBe('– of event views');
    expect(viewShareText(200, 0.025, 'en')).toBe('2.5% of event views');
  });
});
