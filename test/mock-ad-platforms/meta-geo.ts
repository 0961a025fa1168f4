// Meta's location search and the ad set's geo_locations as the stand-in checks them: cities go by `key` from
// GET /search?type=adgeolocation&location_types=["city"] (a name alone is refused, as Meta does), with a radius of
// 17-80 km (10-50 miles) and a distance_unit; or countries as ISO alpha-2 codes. At least one of them.

type Reply = { status: number; body: unknown };

/** Meta's cities as the stand-in's location search knows them (keys in Meta's form). */
export const CITIES: { key: string; name: string; region: string; country_code: string }[] = [
  { key: '1788569', name: 'Cluj-Napoca', region: 'Cluj County', country_code: 'RO' },
  { key: '1786974', name: 'Bucharest', region: 'Bucharest', country_code: 'RO' },
  { key: '1792103', name: 'Timișoara', region: 'Timiș County', country_code: 'RO' },
  { key: '1791406', name: 'Iași', region: 'Iași County', country_code: 'RO' },
  { key: '2673730', name: 'Cluj', region: 'Ohio', country_code: 'US' },
];

const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

/** GET /search?type=adgeolocation: cities whose name contains the query (diacritics and case aside), exact names first. */
export function searchCities(params: URLSearchParams, bad: (m: string) => Reply): Reply {
  const q = fold((params.get('q') ?? '').trim());
  if (!q) return bad('Invalid parameter: q is required');
  let types: unknown;
  try {
    types = JSON.parse(params.get('location_types') ?? '["city"]');
  } catch {
    return bad('Invalid parameter: location_types must be a JSON array');
  }
  if (!Array.isArray(types) || !types.includes('city')) return { status: 200, body: { data: [] } };
  const data = CITIES.filter((c) => fold(c.name).includes(q))
    .sort((a, b) => Number(fold(b.name) === q) - Number(fold(a.name) === q))
    .slice(0, Number(params.get('limit') ?? 25))
    .map((c) => ({ key: c.key, name: c.name, type: 'city', country_code: c.country_code, country_name: c.country_code === 'RO' ? 'Romania' : 'United States', region: c.region, supports_region: true, supports_city: true }));
  return { status: 200, body: { data } };
}

/** What is wrong with an ad set's geo_locations, or null. */
export function checkGeo(geo: any): string | null {
  if (!geo || typeof geo !== 'object') return 'Invalid parameter: targeting.geo_locations is required';
  const cities: any[] = Array.isArray(geo.cities) ? geo.cities : [];
  const countries: any[] = Array.isArray(geo.countries) ? geo.countries : [];
  if (!cities.length && !countries.length) return 'Invalid parameter: targeting.geo_locations needs countries or cities';
  for (const c of cities) {
    if (!CITIES.some((x) => x.key === String(c?.key ?? ''))) return `Invalid parameter: a city in geo_locations needs a valid key from the location search (got ${JSON.stringify(c)})`;
    if (c.radius !== undefined) {
      if (c.distance_unit !== 'kilometer' && c.distance_unit !== 'mile') return 'Invalid parameter: a city radius needs distance_unit kilometer or mile';
      const km = c.distance_unit === 'mile' ? c.radius * 1.609 : c.radius;
      if (!(km >= 16.9 && km <= 80.5)) return `Invalid parameter: a city radius must be 10-50 miles (17-80 km), got ${c.radius} ${c.distance_unit}`;
    }
  }
  if (countries.some((c) => typeof c !== 'string' || !/^[A-Z]{2}$/.test(c))) return 'Invalid parameter: countries must be ISO alpha-2 codes';
  return null;
}
