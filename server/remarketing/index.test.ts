import { describe, expect, it } from 'vitest';
import { takenMessage } from './index.js';

describe('a platform audience already bound', () => {
  it('names the audience holding it to its own tenant only, and says when that one is deleted and awaiting platform removal', () => {
    expect(takenMessage('meta', '8004', { id: 5, tenantId: 1, deleting: false }, 1)).toBe('The meta audience 8004 is already synced by remarketing audience 5.');
    expect(takenMessage('meta', '8004', { id: 5, tenantId: 2, deleting: false }, 1)).toBe('The meta audience 8004 is already synced by another remarketing audience.');
    const gone = takenMessage('meta', '8004', { id: 5, tenantId: 1, deleting: true }, 1);
    expect(gone).toMatch(/remarketing audience 5, deleted and awaiting its removal from meta: try again once the daily remarketing.refresh job/);
    expect(takenMessage('meta', '8004', { id: 5, tenantId: 2, deleting: true }, 1)).not.toContain('5,');
  });
});
