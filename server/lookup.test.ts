import { describe, expect, it } from 'vitest';
import { own } from './lookup.js';

describe('own', () => {
  const table = { event_view: 'web', zero: 0 };
  it('reads own keys, falsy values included', () => {
    expect(own(table, 'event_view')).toBe('web');
    expect(own(table, 'zero')).toBe(0);
  });
  it('answers undefined for inherited names and non-strings', () => {
    for (const k of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 1, null, undefined, {}]) expect(own(table, k)).toBeUndefined();
  });
});
