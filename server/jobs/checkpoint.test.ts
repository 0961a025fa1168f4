import { describe, expect, it } from 'vitest';
import { checkpointDue, DEFAULT_CHECKPOINT_POLICY } from './checkpoint.js';

describe('checkpointDue', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  const { maxWalBytes, maxAgeMs } = DEFAULT_CHECKPOINT_POLICY;

  it('checkpoints once the WAL since the last checkpoint reaches the bound, however recent that was', () => {
    expect(checkpointDue(maxWalBytes, now - 1000, now)).toBe(true);
    expect(checkpointDue(maxWalBytes - 1, now - 1000, now)).toBe(false);
  });

  it('checkpoints an old checkpoint only when something was written since', () => {
    expect(checkpointDue(1024 * 1024, now - maxAgeMs, now)).toBe(true);
    expect(checkpointDue(1024 * 1024, now - maxAgeMs + 1, now)).toBe(false);
    // An idle server writes a few records (the job runner's own rows): no checkpoint every five minutes for that.
    expect(checkpointDue(4096, now - 10 * maxAgeMs, now)).toBe(false);
  });

  it('takes a policy', () => {
    expect(checkpointDue(10, now, now, { maxWalBytes: 10, maxAgeMs: 1 })).toBe(true);
  });
});
