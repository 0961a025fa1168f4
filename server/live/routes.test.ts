import { describe, expect, it } from 'vitest';
import { topicId } from './routes.js';

describe('topicId', () => {
  const message = (raw: string) => {
    const p = topicId('path', 'id', raw);
    return p.ok ? null : p.error.message;
  };
  it('takes 1-128 characters without control characters', () => {
    expect(topicId('path', 'id', 'evt-1')).toEqual({ ok: true, value: 'evt-1' });
    expect(message('é'.repeat(128))).toBeNull();
  });
  it('says which rule failed: the length, or a control character', () => {
    expect(message('')).toBe('The id must be 1-128 characters; got 0.');
    expect(message('x'.repeat(129))).toBe('The id must be 1-128 characters; got 129.');
    expect(message('\u0000')).toMatch(/control characters/);
    expect(message('a\nb')).toMatch(/control characters/);
  });
});
