// The audit note of a tracking-code update names only what really changed (routes.ts codeChanges).
import { describe, expect, it } from 'vitest';
import { codeChanges } from './routes.js';

const row = { enabled: true, settings: { pixel_id: '123456789012345', conversion_events: ['order_completed'], custom_params: {}, advanced_matching: true } } as Parameters<typeof codeChanges>[0];

describe('codeChanges: what a tracking-code update changed', () => {
  it('nothing when every field is set to what it was, in any key order', () => {
    expect(codeChanges(row, {}, { secrets: {} })).toEqual([]);
    expect(codeChanges(row, {}, { enabled: true, secrets: {} })).toEqual([]);
    expect(codeChanges(row, {}, { settings: { advanced_matching: true, custom_params: {}, conversion_events: ['order_completed'], pixel_id: '123456789012345' } as never, secrets: {} })).toEqual([]);
    expect(codeChanges(row, { access_token: 'EAAB-1' }, { secrets: { access_token: 'EAAB-1' } })).toEqual([]);
  });
  it('removing a secret the code did not hold is no change; removing one it held is', () => {
    expect(codeChanges(row, {}, { secrets: { access_token: null } })).toEqual([]);
    expect(codeChanges(row, { access_token: 'EAAB-1' }, { secrets: { access_token: null } })).toEqual(['secrets.access_token (removed)']);
  });
  it('names each field that changed, never a secret value', () => {
    const out = codeChanges(row, { access_token: 'EAAB-1' }, { enabled: false, settings: { ...row.settings, advanced_matching: false } as never, secrets: { access_token: 'EAAB-2', api_secret: 'S' } });
    expect(out).toEqual(['enabled', 'settings', 'secrets.access_token', 'secrets.api_secret']);
    expect(JSON.stringify(out)).not.toContain('EAAB');
  });
});
