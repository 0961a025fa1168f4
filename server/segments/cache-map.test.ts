import { describe, expect, it } from 'vitest';
import { cacheKey, CACHE_FORMAT, entityId, findCurrent, fromEntity, pageOf, schemaName, toEntity } from './cache-map.js';

const seg = (id: number, current = 1) => ({ id, version: current, current_version: current, name: `s${id}`, filters: { consent: 'marketing' }, size_estimate: id * 10 });
const TTL = 60_000;

describe('segment cache mapping', () => {
  it('names the key as seed 004 does, under the prefix, the way redis-om joins schema name and id', () => {
    expect(cacheKey('tx:', 42)).toBe('tx:analytics:org:42:segments');
    expect(`${schemaName('p:')}:${entityId(7)}`).toBe(cacheKey('p:', 7));
  });

  it('round-trips summaries through the stored entity, filters included', () => {
    const rows = [seg(1), seg(2, 3)];
    const e = toEntity(rows, 1000);
    expect(e).toMatchObject({ count: 2, cached_at: 1000, format: CACHE_FORMAT });
    expect(fromEntity(e, 1000 + TTL, TTL)).toEqual({ hit: true, segments: rows });
  });

  it('an entity without fields (redis-om fetch of a missing key) is a miss', () => {
    expect(fromEntity({}, 0, TTL)).toEqual({ hit: false, reason: 'absent' });
  });

  it('refuses an entry older than the TTL even if Redis kept it (an EXPIRE that never ran)', () => {
    expect(fromEntity(toEntity([seg(1)], 1000), 1001 + TTL, TTL)).toEqual({ hit: false, reason: 'expired' });
  });

  it('refuses another format, broken JSON, a count that does not match and rows without ids', () => {
    const ok = toEntity([seg(1)], 0);
    expect(fromEntity({ ...ok, format: CACHE_FORMAT + 1 }, 0, TTL)).toMatchObject({ reason: 'format' });
    expect(fromEntity({ ...ok, segments: '[{' }, 0, TTL)).toMatchObject({ reason: 'corrupt' });
    expect(fromEntity({ ...ok, count: 2 }, 0, TTL)).toMatchObject({ reason: 'corrupt' });
    expect(fromEntity({ ...ok, segments: '[{"name":"x"}]' }, 0, TTL)).toMatchObject({ reason: 'corrupt' });
    expect(fromEntity({ ...ok, segments: '{"id":1}', count: 1 }, 0, TTL)).toMatchObject({ reason: 'corrupt' });
  });

  it('finds the current version only: another version is not in the entry', () => {
    const rows = [seg(1, 2), seg(5)];
    expect(findCurrent(rows, 1, null)).toBe(rows[0]);
    expect(findCurrent(rows, 1, 2)).toBe(rows[0]);
    expect(findCurrent(rows, 1, 1)).toBeUndefined();
    expect(findCurrent(rows, 3, null)).toBeUndefined();
  });

  it('pages by id like the store does, with a next id only when more follow', () => {
    const rows = [seg(9), seg(2), seg(5), seg(7)];
    expect(pageOf(rows, 0, 2)).toEqual({ segments: [seg(2), seg(5)], next: 5 });
    expect(pageOf(rows, 5, 2)).toEqual({ segments: [seg(7), seg(9)], next: null });
    expect(pageOf(rows, 9, 2)).toEqual({ segments: [], next: null });
  });
});
