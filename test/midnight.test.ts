import { describe, expect, it } from 'vitest';
import { midnightWait } from './midnight.js';

const at = (iso: string) => Date.parse(iso);

describe('midnightWait (keeps live tests inside one UTC day)', () => {
  it('does not wait during the day', () => {
    expect(midnightWait(at('2026-11-29T12:00:00Z'), 90_000, 120_000)).toBe(0);
    expect(midnightWait(at('2026-11-29T00:01:30Z'), 90_000, 120_000)).toBe(0);
  });
  it('waits in the first minutes after midnight until events backMs old are today', () => {
    expect(midnightWait(at('2026-11-30T00:00:10Z'), 90_000, 120_000)).toBe(80_000);
  });
  it('waits before midnight until the run and its look-back fit in the next day', () => {
    expect(midnightWait(at('2026-11-29T23:59:00Z'), 90_000, 120_000)).toBe(150_000);
  });
});
