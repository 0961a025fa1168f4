import { describe, expect, it } from 'vitest';
import { plainRefreshEnd } from './aggregates.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const D = Date.parse('2026-03-10T00:00:00Z');

describe('plainRefreshEnd', () => {
  it('ends with the UTC day of the latest occurred_at ingest accepts (now + FUTURE_HOURS)', () => {
    // 10:00 + 24 h is 10:00 the next day: through that day's end.
    expect(plainRefreshEnd(D + 10 * HOUR, 24)).toBe(D + 2 * DAY);
    // 23:30 + 1 h crosses midnight too.
    expect(plainRefreshEnd(D + 23.5 * HOUR, 1)).toBe(D + 2 * DAY);
    // 10:00 + 1 h stays within today.
    expect(plainRefreshEnd(D + 10 * HOUR, 1)).toBe(D + DAY);
    // A bound landing on midnight exactly: a row at 00:00 belongs to the day it starts.
    expect(plainRefreshEnd(D, 48)).toBe(D + 3 * DAY);
  });
});
