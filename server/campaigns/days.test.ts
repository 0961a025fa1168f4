import { describe, expect, it } from 'vitest';
import { rebalanceDue, tenantDayStart } from './days.js';

const at = (iso: string) => Date.parse(iso);

describe('campaign days in the tenant\'s time zone', () => {
  it('rebalances at 06:00 tenant time: 04:00 UTC in Bucharest in winter, 03:00 UTC in summer, 06:00 UTC for a UTC tenant', () => {
    expect(rebalanceDue(at('2026-12-01T04:00:00Z'), 'Europe/Bucharest', null)).toBe(at('2026-12-01T04:00:00Z'));
    expect(rebalanceDue(at('2026-12-01T03:00:00Z'), 'Europe/Bucharest', null)).toBeNull();
    expect(rebalanceDue(at('2026-07-01T03:00:00Z'), 'Europe/Bucharest', null)).toBe(at('2026-07-01T03:00:00Z'));
    expect(rebalanceDue(at('2026-12-01T06:00:00Z'), 'UTC', null)).toBe(at('2026-12-01T06:00:00Z'));
    expect(rebalanceDue(at('2026-12-01T05:00:00Z'), 'UTC', null)).toBeNull();
  });

  it('runs a day once: a later hourly check of the same day finds it done', () => {
    const day = at('2026-12-01T04:00:00Z');
    expect(rebalanceDue(at('2026-12-01T05:00:00Z'), 'Europe/Bucharest', day)).toBeNull();
    expect(rebalanceDue(at('2026-12-02T04:00:00Z'), 'Europe/Bucharest', day)).toBe(at('2026-12-02T04:00:00Z'));
  });

  it('catches up a missed 06:00 until 12:00 tenant time, not after', () => {
    expect(rebalanceDue(at('2026-12-01T09:00:00Z'), 'Europe/Bucharest', at('2026-11-30T04:00:00Z'))).toBe(at('2026-12-01T04:00:00Z'));
    expect(rebalanceDue(at('2026-12-01T10:00:00Z'), 'Europe/Bucharest', null)).toBeNull();
  });

  it('finds 06:00 in a zone off the whole hour at the first hourly check after it (Kolkata: 00:30 UTC → the 01:00 check)', () => {
    expect(rebalanceDue(at('2026-12-01T00:00:00Z'), 'Asia/Kolkata', null)).toBeNull();
    expect(rebalanceDue(at('2026-12-01T01:00:00Z'), 'Asia/Kolkata', null)).toBe(at('2026-12-01T00:30:00Z'));
  });

  it('starts the daily limit\'s day at the tenant\'s midnight, also on a DST change day', () => {
    expect(tenantDayStart(at('2026-12-01T12:00:00Z'), 'UTC')).toBe(at('2026-12-01T00:00:00Z'));
    expect(tenantDayStart(at('2026-12-01T12:00:00Z'), 'Europe/Bucharest')).toBe(at('2026-11-30T22:00:00Z'));
    expect(tenantDayStart(at('2026-12-01T23:30:00Z'), 'Europe/Bucharest')).toBe(at('2026-12-01T22:00:00Z'));
    // 2026-03-29: Bucharest moves from +02 to +03 at 03:00; its midnight was still +02.
    expect(tenantDayStart(at('2026-03-29T12:00:00Z'), 'Europe/Bucharest')).toBe(at('2026-03-28T22:00:00Z'));
    expect(tenantDayStart(at('2026-03-30T12:00:00Z'), 'Europe/Bucharest')).toBe(at('2026-03-29T21:00:00Z'));
  });

  it('starts the day at its first instant when midnight does not exist, never in the previous day (Santiago 2026-09-06, Havana 2026-03-08)', () => {
    // Santiago jumps from 00:00 -04 to 01:00 -03: 03:00Z still reads 23:00 on the 5th.
    expect(tenantDayStart(at('2026-09-06T12:00:00Z'), 'America/Santiago')).toBe(at('2026-09-06T04:00:00Z'));
    expect(tenantDayStart(at('2026-09-06T04:00:00Z'), 'America/Santiago')).toBe(at('2026-09-06T04:00:00Z'));
    expect(tenantDayStart(at('2026-09-06T03:59:59Z'), 'America/Santiago')).toBe(at('2026-09-05T04:00:00Z'));
    expect(tenantDayStart(at('2026-03-08T12:00:00Z'), 'America/Havana')).toBe(at('2026-03-08T05:00:00Z'));
    // A repeated midnight (Santiago goes back from 00:00 -03 to 23:00 -04 on 2026-04-04): the day begins at its first.
    expect(tenantDayStart(at('2026-04-05T12:00:00Z'), 'America/Santiago')).toBe(at('2026-04-05T04:00:00Z'));
    expect(tenantDayStart(at('2026-04-05T03:30:00Z'), 'America/Santiago')).toBe(at('2026-04-04T03:00:00Z'));
  });
});
