import { describe, expect, it } from 'vitest';
import { metaGeo, pickCity } from './meta-geo.js';

const found = [
  { key: '2673730', name: 'Cluj', type: 'city', country_code: 'US' },
  { key: '1788569', name: 'Cluj-Napoca', type: 'city', country_code: 'RO' },
  { key: '999', name: 'Cluj County', type: 'region', country_code: 'RO' },
];

describe('Meta city targeting', () => {
  it('picks the city in the location\'s country before an exact name abroad, never a region', () => {
    expect(pickCity(found, { city: 'Cluj', country: 'RO', radius_km: 50 })).toEqual({ key: '1788569', name: 'Cluj-Napoca', radius_km: 50 });
    // No country assumed: without one, the exact name anywhere.
    expect(pickCity(found, { city: 'Cluj', radius_km: 50 })).toEqual({ key: '2673730', name: 'Cluj', radius_km: 50 });
    expect(pickCity(found, { city: 'Cluj', country: 'us' })).toMatchObject({ key: '2673730' });
    expect(pickCity(found, { city: 'Cluj', country: 'HU' })).toBeNull();
    expect(pickCity([{ key: 5, name: 'Iași', type: 'city', country_code: 'RO' }, { key: 6, name: 'Iasi Town', country_code: 'RO' }], { city: 'IASI' })).toMatchObject({ key: '5' });
    expect(pickCity([{ key: '1', name: 'Springfield', country_code: 'US' }], { city: 'Springfield' })).toMatchObject({ key: '1' });
    expect(pickCity([{ name: 'no key' }, { key: '2', name: 'R', type: 'region' }], { city: 'x' })).toBeNull();
  });

  it('bounds the radius to Meta\'s 17-80 km and falls back to the countries without a known city', () => {
    expect(pickCity(found, { city: 'Cluj', country: 'RO', radius_km: 500 })!.radius_km).toBe(80);
    expect(pickCity(found, { city: 'Cluj', country: 'RO', radius_km: 1 })!.radius_km).toBe(17);
    expect(metaGeo([{ city: 'x', country: 'hu' }, { country: 'Romania' }], [])).toEqual({ countries: ['HU'] });
    // Nothing assumed (it was countries ["RO"]): no country, no geo (the adapter refuses before creating anything).
    expect(metaGeo([], [])).toBeNull();
    expect(metaGeo([{ city: 'Atlantis' }], [])).toBeNull();
    expect(metaGeo([{ city: 'Cluj' }], [{ key: '1', name: 'Cluj-Napoca', radius_km: 40 }])).toEqual({ cities: [{ key: '1', radius: 40, distance_unit: 'kilometer' }] });
  });
});
