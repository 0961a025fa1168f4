// Meta city targeting by key: the ad set's geo_locations.cities take a `key` from Meta's targeting search
// (GET /search?type=adgeolocation&location_types=["city"]&q=), never a name (Meta refuses a city given by name).
// Each of the suite's cities is looked up once per publish; the best match is the city named exactly so (case and
// diacritics aside) in the location's country, else Meta's first city there (any country when the location names
// none). A city Meta does not know is left out; without any city the ad set targets the locations' countries. No
// country is assumed (it was RO): the suite always names one (suite.ts suiteCountry), and a targeting without any
// (a draft of an earlier version) is refused before anything is created (meta.ts).
import type { Outcome } from './adapter.js';
import { call } from './adapter.js';

/** Meta's radius around a city, in kilometres, is 17-80 (10-50 miles). */
const RADIUS_KM = { min: 17, max: 80 };

export interface Location {
  country?: string;
  city?: string;
  radius_km?: number;
}

export interface MetaCity {
  key: string;
  name: string;
  radius_km: number;
}

const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').trim().toLowerCase();

/**
 * Of the targeting search's answer for `loc.city`, the city meant; null when Meta knows none. Only cities in the
 * location's country when it names one (any, without); an exact name (case and diacritics aside) before Meta's
 * order. Pure.
 */
export function pickCity(found: { key?: unknown; name?: unknown; type?: unknown; country_code?: unknown }[], loc: Location): MetaCity | null {
  const cities = found.filter((f) => (typeof f.key === 'string' || typeof f.key === 'number') && typeof f.name === 'string' && (f.type === undefined || f.type === 'city'));
  const country = loc.country?.toUpperCase() ?? null;
  // A location that names its country is not matched abroad.
  const home = country === null ? cities : cities.filter((f) => typeof f.country_code !== 'string' || f.country_code.toUpperCase() === country);
  const want = fold(loc.city ?? '');
  const hit = home.find((f) => fold(String(f.name)) === want) ?? home[0];
  if (!hit) return null;
  const radius = Math.min(RADIUS_KM.max, Math.max(RADIUS_KM.min, Math.round(loc.radius_km ?? 40)));
  return { key: String(hit.key), name: String(hit.name), radius_km: radius };
}

/** The locations' countries (ISO alpha-2, upper case), each once. Pure. */
export const countriesOf = (locations: Location[]): string[] =>
  [...new Set(locations.map((l) => l.country?.toUpperCase()).filter((c): c is string => !!c && /^[A-Z]{2}$/.test(c)))];

/** The ad set's geo_locations: the cities by key, else the countries; null when there is neither. Pure. */
export function metaGeo(locations: Location[], cities: MetaCity[]): Record<string, unknown> | null {
  if (cities.length) return { cities: cities.map((c) => ({ key: c.key, radius: c.radius_km, distance_unit: 'kilometer' })) };
  const countries = countriesOf(locations);
  return countries.length ? { countries } : null;
}

/** Looks each location's city up (one search per distinct city, at most 25). */
export async function resolveCities(base: string, q: () => string, locations: Location[]): Promise<Outcome<MetaCity[]>> {
  const out: MetaCity[] = [];
  const seen = new Set<string>();
  for (const loc of locations.filter((l) => l.city && l.city.trim()).slice(0, 25)) {
    const id = `${fold(loc.city!)}|${loc.country ?? ''}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const params = new URLSearchParams({ type: 'adgeolocation', location_types: JSON.stringify(['city']), q: loc.city!.trim(), limit: '10' });
    const r = await call(`${base}/search?${params}&${q()}`, { method: 'GET' });
    if (!r.ok) return r;
    if (!Array.isArray(r.value?.data)) return { ok: false, error: 'Meta answered the location search without a data list', retriable: false };
    const hit = pickCity(r.value.data, loc);
    if (hit && !out.some((c) => c.key === hit.key)) out.push(hit);
  }
  return { ok: true, value: out };
}
